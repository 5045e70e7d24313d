#!/usr/bin/env bash
# A PostgreSQL primary and one streaming replica made from it with pg_basebackup, on
# loopback, under /var/tmp: for the read-your-writes test and scripts/cluster.sh.
#
#   scripts/pg-replica-pair.sh start PRIMARY_PORT REPLICA_PORT
#       prints two lines: the primary's URL, then the replica's
#   scripts/pg-replica-pair.sh stop PRIMARY_PORT REPLICA_PORT
#       stops both and removes their data
#   scripts/pg-replica-pair.sh stop-replica REPLICA_PORT | start-replica REPLICA_PORT
#       stops (fast shutdown) or starts the replica only, keeping its data
#
# The servers are the system's PostgreSQL 15 (PG_BIN to use another build with
# pg_basebackup), run as the postgres OS user, trust authentication on loopback only.
# Every step is bounded in time; any failure exits non-zero with the server's log.
set -euo pipefail

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
HOME_DIR=${LOREBASE_REPLICA_HOME:-/var/tmp/lorebase-replicas}
usage="usage: scripts/pg-replica-pair.sh start|stop PRIMARY_PORT REPLICA_PORT | stop-replica|start-replica REPLICA_PORT"

as_postgres() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

fail_with_log() {
    echo "pg-replica-pair: $1" >&2
    [ -f "$2" ] && tail -n 30 "$2" >&2
    exit 1
}

stop_dir() {
    local data=$1
    if [ -f "$data/postmaster.pid" ]; then
        as_postgres timeout 30 "$PG_BIN/pg_ctl" -D "$data" -m fast -w -t 25 stop >/dev/null 2>&1 ||
            as_postgres timeout 10 "$PG_BIN/pg_ctl" -D "$data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
}

start_replica() {
    local port=$1 data=$HOME_DIR/replica-$1
    [ -d "$data" ] || fail_with_log "no replica data in $data" /dev/null
    as_postgres timeout 40 "$PG_BIN/pg_ctl" -D "$data" -l "$data/server.log" -w -t 30 \
        -o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories= -c max_connections=200 -c hot_standby=on -c hot_standby_feedback=on -c TimeZone=UTC" \
        start >/dev/null || fail_with_log "the replica on port $port did not start" "$data/server.log"
}

case "${1:-}" in
start)
    PRIMARY_PORT=${2:?$usage}
    REPLICA_PORT=${3:?$usage}
    [ -x "$PG_BIN/pg_basebackup" ] || fail_with_log "no pg_basebackup in $PG_BIN (install postgresql-15, or set PG_BIN)" /dev/null
    PRIMARY=$HOME_DIR/primary-$PRIMARY_PORT
    REPLICA=$HOME_DIR/replica-$REPLICA_PORT
    mkdir -p "$HOME_DIR"
    [ "$(id -u)" = 0 ] && chown postgres: "$HOME_DIR"
    stop_dir "$REPLICA"
    stop_dir "$PRIMARY"
    rm -rf "$PRIMARY" "$REPLICA"
    as_postgres mkdir -p "$PRIMARY"
    as_postgres timeout 60 "$PG_BIN/initdb" -D "$PRIMARY" -U postgres --auth=trust -E UTF8 \
        --locale=C.UTF-8 >/dev/null || fail_with_log "initdb failed" /dev/null
    # initdb's pg_hba.conf already lets loopback connect for replication (trust).
    as_postgres timeout 40 "$PG_BIN/pg_ctl" -D "$PRIMARY" -l "$PRIMARY/server.log" -w -t 30 \
        -o "-p $PRIMARY_PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories= -c max_connections=200 -c wal_level=replica -c max_wal_senders=5 -c wal_keep_size=256MB -c TimeZone=UTC" \
        start >/dev/null || fail_with_log "the primary on port $PRIMARY_PORT did not start" "$PRIMARY/server.log"
    # -R writes primary_conninfo and standby.signal: the copy starts as a streaming replica.
    as_postgres timeout 120 "$PG_BIN/pg_basebackup" -h 127.0.0.1 -p "$PRIMARY_PORT" -U postgres \
        -D "$REPLICA" -R -X stream -c fast >/dev/null ||
        fail_with_log "pg_basebackup failed" "$PRIMARY/server.log"
    start_replica "$REPLICA_PORT"
    # Streaming, not just started: the primary lists the replica's WAL receiver.
    for _ in $(seq 1 100); do
        streaming=$(as_postgres "$PG_BIN/psql" -h 127.0.0.1 -p "$PRIMARY_PORT" -U postgres -At \
            -c "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'" 2>/dev/null || echo 0)
        [ "$streaming" = 1 ] && break
        sleep 0.1
    done
    [ "$streaming" = 1 ] || fail_with_log "the replica is not streaming after 10 s" "$REPLICA/server.log"
    echo "postgres://postgres@127.0.0.1:$PRIMARY_PORT/postgres"
    echo "postgres://postgres@127.0.0.1:$REPLICA_PORT/postgres"
    ;;
stop)
    PRIMARY_PORT=${2:?$usage}
    REPLICA_PORT=${3:?$usage}
    stop_dir "$HOME_DIR/replica-$REPLICA_PORT"
    stop_dir "$HOME_DIR/primary-$PRIMARY_PORT"
    rm -rf "$HOME_DIR/replica-$REPLICA_PORT" "$HOME_DIR/primary-$PRIMARY_PORT"
    ;;
stop-replica)
    stop_dir "$HOME_DIR/replica-${2:?$usage}"
    ;;
start-replica)
    start_replica "${2:?$usage}"
    ;;
*)
    echo "$usage" >&2
    exit 2
    ;;
esac
