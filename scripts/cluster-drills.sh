#!/usr/bin/env bash
# Fault drills on the loopback cluster (scripts/cluster.sh), each under load from
# scripts/cluster-load.py through nginx. Prints what it saw; exits non-zero on a failure.
#
#   1. One Lorebase server killed (SIGKILL) under writes and reads: every acknowledged
#      create is in the database, no read fails (nginx retries GETs), and nginx sends the
#      dead server nothing from one second after the kill on.
#   2. The replica stopped under reads (half of them with a consistency token): every read
#      and write succeeds (the servers fall back to the primary); once it is back, the
#      servers read from it again.
#   3. pgbouncer restarted (down for a second) under writes and reads: clients see 2xx or
#      503 with Retry-After, never a 500, and every acknowledged create is kept.
#
# Needs the release binary (built here) and root or the postgres OS user, like cluster.sh.
# Bounded: about a minute and a half on a warm build.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
DIR=${CLUSTER_DIR:-/var/tmp/lorebase-cluster}
PORT_BASE=${CLUSTER_PORT_BASE:-18800}
PG_PORT_BASE=${CLUSTER_PG_PORT_BASE:-56432}
LOAD_SECONDS=${DRILL_LOAD_SECONDS:-8}
WORK=$(mktemp -d)
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
ok() { echo "ok: $*"; }

cleanup() {
    [ "${CLUSTER_KEEP:-0}" = 1 ] || timeout 120 scripts/cluster.sh down >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

# LOREBASE_BINARY (as cluster.sh takes it) skips the build.
[ -n "${LOREBASE_BINARY:-}" ] || timeout 900 cargo build --release --bin lorebase
BASE=$(timeout 300 scripts/cluster.sh up | tail -n 1)
echo "cluster at $BASE"

psql_primary() {
    runuser -u postgres -- /usr/lib/postgresql/15/bin/psql -h 127.0.0.1 -p "$PG_PORT_BASE" \
        -U postgres -d lorebase -At "$@"
}

# Starts the load in the background and waits until it runs: LOAD_PID, result in $WORK/$1.json.
start_load() {
    local name=$1
    shift
    rm -f "$WORK/$name.ready"
    timeout $((LOAD_SECONDS + 60)) python3 scripts/cluster-load.py "$BASE" --seconds "$LOAD_SECONDS" \
        --ready-file "$WORK/$name.ready" --out "$WORK/$name.json" "$@" &
    LOAD_PID=$!
    for _ in $(seq 1 300); do
        [ -f "$WORK/$name.ready" ] && return 0
        kill -0 "$LOAD_PID" 2>/dev/null || { wait "$LOAD_PID" || true; fail "$name: the load did not start"; return 1; }
        sleep 0.1
    done
    fail "$name: the load did not start in 30 s"
    return 1
}

# Prints the acknowledged creates of a load missing from the database (0 is good) and
# how many rows were created without an acknowledgement.
check_writes() {
    local name=$1 world
    world=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["world"])' "$WORK/$name.json")
    psql_primary -c "SELECT id FROM world_elements WHERE world_id = '$world'" >"$WORK/$name.rows"
    python3 - "$WORK/$name.json" "$WORK/$name.rows" <<'EOF'
import json, sys
result = json.load(open(sys.argv[1]))
rows = set(open(sys.argv[2]).read().split())
acked = set(result["acknowledged"])
failed = sum(n for k, n in result["statuses"].items()
             if k.startswith("create:") and not k.startswith("create:2") or k == "error:create")
print(f"{len(acked - rows)} {len(rows - acked) - 1} {len(acked)} {failed}")
EOF
}

statuses() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["statuses"])' "$WORK/$1.json"; }

count_statuses() {
    # $1: load name; $2: a Python predicate on (kind, status) keys such as "get:200".
    python3 - "$WORK/$1.json" "$2" <<'EOF'
import json, sys
statuses = json.load(open(sys.argv[1]))["statuses"]
predicate = eval("lambda key: " + sys.argv[2])
print(sum(n for key, n in statuses.items() if predicate(key)))
EOF
}

echo
echo "=== 1. kill one Lorebase server under load"
start_load kill --writers 4 --readers 4
sleep 2
killed_at=$(scripts/cluster.sh kill-server 2)
wait "$LOAD_PID"
sleep 1.5 # nginx flushes its access log every second
echo "statuses: $(statuses kill)"
read -r lost unacked acked failed <<<"$(check_writes kill)"
if [ "$lost" = 0 ]; then
    ok "all $acked acknowledged creates are in the database ($failed creates failed in flight; $unacked of those were written anyway)"
else
    fail "$lost acknowledged creates are missing"
