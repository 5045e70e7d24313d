#!/usr/bin/env bash
# Lorebase beyond one machine, on loopback: a PostgreSQL primary and a streaming replica
# (pg_basebackup), pgbouncer in front of the primary in transaction pooling mode, three
# Lorebase servers (the release binary) and nginx balancing them.
#
#   scripts/cluster.sh up       # prints the balancer's base URL as its last line
#   scripts/cluster.sh down
#   scripts/cluster.sh status
#   scripts/cluster.sh kill-server N | start-server N     (drills: N is 1, 2 or 3; kill-server
#                                                          prints when it sent SIGKILL)
#   scripts/cluster.sh stop-replica | start-replica | restart-pgbouncer
#
#   client → nginx :18800 ─┬→ lorebase :18801 ─┐ writes, token checks → pgbouncer :56434 → primary :56432
#                          ├→ lorebase :18802 ─┤                                              │ WAL
#                          └→ lorebase :18803 ─┘ reads (DATABASE_READ_URL) ──────────────→ replica :56433
#
# Everything lives under $CLUSTER_DIR (default /var/tmp/lorebase-cluster) and listens on
# 127.0.0.1 only; every wait is bounded. CLUSTER_SERVERS=1..3 starts fewer servers (the
# balancer then lists only those). Ports: CLUSTER_PORT_BASE (default 18800, nginx; servers
# on the next three) and CLUSTER_PG_PORT_BASE (default 56432: primary, replica, pgbouncer).
set -euo pipefail
cd "$(dirname "$0")/.."

DIR=${CLUSTER_DIR:-/var/tmp/lorebase-cluster}
PORT_BASE=${CLUSTER_PORT_BASE:-18800}
PG_PORT_BASE=${CLUSTER_PG_PORT_BASE:-56432}
SERVERS=${CLUSTER_SERVERS:-3}
NGINX_PORT=$PORT_BASE
PRIMARY_PORT=$PG_PORT_BASE
REPLICA_PORT=$((PG_PORT_BASE + 1))
PGBOUNCER_PORT=$((PG_PORT_BASE + 2))
TARGET_DIR=${CARGO_TARGET_DIR:-target}
BINARY=${LOREBASE_BINARY:-$TARGET_DIR/release/lorebase}
JWT_SECRET=${CLUSTER_JWT_SECRET:-cluster-on-loopback-secret-0123456789abcdef}
DATABASE=lorebase

server_port() { echo $((PORT_BASE + $1)); }
as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
say() { echo "cluster: $*" >&2; }
die() { say "$*"; exit 1; }
alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# Waits (at most $2 tenths of a second) until the command in $3... succeeds.
wait_for() {
    local what=$1 tenths=$2
    shift 2
    for _ in $(seq 1 "$tenths"); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    die "$what not ready after $((tenths / 10)) s"
}

psql_primary() {
    as_postgres /usr/lib/postgresql/15/bin/psql -h 127.0.0.1 -p "$PRIMARY_PORT" -U postgres \
        -v ON_ERROR_STOP=1 -At "$@"
}

start_pgbouncer() {
    local bin
    bin=$(cat "$DIR/pgbouncer.bin")
    as_postgres timeout 10 "$bin" -d -q "$DIR/pgbouncer.ini" ||
        { tail -n 20 "$DIR/pgbouncer.log" >&2; die "pgbouncer did not start"; }
    wait_for "pgbouncer" 100 as_postgres /usr/lib/postgresql/15/bin/psql -h 127.0.0.1 \
        -p "$PGBOUNCER_PORT" -U postgres -d "$DATABASE" -Atc "SELECT 1"
}

stop_pgbouncer() {
    # SIGQUIT: immediate shutdown, every connection it holds dropped, as a crash or a
    # hurried restart would (since pgbouncer 1.23 SIGTERM waits for every client to leave,
    # and SIGINT for every transaction to end).
    if alive "$DIR/pgbouncer.pid"; then
        local pid
        pid=$(cat "$DIR/pgbouncer.pid")
        kill -QUIT "$pid"
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$DIR/pgbouncer.pid"
}

start_server() {
    local n=$1 port
    port=$(server_port "$n")
    # Migrations ran against the primary directly: the migrator's advisory lock belongs to
    # a session, which transaction pooling does not keep.
    env -i PATH="$PATH" \
        DATABASE_URL="postgres://postgres@127.0.0.1:$PGBOUNCER_PORT/$DATABASE" \
        DATABASE_READ_URL="postgres://postgres@127.0.0.1:$REPLICA_PORT/$DATABASE" \
        LOREBASE_AUTO_MIGRATE=false \
        JWT_SECRET="$JWT_SECRET" HOST=127.0.0.1 PORT="$port" \
        TRUSTED_PROXIES=127.0.0.1 \
        LOREBASE_WORKERS="${CLUSTER_WORKERS:-2}" DB_MAX_CONNECTIONS=10 \
        DB_ACQUIRE_TIMEOUT_SECS=2 DB_CONNECT_TIMEOUT_SECS=2 \
        REGISTRATIONS_PER_IP=100000 ARGON2_MEMORY_KIB=19456 \
        RUST_LOG="${CLUSTER_RUST_LOG:-warn}" \
        setsid "$BINARY" serve >>"$DIR/server-$n.log" 2>&1 </dev/null &
    echo $! >"$DIR/server-$n.pid"
    wait_for "lorebase $n on port $port" 150 curl -sf "http://127.0.0.1:$port/readyz"
}

