//! `promql`: the PromQL engine, with Prometheus 3.5 semantics.
//!
//! Queries are parsed by `promql-parser` and evaluated over
//! [`tsdb::storage::Queryable`], never over the head or a block directly.
//!
//! * [`engine`]: [`Engine`], instant and range evaluation (one pass over the AST for all
//!   steps; each selector's series selected once), limits, cancellation and annotations.
//! * [`value`]: the values an expression produces (scalar, string, vector, matrix).
//! * [`functions`]: the pure kernels behind PromQL's functions (`rate`, `*_over_time`,
//!   math, date, label and quantile functions).
//! * [`promqltest`]: the runner for Prometheus's `.test` scripts.

pub mod engine;
pub mod error;
pub mod functions;
pub mod promqltest;
pub mod value;

pub use engine::{Engine, EngineOptions, QueryContext, QueryResult};
pub use error::{Error, Result};
