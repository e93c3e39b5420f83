//! In-process tests of the router: readiness, `/metrics`, gzip, auth, route labels.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use prometheus_client::registry::Registry;
use tower::ServiceExt;

use super::app;
use crate::config::Config;
use crate::state::AppState;

async fn get(
    state: &Arc<AppState>,
    path: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let mut req = Request::get(path);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = app(Arc::clone(state))
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, headers, body.to_vec())
}

fn open(state: &AppState, dir: &std::path::Path) {
    let mut registry = Registry::default();
    let db = tsdb::Db::open(dir, state.config.tsdb.clone(), &mut registry).unwrap();
    state.set_storage_registry(registry);
    state.set_db(Arc::new(db));
}

#[tokio::test]
async fn ready_turns_200_once_the_storage_is_set() {
    let dir = tempfile::tempdir().unwrap();
    let state = Arc::new(AppState::new(Config::default()));
    assert_eq!(get(&state, "/-/healthy", &[]).await.0, StatusCode::OK);
    assert_eq!(
        get(&state, "/-/ready", &[]).await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    // /metrics answers during replay, without the storage's families.
    let (code, _, body) = get(&state, "/metrics", &[]).await;
    assert_eq!(code, StatusCode::OK);
    let text = String::from_utf8(body).unwrap();
    assert!(!text.contains("tsdbd_tsdb_head_series"), "{text}");

    open(&state, dir.path());
    assert_eq!(get(&state, "/-/ready", &[]).await.0, StatusCode::OK);
    let (_, headers, body) = get(&state, "/metrics", &[]).await;
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    let text = String::from_utf8(body).unwrap();
    assert!(text.contains("\ntsdbd_tsdb_head_series 0\n"), "{text}");
    assert!(
        text.contains(r#"tsdbd_http_requests_total{handler="/-/ready",code="503"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"tsdbd_http_requests_total{handler="/-/ready",code="200"} 1"#),
        "{text}"
    );
    state.db().unwrap().head().close().unwrap();
}

#[tokio::test]
async fn unmatched_paths_are_counted_apart() {
    let state = Arc::new(AppState::new(Config::default()));
    assert_eq!(get(&state, "/nope", &[]).await.0, StatusCode::NOT_FOUND);
    let text = String::from_utf8(get(&state, "/metrics", &[]).await.2).unwrap();
    assert!(
        text.contains(r#"tsdbd_http_requests_total{handler="unmatched",code="404"} 1"#),
        "{text}"
    );
}

#[tokio::test]
async fn gzip_when_accepted() {
    let state = Arc::new(AppState::new(Config::default()));
    let (_, headers, plain) = get(&state, "/metrics", &[]).await;
    assert!(headers.get(header::CONTENT_ENCODING).is_none());
    let (code, headers, body) = get(&state, "/metrics", &[("accept-encoding", "gzip")]).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_ENCODING], "gzip");
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&body[..]), &mut text).unwrap();
    assert!(text.starts_with("# HELP "), "{text}");
    assert!(
        text.len() >= plain.len() / 2,
        "decompressed to the whole page"
    );
}

#[tokio::test]
async fn read_auth_protects_metrics_and_401_is_counted() {
    let mut config = Config::default();
    config.web.auth.read.bearer_tokens = vec!["t0ken".into()];
    let state = Arc::new(AppState::new(config));
    let (code, headers, _) = get(&state, "/metrics", &[]).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    assert_eq!(headers[header::WWW_AUTHENTICATE], "Bearer realm=\"tsdbd\"");
    assert_eq!(
        get(&state, "/-/healthy", &[]).await.0,
        StatusCode::OK,
        "probes stay open"
    );
    let (code, _, body) = get(&state, "/metrics", &[("authorization", "Bearer t0ken")]).await;
    assert_eq!(code, StatusCode::OK);
    let text = String::from_utf8(body).unwrap();
    assert!(
        text.contains(r#"tsdbd_http_requests_total{handler="/metrics",code="401"} 1"#),
        "{text}"
    );
}
