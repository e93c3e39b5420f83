//! The Prometheus HTTP API v1 (`/api/v1/...` except `/api/v1/write`), with Prometheus
//! 3.5's shapes, value formatting, error envelope and status codes.
//!
//! - `params`: form/URL parameters, times, durations, `match[]`, `limit`.
//! - `response`: the envelope, errors and value formatting.
//! - `query`: `query`, `query_range`, `format_query`, `parse_query` (`ast`: the AST JSON).
//! - `series`: `series`, `labels`, `label/<name>/values`.
//! - `status`: `status/*`, `rules`, `alerts`.
//! - `admin`: `admin/tsdb/{delete_series,clean_tombstones}`.
//!
//! Every handler answers 503 (`unavailable`) until the storage is open. Unknown paths under
//! `/api/v1/` get Prometheus's plain-text `404 page not found`.

use std::sync::Arc;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{MethodRouter, any, get, post};

use crate::state::AppState;

mod admin;
mod ast;
pub mod metadata;
mod params;
mod query;
mod response;
mod series;
mod status;

/// The routes of the query, metadata, status and admin API.
pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v1/query", only(get(query::query).post(query::query)))
        .route(
            "/api/v1/query_range",
            only(get(query::query_range).post(query::query_range)),
        )
        .route(
            "/api/v1/format_query",
            only(get(query::format_query).post(query::format_query)),
        )
        .route(
            "/api/v1/parse_query",
            only(get(query::parse_query).post(query::parse_query)),
        )
        .route(
            "/api/v1/series",
            only(get(series::series).post(series::series)),
        )
        .route(
            "/api/v1/labels",
            only(get(series::labels).post(series::labels)),
        )
        .route(
            "/api/v1/label/{name}/values",
            only(get(series::label_values)),
        )
        .route("/api/v1/status/buildinfo", only(get(status::buildinfo)))
        .route("/api/v1/status/runtimeinfo", only(get(status::runtimeinfo)))
        .route("/api/v1/status/flags", only(get(status::status_flags)))
        .route("/api/v1/status/config", only(get(status::status_config)))
        .route("/api/v1/status/tsdb", only(get(status::status_tsdb)))
        .route("/api/v1/status/walreplay", only(get(status::walreplay)))
        .route("/api/v1/rules", only(get(status::rules)))
        .route("/api/v1/alerts", only(get(status::alerts)))
        .route(
            "/api/v1/admin/tsdb/delete_series",
            only(post(admin::delete_series).put(admin::delete_series)),
        )
        .route(
            "/api/v1/admin/tsdb/clean_tombstones",
            only(post(admin::clean_tombstones).put(admin::clean_tombstones)),
        )
        .merge(metadata::router())
        .route("/api/v1/{*rest}", any(not_found))
}

/// A route answering other methods like Prometheus: 405 `Method Not Allowed`.
fn only(route: MethodRouter<Arc<AppState>>) -> MethodRouter<Arc<AppState>> {
    route.fallback(method_not_allowed)
}

async fn method_not_allowed() -> impl IntoResponse {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "Method Not Allowed\n",
    )
}

/// Prometheus's answer for an unknown API path.
async fn not_found() -> impl IntoResponse {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "404 page not found\n",
    )
}
