#!/usr/bin/env bash
# The whole-system benchmark in one command: installs the reference Prometheus 3.5.3 if
# missing, builds tsdbd and the benchmark in release, then runs both servers on the same
# generated remote-write load and prints (and with --out writes) the tsdbd / Prometheus
# ratios. Every argument goes to the benchmark (see --help), e.g.
#   scripts/bench-system.sh --scale 10k,100k --out docs/benchmarks.md
#   scripts/bench-system.sh --scale 1m            # takes longer; needs several GiB of RAM
set -euo pipefail
cd "$(dirname "$0")/.."

# The command as typed, recorded in the output: arguments with characters other than
# these in single quotes.
command="scripts/bench-system.sh"
for a in "$@"; do
  if [[ $a =~ ^[A-Za-z0-9_./,:=+-]+$ ]]; then
    command+=" $a"
  else
    command+=" '${a//\'/\'\\\'\'}'"
  fi
done

prometheus_bin=${REFERENCE_PROMETHEUS_BIN:-}
if [ -z "$prometheus_bin" ] || [ ! -x "$prometheus_bin/prometheus" ]; then
  prometheus_bin=$(scripts/install-reference-prometheus.sh)
fi
"$prometheus_bin/prometheus" --version 2>&1 | head -1 >&2

export CARGO_INCREMENTAL=${CARGO_INCREMENTAL:-0}
cargo build --release --locked --bin tsdbd >&2
cargo build --release --locked -p benches --bin system-bench >&2

exec target/release/system-bench \
  --prometheus-bin "$prometheus_bin" \
  --tsdbd-bin target/release/tsdbd \
  --command "$command" \
  "$@"
