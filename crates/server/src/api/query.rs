//! `/api/v1/query`, `/api/v1/query_range`, `/api/v1/format_query`, `/api/v1/parse_query`.
//!
//! A query waits for a slot of `AppState::query_slots`, then runs on tokio's blocking pool.
//! Its deadline is the request's `timeout` capped by the engine's (`--query.timeout`),
//! counted from the moment the request arrived, so time spent queueing for a slot counts
//! (as in Prometheus, whose queue wait is inside the query's context). When the handler's
//! future is dropped, [`CancelOnDrop`] sets the query's cancel flag. Note that hyper's
//! HTTP/1 server does not drop it when a client closes its connection mid-request (it does
//! not read the socket while the handler runs), so an abandoned query runs to its deadline.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use promql::{Engine, QueryContext, QueryResult};
use tsdb::ErrorKind;

use super::params::Params;
use super::response::{ApiError, Success, query_data};
use crate::state::AppState;

/// Prometheus's cap on points per series of a range query.
const MAX_POINTS_PER_SERIES: i128 = 11_000;

/// Sets a query's cancel flag when dropped (the handler future was dropped), so evaluation
/// stops at its next check instead of holding a query slot for nothing.
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Milliseconds since the epoch now.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The engine for this request: the server's, or a copy with the request's
/// `lookback_delta`.
fn engine_for(state: &AppState, p: &Params) -> Result<Engine, ApiError> {
    let v = p.get("lookback_delta");
    if v.is_empty() {
        return Ok(state.engine.clone());
    }
    let ns = super::params::parse_duration(v)
        .map_err(|e| ApiError::bad_data(format!("error parsing lookback delta duration: {e}")))?;
    let mut opts = state.engine.options().clone();
    // Prometheus ignores a non-positive lookback delta and keeps the engine's.
    if ns / 1_000_000 > 0 {
        opts.lookback_delta = ns / 1_000_000;
    }
    Ok(Engine::new(opts))
}

/// The query's deadline: the request's `timeout` (if any) capped by the engine's.
fn deadline(state: &AppState, p: &Params, arrived: Instant) -> Result<Instant, ApiError> {
    let cap = state.engine.options().timeout;
    let timeout = match p.duration("timeout")? {
        Some(ns) => Duration::from_nanos(ns.max(0) as u64).min(cap),
        None => cap,
    };
    Ok(arrived + timeout)
}

/// Maps an engine error: parse errors are invalid `query` parameters, the rest by kind.
fn engine_error(e: &promql::Error) -> ApiError {
    match e.kind() {
        ErrorKind::BadData => ApiError::invalid_param("query", e),
        kind => ApiError::new(kind, e.to_string()),
    }
}

/// Runs `run` with a query slot on the blocking pool, under `deadline`.
async fn run_query(
    state: &Arc<AppState>,
    deadline: Instant,
    run: impl FnOnce(&tsdb::Db, &QueryContext) -> promql::Result<QueryResult> + Send + 'static,
) -> Result<QueryResult, ApiError> {
    let db = Arc::clone(state.db().ok_or_else(ApiError::not_ready)?);
    // Counts the query as running (waiting included) and records its duration.
    let metrics = state.query_metrics.start();
    let permit = tokio::time::timeout_at(
        tokio::time::Instant::from_std(deadline),
        Arc::clone(&state.query_slots).acquire_owned(),
    )
    .await
    .map_err(|_| ApiError::new(ErrorKind::Timeout, "query timed out in query queue"))?
    .map_err(|_| ApiError::new(ErrorKind::Unavailable, "the server is shutting down"))?;
    let cancel = Arc::new(AtomicBool::new(false));
    let _guard = CancelOnDrop(Arc::clone(&cancel));
    let ctx = QueryContext {
        deadline: Some(deadline),
        cancel,
    };
    let joined = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let _metrics = metrics;
        run(&db, &ctx)
    })
    .await
    .map_err(|e| ApiError::new(ErrorKind::Internal, format!("query panicked: {e}")))?;
    joined.map_err(|e| engine_error(&e))
}

