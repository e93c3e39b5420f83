//! `/api/v1/status/*`, `/api/v1/rules` and `/api/v1/alerts`.
//!
//! `status/buildinfo` has Prometheus's six fields and no `features` (a non-empty `features`
//! makes Grafana treat the source as Mimir with a ruler API). `rules` and `alerts` are
//! valid empty answers until rules exist.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::json;

use super::params::{Params, format_rfc3339_nanos};
use super::response::{ApiError, Success};
use crate::state::AppState;

fn ns_since_epoch(t: std::time::SystemTime) -> i128 {
    match t.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => d.as_nanos() as i128,
        Err(e) => -(e.duration().as_nanos() as i128),
    }
}

/// Prometheus's `PrometheusVersion`, members in its order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BuildInfo {
    version: &'static str,
    revision: &'static str,
    branch: &'static str,
    build_user: &'static str,
    build_date: &'static str,
    go_version: &'static str,
}

/// `GET /api/v1/status/buildinfo`.
pub(crate) async fn buildinfo() -> Response {
    Success::json(&BuildInfo {
        version: env!("CARGO_PKG_VERSION"),
        revision: option_env!("TSDBD_REVISION").unwrap_or("unknown"),
        branch: option_env!("TSDBD_BRANCH").unwrap_or("unknown"),
        build_user: option_env!("TSDBD_BUILD_USER").unwrap_or("unknown"),
        build_date: option_env!("TSDBD_BUILD_DATE").unwrap_or("unknown"),
        go_version: concat!("rust", env!("CARGO_PKG_RUST_VERSION")),
    })
    .into_response()
}

/// Prometheus's `storageRetention`: `15d`, `512MiB`, `15d or 512MiB`, or `unlimited`.
fn retention(c: &crate::config::Config) -> String {
    use tsdb::units::{format_bytes, format_duration};
    let time = (!c.retention_time.is_zero()).then(|| format_duration(c.retention_time));
    let size = (c.retention_size > 0).then(|| format_bytes(c.retention_size));
    match (time, size) {
        (Some(t), Some(s)) => format!("{t} or {s}"),
        (Some(t), None) => t,
        (None, Some(s)) => s,
        (None, None) => "unlimited".into(),
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::env::var("HOSTNAME"))
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// `GET /api/v1/status/runtimeinfo`: Prometheus's fields; the Go runtime's ones describe
/// our runtime (`goroutineCount`: tokio tasks alive, `GOMAXPROCS`: available parallelism).
pub(crate) async fn runtimeinfo(State(state): State<Arc<AppState>>) -> Response {
    let started = ns_since_epoch(state.started);
    let corruptions = state
        .db()
        .map_or(0, |db| db.head().wal_metrics().corruptions_total.get());
    let tasks = tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks();
    Success::json(&RuntimeInfo {
        start_time: format_rfc3339_nanos(started),
        cwd: std::env::current_dir()
            .map(|d| d.display().to_string())
            .unwrap_or_default(),
        hostname: hostname(),
        server_time: format_rfc3339_nanos(ns_since_epoch(std::time::SystemTime::now())),
        reload_config_success: true,
        last_config_time: format_rfc3339_nanos(started - started.rem_euclid(1_000_000_000)),
        corruption_count: corruptions,
        goroutine_count: tasks,
        gomaxprocs: std::thread::available_parallelism().map_or(1, |n| n.get()),
        gomemlimit: 0,
        gogc: "",
        godebug: "",
        storage_retention: retention(&state.config),
    })
    .into_response()
}

/// Prometheus's `RuntimeInfo`, members in its order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RuntimeInfo {
    start_time: String,
    #[serde(rename = "CWD")]
    cwd: String,
    hostname: String,
    server_time: String,
    reload_config_success: bool,
    last_config_time: String,
    corruption_count: u64,
    goroutine_count: usize,
    #[serde(rename = "GOMAXPROCS")]
    gomaxprocs: usize,
    #[serde(rename = "GOMEMLIMIT")]
    gomemlimit: i64,
    #[serde(rename = "GOGC")]
    gogc: &'static str,
    #[serde(rename = "GODEBUG")]
    godebug: &'static str,
    storage_retention: String,
}

/// `GET /api/v1/status/flags`: `{"<flag>":"<value>"}` (`Config::flags`).
pub(crate) async fn status_flags(State(state): State<Arc<AppState>>) -> Response {
    Success::json(&state.flags).into_response()
}

