#!/usr/bin/env bash
# What the change log costs (issue 14), on PostgreSQL, with release builds, on loopback,
# every run bounded in time:
#   1. create-element and PATCH throughput with the log (this checkout) and without it, in
#      interleaved rounds. "Without it" is this checkout with bench/without-change-log.patch
#      applied (WorldWrite records nothing, and the write's own statement rides with the
#      counters instead), so the two differ by the log alone; BENCH_BASE_REV=<commit>
#      compares with an older commit instead (600d837 is the last one before the log, but
#      it also lacks everything built since: kinds, webhooks, search, mentions);
#   2. reading 1,000 changes from a feed of BENCH_CHANGES changes (default 1,000,000) at its
#      start, middle and end, against reading the whole feed;
#   3. the history of an element with BENCH_REVISIONS revisions (default 10,000): its first
#      page against a page next to its oldest revision.
# Prints markdown tables (medians over the rounds).
set -euo pipefail
cd "$(dirname "$0")/.."

BASE_REV=${BENCH_BASE_REV:-}
CHANGES=${BENCH_CHANGES:-1000000}
REVISIONS=${BENCH_REVISIONS:-10000}
DURATION=${BENCH_DURATION:-5}
ROUNDS=${BENCH_ROUNDS:-3}
CLIENTS=${BENCH_CLIENTS:-4}
SERVER_URL=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
TARGET_DIR=${CARGO_TARGET_DIR:-target}
WORK=$(mktemp -d)
PIDS=()
DBS=()
PASSWORD="bench password that is long enough 42"

scripts/ensure-postgres.sh >/dev/null
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }

cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
    for db in "${DBS[@]}"; do psql "$SERVER_URL" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true; done
    git worktree remove --force "$WORK/base" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

echo "## Building the release server without the log (${BASE_REV:-HEAD with bench/without-change-log.patch}) and at HEAD"
if [ -n "${BENCH_BASE_BIN:-}" ]; then
    cp "$BENCH_BASE_BIN" "$WORK/lorebase-base"   # a release build of the base made before
else
    git worktree add -q --detach "$WORK/base" "${BASE_REV:-HEAD}"
    [ -n "$BASE_REV" ] || git -C "$WORK/base" apply "$PWD/bench/without-change-log.patch"
    cargo build -q --release --bin lorebase --manifest-path "$WORK/base/Cargo.toml"
    cp "$TARGET_DIR/release/lorebase" "$WORK/lorebase-base"
fi
if [ -n "${BENCH_HEAD_BIN:-}" ]; then
    cp "$BENCH_HEAD_BIN" "$WORK/lorebase-head"   # a release build of this checkout made before
else
    cargo build -q --release --bin lorebase
    cp "$TARGET_DIR/release/lorebase" "$WORK/lorebase-head"
fi

