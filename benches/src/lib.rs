//! Whole-system benchmarks: tsdbd against Prometheus 3.5, side by side in one run.
//!
//! - [`workload`]: a deterministic Kubernetes-shaped set of series and their values.
//! - [`dashboard`]: the dashboard query set of the query benches, median and geometric mean.
//! - [`loadgen`]: turns it into remote-write requests and sends them, measuring latency.
//! - [`server`]: starts tsdbd and Prometheus with the same settings, waits for readiness,
//!   kills and restarts them; [`process`]: their CPU seconds and resident memory;
//!   [`blocks`]: the blocks of a data directory and their sizes.
//! - [`system`]: the whole-system benchmark built from all of these (binary
//!   `system-bench`, `scripts/bench-system.sh`).
//!
//! The storage engine's own micro-benchmarks live in `crates/tsdb/benches/`.

pub mod blocks;
pub mod dashboard;
pub mod loadgen;
pub mod process;
pub mod server;
pub mod system;
pub mod workload;
