#!/usr/bin/env bash
# Regenerates the README's ER diagram (Mermaid, between the `erd:start` and `erd:end`
# markers) from a freshly migrated PostgreSQL database with `migrate erd`. `--check`
# fails if the README's diagram differs from the live schema's.
set -euo pipefail
cd "$(dirname "$0")/.."

SERVER_URL=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
DB_NAME="lorebase_erd_$$"
DB_URL="${SERVER_URL%/*}/$DB_NAME"
CHECK=0
[ "${1:-}" = "--check" ] && CHECK=1
WORK=$(mktemp -d)

psql "$SERVER_URL" -qc "CREATE DATABASE $DB_NAME" >/dev/null
trap 'psql "$SERVER_URL" -qc "DROP DATABASE IF EXISTS $DB_NAME" >/dev/null; rm -rf "$WORK"' EXIT

cargo run -q -p migration -- -u "$DB_URL" up >/dev/null
cargo run -q -p migration -- -u "$DB_URL" erd >"$WORK/diagram"

awk -v diagram="$WORK/diagram" '
    /<!-- erd:start -->/ {
        print; print "```mermaid"
        while ((getline line < diagram) > 0) print line
        print "```"; skipping = 1; next
    }
    /<!-- erd:end -->/ { skipping = 0 }
    !skipping { print }
' README.md >"$WORK/README.md"

if ! grep -q '<!-- erd:start -->' README.md; then
    echo "README.md has no <!-- erd:start --> marker" >&2
    exit 1
fi
if [ "$CHECK" = 1 ]; then
    if ! diff -u README.md "$WORK/README.md"; then
        echo "README.md's ER diagram differs from the migrated schema: run scripts/regen-erd.sh" >&2
        exit 1
    fi
    echo "the README's ER diagram is up to date"
else
    cp "$WORK/README.md" README.md
fi