stop_server() {
    local n=$1 signal=${2:-TERM}
    if alive "$DIR/server-$n.pid"; then
        local pid
        pid=$(cat "$DIR/server-$n.pid")
        # When the signal went, for the drills (stdout: `up` prints nothing else here).
        [ "$signal" = KILL ] && date +%s.%N
        kill "-$signal" "$pid"
        for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$DIR/server-$n.pid"
}

write_nginx_conf() {
    mkdir -p "$DIR/nginx/tmp" "$DIR/nginx/logs"
    local user_line=""
    if [ "$(id -u)" = 0 ]; then
        # Workers drop root; they write request bodies to tmp/.
        chown www-data: "$DIR/nginx/tmp"
        user_line="user www-data;"
    fi
    {
        cat <<EOF
# Generated by scripts/cluster.sh; nginx runs with -p $DIR/nginx -c this file.
$user_line
worker_processes 1;
pid $DIR/nginx/nginx.pid;
error_log $DIR/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
    client_body_temp_path $DIR/nginx/tmp/body;
    proxy_temp_path $DIR/nginx/tmp/proxy;
    fastcgi_temp_path $DIR/nginx/tmp/fastcgi;
    uwsgi_temp_path $DIR/nginx/tmp/uwsgi;
    scgi_temp_path $DIR/nginx/tmp/scgi;
    # When each request was answered and every server it was sent to: the drills read it.
    log_format upstreams '\$msec \$request_method \$status "\$upstream_addr" "\$upstream_status" \$request_time';
    access_log $DIR/nginx/logs/access.log upstreams buffer=64k flush=1s;
    client_max_body_size 300m;

    upstream lorebase {
        # Shared by every worker, so one worker's failures count for all.
        zone lorebase 64k;
EOF
        for n in $(seq 1 "$SERVERS"); do
            # Passive health checks: one failed attempt (refused, reset, timed out) takes the
            # server out for 10 s; then one request tries it again.
            echo "        server 127.0.0.1:$(server_port "$n") max_fails=1 fail_timeout=10s;"
        done
        cat <<EOF
        keepalive 64;
    }
    server {
        listen 127.0.0.1:$NGINX_PORT;
        location / {
            proxy_pass http://lorebase;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host \$host;
            proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
            proxy_connect_timeout 1s;
            proxy_read_timeout 60s;
            # Retries: only on a failure to reach a server or to get its answer, and (no
            # non_idempotent) never for a POST or PATCH that was already sent: a write that
            # may have happened is not repeated. A POST refused at connect was never sent,
            # so it goes to the next server. 503s are the servers' own answer (the database
            # is away) and reach the client with their Retry-After.
            proxy_next_upstream error timeout;
            proxy_next_upstream_tries 3;
            proxy_next_upstream_timeout 5s;
            proxy_buffering off;
        }
    }
}
EOF
    } >"$DIR/nginx/nginx.conf"
}

start_nginx() {
    command -v nginx >/dev/null 2>&1 || {
        timeout 300 apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq nginx-light >/dev/null
    }
    write_nginx_conf
    timeout 10 nginx -p "$DIR/nginx" -c "$DIR/nginx/nginx.conf" -t -q ||
        die "nginx rejects $DIR/nginx/nginx.conf"
    timeout 10 nginx -p "$DIR/nginx" -c "$DIR/nginx/nginx.conf"
    wait_for "nginx" 50 curl -sf "http://127.0.0.1:$NGINX_PORT/healthz"
}

stop_nginx() {
    if alive "$DIR/nginx/nginx.pid"; then
        timeout 10 nginx -p "$DIR/nginx" -c "$DIR/nginx/nginx.conf" -s quit 2>/dev/null || true
        for _ in $(seq 1 50); do alive "$DIR/nginx/nginx.pid" || return 0; sleep 0.1; done
        kill -KILL "$(cat "$DIR/nginx/nginx.pid")" 2>/dev/null || true
    fi
}

