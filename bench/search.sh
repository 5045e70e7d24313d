#!/usr/bin/env bash
# Search, graph and path (issue 18), on PostgreSQL, with a release build, on loopback, every
# run bounded in time. One world seeded with BENCH_ELEMENTS elements (default 1,000,000)
# and twice as many relations (`lorebase seed`; the search index is written by its
# triggers), plus:
#   - a hub: one element related to 1,000 others (kind `bench_hub`);
#   - a chain: seven elements joined by six relations (kind `bench_chain`), so its ends
#     are at most 6 relations apart (the script prints the length found; the path search
#     leaves the hub's relations out).
# Then, at BENCH_CLIENTS connections (default 4) for BENCH_DURATION s, BENCH_ROUNDS rounds:
#   - search for a rare name and for a common word, each against pgbench running the very
#     SQL the server ran for it (captured from PostgreSQL's statement log);
#   - the graph of the hub at depth 2 (max_nodes 1000);
#   - the path between the chain's ends.
# Prints the plans (EXPLAIN ANALYZE of the captured statements) and a markdown table of
# medians over the rounds.
set -euo pipefail
cd "$(dirname "$0")/.."

ELEMENTS=${BENCH_ELEMENTS:-1000000}
RELATIONS=${BENCH_RELATIONS:-$((ELEMENTS * 2))}
DURATION=${BENCH_DURATION:-5}
ROUNDS=${BENCH_ROUNDS:-3}
CLIENTS=${BENCH_CLIENTS:-4}
PORT=${BENCH_PORT:-18795}
SERVER_URL=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
TARGET_DIR=${CARGO_TARGET_DIR:-target}
DB=lorebase_bench_search_$$
DB_URL=${SERVER_URL%/*}/$DB
PASSWORD="bench password that is long enough 42"
PG_BIN=/usr/lib/postgresql/$(ls /usr/lib/postgresql | sort -V | tail -n 1)/bin
PG_LOG=$(ls -t /var/log/postgresql/postgresql-*.log 2>/dev/null | head -n 1 || true)
WORK=$(mktemp -d)
SERVER_PID=

scripts/ensure-postgres.sh >/dev/null
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
[ -n "$PG_LOG" ] || { echo "bench: no PostgreSQL log under /var/log/postgresql to capture SQL from" >&2; exit 1; }
# BENCH_PROFILE=debug checks the script with the debug binary as it was last built (by
# `cargo test`, say), without a release build; its figures mean little.
# LOREBASE_BIN: a lorebase binary built before (skips the build).
PROFILE=${BENCH_PROFILE:-release}
if [ -n "${LOREBASE_BIN:-}" ]; then
    LOREBASE=$LOREBASE_BIN
else
    [ "$PROFILE" = release ] && cargo build -q --release --bin lorebase
    LOREBASE=$TARGET_DIR/$PROFILE/lorebase
fi

stop_server() {
    if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
    SERVER_PID=
}
cleanup() {
    stop_server
    psql "$SERVER_URL" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT
export DATABASE_URL=$DB_URL JWT_SECRET="bench-secret-that-is-long-enough-0123456789" RUST_LOG=warn
q() { psql "$DB_URL" -Atc "$1"; }

echo "## Seeding $ELEMENTS elements and $RELATIONS relations"
psql "$SERVER_URL" -qc "CREATE DATABASE $DB"
"$LOREBASE" seed --worlds 1 --elements "$ELEMENTS" --relations "$RELATIONS" --owner-password "$PASSWORD" |
    tee "$WORK/seed.txt"
WORLD=$(q "SELECT id FROM worlds LIMIT 1")
HUB=$(q "SELECT id FROM world_elements WHERE world_id = '$WORLD' ORDER BY id OFFSET $((ELEMENTS / 3)) LIMIT 1")
psql "$DB_URL" -q <<SQL
INSERT INTO element_relations (id, world_id, source_id, target_id, kind, attributes, version, created_at, updated_at)
SELECT gen_random_uuid(), '$WORLD', '$HUB', e.id, 'bench_hub', '{}', 1, now(), now()
FROM (SELECT id FROM world_elements WHERE world_id = '$WORLD' AND id <> '$HUB'
      ORDER BY md5(id::text) LIMIT 1000) e;
CREATE TEMP TABLE chain AS
SELECT id, row_number() OVER () AS n FROM (
    SELECT id FROM world_elements WHERE world_id = '$WORLD' ORDER BY md5(id::text || 'chain') LIMIT 7) c;
INSERT INTO element_relations (id, world_id, source_id, target_id, kind, attributes, version, created_at, updated_at)
SELECT gen_random_uuid(), '$WORLD', a.id, b.id, 'bench_chain', '{}', 1, now(), now()
FROM chain a JOIN chain b ON b.n = a.n + 1;
CREATE TABLE bench_chain_ends AS
SELECT (SELECT id FROM chain WHERE n = 1) AS first, (SELECT id FROM chain WHERE n = 7) AS last;
SQL
FROM_ID=$(q "SELECT first FROM bench_chain_ends")
TO_ID=$(q "SELECT last FROM bench_chain_ends")
q "DROP TABLE bench_chain_ends" >/dev/null
psql "$DB_URL" -qc "VACUUM ANALYZE"

# A rare search (one full character name: about 1 in 2,300 characters carries it) and a
# common one (a surname: about 1 in 12 characters).
RARE_NAME=$(q "SELECT name FROM world_elements WHERE world_id = '$WORLD' AND kind = 'character' ORDER BY id LIMIT 1")
RARE_Q=$RARE_NAME
COMMON_Q=$(echo "$RARE_NAME" | awk '{print $NF}')
# The path follows every relation kind but the hub's, which would put most elements two
# relations apart.
PATH_KINDS=$(q "SELECT string_agg('&kind=' || kind, '' ORDER BY kind) FROM (SELECT DISTINCT kind FROM element_relations WHERE kind <> 'bench_hub') k")
enc() { python3 -c 'import sys,urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$1"; }
BASE=http://127.0.0.1:$PORT
WORLD_URL="$BASE/api/v1/worlds/$WORLD"
declare -A URL=(
    [search_rare]="$WORLD_URL/search?q=$(enc "$RARE_Q")"
    [search_common]="$WORLD_URL/search?q=$(enc "$COMMON_Q")"
    [graph_hub_depth_two]="$WORLD_URL/elements/$HUB/graph?depth=2&max_nodes=1000"
    [path_six_hops]="$WORLD_URL/path?from=$FROM_ID&to=$TO_ID&max_depth=8$PATH_KINDS"
)
echo
echo "rare search: \"$RARE_Q\" ($(q "SELECT count(*) FROM element_search WHERE world_id = '$WORLD' AND document @@ plainto_tsquery('lorebase_search', '$RARE_Q')") matches);" \
    "common search: \"$COMMON_Q\" ($(q "SELECT count(*) FROM element_search WHERE world_id = '$WORLD' AND document @@ to_tsquery('lorebase_search', '$COMMON_Q:*')") matches)"
echo "hub: $(q "SELECT count(*) FROM element_relations WHERE source_id = '$HUB' OR target_id = '$HUB'") relations"

start_server() {
    HOST=127.0.0.1 PORT=$PORT LOREBASE_WORKERS=2 "$LOREBASE" serve >>"$WORK/server.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 1 100); do curl -sf "$BASE/readyz" >/dev/null && return; sleep 0.1; done
    echo "bench: the server did not become ready" >&2; exit 1
}
login() {
    curl -sf "$BASE/api/v1/auth/login" -H 'content-type: application/json' \
        -d "{\"email\":\"seed@lorebase.local\",\"password\":\"$PASSWORD\"}" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
}

# Capture the SQL each request runs: statement logging on for one short-lived server.
psql "$DB_URL" -qc "ALTER DATABASE $DB SET log_statement = 'all'"
start_server
TOKEN=$(login)
echo "path: $(curl -sf -H "Authorization: Bearer $TOKEN" "${URL[path_six_hops]}" |
    python3 -c 'import json,sys; print(len(json.load(sys.stdin)["relations"]), "relations")')"
echo "graph: $(curl -sf -H "Authorization: Bearer $TOKEN" "${URL[graph_hub_depth_two]}" |
    python3 -c 'import json,sys; d=json.load(sys.stdin); print(len(d["nodes"]), "nodes,", len(d["edges"]), "edges, truncated:", d["truncated"])')"
FIRST_LINE=$(( $(wc -l <"$PG_LOG") + 1 ))
for name in search_rare search_common graph_hub_depth_two path_six_hops; do
    q "SELECT 'bench-marker-$name'" >/dev/null
    curl -sf -o /dev/null -H "Authorization: Bearer $TOKEN" "${URL[$name]}"
done
sleep 0.5
stop_server
psql "$DB_URL" -qc "ALTER DATABASE $DB RESET log_statement"
python3 bench/captured_sql.py "$PG_LOG" "$FIRST_LINE" "$WORK" | sed 's/^/captured /'

# The plans: each captured statement that reads the index or the relations, run as a
# prepared statement with the captured values (warm: run once before).
echo
echo "## Plans"
for name in search_rare search_common graph_hub_depth_two path_six_hops; do
    python3 - "$WORK/$name.sql" "$WORK/$name.defs" >"$WORK/$name.explain.sql" <<'PY'
import re, sys
statements = open(sys.argv[1]).read().rstrip("\n").split(";\n")
defs = dict(line.split("=", 1) for line in open(sys.argv[2]).read().splitlines() if line)
for k, sql in enumerate(statements):
    if "element_search" not in sql and "element_relations" not in sql:
        continue
    numbers = sorted({int(n) for n in re.findall(rf":s{k}p(\d+)", sql)})
    body = re.sub(rf":s{k}p(\d+)", lambda m: "$" + m.group(1), sql.rstrip(";"))
    values = ", ".join("'" + defs[f"s{k}p{n}"].replace("'", "''") + "'" for n in numbers)
    print(f"PREPARE bench_{k} AS {body};")
    print(f"EXECUTE bench_{k}({values});")
    print(f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) EXECUTE bench_{k}({values});")
PY
    echo
    echo "### $name"
    echo '```'
    # Only the plans (not the rows of the warming runs), with long id lists shortened.
    psql "$DB_URL" -q -f "$WORK/$name.explain.sql" 2>&1 |
        grep -E '^\s*(->|[A-Z][A-Za-z ]+ (Scan|Join|Loop|Sort|Limit|Aggregate|Append|Unique|Result)|Limit|Sort|Nested|Hash|Planning|Execution|Index|Bitmap|Recheck|Filter|Buffers|Rows Removed|Heap)' |
        python3 -c '
import re, sys
for line in sys.stdin:
    print(re.sub(r"\{([0-9a-f-]{36},){3,}[0-9a-f-]{36}\}", lambda m: "{" + str(m.group(0).count(",") + 1) + " ids}", line.rstrip()))' || true
    echo '```'
done

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
print(name, f"{rps:.1f}", f"{ms('50'):.2f}", f"{ms('99'):.2f}", bad.group(1) if bad else 0)
PY
}
# pgbench on a captured script: appends "pg_name tps p99_ms" to $WORK/results.
run_pgbench() {
    local name=$1 args=()
    while IFS= read -r d; do [ -n "$d" ] && args+=(-D "$d"); done <"$WORK/$name.defs"
    rm -f "$WORK"/pglog.*
    local tps p99
    tps=$("$PG_BIN/pgbench" -n -M prepared -c "$CLIENTS" -j 2 -T "$DURATION" -f "$WORK/$name.sql" "${args[@]}" \
        -l --log-prefix="$WORK/pglog" -h 127.0.0.1 -U postgres "$DB" 2>/dev/null |
        awk '/^tps/ {printf "%.1f", $3}')
    p99=$(cat "$WORK"/pglog.* | awk '{print $3}' | sort -n |
        awk '{v[NR] = $1} END {printf "%.2f", v[int(NR * 0.99)] / 1000}')
    echo "pg_$name $tps $p99" >>"$WORK/results"
}

start_server
TOKEN=$(login)
for round in $(seq 1 "$ROUNDS"); do
    echo "round $round" >>"$WORK/results"
    for name in search_rare search_common; do
        run_pgbench "$name"
        run_wrk "$name" -H "Authorization: Bearer $TOKEN" "${URL[$name]}"
    done
    for name in graph_hub_depth_two path_six_hops; do
        run_wrk "$name" -H "Authorization: Bearer $TOKEN" "${URL[$name]}"
    done
done
stop_server

python3 - "$WORK/results" "$ELEMENTS" "$RELATIONS" "$CLIENTS" <<'PY'
import statistics, sys
path, elements, relations, clients = sys.argv[1], *sys.argv[2:]
rounds, current = [], None
for line in open(path):
    parts = line.split()
    if parts[0] == "round":
        current = {}
        rounds.append(current)
    elif parts[0].startswith("pg_"):
        current[parts[0]] = (float(parts[1]), float(parts[2]))
    else:
        current[parts[0]] = tuple(float(p) for p in parts[1:])
med = statistics.median
print(f"\n## {elements} elements, {relations} relations, {clients} connections (medians of {len(rounds)} rounds)\n")
print("| request | req/s | p50 ms | p99 ms | non-2xx | pgbench tps (same SQL) | pgbench p99 ms | HTTP/pgbench |")
print("|---|---|---|---|---|---|---|---|")
for key in ["search_rare", "search_common", "graph_hub_depth_two", "path_six_hops"]:
    runs = [r[key] for r in rounds]
    rps, p50, p99 = (med(r[i] for r in runs) for i in range(3))
    bad = int(sum(r[3] for r in runs))
    if all("pg_" + key in r for r in rounds):
        tps = med(r["pg_" + key][0] for r in rounds)
        pg_p99 = med(r["pg_" + key][1] for r in rounds)
        ratio = med(r[key][0] / r["pg_" + key][0] for r in rounds)
        print(f"| {key} | {rps:.0f} | {p50:.2f} | {p99:.2f} | {bad} | {tps:.0f} | {pg_p99:.2f} | {100 * ratio:.0f}% |")
    else:
        print(f"| {key} | {rps:.0f} | {p50:.2f} | {p99:.2f} | {bad} | | | |")
PY
