#!/usr/bin/env bash
# Benchmark: the release server on PostgreSQL seeded with BENCH_ELEMENTS elements in one
# world (default 1,000,000), driven by wrk over loopback, beside pgbench running the same
# SQL as the element GET and the `where` list. Bounded: each run lasts BENCH_DURATION s.
# Prints req/s, p50/p99 and the ratio to pgbench; asserts nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

ELEMENTS=${BENCH_ELEMENTS:-1000000}
RELATIONS=${BENCH_RELATIONS:-$((ELEMENTS / 10))}
DURATION=${BENCH_DURATION:-10}
CLIENTS=${BENCH_CLIENTS:-4}
PORT=${BENCH_PORT:-18789}
SERVER_URL=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
DB=lorebase_bench_$$
DB_URL=${SERVER_URL%/*}/$DB
TARGET_DIR=${CARGO_TARGET_DIR:-target}
PASSWORD="bench password that is long enough 42"
PG_BIN=/usr/lib/postgresql/$(ls /usr/lib/postgresql | sort -V | tail -n 1)/bin
WORK=$(mktemp -d)

scripts/ensure-postgres.sh
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
cargo build --release --bin lorebase

psql "$SERVER_URL" -qc "CREATE DATABASE $DB"
SERVER_PID=
cleanup() {
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
    psql "$SERVER_URL" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
export DATABASE_URL=$DB_URL JWT_SECRET="bench-secret-that-is-long-enough-0123456789" RUST_LOG=warn
"$TARGET_DIR/release/lorebase" seed --worlds 1 --elements "$ELEMENTS" --relations "$RELATIONS" --owner-password "$PASSWORD"
psql "$DB_URL" -qc "VACUUM ANALYZE"

HOST=127.0.0.1 PORT=$PORT LOREBASE_WORKERS=2 LOGIN_FAILURES_PER_IP=1000000 LOGIN_FAILURES_PER_ACCOUNT=1000000 \
    "$TARGET_DIR/release/lorebase" serve >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
BASE=http://127.0.0.1:$PORT
for _ in $(seq 1 100); do curl -sf "$BASE/readyz" >/dev/null && break; sleep 0.1; done

q() { psql "$DB_URL" -Atc "$1"; }
LOGIN_BODY="{\"email\":\"seed@lorebase.local\",\"password\":\"$PASSWORD\"}"
TOKEN=$(curl -sf "$BASE/api/v1/auth/login" -H 'content-type: application/json' -d "$LOGIN_BODY" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
CLAIMS=$(python3 -c 'import base64,json,sys; p=sys.argv[1].split(".")[1]; p+="="*(-len(p)%4); c=json.loads(base64.urlsafe_b64decode(p)); print(c["sub"], c["sid"])' "$TOKEN")
USER_ID=${CLAIMS% *}; SESSION_ID=${CLAIMS#* }
WORLD=$(q "SELECT id FROM worlds LIMIT 1")
ELEMENT=$(q "SELECT id FROM world_elements WHERE world_id = '$WORLD' ORDER BY id OFFSET $((ELEMENTS / 2)) LIMIT 1")
SELECTIVE='{"stats":{"level":7,"str":12}}'
BROAD='{"race":"elf"}'
for f in "$SELECTIVE" "$BROAD"; do
    n=$(q "SELECT count(*) FROM world_elements WHERE world_id = '$WORLD' AND attributes @> '$f'")
    echo "filter $f matches $n of $ELEMENTS rows ($(python3 -c "print(round(100 * $n / $ELEMENTS, 3))")%)"
done
enc() { python3 -c 'import sys,urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$1"; }
ELEMENTS_URL="$BASE/api/v1/worlds/$WORLD/elements"

cat >"$WORK/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $TOKEN"
wrk.body = '{"kind":"item","name":"Bench blade","attributes":{"weight":3,"runes":["ka","lo"]},"tags":["bench"]}'
local reported = 0
response = function(status, headers, body)
  if status ~= 201 and reported < 2 then
    reported = reported + 1
    io.stderr:write("create answered " .. status .. ": " .. body .. "\n")
  end
end
LUA
cat >"$WORK/patch.lua" <<LUA
wrk.method = "PATCH"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $TOKEN"
wrk.headers["If-Match"] = "*"
wrk.body = '{"attributes":{"stats":{"hp":42}}}'
LUA
cat >"$WORK/login.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '$LOGIN_BODY'
LUA

# wrk's summary as "req/s p50 p99" (latencies in ms).
run_wrk() {
    local out
    out=$(wrk -t2 -c"$CLIENTS" -d"${DURATION}s" --latency "$@" 2>&1)
    echo "$out" | grep -E "Non-2xx|answered" >&2 || true
    echo "$out" | python3 -c '
import re, sys
text = sys.stdin.read()
def ms(label):
    m = re.search(r"^\s*" + str(label) + r"%\s+([\d.]+)(us|ms|s)", text, re.M)
    v, unit = float(m.group(1)), m.group(2)
    return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
print(f"{rps:.0f} {ms(50):.2f} {ms(99):.2f}")'
}
# pgbench's transactions per second for a script.
run_pgbench() {
    "$PG_BIN/pgbench" -n -M prepared -c "$CLIENTS" -j 2 -T "$DURATION" -f "$1" -h 127.0.0.1 -U postgres "$DB" 2>/dev/null |
        awk '/^tps/ {printf "%.0f", $3}'
}
# The statements a GET of one element runs: token check, world, membership, element.
cat >"$WORK/get.sql" <<SQL
SELECT s.revoked_at, u.token_version FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = '$SESSION_ID' AND s.user_id = '$USER_ID';
SELECT * FROM worlds WHERE id = '$WORLD';
SELECT * FROM world_members WHERE world_id = '$WORLD' AND user_id = '$USER_ID';
SELECT * FROM world_elements WHERE id = '$ELEMENT' AND world_id = '$WORLD';
SQL
sed '$d' "$WORK/get.sql" >"$WORK/list.sql"
echo "SELECT * FROM world_elements WHERE world_id = '$WORLD' AND attributes @> '$SELECTIVE' ORDER BY created_at, id LIMIT 51;" >>"$WORK/list.sql"

printf '\n%-34s %9s %9s %9s %11s\n' endpoint "req/s" "p50 ms" "p99 ms" "vs pgbench"
row() { printf '%-34s %9s %9s %9s %11s\n' "$@"; }
PG_GET=$(run_pgbench "$WORK/get.sql")
read -r rps p50 p99 <<<"$(run_wrk -H "Authorization: Bearer $TOKEN" "$ELEMENTS_URL/$ELEMENT")"
row "GET element" "$rps" "$p50" "$p99" "$(python3 -c "print(f'{$rps / $PG_GET:.0%}')")"
read -r rps p50 p99 <<<"$(run_wrk -H "Authorization: Bearer $TOKEN" "$ELEMENTS_URL?limit=50")"
row "list 50" "$rps" "$p50" "$p99" ""
PG_LIST=$(run_pgbench "$WORK/list.sql")
read -r rps p50 p99 <<<"$(run_wrk -H "Authorization: Bearer $TOKEN" "$ELEMENTS_URL?limit=50&where=$(enc "$SELECTIVE")")"
row "list where (selective)" "$rps" "$p50" "$p99" "$(python3 -c "print(f'{$rps / $PG_LIST:.0%}')")"
read -r rps p50 p99 <<<"$(run_wrk -H "Authorization: Bearer $TOKEN" "$ELEMENTS_URL?limit=50&where=$(enc "$BROAD")")"
row "list where (broad)" "$rps" "$p50" "$p99" ""
read -r rps p50 p99 <<<"$(run_wrk -H "Authorization: Bearer $TOKEN" "$ELEMENTS_URL?limit=50&q=ash")"
row "list q=ash" "$rps" "$p50" "$p99" ""
read -r rps p50 p99 <<<"$(run_wrk -s "$WORK/post.lua" "$ELEMENTS_URL")"
row "create element" "$rps" "$p50" "$p99" ""
read -r rps p50 p99 <<<"$(run_wrk -s "$WORK/patch.lua" "$ELEMENTS_URL/$ELEMENT")"
row "PATCH element (If-Match: *)" "$rps" "$p50" "$p99" ""
read -r rps p50 p99 <<<"$(run_wrk -s "$WORK/login.lua" "$BASE/api/v1/auth/login")"
row "login" "$rps" "$p50" "$p99" ""
printf '\npgbench -M prepared, %s clients: GET element SQL %s tps, where-list SQL %s tps\n' "$CLIENTS" "$PG_GET" "$PG_LIST"
printf 'server RSS after the run: %s KiB\n' "$(ps -o rss= -p "$SERVER_PID" | tr -d ' ')"
if grep -q ERROR "$WORK/server.log"; then
    printf 'server errors logged: %s; the first:\n' "$(grep -c ERROR "$WORK/server.log")"
    grep ERROR "$WORK/server.log" | head -n 3 | cut -c1-300
fi
