#!/usr/bin/env bash
# Regenerates entity/src/generated from a freshly migrated PostgreSQL database, with the
# exact flags the README documents. `--check` regenerates into a temporary directory and
# fails if anything differs from what is committed.
set -euo pipefail
cd "$(dirname "$0")/.."

SERVER_URL=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
DB_NAME="lorebase_entities_$$"
BASE_URL=${SERVER_URL%/*}
DB_URL="$BASE_URL/$DB_NAME"
OUT=entity/src/generated
CHECK=0
[ "${1:-}" = "--check" ] && CHECK=1

psql "$SERVER_URL" -qc "CREATE DATABASE $DB_NAME" >/dev/null
trap 'psql "$SERVER_URL" -qc "DROP DATABASE IF EXISTS $DB_NAME" >/dev/null' EXIT

sea-orm-cli migrate -d ./migration -u "$DB_URL" up >/dev/null

target=$OUT
if [ "$CHECK" = 1 ]; then target=$(mktemp -d); fi
sea-orm-cli generate entity -u "$DB_URL" -o "$target" \
    --impl-active-model-behavior=false --banner-version off >/dev/null

if [ "$CHECK" = 1 ]; then
    if ! diff -ru "$OUT" "$target"; then
        echo "entity/src/generated differs from what sea-orm-cli generates: run scripts/regen-entities.sh" >&2
        exit 1
    fi
    echo "entities are up to date"
fi
