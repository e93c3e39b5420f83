//! Integration tests of the PromQL engine.

/// Runs our own and Prometheus's `.test` scripts through the `promqltest` runner.
mod promqltest;
