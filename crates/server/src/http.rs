//! The HTTP server: routes, middleware, readiness, `/metrics`, and serving until shutdown.
//!
//! Layers, outermost first: request metrics and the access log (every response counts,
//! 401s included) → for routed requests, the route template tag and access control
//! ([`auth`]) → gzip for everything but remote write → the handlers.

pub mod auth;
pub mod tls;

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;
use tower_http::compression::CompressionLayer;

use crate::metrics;
use crate::state::AppState;

/// All routes of tsdbd, with their middleware.
pub fn app(state: Arc<AppState>) -> Router {
    let guard = Arc::new(auth::Guard::new(&state.config.web));
    let fallback_guard = Arc::clone(&guard);
    // Remote-write responses are empty: only the rest is compressed.
    let compressed = Router::new()
        .route("/-/healthy", get(healthy))
        .route("/-/ready", get(ready))
        .route("/metrics", get(serve_metrics))
        .merge(crate::api::router())
        .layer(CompressionLayer::new());
    Router::new()
        .merge(compressed)
        .merge(crate::write::router())
        .route_layer(middleware::from_fn_with_state(guard, auth::layer))
        .route_layer(middleware::from_fn(tag_route))
        // Unknown paths are refused like known ones of their class before they are
        // "not found", so a 404 never tells an unauthenticated client what exists.
        .fallback(move |req: Request| async move {
            fallback_guard
                .check(req.uri().path(), req.headers())
                .unwrap_or_else(|| StatusCode::NOT_FOUND.into_response())
        })
        .with_state(Arc::clone(&state))
        .layer(middleware::from_fn_with_state(state, observe))
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

async fn serve_metrics(State(state): State<Arc<AppState>>) -> Response {
    let text = {
        let registry = state.registry.lock();
        metrics::encode(&registry, state.storage_registry())
    };
    ([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], text).into_response()
}

/// The route template a response came from, for the `handler` label.
#[derive(Debug, Clone)]
struct RouteTemplate(String);

/// Copies the matched route into the response, written as Prometheus writes routes
/// (`/api/v1/label/:name/values`).
async fn tag_route(req: Request, next: Next) -> Response {
    let template = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().replace('{', ":").replace('}', ""));
    let mut resp = next.run(req).await;
    if let Some(t) = template {
        resp.extensions_mut().insert(RouteTemplate(t));
    }
    resp
}

/// Counts every request by handler and code, and logs it at debug.
async fn observe(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let resp = next.run(req).await;
    let elapsed = started.elapsed();
    let handler = resp
        .extensions()
        .get::<RouteTemplate>()
        .map_or("unmatched", |t| t.0.as_str());
    let code = resp.status().as_u16();
    state.http_metrics.observe(handler, code, elapsed);
    tracing::debug!(
        method = %method,
        path = %path,
        handler,
        code,
        duration_ms = format_args!("{:.3}", elapsed.as_secs_f64() * 1e3),
        "request"
    );
    resp
}

/// Serves `app` on `tcp` (over TLS when `tls` is set) until `stop` completes, then
/// stops accepting and waits for in-flight requests to finish. The caller bounds the
/// wait.
pub async fn serve(
    tcp: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    app: Router,
    stop: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    match tls {
        Some(config) => {
            let listener = tls::TlsListener::new(tcp, config)?;
            axum::serve(listener, app)
                .with_graceful_shutdown(stop)
                .await
        }
        None => axum::serve(tcp, app).with_graceful_shutdown(stop).await,
    }
}

#[cfg(test)]
mod tests;
