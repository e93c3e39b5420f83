//! The HTTP server: routes, readiness, and serving until shutdown.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;

use crate::state::AppState;

/// All routes of tsdbd.
pub fn app(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/-/healthy", get(healthy))
        .route("/-/ready", get(ready))
        .merge(crate::api::router())
        .merge(crate::write::router())
        .with_state(state)
}

async fn healthy() -> (StatusCode, &'static str) {
    (StatusCode::OK, "Prometheus Server is Healthy.\n")
}

async fn ready(State(state): State<Arc<AppState>>) -> (StatusCode, &'static str) {
    if state.db().is_some() {
        (StatusCode::OK, "Prometheus Server is Ready.\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable")
    }
}
