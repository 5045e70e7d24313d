#!/usr/bin/env bash
# Verifies real webhook deliveries with the Standard Webhooks reference library
# (`standardwebhooks` from PyPI, in a venv): starts the server on a SQLite file with a
# receiver on loopback, makes changes, and checks every captured delivery's signature, its
# webhook-id (<world_id>:<seq>, in seq order) and that a tampered body fails. Bounded: every
# wait gives up after 30 s.
#   WEBHOOKS_VERIFY_PROFILE=debug uses the debug build instead of the release one.
set -euo pipefail
cd "$(dirname "$0")/.."

PROFILE=${WEBHOOKS_VERIFY_PROFILE:-release}
APP_PORT=${WEBHOOKS_VERIFY_PORT:-18791}
TARGET_DIR=${CARGO_TARGET_DIR:-target}
VENV=${WEBHOOKS_VERIFY_VENV:-${CARGO_TARGET_DIR:-/var/tmp}/standardwebhooks-venv}
BASE=http://127.0.0.1:$APP_PORT

if [ ! -x "$VENV/bin/python" ]; then python3 -m venv "$VENV"; fi
"$VENV/bin/pip" install -q --disable-pip-version-check standardwebhooks
echo "standardwebhooks $("$VENV/bin/pip" show standardwebhooks | sed -n 's/^Version: //p') from PyPI"

if [ "$PROFILE" = release ]; then cargo build -q --release --bin lorebase; else cargo build -q --bin lorebase; fi
BIN=$TARGET_DIR/$PROFILE/lorebase

WORK=$(mktemp -d)
PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

python3 scripts/webhook-receiver.py --port-file "$WORK/port" --log "$WORK/deliveries.jsonl" &
PIDS+=($!)
for _ in $(seq 1 50); do [ -s "$WORK/port" ] && break; sleep 0.1; done
RECEIVER=http://127.0.0.1:$(cat "$WORK/port")/hook

DATABASE_URL="sqlite://$WORK/lorebase.db?mode=rwc" \
JWT_SECRET="webhooks-verify-secret-that-is-long-enough-0123456789" \
HOST=127.0.0.1 PORT=$APP_PORT RUST_LOG=warn LOREBASE_WORKERS=1 \
WEBHOOKS_ALLOW_PRIVATE_TARGETS=true \
    "$BIN" serve >"$WORK/server.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 300); do curl -sf "$BASE/readyz" >/dev/null && break; sleep 0.1; done
curl -sf "$BASE/readyz" >/dev/null || { cat "$WORK/server.log"; echo "server did not start" >&2; exit 1; }

json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
J='content-type: application/json'
TOKEN=$(curl -sf "$BASE/api/v1/auth/register" -H "$J" \
    -d '{"email":"verify@example.com","password":"a long and unusual passphrase 42"}' | json '["access_token"]')
H="authorization: Bearer $TOKEN"
WORLD=$(curl -sf "$BASE/api/v1/worlds" -H "$H" -H "$J" -d '{"name":"Signed"}' | json '["id"]')
SECRET=$(curl -sf "$BASE/api/v1/worlds/$WORLD/webhooks" -H "$H" -H "$J" \
    -d "{\"url\":\"$RECEIVER\",\"events\":[\"*\"]}" | json '["secret"]')
ADA=$(curl -sf "$BASE/api/v1/worlds/$WORLD/elements" -H "$H" -H "$J" \
    -d '{"kind":"person","name":"Ada","summary":"Ünïcode ✓ and \"quotes\"","attributes":{"n":12345678901234567890}}' | json '["id"]')
curl -sf -X PATCH "$BASE/api/v1/worlds/$WORLD/elements/$ADA" -H "$H" -H "$J" -d '{"name":"Ada L."}' >/dev/null
curl -sf -X PATCH "$BASE/api/v1/worlds/$WORLD" -H "$H" -H "$J" -d '{"name":"Signed!"}' >/dev/null
curl -sf -X DELETE "$BASE/api/v1/worlds/$WORLD/elements/$ADA" -H "$H" >/dev/null
EXPECTED=4

for _ in $(seq 1 300); do
    [ -f "$WORK/deliveries.jsonl" ] && [ "$(wc -l <"$WORK/deliveries.jsonl")" -ge "$EXPECTED" ] && break
    sleep 0.1
done

"$VENV/bin/python" - "$WORK/deliveries.jsonl" "$SECRET" "$WORLD" "$EXPECTED" <<'PY'
import json, sys
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

path, secret, world, expected = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
deliveries = [json.loads(line) for line in open(path)]
assert len(deliveries) == expected, f"{len(deliveries)} deliveries, expected {expected}"
wh = Webhook(secret)
seqs = []
for d in deliveries:
    payload = wh.verify(d["body"], d["headers"])  # raises if the signature is wrong
    wid = d["headers"]["webhook-id"]
    assert wid == f"{world}:{payload['seq']}", wid
    seqs.append(payload["seq"])
    try:
        wh.verify(d["body"].replace('"seq"', '"seq" ', 1), d["headers"])
    except WebhookVerificationError:
        pass
    else:
        raise SystemExit("a tampered body verified")
    print(f"ok: {wid} {payload['type']} verified by standardwebhooks")
assert seqs == list(range(1, expected + 1)), seqs
print(f"ok: {expected} deliveries signed as Standard Webhooks says, in seq order; tampered bodies fail")
PY
