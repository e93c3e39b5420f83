//! The evaluator (skeleton; filled in by the engine work of issue 3).

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use tsdb::storage::Queryable;

use crate::error::{Error, Result};
use crate::value::Value;

/// Engine settings, with Prometheus 3.5's server defaults.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// How far back an instant selector looks for a sample, in ms (5m).
    pub lookback_delta: i64,
    /// The most samples a query may hold in memory at once (50M).
    pub max_samples: usize,
    /// How long a query may run (2m).
    pub timeout: Duration,
    /// Step of subqueries written `[r:]`, in ms (1m).
    pub default_subquery_step: i64,
    /// Enables experimental functions and `limitk`/`limit_ratio`.
    pub experimental_functions: bool,
    /// Removes `__name__` only at the end of evaluation (Prometheus's
    /// `promql-delayed-name-removal`).
    pub delayed_name_removal: bool,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            lookback_delta: 5 * 60 * 1000,
            max_samples: 50_000_000,
            timeout: Duration::from_secs(120),
            default_subquery_step: 60 * 1000,
            experimental_functions: false,
            delayed_name_removal: false,
        }
    }
}

/// Per-query deadline and cancel flag, checked inside evaluation loops.
#[derive(Debug, Clone, Default)]
pub struct QueryContext {
    /// When the query must stop (None: the engine's timeout from now).
    pub deadline: Option<Instant>,
    /// Set to cancel the query.
    pub cancel: Arc<AtomicBool>,
}

/// A query's value and its annotations.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryResult {
    /// The result.
    pub value: Value,
    /// Warning annotations (`PromQL warning: ...`).
    pub warnings: Vec<String>,
    /// Info annotations (`PromQL info: ...`).
    pub infos: Vec<String>,
}

/// The PromQL engine.
#[derive(Debug, Clone, Default)]
pub struct Engine {
    opts: EngineOptions,
}

impl Engine {
    /// An engine with these options.
    pub fn new(opts: EngineOptions) -> Self {
        Self { opts }
    }

    /// The engine's options.
    pub fn options(&self) -> &EngineOptions {
        &self.opts
    }

    /// Evaluates `query` at time `t` (ms).
    pub fn instant_query(
        &self,
        _storage: &dyn Queryable,
        _query: &str,
        _t: i64,
        _ctx: &QueryContext,
    ) -> Result<QueryResult> {
        Err(Error::Execution(
            "the PromQL engine is not implemented yet".into(),
        ))
    }

    /// Evaluates `query` at every step from `start` to `end` (ms, inclusive).
    pub fn range_query(
        &self,
        _storage: &dyn Queryable,
        _query: &str,
        _start: i64,
        _end: i64,
        _step: i64,
        _ctx: &QueryContext,
    ) -> Result<QueryResult> {
        Err(Error::Execution(
            "the PromQL engine is not implemented yet".into(),
        ))
    }
}
