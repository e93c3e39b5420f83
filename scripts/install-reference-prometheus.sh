#!/usr/bin/env bash
# Installs the reference Prometheus and promtool (3.5.3, Debian's build) into a cache
# folder, unless that exact version is already there. Prints the bin directory.
# Uses the Debian mirror this machine is already configured with; no host is named here.
set -euo pipefail
version=3.5.3+ds1-6
want=3.5.3
dest=${REFERENCE_PROMETHEUS_DIR:-$HOME/.cache/reference-prometheus}
if [ -x "$dest/bin/prometheus" ] && [ -x "$dest/bin/promtool" ] \
   && "$dest/bin/prometheus" --version 2>/dev/null | head -1 | grep -q "version $want"; then
  echo "$dest/bin"
  exit 0
fi
state=$(mktemp -d)
trap 'rm -rf "$state"' EXIT
uri=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
[ -n "$uri" ] || uri=$(awk '$1 == "deb" {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
if [ -z "$uri" ]; then
  echo "install-reference-prometheus: no Debian mirror configured on this machine" >&2
  exit 1
fi
mkdir -p "$state/lists/partial" "$dest/bin"
echo "deb $uri sid main" > "$state/sources.list"
apt="-o Dir::State::Lists=$state/lists -o Dir::Etc::SourceList=$state/sources.list -o Dir::Etc::SourceParts=/dev/null -o Debug::NoLocking=1"
apt-get $apt -qq update >&2
if ! (cd "$state" && apt-get $apt -qq download "prometheus=$version" "promtool=$version" >&2); then
  echo "install-reference-prometheus: version $version is no longer in the archive; refusing to test against another release" >&2
  exit 1
fi
for deb in "$state"/*.deb; do dpkg -x "$deb" "$state/root"; done
cp "$state/root/usr/bin/prometheus" "$state/root/usr/bin/promtool" "$dest/bin/"
"$dest/bin/prometheus" --version 2>&1 | head -1 >&2
echo "$dest/bin"
