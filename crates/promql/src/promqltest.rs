//! The runner for Prometheus's `.test` scripts (skeleton).
