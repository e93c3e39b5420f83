#!/usr/bin/env bash
# The whole test suite: installs what the tests need, then runs every check CI runs.
# Usage: scripts/test.sh   (CI runs exactly this through .ci/run)
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "reference Prometheus 3.5.3"
REFERENCE_PROMETHEUS_BIN=$(scripts/install-reference-prometheus.sh)
export REFERENCE_PROMETHEUS_BIN
"$REFERENCE_PROMETHEUS_BIN/prometheus" --version 2>&1 | head -1

step "promtool 2.42 (blocks must stay readable by it)"
PROMTOOL_2_42_BIN=$(scripts/install-promtool-2.42.sh)
export PROMTOOL_2_42_BIN
"$PROMTOOL_2_42_BIN/promtool" --version 2>&1 | head -1

step "S3 test server s3s-fs 0.14.1"
S3S_FS_BIN=$(scripts/install-s3s-fs.sh)
export S3S_FS_BIN
echo "$S3S_FS_BIN/s3s-fs"

if ! command -v cargo-nextest >/dev/null 2>&1; then
  step "installing cargo-nextest"
  cargo install --locked cargo-nextest
fi

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "tests"
cargo nextest run --workspace --locked --no-fail-fast
cargo test --workspace --doc --locked

step "docs"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --document-private-items --locked

step "benches and fuzz targets compile"
cargo bench --workspace --no-run --locked
if [ -d crates/tsdb/fuzz ]; then
  # Shares the workspace target directory so the dependencies build once.
  (cd crates/tsdb/fuzz && CARGO_TARGET_DIR="$PWD/../../../target/fuzz" cargo check --locked --bins)
fi

step "all checks passed"