up() {
    [ -x "$BINARY" ] || die "no release binary at $BINARY (cargo build --release --bin lorebase, or set LOREBASE_BINARY)"
    [[ "$SERVERS" =~ ^[1-3]$ ]] || die "CLUSTER_SERVERS must be 1, 2 or 3"
    down >/dev/null 2>&1 || true
    mkdir -p "$DIR"
    chmod 755 "$DIR"

    say "PostgreSQL primary :$PRIMARY_PORT and streaming replica :$REPLICA_PORT"
    LOREBASE_REPLICA_HOME="$DIR/pg" timeout 240 scripts/pg-replica-pair.sh start \
        "$PRIMARY_PORT" "$REPLICA_PORT" >/dev/null
    psql_primary -c "CREATE DATABASE $DATABASE" >/dev/null

    say "migrations, directly on the primary"
    DATABASE_URL="postgres://postgres@127.0.0.1:$PRIMARY_PORT/$DATABASE" RUST_LOG=warn \
        timeout 300 "$BINARY" migrate >"$DIR/migrate.log" 2>&1 ||
        { cat "$DIR/migrate.log" >&2; die "migrations failed"; }
    # The servers' statement timeout travels as a startup option, which pgbouncer does not
    # pass on: the database carries it instead (the replica gets it by replication). Set
    # after the migrations, whose revisions may run longer; a later `lorebase migrate`
    # should connect as a role whose own setting (ALTER ROLE ... SET statement_timeout = 0)
    # takes precedence over the database's.
    psql_primary -c "ALTER DATABASE $DATABASE SET statement_timeout = '30s'" >/dev/null

    say "pgbouncer :$PGBOUNCER_PORT (transaction pooling)"
    scripts/pgbouncer-install.sh >"$DIR/pgbouncer.bin"
    echo '"postgres" ""' >"$DIR/userlist.txt"
    cat >"$DIR/pgbouncer.ini" <<EOF
[databases]
$DATABASE = host=127.0.0.1 port=$PRIMARY_PORT dbname=$DATABASE user=postgres

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $PGBOUNCER_PORT
unix_socket_dir =
auth_type = trust
auth_file = $DIR/userlist.txt
admin_users = postgres
pool_mode = transaction
; sqlx prepares every statement (named, cached per connection): pgbouncer re-prepares
; them on whichever server connection runs them.
max_prepared_statements = 500
default_pool_size = 20
max_client_conn = 500
; Sent by sqlx at connect; statement_timeout comes from the database's own setting.
ignore_startup_parameters = extra_float_digits,options
server_check_delay = 5
logfile = $DIR/pgbouncer.log
pidfile = $DIR/pgbouncer.pid
EOF
    touch "$DIR/pgbouncer.log"
    [ "$(id -u)" = 0 ] && chown postgres: "$DIR/pgbouncer.log" "$DIR/userlist.txt" "$DIR/pgbouncer.ini" && chown postgres: "$DIR"
    start_pgbouncer

    for n in $(seq 1 "$SERVERS"); do
        say "lorebase $n :$(server_port "$n")"
        start_server "$n"
    done
    say "nginx :$NGINX_PORT"
    start_nginx
    echo "http://127.0.0.1:$NGINX_PORT"
}

down() {
    stop_nginx
    for n in 1 2 3; do stop_server "$n"; done
    stop_pgbouncer
    LOREBASE_REPLICA_HOME="$DIR/pg" timeout 120 scripts/pg-replica-pair.sh stop \
        "$PRIMARY_PORT" "$REPLICA_PORT" || true
    rm -rf "$DIR"
}

status() {
    local state code=0
    check() {
        if "${@:2}" >/dev/null 2>&1; then state=up; else state=down; code=1; fi
        printf '%-28s %s\n' "$1" "$state"
    }
    check "primary :$PRIMARY_PORT" as_postgres /usr/lib/postgresql/15/bin/pg_isready -q -h 127.0.0.1 -p "$PRIMARY_PORT"
    check "replica :$REPLICA_PORT" as_postgres /usr/lib/postgresql/15/bin/pg_isready -q -h 127.0.0.1 -p "$REPLICA_PORT"
    check "pgbouncer :$PGBOUNCER_PORT" alive "$DIR/pgbouncer.pid"
    for n in 1 2 3; do
        [ -f "$DIR/server-$n.pid" ] || [ "$n" -le "$SERVERS" ] || continue
        check "lorebase $n :$(server_port "$n")" curl -sf "http://127.0.0.1:$(server_port "$n")/readyz"
    done
    check "nginx :$NGINX_PORT" curl -sf "http://127.0.0.1:$NGINX_PORT/healthz"
    if [ "$(as_postgres /usr/lib/postgresql/15/bin/psql -h 127.0.0.1 -p "$PRIMARY_PORT" -U postgres -At \
        -c "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'" 2>/dev/null)" = 1 ]; then
        echo "replication                  streaming"
    else
        echo "replication                  not streaming"
        code=1
    fi
    return $code
}

case "${1:-}" in
up) up ;;
down) down ;;
status) status ;;
kill-server) stop_server "${2:?server number}" KILL ;;
start-server) start_server "${2:?server number}" ;;
stop-replica) LOREBASE_REPLICA_HOME="$DIR/pg" scripts/pg-replica-pair.sh stop-replica "$REPLICA_PORT" ;;
start-replica) LOREBASE_REPLICA_HOME="$DIR/pg" scripts/pg-replica-pair.sh start-replica "$REPLICA_PORT" ;;
restart-pgbouncer)
    stop_pgbouncer
    sleep "${PGBOUNCER_DOWN_SECS:-1}"
    start_pgbouncer
    ;;
*)
    echo "usage: scripts/cluster.sh up|down|status|kill-server N|start-server N|stop-replica|start-replica|restart-pgbouncer" >&2
    exit 2
    ;;
esac
