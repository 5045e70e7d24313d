#!/usr/bin/env bash
# Fault drill: an expensive `where` on SQLite (which has no statement timeout of its own)
# is stopped at DB_STATEMENT_TIMEOUT_SECS and answered 503 problem+json with Retry-After,
# while other requests keep being answered quickly. Loopback only, on a throwaway SQLite
# file; bounded in time (about half a minute). Prints what it saw; exits non-zero when
# the server misbehaves. A sibling of scripts/faults.sh (which drills PostgreSQL).
#   LOREBASE_BIN=path/to/lorebase  use that binary instead of building the release one
set -euo pipefail
cd "$(dirname "$0")/.."

APP_PORT=${SLOW_WHERE_APP_PORT:-18789}
TIMEOUT=2
BASE=http://127.0.0.1:$APP_PORT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
ok() { echo "ok: $*"; }

if [ -z "${LOREBASE_BIN:-}" ]; then
    cargo build --release --bin lorebase
    LOREBASE_BIN=${CARGO_TARGET_DIR:-target}/release/lorebase
fi

WORK=$(mktemp -d)
SERVER_PID=
cleanup() {
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

DATABASE_URL="sqlite://$WORK/lorebase.db?mode=rwc" \
JWT_SECRET="slow-where-run-secret-that-is-long-enough-0123" \
HOST=127.0.0.1 PORT=$APP_PORT RUST_LOG=warn LOREBASE_WORKERS=2 \
DB_STATEMENT_TIMEOUT_SECS=$TIMEOUT \
    "$LOREBASE_BIN" serve >>"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do curl -sf "$BASE/readyz" >/dev/null && break; sleep 0.1; done
curl -sf "$BASE/readyz" >/dev/null || { cat "$WORK/server.log"; echo "slow-where: server did not start" >&2; exit 1; }

json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
TOKEN=$(curl -sf "$BASE/api/v1/auth/register" -H 'content-type: application/json' \
    -d '{"email":"slow@example.com","password":"a long and unusual passphrase 42"}' | json '["access_token"]')
AUTH="authorization: Bearer $TOKEN"
WORLD=$(curl -sf "$BASE/api/v1/worlds" -H "$AUTH" -H 'content-type: application/json' \
    -d '{"name":"Slow"}' | json '["id"]')

# 80 elements, each with a 30,000-item array (about 180 KB, within the 256 KiB a document
# may have), and a filter of 32 items (the most a `where` may hold) found at their ends:
# each item is a scan of each array.
python3 -c "import json; print(json.dumps({'kind': 'thing', 'name': 'big', 'attributes': {'a': list(range(30000))}}))" >"$WORK/element.json"
for _ in $(seq 1 80); do
    curl -sf -o /dev/null "$BASE/api/v1/worlds/$WORLD/elements" -H "$AUTH" \
        -H 'content-type: application/json' --data-binary @"$WORK/element.json"
done
FILTER=$(python3 -c "import json, urllib.parse; print(urllib.parse.quote(json.dumps({'a': list(range(29968, 30000))})))")

echo "--- a slow where (timeout ${TIMEOUT}s) and ordinary requests at the same time"
started=$(date +%s.%N)
curl -s -o "$WORK/slow.body" -D "$WORK/slow.headers" -w '%{http_code} %{time_total}' -m 60 \
    "$BASE/api/v1/worlds/$WORLD/elements?limit=200&where=$FILTER" -H "$AUTH" >"$WORK/slow.out" &
SLOW_PID=$!
sleep 0.3
# Ordinary requests, each noted with when it was answered (seconds after the slow one began).
: >"$WORK/others"
for _ in $(seq 1 6); do
    for path in "/healthz" "/api/v1/worlds/$WORLD" "/api/v1/users/me"; do
        out=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' -m 10 "$BASE$path" -H "$AUTH")
        echo "$out $(date +%s.%N) $path" >>"$WORK/others"
    done
    sleep 0.1
done
wait "$SLOW_PID" || true
read -r code secs <"$WORK/slow.out" || true
python3 - "$WORK/others" "$started" "$secs" <<'PY' && ok "$(cat "$WORK/others.verdict")" || fail "$(cat "$WORK/others.verdict")"
import sys
path, started, slow = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
rows = [line.split() for line in open(path)]
during = [r for r in rows if float(r[2]) - started < slow]
bad = [r for r in rows if r[0] != "200" or float(r[1]) >= 1]
verdict = (f"{len(during)} of {len(rows)} other requests were answered while the slow where ran "
           f"(it took {slow:.2f}s), all 200 within {max(float(r[1]) for r in rows):.3f}s" if not bad
           else f"other requests misbehaved: {bad}")
open(path + ".verdict", "w").write(verdict)
sys.exit(0 if not bad and len(during) >= 3 else 1)
PY
if [ "$code" = 503 ] && grep -qi '^retry-after:' "$WORK/slow.headers" && grep -q 'problem+json' "$WORK/slow.headers"; then
    python3 -c "import sys; sys.exit(0 if $secs <= $TIMEOUT + 3 else 1)" &&
        ok "the slow where was stopped: 503 problem+json with Retry-After after ${secs}s (timeout ${TIMEOUT}s)" ||
        fail "the slow where answered 503 only after ${secs}s"
else
    fail "the slow where answered $code after ${secs}s"; cat "$WORK/slow.body"; echo
fi
after=$(curl -s -o /dev/null -w '%{http_code}' "$BASE/api/v1/worlds/$WORLD/elements?limit=1" -H "$AUTH")
[ "$after" = 200 ] && ok "the pool serves lists again afterwards" || fail "a list afterwards answered $after"

if grep -q panicked "$WORK/server.log"; then fail "the server panicked"; grep -A3 panicked "$WORK/server.log"; fi
echo "--- $failures failure(s)"
[ "$failures" = 0 ]
