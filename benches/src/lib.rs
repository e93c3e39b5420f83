//! Whole-system benchmarks: tsdbd against Prometheus 3.5, side by side in one run.
//!
//! - [`workload`]: a deterministic Kubernetes-shaped set of series and their values.
//!
//! The storage engine's own micro-benchmarks live in `crates/tsdb/benches/`.

pub mod workload;
