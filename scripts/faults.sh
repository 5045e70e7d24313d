#!/usr/bin/env bash
# Fault drills against the release server on a throwaway PostgreSQL cluster of its own
# (loopback only, bounded in time and count). Prints what it saw; exits non-zero when the
# server misbehaves.
#   1. PostgreSQL stopped under load: 503 problem+json with Retry-After, quickly; /readyz
#      503 and /healthz 200; recovery without a restart of Lorebase once PostgreSQL is back.
#   2. PostgreSQL killed (immediate) in the middle of a stream of writes: every write that
#      was acknowledged is there afterwards, and counters agree with rows (nothing half done).
#   3. SIGTERM during a burst: in-flight requests complete, new connections are refused,
#      the process exits within the shutdown timeout.
set -euo pipefail
cd "$(dirname "$0")/.."

PG_PORT=${FAULTS_PG_PORT:-55433}
APP_PORT=${FAULTS_APP_PORT:-18788}
ACQUIRE_TIMEOUT=2
SHUTDOWN_TIMEOUT=10
TARGET_DIR=${CARGO_TARGET_DIR:-target}
BASE=http://127.0.0.1:$APP_PORT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
ok() { echo "ok: $*"; }

PG_BIN=/usr/lib/postgresql/$(ls /usr/lib/postgresql | sort -V | tail -n 1)/bin
[ -x "$PG_BIN/initdb" ] || { echo "faults: no PostgreSQL server binaries under $PG_BIN" >&2; exit 1; }
as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

cargo build --release --bin lorebase

WORK=$(mktemp -d)
chmod 755 "$WORK"
PGDATA=$WORK/pgdata
mkdir "$PGDATA"
[ "$(id -u)" = 0 ] && chown postgres "$PGDATA"
SERVER_PID=
cleanup() {
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
    as_postgres "$PG_BIN/pg_ctl" -D "$PGDATA" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

as_postgres "$PG_BIN/initdb" -D "$PGDATA" -U postgres --auth=trust -E UTF8 >/dev/null
pg_start() {
    as_postgres "$PG_BIN/pg_ctl" -D "$PGDATA" -l "$PGDATA/log" -w \
        -o "-p $PG_PORT -k $PGDATA -c listen_addresses=127.0.0.1" start >/dev/null
}
pg_stop() { as_postgres "$PG_BIN/pg_ctl" -D "$PGDATA" -m "$1" -w stop >/dev/null; }
pg_start

start_server() {
    DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres" \
    JWT_SECRET="faults-run-secret-that-is-long-enough-0123456789" \
    HOST=127.0.0.1 PORT=$APP_PORT RUST_LOG=warn LOREBASE_WORKERS=2 \
    DB_ACQUIRE_TIMEOUT_SECS=$ACQUIRE_TIMEOUT DB_CONNECT_TIMEOUT_SECS=2 \
    LOREBASE_SHUTDOWN_TIMEOUT_SECS=$SHUTDOWN_TIMEOUT \
    ARGON2_MEMORY_KIB=19456 REGISTRATIONS_PER_IP=1000 \
        "$TARGET_DIR/release/lorebase" serve >>"$WORK/server.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 1 100); do curl -sf "$BASE/readyz" >/dev/null && return 0; sleep 0.1; done
    cat "$WORK/server.log"; echo "faults: server did not start" >&2; exit 1
}
start_server

json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
TOKEN=$(curl -sf "$BASE/api/v1/auth/register" -H 'content-type: application/json' \
    -d '{"email":"faults@example.com","password":"a long and unusual passphrase 42"}' | json '["access_token"]')
AUTH="authorization: Bearer $TOKEN"
WORLD=$(curl -sf "$BASE/api/v1/worlds" -H "$AUTH" -H 'content-type: application/json' \
    -d '{"name":"Faults"}' | json '["id"]')

