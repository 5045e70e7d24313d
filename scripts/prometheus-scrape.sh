#!/usr/bin/env bash
# Shows GET /metrics scraped by a real Prometheus server: installs Debian's `prometheus`
# package (as root, after `apt-get update`; its service is not started), runs Lorebase on
# a throwaway SQLite file with METRICS_TOKEN set, and a Prometheus of our own that scrapes
# it every second over loopback with that token. Passes when Prometheus reports the target
# up and answers queries for Lorebase's series. Bounded: about half a minute.
#   LOREBASE_BIN=path/to/lorebase  use that binary instead of building the release one
set -euo pipefail
cd "$(dirname "$0")/.."

APP_PORT=${PROMETHEUS_APP_PORT:-18790}
PROM_PORT=${PROMETHEUS_PORT:-19090}
TOKEN=prometheus-scrape-token-0123456789
BASE=http://127.0.0.1:$APP_PORT
PROM=http://127.0.0.1:$PROM_PORT

if ! command -v prometheus >/dev/null; then
    [ "$(id -u)" = 0 ] || { echo "prometheus-scrape: installing the package needs root" >&2; exit 1; }
    # The package's own service is not wanted (it would listen on :9090 for good): deny
    # service starts while it installs, as container builds do.
    policy_added=
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
        policy_added=1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
    [ -n "$policy_added" ] && rm -f /usr/sbin/policy-rc.d
fi
prometheus --version 2>&1 | head -n 1

if [ -z "${LOREBASE_BIN:-}" ]; then
    cargo build --release --bin lorebase
    LOREBASE_BIN=${CARGO_TARGET_DIR:-target}/release/lorebase
fi

WORK=$(mktemp -d)
chmod 755 "$WORK"
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

DATABASE_URL="sqlite://$WORK/lorebase.db?mode=rwc" \
JWT_SECRET="prometheus-run-secret-that-is-long-enough-0123" \
HOST=127.0.0.1 PORT=$APP_PORT RUST_LOG=warn LOREBASE_WORKERS=2 METRICS_TOKEN=$TOKEN \
    "$LOREBASE_BIN" serve >>"$WORK/lorebase.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do curl -sf "$BASE/readyz" >/dev/null && break; sleep 0.1; done
curl -sf "$BASE/readyz" >/dev/null || { cat "$WORK/lorebase.log"; exit 1; }
code=$(curl -s -o /dev/null -w '%{http_code}' "$BASE/metrics")
[ "$code" = 401 ] || { echo "FAIL: /metrics without the token answered $code"; exit 1; }
echo "ok: /metrics without the token answers 401"

# Some traffic to count: a registration, a failed login, a world.
curl -sf -o /dev/null "$BASE/api/v1/auth/register" -H 'content-type: application/json' \
    -d '{"email":"scrape@example.com","password":"a long and unusual passphrase 42"}'
curl -s -o /dev/null "$BASE/api/v1/auth/login" -H 'content-type: application/json' \
    -d '{"email":"scrape@example.com","password":"not the password at all"}'

cat >"$WORK/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: lorebase
    metrics_path: /metrics
    authorization:
      type: Bearer
      credentials: $TOKEN
    static_configs:
      - targets: ["127.0.0.1:$APP_PORT"]
EOF
prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/data" \
    --web.listen-address="127.0.0.1:$PROM_PORT" >>"$WORK/prometheus.log" 2>&1 &
PIDS+=($!)

query() { curl -sf -G "$PROM/api/v1/query" --data-urlencode "query=$1"; }
up=
for _ in $(seq 1 60); do
    if query 'up{job="lorebase"}' 2>/dev/null | python3 -c \
        "import json,sys; r=json.load(sys.stdin)['data']['result']; sys.exit(0 if r and r[0]['value'][1] == '1' else 1)" 2>/dev/null; then
        up=1; break
    fi
    sleep 0.5
done
if [ -z "$up" ]; then
    echo "FAIL: Prometheus never reported the target up"
    curl -s "$PROM/api/v1/targets" || true; echo
    tail -n 20 "$WORK/prometheus.log"
    exit 1
fi
curl -sf "$PROM/api/v1/targets" | python3 -c '
import json, sys
for t in json.load(sys.stdin)["data"]["activeTargets"]:
    print("ok: Prometheus target", t["scrapeUrl"], "health", t["health"], "last scrape", t["lastScrape"])'
failures=0
for q in 'lorebase_http_requests_total' 'lorebase_http_request_duration_seconds_bucket' \
         'lorebase_db_pool_connections' 'lorebase_login_failures_total' \
         'lorebase_webhook_deliveries_pending'; do
    n=$(query "$q" | python3 -c "import json,sys; print(len(json.load(sys.stdin)['data']['result']))")
    if [ "$n" -gt 0 ]; then echo "ok: $q: $n series"; else echo "FAIL: no series for $q"; failures=$((failures + 1)); fi
done
echo "--- a sample, as Prometheus stored it:"
query 'lorebase_http_requests_total{route="/api/v1/auth/register"}' | python3 -c '
import json, sys
for r in json.load(sys.stdin)["data"]["result"]:
    print(" ", r["metric"], "=", r["value"][1])'
echo "--- $failures failure(s)"
[ "$failures" = 0 ]
