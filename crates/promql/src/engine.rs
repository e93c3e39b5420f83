//! The PromQL evaluator.
//!
//! # Evaluation model
//!
//! A query is parsed by `promql-parser` and evaluated by the `Evaluator` in `engine/eval.rs`.
//! An instant query is a range query with one step.
//! Every node of the AST is evaluated once for the whole range of steps and yields one
//! value per step: a scalar per step, an instant vector per step, a string, or a range
//! vector (all points of each selected series plus the window end of each step).
//!
//! * Selectors select their series once for the whole query range: the querier covers
//!   the earliest effective time minus the lookback delta (or the range) up to the latest
//!   effective time, where the effective time of a step is its timestamp (or the `@`
//!   time) minus the offset.
//!   Each series' samples are read once into memory; each step then finds its sample by
//!   binary search.
//!   An instant selector takes the newest sample in `(t - lookback, t]` unless it is a
//!   staleness marker; a range selector's window is `(t - range, t]` with markers dropped.
//! * Subqueries re-run the evaluator over their own steps, aligned to multiples of the
//!   subquery step as Prometheus does, and turn the per-step vectors into series.
//! * Binary operators (`binary.rs`), aggregations (`aggregate.rs`) and functions
//!   (`functions.rs`) work step by step on the per-step vectors and call the pure
//!   kernels in [`crate::functions`].
//!   Range functions (`range_functions.rs`) stream a range selector's series: each is
//!   loaded, evaluated at every step and freed before the next.
//! * Aggregations that fold (`sum avg count group min max stddev stdvar`) over a selector
//!   or over a range function of a range selector skip the per-step vectors: they are
//!   evaluated series-major (`series_major.rs`), each series read once and folded into
//!   per-group, per-step accumulators, with large selections split over two threads.
//!   The results are bit-identical to the general path's.
//! * Checks Prometheus's parser makes and `promql-parser` lacks (function argument types,
//!   `@` bounds), and label names Go decodes to invalid UTF-8, run after parsing
//!   (`parse_checks.rs`).
//! * Duration expressions, which the parser lacks, are evaluated into literals by a
//!   textual rewrite (`duration_expr.rs`) when a query does not parse as written.
//! * Samples held (points of selected series and vector elements) are counted against
//!   `max_samples`; the deadline and cancel flag are checked per series and per step.
//! * With delayed name removal, samples carry a flag and lose `__name__` only at the end.
//! * A sample's labels are an `Arc<Labels>` shared by that series' samples at every step,
//!   so per-series work is done once per distinct label set, looked up by the `Arc`'s
//!   address (the cache keeps a clone, so an address is not reused): aggregation group
//!   keys, `__name__` removal, and turning per-step vectors into series. A range
//!   function checks its output label sets for duplicates once per node, and step by
//!   step only when two are equal.

mod aggregate;
mod binary;
mod duration_expr;
mod eval;
mod functions;
mod hash;
mod parse_checks;
mod range_functions;
mod series_major;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use promql_parser::label::MatchOp;
use promql_parser::parser::VectorSelector;
use promql_parser::parser::value::ValueType;
use tsdb::labels::{MatchType, Matcher};
use tsdb::storage::Queryable;

use crate::error::{Error, Result};
use crate::value::{Sample, Series, Value};

use eval::{Evaluator, NameDropper, Smp, Val, cmp_labels, drop_metric_name};
pub(crate) use parse_checks::has_invalid_utf8_literal;

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
    /// Accepts duration arithmetic in ranges, subquery steps and `offset (...)`
    /// (Prometheus's `promql-duration-expr`; off by default as in Prometheus 3.5).
    pub duration_expressions: bool,
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
            duration_expressions: false,
        }
    }
}