echo "--- 1. PostgreSQL stopped while clients send requests"
pg_stop fast
worst=0
for i in $(seq 1 10); do
    out=$(curl -s -o "$WORK/body" -D "$WORK/headers" -w '%{http_code} %{time_total}' "$BASE/api/v1/worlds/$WORLD" -H "$AUTH")
    code=${out% *}; secs=${out#* }
    worst=$(python3 -c "print(max($worst, $secs))")
    if [ "$code" != 503 ] || ! grep -qi '^retry-after:' "$WORK/headers" || ! grep -q 'problem+json' "$WORK/headers"; then
        fail "request $i while PostgreSQL is down answered $code"; cat "$WORK/body"; echo
    fi
done
limit=$((ACQUIRE_TIMEOUT + 1))
python3 -c "import sys; sys.exit(0 if $worst <= $limit else 1)" &&
    ok "10 requests answered 503 problem+json with Retry-After, slowest ${worst}s (limit ${limit}s)" ||
    fail "slowest 503 took ${worst}s, over ${limit}s"
ready=$(curl -s -o /dev/null -w '%{http_code}' "$BASE/readyz")
alive=$(curl -s -o /dev/null -w '%{http_code}' "$BASE/healthz")
[ "$ready" = 503 ] && [ "$alive" = 200 ] && ok "/readyz $ready, /healthz $alive" || fail "/readyz $ready, /healthz $alive"
pg_start
back=$(date +%s.%N)
recovered=
for _ in $(seq 1 100); do
    if [ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/api/v1/worlds/$WORLD" -H "$AUTH")" = 200 ]; then
        recovered=$(python3 -c "import time; print(round(time.time() - $back, 2))"); break
    fi
    sleep 0.1
done
[ -n "$recovered" ] && python3 -c "import sys; sys.exit(0 if $recovered <= 10 else 1)" &&
    ok "requests succeed again ${recovered}s after PostgreSQL is back, without restarting Lorebase" ||
    fail "no recovery within 10 s of PostgreSQL coming back"

echo "--- 2. PostgreSQL killed in the middle of a stream of writes"
ACKED=$WORK/acked
: >"$ACKED"
writer() {
    # Bounded in count and in time: stops when told or after 5000 writes.
    local n=0 name code
    while [ ! -e "$WORK/stop" ] && [ "$n" -lt 5000 ]; do
        n=$((n + 1))
        name="w$1-$n"
        code=$(curl -s -o /dev/null -w '%{http_code}' -m 5 "$BASE/api/v1/worlds/$WORLD/elements" -H "$AUTH" \
            -H 'content-type: application/json' -d "{\"kind\":\"item\",\"name\":\"$name\"}" || true)
        if [ "$code" = 201 ]; then echo "$name" >>"$ACKED"; else echo "$name" >>"$WORK/refused"; fi
    done
}
: >"$WORK/refused"
WRITERS=()
for w in 1 2 3 4; do writer "$w" & WRITERS+=($!); done
sleep 1
before_kill=$(wc -l <"$ACKED")
pg_stop immediate
sleep 1
pg_start
sleep 1
touch "$WORK/stop"
wait "${WRITERS[@]}"
after=$(wc -l <"$ACKED")
refused=$(wc -l <"$WORK/refused")
[ "$before_kill" -gt 0 ] && [ "$after" -gt "$before_kill" ] &&
    ok "the stream ran through the kill: $before_kill writes acknowledged before it, $((after - before_kill)) after, $refused refused" ||
    fail "the stream did not span the kill ($before_kill before, $after in all)"
acked=$(wc -l <"$ACKED")
sleep 1
present=$(as_postgres "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -Atc \
    "SELECT name FROM world_elements WHERE world_id = '$WORLD'" | sort)
missing=$(sort "$ACKED" | comm -23 - <(echo "$present") | wc -l)
[ "$missing" = 0 ] && ok "all $acked acknowledged writes are there ($(echo "$present" | grep -c .) rows in all)" ||
    fail "$missing of $acked acknowledged writes are missing"
counts=$(as_postgres "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -Atc \
    "SELECT w.element_count, (SELECT count(*) FROM world_elements e WHERE e.world_id = w.id) FROM worlds w WHERE w.id = '$WORLD'")
[ "${counts%|*}" = "${counts#*|}" ] && ok "element_count ${counts%|*} equals the rows: no write is half there" ||
    fail "element_count and rows disagree: $counts"

echo "--- 3. SIGTERM during a burst of requests"
# Eight logins (argon2, tens of ms each on two cores) are in flight when SIGTERM lands;
# more than the per-account limit of ten at once would be refused by design.
BURST=$WORK/burst
mkdir "$BURST"
CLIENTS=()
for i in $(seq 1 8); do
    curl -s -o /dev/null -w '%{http_code}' -m 30 "$BASE/api/v1/auth/login" -H 'content-type: application/json' \
        -d '{"email":"faults@example.com","password":"a long and unusual passphrase 42"}' >"$BURST/$i" &
    CLIENTS+=($!)
done
sleep 0.05
term_at=$(date +%s.%N)
kill -TERM "$SERVER_PID"
sleep 0.3
late=$(curl -s -o /dev/null -w '%{http_code}' -m 2 "$BASE/healthz" || true)
exited=
for _ in $(seq 1 $((SHUTDOWN_TIMEOUT * 10 + 20))); do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        exited=$(python3 -c "import time; print(round(time.time() - $term_at, 2))"); break
    fi
    sleep 0.1
done
wait "${CLIENTS[@]}" || true
SERVER_PID=
completed=$(cat "$BURST"/* | grep -o 200 | wc -l)
[ "$completed" = 8 ] && ok "8 in-flight logins completed with 200" || fail "only $completed of 8 in-flight logins answered 200 ($(cat "$BURST"/* | tr '\n' ' '))"
[ "$late" = 000 ] && ok "a new connection after SIGTERM was refused" || fail "a request after SIGTERM answered $late"
[ -n "$exited" ] && ok "the process exited ${exited}s after SIGTERM (timeout ${SHUTDOWN_TIMEOUT}s)" || fail "the process did not exit within ${SHUTDOWN_TIMEOUT}s"

if grep -q panicked "$WORK/server.log"; then fail "the server panicked"; grep -A3 panicked "$WORK/server.log"; fi
echo "--- $failures failure(s)"
[ "$failures" = 0 ]