# start NAME PORT: a fresh database and a server on it; prints nothing.
start() {
    local name=$1 port=$2 db="lorebase_bench_changes_${1}_$$"
    psql "$SERVER_URL" -qc "CREATE DATABASE $db"
    DBS+=("$db")
    DATABASE_URL=${SERVER_URL%/*}/$db JWT_SECRET="bench-secret-that-is-long-enough-0123456789" \
        RUST_LOG=warn HOST=127.0.0.1 PORT=$port LOREBASE_WORKERS=2 \
        "$WORK/lorebase-$name" serve >>"$WORK/$name.log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 1 200); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && return; sleep 0.1; done
    echo "bench: the $name server did not become ready" >&2; exit 1
}
json() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1], {"d": d}))' "$1"; }

# setup NAME PORT: a user, a world and one element; writes $WORK/NAME.env.
setup() {
    local name=$1 base="http://127.0.0.1:$2/api/v1" token world element
    token=$(curl -sf "$base/auth/register" -H 'content-type: application/json' \
        -d "{\"email\":\"bench-$name@example.com\",\"password\":\"$PASSWORD\"}" | json 'd["access_token"]')
    world=$(curl -sf "$base/worlds" -H "authorization: Bearer $token" -H 'content-type: application/json' \
        -d '{"name":"Bench"}' | json 'd["id"]')
    element=$(curl -sf "$base/worlds/$world/elements" -H "authorization: Bearer $token" \
        -H 'content-type: application/json' -d '{"kind":"item","name":"Patched"}' | json 'd["id"]')
    cat >"$WORK/$name.env" <<ENV
BASE=$base
TOKEN=$token
WORLD=$world
ELEMENT=$element
ENV
    cat >"$WORK/$name-post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $token"
wrk.body = '{"kind":"item","name":"Bench blade","attributes":{"weight":3,"runes":["ka","lo"]},"tags":["bench"]}'
LUA
    # Alternating values, so every PATCH changes something (one that changes nothing is
    # not a write).
    cat >"$WORK/$name-patch.lua" <<LUA
wrk.method = "PATCH"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $token"
counter = 0
request = function()
    counter = counter + 1
    return wrk.format(nil, nil, nil, '{"attributes":{"stats":{"hp":' .. counter .. '}}}')
end
LUA
}

# run_wrk LABEL ARGS...: appends "LABEL rps p50 p99 non2xx" to $WORK/results.
run_wrk() {
    local label=$1; shift
    wrk -t2 -c"$CLIENTS" -d"${DURATION}s" --latency "$@" >"$WORK/wrk.out" 2>&1
    python3 - "$label" "$WORK/wrk.out" >>"$WORK/results" <<'PY'
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

start base 18791
start head 18792
setup base 18791
setup head 18792

echo
echo "## Writes: $ROUNDS rounds x ${DURATION}s, $CLIENTS connections, base and head interleaved"
for round in $(seq 1 "$ROUNDS"); do
    for name in base head; do
        # shellcheck disable=SC1090
        source "$WORK/$name.env"
        run_wrk "$name-create" -s "$WORK/$name-post.lua" "$BASE/worlds/$WORLD/elements"
        run_wrk "$name-patch" -s "$WORK/$name-patch.lua" "$BASE/worlds/$WORLD/elements/$ELEMENT"
    done
done

# A feed of $CHANGES changes and an element with $REVISIONS revisions, written straight
# into the head server's database (as many writes would leave them), in a world of their own.
source "$WORK/head.env"
HEAD_DB=${SERVER_URL%/*}/${DBS[1]}
FEED_WORLD=$(curl -sf "$BASE/worlds" -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \
    -d '{"name":"Feed"}' | json 'd["id"]')
HISTORY_ELEMENT=$(curl -sf "$BASE/worlds/$FEED_WORLD/elements" -H "authorization: Bearer $TOKEN" \
    -H 'content-type: application/json' -d '{"kind":"character","name":"Much edited"}' | json 'd["id"]')
ACTOR=$(psql "$HEAD_DB" -Atc "SELECT id FROM users LIMIT 1")
echo
echo "## Writing $CHANGES changes and $REVISIONS revisions of one element"
psql "$HEAD_DB" -q <<SQL
INSERT INTO world_changes (world_id, seq, type, resource_id, version, actor_id, at, data)
SELECT '$FEED_WORLD', 1 + g, 'element.updated',
       ('01900000-0000-7000-8000-' || lpad(to_hex(g % 100000), 12, '0'))::uuid, 1 + g / 100000,
       '$ACTOR', now(),
       json_build_object('id', ('01900000-0000-7000-8000-' || lpad(to_hex(g % 100000), 12, '0'))::uuid,
           'world_id', '$FEED_WORLD', 'parent_id', null, 'kind', 'character', 'name', 'Element ' || g,
           'summary', 'A summary of element ' || g || ' that runs to a sentence or two.',
           'attributes', json_build_object('race', 'elf', 'stats', json_build_object('level', g % 50, 'str', g % 18)),
           'tags', json_build_array('hero', 'bench'), 'version', 1 + g / 100000,
           'created_by', '$ACTOR', 'created_at', now(), 'updated_at', now())
FROM generate_series(1, $CHANGES) g;
INSERT INTO world_changes (world_id, seq, type, resource_id, version, actor_id, at, data)
SELECT '$FEED_WORLD', 1 + $CHANGES + g, 'element.updated', '$HISTORY_ELEMENT', 1 + g, '$ACTOR', now(),
       json_build_object('id', '$HISTORY_ELEMENT', 'world_id', '$FEED_WORLD', 'parent_id', null,
           'kind', 'character', 'name', 'Much edited', 'summary', 'Revision ' || g,
           'attributes', json_build_object('revision', g, 'stats', json_build_object('level', g % 50)),
           'tags', json_build_array('hero'), 'version', 1 + g, 'created_by', '$ACTOR',
           'created_at', now(), 'updated_at', now())
FROM generate_series(1, $REVISIONS) g;
UPDATE worlds SET change_seq = 1 + $CHANGES + $REVISIONS WHERE id = '$FEED_WORLD';
VACUUM ANALYZE world_changes;
SQL
FEED="$BASE/worlds/$FEED_WORLD/changes"
HISTORY="$BASE/worlds/$FEED_WORLD/elements/$HISTORY_ELEMENT/history"
# The cursor of the page that ends 50 revisions above the oldest.
DEEP_CURSOR=$(python3 -c '
import base64, json, sys
seq, element = int(sys.argv[1]), sys.argv[2]
raw = json.dumps({"o": "history:-seq", "k": str(seq), "i": element}, separators=(",", ":"))
print(base64.urlsafe_b64encode(raw.encode()).decode().rstrip("="))' "$((CHANGES + 2 + 100))" "$HISTORY_ELEMENT")
AUTH=(-H "Authorization: Bearer $TOKEN")
for round in $(seq 1 "$ROUNDS"); do
    run_wrk "feed-start" "${AUTH[@]}" "$FEED?after=0&limit=1000"
    run_wrk "feed-middle" "${AUTH[@]}" "$FEED?after=$((CHANGES / 2))&limit=1000"
    run_wrk "feed-end" "${AUTH[@]}" "$FEED?after=$((CHANGES - 1000))&limit=1000"
    run_wrk "history-first" "${AUTH[@]}" "$HISTORY?limit=50"
    run_wrk "history-deep" "${AUTH[@]}" "$HISTORY?limit=50&cursor=$DEEP_CURSOR"
done
# The whole feed, page by page, as a tool catching up from 0 would read it.
WHOLE=$(python3 - "$FEED" "$TOKEN" <<'PY'
import json, sys, time, urllib.request
feed, token = sys.argv[1], sys.argv[2]
after, pages, start = 0, 0, time.time()
while True:
    req = urllib.request.Request(f"{feed}?after={after}&limit=1000", headers={"Authorization": f"Bearer {token}"})
    page = json.load(urllib.request.urlopen(req))
    after, pages = page["next_after"], pages + 1
    if not page["has_more"]:
        break
print(f"{time.time() - start:.1f} {pages} {after}")
PY
)

python3 - "$WORK/results" "$WHOLE" "$CHANGES" "$REVISIONS" <<'PY'
import statistics, sys
results, whole, changes, revisions = sys.argv[1], sys.argv[2].split(), int(sys.argv[3]), int(sys.argv[4])
runs = {}
for line in open(results):
    label, *values = line.split()
    runs.setdefault(label, []).append([float(v) for v in values])
med = statistics.median
def row(label):
    r = runs[label]
    return med(x[0] for x in r), med(x[1] for x in r), med(x[2] for x in r), int(sum(x[3] for x in r))
print("\n| writes | req/s without the log | p99 ms | req/s with the log | p99 ms | with/without |")
print("|---|---|---|---|---|---|")
for op in ["create", "patch"]:
    b, h = row(f"base-{op}"), row(f"head-{op}")
    ratios = [hh[0] / bb[0] for bb, hh in zip(runs[f"base-{op}"], runs[f"head-{op}"])]
    print(f"| {op} | {b[0]:.0f} | {b[2]:.2f} | {h[0]:.0f} | {h[2]:.2f} | {med(ratios):.1%} |")
print(f"\n| read | req/s | p50 ms | p99 ms | non-2xx |")
print("|---|---|---|---|---|")
for label, text in [("feed-start", f"1,000 changes after seq 0 of {changes:,}"),
                    ("feed-middle", f"1,000 changes after seq {changes // 2:,}"),
                    ("feed-end", f"1,000 changes after seq {changes - 1000:,}"),
                    ("history-first", f"history, first page of 50 of {revisions:,} revisions"),
                    ("history-deep", "history, the page next to the oldest revision")]:
    rps, p50, p99, bad = row(label)
    print(f"| {text} | {rps:.0f} | {p50:.2f} | {p99:.2f} | {bad} |")
secs, pages, last = whole
print(f"\n- reading the whole feed ({last} changes) from seq 0 in pages of 1,000: {float(secs):.1f} s, {pages} requests")
PY
for name in base head; do
    if grep -q ERROR "$WORK/$name.log"; then echo "- $name server logged errors:"; grep ERROR "$WORK/$name.log" | head -n 3 | cut -c1-300; fi
done
