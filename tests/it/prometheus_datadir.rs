//! Data-directory interoperability with Prometheus 3.5.3, both directions: Prometheus
//! started on a directory of ours (blocks, a checkpoint and WAL segments) answers a set of
//! range and instant queries exactly as tsdbd does, and tsdbd started on a directory
//! Prometheus wrote (its blocks, its checkpoint, its WAL; its `chunks_head/` ignored)
//! answers as Prometheus did.
//!
//! The data is a synthetic three hours ending now, in 15 s slots: counters (one with a
//! reset), gauges, classic histograms, short-lived series ending in stale markers, series
//! with gaps longer than the lookback, and edge-case floats. The block range is 10 min,
//! and the data ends 3 min past a 10 min boundary, so both engines leave the same 13 min
//! in the head and write the rest as 10 min blocks. The queries cover windows inside the
//! blocks, inside the head, across the boundary and over everything.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use e2e::{Tsdbd, api_query, api_query_range, compare_results, result};
use ingest::proto::v1;
use prometheus_client::registry::Registry;
use serde_json::Value;
use tsdb::block::Ulid;
use tsdb::labels::Labels;
use tsdb::storage::{Appendable, SeriesRef};
use tsdb::testutil::{Prometheus, reference_bin_dir};
use tsdb::{Db, Options};

/// Scrape interval of the synthetic data.
const STEP_MS: i64 = 15_000;
/// Slots of data: three hours.
const SLOTS: usize = 720;
/// Block range of both engines.
const RANGE_MS: i64 = 10 * 60 * 1000;
/// How far past a block boundary the data ends; the head keeps the last block range plus
/// this (13 min is not more than 1.5 ranges, 23 min would be).
const TAIL_MS: i64 = 3 * 60 * 1000;
/// Instances of each family (series ≈ 70 per instance, plus the jobs).
const INSTANCES: usize = 40;
/// Short-lived series.
const JOBS: usize = 200;
/// Slots per remote-write request or in-process commit.
const BATCH_SLOTS: usize = 20;
/// The stale marker Prometheus writes when a series disappears.
const STALE_NAN: u64 = 0x7ff0_0000_0000_0002;
/// Buckets of the classic histogram.
const LE: [&str; 12] = [
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf",
];
/// Values of the `interop_edge` series, cycled.
const EDGE: [f64; 10] = [
    0.0,
    -0.0,
    1e308,
    -1e-308,
    5e-324,
    f64::INFINITY,
    f64::NEG_INFINITY,
    f64::NAN,
    0.1 + 0.2,
    -42.5,
];

/// The flags that give tsdbd the test's block range.
const TSDBD_FLAGS: &[&str] = &["--storage.tsdb.min-block-duration", "10m"];

/// tsdbd on Prometheus's directory compacts like that Prometheus (10 min blocks, no level
/// merges), so both answer label queries from the same blocks.
pub(crate) const TSDBD_ON_PROM_FLAGS: &[&str] = &[
    "--storage.tsdb.min-block-duration",
    "10m",
    "--storage.tsdb.max-block-duration",
    "10m",
];

/// Prometheus's config: no scrape targets, no rules; only what is on disk or written.
const PROM_CONFIG: &str = "global:\n  scrape_interval: 15s\n";

/// SplitMix64, for deterministic pseudo-random data.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// A number in `[0, 1)` from `(a, b, c)`.
fn unit(a: u64, b: u64, c: u64) -> f64 {
    (mix(mix(mix(a) ^ b) ^ c) >> 11) as f64 / (1u64 << 53) as f64
}

/// One synthetic series: its labels (sorted by name) and its sample in each slot.
struct SeriesData {
    labels: Vec<(String, String)>,
    points: Vec<Option<(i64, f64)>>,
}

/// The synthetic data set, `[start, end)` in ms.
pub(crate) struct Workload {
    start: i64,
    end: i64,
    series: Vec<SeriesData>,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64
}

