//! Remote write at `/api/v1/write`: negotiation, status codes and response headers.
//! Decoding and validation are `ingest`'s.

use std::sync::Arc;

use axum::Router;

use crate::state::AppState;

/// The remote-write route.
pub fn router() -> Router<Arc<AppState>> {
    Router::new()
}