fi
failed_reads=$(count_statuses kill "key.split(':')[0] in ('get', 'list', 'error') and not key.startswith('error:create') and not key.split(':')[-1].startswith('2')")
[ "$failed_reads" = 0 ] && ok "no read failed (nginx retried the ones the dead server dropped)" ||
    fail "$failed_reads reads failed"
# From nginx's log: requests that tried the dead server, by when they began (the log has
# when each ended and how long it took): in flight at the kill, begun within a second
# after it, or later.
read -r in_flight first later <<<"$(python3 - "$DIR/nginx/logs/access.log" "$killed_at" "127.0.0.1:$((PORT_BASE + 2))" <<'EOF'
import sys
log, killed_at, dead = sys.argv[1], float(sys.argv[2]), sys.argv[3]
in_flight = first = later = 0
for line in open(log):
    parts = line.split(" ")
    began = float(parts[0]) - float(parts[-1])
    if float(parts[0]) < killed_at or dead not in line:
        continue
    if began < killed_at:
        in_flight += 1
    elif began <= killed_at + 1:
        first += 1
    else:
        later += 1
print(in_flight, first, later)
EOF
)"
if [ "$later" = 0 ]; then
    ok "nginx stopped sending to the dead server within a second: $in_flight requests were in flight on it, $first more tried it in the first second (retried elsewhere), none after"
else
    fail "nginx still sent $later requests to the dead server more than a second after the kill"
fi
scripts/cluster.sh start-server 2

echo
echo "=== 2. stop the replica under reads"
start_load replica --writers 1 --readers 6 --token-reads
sleep 2
scripts/cluster.sh stop-replica
wait "$LOAD_PID"
echo "statuses: $(statuses replica)"
not_ok=$(count_statuses replica "not key.split(':')[-1].startswith('2')")
[ "$not_ok" = 0 ] && ok "every read and write succeeded while the replica was down (served by the primary)" ||
    fail "$not_ok requests failed while the replica was down"
replica_reads() {
    local total=0 n value
    for n in 1 2 3; do
        value=$(curl -sf "http://127.0.0.1:$((PORT_BASE + n))/metrics" |
            awk '/^lorebase_reads_total\{/ && /target="replica"/ { sum += $NF } END { print sum + 0 }')
        total=$(python3 -c "print($total + ${value:-0})")
    done
    echo "$total"
}
scripts/cluster.sh start-replica
sleep 1.5 # past the servers' one-second back-off
before=$(replica_reads)
world=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["world"])' "$WORK/replica.json")
for _ in $(seq 1 30); do curl -s -o /dev/null "$BASE/api/v1/worlds/$world" || true; done
after=$(replica_reads)
if python3 -c "import sys; sys.exit(0 if $after > $before else 1)"; then
    ok "with the replica back, reads are served by it again ($before → $after replica reads)"
else
    fail "reads did not return to the replica ($before → $after)"
fi

echo
echo "=== 3. restart pgbouncer under load"
start_load pgbouncer --writers 4 --readers 4
sleep 2
PGBOUNCER_DOWN_SECS=1 scripts/cluster.sh restart-pgbouncer
wait "$LOAD_PID"
echo "statuses: $(statuses pgbouncer)"
server_errors=$(count_statuses pgbouncer "not key.split(':')[-1][0] in '2' and not key.endswith(':503')")
unavailable=$(count_statuses pgbouncer "key.endswith(':503')")
missing=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["missing_retry_after"])' "$WORK/pgbouncer.json")
[ "$server_errors" = 0 ] && ok "no answer but 2xx and 503 (no 500, no 502)" || fail "$server_errors answers were neither 2xx nor 503"
if [ "$unavailable" -gt 0 ] && [ "$missing" = 0 ]; then
    ok "$unavailable answers were 503, every one with Retry-After"
elif [ "$unavailable" = 0 ]; then
    fail "no 503 at all: the restart did not bite, the drill proved nothing"
else
    fail "$missing 503s came without Retry-After"
fi
recovered=$(python3 - "$WORK/pgbouncer.json" "$LOAD_SECONDS" <<'EOF'
import json, sys
result, seconds = json.load(open(sys.argv[1])), float(sys.argv[2])
print(sum(1 for at, kind, status in result["timeline"]
          if at > seconds - 2 and kind == "create" and status and 200 <= status < 300))
EOF
)
[ "$recovered" -gt 0 ] && ok "writes succeed again after the restart ($recovered creates in the last 2 s)" ||
    fail "no write succeeded in the last 2 s of the load"
read -r lost unacked acked failed <<<"$(check_writes pgbouncer)"
[ "$lost" = 0 ] && ok "all $acked acknowledged creates are in the database" || fail "$lost acknowledged creates are missing"

echo
if [ "$failures" = 0 ]; then
    echo "cluster drills: 3 passed, 0 failed"
else
    echo "cluster drills: $failures checks failed"
    exit 1
fi
