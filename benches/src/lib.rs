//! Whole-system benchmarks: tsdbd against Prometheus 3.5, side by side in one run.
//!
//! Issue 6 fills this crate with the remote-write load generator and the comparative
//! benchmarks; the storage engine's own micro-benchmarks live in `crates/tsdb/benches/`.
