#!/usr/bin/env bash
# Webhook fault drills on loopback, against a throwaway database on the PostgreSQL at
# TEST_DATABASE_URL's server (dropped at exit). Bounded: every wait gives up (and fails the
# drill) after at most 60 s. Prints what it saw; exits non-zero when a drill fails.
#   1. A receiver that fails twice, then answers 2xx, gets the change, and the ones after
#      it, in seq order.
#   2. The server SIGKILLed between a change and its delivery delivers it after a restart;
#      and SIGKILLed *during* a delivery (the receiver never answers), the delivery is made
#      again after the restart, once its lease (30 s) runs out.
#   3. Two servers on one database deliver each of 40 changes once, in order.
#   WEBHOOK_DRILLS_PROFILE=debug uses the debug build instead of the release one.
set -euo pipefail
cd "$(dirname "$0")/.."

PROFILE=${WEBHOOK_DRILLS_PROFILE:-release}
PORT_A=${WEBHOOK_DRILLS_PORT:-18792}
PORT_B=$((PORT_A + 1))
RECEIVER_PORT=$((PORT_A + 2))
TARGET_DIR=${CARGO_TARGET_DIR:-target}
SERVER_URL=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
DB_NAME="lorebase_webhook_drills_$$"
DB_URL="${SERVER_URL%/*}/$DB_NAME"
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
ok() { echo "ok: $*"; }

if [ "$PROFILE" = release ]; then cargo build -q --release --bin lorebase; else cargo build -q --bin lorebase; fi
BIN=$TARGET_DIR/$PROFILE/lorebase

