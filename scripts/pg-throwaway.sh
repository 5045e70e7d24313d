#!/usr/bin/env bash
# A throwaway PostgreSQL cluster of a given major version on loopback, from the binaries
# scripts/pg-install.sh installs (trust auth for `postgres`, fsync off: test data only).
#
#   scripts/pg-throwaway.sh start MAJOR PORT   # prints postgres://postgres@127.0.0.1:PORT/postgres
#   scripts/pg-throwaway.sh stop PORT          # stops it and removes its data
set -euo pipefail
cd "$(dirname "$0")/.."

HOME_DIR=${LOREBASE_PG_HOME:-/var/tmp/lorebase-pg}
as_postgres() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "${1:-}" in
start)
    MAJOR=${2:?usage: scripts/pg-throwaway.sh start MAJOR PORT}
    PORT=${3:?usage: scripts/pg-throwaway.sh start MAJOR PORT}
    PG=$(scripts/pg-install.sh "$MAJOR")
    DATA=$HOME_DIR/data-$PORT
    if [ -f "$DATA/postmaster.pid" ]; then
        as_postgres "$PG/bin/pg_ctl" -D "$DATA" -m immediate stop >/dev/null 2>&1 || true
    fi
    rm -rf "$DATA"
    mkdir -p "$DATA"
    [ "$(id -u)" = 0 ] && chown postgres: "$DATA"
    as_postgres "$PG/bin/initdb" -D "$DATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    # The server is reachable on loopback only, its socket in the data directory. The port
    # can be held for a moment by a client connection of the run before (the kernel hands
    # out local ports from the same range): try again a few times before giving up.
    for attempt in 1 2 3 4 5; do
        as_postgres timeout 60 "$PG/bin/pg_ctl" -D "$DATA" -l "$DATA/server.log" -w -t 50 \
            -o "-p $PORT -c listen_addresses=127.0.0.1 -k $DATA -c max_connections=200 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c TimeZone=UTC" \
            start >/dev/null && break
        if [ "$attempt" = 5 ] || ! grep -q "Address already in use" "$DATA/server.log"; then
            tail -n 20 "$DATA/server.log" >&2
            exit 1
        fi
        echo "pg-throwaway: port $PORT is busy; trying again in 5 s" >&2
        sleep 5
    done
    echo "postgres://postgres@127.0.0.1:$PORT/postgres"
    ;;
stop)
    PORT=${2:?usage: scripts/pg-throwaway.sh stop PORT}
    DATA=$HOME_DIR/data-$PORT
    [ -d "$DATA" ] || exit 0
    for PG in "$HOME_DIR"/[0-9]*; do
        if [ -f "$DATA/PG_VERSION" ] && [ "$(cat "$DATA/PG_VERSION")" = "$(basename "$PG")" ]; then
            as_postgres timeout 60 "$PG/bin/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null 2>&1 || true
        fi
    done
    rm -rf "$DATA"
    ;;
*)
    echo "usage: scripts/pg-throwaway.sh start MAJOR PORT | stop PORT" >&2
    exit 2
    ;;
esac
