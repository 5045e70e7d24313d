#!/usr/bin/env bash
# One-command benchmark (issue 6): the release server on PostgreSQL seeded with
# BENCH_ELEMENTS elements in one world (default 1,000,000), driven by wrk over loopback,
# interleaved with pgbench running the very SQL the server ran for the same requests
# (captured from PostgreSQL's statement log). Bounded: every run lasts BENCH_DURATION s,
# BENCH_ROUNDS rounds. Prints markdown tables: figures are medians over the rounds.
set -euo pipefail
cd "$(dirname "$0")/.."

ELEMENTS=${BENCH_ELEMENTS:-1000000}
RELATIONS=${BENCH_RELATIONS:-$((ELEMENTS / 10))}
DURATION=${BENCH_DURATION:-5}
ROUNDS=${BENCH_ROUNDS:-3}
CLIENTS=${BENCH_CLIENTS:-4}
PORT=${BENCH_PORT:-18789}
SERVER_URL=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
DB=lorebase_bench_$$
COPY_DB=lorebase_bench_copy_$$
DB_URL=${SERVER_URL%/*}/$DB
TARGET_DIR=${CARGO_TARGET_DIR:-target}
PASSWORD="bench password that is long enough 42"
PG_BIN=/usr/lib/postgresql/$(ls /usr/lib/postgresql | sort -V | tail -n 1)/bin
PG_LOG=$(ls -t /var/log/postgresql/postgresql-*.log 2>/dev/null | head -n 1 || true)
WORK=$(mktemp -d)
SERVER_PID=
SAMPLER_PID=

scripts/ensure-postgres.sh >/dev/null
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
[ -n "$PG_LOG" ] || { echo "bench: no PostgreSQL log under /var/log/postgresql to capture SQL from" >&2; exit 1; }
cargo build --release --bin lorebase
LOREBASE=$TARGET_DIR/release/lorebase

stop_server() {
    if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
    SERVER_PID=
}
cleanup() {
    [ -n "$SAMPLER_PID" ] && kill "$SAMPLER_PID" 2>/dev/null || true
    stop_server
    psql "$SERVER_URL" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
    psql "$SERVER_URL" -qc "DROP DATABASE IF EXISTS $COPY_DB WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT
export DATABASE_URL=$DB_URL JWT_SECRET="bench-secret-that-is-long-enough-0123456789" RUST_LOG=warn
q() { psql "$DB_URL" -Atc "$1"; }

echo "## Seeding $ELEMENTS elements"
psql "$SERVER_URL" -qc "CREATE DATABASE $DB"
"$LOREBASE" seed --worlds 1 --elements "$ELEMENTS" --relations "$RELATIONS" --owner-password "$PASSWORD" | tee "$WORK/seed.txt"
SEED_SECS=$(awk '$1 == "world_elements" {print $4}' "$WORK/seed.txt")

# The same rows through COPY into a freshly migrated database with the same indexes.
psql "$SERVER_URL" -qc "CREATE DATABASE $COPY_DB"
DATABASE_URL=${SERVER_URL%/*}/$COPY_DB "$LOREBASE" migrate >/dev/null 2>&1
for t in users worlds world_members; do
    psql "$DB_URL" -qc "\\copy $t TO '$WORK/$t.copy'"
    psql "${SERVER_URL%/*}/$COPY_DB" -qc "\\copy $t FROM '$WORK/$t.copy'"
done
psql "$DB_URL" -qc "\\copy world_elements TO '$WORK/elements.copy'"
COPY_START=$(date +%s.%N)
psql "${SERVER_URL%/*}/$COPY_DB" -qc "\\copy world_elements FROM '$WORK/elements.copy'"
COPY_SECS=$(python3 -c "import time; print(f'{time.time() - $COPY_START:.3f}')")
rm -f "$WORK"/*.copy
psql "$SERVER_URL" -qc "DROP DATABASE $COPY_DB WITH (FORCE)"
psql "$DB_URL" -qc "VACUUM ANALYZE"

start_server() {
    HOST=127.0.0.1 PORT=$PORT LOREBASE_WORKERS=2 LOGIN_FAILURES_PER_IP=100000000 \
        LOGIN_FAILURES_PER_ACCOUNT=100000000 "$LOREBASE" serve >>"$WORK/server.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && return; sleep 0.1; done
    echo "bench: the server did not become ready" >&2; exit 1
}
BASE=http://127.0.0.1:$PORT
LOGIN_BODY="{\"email\":\"seed@lorebase.local\",\"password\":\"$PASSWORD\"}"
login() {
    curl -sf "$BASE/api/v1/auth/login" -H 'content-type: application/json' -d "$LOGIN_BODY" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
}
WORLD=$(q "SELECT id FROM worlds LIMIT 1")
ELEMENT=$(q "SELECT id FROM world_elements WHERE world_id = '$WORLD' ORDER BY id OFFSET $((ELEMENTS / 2)) LIMIT 1")
SELECTIVE='{"stats":{"level":7,"str":12}}'
BROAD='{"race":"elf"}'
enc() { python3 -c 'import sys,urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$1"; }
ELEMENTS_URL="$BASE/api/v1/worlds/$WORLD/elements"
declare -A URL=(
    [get]="$ELEMENTS_URL/$ELEMENT"
    [list]="$ELEMENTS_URL?limit=50"
    [where_selective]="$ELEMENTS_URL?limit=50&where=$(enc "$SELECTIVE")"
    [where_broad]="$ELEMENTS_URL?limit=50&where=$(enc "$BROAD")"
    [q]="$ELEMENTS_URL?limit=50&q=ash"
)

echo
echo "## Plans (EXPLAIN ANALYZE of the where list's query, warm)"
for f in "$SELECTIVE" "$BROAD"; do
    n=$(q "SELECT count(*) FROM world_elements WHERE world_id = '$WORLD' AND attributes @> '$f'")
    echo
    echo "where=$f matches $n of $ELEMENTS rows ($(python3 -c "print(round(100 * $n / $ELEMENTS, 3))")%):"
    echo '```'
    q "SELECT 1 FROM world_elements WHERE world_id = '$WORLD' AND attributes @> '$f' ORDER BY created_at, id LIMIT 51" >/dev/null
    q "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT * FROM world_elements WHERE world_id = '$WORLD' AND attributes @> '$f' ORDER BY created_at, id LIMIT 51"
    echo '```'
done

# Capture the SQL each request runs: statement logging on for one short-lived server.
psql "$DB_URL" -qc "ALTER DATABASE $DB SET log_statement = 'all'"
start_server
TOKEN=$(login)
FIRST_LINE=$(( $(wc -l <"$PG_LOG") + 1 ))
for name in get list where_selective where_broad; do
    q "SELECT 'bench-marker-$name'" >/dev/null
    curl -sf -o /dev/null -H "Authorization: Bearer $TOKEN" "${URL[$name]}"
done
sleep 0.5
stop_server
psql "$DB_URL" -qc "ALTER DATABASE $DB RESET log_statement"
echo
python3 bench/captured_sql.py "$PG_LOG" "$FIRST_LINE" "$WORK" | sed 's/^/captured /'

start_server
( while kill -0 "$SERVER_PID" 2>/dev/null; do ps -o rss= -p "$SERVER_PID" >>"$WORK/rss" || true; sleep 0.2; done ) &
SAMPLER_PID=$!
TOKEN=$(login)
# A tool's key: a read-only personal access token limited to the world (issue 13).
PAT=$(curl -sf "$BASE/api/v1/users/me/tokens" -H "Authorization: Bearer $TOKEN" \
    -H 'content-type: application/json' \
    -d "{\"name\":\"bench\",\"scope\":\"read\",\"world_ids\":[\"$WORLD\"]}" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')

cat >"$WORK/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $TOKEN"
wrk.body = '{"kind":"item","name":"Bench blade","attributes":{"weight":3,"runes":["ka","lo"]},"tags":["bench"]}'
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

# One wrk run: appends "name rps p50_ms p99_ms non2xx" to $WORK/results.
run_wrk() {
    local name=$1; shift
    wrk -t2 -c"$CLIENTS" -d"${DURATION}s" --latency "$@" >"$WORK/wrk.out" 2>&1
    python3 - "$name" "$WORK/wrk.out" >>"$WORK/results" <<'PY'
import re, sys
name, text = sys.argv[1], open(sys.argv[2]).read()
def ms(label):
    m = re.search(r"^\s*" + label + r"%\s+([\d.]+)(us|ms|s)\b", text, re.M)
    v, unit = float(m.group(1)), m.group(2)
    return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
errors = re.search(r"Socket errors:.*", text)
print(name, f"{rps:.0f}", f"{ms('50'):.2f}", f"{ms('99'):.2f}", bad.group(1) if bad else 0,
      1 if errors else 0)
PY
}
# pgbench on a captured script: appends "pg_name tps p99_ms" to $WORK/results; the p99
# comes from pgbench's own per-transaction log, so the database's tail is known too.
run_pgbench() {
    local name=$1 args=()
    while IFS= read -r d; do [ -n "$d" ] && args+=(-D "$d"); done <"$WORK/$name.defs"
    rm -f "$WORK"/pglog.*
    local tps
    tps=$("$PG_BIN/pgbench" -n -M prepared -c "$CLIENTS" -j 2 -T "$DURATION" -f "$WORK/$name.sql" "${args[@]}" \
        -l --log-prefix="$WORK/pglog" -h 127.0.0.1 -U postgres "$DB" 2>/dev/null |
        awk '/^tps/ {printf "%.0f", $3}')
    local p99
    p99=$(cat "$WORK"/pglog.* | awk '{print $3}' | sort -n |
        awk '{v[NR] = $1} END {printf "%.2f", v[int(NR * 0.99)] / 1000}')
    echo "pg_$name $tps $p99" >>"$WORK/results"
}

# Warm-up, not measured: the pool opens its connections and PostgreSQL's cache fills.
for name in get list where_selective where_broad; do
    wrk -t2 -c"$CLIENTS" -d2s -H "Authorization: Bearer $TOKEN" "${URL[$name]}" >/dev/null
done
wrk -t2 -c"$CLIENTS" -d2s -H "Authorization: Bearer $PAT" "${URL[get]}" >/dev/null

echo
echo "## Runs: $ROUNDS rounds x ${DURATION}s, $CLIENTS connections"
for round in $(seq 1 "$ROUNDS"); do
    echo "round $round"
    echo "round $round" >>"$WORK/results"
    for name in get list where_selective where_broad; do
        run_pgbench "$name"
        run_wrk "$name" -H "Authorization: Bearer $TOKEN" "${URL[$name]}"
    done
    # The same GET with a personal access token, right after the JWT's run.
    run_wrk get_pat -H "Authorization: Bearer $PAT" "${URL[get]}"
    run_wrk q -H "Authorization: Bearer $TOKEN" "${URL[q]}"
    run_wrk create -s "$WORK/post.lua" "$ELEMENTS_URL"
    run_wrk patch -s "$WORK/patch.lua" "$ELEMENTS_URL/$ELEMENT"
    run_wrk login -s "$WORK/login.lua" "$BASE/api/v1/auth/login"
    # GET element again, while 50 connections log in back to back the whole time.
    wrk -t1 -c50 -d"$((DURATION + 1))s" -s "$WORK/login.lua" "$BASE/api/v1/auth/login" >"$WORK/burst.out" 2>&1 &
    BURST_PID=$!
    sleep 0.5
    run_wrk get_during_logins -H "Authorization: Bearer $TOKEN" "${URL[get]}"
    wait "$BURST_PID"
    python3 -c '
import re, sys
text = open(sys.argv[1]).read()
total = int(re.search(r"(\d+) requests in", text).group(1))
bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
print(total, bad.group(1) if bad else 0)' "$WORK/burst.out" >>"$WORK/burst_codes"
done
kill "$SAMPLER_PID" 2>/dev/null || true
SAMPLER_PID=

python3 - "$WORK/results" "$WORK/rss" "$WORK/burst_codes" "$SEED_SECS" "$COPY_SECS" "$ELEMENTS" <<'PY'
import statistics, sys
results, rss_file, codes_file, seed_secs, copy_secs, elements = sys.argv[1:7]
rounds, current = [], None
for line in open(results):
    parts = line.split()
    if parts[0] == "round":
        current = {}
        rounds.append(current)
    elif parts[0].startswith("pg_"):
        current[parts[0]] = float(parts[1])
        current[parts[0] + "_p99"] = float(parts[2])
    else:
        current[parts[0]] = [float(x) for x in parts[1:]]
med = statistics.median
rows = [("get", "GET one element"), ("get_pat", "GET one element, personal access token"),
        ("list", "list 50"),
        ("where_selective", "list 50, selective `where`"), ("where_broad", "list 50, 2% `where`"),
        ("q", "list 50, `q=ash`"), ("create", "create element"),
        ("patch", "PATCH element (If-Match)"), ("login", "login"),
        ("get_during_logins", "GET one element, 50 connections logging in")]
print("\n| endpoint | req/s | p50 ms | p99 ms | non-2xx | pgbench tps (same SQL) | pgbench p99 ms | ratio |")
print("|---|---|---|---|---|---|---|---|")
errors = 0
for key, label in rows:
    runs = [r[key] for r in rounds if key in r]
    errors += sum(int(r[3]) + int(r[4]) for r in runs)
    rps, p50, p99 = (med(r[i] for r in runs) for i in range(3))
    pg = [r.get("pg_" + key) for r in rounds]
    if all(pg):
        ratio = med(r[key][0] / r["pg_" + key] for r in rounds)
        pg_p99 = med(r["pg_" + key + "_p99"] for r in rounds)
        pgtext, pgp99text, ratiotext = f"{med(pg):.0f}", f"{pg_p99:.2f}", f"{ratio:.1%}"
    else:
        pgtext = pgp99text = ratiotext = ""
    print(f"| {label} | {rps:.0f} | {p50:.2f} | {p99:.2f} | {sum(int(r[3]) for r in runs)} | {pgtext} | {pgp99text} | {ratiotext} |")
base = med(r["get"][2] for r in rounds)
burst = med(r["get_during_logins"][2] for r in rounds)
rss = [int(x) for x in open(rss_file).read().split()]
bursts = [line.split() for line in open(codes_file) if line.strip()]
logins, bad_logins = sum(int(b[0]) for b in bursts), sum(int(b[1]) for b in bursts)
seed, copy = float(seed_secs), float(copy_secs)
print()
pat_ratios = [r["get_pat"][0] / r["get"][0] for r in rounds]
print(f"- GET element with a personal access token vs a JWT: {med(r['get_pat'][0] for r in rounds):.0f} vs "
      f"{med(r['get'][0] for r in rounds):.0f} req/s; median of the rounds' ratios {med(pat_ratios):.1%} "
      f"(rounds: {', '.join(f'{x:.1%}' for x in pat_ratios)}); p99 {med(r['get_pat'][2] for r in rounds):.2f} "
      f"vs {med(r['get'][2] for r in rounds):.2f} ms")
burst_ratios = [r["get_during_logins"][2] / r["get"][2] for r in rounds]
print(f"- GET element p99 during login bursts: {burst:.2f} ms vs {base:.2f} ms without; median of the rounds' ratios "
      f"{med(burst_ratios):.2f}x (rounds: {', '.join(f'{x:.2f}x' for x in burst_ratios)}); "
      f"{logins} logins from 50 connections during those runs, {bad_logins} not 2xx")
print(f"- server RSS during the runs: max {max(rss) / 1024:.1f} MiB, median {med(rss) / 1024:.1f} MiB ({len(rss)} samples)")
print(f"- seeding {int(elements):,} elements: {seed:.1f} s ({int(elements) / seed:,.0f} rows/s); "
      f"COPY of the same rows: {copy:.1f} s; ratio {seed / copy:.2f}x")
print(f"- error responses (non-2xx, socket errors) in all runs, bursts included: {errors + bad_logins}")
PY
if grep -q ERROR "$WORK/server.log"; then
    printf -- '- server errors logged: %s; the first:\n' "$(grep -c ERROR "$WORK/server.log")"
    grep ERROR "$WORK/server.log" | head -n 3 | cut -c1-300
fi

# Filtered lists at every selectivity, after several ANALYZEs (issue 21): a world of its
# own, on its own database.
echo
echo "## Stability of filtered lists (bench/stability.sh)"
stop_server
LOREBASE_BIN=$LOREBASE BENCH_ELEMENTS=$ELEMENTS bench/stability.sh

# What the change log costs (issue 14): this build against the same code without the log
# (bench/without-change-log.patch, built in a worktree), and the feed and history reads.
echo
echo "## The change log (bench/changes.sh)"
BENCH_HEAD_BIN=$LOREBASE bench/changes.sh