impl Workload {
    /// Three hours ending at the latest `k·RANGE + TAIL` before now.
    pub(crate) fn generate() -> Workload {
        let end = (now_ms() - TAIL_MS - 1000).div_euclid(RANGE_MS) * RANGE_MS + TAIL_MS;
        let start = end - SLOTS as i64 * STEP_MS;
        let mut series = Vec::new();
        // A slot's timestamp: a per-series scrape offset plus a few ms of jitter.
        let ts = |s: usize, k: usize| {
            let offset = (mix(s as u64) % 5000) as i64;
            let jitter = (mix((s * SLOTS + k) as u64) % 7) as i64 - 3;
            start + k as i64 * STEP_MS + offset + jitter
        };
        let mut push = |labels: Vec<(&str, String)>, values: Vec<Option<f64>>| {
            let s = series.len();
            let mut labels: Vec<(String, String)> =
                labels.into_iter().map(|(n, v)| (n.to_owned(), v)).collect();
            labels.sort();
            // `interop_aligned` keeps exact slot times, so samples fall on block boundaries
            // (block ends are exclusive: such a sample belongs to the next block or the head).
            let aligned = labels.iter().any(|(_, v)| v == "interop_aligned");
            let points = values
                .into_iter()
                .enumerate()
                .map(|(k, v)| {
                    let t = if aligned {
                        start + k as i64 * STEP_MS
                    } else {
                        ts(s, k)
                    };
                    v.map(|v| (t, v))
                })
                .collect();
            series.push(SeriesData { labels, points });
        };
        let name = |n: &str| ("__name__", n.to_owned());
        for i in 0..INSTANCES {
            let inst = ("instance", format!("i{i:02}"));
            // Counters; instance 7 restarts at slot 333.
            for (p, path) in ["/api", "/home", "/login", "/static"].iter().enumerate() {
                for code in ["200", "500"] {
                    let mut v = 0.0;
                    let values = (0..SLOTS)
                        .map(|k| {
                            let inc = unit(1, (i * 10 + p) as u64, k as u64) * 50.0;
                            let inc = if code == "500" {
                                (inc / 10.0).floor()
                            } else {
                                inc
                            };
                            v = if i == 7 && k == 333 { inc } else { v + inc };
                            Some(v)
                        })
                        .collect();
                    push(
                        vec![
                            name("interop_http_requests_total"),
                            inst.clone(),
                            ("path", path.to_string()),
                            ("code", code.to_owned()),
                        ],
                        values,
                    );
                }
            }
            // Gauges: random walks.
            for sensor in 0..20 {
                let mut v = 20.0 + sensor as f64;
                let values = (0..SLOTS)
                    .map(|k| {
                        v += unit(2, (i * 100 + sensor) as u64, k as u64) - 0.5;
                        Some(v)
                    })
                    .collect();
                push(
                    vec![
                        name("interop_temperature_celsius"),
                        inst.clone(),
                        ("sensor", format!("s{sensor}")),
                    ],
                    values,
                );
            }
            // A classic histogram: per slot, observations spread over the buckets.
            let mut buckets = [0.0f64; LE.len()];
            let mut sum = 0.0;
            let mut rows = vec![Vec::with_capacity(SLOTS); LE.len() + 2];
            for k in 0..SLOTS {
                let mut below = 0.0;
                for (b, bucket) in buckets.iter_mut().enumerate() {
                    below += (unit(3, (i * 100 + b) as u64, k as u64) * 6.0).floor();
                    *bucket += below;
                    rows[b].push(Some(*bucket));
                }
                sum += below * unit(4, i as u64, k as u64) * 2.0;
                rows[LE.len()].push(Some(sum));
                rows[LE.len() + 1].push(Some(buckets[LE.len() - 1]));
            }
            let mut rows = rows.into_iter();
            for le in LE {
                push(
                    vec![
                        name("interop_request_duration_seconds_bucket"),
                        inst.clone(),
                        ("le", le.to_owned()),
                    ],
                    rows.next().expect("a row per bucket"),
                );
            }
            push(
                vec![name("interop_request_duration_seconds_sum"), inst.clone()],
                rows.next().expect("the sum row"),
            );
            push(
                vec![name("interop_request_duration_seconds_count"), inst.clone()],
                rows.next().expect("the count row"),
            );
            // Gaps of 10 min every 30 min, longer than the 5 min lookback.
            push(
                vec![name("interop_flaky"), inst.clone()],
                (0..SLOTS)
                    .map(|k| ((k / 40) % 3 != 1).then_some(k as f64 * 0.25 + i as f64))
                    .collect(),
            );
        }
        // Short-lived series, each ending with a stale marker unless it lives to the end.
        for j in 0..JOBS {
            let from = (mix(j as u64 + 77) % SLOTS as u64) as usize;
            let to = from + 20 + (mix(j as u64 + 78) % 300) as usize;
            let values = (0..SLOTS)
                .map(|k| match k {
                    k if k >= from && k < to => Some((k - from) as f64 / (to - from) as f64),
                    k if k == to => Some(f64::from_bits(STALE_NAN)),
                    _ => None,
                })
                .collect();
            push(
                vec![
                    name("interop_batch_job_progress"),
                    ("job_id", format!("j{j:03}")),
                ],
                values,
            );
        }
        // Edge-case floats.
        for c in 0..3 {
            push(
                vec![name("interop_edge"), ("case", format!("c{c}"))],
                (0..SLOTS)
                    .map(|k| Some(EDGE[(k + c) % EDGE.len()]))
                    .collect(),
            );
        }
        // Samples exactly on 15 s slots, hence on every 10 min block boundary.
        push(
            vec![name("interop_aligned")],
            (0..SLOTS).map(|k| Some(k as f64)).collect(),
        );
        Workload { start, end, series }
    }

