//! `/api/v1/admin/tsdb/{delete_series,clean_tombstones}` (POST or PUT, 204 on success).
//!
//! The switch (`web.enable_admin_api`, Prometheus's `--web.enable-admin-api`) and access
//! control are the `http` layer's (`http/auth.rs`), in front of these handlers.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use tsdb::ErrorKind;

use super::params::{MAX_TIME, MIN_TIME, Params, parse_selector};
use super::response::ApiError;
use crate::state::AppState;

fn enabled(state: &AppState) -> Result<Arc<tsdb::Db>, ApiError> {
    state.db().map(Arc::clone).ok_or_else(ApiError::not_ready)
}

/// `POST|PUT /api/v1/admin/tsdb/delete_series`: `match[]` (required), `start`, `end`.
pub(crate) async fn delete_series(
    State(state): State<Arc<AppState>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let p = Params::new(&uri, &headers, &body);
    match delete_inner(&state, &p).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => e.into_response(),
    }
}

async fn delete_inner(state: &AppState, p: &Params) -> Result<(), ApiError> {
    let db = enabled(state)?;
    let selectors = p.all("match[]");
    if selectors.is_empty() {
        return Err(ApiError::bad_data("no match[] parameter provided"));
    }
    let start = p.time_or("start", MIN_TIME)?;
    let end = p.time_or("end", MAX_TIME)?;
    let sets = selectors
        .iter()
        .map(|s| parse_selector(s).map_err(|e| ApiError::invalid_param("match[]", e)))
        .collect::<Result<Vec<_>, _>>()?;
    tokio::task::spawn_blocking(move || {
        for set in &sets {
            db.delete(start, end, set)
                .map_err(|e| ApiError::new(ErrorKind::Internal, e.to_string()))?;
        }
        Ok(())
    })
    .await
    .map_err(|e| ApiError::new(ErrorKind::Internal, e.to_string()))?
}

/// `POST|PUT /api/v1/admin/tsdb/clean_tombstones`.
pub(crate) async fn clean_tombstones(State(state): State<Arc<AppState>>) -> Response {
    let db = match enabled(&state) {
        Ok(db) => db,
        Err(e) => return e.into_response(),
    };
    match tokio::task::spawn_blocking(move || db.clean_tombstones()).await {
        Ok(Ok(())) => StatusCode::NO_CONTENT.into_response(),
        Ok(Err(e)) => ApiError::new(ErrorKind::Internal, e.to_string()).into_response(),
        Err(e) => ApiError::new(ErrorKind::Internal, e.to_string()).into_response(),
    }
}
