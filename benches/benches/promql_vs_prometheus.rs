//! PromQL engine against the reference Prometheus 3.5.3, side by side on the same data.
//!
//! Generates Kubernetes-like data (`BENCH_SERIES` counters `http_requests_total{job,
//! instance, pod, code}`, default 10 000, one memory gauge per pod, and 200 classic
//! histograms × 12 buckets, 2 h at 15 s), writes it as OpenMetrics text, converts it with `promtool tsdb create-blocks-from
//! openmetrics` and serves it with `prometheus` on loopback; the same samples go into our
//! in-memory `tsdb::Head`. Each query runs once to warm up and then 5 times on each side;
//! the table shows medians. Prometheus's time is the engine's own `execTotalTime` from
//! `stats=all` (query preparation, storage access, evaluation and sorting, but not HTTP or
//! JSON encoding); ours is the whole in-process `Engine::range_query`/`instant_query` call.
//! As a sanity check the last column compares the two results: label sets, timestamps and
//! the largest relative difference between values. The last line is the geometric mean of
//! the per-query ratios. `BENCH_QUERIES=text` runs only the queries containing `text`.

use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::path::Path;
use std::time::{Duration, Instant};

use benches::dashboard::{self, Names, Query, median};
use benches::server::{Kind, Server, Settings};
use prometheus_client::registry::Registry;
use promql::value::Value;
use promql::{Engine, EngineOptions, QueryContext};
use tsdb::Head;
use tsdb::labels::Labels;
use tsdb::testutil::reference_bin_dir;

/// Start of the data (ms): 2023-11-14T22:13:20Z.
const T0: i64 = 1_700_000_000_000;
/// Scrape interval (ms).
const SCRAPE: i64 = 15_000;
/// Samples per series: 2 h at 15 s.
const STEPS: i64 = 480;
/// Timestamp of the last sample.
const TEND: i64 = T0 + (STEPS - 1) * SCRAPE;
/// Classic histograms, each with the 12 buckets below.
const HISTOGRAMS: usize = 200;
/// Bucket bounds as Prometheus normalises them.
const LE: [&str; 12] = [
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1.0", "2.5", "5.0", "10.0", "+Inf",
];
/// Share of observations at or below each bound.
const CDF: [f64; 12] = [
    0.02, 0.05, 0.12, 0.25, 0.45, 0.70, 0.85, 0.93, 0.97, 0.99, 0.998, 1.0,
];
/// Status codes; each pod has one counter per code.
const CODES: [&str; 5] = ["200", "201", "404", "500", "503"];
/// Measured runs per query and side (after one warm-up); `BENCH_RUNS` overrides it.
const RUNS: usize = 5;

/// One generated series: family, labels (`__name__` first) and one value per scrape.
struct Gen {
    family: &'static str,
    kind: &'static str,
    labels: Vec<(String, String)>,
    values: Vec<f64>,
}

/// A deterministic pseudo-random sequence (64-bit LCG).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
}

