//! `/api/v1/series`, `/api/v1/labels` and `/api/v1/label/<name>/values`: metadata lookups
//! over the storage, all honouring `match[]`, `start`, `end` and `limit` as Prometheus 3.5
//! does (the storage is asked for `limit + 1` entries so that truncation can be reported
//! with the warning `results truncated due to limit`).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use tsdb::labels::{Labels, Matcher};
use tsdb::storage::{LabelHints, Queryable, SelectHints};

use super::params::{MAX_TIME, MIN_TIME, Params, parse_match_sets, unescape_label_name};
use super::response::{ApiError, Success, write_labels};
use crate::state::AppState;

const TRUNCATED: &str = "results truncated due to limit";

/// Parameters shared by the three endpoints.
struct Lookup {
    start: i64,
    end: i64,
    limit: usize,
    sets: Vec<Vec<Matcher>>,
}

impl Lookup {
    /// The hint limit: one more than asked, to detect truncation.
    fn hint_limit(&self) -> usize {
        if self.limit > 0 { self.limit + 1 } else { 0 }
    }
}

/// Parses `limit`, `start`, `end` and `match[]` in Prometheus's order (after checking
/// that the storage is ready, which Prometheus does first).
fn lookup(state: &AppState, p: &Params, match_error_is_param: bool) -> Result<Lookup, ApiError> {
    state.db().ok_or_else(ApiError::not_ready)?;
    let limit = p.limit()?;
    let start = p.time_or("start", MIN_TIME)?;
    let end = p.time_or("end", MAX_TIME)?;
    let sets = parse_match_sets(&p.all("match[]")).map_err(|e| {
        if match_error_is_param {
            ApiError::invalid_param("match[]", e)
        } else {
            ApiError::bad_data(e)
        }
    })?;
    Ok(Lookup {
        start,
        end,
        limit,
        sets,
    })
}

/// Runs a storage lookup on the blocking pool.
async fn blocking<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&tsdb::Db) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let db = Arc::clone(state.db().ok_or_else(ApiError::not_ready)?);
    tokio::task::spawn_blocking(move || f(&db))
        .await
        .map_err(|e| ApiError::new(tsdb::ErrorKind::Internal, format!("lookup panicked: {e}")))?
}

/// `GET|POST /api/v1/series`.
pub(crate) async fn series(
    State(state): State<Arc<AppState>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let p = Params::new(&uri, &headers, &body);
    series_inner(&state, &p).await.into_response()
}

async fn series_inner(state: &AppState, p: &Params) -> Result<Success, ApiError> {
    state.db().ok_or_else(ApiError::not_ready)?;
    if p.all("match[]").is_empty() {
        return Err(ApiError::bad_data("no match[] parameter provided"));
    }
    let l = lookup(state, p, true)?;
    let limit = l.limit;
    let (mut all, warnings) = blocking(state, move |db| {
        let q = db
            .querier(l.start, l.end)
            .map_err(|e| ApiError::storage(&e))?;
        let hints = SelectHints {
            start: l.start,
            end: l.end,
            func: Some("series".into()),
            limit: l.hint_limit(),
            ..Default::default()
        };
        let mut all: Vec<Labels> = Vec::new();
        let mut warnings = Vec::new();
        for set in &l.sets {
            let ss = q
                .select(true, Some(&hints), set)
                .map_err(|e| ApiError::storage(&e))?;
            warnings.extend(ss.warnings());
            for s in ss {
                all.push(s.map_err(|e| ApiError::storage(&e))?.labels().clone());
            }
        }
        if l.sets.len() > 1 {
            all.sort();
            all.dedup();
        }
        Ok((all, warnings))
    })
    .await?;
    let mut warnings = warnings;
    if limit > 0 && all.len() > limit {
        all.truncate(limit);
        warnings.push(TRUNCATED.into());
    }
    let mut data = String::from("[");
    for (i, labels) in all.iter().enumerate() {
        if i > 0 {
            data.push(',');
        }
        write_labels(&mut data, labels);
    }
    data.push(']');
    Ok(Success {
        data,
        warnings,
        infos: Vec::new(),
    })
}

/// Sorted, deduplicated strings with `limit` applied.
fn finish(mut v: Vec<String>, limit: usize) -> Success {
    v.sort();
    v.dedup();
    let mut warnings = Vec::new();
    if limit > 0 && v.len() > limit {
        v.truncate(limit);
        warnings.push(TRUNCATED.to_string());
    }
    Success {
        warnings,
        ..Success::json(&v)
    }
}

/// `GET|POST /api/v1/labels`.
pub(crate) async fn labels(
    State(state): State<Arc<AppState>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let p = Params::new(&uri, &headers, &body);
    labels_inner(&state, &p).await.into_response()
}

async fn labels_inner(state: &AppState, p: &Params) -> Result<Success, ApiError> {
    let l = lookup(state, p, false)?;
    let limit = l.limit;
    let names = blocking(state, move |db| {
        let q = db
            .querier(l.start, l.end)
            .map_err(|e| ApiError::storage(&e))?;
        let hints = LabelHints {
            limit: l.hint_limit(),
        };
        let mut out = Vec::new();
        let sets: Vec<&[Matcher]> = if l.sets.is_empty() {
            vec![&[]]
        } else {
            l.sets.iter().map(Vec::as_slice).collect()
        };
        for set in sets {
            let names = q
                .label_names(&hints, set)
                .map_err(|e| ApiError::new(tsdb::ErrorKind::Execution, e.to_string()))?;
            out.extend(names.iter().map(|n| n.to_string()));
        }
        Ok(out)
    })
    .await?;
    Ok(finish(names, limit))
}

/// `GET /api/v1/label/<name>/values`.
pub(crate) async fn label_values(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let p = Params::new(&uri, &headers, &body);
    label_values_inner(&state, name, &p).await.into_response()
}

async fn label_values_inner(
    state: &AppState,
    name: String,
    p: &Params,
) -> Result<Success, ApiError> {
    state.db().ok_or_else(ApiError::not_ready)?;
    let name = unescape_label_name(&name);
    if name.is_empty() {
        return Err(ApiError::bad_data(format!("invalid label name: {name:?}")));
    }
    let l = lookup(state, p, false)?;
    let limit = l.limit;
    let values = blocking(state, move |db| {
        let q = db
            .querier(l.start, l.end)
            .map_err(|e| ApiError::new(tsdb::ErrorKind::Execution, e.to_string()))?;
        let hints = LabelHints {
            limit: l.hint_limit(),
        };
        let sets: Vec<&[Matcher]> = if l.sets.is_empty() {
            vec![&[]]
        } else {
            l.sets.iter().map(Vec::as_slice).collect()
        };
        let mut out = Vec::new();
        for set in sets {
            let values = q
                .label_values(&name, &hints, set)
                .map_err(|e| ApiError::new(tsdb::ErrorKind::Execution, e.to_string()))?;
            out.extend(values.iter().map(|v| v.to_string()));
        }
        Ok(out)
    })
    .await?;
    Ok(finish(values, limit))
}
