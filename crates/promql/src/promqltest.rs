//! The runner for Prometheus's PromQL `.test` scripts.

pub mod parse;
pub mod values;
pub mod compare;
pub mod rewrite;
pub mod classify;
