//! Integration tests of the PromQL engine (one binary, house style rule 16).

/// Compares our engine with the reference Prometheus 3.5.3 on a generated data set.
mod differential;
/// Queries over the sample limit fail fast with bounded memory.
mod limits;
/// Runs our own and Prometheus's `.test` scripts through the `promqltest` runner.
mod promqltest;
