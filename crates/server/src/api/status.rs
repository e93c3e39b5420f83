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

/// Formats ms like Prometheus's `model.Duration` (`2m`, `1h30m`, `0s`).
pub(crate) fn format_duration(ms: i64) -> String {
    if ms == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    let mut rest = ms;
    if rest < 0 {
        out.push('-');
        rest = -rest;
    }
    for (unit, size) in [
        ("y", 365 * 24 * 3_600_000),
        ("w", 7 * 24 * 3_600_000),
        ("d", 24 * 3_600_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
        ("ms", 1),
    ] {
        if rest >= size {
            let _ = write!(out, "{}{unit}", rest / size);
            rest %= size;
        }
    }
    out
}

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
    Success::json(&json!({
        "startTime": format_rfc3339_nanos(started),
        "CWD": std::env::current_dir().map(|d| d.display().to_string()).unwrap_or_default(),
        "hostname": hostname(),
        "serverTime": format_rfc3339_nanos(ns_since_epoch(std::time::SystemTime::now())),
        "reloadConfigSuccess": true,
        "lastConfigTime": format_rfc3339_nanos(started - started.rem_euclid(1_000_000_000)),
        "corruptionCount": corruptions,
        "goroutineCount": tasks,
        "GOMAXPROCS": std::thread::available_parallelism().map_or(1, |n| n.get()),
        "GOMEMLIMIT": 0,
        "GOGC": "",
        "GODEBUG": "",
        "storageRetention": "unlimited",
    }))
    .into_response()
}

/// The flags and their values, named like Prometheus's where the meaning is the same.
fn flags(state: &AppState) -> Vec<(&'static str, String)> {
    let c = &state.config;
    vec![
        ("storage.tsdb.path", c.data_dir.display().to_string()),
        ("web.listen-address", c.listen_address.clone()),
        (
            "query.timeout",
            format_duration(c.engine.timeout.as_millis() as i64),
        ),
        ("query.max-samples", c.engine.max_samples.to_string()),
        (
            "query.max-concurrency",
            c.max_concurrent_queries.to_string(),
        ),
        (
            "query.lookback-delta",
            format_duration(c.engine.lookback_delta),
        ),
        (
            "storage.tsdb.wal-compression",
            c.tsdb.wal_compression.to_string(),
        ),
        (
            "storage.tsdb.min-block-duration",
            format_duration(c.tsdb.block_range),
        ),
    ]
}

/// `GET /api/v1/status/flags`: `{"<flag>":"<value>"}`.
pub(crate) async fn status_flags(State(state): State<Arc<AppState>>) -> Response {
    let map: serde_json::Map<String, serde_json::Value> = flags(&state)
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.into()))
        .collect();
    Success::json(&map).into_response()
}

/// `GET /api/v1/status/config`: `{"yaml": ...}`, our effective configuration written as
/// YAML (the keys are our flags', grouped as in the TOML file).
pub(crate) async fn status_config(State(state): State<Arc<AppState>>) -> Response {
    let mut yaml = String::new();
    for (k, v) in flags(&state) {
        let _ = writeln!(yaml, "{k}: {}", serde_json::Value::from(v));
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

#[cfg(test)]
mod tests {
    use super::format_duration;

    #[test]
    fn durations_format_like_prometheus() {
        assert_eq!(format_duration(0), "0s");
        assert_eq!(format_duration(120_000), "2m");
        assert_eq!(format_duration(5_400_000), "1h30m");
        assert_eq!(format_duration(1500), "1s500ms");
        assert_eq!(format_duration(2 * 3_600_000), "2h");
        assert_eq!(format_duration(15 * 24 * 3_600_000), "2w1d");
    }
}
