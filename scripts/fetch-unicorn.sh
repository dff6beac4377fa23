#!/usr/bin/env bash
# Fetches Unicorn 2.1.x (static library and headers) from Debian 13's libunicorn-dev into .deps/unicorn,
# without changing the machine's apt configuration: a private source list, lists and cache
# directory. Debian 12's own 2.0.1 sends every guest store through translated-block invalidation
# and is about 15 times slower on stores.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dest="$root/.deps/unicorn"
want_major_minor="2.1"

if [ -f "$dest/VERSION" ] && grep -q "^$want_major_minor" "$dest/VERSION" && [ -f "$dest/usr/lib/x86_64-linux-gnu/libunicorn.a" ]; then
  exit 0
fi

work="$root/.deps/apt-trixie"
mkdir -p "$work/lists/partial" "$work/cache/archives/partial"

. "$root/scripts/debian-mirror.sh"
uri=$debian_uri
keyring=$debian_keyring
echo "deb [signed-by=$keyring] $uri trixie main" > "$work/trixie.list"
opts=(-o "Dir::Etc::SourceList=$work/trixie.list" -o Dir::Etc::SourceParts=/dev/null
      -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o Debug::NoLocking=1)

echo "setup: fetching Unicorn 2.1 (libunicorn-dev from Debian 13)"
apt-get "${opts[@]}" -qq update
rm -f "$work"/libunicorn-dev_*.deb
(cd "$work" && apt-get "${opts[@]}" -qq download libunicorn-dev 2>/dev/null)
deb=$(ls "$work"/libunicorn-dev_*.deb | head -n 1)
version=$(dpkg-deb -f "$deb" Version)
case "$version" in
  "$want_major_minor".*) ;;
  *) echo "setup: error: Debian 13 offers libunicorn-dev $version, but Unicorn $want_major_minor.x is needed" >&2; exit 1 ;;
esac
rm -rf "$dest"
mkdir -p "$dest"
dpkg -x "$deb" "$dest"
echo "$version" > "$dest/VERSION"
echo "setup: Unicorn $version in .deps/unicorn"
