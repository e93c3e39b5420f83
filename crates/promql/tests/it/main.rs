//! Integration tests of the PromQL engine.

/// Queries over the sample limit fail fast with bounded memory.
mod limits;
/// Runs our own and Prometheus's `.test` scripts through the `promqltest` runner.
mod promqltest;