/// Builds the response of a query: `limit` truncation with Prometheus's warning, and the
/// engine's annotations.
fn respond(res: QueryResult, limit: usize) -> Success {
    use promql::value::Value;
    let mut warnings = res.warnings;
    let mut value = res.value;
    let truncated = match &mut value {
        Value::Vector(v) if limit > 0 && v.len() > limit => {
            v.truncate(limit);
            true
        }
        Value::Matrix(m) if limit > 0 && m.len() > limit => {
            m.truncate(limit);
            true
        }
        _ => false,
    };
    if truncated {
        warnings.push("results truncated due to limit".into());
    }
    Success {
        data: query_data(&value),
        warnings,
        infos: res.infos,
    }
}

/// `GET|POST /api/v1/query`.
pub(crate) async fn query(
    State(state): State<Arc<AppState>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let arrived = Instant::now();
    let p = Params::new(&uri, &headers, &body);
    instant(&state, &p, arrived).await.into_response()
}

async fn instant(state: &Arc<AppState>, p: &Params, arrived: Instant) -> Result<Success, ApiError> {
    state.db().ok_or_else(ApiError::not_ready)?;
    let limit = p.limit()?;
    let t = p.time_or("time", now_ms())?;
    let deadline = deadline(state, p, arrived)?;
    let engine = engine_for(state, p)?;
    let q = p.get("query").to_string();
    let res = run_query(state, deadline, move |db, ctx| {
        engine.instant_query(db, &q, t, ctx)
    })
    .await?;
    Ok(respond(res, limit))
}

/// `GET|POST /api/v1/query_range`.
pub(crate) async fn query_range(
    State(state): State<Arc<AppState>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let arrived = Instant::now();
    let p = Params::new(&uri, &headers, &body);
    range(&state, &p, arrived).await.into_response()
}

async fn range(state: &Arc<AppState>, p: &Params, arrived: Instant) -> Result<Success, ApiError> {
    state.db().ok_or_else(ApiError::not_ready)?;
    let limit = p.limit()?;
    let start = p.time("start")?;
    let end = p.time("end")?;
    if end < start {
        return Err(ApiError::invalid_param(
            "end",
            "end timestamp must not be before start time",
        ));
    }
    let step_ns = super::params::parse_duration(p.get("step"))
        .map_err(|e| ApiError::invalid_param("step", e))?;
    if step_ns <= 0 {
        return Err(ApiError::invalid_param(
            "step",
            "zero or negative query resolution step widths are not accepted. Try a positive integer",
        ));
    }
    let span_ns = (i128::from(end) - i128::from(start)) * 1_000_000;
    if span_ns / i128::from(step_ns) > MAX_POINTS_PER_SERIES {
        return Err(ApiError::bad_data(
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)",
        ));
    }
    let deadline = deadline(state, p, arrived)?;
    let engine = engine_for(state, p)?;
    // The engine works in ms; a sub-millisecond step truncates to 0 there, as in Prometheus.
    let step = step_ns / 1_000_000;
    let q = p.get("query").to_string();
    let res = run_query(state, deadline, move |db, ctx| {
        engine.range_query(db, &q, start, end, step, ctx)
    })
    .await?;
    Ok(respond(res, limit))
}

/// Parses `query` as Prometheus's `parser.ParseExpr` would for these endpoints.
fn parse(state: &AppState, p: &Params) -> Result<promql_parser::parser::Expr, ApiError> {
    promql::engine::parse_with(p.get("query"), state.engine.options().duration_expressions)
        .map_err(|e| ApiError::invalid_param("query", e))
}

/// `GET|POST /api/v1/format_query`: the expression pretty-printed.
pub(crate) async fn format_query(
    State(state): State<Arc<AppState>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let p = Params::new(&uri, &headers, &body);
    match parse(&state, &p) {
        Ok(expr) => Success::json(&expr.prettify()).into_response(),
        Err(e) => e.into_response(),
    }
}

/// `GET|POST /api/v1/parse_query`: the expression's AST as JSON.
pub(crate) async fn parse_query(
    State(state): State<Arc<AppState>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let p = Params::new(&uri, &headers, &body);
    match parse(&state, &p) {
        Ok(expr) => Success::json(&super::ast::translate(&expr)).into_response(),
        Err(e) => e.into_response(),
    }
}