    /// Samples that queries see (stale markers are not samples to PromQL).
    fn visible_samples(&self) -> usize {
        self.series
            .iter()
            .flat_map(|s| s.points.iter().flatten())
            .filter(|p| p.1.to_bits() != STALE_NAN)
            .count()
    }

    /// The series' labels as `tsdb::labels::Labels`.
    fn labels(&self) -> Vec<Labels> {
        self.series
            .iter()
            .map(|s| Labels::from_pairs(&s.labels))
            .collect()
    }

    /// Remote-write request bodies, each holding `BATCH_SLOTS` slots of every series, in
    /// time order.
    fn requests(&self) -> Vec<Vec<u8>> {
        (0..SLOTS)
            .step_by(BATCH_SLOTS)
            .map(|k0| {
                let k1 = (k0 + BATCH_SLOTS).min(SLOTS);
                let timeseries = self
                    .series
                    .iter()
                    .filter_map(|s| {
                        let samples: Vec<(i64, f64)> =
                            s.points[k0..k1].iter().flatten().copied().collect();
                        (!samples.is_empty()).then(|| v1::TimeSeries::new(&s.labels, &samples))
                    })
                    .collect();
                ingest::encode::encode_v1(&v1::WriteRequest {
                    timeseries,
                    metadata: Vec::new(),
                })
            })
            .collect()
    }

    /// The boundary between the blocks and the head once both engines have compacted.
    fn head_start(&self) -> i64 {
        self.end - TAIL_MS - RANGE_MS
    }
}

/// Range queries; each runs over every window of [`windows`].
const RANGE_QUERIES: &[&str] = &[
    "interop_temperature_celsius{instance=\"i03\"}",
    "rate(interop_http_requests_total{instance=~\"i0[0-4]\"}[1m])",
    "sum by (path, code) (rate(interop_http_requests_total[5m]))",
    "increase(interop_http_requests_total{instance=\"i07\"}[10m])",
    "resets(interop_http_requests_total{instance=\"i07\"}[30m])",
    "max_over_time(interop_temperature_celsius{sensor=\"s1\"}[10m])",
    "avg by (instance) (avg_over_time(interop_temperature_celsius[2m]))",
    "topk(3, stddev_over_time(interop_temperature_celsius[5m]))",
    "interop_batch_job_progress",
    "count(interop_batch_job_progress)",
    "histogram_quantile(0.9, sum by (le) (rate(interop_request_duration_seconds_bucket[5m])))",
    "histogram_quantile(0.5, rate(interop_request_duration_seconds_bucket{instance=\"i02\"}[2m]))",
    "sum(rate(interop_request_duration_seconds_sum[5m])) / sum(rate(interop_request_duration_seconds_count[5m]))",
    "interop_flaky",
    "count_over_time(interop_flaky[3m])",
    "interop_edge",
    "changes(interop_edge[5m])",
];

/// Instant queries; each runs at every time of [`instants`].
const INSTANT_QUERIES: &[&str] = &[
    "interop_temperature_celsius{instance=\"i01\"}[5m]",
    "interop_batch_job_progress[10m]",
    "interop_edge[2m]",
    "count by (__name__) ({__name__=~\"interop_.+\"})",
    "sum by (instance) (increase(interop_http_requests_total[15m]))",
    "histogram_quantile(0.99, sum by (le) (rate(interop_request_duration_seconds_bucket[10m])))",
    "last_over_time(interop_flaky[20m])",
    "interop_batch_job_progress",
    "count_over_time(interop_batch_job_progress[4h])",
    "count_over_time(interop_request_duration_seconds_bucket[4h])",
    "interop_aligned[1m]",
];

/// Query windows `(name, start s, end s, step s)`: inside the blocks, inside the head
/// (lookback and ranges included), across the boundary, and everything.
fn windows(w: &Workload) -> Vec<(&'static str, f64, f64, f64)> {
    let s = |ms: i64| ms as f64 / 1000.0;
    let b = w.head_start();
    vec![
        ("blocks", s(w.start + 15 * 60_000), s(b - 20 * 60_000), 15.0),
        ("head", s(b + 6 * 60_000), s(w.end), 15.0),
        ("spanning", s(b - 45 * 60_000), s(w.end), 15.0),
        ("all", s(w.start), s(w.end + 60_000), 60.0),
    ]
}

/// Instant-query times (s): before the data, inside the blocks, just before and at the
/// boundary, inside the head, at the end.
fn instants(w: &Workload) -> Vec<f64> {
    let b = w.head_start();
    [
        w.start - 600_000,
        w.start + 30 * 60_000 + 123,
        b - 1,
        b,
        b + 7 * 60_000,
        w.end,
    ]
    .into_iter()
    .map(|ms| ms as f64 / 1000.0)
    .collect()
}