impl EngineOptions {
    /// Checks the options: positive lookback delta, subquery step and sample limit.
    pub fn validate(&self) -> Result<()> {
        if self.lookback_delta <= 0 {
            return Err(Error::Execution(format!(
                "lookback delta must be positive, got {}ms",
                self.lookback_delta
            )));
        }
        if self.default_subquery_step <= 0 {
            return Err(Error::Execution(format!(
                "default subquery step must be positive, got {}ms",
                self.default_subquery_step
            )));
        }
        if self.max_samples == 0 {
            return Err(Error::Execution("max samples must be positive".into()));
        }
        Ok(())
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
        storage: &dyn Queryable,
        query: &str,
        t: i64,
        ctx: &QueryContext,
    ) -> Result<QueryResult> {
        let expr = parse_with(query, self.opts.duration_expressions)?;
        parse_checks::label_names(query, &expr)?;
        let mut ev = Evaluator::new(storage, &self.opts, ctx, t, t, 1);
        let val = ev.eval(&expr)?;
        let value = match val {
            Val::Scalar(v) => Value::Scalar {
                t,
                v: v.first().copied().unwrap_or(f64::NAN),
            },
            Val::Str(s) => Value::String { t, s },
            Val::Vector(mut steps) => {
                let vec = steps.pop().unwrap_or_default();
                let vec = self.finish_names(vec, &mut NameDropper::default())?;
                Value::Vector(
                    vec.into_iter()
                        .map(|s| Sample {
                            labels: Arc::unwrap_or_clone(s.labels),
                            t,
                            v: s.v,
                        })
                        .collect(),
                )
            }
            Val::Range(r) => {
                let mut out = Vec::new();
                for (i, s) in r.series.iter().enumerate() {
                    let pts = r.window(i, 0);
                    if pts.is_empty() {
                        continue;
                    }
                    let labels = if s.drop_name {
                        drop_metric_name(&s.labels)
                    } else {
                        s.labels.clone()
                    };
                    out.push(Series {
                        labels,
                        points: pts.to_vec(),
                    });
                }
                out.sort_by(|a, b| cmp_labels(&a.labels, &b.labels));
                Value::Matrix(out)
            }
        };
        Ok(QueryResult {
            value,
            warnings: ev.annos.warnings,
            infos: ev.annos.infos,
        })
    }

    /// Evaluates `query` at every step from `start` to `end` (ms, inclusive).
    pub fn range_query(
        &self,
        storage: &dyn Queryable,
        query: &str,
        start: i64,
        end: i64,
        step: i64,
        ctx: &QueryContext,
    ) -> Result<QueryResult> {
        if step <= 0 {
            return Err(Error::Execution(
                "zero or negative query resolution step widths are not accepted".into(),
            ));
        }
        if end < start {
            return Err(Error::Execution(
                "end timestamp must not be before start time".into(),
            ));
        }
        let steps = end.checked_sub(start).map_or(i64::MAX, |d| d / step + 1);
        if usize::try_from(steps).map_or(true, |n| n > self.opts.max_samples) {
            return Err(Error::TooManySamples("query execution"));
        }
        let expr = parse_with(query, self.opts.duration_expressions)?;
        // Prometheus's `NewRangeQuery` rejects other types before evaluating; its API reports
        // that as an invalid parameter (`bad_data`).
        let kind = match expr.value_type() {
            ValueType::String => Some("string"),
            ValueType::Matrix => Some("range vector"),
            ValueType::Scalar | ValueType::Vector => None,
        };
        if let Some(kind) = kind {
            return Err(Error::Parse {
                message: format!(
                    "invalid expression type \"{kind}\" for range query, must be Scalar or instant Vector"
                ),
            });
        }
        parse_checks::label_names(query, &expr)?;
        let mut ev = Evaluator::new(storage, &self.opts, ctx, start, end, step);
        let val = ev.eval(&expr)?;
        let steps: Vec<i64> = (0..ev.steps()).map(|i| ev.ts(i)).collect();
        let mut series: Vec<Series> = match val {
            Val::Scalar(v) => vec![Series {
                labels: tsdb::labels::Labels::empty(),
                points: steps.iter().copied().zip(v).collect(),
            }],
            Val::Vector(v) => {
                let mut finished = Vec::with_capacity(v.len());
                let mut names = NameDropper::default();
                for vec in v {
                    finished.push(self.finish_names(vec, &mut names)?);
                }
                ev.vector_to_series(finished, &steps)
                    .into_iter()
                    .map(|s| Series {
                        labels: s.labels,
                        points: s.points,
                    })
                    .collect()
            }
            Val::Str(_) => {
                return Err(Error::Execution(
                    "invalid expression type \"string\" for range query, must be Scalar or instant Vector".into(),
                ));
            }
            Val::Range(_) => {
                return Err(Error::Execution(
                    "invalid expression type \"range vector\" for range query, must be Scalar or instant Vector".into(),
                ));
            }
        };
        series.sort_by(|a, b| cmp_labels(&a.labels, &b.labels));
        Ok(QueryResult {
            value: Value::Matrix(series),
            warnings: ev.annos.warnings,
            infos: ev.annos.infos,
        })
    }