/// `GET /api/v1/status/config`: `{"yaml": ...}`, our effective configuration as YAML
/// with one key per flag (`Config::flags`), values quoted.
pub(crate) async fn status_config(State(state): State<Arc<AppState>>) -> Response {
    let mut yaml = String::new();
    for (k, v) in &state.flags {
        let _ = writeln!(yaml, "{k}: {}", serde_json::Value::from(v.as_str()));
    }
    Success::json(&json!({ "yaml": yaml })).into_response()
}

/// `GET /api/v1/status/tsdb`: head statistics and cardinality, `limit` entries per list
/// (default 10).
pub(crate) async fn status_tsdb(
    State(state): State<Arc<AppState>>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let Some(db) = state.db().map(Arc::clone) else {
        return ApiError::not_ready().into_response();
    };
    let p = Params::new(&uri, &headers, &Bytes::new());
    let limit = match p.get("limit") {
        "" => 10,
        s => match s.parse::<i64>() {
            Ok(n) if n >= 1 => n as usize,
            _ => {
                return ApiError::bad_data("limit must be a positive number").into_response();
            }
        },
    };
    let stats = match tokio::task::spawn_blocking(move || db.head().stats("__name__", limit)).await
    {
        Ok(s) => s,
        Err(e) => {
            return ApiError::new(tsdb::ErrorKind::Internal, e.to_string()).into_response();
        }
    };
    let list = |v: &[tsdb::head::stats::Stat]| -> Vec<TsdbStat> {
        v.iter()
            .map(|s| TsdbStat {
                name: s.name.clone(),
                value: s.count,
            })
            .collect()
    };
    Success::json(&TsdbStatus {
        head_stats: HeadStats {
            num_series: stats.num_series,
            num_label_pairs: stats.num_label_pairs,
            chunk_count: stats.chunk_count,
            min_time: stats.min_time,
            max_time: stats.max_time,
        },
        series_count_by_metric_name: list(&stats.series_count_by_metric_name),
        label_value_count_by_label_name: list(&stats.label_value_count_by_label_name),
        memory_in_bytes_by_label_name: list(&stats.memory_in_bytes_by_label_name),
        series_count_by_label_value_pair: list(&stats.series_count_by_label_value_pair),
    })
    .into_response()
}

/// Prometheus's `TSDBStatus` and its parts, members in its order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TsdbStatus {
    head_stats: HeadStats,
    series_count_by_metric_name: Vec<TsdbStat>,
    label_value_count_by_label_name: Vec<TsdbStat>,
    memory_in_bytes_by_label_name: Vec<TsdbStat>,
    series_count_by_label_value_pair: Vec<TsdbStat>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct HeadStats {
    num_series: u64,
    num_label_pairs: u64,
    chunk_count: i64,
    min_time: i64,
    max_time: i64,
}

#[derive(Serialize)]
struct TsdbStat {
    name: String,
    value: u64,
}

/// Prometheus's `walReplayStatus`.
#[derive(Serialize)]
struct WalReplay {
    min: u32,
    max: u32,
    current: u32,
}

/// `GET /api/v1/status/walreplay`: the WAL's first and last segment; `current` is the last
/// once the replay is done and the first before (our replay does not report progress).
/// Served before the storage is ready, as in Prometheus.
pub(crate) async fn walreplay(State(state): State<Arc<AppState>>) -> Response {
    let dir = state.config.data_dir.join("wal");
    let ready = state.db().is_some();
    let segs = tokio::task::spawn_blocking(move || tsdb::wal::segments(&dir).unwrap_or_default())
        .await
        .unwrap_or_default();
    let (min, max) = (
        segs.first().copied().unwrap_or(0),
        segs.last().copied().unwrap_or(0),
    );
    let current = if ready { max } else { min };
    Success::json(&WalReplay { min, max, current }).into_response()
}

/// `GET /api/v1/rules`: no rule groups (rules are not implemented yet).
pub(crate) async fn rules() -> Response {
    Success::json(&json!({"groups": []})).into_response()
}

/// `GET /api/v1/alerts`: no alerts (rules are not implemented yet).
pub(crate) async fn alerts() -> Response {
    Success::json(&json!({"alerts": []})).into_response()
}
