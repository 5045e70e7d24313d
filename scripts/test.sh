#!/usr/bin/env bash
# The whole test suite, against PostgreSQL and SQLite. Extra arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/ensure-postgres.sh
export TEST_DATABASE_URL=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}

# Databases left behind by earlier runs (each test creates its own).
psql "$TEST_DATABASE_URL" -Atqc "SELECT datname FROM pg_database WHERE datname LIKE 'lorebase\_test\_%'" |
    while read -r db; do psql "$TEST_DATABASE_URL" -qc "DROP DATABASE IF EXISTS \"$db\"" >/dev/null || true; done

cargo test --workspace "$@"