/// `n` counters and the histograms (values print exactly in OpenMetrics text).
fn generate(n: usize) -> Vec<Gen> {
    let mut rng = Lcg(42);
    let mut out = Vec::with_capacity(n + HISTOGRAMS * LE.len());
    for i in 0..n {
        let pod = i / CODES.len();
        let code = CODES[i % CODES.len()];
        let labels = vec![
            ("__name__".to_string(), "http_requests_total".to_string()),
            ("job".to_string(), format!("job-{}", pod % 20)),
            (
                "instance".to_string(),
                format!("10.1.{}.{}:8080", pod / 250, pod % 250),
            ),
            ("pod".to_string(), format!("app-{pod}-7d9f8b")),
            ("code".to_string(), code.to_string()),
        ];
        let base = if code.starts_with('2') { 15 } else { 1 };
        let mut v = (rng.next() % 1000) as f64;
        // A small irregular per-series fraction, so no two pods have exactly the same rate
        // (`topk` breaks ties differently in the two engines).
        let frac = (i as f64 * 0.618_033_988_749_895).fract() * 1e-3;
        let values = (0..STEPS)
            .map(|k| {
                // One series in 97 restarts half way through (a counter reset).
                if k == STEPS / 2 && i % 97 == 0 {
                    v = 0.0;
                }
                v += (base * (1 + i % 10) as u64 + rng.next() % 7) as f64 + frac;
                v
            })
            .collect();
        out.push(Gen {
            family: "http_requests",
            kind: "counter",
            labels,
            values,
        });
    }
    // One memory gauge per pod: a slow random walk around a per-pod level.
    for pod in 0..n / CODES.len() {
        let mut v = (64 + rng.next() % 960) as f64 * 1_048_576.0;
        let values = (0..STEPS)
            .map(|_| {
                v += (rng.next() % 2_049) as f64 * 1024.0 - 1_048_576.0;
                v = v.max(1_048_576.0);
                v
            })
            .collect();
        out.push(Gen {
            family: "container_memory_working_set_bytes",
            kind: "gauge",
            labels: vec![
                (
                    "__name__".to_string(),
                    "container_memory_working_set_bytes".to_string(),
                ),
                ("job".to_string(), format!("job-{}", pod % 20)),
                (
                    "instance".to_string(),
                    format!("10.1.{}.{}:8080", pod / 250, pod % 250),
                ),
                ("pod".to_string(), format!("app-{pod}-7d9f8b")),
                ("container".to_string(), "app".to_string()),
            ],
            values,
        });
    }
    for h in 0..HISTOGRAMS {
        let mut observations = 0.0;
        let totals: Vec<f64> = (0..STEPS)
            .map(|_| {
                observations += (50 + rng.next() % 50) as f64;
                observations
            })
            .collect();
        for (le, share) in LE.iter().zip(CDF) {
            out.push(Gen {
                family: "request_duration_seconds",
                kind: "histogram",
                labels: vec![
                    (
                        "__name__".to_string(),
                        "request_duration_seconds_bucket".to_string(),
                    ),
                    ("job".to_string(), format!("job-{}", h % 10)),
                    ("instance".to_string(), format!("10.2.0.{h}:8080")),
                    ("pod".to_string(), format!("api-{h}-5c6d7e")),
                    ("le".to_string(), le.to_string()),
                ],
                values: totals.iter().map(|o| (o * share).floor()).collect(),
            });
        }
    }
    out
}

/// Writes the data as OpenMetrics text, one family block each, series one after another.
fn write_openmetrics(data: &[Gen], path: &Path) {
    let mut w = BufWriter::new(File::create(path).expect("create OpenMetrics file"));
    let mut family = "";
    for s in data {
        if s.family != family {
            family = s.family;
            writeln!(w, "# TYPE {} {}", s.family, s.kind).expect("write");
        }
        let rest: Vec<String> = s.labels[1..]
            .iter()
            .map(|(n, v)| format!("{n}=\"{v}\""))
            .collect();
        let series = format!("{}{{{}}}", s.labels[0].1, rest.join(","));
        for (k, v) in s.values.iter().enumerate() {
            let t = T0 + k as i64 * SCRAPE;
            writeln!(w, "{series} {v:?} {}.{:03}", t / 1000, t % 1000).expect("write");
        }
    }
    writeln!(w, "# EOF").expect("write");
    w.flush().expect("flush");
}

/// Loads the data into a fresh in-memory head, one appender per timestamp.
fn load_head(data: &[Gen]) -> Head {
    let head = Head::new(
        &tsdb::Options {
            wal_enabled: false,
            block_range: 24 * 3600 * 1000,
            ..Default::default()
        },
        &mut Registry::default(),
    )
    .expect("head");
    let labels: Vec<Labels> = data.iter().map(|s| Labels::from_pairs(&s.labels)).collect();
    let mut refs = vec![0u64; data.len()];
    for k in 0..STEPS as usize {
        let t = T0 + k as i64 * SCRAPE;
        let mut app = head.appender();
        for (i, s) in data.iter().enumerate() {
            refs[i] = app
                .add(refs[i], &labels[i], t, s.values[k])
                .expect("append");
        }
        app.commit_batch().expect("commit");
    }
    head
}

/// A query result: each series's labels (as text) and points `(t ms, value)`.
type Series = Vec<(String, Vec<(i64, f64)>)>;

/// Milliseconds as the API's seconds.
fn api_seconds(t: i64) -> String {
    format!("{}.{:03}", t / 1000, t % 1000)
}

