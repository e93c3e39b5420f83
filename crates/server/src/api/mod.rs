//! The Prometheus HTTP API v1 (`/api/v1/...` except `/api/v1/write`).

use std::sync::Arc;

use axum::Router;

use crate::state::AppState;

pub mod metadata;

/// The routes of the query, metadata, status and admin API.
pub fn router() -> Router<Arc<AppState>> {
    Router::new().merge(metadata::router())
}
