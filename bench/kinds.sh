#!/usr/bin/env bash
# What typed kinds cost (issue 17), on PostgreSQL, with a release build, on loopback, every
# run bounded in time:
#   1. create-element throughput in a world whose `character` kind has a typical
#      10-property JSON Schema, against a world without one (same server, same body, the
#      two interleaved over BENCH_ROUNDS rounds of BENCH_DURATION s);
#   2. the violations list of a kind with BENCH_ELEMENTS elements (default 100,000, 1% of
#      them breaking the schema): its first page, and the whole list page by page.
# Prints markdown tables (medians over the rounds).
set -euo pipefail
cd "$(dirname "$0")/.."

ELEMENTS=${BENCH_ELEMENTS:-100000}
DURATION=${BENCH_DURATION:-5}
ROUNDS=${BENCH_ROUNDS:-3}
CLIENTS=${BENCH_CLIENTS:-4}
PORT=${BENCH_PORT:-18793}
SERVER_URL=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
TARGET_DIR=${CARGO_TARGET_DIR:-target}
DB=lorebase_bench_kinds_$$
DB_URL=${SERVER_URL%/*}/$DB
WORK=$(mktemp -d)
SERVER_PID=
PASSWORD="bench password that is long enough 42"

scripts/ensure-postgres.sh >/dev/null
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }

cleanup() {
    if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
    psql "$SERVER_URL" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

cargo build -q --release --bin lorebase
psql "$SERVER_URL" -qc "CREATE DATABASE $DB"
DATABASE_URL=$DB_URL JWT_SECRET="bench-secret-that-is-long-enough-0123456789" \
    RUST_LOG=warn HOST=127.0.0.1 PORT=$PORT LOREBASE_WORKERS=2 \
    "$TARGET_DIR/release/lorebase" serve >>"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 200); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null || { echo "bench: the server did not become ready" >&2; exit 1; }

BASE="http://127.0.0.1:$PORT/api/v1"
json() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1], {"d": d}))' "$1"; }
TOKEN=$(curl -sf "$BASE/auth/register" -H 'content-type: application/json' \
    -d "{\"email\":\"bench-kinds@example.com\",\"password\":\"$PASSWORD\"}" | json 'd["access_token"]')
AUTH=(-H "Authorization: Bearer $TOKEN" -H 'content-type: application/json')
world() { curl -sf "$BASE/worlds" "${AUTH[@]}" -d "{\"name\":\"$1\"}" | json 'd["id"]'; }
PLAIN=$(world Plain)
TYPED=$(world Typed)
VIOLATIONS_WORLD=$(world Violations)

# A typical schema: ten properties of the usual sorts, three of them required.
SCHEMA='{"type":"object","required":["race","level","alive"],"additionalProperties":false,"properties":{
 "race":{"enum":["elf","dwarf","human","orc","halfling"]},
 "level":{"type":"integer","minimum":1,"maximum":100},
 "alive":{"type":"boolean"},
 "title":{"type":"string","maxLength":80},
 "born":{"type":"integer"},
 "height_cm":{"type":"number","exclusiveMinimum":0},
 "eyes":{"type":"string","enum":["blue","green","brown","grey"]},
 "languages":{"type":"array","items":{"type":"string"},"maxItems":10,"uniqueItems":true},
 "stats":{"type":"object","properties":{"str":{"type":"integer"},"dex":{"type":"integer"}},"required":["str","dex"]},
 "motto":{"type":"string","pattern":"^[A-Z]"}}}'
for w in "$TYPED" "$VIOLATIONS_WORLD"; do
    curl -sf -X PUT "$BASE/worlds/$w/kinds/character" "${AUTH[@]}" -d "{\"schema\":$SCHEMA}" >/dev/null
done

BODY='{"kind":"character","name":"Bench hero","attributes":{"race":"elf","level":12,"alive":true,"title":"Warden of the Vale","born":-320,"height_cm":182.5,"eyes":"grey","languages":["sindarin","common"],"stats":{"str":14,"dex":17},"motto":"Ever watchful"}}'
# The body must be accepted by the schema, or the typed runs would measure 422s.
curl -sf "$BASE/worlds/$TYPED/elements" "${AUTH[@]}" -d "$BODY" >/dev/null
cat >"$WORK/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $TOKEN"
wrk.body = '$BODY'
LUA

# run_wrk LABEL URL: appends "LABEL rps p50 p99 non2xx" to $WORK/results.
run_wrk() {
    wrk -t2 -c"$CLIENTS" -d"${DURATION}s" --latency -s "$WORK/post.lua" "$2" >"$WORK/wrk.out" 2>&1
    python3 - "$1" "$WORK/wrk.out" >>"$WORK/results" <<'PY'
import re, sys
label, text = sys.argv[1], open(sys.argv[2]).read()
def ms(p):
    m = re.search(r"^\s*" + p + r"%\s+([\d.]+)(us|ms|s)\b", text, re.M)
    v, unit = float(m.group(1)), m.group(2)
    return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
print(label, f"{rps:.1f}", f"{ms('50'):.2f}", f"{ms('99'):.2f}", bad.group(1) if bad else 0)
PY
}

echo "## Create element: $ROUNDS rounds x ${DURATION}s, $CLIENTS connections, interleaved"
for round in $(seq 1 "$ROUNDS"); do
    run_wrk without-schema "$BASE/worlds/$PLAIN/elements"
    run_wrk with-schema "$BASE/worlds/$TYPED/elements"
done

echo "## Writing $ELEMENTS characters (1% breaking the schema) into one world"
psql "$DB_URL" -q <<SQL
INSERT INTO world_elements (id, world_id, kind, name, attributes, tags, version, created_at, updated_at)
SELECT gen_random_uuid(), '$VIOLATIONS_WORLD', 'character', 'Character ' || g,
       jsonb_build_object('race', 'elf', 'level', CASE WHEN g % 100 = 0 THEN 0 ELSE 1 + g % 100 END,
           'alive', true, 'title', 'Title ' || g, 'born', g, 'height_cm', 150 + g % 50,
           'eyes', 'grey', 'languages', jsonb_build_array('common'),
           'stats', jsonb_build_object('str', g % 18, 'dex', g % 19), 'motto', 'Motto ' || g),
       '[]'::jsonb, 1, now(), now()
FROM generate_series(1, $ELEMENTS) g;
UPDATE worlds SET element_count = element_count + $ELEMENTS WHERE id = '$VIOLATIONS_WORLD';
VACUUM ANALYZE world_elements;
SQL
VIOLATIONS=$(python3 - "$BASE/worlds/$VIOLATIONS_WORLD/kinds/character/violations" "$TOKEN" <<'PY'
import json, sys, time, urllib.request
url, token = sys.argv[1], sys.argv[2]
def get(cursor):
    full = f"{url}?limit=200" + (f"&cursor={cursor}" if cursor else "")
    req = urllib.request.Request(full, headers={"Authorization": f"Bearer {token}"})
    return json.load(urllib.request.urlopen(req))
firsts = []
for _ in range(5):
    start = time.time()
    get(None)
    firsts.append(time.time() - start)
firsts.sort()
start, cursor, pages, found = time.time(), None, 0, 0
while True:
    page = get(cursor)
    pages, found = pages + 1, found + len(page["items"])
    cursor = page["next_cursor"]
    if not cursor:
        break
print(f"{firsts[2] * 1000:.0f} {time.time() - start:.2f} {pages} {found}")
PY
)

python3 - "$WORK/results" "$VIOLATIONS" "$ELEMENTS" <<'PY'
import statistics, sys
results, (first_ms, whole_s, pages, found), elements = sys.argv[1], sys.argv[2].split(), int(sys.argv[3])
runs = {}
for line in open(results):
    label, rps, p50, p99, bad = line.split()
    runs.setdefault(label, []).append((float(rps), float(p50), float(p99), int(bad)))
print()
print("| create element | requests/s | p50 ms | p99 ms | non-2xx |")
print("|---|---|---|---|---|")
med = {}
for label in ["without-schema", "with-schema"]:
    rows = runs[label]
    med[label] = statistics.median(r[0] for r in rows)
    print(f"| {label} | {med[label]:.0f} | {statistics.median(r[1] for r in rows):.2f} | "
          f"{statistics.median(r[2] for r in rows):.2f} | {sum(r[3] for r in rows)} |")
print(f"\nwith a 10-property schema: {100 * med['with-schema'] / med['without-schema']:.1f}% of the throughput without one")
print()
print(f"| violations of a kind with {elements} elements | |")
print("|---|---|")
print(f"| first page (limit 200), median of 5 | {first_ms} ms |")
print(f"| whole list, page by page (limit 200) | {whole_s} s, {pages} pages, {found} violations |")
PY
