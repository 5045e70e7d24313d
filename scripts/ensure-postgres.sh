#!/usr/bin/env bash
# Makes sure a PostgreSQL server answers at 127.0.0.1:5432 with trust auth for `postgres`:
# use the running one, start the system cluster if it is stopped, or install Debian's
# package if there is none. Fails loudly when none of that works.
set -euo pipefail

HOST=127.0.0.1
PORT=5432

ready() { pg_isready -q -h "$HOST" -p "$PORT" 2>/dev/null; }
wait_ready() {
    for _ in $(seq 1 60); do ready && return 0; sleep 0.5; done
    return 1
}

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        echo "ensure-postgres: need root to run: $*" >&2; return 1; fi
}

if command -v pg_isready >/dev/null && ready; then
    exit 0
fi

if ! command -v pg_ctlcluster >/dev/null || [ -z "$(ls /etc/postgresql 2>/dev/null)" ]; then
    echo "ensure-postgres: PostgreSQL is not installed; installing Debian's package" >&2
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi

version=$(ls /etc/postgresql | sort -V | tail -n 1)
conf_dir=/etc/postgresql/$version/main
# The tests connect as `postgres` over TCP without a password.
if ! grep -Eq '^host\s+all\s+all\s+127\.0\.0\.1/32\s+trust' "$conf_dir/pg_hba.conf"; then
    as_root sed -i -E 's/^(host\s+all\s+all\s+(127\.0\.0\.1\/32|::1\/128)\s+)\S+/\1trust/' "$conf_dir/pg_hba.conf"
fi
as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null ||
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main reload 2>/dev/null || true

if ! wait_ready; then
    echo "ensure-postgres: PostgreSQL does not answer at $HOST:$PORT" >&2
    exit 1
fi
if ! psql -h "$HOST" -p "$PORT" -U postgres -d postgres -Atqc 'SELECT 1' >/dev/null; then
    echo "ensure-postgres: cannot log in as postgres at $HOST:$PORT without a password" >&2
    exit 1
fi
