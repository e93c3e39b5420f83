//! Whole-system benchmarks: tsdbd against Prometheus 3.5, side by side in one run.
//!
//! - [`workload`]: a deterministic Kubernetes-shaped set of series and their values.
//! - [`dashboard`]: the dashboard query set of the query benches, median and geometric mean.
//! - [`loadgen`]: turns it into remote-write requests and sends them, measuring latency.
//!
//! The storage engine's own micro-benchmarks live in `crates/tsdb/benches/`.

pub mod dashboard;
pub mod loadgen;
pub mod workload;
