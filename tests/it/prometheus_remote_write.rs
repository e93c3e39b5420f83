//! Prometheus 3.5.3 scrapes itself and tsdbd and remote-writes everything to tsdbd for a
//! minute; then both answer the same instant and range queries identically, and tsdbd
//! still does after a restart.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use e2e::{Tsdbd, api_query, api_query_range, compare_results, result};
use serde_json::Value;
use tsdb::testutil::{Prometheus, reference_bin_dir};

/// How long Prometheus scrapes and remote-writes before the comparison.
const RUN: Duration = Duration::from_secs(65);

fn now_s() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64()
}

/// Instant queries, over Prometheus's self-scrape and over tsdbd's own `/metrics`.
const INSTANT: &[&str] = &[
    "up",
    "count by (job) (up)",
    "scrape_samples_scraped",
    "prometheus_tsdb_head_series",
    "sum by (job) (scrape_duration_seconds)",
    "rate(prometheus_http_requests_total[30s])",
    "sum by (handler) (increase(prometheus_http_requests_total[1m]))",
    "histogram_quantile(0.9, sum by (le) (rate(prometheus_http_request_duration_seconds_bucket[1m])))",
    "count(count by (__name__) ({job=\"prometheus\"}))",
    "count({job=\"tsdbd\"}) > 0",
    "max_over_time(go_goroutines[1m])",
    "changes(prometheus_tsdb_head_chunks[1m])",
    "up{job=\"tsdbd\"}[30s]",
];

/// Range queries: (query, step in seconds).
const RANGE: &[(&str, f64)] = &[
    ("up", 5.0),
    ("rate(prometheus_http_requests_total[20s])", 5.0),
    ("sum by (job) (rate(scrape_samples_scraped[15s]))", 15.0),
    ("avg_over_time(prometheus_tsdb_head_series[30s])", 3.0),
    ("count by (job) ({__name__=~\"scrape_.*\"})", 10.0),
];

/// Every query's `data.result`, from `base`.
fn answers(base: &str, t_start: f64, t_end: f64) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for q in INSTANT {
        out.push((
            q.to_string(),
            result(&api_query(base, q, Some(t_end))).clone(),
        ));
    }
    for (q, step) in RANGE {
        let r = api_query_range(base, q, t_start, t_end, *step);
        out.push((format!("{q} step {step}"), result(&r).clone()));
    }
    out
}

fn highest_sent(prom: &Prometheus) -> f64 {
    let r = api_query(
        &prom.url,
        "max(prometheus_remote_storage_queue_highest_sent_timestamp_seconds)",
        None,
    );
    result(&r)[0]["value"][1]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0.0)
}

#[test]
fn prometheus_remote_write_then_identical_answers_and_after_restart() {
    let Some(bin) = reference_bin_dir() else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("tsdbd");
    let ours = Tsdbd::start(&dir);
    let config = format!(
        r#"
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: prometheus
    static_configs: [{{targets: ["127.0.0.1:PORT"]}}]
  - job_name: tsdbd
    static_configs: [{{targets: ["127.0.0.1:{port}"]}}]
remote_write:
  - url: http://127.0.0.1:{port}/api/v1/write
    queue_config: {{batch_send_deadline: 500ms, min_backoff: 50ms, max_backoff: 1s}}
    metadata_config: {{send_interval: 5s}}
"#,
        port = ours.port
    );
    let prom = Prometheus::start(&bin, &tmp.path().join("prom"), &config, &[]);
    let began = now_s();
    std::thread::sleep(RUN);

    // Compare up to a moment everything before which has reached tsdbd.
    let t_end = (now_s() - 10.0).floor();
    let t_start = (began + 15.0).floor();
    let deadline = Instant::now() + Duration::from_secs(120);
    while highest_sent(&prom) < t_end + 5.0 {
        assert!(Instant::now() < deadline, "remote write does not catch up");
        std::thread::sleep(Duration::from_millis(200));
    }
    let theirs = answers(&prom.url, t_start, t_end);
    let before = answers(&ours.url(""), t_start, t_end);
    let mut diffs = Vec::new();
    let mut non_empty = 0;
    for ((q, a), (_, b)) in theirs.iter().zip(&before) {
        if a.as_array().is_some_and(|r| !r.is_empty()) {
            non_empty += 1;
        }
        if let Err(e) = compare_results(a, b) {
            diffs.push(format!("{q}: {e}"));
        }
    }
    assert!(
        diffs.is_empty(),
        "tsdbd differs from Prometheus:\n{}",
        diffs.join("\n")
    );
    assert_eq!(
        non_empty,
        theirs.len(),
        "every query should return data: {theirs:?}"
    );

    // Restart tsdbd (graceful), then the answers are unchanged.
    let port = ours.port;
    assert!(ours.stop().success(), "tsdbd exits 0 on SIGTERM");
    let ours = Tsdbd::start_on(&dir, port, &[]);
    let after = answers(&ours.url(""), t_start, t_end);
    for ((q, a), (_, b)) in before.iter().zip(&after) {
        compare_results(a, b).unwrap_or_else(|e| panic!("after restart, {q}: {e}"));
    }
    prom.stop();
}