/// Every query's `data.result` from the API at `base`, labelled for messages.
pub(crate) fn answers(base: &str, w: &Workload) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for (name, start, end, step) in windows(w) {
        for q in RANGE_QUERIES {
            let r = api_query_range(base, q, start, end, step);
            out.push((format!("{q} over {name}"), result(&r).clone()));
        }
    }
    for t in instants(w) {
        for q in INSTANT_QUERIES {
            out.push((
                format!("{q} at {t}"),
                result(&api_query(base, q, Some(t))).clone(),
            ));
        }
    }
    for (name, start, end, _) in windows(w) {
        let p = [
            ("start", format!("{start:.3}")),
            ("end", format!("{end:.3}")),
        ];
        let series = get(
            base,
            "/api/v1/series",
            &[&p[..], &[("match[]", "{__name__=~\"interop_.+\"}".into())]].concat(),
        );
        out.push((format!("series over {name}"), sorted(&series["data"])));
        let labels = get(base, "/api/v1/labels", &p);
        out.push((format!("labels over {name}"), labels["data"].clone()));
        let values = get(base, "/api/v1/label/job_id/values", &p);
        out.push((format!("job_id values over {name}"), values["data"].clone()));
    }
    out
}

/// `GET base+path` with query parameters, expecting `status: success`.
fn get(base: &str, path: &str, params: &[(&str, String)]) -> Value {
    let mut req = ureq::get(&format!("{base}{path}"));
    for (k, v) in params {
        req = req.query(*k, v);
    }
    let body = req
        .call()
        .unwrap_or_else(|e| panic!("GET {path}: {e}"))
        .body_mut()
        .read_to_string()
        .expect("body");
    let v: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(v["status"], "success", "{path}: {v}");
    v
}

/// A JSON array sorted by each element's text (for results in unspecified order).
fn sorted(v: &Value) -> Value {
    let mut xs = v.as_array().cloned().unwrap_or_default();
    xs.sort_by_key(Value::to_string);
    Value::Array(xs)
}

/// Asserts that the server at `base` serves every sample of the workload exactly once.
pub(crate) fn assert_sample_count(what: &str, base: &str, w: &Workload) {
    let names: BTreeSet<&str> = w
        .series
        .iter()
        .flat_map(|s| &s.labels)
        .filter(|(n, _)| n == "__name__")
        .map(|(_, v)| v.as_str())
        .collect();
    let mut n = 0.0;
    for name in names {
        // One name per query: `count_over_time` drops it, so names would collide.
        let q = format!("sum(count_over_time({name}[4h]))");
        let r = api_query(base, &q, Some(w.end as f64 / 1000.0));
        let v = result(&r)[0]["value"][1]
            .as_str()
            .and_then(|v| v.parse::<f64>().ok());
        n += v.unwrap_or_else(|| panic!("{what}: {q}: {r}"));
    }
    assert_eq!(n, w.visible_samples() as f64, "{what}: samples served");
}

/// Compares two answer sets; panics listing every difference. Also checks that most
/// answers hold data, so an empty-vs-empty comparison cannot pass unnoticed.
pub(crate) fn assert_same(what: &str, expected: &[(String, Value)], actual: &[(String, Value)]) {
    let mut diffs = Vec::new();
    let mut empty = Vec::new();
    for ((q, a), (_, b)) in expected.iter().zip(actual) {
        if a.as_array().is_some_and(Vec::is_empty) {
            empty.push(q.as_str());
        }
        let same = if q.starts_with("series") || q.starts_with("labels") || q.starts_with("job_id")
        {
            if a == b {
                Ok(())
            } else {
                Err(format!("{a} vs {b}"))
            }
        } else {
            compare_results(a, b)
        };
        if let Err(e) = same {
            diffs.push(format!("{q}: {e}"));
        }
    }
    assert!(
        diffs.is_empty(),
        "{what}: {} of {} answers differ:\n{}",
        diffs.len(),
        expected.len(),
        diffs.join("\n")
    );
    // Only the instant queries before the data are empty.
    assert!(
        empty.len() <= INSTANT_QUERIES.len(),
        "{what}: too many empty answers: {empty:#?}"
    );
}

/// The ULID block directories under `dir` with their `meta.json`.
pub(crate) fn blocks(dir: &Path) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("read data dir").flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let meta = e.path().join("meta.json");
        if name.parse::<Ulid>().is_ok() && meta.is_file() {
            let text = std::fs::read_to_string(&meta).expect("meta.json");
            let meta: Value = serde_json::from_str(&text).expect("meta.json is JSON");
            out.push((name, meta));
        }
    }
    out.sort_by_key(|(_, m)| m["minTime"].as_i64());
    out
}

