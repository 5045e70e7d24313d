#!/usr/bin/env bash
# Prints the path of a pgbouncer binary of version 1.21 or newer, installing one if needed.
#
# Why 1.21: Lorebase talks to PostgreSQL through sqlx, which prepares every statement with
# the extended protocol (Parse, then Bind/Execute after a Sync). In transaction pooling a
# pooler may hand the next Bind to another server connection, where that statement does
# not exist; pgbouncer 1.21 added `max_prepared_statements`, which tracks protocol-level
# prepared statements and prepares them again on whichever server runs them.
#
# Debian's `pgbouncer` package is used when it is new enough. Debian 12 ships 1.18, so
# there the script builds Debian 13's source package of pgbouncer (same maintainers, fetched
# with `apt-get source` from Debian's archive) into /var/tmp/pgbouncer-VERSION: about a minute
# on two cores, once per machine.
set -euo pipefail

MIN_MINOR=21
SOURCE_SUITE=${PGBOUNCER_SOURCE_SUITE:-trixie}
WORK=/var/tmp/pgbouncer-src

new_enough() {
    local version
    version=$("$1" --version 2>/dev/null | awk 'NR == 1 { print $2 }') || return 1
    [ -n "$version" ] || return 1
    local major=${version%%.*} rest=${version#*.}
    local minor=${rest%%.*}
    [ "$major" -gt 1 ] || { [ "$major" = 1 ] && [ "$minor" -ge "$MIN_MINOR" ]; }
}

apt_install() {
    if ! dpkg -s "$@" >/dev/null 2>&1; then
        [ "$(id -u)" = 0 ] || { echo "pgbouncer-install: run as root to install $*" >&2; exit 1; }
        timeout 300 apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq "$@" >/dev/null
    fi
}

# Debian's package first: it brings the postgres user and the defaults.
if ! command -v pgbouncer >/dev/null 2>&1; then
    apt_install pgbouncer
fi
if new_enough "$(command -v pgbouncer)"; then
    command -v pgbouncer
    exit 0
fi
for built in /var/tmp/pgbouncer-1.*/bin/pgbouncer; do
    if [ -x "$built" ] && new_enough "$built"; then
        echo "$built"
        exit 0
    fi
done

echo "pgbouncer-install: $(pgbouncer --version | head -n 1) is older than 1.$MIN_MINOR; building Debian $SOURCE_SUITE's source package" >&2
apt_install build-essential pkg-config libevent-dev libssl-dev
rm -rf "$WORK"
mkdir -p "$WORK/lists/partial"
echo "deb-src http://deb.debian.org/debian $SOURCE_SUITE main" >"$WORK/sources.list"
# A list of its own: the machine's apt configuration is left as it was.
apt_options=(-o "Dir::Etc::sourcelist=$WORK/sources.list" -o "Dir::Etc::sourceparts=-"
    -o "Dir::State::Lists=$WORK/lists")
timeout 300 apt-get "${apt_options[@]}" update -qq >/dev/null
(cd "$WORK" && timeout 300 apt-get "${apt_options[@]}" source --download-only -qq pgbouncer >/dev/null 2>&1)
tarball=$(ls "$WORK"/pgbouncer_*.orig.tar.* | head -n 1)
version=$(basename "$tarball" | sed -E 's/^pgbouncer_([0-9.]+)\.orig.*/\1/')
tar -xf "$tarball" -C "$WORK"
prefix=/var/tmp/pgbouncer-$version
(
    cd "$WORK/pgbouncer-$version"
    ./configure --prefix="$prefix" --without-cares --without-pam --without-ldap \
        --without-systemd >"$WORK/configure.log" 2>&1
    timeout 900 make -j"$(nproc)" >"$WORK/make.log" 2>&1
    make install >"$WORK/install.log" 2>&1
) || { echo "pgbouncer-install: the build failed, see $WORK/*.log" >&2; exit 1; }
new_enough "$prefix/bin/pgbouncer" || { echo "pgbouncer-install: built $prefix/bin/pgbouncer is not 1.$MIN_MINOR+" >&2; exit 1; }
echo "$prefix/bin/pgbouncer"