WORK=$(mktemp -d)
declare -A PID
stop() { [ -n "${PID[$1]:-}" ] && kill "-${2:-TERM}" "${PID[$1]}" 2>/dev/null; wait "${PID[$1]}" 2>/dev/null || true; PID[$1]=; }
cleanup() {
    for name in "${!PID[@]}"; do [ -n "${PID[$name]}" ] && kill -9 "${PID[$name]}" 2>/dev/null || true; done
    psql "$SERVER_URL" -qc "DROP DATABASE IF EXISTS $DB_NAME WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT
psql "$SERVER_URL" -qc "CREATE DATABASE $DB_NAME" >/dev/null

# start_server NAME PORT: a server on the drill database; retries scaled to a tenth
# (5 s -> 0.5 s, 30 s -> 3 s).
start_server() {
    DATABASE_URL=$DB_URL JWT_SECRET="webhook-drills-secret-that-is-long-enough-0123456789" \
    HOST=127.0.0.1 PORT=$2 RUST_LOG=warn LOREBASE_WORKERS=1 \
    WEBHOOKS_ALLOW_PRIVATE_TARGETS=true WEBHOOK_RETRY_SCALE=0.1 \
        "$BIN" serve >>"$WORK/$1.log" 2>&1 &
    PID[$1]=$!
    for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$2/readyz" >/dev/null && return 0; sleep 0.1; done
    cat "$WORK/$1.log"; echo "server $1 did not start" >&2; exit 1
}

# start_receiver LOG [receiver options]: the receiver on RECEIVER_PORT.
start_receiver() {
    local log=$1; shift
    rm -f "$WORK/receiver.port"
    python3 scripts/webhook-receiver.py --port "$RECEIVER_PORT" --port-file "$WORK/receiver.port" \
        --log "$WORK/$log" "$@" &
    PID[receiver]=$!
    for _ in $(seq 1 50); do [ -s "$WORK/receiver.port" ] && return 0; sleep 0.1; done
    echo "receiver did not start" >&2; exit 1
}

# wait_lines FILE N SECS: until FILE has N lines; false if not within SECS.
wait_lines() {
    for _ in $(seq 1 $(($3 * 10))); do
        [ -f "$1" ] && [ "$(wc -l <"$1")" -ge "$2" ] && return 0
        sleep 0.1
    done
    return 1
}

# seqs FILE: the seq of each delivery, in arrival order, space-separated.
seqs() { python3 -c "import json,sys; print(' '.join(json.loads(l)['headers']['webhook-id'].rsplit(':',1)[1] for l in open(sys.argv[1])))" "$1"; }
statuses() { python3 -c "import json,sys; print(' '.join(str(json.loads(l)['status']) for l in open(sys.argv[1])))" "$1"; }
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

start_server a "$PORT_A"
A=http://127.0.0.1:$PORT_A
J='content-type: application/json'
TOKEN=$(curl -sf "$A/api/v1/auth/register" -H "$J" \
    -d '{"email":"drills@example.com","password":"a long and unusual passphrase 42"}' | json '["access_token"]')
H="authorization: Bearer $TOKEN"
new_world() { curl -sf "$1/api/v1/worlds" -H "$H" -H "$J" -d "{\"name\":\"$2\"}" | json '["id"]'; }
hook() { curl -sf "$A/api/v1/worlds/$1/webhooks" -H "$H" -H "$J" \
    -d "{\"url\":\"http://127.0.0.1:$RECEIVER_PORT/hook\",\"events\":[\"*\"]}" | json '["id"]'; }
change() { curl -sf "$1/api/v1/worlds/$2/elements" -H "$H" -H "$J" -d "{\"kind\":\"place\",\"name\":\"$3\"}" >/dev/null; }

echo "--- 1. a receiver that fails twice, then answers 2xx"
start_receiver one.jsonl --fail-first 2
W1=$(new_world "$A" One)
HOOK1=$(hook "$W1")
for name in first second third; do change "$A" "$W1" "$name"; done
if wait_lines "$WORK/one.jsonl" 5 30; then
    got="$(seqs "$WORK/one.jsonl") / $(statuses "$WORK/one.jsonl")"
    if [ "$got" = "1 1 1 2 3 / 500 500 204 204 204" ]; then
        ok "seq 1 answered 500, 500, then 204; seq 2 and 3 only after it: $got"
    else fail "deliveries: $got"; fi
else fail "only $(wc -l <"$WORK/one.jsonl") deliveries within 30 s"; fi
stop receiver
# Deleted so it gets nothing more in the drills below.
curl -sf -X DELETE "$A/api/v1/worlds/$W1/webhooks/$HOOK1" -H "$H" >/dev/null

echo "--- 2a. SIGKILL between a change and its delivery"
W2=$(new_world "$A" Two)
hook "$W2" >/dev/null
# The receiver is down: the delivery cannot be made before the kill.
change "$A" "$W2" killed-before
kill -9 "${PID[a]}"; wait "${PID[a]}" 2>/dev/null || true; PID[a]=
pending=$(psql "$DB_URL" -tAc "SELECT count(*) FROM webhook_outbox")
[ "$pending" = 1 ] && ok "after the kill, 1 delivery is pending in the database" || fail "pending after kill: $pending"
start_receiver two.jsonl
start_server a "$PORT_A"
if wait_lines "$WORK/two.jsonl" 1 30; then
    ok "delivered after the restart: webhook-id $(python3 -c "import json,sys; print(json.loads(open(sys.argv[1]).readline())['headers']['webhook-id'])" "$WORK/two.jsonl")"
else fail "nothing delivered within 30 s of the restart"; fi
stop receiver

echo "--- 2b. SIGKILL during a delivery (the receiver never answers)"
start_receiver three.jsonl --hang-first 1
change "$A" "$W2" killed-during
if wait_lines "$WORK/three.jsonl" 1 15; then
    kill -9 "${PID[a]}"; wait "${PID[a]}" 2>/dev/null || true; PID[a]=
    ok "server killed while the receiver held seq 2's request"
    started=$(date +%s)
    start_server a "$PORT_A"
    if wait_lines "$WORK/three.jsonl" 2 60; then
        got=$(seqs "$WORK/three.jsonl")
        [ "$got" = "2 2" ] && ok "seq 2 delivered again after the restart, $(($(date +%s) - started)) s later (lease expiry)" || fail "deliveries: $got"
    else fail "not delivered again within 60 s of the restart"; fi
else fail "the delivery never reached the receiver"; fi
stop receiver

echo "--- 3. two servers on one database"
start_server b "$PORT_B"
B=http://127.0.0.1:$PORT_B
start_receiver four.jsonl
W3=$(new_world "$A" Three)
hook "$W3" >/dev/null
# Only world Three's deliveries are counted: world Two's webhook has nothing left to send.
for i in $(seq 1 40); do
    if [ $((i % 2)) = 0 ]; then change "$A" "$W3" "p$i"; else change "$B" "$W3" "p$i"; fi
done
if wait_lines "$WORK/four.jsonl" 40 60; then
    sleep 2
    got=$(python3 -c "
import json,sys
ids=[json.loads(l)['headers']['webhook-id'] for l in open(sys.argv[1])]
ids=[i for i in ids if i.startswith(sys.argv[2])]
seqs=[int(i.rsplit(':',1)[1]) for i in ids]
print('ok' if seqs==list(range(1,41)) else f'bad {seqs}')" "$WORK/four.jsonl" "$W3")
    [ "$got" = ok ] && ok "40 changes, written through two servers, each delivered once, in seq order" || fail "$got"
else fail "only $(wc -l <"$WORK/four.jsonl") of 40 deliveries within 60 s"; fi
grep -i "panic" "$WORK"/a.log "$WORK"/b.log && fail "a server panicked"

if [ "$failures" -gt 0 ]; then echo "$failures webhook drill(s) failed"; exit 1; fi
echo "all webhook drills passed"
