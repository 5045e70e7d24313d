#!/usr/bin/env bash
# Stability of filtered lists (issue 21): does a list's cost stay bounded at every
# selectivity, whatever sample ANALYZE draws? On PostgreSQL, with the release server, one
# world of BENCH_ELEMENTS elements (default 1,000,000) written straight into the tables,
# with filters that match 0.001% to 60% of them, plus the other filters that can starve an
# `ORDER BY ... LIMIT` (tag, rare kind, parent, q, relations by kind).
#
# For each of BENCH_ANALYZES (default 3) fresh `ANALYZE`s it prints, per list:
#   - the server's p50/p99 at BENCH_CLIENTS (4) connections over BENCH_DURATION s (wrk);
#   - what the server's statements cost in the database per request ("ours", from
#     PostgreSQL's own log of statement durations, one request at a time);
#   - what the one-query plan costs (planning plus execution) as the planner chooses it
#     after this ANALYZE ("as planned": the list before this change), and forced each way:
#     the keyset order walked ("walk") and the filter's index read ("index"); "best" is the
#     faster of the two;
#   - ours / best.
# Bounded: every wrk run lasts BENCH_DURATION s; the whole run about 10 minutes at 1M.
set -euo pipefail
cd "$(dirname "$0")/.."

ELEMENTS=${BENCH_ELEMENTS:-1000000}
ANALYZES=${BENCH_ANALYZES:-3}
DURATION=${BENCH_DURATION:-5}
CLIENTS=${BENCH_CLIENTS:-4}
PORT=${BENCH_PORT:-18791}
SERVER_URL=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
TARGET_DIR=${CARGO_TARGET_DIR:-target}
DB=lorebase_bench_stability_$$
DB_URL=${SERVER_URL%/*}/$DB
WORK=$(mktemp -d)
SERVER_PID=
PASSWORD="bench password that is long enough 42"

scripts/ensure-postgres.sh >/dev/null
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
PG_LOG=$(ls -t /var/log/postgresql/postgresql-*.log 2>/dev/null | head -n 1 || true)
[ -n "$PG_LOG" ] || { echo "bench: no PostgreSQL log under /var/log/postgresql" >&2; exit 1; }
if [ -z "${LOREBASE_BIN:-}" ]; then
    cargo build -q --release --bin lorebase
    LOREBASE_BIN=$TARGET_DIR/release/lorebase
fi

cleanup() {
    psql "$SERVER_URL" -qc "ALTER SYSTEM RESET log_min_duration_statement" -c "SELECT pg_reload_conf()" >/dev/null 2>&1 || true
    [ -n "$SERVER_PID" ] && { kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; }
    psql "$SERVER_URL" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT
q() { psql "$DB_URL" -Atqc "$1"; }

psql "$SERVER_URL" -qc "CREATE DATABASE $DB"
export DATABASE_URL=$DB_URL JWT_SECRET="bench-secret-that-is-long-enough-0123456789" RUST_LOG=warn
HOST=127.0.0.1 PORT=$PORT LOREBASE_WORKERS=2 "$LOREBASE_BIN" serve >>"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.1; done
BASE=http://127.0.0.1:$PORT/api/v1
json() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
TOKEN=$(curl -sf "$BASE/auth/register" -H 'content-type: application/json' \
    -d "{\"email\":\"bench@example.com\",\"password\":\"$PASSWORD\",\"display_name\":\"bench\"}" | json access_token)
WORLD=$(curl -sf "$BASE/worlds" -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \
    -d '{"name":"Stability"}' | json id)

echo "## Writing $ELEMENTS elements and 50,000 relations into world $WORLD"
START=$(date +%s)
# The GIN indexes are rebuilt after the load, as their definitions say (much faster than
# maintaining them row by row).
q "SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = 'world_elements'::regclass
   AND indexrelid::regclass::text IN ('world_elements_attributes_idx', 'world_elements_tags_idx',
       'world_elements_name_trgm_idx', 'world_elements_summary_trgm_idx')" >"$WORK/gin.sql"
q "DROP INDEX world_elements_attributes_idx, world_elements_tags_idx,
   world_elements_name_trgm_idx, world_elements_summary_trgm_idx"
q "
INSERT INTO world_elements (id, world_id, parent_id, kind, name, summary, attributes, tags,
                            version, created_at, updated_at)
VALUES ('00000000-0000-7000-8000-000000000001', '$WORLD', NULL, 'place', 'The Hub', NULL, '{}', '[]', 1,
        now() - interval '2 days', now() - interval '2 days'),
       ('00000000-0000-7000-8000-000000000002', '$WORLD', NULL, 'place', 'The Nook', NULL, '{}', '[]', 1,
        now() - interval '2 days', now() - interval '2 days');
INSERT INTO world_elements (id, world_id, parent_id, kind, name, summary, attributes, tags,
                            version, created_at, updated_at)
SELECT gen_random_uuid(), '$WORLD',
       CASE WHEN i % 10 = 0 THEN '00000000-0000-7000-8000-000000000001'::uuid
            WHEN i % ($ELEMENTS / 20) = 7 THEN '00000000-0000-7000-8000-000000000002'::uuid END,
       CASE WHEN i % 10000 = 4321 THEN 'relic' WHEN r.k < 0.6 THEN 'character' ELSE 'place' END,
       CASE WHEN i % 10000 = 1234 THEN 'Zyxwand ' ELSE 'Thing ' END || i,
       'A thing of the world, number ' || i,
       jsonb_build_object(
           'race', (ARRAY['elf','dwarf','human','orc','hobbit'])[1 + i % 5],
           'stats', jsonb_build_object('level', 1 + floor(random() * 60)::int,
                                       'str', 3 + floor(random() * 16)::int),
           'band', jsonb_build_object(
               'p60', random() < 0.6, 'p20', random() < 0.2, 'p2', random() < 0.02,
               'p05', random() < 0.005, 'p002', random() < 0.0002,
               'p00001', i % ($ELEMENTS / 10) = 99)),
       (CASE WHEN random() < 0.5 THEN '[\"common\"]'::jsonb ELSE '[]'::jsonb END)
         || (CASE WHEN i % 10000 = 555 THEN '[\"rare\"]'::jsonb ELSE '[]'::jsonb END),
       1,
       now() - interval '1 day' + i * interval '1 millisecond',
       now() - interval '1 day' + i * interval '1 millisecond'
FROM generate_series(1, $ELEMENTS - 2) AS i, LATERAL (SELECT random() AS k) AS r;
UPDATE worlds SET element_count = $ELEMENTS WHERE id = '$WORLD';
-- A hub with 50,000 relations: 'knows', and 'rare_link' for 10 of them.
INSERT INTO element_relations (id, world_id, source_id, target_id, kind, attributes, version,
                               created_at, updated_at)
SELECT gen_random_uuid(), '$WORLD', '00000000-0000-7000-8000-000000000001', e.id,
       CASE WHEN e.n % 5000 = 17 THEN 'rare_link' ELSE 'knows' END, '{}', 1, e.created_at, e.created_at
FROM (SELECT id, created_at, row_number() OVER (ORDER BY created_at, id) AS n
      FROM world_elements WHERE world_id = '$WORLD' AND parent_id IS NULL
      ORDER BY created_at, id LIMIT 50000) AS e;
"
while read -r definition; do q "$definition"; done <"$WORK/gin.sql"
q "VACUUM ANALYZE world_elements" ; q "VACUUM ANALYZE element_relations"
# The load's writes are flushed now, not by a checkpoint in the middle of the first lists.
q "CHECKPOINT"
echo "loaded in $(( $(date +%s) - START )) s"

enc() { python3 -c 'import sys,urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$1"; }
ELEMENTS_URL="$BASE/worlds/$WORLD/elements"
HUB=00000000-0000-7000-8000-000000000001
NOOK=00000000-0000-7000-8000-000000000002
# name | query string | the same filter as SQL (for the one-query plans; empty for relations)
cat >"$WORK/lists" <<EOF
where 0.001%|where=$(enc '{"band":{"p00001":true}}')|attributes @> '{"band":{"p00001":true}}'
where 0.02%|where=$(enc '{"band":{"p002":true}}')|attributes @> '{"band":{"p002":true}}'
where ~0.1% (stats)|where=$(enc '{"stats":{"level":7,"str":12}}')|attributes @> '{"stats":{"level":7,"str":12}}'
where 0.5%|where=$(enc '{"band":{"p05":true}}')|attributes @> '{"band":{"p05":true}}'
where 2%|where=$(enc '{"band":{"p2":true}}')|attributes @> '{"band":{"p2":true}}'
where 20%|where=$(enc '{"band":{"p20":true}}')|attributes @> '{"band":{"p20":true}}'
where 60%|where=$(enc '{"band":{"p60":true}}')|attributes @> '{"band":{"p60":true}}'
tag 0.01%|tag=rare|tags @> '["rare"]'
tag 50%|tag=common|tags @> '["common"]'
kind 0.01%|kind=relic|kind = 'relic'
parent, 20 children|parent_id=$NOOK|parent_id = '$NOOK'
parent, 10% of the world|parent_id=$HUB|parent_id = '$HUB'
q 0.01%|q=zyxwand|(lower(name) LIKE '%zyxwand%' OR lower(summary) LIKE '%zyxwand%')
q 100%|q=thing|(lower(name) LIKE '%thing%' OR lower(summary) LIKE '%thing%')
relations by kind, 10 of 50,000|RELATIONS kind=rare_link|
relations by kind, 49,990 of 50,000|RELATIONS kind=knows|
EOF
url_of() {
    case $1 in
        "RELATIONS "*) echo "$ELEMENTS_URL/$HUB/relations?direction=out&limit=50&${1#RELATIONS }" ;;
        *) echo "$ELEMENTS_URL?limit=50&$1" ;;
    esac
}
# Planning plus execution time (ms, median of 3, warm) of the one-query list under
# `settings`: a request plans its statement too, and "ours" (the logged parse, bind and
# execute durations) includes that.
one_query_ms() {
    local settings=$1 condition=$2 times=()
    for _ in 1 2 3 4; do
        times+=("$(psql "$DB_URL" -Atq <<SQL | sed -n 's/.*\(Planning\|Execution\) Time: \([0-9.]*\) ms.*/\2/p' | awk '{s += $1} END {printf "%.3f", s}'
BEGIN; $settings
EXPLAIN (ANALYZE, COSTS OFF) SELECT * FROM world_elements
  WHERE world_id = '$WORLD' AND $condition ORDER BY created_at, id LIMIT 51;
COMMIT;
SQL
)")
    done
    printf '%s\n' "${times[@]:1}" | sort -n | sed -n 2p
}
# Database time per request of the server's own statements: one request at a time, the
# durations PostgreSQL logs for this database's statements (parse, bind, execute) summed.
ours_ms() {
    local url=$1 first
    first=$(( $(wc -l <"$PG_LOG") + 1 ))
    for _ in $(seq 1 10); do curl -sf -o /dev/null -H "Authorization: Bearer $TOKEN" "$url"; done
    sleep 0.3
    tail -n +"$first" "$PG_LOG" | grep -F "@$DB " |
        sed -n 's/.*duration: \([0-9.]*\) ms.*/\1/p' | awk '{s += $1} END {printf "%.2f", s / 10}'
}
run_wrk() {
    wrk -t2 -c"$CLIENTS" -d"${DURATION}s" --latency -H "Authorization: Bearer $TOKEN" "$1" >"$WORK/wrk.out" 2>&1
    python3 - "$WORK/wrk.out" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
def ms(label):
    m = re.search(r"^\s*" + label + r"%\s+([\d.]+)(us|ms|s)\b", text, re.M)
    v, unit = float(m.group(1)), m.group(2)
    return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v
bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
print(f"{ms('50'):.2f} {ms('99'):.2f} {bad.group(1) if bad else 0}")
PY
}