/// Checks that the blocks cover `[first sample, head_start)` one range each and returns
/// how many there are.
fn assert_block_layout(dir: &Path, w: &Workload, min_blocks: usize) -> usize {
    let bs = blocks(dir);
    let ranges: Vec<(i64, i64)> = bs
        .iter()
        .map(|(_, m)| {
            (
                m["minTime"].as_i64().expect("minTime"),
                m["maxTime"].as_i64().expect("maxTime"),
            )
        })
        .collect();
    assert!(
        bs.len() >= min_blocks,
        "expected {min_blocks} blocks or more in {}: {ranges:?}",
        dir.display()
    );
    let last = ranges.last().expect("a block").1;
    assert_eq!(
        last,
        w.head_start(),
        "the last block ends where the head starts: {ranges:?}"
    );
    // A block ends at a range boundary; the next one starts there (ours) or at its first
    // sample (Prometheus's head minimum after a truncation can be the oldest sample left).
    for pair in ranges.windows(2) {
        assert_eq!(
            pair[0].1 % RANGE_MS,
            0,
            "blocks end on boundaries: {ranges:?}"
        );
        assert!(
            pair[0].1 <= pair[1].0 && pair[1].0 < pair[0].1 + STEP_MS,
            "blocks follow each other: {ranges:?}"
        );
    }
    bs.len()
}

/// Copies a data directory (files and subdirectories; not the lock file).
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create copy");
    for e in std::fs::read_dir(from).expect("read dir").flatten() {
        let (src, dst) = (e.path(), to.join(e.file_name()));
        if e.file_type().expect("file type").is_dir() {
            copy_dir(&src, &dst);
        } else if e.file_name() != "lock" {
            std::fs::copy(&src, &dst).expect("copy file");
        }
    }
}

/// The value of an unlabelled metric in a text exposition.
fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

/// POSTs an RW1 body to `base/api/v1/write`, expecting a 2xx.
fn remote_write(agent: &ureq::Agent, base: &str, body: &[u8]) {
    let mut resp = agent
        .post(&format!("{base}/api/v1/write"))
        .header("Content-Type", "application/x-protobuf")
        .header("Content-Encoding", "snappy")
        .header("X-Prometheus-Remote-Write-Version", "0.1.0")
        .send(body)
        .expect("remote write");
    let status = resp.status();
    let text = resp.body_mut().read_to_string().unwrap_or_default();
    assert!(status.is_success(), "remote write: {status}: {text}");
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

/// Writes the workload into a data directory in-process, compacting the head after every
/// batch (as the server's background compaction would) with small WAL segments, so the
/// directory ends with blocks, a checkpoint and several WAL segments.
fn write_in_process(dir: &Path, w: &Workload) {
    let opts = Options {
        block_range: RANGE_MS,
        wal_segment_size: 1 << 20,
        ..Options::default()
    };
    let db = Db::open(dir, opts, &mut Registry::default()).expect("open db");
    let labels = w.labels();
    let mut refs: Vec<SeriesRef> = vec![0; labels.len()];
    for k0 in (0..SLOTS).step_by(BATCH_SLOTS) {
        let mut app = Appendable::appender(&db);
        for (s, data) in w.series.iter().enumerate() {
            for &(t, v) in data.points[k0..(k0 + BATCH_SLOTS).min(SLOTS)]
                .iter()
                .flatten()
            {
                refs[s] = app.append(refs[s], &labels[s], t, v).expect("append");
            }
        }
        app.commit().expect("commit");
        db.compact_head().expect("compact head");
    }
    db.close().expect("close db");
    let wal = dir.join("wal");
    let names: BTreeSet<String> = std::fs::read_dir(&wal)
        .expect("wal dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    // The head's older samples are in the checkpoint, the newer ones in the segments.
    assert!(
        names.iter().any(|n| n.starts_with("checkpoint.")) && names.len() >= 2,
        "expected a checkpoint and a segment in the WAL: {names:?}"
    );
}

/// `promtool tsdb list DIR`: the blocks Prometheus's own tooling sees, as
/// `(ulid, samples, series)`.
fn promtool_list(bin: &Path, dir: &Path) -> Vec<(String, u64, u64)> {
    let out = Command::new(bin.join("promtool"))
        .args(["tsdb", "list"])
        .arg(dir)
        .output()
        .expect("run promtool");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "promtool tsdb list: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // BLOCK ULID  MIN TIME  MAX TIME  DURATION  NUM SAMPLES  NUM CHUNKS  NUM SERIES  SIZE
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() < 8 {
                return None;
            }
            Some((f[0].to_owned(), f[4].parse().ok()?, f[6].parse().ok()?))
        })
        .collect()
}

/// Warnings Prometheus logs in normal operation: the SIGTERM that stops it, and a head
/// compaction pre-empting level compaction.
const BENIGN_WARNINGS: &[&str] = &[
    "Received an OS signal",
    "aborting block compactions to persist the head block",
];

