#!/usr/bin/env bash
# Export and import round trip (issue 16), on a throwaway PostgreSQL database: seeds a
# world of ROUNDTRIP_ELEMENTS elements (default 100,000) with `lorebase seed`, exports it,
# imports the export as a new world, exports that, and checks that the two exports are
# equal but for ids and `exported_at` (scripts/export-compare.py). Bounded in time.
set -euo pipefail
cd "$(dirname "$0")/.."

ELEMENTS=${ROUNDTRIP_ELEMENTS:-100000}
RELATIONS=${ROUNDTRIP_RELATIONS:-$((ELEMENTS / 10))}
SERVER_URL=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
DB=lorebase_roundtrip_$$
DB_URL=${SERVER_URL%/*}/$DB
TARGET_DIR=${CARGO_TARGET_DIR:-target}
WORK=$(mktemp -d)
OWNER=seed@lorebase.local

cleanup() {
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
export DATABASE_URL=$DB_URL JWT_SECRET="roundtrip-secret-that-is-long-enough-0123456789" RUST_LOG=warn

psql "$SERVER_URL" -qc "CREATE DATABASE $DB"
timeout 300 "$LOREBASE" seed --worlds 1 --elements "$ELEMENTS" --relations "$RELATIONS" \
    --owner-email "$OWNER" >/dev/null
FIRST=$(psql "$DB_URL" -Atc "SELECT id FROM worlds")
timeout 300 "$LOREBASE" export --world "$FIRST" --out "$WORK/first.ndjson"
timeout 1200 "$LOREBASE" import "$WORK/first.ndjson" --owner "$OWNER"
SECOND=$(psql "$DB_URL" -Atc "SELECT id FROM worlds WHERE id <> '$FIRST'")
timeout 300 "$LOREBASE" export --world "$SECOND" --out "$WORK/second.ndjson"
COUNTS=$(psql "$DB_URL" -Atc "SELECT string_agg(element_count::text, ' ') FROM worlds")
echo "element_count of the two worlds: $COUNTS"
timeout 300 python3 scripts/export-compare.py "$WORK/first.ndjson" "$WORK/second.ndjson"