/// Runs `q` against Prometheus: (engine `execTotalTime` in ms, HTTP round trip in ms,
/// result).
fn prometheus_run(agent: &ureq::Agent, url: &str, q: &Query) -> (f64, f64, Series) {
    let req = if q.step > 0 {
        agent
            .get(format!("{url}/api/v1/query_range"))
            .query("query", &q.expr)
            .query("start", api_seconds(T0))
            .query("end", api_seconds(TEND))
            .query("step", api_seconds(q.step))
    } else {
        agent
            .get(format!("{url}/api/v1/query"))
            .query("query", &q.expr)
            .query("time", api_seconds(TEND))
    }
    .query("stats", "all");
    let started = Instant::now();
    let mut resp = req.call().unwrap_or_else(|e| panic!("{}: {e}", q.expr));
    let body = resp
        .body_mut()
        .with_config()
        .limit(u64::MAX)
        .read_to_string()
        .expect("response body");
    let http = started.elapsed().as_secs_f64() * 1e3;
    let j: serde_json::Value = serde_json::from_str(&body).expect("response JSON");
    assert_eq!(j["status"], "success", "{}: {body}", q.expr);
    let exec = j["data"]["stats"]["timings"]["execTotalTime"]
        .as_f64()
        .unwrap_or_else(|| panic!("no execTotalTime in {}", j["data"]["stats"]));
    let series = j["data"]["result"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|s| {
                    let pairs: Vec<(String, String)> = s["metric"]
                        .as_object()
                        .map(|m| {
                            m.iter()
                                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                                .collect()
                        })
                        .unwrap_or_default();
                    let point = |p: &serde_json::Value| {
                        let t = (p[0].as_f64().unwrap_or(0.0) * 1e3).round() as i64;
                        let v = p[1].as_str().and_then(|v| v.parse().ok());
                        (t, v.unwrap_or(f64::NAN))
                    };
                    let points = match s["values"].as_array() {
                        Some(vs) => vs.iter().map(point).collect(),
                        None => vec![point(&s["value"])],
                    };
                    (Labels::from_pairs(&pairs).to_string(), points)
                })
                .collect()
        })
        .unwrap_or_default();
    (exec * 1e3, http, series)
}

/// Runs `q` against our engine: (ms, result).
fn ours_run(engine: &Engine, head: &Head, q: &Query) -> (f64, Series) {
    let ctx = QueryContext::default();
    let started = Instant::now();
    let res = if q.step > 0 {
        engine.range_query(head, &q.expr, T0, TEND, q.step, &ctx)
    } else {
        engine.instant_query(head, &q.expr, TEND, &ctx)
    };
    let ms = started.elapsed().as_secs_f64() * 1e3;
    let res = res.unwrap_or_else(|e| panic!("{}: {e}", q.expr));
    let series = match &res.value {
        Value::Matrix(m) => m
            .iter()
            .map(|s| (s.labels.to_string(), s.points.clone()))
            .collect(),
        Value::Vector(v) => v
            .iter()
            .map(|s| (s.labels.to_string(), vec![(s.t, s.v)]))
            .collect(),
        _ => Vec::new(),
    };
    (ms, series)
}

