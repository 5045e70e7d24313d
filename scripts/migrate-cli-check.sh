#!/usr/bin/env bash
# Drives the migration crate through `sea-orm-cli migrate` exactly as the README shows,
# on a fresh PostgreSQL database and a fresh SQLite file.
set -euo pipefail
cd "$(dirname "$0")/.."

SERVER_URL=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
DB_NAME="lorebase_cli_$$"
PG_URL="${SERVER_URL%/*}/$DB_NAME"
SQLITE_DIR=$(mktemp -d)
SQLITE_URL="sqlite://$SQLITE_DIR/cli.db?mode=rwc"

psql "$SERVER_URL" -qc "CREATE DATABASE $DB_NAME" >/dev/null
trap 'psql "$SERVER_URL" -qc "DROP DATABASE IF EXISTS $DB_NAME" >/dev/null; rm -rf "$SQLITE_DIR"' EXIT

for url in "$PG_URL" "$SQLITE_URL"; do
    echo "--- ${url%%:*}"
    sea-orm-cli migrate -d ./migration -u "$url" up
    sea-orm-cli migrate -d ./migration -u "$url" status 2>&1 | tee /tmp/lorebase-migrate-status.$$
    if grep -q Pending /tmp/lorebase-migrate-status.$$; then echo "pending revisions after up" >&2; exit 1; fi
    sea-orm-cli migrate -d ./migration -u "$url" down -n 2
    sea-orm-cli migrate -d ./migration -u "$url" fresh
    sea-orm-cli migrate -d ./migration -u "$url" refresh
    sea-orm-cli migrate -d ./migration -u "$url" reset
    sea-orm-cli migrate -d ./migration -u "$url" up
done
echo "--- check: the entities against the database sea-orm-cli just migrated"
cargo run -q -p migration -- -u "$PG_URL" check
rm -f /tmp/lorebase-migrate-status.$$
echo "sea-orm-cli migrate: up, status, down, fresh, refresh, reset work on PostgreSQL and SQLite; check is clean"