/// Asserts that a Prometheus log shows no WAL or block trouble: no error, no warning
/// but [`BENIGN_WARNINGS`], no corruption or repair of the WAL.
pub(crate) fn assert_clean_log(path: &Path) {
    let log = std::fs::read_to_string(path).unwrap_or_default();
    let bad: Vec<&str> = log
        .lines()
        .filter(|l| {
            let lower = l.to_ascii_lowercase();
            l.contains("level=ERROR")
                || (l.contains("level=WARN") && !BENIGN_WARNINGS.iter().any(|w| l.contains(w)))
                || lower.contains("corrupt")
                || lower.contains("attempting repair")
        })
        .collect();
    assert!(bad.is_empty(), "Prometheus complained:\n{}", bad.join("\n"));
    assert!(
        log.contains("WAL replay completed"),
        "no WAL replay in:\n{log}"
    );
}

/// tsdbd → Prometheus: a directory written in-process by `tsdb::Db` (blocks, a checkpoint,
/// WAL segments) is opened by tsdbd and by Prometheus 3.5.3; both answer alike, and
/// Prometheus and promtool see every block with its sample count.
#[test]
fn prometheus_opens_our_data_dir_and_answers_alike() {
    let Some(bin) = reference_bin_dir() else {
        return;
    };
    let began = Instant::now();
    let tmp = tempfile::tempdir().expect("tempdir");
    let ours = tmp.path().join("ours");
    let w = Workload::generate();
    write_in_process(&ours, &w);
    let n_blocks = assert_block_layout(&ours, &w, 10);
    eprintln!(
        "wrote {} series, {n_blocks} blocks in {:?}",
        w.series.len(),
        began.elapsed()
    );
    compare_on_our_dir(&bin, tmp.path(), &ours, &w);
    eprintln!("done in {:?}", began.elapsed());
}

/// tsdbd → Prometheus, through the real server: the workload remote-written into tsdbd
/// (10 min blocks), tsdbd stopped; Prometheus 3.5.3 started on a copy of the directory
/// answers as tsdbd restarted on it does.
#[test]
fn prometheus_opens_a_live_tsdbd_data_dir_and_answers_alike() {
    let Some(bin) = reference_bin_dir() else {
        return;
    };
    let began = Instant::now();
    let tmp = tempfile::tempdir().expect("tempdir");
    let ours = tmp.path().join("ours");
    let w = Workload::generate();
    let mut tsdbd = Tsdbd::start_on(&ours, tsdb::testutil::free_port(), TSDBD_FLAGS);
    let agent = agent();
    for body in w.requests() {
        remote_write(&agent, &tsdbd.url(""), &body);
    }
    eprintln!(
        "remote-wrote {} series in {:?}",
        w.series.len(),
        began.elapsed()
    );
    // The compaction thread cuts blocks as soon as the head spans 1.5 block ranges, and
    // merges them by level.
    tsdbd.wait_for("tsdbd's blocks", |_| {
        let bs = blocks(&ours);
        let last = bs.iter().filter_map(|(_, m)| m["maxTime"].as_i64()).max();
        let merged = bs
            .iter()
            .any(|(_, m)| m["compaction"]["level"].as_u64() >= Some(2));
        last == Some(w.head_start()) && merged
    });
    // SIGTERM lets a running compaction cycle finish; then the layout is final.
    assert!(tsdbd.stop().success(), "tsdbd exits 0 on SIGTERM");
    // Level compaction merged the 10 min blocks into 30 and 90 min ones.
    assert_block_layout(&ours, &w, 2);
    let levels: Vec<u64> = blocks(&ours)
        .iter()
        .filter_map(|(_, m)| m["compaction"]["level"].as_u64())
        .collect();
    assert!(levels.iter().any(|&l| l >= 2), "levels {levels:?}");
    compare_on_our_dir(&bin, tmp.path(), &ours, &w);
    eprintln!("done in {:?}", began.elapsed());
}

/// Checks a data directory of ours (written and closed): promtool lists its blocks with
/// their counts; then tsdbd on it and Prometheus on a copy (under `tmp/prom`) load every
/// block, replay the WAL to the last sample and answer every query alike.
fn compare_on_our_dir(bin: &Path, tmp: &Path, ours: &Path, w: &Workload) {
    settle(ours);
    let metas = blocks(ours);
    if !metas.is_empty() {
        let listed = promtool_list(bin, ours);
        assert_eq!(
            listed.len(),
            metas.len(),
            "promtool lists every block: {listed:?}"
        );
        for (ulid, meta) in &metas {
            let stats = &meta["stats"];
            let want = (
                ulid.clone(),
                stats["numSamples"].as_u64().expect("numSamples"),
                stats["numSeries"].as_u64().expect("numSeries"),
            );
            assert!(
                listed.contains(&want),
                "promtool's list {listed:?} lacks {want:?}"
            );
        }
    }

    let theirs_dir = tmp.join("prom");
    copy_dir(ours, &theirs_dir);
    let tsdbd = Tsdbd::start_on(ours, tsdb::testutil::free_port(), TSDBD_FLAGS);
    let prom = Prometheus::start(bin, &theirs_dir, PROM_CONFIG, &[]);
    let metrics = get_text(&format!("{}/metrics", prom.url));
    assert_eq!(
        metric(&metrics, "prometheus_tsdb_blocks_loaded"),
        Some(metas.len() as f64),
        "Prometheus loads every block"
    );
    let status = get(&prom.url, "/api/v1/status/tsdb", &[]);
    let last = w
        .series
        .iter()
        .flat_map(|s| s.points.iter().flatten())
        .map(|p| p.0)
        .max();
    assert_eq!(
        status["data"]["headStats"]["maxTime"].as_i64(),
        last,
        "Prometheus replays our WAL to the last sample"
    );

    assert_sample_count("Prometheus on our directory", &prom.url, w);
    assert_sample_count("tsdbd on our directory", &tsdbd.url(""), w);
    let expected = answers(&prom.url, w);
    let actual = answers(&tsdbd.url(""), w);
    assert_same("tsdbd vs Prometheus on our directory", &expected, &actual);
    prom.stop();
    assert_clean_log(&theirs_dir.with_extension("log"));
    assert!(tsdbd.stop().success(), "tsdbd exits 0 on SIGTERM");
    eprintln!("compared {} answers", expected.len());
}

