#!/usr/bin/env bash
# Installs s3s-fs 0.14.1, the S3-compatible server the object-storage tests talk to on
# loopback, into a cache folder unless that version is already there. Prints the bin
# directory. 0.15 and later need a newer rustc than the pinned toolchain, hence the pin.
# Builds from the crate registry cargo is already configured with; no host is named here.
set -euo pipefail
version=0.14.1
dest=${S3S_FS_DIR:-$HOME/.cache/s3s-fs}
if [ -x "$dest/bin/s3s-fs" ] && [ "$(cat "$dest/version" 2>/dev/null)" = "$version" ]; then
  echo "$dest/bin"
  exit 0
fi
# The build needs no toolchain file from the caller's directory.
cd "$(dirname "$0")/.."
cargo install "s3s-fs@$version" --locked --features binary --root "$dest" >&2
echo "$version" > "$dest/version"
echo "$dest/bin"
