#!/usr/bin/env bash
# Throughput through nginx with 1, 2 and 3 Lorebase servers (scripts/cluster.sh: primary,
# streaming replica, pgbouncer, nginx), wrk on GET element and on a list of 50, and where
# the machine's CPU time went during each run. Also one run straight at a server (no nginx)
# as the baseline. About 2 minutes; figures on stdout, in bench/README.md's table's shape.
#
#   bench/cluster.sh                  # BENCH_DURATION=10 s per run, 32 connections
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
DURATION=${BENCH_DURATION:-10}
CONNECTIONS=${BENCH_CONNECTIONS:-32}
PORT_BASE=${CLUSTER_PORT_BASE:-18800}
DIR=${CLUSTER_DIR:-/var/tmp/lorebase-cluster}
WORK=$(mktemp -d)
trap 'timeout 120 scripts/cluster.sh down >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT

command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
[ -n "${LOREBASE_BINARY:-}" ] || timeout 1800 cargo build --release --bin lorebase

# Runs wrk for one URL; prints a table row: req/s, p50, p99, failures, and the cores each
# part of the cluster kept busy (bench/cpu_split.py), wrk's own, and the rest of the
# machine's (other work on it: builds, other people's tests).
measure() {
    local label=$1 url=$2 started ended
    python3 bench/cpu_split.py "$DIR" >"$WORK/before.json"
    started=$(date +%s.%N)
    TIMEFORMAT='%U %S'
    { time wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency -H "Authorization: Bearer $TOKEN" "$url" >"$WORK/wrk.txt"; } 2>"$WORK/wrk.time"
    ended=$(date +%s.%N)
    python3 bench/cpu_split.py "$DIR" >"$WORK/after.json"
    python3 - "$label" "$WORK" "$started" "$ended" <<'EOF'
import json, re, sys
label, work, started, ended = sys.argv[1:]
text = open(f"{work}/wrk.txt").read()
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
def latency(p):
    m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)", text, re.M)
    value, unit = float(m.group(1)), m.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
errors = re.search(r"Socket errors: (.*)", text)
before, after = json.load(open(f"{work}/before.json")), json.load(open(f"{work}/after.json"))
wall, hz = float(ended) - float(started), after["hz"]
cores = {k: (after[k] - before[k]) / hz / wall for k in ("lorebase", "nginx", "postgres", "pgbouncer")}
cores["wrk"] = sum(float(v) for v in open(f"{work}/wrk.time").read().split()) / wall
busy = (after["machine_busy"] - before["machine_busy"]) / hz / wall
cores["other"] = max(0.0, busy - sum(cores.values()))
cores["steal"] = (after["machine_steal"] - before["machine_steal"]) / hz / wall
split = ", ".join(f"{v:.2f}" for v in cores.values())
failures = int(non2xx.group(1)) if non2xx else 0
print(f"| {label} | {rps:,.0f} | {latency(50):.1f} | {latency(99):.1f} | "
      f"{failures}{' (' + errors.group(1) + ')' if errors else ''} | {split} |")
EOF
}

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores"
echo "| run | req/s | p50 ms | p99 ms | non-2xx | cores busy: lorebase, nginx, postgres, pgbouncer, wrk, other; stolen |"
echo "|---|---|---|---|---|---|"
for servers in 1 2 3; do
    BASE=$(CLUSTER_SERVERS=$servers timeout 300 scripts/cluster.sh up 2>/dev/null | tail -n 1)
    # A user, a world and an element to read; the element is on the replica before timing.
    TOKEN=$(curl -sf "$BASE/api/v1/auth/register" -H 'Content-Type: application/json' \
        -d "{\"email\":\"bench-$servers-$RANDOM@example.com\",\"password\":\"bench-password-42\",\"display_name\":\"Bench\"}" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
    WORLD=$(curl -sf "$BASE/api/v1/worlds" -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
        -d '{"name":"Bench"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
    for i in $(seq 1 60); do
        curl -sf -o "$WORK/element.json" "$BASE/api/v1/worlds/$WORLD/elements" -H "Authorization: Bearer $TOKEN" \
            -H 'Content-Type: application/json' -d "{\"kind\":\"character\",\"name\":\"Bench $i\",\"tags\":[\"b\"],\"attributes\":{\"level\":$i}}"
    done
    ELEMENT=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$WORK/element.json")
    sleep 1
    # Warm-up: every server's pools and caches.
    wrk -t2 -c"$CONNECTIONS" -d2s -H "Authorization: Bearer $TOKEN" "$BASE/api/v1/worlds/$WORLD/elements/$ELEMENT" >/dev/null
    if [ "$servers" = 1 ]; then
        measure "GET element, 1 server, no nginx" "http://127.0.0.1:$((PORT_BASE + 1))/api/v1/worlds/$WORLD/elements/$ELEMENT"
    fi
    measure "GET element, $servers server(s)" "$BASE/api/v1/worlds/$WORLD/elements/$ELEMENT"
    measure "list 50, $servers server(s)" "$BASE/api/v1/worlds/$WORLD/elements?limit=50"
    timeout 120 scripts/cluster.sh down >/dev/null 2>&1
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