    /// Removes `__name__` from flagged samples (delayed name removal) and checks that the
    /// result has no duplicate label sets.
    fn finish_names(&self, vec: Vec<Smp>, names: &mut NameDropper) -> Result<Vec<Smp>> {
        let mut any = false;
        let out: Vec<Smp> = vec
            .into_iter()
            .map(|mut s| {
                if s.drop_name {
                    any = true;
                    s.labels = names.drop_name(&s.labels);
                    s.drop_name = false;
                }
                s
            })
            .collect();
        if any {
            Evaluator::check_duplicates(&out)?;
        }
        Ok(out)
    }
}

/// The storage matchers of a parsed vector selector: its label matchers and, when it was
/// written with a metric name, `__name__="<name>"` (unless a `__name__` matcher is given).
/// Matchers that cannot be built (a bad regex) are [`Error::Parse`]; `or` matchers, which
/// the storage cannot express, are [`Error::Execution`].
pub fn selector_matchers(vs: &VectorSelector) -> Result<Vec<Matcher>> {
    if !vs.matchers.or_matchers.is_empty() {
        return Err(Error::Execution(
            "selectors with `or` matchers are not supported".into(),
        ));
    }
    let matcher = |kind, name: &str, value: &str| {
        Matcher::new(kind, name, value).map_err(|e| Error::Parse {
            message: e.to_string(),
        })
    };
    let mut ms = Vec::with_capacity(vs.matchers.matchers.len() + 1);
    for m in &vs.matchers.matchers {
        let kind = match m.op {
            MatchOp::Equal => MatchType::Equal,
            MatchOp::NotEqual => MatchType::NotEqual,
            MatchOp::Re(_) => MatchType::RegexMatch,
            MatchOp::NotRe(_) => MatchType::RegexNoMatch,
        };
        ms.push(matcher(kind, &m.name, &m.value)?);
    }
    if let Some(name) = &vs.name
        && !vs.matchers.matchers.iter().any(|m| m.name == "__name__")
    {
        ms.push(matcher(MatchType::Equal, "__name__", name)?);
    }
    Ok(ms)
}

/// Parses one series selector (`up`, `{job="x"}`, `up{job=~"a|b"}`) into its storage
/// matchers ([`selector_matchers`]), as Prometheus parses `match[]`: anything but a plain
/// vector selector (an expression, `offset`, `@`) is [`Error::Parse`].
pub fn parse_selector(s: &str) -> Result<Vec<Matcher>> {
    let not_a_selector = || Error::Parse {
        message: format!(
            "1:1: parse error: unexpected expression, expected a series selector: {s}"
        ),
    };
    match promql_parser::parser::parse(s) {
        Ok(promql_parser::parser::Expr::VectorSelector(vs)) => {
            if vs.offset.is_some() || vs.at.is_some() {
                return Err(not_a_selector());
            }
            selector_matchers(&vs)
        }
        Ok(_) => Err(not_a_selector()),
        Err(message) => Err(Error::Parse { message }),
    }
}

/// Parses a query, mapping the parser's errors to [`Error::Parse`].
///
/// Duration expressions (`x[5m*2]`, `x offset (1h+5m)`), which the parser lacks, are
/// evaluated into literals when the query does not parse as written (for tools such as the
/// `.test` runner; queries through [`Engine`] follow [`EngineOptions::duration_expressions`]).
pub fn parse(query: &str) -> Result<promql_parser::parser::Expr> {
    parse_with(query, true)
}

/// Parses `query`; duration expressions are rewritten into plain durations only when
/// `duration_expressions` is set, otherwise they are the parse error Prometheus gives.
pub fn parse_with(query: &str, duration_expressions: bool) -> Result<promql_parser::parser::Expr> {
    let (text, expr) = match promql_parser::parser::parse(query) {
        Ok(e) => (std::borrow::Cow::Borrowed(query), e),
        Err(message) => match duration_expr::rewrite(query).filter(|_| duration_expressions) {
            Some(q) => match promql_parser::parser::parse(&q) {
                Ok(e) => (std::borrow::Cow::Owned(q), e),
                Err(_) => return Err(Error::Parse { message }),
            },
            None => return Err(Error::Parse { message }),
        },
    };
    parse_checks::check(&text, &expr)?;
    Ok(expr)
}