fn main() {
    let n: usize = std::env::var("BENCH_SERIES")
        .ok()
        .map(|s| s.parse().expect("BENCH_SERIES must be a number"))
        .unwrap_or(10_000);
    let bin =
        reference_bin_dir().expect("the reference Prometheus 3.5.3 is needed for this benchmark");
    let started = Instant::now();
    let data = generate(n);
    let dir = tempfile::tempdir().expect("temp dir");
    let om = dir.path().join("data.om");
    write_openmetrics(&data, &om);
    let prom_dir = dir.path().join("prom");
    tsdb::testutil::create_blocks_from_openmetrics(&bin, &om, &prom_dir);
    std::fs::remove_file(&om).expect("remove OpenMetrics file");
    eprintln!("blocks written in {:.1?}", started.elapsed());
    let prom = Server::start(
        Kind::Prometheus,
        &bin.join("prometheus"),
        &prom_dir,
        &Settings {
            retention: Some(Duration::from_secs(100 * 365 * 86_400)),
            query_max_samples: Some(500_000_000),
            ..Settings::default()
        },
        Duration::from_secs(120),
    )
    .expect("start Prometheus");
    let prom_url = prom.url();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(600)))
        .build()
        .into();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let url = format!(
            "{}/api/v1/query?query=count(http_requests_total)&time={}",
            prom_url,
            api_seconds(TEND)
        );
        let body = agent
            .get(&url)
            .call()
            .ok()
            .and_then(|mut r| r.body_mut().read_to_string().ok());
        let got = body
            .and_then(|b| serde_json::from_str::<serde_json::Value>(&b).ok())
            .and_then(|j| {
                j["data"]["result"][0]["value"][1]
                    .as_str()
                    .map(String::from)
            });
        if got.as_deref() == Some(n.to_string().as_str()) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus serves {got:?} counters, want {n}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let head = load_head(&data);
    drop(data);
    eprintln!(
        "Prometheus ready and head loaded in {:.1?}",
        started.elapsed()
    );
    let engine = Engine::new(EngineOptions {
        max_samples: 500_000_000,
        ..EngineOptions::default()
    });

    let queries = dashboard::queries(&Names {
        histogram_bucket: "request_duration_seconds_bucket",
        pod_regex: "app-1.*",
    });
    let only = std::env::var("BENCH_QUERIES").ok();
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .map(|s| s.parse().expect("BENCH_RUNS must be a number"))
        .unwrap_or(RUNS);
    println!(
        "\n{n} counters + {HISTOGRAMS}×{} histogram buckets, 2 h at 15 s; median of {runs} runs after 1 warm-up\n",
        LE.len()
    );
    println!(
        "| query | kind | Prometheus ms (execTotalTime) | Prometheus HTTP ms | ours ms | ratio (Prom / ours) | series (Prom / ours); check |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    let mut log_ratios = Vec::new();
    for q in &queries {
        if let Some(only) = &only
            && !q.expr.contains(only.as_str())
        {
            continue;
        }
        let (_, _, prom_series) = prometheus_run(&agent, &prom_url, q);
        let (_, our_series) = ours_run(&engine, &head, q);
        let (mut prom_exec, mut prom_http, mut ours) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..runs {
            let (e, h, _) = prometheus_run(&agent, &prom_url, q);
            prom_exec.push(e);
            prom_http.push(h);
        }
        for _ in 0..runs {
            ours.push(ours_run(&engine, &head, q).0);
        }
        let (p, h, o) = (median(prom_exec), median(prom_http), median(ours));
        log_ratios.push((p / o).ln());
        let kind = if q.step > 0 {
            format!("range, step {}s", q.step / 1000)
        } else {
            "instant".to_string()
        };
        let (mut a, mut b) = (prom_series.clone(), our_series.clone());
        a.sort_by(|x, y| x.0.cmp(&y.0));
        b.sort_by(|x, y| x.0.cmp(&y.0));
        let a_names: Vec<&String> = a.iter().map(|s| &s.0).collect();
        let b_names: Vec<&String> = b.iter().map(|s| &s.0).collect();
        let agree = if a_names == b_names {
            // Largest relative difference between matching points; a differing timestamp
            // counts as infinite.
            let mut worst = 0.0f64;
            for (x, y) in a.iter().zip(&b) {
                if x.1.len() != y.1.len() {
                    worst = f64::INFINITY;
                }
                for ((tx, vx), (ty, vy)) in x.1.iter().zip(&y.1) {
                    let d = if tx != ty {
                        f64::INFINITY
                    } else if vx == vy || (vx.is_nan() && vy.is_nan()) {
                        0.0
                    } else {
                        (vx - vy).abs() / vx.abs().max(vy.abs())
                    };
                    worst = worst.max(d);
                }
            }
            format!("; max rel. value diff {worst:.1e}")
        } else {
            let (a, b) = (a_names, b_names);
            let only_prom: Vec<&String> = a
                .iter()
                .copied()
                .filter(|s| !b.contains(s))
                .take(3)
                .collect();
            let only_ours: Vec<&String> = b
                .iter()
                .copied()
                .filter(|s| !a.contains(s))
                .take(3)
                .collect();
            eprintln!(
                "{}: only Prometheus {only_prom:?}, only ours {only_ours:?}",
                q.expr
            );
            "; label sets differ".to_string()
        };
        println!(
            "| `{}` | {kind} | {p:.1} | {h:.1} | {o:.1} | {:.2} | {} / {}{agree} |",
            q.expr,
            p / o,
            prom_series.len(),
            our_series.len()
        );
    }
    if !log_ratios.is_empty() {
        let geo = (log_ratios.iter().sum::<f64>() / log_ratios.len() as f64).exp();
        println!(
            "\ngeometric mean of the ratios over {} queries: {geo:.2}",
            log_ratios.len()
        );
    }
    drop(prom);
}