/// Runs tsdbd on `dir` until its compaction loop leaves the blocks alone (it merges the
/// 10 min blocks by level), so that Prometheus, started on a copy afterwards, holds the
/// same blocks: label names and values are answered per block, so two layouts of the
/// same samples may answer those differently.
fn settle(dir: &Path) {
    let mut tsdbd = Tsdbd::start_on(dir, tsdb::testutil::free_port(), TSDBD_FLAGS);
    tsdbd.wait_ready();
    let ids = || blocks(dir).into_iter().map(|(u, _)| u).collect::<Vec<_>>();
    let began = Instant::now();
    let (mut last, mut since) = (ids(), Instant::now());
    while since.elapsed() < Duration::from_secs(3) && began.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(200));
        let now = ids();
        if now != last {
            (last, since) = (now, Instant::now());
        }
    }
    assert!(tsdbd.stop().success(), "tsdbd exits 0 on SIGTERM");
}

/// Prometheus → tsdbd: Prometheus 3.5.3 receives the workload by remote write with 10 min
/// blocks, writes blocks and truncates its WAL behind a checkpoint; tsdbd started on a
/// copy of its directory after a SIGTERM answers as Prometheus did.
#[test]
fn tsdbd_opens_a_prometheus_data_dir_and_answers_alike() {
    let Some(bin) = reference_bin_dir() else {
        return;
    };
    let began = Instant::now();
    let tmp = tempfile::tempdir().expect("tempdir");
    let theirs_dir = tmp.path().join("prom");
    let w = Workload::generate();
    let (prom, expected, n_blocks) = prometheus_writes(&bin, &theirs_dir, &w);
    prom.stop();
    assert_clean_log(&theirs_dir.with_extension("log"));
    let wal: BTreeSet<String> = std::fs::read_dir(theirs_dir.join("wal"))
        .expect("wal")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        wal.iter().any(|n| n.starts_with("checkpoint.")),
        "expected a checkpoint in Prometheus's WAL: {wal:?}"
    );
    eprintln!("Prometheus wrote {n_blocks} blocks; its WAL holds {wal:?}");

    let ours = tmp.path().join("ours");
    copy_dir(&theirs_dir, &ours);
    let tsdbd = Tsdbd::start_on(&ours, tsdb::testutil::free_port(), TSDBD_ON_PROM_FLAGS);
    let metrics = get_text(&tsdbd.url("/metrics"));
    assert_eq!(
        metric(&metrics, "tsdbd_tsdb_blocks_loaded"),
        Some(n_blocks as f64),
        "tsdbd loads every block Prometheus wrote"
    );
    assert_sample_count("tsdbd on Prometheus's directory", &tsdbd.url(""), &w);
    let actual = answers(&tsdbd.url(""), &w);
    assert_same("tsdbd on Prometheus's directory", &expected, &actual);
    assert!(tsdbd.stop().success(), "tsdbd exits 0 on SIGTERM");
    eprintln!(
        "compared {} answers in {:?}",
        expected.len(),
        began.elapsed()
    );
}

