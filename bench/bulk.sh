#!/usr/bin/env bash
# Bulk work (issue 16), on PostgreSQL, with a release build, on loopback, bounded in time:
#   1. 1,000 element creates as one batch against 1,000 single POSTs over one kept-alive
#      connection (BENCH_BATCH_ROUNDS rounds, medians);
#   2. exporting a seeded world of BENCH_ELEMENTS elements (default 1,000,000) against
#      `psql \copy (SELECT ...) TO` of the same rows and columns (world, kinds, elements,
#      relations, in one psql session), alternately, BENCH_EXPORT_ROUNDS times (medians),
#      and importing that export against `lorebase seed` of the same count, sampling the
#      server's RSS from /proc meanwhile.
# Prints markdown tables. BENCH_BATCH_ROUNDS=0 skips step 1, BENCH_IMPORT=0 the import.
set -euo pipefail
cd "$(dirname "$0")/.."

ELEMENTS=${BENCH_ELEMENTS:-1000000}
RELATIONS=${BENCH_RELATIONS:-$((ELEMENTS / 10))}
BATCH_ROUNDS=${BENCH_BATCH_ROUNDS:-3}
EXPORT_ROUNDS=${BENCH_EXPORT_ROUNDS:-3}
PORT=${BENCH_PORT:-18791}
SERVER_URL=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
DB=lorebase_bench_bulk_$$
DB_URL=${SERVER_URL%/*}/$DB
TARGET_DIR=${CARGO_TARGET_DIR:-target}
PASSWORD="bench password that is long enough 42"
OWNER=seed@lorebase.local
WORK=$(mktemp -d)
SERVER_PID=
SAMPLER_PID=

cleanup() {
    [ -n "$SAMPLER_PID" ] && kill "$SAMPLER_PID" 2>/dev/null || true
    [ -n "$SERVER_PID" ] && { kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; }
    psql "$SERVER_URL" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

scripts/ensure-postgres.sh >/dev/null
# LOREBASE_BIN: a lorebase binary built before (skips the release build).
if [ -n "${LOREBASE_BIN:-}" ]; then
    LOREBASE=$LOREBASE_BIN
else
    cargo build -q --release --bin lorebase
    LOREBASE=$TARGET_DIR/release/lorebase
fi
export DATABASE_URL=$DB_URL JWT_SECRET="bench-secret-that-is-long-enough-0123456789" RUST_LOG=warn
elapsed() { python3 -c "import time; print(f'{time.time() - $1:.3f}')"; }
now() { python3 -c 'import time; print(time.time())'; }

psql "$SERVER_URL" -qc "CREATE DATABASE $DB"
echo "## Seeding $ELEMENTS elements and $RELATIONS relations (lorebase seed)"
timeout 1800 "$LOREBASE" seed --worlds 1 --elements "$ELEMENTS" --relations "$RELATIONS" \
    --owner-email "$OWNER" --owner-password "$PASSWORD" | tee "$WORK/seed.txt"
SEED_SECS=$(awk '$1 == "total" {print $4}' "$WORK/seed.txt")
WORLD=$(psql "$DB_URL" -Atc "SELECT id FROM worlds")
psql "$DB_URL" -qc "VACUUM ANALYZE"

HOST=127.0.0.1 PORT=$PORT LOREBASE_WORKERS=2 IMPORT_MAX_BYTES=17179869184 \
    "$LOREBASE" serve >>"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.1; done
BASE=http://127.0.0.1:$PORT
TOKEN=$(curl -sf "$BASE/api/v1/auth/login" -H 'content-type: application/json' \
    -d "{\"email\":\"$OWNER\",\"password\":\"$PASSWORD\"}" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')

if [ "$BATCH_ROUNDS" -gt 0 ]; then
echo
echo "## 1,000 creates: one batch against single POSTs on one kept-alive connection"
python3 - "$PORT" "$TOKEN" "$BATCH_ROUNDS" <<'PY'
import http.client, json, statistics, sys, time
port, token, rounds = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
conn = http.client.HTTPConnection("127.0.0.1", port)
headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
def call(method, path, body):
    conn.request(method, path, json.dumps(body), headers)
    response = conn.getresponse()
    data = response.read()
    assert response.status < 300, (response.status, data[:300])
    return json.loads(data)
singles, batches = [], []
for r in range(rounds):
    world = call("POST", "/api/v1/worlds", {"name": f"bench {r}"})["id"]
    bodies = [{"kind": "character", "name": f"C{i}", "attributes": {"level": i}} for i in range(1000)]
    start = time.perf_counter()
    for body in bodies:
        call("POST", f"/api/v1/worlds/{world}/elements", body)
    singles.append(time.perf_counter() - start)
    ops = [{"op": "create_element", "body": b} for b in bodies]
    start = time.perf_counter()
    call("POST", f"/api/v1/worlds/{world}/batch", {"operations": ops})
    batches.append(time.perf_counter() - start)
single, batch = statistics.median(singles), statistics.median(batches)
print("| 1,000 creates | seconds (median of %d) | creates/s |" % rounds)
print("|---|---|---|")
print(f"| single POSTs, kept alive | {single:.3f} | {1000 / single:.0f} |")
print(f"| one batch | {batch:.3f} | {1000 / batch:.0f} |")
print(f"\nbatch speed-up: {single / batch:.1f}x")
print("rounds (single s, batch s, speed-up): " + ", ".join(f"({s:.3f}, {b:.3f}, {s / b:.1f}x)" for s, b in zip(singles, batches)))
PY
fi

# sample_rss FILE: the server's resident set (KiB) every 100 ms into FILE.
sample_rss() {
    while kill -0 "$SERVER_PID" 2>/dev/null; do
        awk '/^VmRSS/ {print $2}' "/proc/$SERVER_PID/status" >>"$1" 2>/dev/null || true
        sleep 0.1
    done
}
peak_mib() { sort -n "$1" | awk '{v = $1} END {printf "%.1f", v / 1024}'; }
rss_before() { awk '/^VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$SERVER_PID/status"; }

echo
echo "## Export and import of $ELEMENTS elements and $RELATIONS relations"
IDLE_RSS=$(rss_before)
# The same rows and columns as the export writes, in one psql session (one connection,
# as the export's one request).
cat >"$WORK/copy.sql" <<SQL
\\copy (SELECT name, description, settings, visibility FROM worlds WHERE id = '$WORLD') TO '$WORK/copy-world.txt'
\\copy (SELECT kind, description, schema FROM element_kinds WHERE world_id = '$WORLD') TO '$WORK/copy-kinds.txt'
\\copy (SELECT id, parent_id, kind, name, summary, attributes, tags, created_at, updated_at FROM world_elements WHERE world_id = '$WORLD') TO '$WORK/copy-elements.txt'
\\copy (SELECT id, source_id, target_id, kind, attributes, created_at, updated_at FROM element_relations WHERE world_id = '$WORLD') TO '$WORK/copy-relations.txt'
SQL
sample_rss "$WORK/export.rss" & SAMPLER_PID=$!
EXPORT_TIMES=()
COPY_TIMES=()
for _ in $(seq 1 "$EXPORT_ROUNDS"); do
    START=$(now)
    timeout 1800 curl -sf "$BASE/api/v1/worlds/$WORLD/export" -H "Authorization: Bearer $TOKEN" -o "$WORK/export.ndjson"
    EXPORT_TIMES+=("$(elapsed "$START")")
    START=$(now)
    psql "$DB_URL" -q -v ON_ERROR_STOP=1 -f "$WORK/copy.sql"
    COPY_TIMES+=("$(elapsed "$START")")
    rm -f "$WORK"/copy-*.txt
done
kill "$SAMPLER_PID"; SAMPLER_PID=
median() { printf '%s\n' "$@" | sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
echo "export seconds: ${EXPORT_TIMES[*]}; psql \\copy seconds: ${COPY_TIMES[*]}"
EXPORT_SECS=$(median "${EXPORT_TIMES[@]}")
COPY_SECS=$(median "${COPY_TIMES[@]}")
EXPORT_BYTES=$(stat -c %s "$WORK/export.ndjson")

IMPORT_SECS=0
touch "$WORK/import.rss"
if [ "${BENCH_IMPORT:-1}" = 1 ]; then
    sample_rss "$WORK/import.rss" & SAMPLER_PID=$!
    START=$(now)
    timeout 3600 curl -sf "$BASE/api/v1/worlds/import" -H "Authorization: Bearer $TOKEN" \
        -H 'content-type: application/x-ndjson' --data-binary "@$WORK/export.ndjson" -o "$WORK/imported.json"
    IMPORT_SECS=$(elapsed "$START")
    kill "$SAMPLER_PID"; SAMPLER_PID=
fi

python3 - "$EXPORT_SECS" "$COPY_SECS" "$IMPORT_SECS" "$SEED_SECS" "$IDLE_RSS" \
    "$(peak_mib "$WORK/export.rss")" "$(peak_mib "$WORK/import.rss")" "$EXPORT_BYTES" "$ELEMENTS" <<'PY'
import sys
export, copy, imp, seed = map(float, sys.argv[1:5])
idle, export_rss, import_rss = map(float, sys.argv[5:8])
size, elements = int(sys.argv[8]), int(sys.argv[9])
print("| step | seconds | compared with | ratio | server peak RSS (MiB) |")
print("|---|---|---|---|---|")
print(f"| export ({size / 2**20:.0f} MiB NDJSON), median | {export:.2f} | psql \\copy (SELECT ...) TO, median: {copy:.2f} s | {export / copy:.2f}x | {export_rss} |")
print(f"| import | {imp:.2f} | lorebase seed: {seed:.2f} s | {imp / seed:.2f}x | {import_rss} |")
print(f"\nserver RSS when idle: {idle} MiB; {elements} elements")
PY
