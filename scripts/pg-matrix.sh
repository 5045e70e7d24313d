#!/usr/bin/env bash
# The test suite against several PostgreSQL major versions, each on a throwaway cluster of
# real server binaries (scripts/pg-install.sh, scripts/pg-throwaway.sh); `system` is the
# server at 127.0.0.1:5432 (scripts/ensure-postgres.sh). Prints one line per version and
# exits non-zero if any failed.
#
#   scripts/pg-matrix.sh 16 17 18                       # the whole suite (scripts/test.sh) on each
#   scripts/pg-matrix.sh 16 18 -- --test api -- --skip autogenerate::   # arguments for cargo test
set -euo pipefail
cd "$(dirname "$0")/.."

VERSIONS=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do VERSIONS+=("$1"); shift; done
[ "${1:-}" = "--" ] && shift
[ ${#VERSIONS[@]} -gt 0 ] || { echo "usage: scripts/pg-matrix.sh MAJOR|system... [-- CARGO_TEST_ARGS]" >&2; exit 2; }

STARTED=()
cleanup() { for port in "${STARTED[@]}"; do scripts/pg-throwaway.sh stop "$port" || true; done; }
trap cleanup EXIT

SUMMARY=()
FAILED=0
for version in "${VERSIONS[@]}"; do
    if [ "$version" = system ]; then
        scripts/ensure-postgres.sh
        url=postgres://postgres@127.0.0.1:5432/postgres
    else
        port=$((54000 + version))
        STARTED+=("$port")
        url=$(scripts/pg-throwaway.sh start "$version" "$port")
    fi
    server=$(psql "$url" -Atc "SHOW server_version")
    echo "## PostgreSQL $server ($version) at $url"
    start=$(date +%s)
    if TEST_DATABASE_URL=$url scripts/test.sh "$@"; then result=passed; else result=FAILED; FAILED=1; fi
    SUMMARY+=("| $version | $server | $result | $(( $(date +%s) - start )) s |")
    if [ "$version" != system ]; then scripts/pg-throwaway.sh stop "$port"; fi
done

echo
echo "| asked | server | suite | time |"
echo "|---|---|---|---|"
printf '%s\n' "${SUMMARY[@]}"
exit "$FAILED"