/// Prometheus 3.5.3 started on `theirs_dir` receives the workload by remote write with
/// 10 min blocks, writing blocks and truncating its WAL behind a checkpoint. Returns the
/// running server, its answers to every query, and how many blocks it wrote.
pub(crate) fn prometheus_writes(
    bin: &Path,
    theirs_dir: &Path,
    w: &Workload,
) -> (Prometheus, Vec<(String, Value)>, usize) {
    let began = Instant::now();
    let prom = Prometheus::start(
        bin,
        theirs_dir,
        PROM_CONFIG,
        &[
            "--web.enable-remote-write-receiver",
            "--storage.tsdb.min-block-duration=10m",
            "--storage.tsdb.max-block-duration=10m",
        ],
    );
    let agent = agent();
    for body in w.requests() {
        remote_write(&agent, &prom.url, &body);
        // Prometheus compacts its head after the commit that made it span more than 1.5
        // ranges, then truncates its WAL (a new segment each time). Waiting for that after
        // every request, as a live server would see it, gives the WAL enough segments for
        // a checkpoint.
        wait_head_compacted(&prom);
    }
    eprintln!(
        "remote-wrote {} series in {:?}",
        w.series.len(),
        began.elapsed()
    );
    let last_block_end = blocks(theirs_dir)
        .last()
        .and_then(|(_, m)| m["maxTime"].as_i64());
    assert_eq!(
        last_block_end,
        Some(w.head_start()),
        "Prometheus's blocks end where its head starts"
    );
    let n_blocks = assert_block_layout(theirs_dir, w, 10);
    assert_sample_count("Prometheus", &prom.url, w);
    let expected = answers(&prom.url, w);
    (prom, expected, n_blocks)
}

/// Waits until Prometheus's head spans at most 1.5 block ranges, that is until the
/// compaction a commit triggered has written its blocks and truncated the head.
fn wait_head_compacted(prom: &Prometheus) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = get(&prom.url, "/api/v1/status/tsdb", &[]);
        let head = &status["data"]["headStats"];
        let (min, max) = (head["minTime"].as_i64(), head["maxTime"].as_i64());
        if let (Some(min), Some(max)) = (min, max)
            && max - min <= RANGE_MS / 2 * 3
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus did not compact its head: {head}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The body of `GET url` as text.
fn get_text(url: &str) -> String {
    ureq::get(url)
        .call()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"))
        .body_mut()
        .read_to_string()
        .expect("body")
}

/// tsdbd with an S3 bucket (s3s-fs on loopback) and a local retention of 30 min: every
/// block it writes is uploaded, old blocks leave the local disk, and every sample is
/// still served, from the bucket, also after a restart.
#[test]
fn tsdbd_ships_blocks_to_s3_and_serves_old_ones_from_the_bucket() {
    let Some(s3) = tsdb::testutil::S3Server::start() else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let ours = tmp.path().join("ours");
    let config = tmp.path().join("tsdbd.toml");
    std::fs::write(
        &config,
        format!(
            "[compaction]\ninterval = \"1s\"\nlocal_retention = \"30m\"\ndeletion_delay = \"1h\"\n\
             [bucket]\nurl = \"{}\"\nendpoint = \"{}\"\nregion = \"us-east-1\"\n\
             access_key_id = \"{}\"\nsecret_access_key = \"{}\"\nallow_http = true\n",
            s3.url("tsdbd"),
            s3.endpoint,
            s3.access_key,
            s3.secret_key
        ),
    )
    .expect("write config");
    let config = config.display().to_string();
    let flags = [
        "--storage.tsdb.min-block-duration",
        "10m",
        "--config.file",
        config.as_str(),
    ];
    let in_bucket = || -> BTreeSet<String> {
        let dir = s3.bucket_dir().join("tsdbd");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return BTreeSet::new();
        };
        entries
            .flatten()
            .filter(|e| e.path().join("meta.json").exists())
            .filter(|e| !e.path().join("deletion-mark.json").exists())
            .filter_map(|e| e.file_name().to_str().map(str::to_owned))
            .collect()
    };
    let local = |dir: &Path| -> BTreeSet<String> { blocks(dir).into_iter().map(|b| b.0).collect() };

    let w = Workload::generate();
    let mut tsdbd = Tsdbd::start_on(&ours, tsdb::testutil::free_port(), &flags);
    let agent = agent();
    for body in w.requests() {
        remote_write(&agent, &tsdbd.url(""), &body);
    }
    tsdbd.wait_for("old blocks in the bucket only", |t| {
        let (l, b) = (local(&ours), in_bucket());
        let served = metric(
            &get_text(&t.url("/metrics")),
            "tsdbd_tsdb_remote_blocks_loaded",
        );
        !l.is_empty() && l.is_subset(&b) && b.len() > l.len() && served >= Some(1.0)
    });
    assert_sample_count(
        "tsdbd with old blocks in the bucket only",
        &tsdbd.url(""),
        &w,
    );
    assert!(tsdbd.stop().success(), "tsdbd exits 0 on SIGTERM");

    let mut tsdbd = Tsdbd::start_on(&ours, tsdb::testutil::free_port(), &flags);
    tsdbd.wait_for("bucket blocks served after a restart", |t| {
        metric(
            &get_text(&t.url("/metrics")),
            "tsdbd_tsdb_remote_blocks_loaded",
        ) >= Some(1.0)
    });
    assert_sample_count("tsdbd restarted", &tsdbd.url(""), &w);
    assert!(tsdbd.stop().success(), "tsdbd exits 0 on SIGTERM");
}
