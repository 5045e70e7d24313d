#!/usr/bin/env bash
# CPU per request, split between the server and PostgreSQL (issue 21: where a hot read's
# time goes). Seeds BENCH_ELEMENTS elements (default 20,000) once into the database
# lorebase_request_cpu, starts the release server, and runs wrk at BENCH_CLIENTS (4)
# connections for BENCH_DURATION (8) s on each endpoint named (get, list; default both),
# reading the CPU ticks of the server's process and of every PostgreSQL process from /proc
# before and after. With BENCH_PERF=1 it also records `perf record -a -g` of each run into
# $BENCH_PERF_DIR/<endpoint>.data (default /tmp) for `perf report --sort comm,dso`.
#
#   LOREBASE_BIN=target/release/lorebase bench/request_cpu.sh get list
#
# Bounded: BENCH_DURATION s of wrk per endpoint after a 3 s warm-up. Drop the database
# with `psql -c 'DROP DATABASE lorebase_request_cpu'` after the binary's schema changes.
set -euo pipefail
cd "$(dirname "$0")/.."

ELEMENTS=${BENCH_ELEMENTS:-20000}
DURATION=${BENCH_DURATION:-8}
CLIENTS=${BENCH_CLIENTS:-4}
PORT=${BENCH_PORT:-18799}
SERVER_URL=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
DB=lorebase_request_cpu
DB_URL=${SERVER_URL%/*}/$DB
PASSWORD="bench password that is long enough 42"
BIN=${LOREBASE_BIN:-${CARGO_TARGET_DIR:-target}/release/lorebase}
ENDPOINTS=("$@")
[ ${#ENDPOINTS[@]} -gt 0 ] || ENDPOINTS=(get list)

scripts/ensure-postgres.sh >/dev/null
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
[ -x "$BIN" ] || cargo build -q --release --bin lorebase
export DATABASE_URL=$DB_URL JWT_SECRET="bench-secret-that-is-long-enough-0123456789" RUST_LOG=warn
if [ -z "$(psql "$SERVER_URL" -Atc "SELECT 1 FROM pg_database WHERE datname = '$DB'")" ]; then
    psql "$SERVER_URL" -qc "CREATE DATABASE $DB"
    "$BIN" seed --worlds 1 --elements "$ELEMENTS" --relations $((ELEMENTS / 10)) \
        --owner-password "$PASSWORD" >/dev/null
    psql "$DB_URL" -qc "VACUUM ANALYZE"
fi

LOG=$(mktemp)
HOST=127.0.0.1 PORT=$PORT LOREBASE_WORKERS=2 "$BIN" serve >"$LOG" 2>&1 &
SERVER_PID=$!
trap 'kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; rm -f "$LOG"' EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.1; done
BASE=http://127.0.0.1:$PORT/api/v1
TOKEN=$(curl -sf "$BASE/auth/login" -H 'content-type: application/json' \
    -d "{\"email\":\"seed@lorebase.local\",\"password\":\"$PASSWORD\"}" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
WORLD=$(psql "$DB_URL" -Atc "SELECT id FROM worlds LIMIT 1")
ELEMENT=$(psql "$DB_URL" -Atc "SELECT id FROM world_elements WHERE world_id = '$WORLD' ORDER BY id OFFSET $((ELEMENTS / 2)) LIMIT 1")

# Ticks (1/100 s) used so far by the server and by PostgreSQL, as "server postgres".
ticks() {
    python3 - "$SERVER_PID" <<'PY'
import glob, sys
server, busy = int(sys.argv[1]), {"server": 0, "postgres": 0}
for path in glob.glob("/proc/[0-9]*/stat"):
    try:
        text = open(path).read()
    except OSError:
        continue
    name = text[text.index("(") + 1:text.rindex(")")]
    fields = text[text.rindex(")") + 2:].split()
    used = int(fields[11]) + int(fields[12])
    if int(path.split("/")[2]) == server:
        busy["server"] += used
    elif name.startswith("postgres"):
        busy["postgres"] += used
print(busy["server"], busy["postgres"])
PY
}

echo "| endpoint | req/s | p50 ms | p99 ms | server CPU µs/request | PostgreSQL CPU µs/request |"
echo "|---|---|---|---|---|---|"
for name in "${ENDPOINTS[@]}"; do
    case $name in
        get) url="$BASE/worlds/$WORLD/elements/$ELEMENT" ;;
        list) url="$BASE/worlds/$WORLD/elements?limit=50" ;;
        *) echo "request_cpu: unknown endpoint $name (get, list)" >&2; exit 2 ;;
    esac
    wrk -t2 -c"$CLIENTS" -d3s -H "Authorization: Bearer $TOKEN" "$url" >/dev/null
    perf_pid=
    if [ "${BENCH_PERF:-0}" = 1 ]; then
        perf record -q -F 999 -g -a -o "${BENCH_PERF_DIR:-/tmp}/$name.data" -- sleep "$DURATION" >/dev/null 2>&1 &
        perf_pid=$!
    fi
    before=$(ticks)
    out=$(wrk -t2 -c"$CLIENTS" -d"${DURATION}s" --latency -H "Authorization: Bearer $TOKEN" "$url")
    after=$(ticks)
    [ -z "$perf_pid" ] || wait "$perf_pid"
    python3 - "$name" "$before" "$after" "$DURATION" <<PY
import re, sys
name, before, after, duration = sys.argv[1], sys.argv[2].split(), sys.argv[3].split(), float(sys.argv[4])
text = """$out"""
def ms(label):
    v, unit = re.search(r"^\s*" + label + r"%\s+([\d.]+)(us|ms|s)\b", text, re.M).groups()
    return float(v) / 1000 if unit == "us" else float(v) * 1000 if unit == "s" else float(v)
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
per = lambda i: (int(after[i]) - int(before[i])) * 10_000 / (rps * duration)
print(f"| {name} | {rps:.0f} | {ms('50'):.2f} | {ms('99'):.2f} | {per(0):.0f} | {per(1):.0f} |")
PY
done