# Warm-up, not measured: the pool opens its connections (each a new PostgreSQL backend
# that fills its caches on its first statements), which the first list measured paid for.
wrk -t2 -c"$CLIENTS" -d2s -H "Authorization: Bearer $TOKEN" "$ELEMENTS_URL?limit=50" >/dev/null 2>&1

for round in $(seq 1 "$ANALYZES"); do
    q "ANALYZE world_elements"; q "ANALYZE element_relations"
    echo
    echo "### After ANALYZE $round"
    echo
    echo "| list | matches | p50 ms | p99 ms | non-2xx | ours, DB ms/request | as planned ms | walk ms | index ms | ours / best |"
    echo "|---|---|---|---|---|---|---|---|---|---|"
    while IFS='|' read -r name query condition; do
        url=$(url_of "$query")
        curl -sf -o /dev/null -H "Authorization: Bearer $TOKEN" "$url"
        read -r p50 p99 bad <<<"$(run_wrk "$url")"
        # Every statement's duration is logged while measuring (a reload reaches the
        # server's open connections; the lines of this database are picked out).
        q "ALTER SYSTEM SET log_min_duration_statement = 0" >/dev/null; q "SELECT pg_reload_conf()" >/dev/null
        sleep 0.2
        ours=$(ours_ms "$url")
        q "ALTER SYSTEM RESET log_min_duration_statement" >/dev/null; q "SELECT pg_reload_conf()" >/dev/null
        if [ -n "$condition" ]; then
            matches=$(q "SELECT count(*) FROM world_elements WHERE world_id = '$WORLD' AND $condition")
            planned=$(one_query_ms "" "$condition")
            walk=$(one_query_ms "SET LOCAL enable_bitmapscan = off; SET LOCAL enable_seqscan = off;" "$condition")
            index=$(one_query_ms "SET LOCAL enable_indexscan = off; SET LOCAL enable_seqscan = off;" "$condition")
            ratio=$(python3 -c "print(f'{$ours / max(min($walk, $index), 0.01):.1f}x')")
        else
            matches=$(q "SELECT count(*) FROM element_relations WHERE source_id = '$HUB' AND kind = '${query#RELATIONS kind=}'")
            planned= walk= index= ratio=
        fi
        echo "| $name | $matches | $p50 | $p99 | $bad | $ours | $planned | $walk | $index | $ratio |"
    done <"$WORK/lists"
done
