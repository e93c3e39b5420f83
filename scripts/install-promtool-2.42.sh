#!/usr/bin/env bash
# Installs promtool 2.42 (Debian bookworm's build, package `prometheus`) into a cache
# folder, unless that exact version is already there. Prints the bin directory.
# Blocks we write must stay readable by this older release too (index v2 without the
# legacy label indices). Uses the Debian mirror this machine is already configured with;
# no host is named here.
set -euo pipefail
# Any Debian build of upstream 2.42.0 will do (bookworm's security updates replace the
# Debian revision, e.g. 2.42.0+ds-5+b6 by 2.42.0+ds-5+deb12u1); another release will not.
want=2.42.0
dest=${PROMTOOL_2_42_DIR:-$HOME/.cache/promtool-2.42}
if [ -x "$dest/bin/promtool" ] \
   && "$dest/bin/promtool" --version 2>&1 | head -1 | grep -q "version $want"; then
  echo "$dest/bin"
  exit 0
fi
state=$(mktemp -d)
trap 'rm -rf "$state"' EXIT
uri=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
[ -n "$uri" ] || uri=$(awk '$1 == "deb" {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
if [ -z "$uri" ]; then
  echo "install-promtool-2.42: no Debian mirror configured on this machine" >&2
  exit 1
fi
mkdir -p "$state/lists/partial" "$dest/bin"
echo "deb $uri bookworm main" > "$state/sources.list"
apt="-o Dir::State::Lists=$state/lists -o Dir::Etc::SourceList=$state/sources.list -o Dir::Etc::SourceParts=/dev/null -o Debug::NoLocking=1"
apt-get $apt -qq update >&2
version=$(apt-cache $apt madison prometheus | awk -v w="$want+" 'index($3, w) == 1 {print $3; exit}')
if [ -z "$version" ] || ! (cd "$state" && apt-get $apt -qq download "prometheus=$version" >&2); then
  echo "install-promtool-2.42: no build of $want in bookworm; refusing to test against another release" >&2
  exit 1
fi
for deb in "$state"/*.deb; do dpkg -x "$deb" "$state/root"; done
cp "$state/root/usr/bin/promtool" "$dest/bin/"
"$dest/bin/promtool" --version 2>&1 | head -1 >&2
echo "$dest/bin"
