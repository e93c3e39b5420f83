//! `GET /api/v1/metadata` and `GET|POST /api/v1/query_exemplars`, backed by the head's
//! metadata (RW1 family metadata and RW2 per-series metadata) and its exemplar ring.
//! Response shapes and parameter handling follow Prometheus 3.5's `web/api/v1/api.go`.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use promql_parser::parser::Expr;
use tsdb::ErrorKind;
use tsdb::head::metadata::metric_type_name;
use tsdb::labels::Matcher;

use super::params::{MAX_TIME, MIN_TIME, Params};
use super::response::{
    ApiError, Success, write_labels, write_sample_value, write_str, write_timestamp,
};
use crate::state::AppState;

/// The metadata and exemplar routes.
pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v1/metadata", get(metadata))
        .route(
            "/api/v1/query_exemplars",
            get(query_exemplars).post(query_exemplars),
        )
}

/// A limit of `/api/v1/metadata` (absent = -1, no limit); the error is Prometheus's message.
fn metadata_limit(p: &Params, name: &str) -> Result<i64, ApiError> {
    match p.get(name) {
        "" => Ok(-1),
        s => s
            .parse::<i64>()
            .map_err(|_| ApiError::bad_data(format!("{name} must be a number"))),
    }
}

async fn metadata(
    State(state): State<Arc<AppState>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let p = Params::new(&uri, &headers, &body);
    match metadata_data(&state, &p) {
        Ok(data) => Success::raw(data).into_response(),
        Err(e) => e.into_response(),
    }
}

fn metadata_data(state: &AppState, p: &Params) -> Result<String, ApiError> {
    let db = state.db().ok_or_else(ApiError::not_ready)?;
    let limit = metadata_limit(p, "limit")?;
    let per_metric = metadata_limit(p, "limit_per_metric")?;
    let metric = Some(p.get("metric")).filter(|m| !m.is_empty());
    // Prometheus: a negative limit is no limit, 0 an empty answer; limit_per_metric
    // applies only when positive.
    let limit = usize::try_from(limit).ok();
    let per_metric = usize::try_from(per_metric).ok().filter(|&n| n > 0);
    let all = db.head().metadata_by_metric(metric, limit, per_metric);
    let mut out = String::from("{");
    for (i, (name, entries)) in all.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_str(&mut out, name);
        out.push_str(":[");
        for (j, e) in entries.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            out.push_str(r#"{"type":"#);
            write_str(&mut out, metric_type_name(e.metric_type));
            out.push_str(r#","unit":"#);
            write_str(&mut out, &e.unit);
            out.push_str(r#","help":"#);
            write_str(&mut out, &e.help);
            out.push('}');
        }
        out.push(']');
    }
    out.push('}');
    Ok(out)
}

async fn query_exemplars(
    State(state): State<Arc<AppState>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let p = Params::new(&uri, &headers, &body);
    match exemplars_data(&state, &p) {
        Ok(Some(data)) => Success::raw(data).into_response(),
        // Prometheus answers a query without selectors with an empty 204.
        Ok(None) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => e.into_response(),
    }
}

/// Vector selectors of `expr` as matcher sets (Prometheus's `parser.ExtractSelectors`).
fn selectors(expr: &Expr, out: &mut Vec<Vec<Matcher>>) -> promql::Result<()> {
    match expr {
        Expr::Aggregate(a) => {
            selectors(&a.expr, out)?;
            if let Some(p) = &a.param {
                selectors(p, out)?;
            }
        }
        Expr::Unary(u) => selectors(&u.expr, out)?,
        Expr::Binary(b) => {
            selectors(&b.lhs, out)?;
            selectors(&b.rhs, out)?;
        }
        Expr::Paren(p) => selectors(&p.expr, out)?,
        Expr::Subquery(s) => selectors(&s.expr, out)?,
        Expr::Call(c) => {
            for a in &c.args.args {
                selectors(a, out)?;
            }
        }
        Expr::VectorSelector(vs) => out.push(promql::engine::selector_matchers(vs)?),
        Expr::MatrixSelector(ms) => out.push(promql::engine::selector_matchers(&ms.vs)?),
        _ => {}
    }
    Ok(())
}

/// The `data` of `/api/v1/query_exemplars`, or `None` when the query has no selector.
fn exemplars_data(state: &AppState, p: &Params) -> Result<Option<String>, ApiError> {
    let db = state.db().ok_or_else(ApiError::not_ready)?;
    let start = p.time_or("start", MIN_TIME)?;
    let end = p.time_or("end", MAX_TIME)?;
    if end < start {
        return Err(ApiError::bad_data(
            "end timestamp must not be before start timestamp",
        ));
    }
    let expr = promql_parser::parser::parse(p.get("query")).map_err(ApiError::bad_data)?;
    let mut sets = Vec::new();
    selectors(&expr, &mut sets).map_err(|e| ApiError::bad_data(e.to_string()))?;
    if sets.is_empty() {
        return Ok(None);
    }
    let found = db
        .head()
        .select_exemplars(start, end, &sets)
        .map_err(|e| ApiError::new(ErrorKind::Internal, e.to_string()))?;
    let mut out = String::from("[");
    for (i, s) in found.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(r#"{"seriesLabels":"#);
        write_labels(&mut out, &s.series_labels);
        out.push_str(r#","exemplars":["#);
        for (j, e) in s.exemplars.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            out.push_str(r#"{"labels":"#);
            write_labels(&mut out, &e.labels);
            out.push_str(r#","value":""#);
            write_sample_value(&mut out, e.v);
            out.push_str(r#"","timestamp":"#);
            write_timestamp(&mut out, e.t);
            out.push('}');
        }
        out.push_str("]}");
    }
    out.push(']');
    Ok(Some(out))
}
