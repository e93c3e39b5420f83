//! Differential test: the same queries over the same samples, evaluated by our engine and by
//! the reference Prometheus 3.5.3, must give the same results.
//!
//! A deterministic, Kubernetes-like data set (counters with resets, gauges with negative and
//! special values, classic histograms, series that stop or pause) is written as OpenMetrics
//! text, turned into blocks with `promtool tsdb create-blocks-from openmetrics`, and served by
//! a Prometheus on loopback. The same samples go into our in-memory [`tsdb::Head`]. Every
//! query of [`QUERIES`] and of [`generated`] then runs as instant queries at several times and as range queries,
//! and the results are compared value by value.
//!
//! Queries where our engine is known to disagree with Prometheus live in
//! [`KNOWN_DIFFERENCES`], with the reason; the test asserts that they still differ, so a fix
//! in the engine makes the test fail until the entry moves back to [`QUERIES`].

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::process::Command;
use std::time::{Duration, Instant};

use prometheus_client::registry::Registry;
use promql::value::Value;
use promql::{Engine, EngineOptions, QueryContext};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tsdb::ErrorKind;
use tsdb::labels::Labels;

use crate::reference::{Prometheus, reference_bin_dir};

/// The query list.
mod queries;

use queries::{QUERIES, generated};

/// Timestamp of the first sample (ms): 2023-11-14T22:13:20Z.
const T0: i64 = 1_700_000_000_000;
/// Nominal scrape interval (ms); each sample gets a little jitter on top.
const INTERVAL: i64 = 15_000;
/// Samples per series that runs for the whole data set (two hours).
const STEPS: i64 = 480;

/// Fixed instant-query evaluation times (ms): 5m into the data (a `[5m]` window reaching
/// back exactly to the first grid sample), on the grid, off the grid, just after the last
/// scrape, and 4m after it (inside the 5m lookback, when only unstopped series remain).
/// [`instant_times`] adds times on the lookback boundary of a series that stops.
const INSTANT_TIMES: [i64; 5] = [
    T0 + 300_000,
    T0 + 1_800_000,
    T0 + 3_667_500,
    T0 + 7_190_000,
    T0 + 7_440_000,
];

/// Range queries `(start, end, step)` in ms: the last hour and a bit past the data's end at
/// 60s, the data's first 20 minutes at an odd 17s step, 15 minutes on the scrape grid, a
/// single step, and 25m steps from before the data's start to after its end.
const RANGES: [(i64, i64, i64); 5] = [
    (T0 + 3_603_000, T0 + 7_500_000, 60_000),
    (T0 + 300_000, T0 + 1_500_000, 17_000),
    (T0 + 3_000_000, T0 + 3_900_000, 15_000),
    (T0 + 1_800_000, T0 + 1_800_000, 60_000),
    (T0 - 600_000, T0 + 9_000_000, 1_500_000),
];

/// Evaluation times of the instant queries: [`INSTANT_TIMES`], then exactly 5m after the
/// last sample of the batch job that stops (out of the left-open lookback window) and 1ms
/// earlier (inside it).
fn instant_times(data: &[GenSeries]) -> Vec<i64> {
    let stopped = data
        .iter()
        .find(|s| s.labels.iter().any(|(n, v)| n == "instance" && v == "b1"))
        .expect("series b1");
    let last = stopped.samples.last().expect("samples").0;
    let mut times = INSTANT_TIMES.to_vec();
    times.extend([last + 300_000, last + 299_999]);
    times
}

/// Upper bounds of the classic histogram, written as Prometheus normalises `le` values.
const LE: [&str; 12] = [
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1.0", "2.5", "5.0", "10.0", "+Inf",
];

/// One generated series.
struct GenSeries {
    /// The OpenMetrics family it belongs to.
    family: &'static str,
    /// The family's OpenMetrics type.
    kind: &'static str,
    /// Labels, `__name__` included.
    labels: Vec<(String, String)>,
    /// `(t ms, value)` in time order.
    samples: Vec<(i64, f64)>,
}

/// Builds label pairs from a metric name and `(name, value)` pairs.
fn labels(name: &str, pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut out = vec![("__name__".to_string(), name.to_string())];
    out.extend(pairs.iter().map(|(n, v)| (n.to_string(), v.to_string())));
    out
}

/// The timestamp of scrape `i`: the nominal time plus up to 400ms of jitter, kept only when
/// promtool's `int64(seconds * 1000)` conversion of the printed seconds gives it back.
fn scrape_time(rng: &mut StdRng, i: i64) -> i64 {
    let t = T0 + i * INTERVAL + rng.random_range(0..400);
    if om_seconds(t).parse::<f64>().expect("own format") * 1000.0 == t as f64 {
        t
    } else {
        T0 + i * INTERVAL
    }
}

/// The timestamp of scrape `i` exactly on the 15s grid, for series whose samples sit on
/// window and lookback boundaries.
fn grid_time(i: i64) -> i64 {
    T0 + i * INTERVAL
}

/// A timestamp in ms as OpenMetrics seconds with millisecond precision.
fn om_seconds(t: i64) -> String {
    format!("{}.{:03}", t / 1000, t % 1000)
}

/// The deterministic data set.
fn generate() -> Vec<GenSeries> {
    let mut rng = StdRng::seed_from_u64(0x5eed_0001);
    // Shared scrape times per "target" would be more realistic, but independent jitter per
    // series exercises more of the extrapolation code.
    let mut out = Vec::new();

    // Request counters with occasional resets; one target disappears, one appears late.
    for job in ["api", "web"] {
        for inst in 1..=4 {
            let instance = format!("10.0.0.{inst}:8080");
            for method in ["GET", "POST"] {
                for code in ["200", "404", "500"] {
                    let rate: f64 = match code {
                        "200" => rng.random_range(5.0..40.0),
                        "404" => rng.random_range(0.2..3.0),
                        _ => rng.random_range(0.0..0.8),
                    };
                    let (from, to) = match (job, inst) {
                        ("web", 3) => (0, 384),
                        ("api", 2) => (40, STEPS),
                        _ => (0, STEPS),
                    };
                    let mut v: f64 = rng.random_range(0..1000) as f64;
                    let mut samples = Vec::new();
                    for i in from..to {
                        if rng.random_bool(0.004) {
                            v = rng.random_range(0..3) as f64;
                        } else {
                            v += (rate * 15.0 * rng.random_range(0.5..1.5)).round();
                        }
                        samples.push((scrape_time(&mut rng, i), v));
                    }
                    out.push(GenSeries {
                        family: "http_requests",
                        kind: "counter",
                        labels: labels(
                            "http_requests_total",
                            &[
                                ("job", job),
                                ("instance", &instance),
                                ("method", method),
                                ("code", code),
                            ],
                        ),
                        samples,
                    });
                }
            }
        }
    }

    // CPU seconds per mode, float counters.
    for inst in 1..=4 {
        let instance = format!("node-{inst}:9100");
        for cpu in 0..4 {
            let cpu = cpu.to_string();
            for (mode, share) in [("idle", 0.7), ("user", 0.2), ("system", 0.1)] {
                let mut v: f64 = rng.random_range(1000.0..100000.0);
                let samples = (0..STEPS)
                    .map(|i| {
                        v += 15.0 * share * rng.random_range(0.6..1.4);
                        (scrape_time(&mut rng, i), v)
                    })
                    .collect();
                out.push(GenSeries {
                    family: "node_cpu_seconds",
                    kind: "counter",
                    labels: labels(
                        "node_cpu_seconds_total",
                        &[("instance", &instance), ("cpu", &cpu), ("mode", mode)],
                    ),
                    samples,
                });
            }
        }
    }

    // Large integer gauges.
    for inst in 1..=4 {
        let instance = format!("node-{inst}:9100");
        let mut v: f64 = rng.random_range(4e9..16e9_f64).round();
        let samples = (0..STEPS)
            .map(|i| {
                v += rng.random_range(-1e7..1.2e7_f64).round();
                (grid_time(i), v)
            })
            .collect();
        out.push(GenSeries {
            family: "node_memory_bytes",
            kind: "gauge",
            labels: labels(
                "node_memory_bytes",
                &[("job", "node"), ("instance", &instance)],
            ),
            samples,
        });
    }

    // Temperatures, some below zero.
    for location in ["dc1", "dc2"] {
        for sensor in ["a", "b", "c", "d"] {
            let mut v: f64 = rng.random_range(-15.0..35.0);
            let samples = (0..STEPS)
                .map(|i| {
                    v += rng.random_range(-0.5..0.5);
                    (scrape_time(&mut rng, i), v)
                })
                .collect();
            out.push(GenSeries {
                family: "temperature",
                kind: "gauge",
                labels: labels("temperature", &[("location", location), ("sensor", sensor)]),
                samples,
            });
        }
    }

    // Values in [-1, 1] for the inverse trigonometric functions.
    for inst in 1..=4 {
        let instance = format!("r{inst}");
        let phase: f64 = rng.random_range(0.0..6.0);
        let samples = (0..STEPS)
            .map(|i| {
                let v = ((i as f64) / 20.0 + phase).sin() * rng.random_range(0.8..1.0);
                (scrape_time(&mut rng, i), v)
            })
            .collect();
        out.push(GenSeries {
            family: "ratio",
            kind: "gauge",
            labels: labels("ratio", &[("instance", &instance)]),
            samples,
        });
    }

    // A classic histogram per target; one target's counters reset halfway.
    let bounds: Vec<f64> = LE
        .iter()
        .map(|b| match *b {
            "+Inf" => f64::INFINITY,
            b => b.parse().expect("bound"),
        })
        .collect();
    for (job, mean) in [("api", 0.08), ("web", 0.4)] {
        for inst in 1..=3 {
            let instance = format!("10.0.0.{inst}:8080");
            let mut buckets = vec![0.0; LE.len()];
            let (mut sum, mut count) = (0.0, 0.0);
            let mut rows: Vec<(i64, Vec<f64>, f64, f64)> = Vec::new();
            for i in 0..STEPS {
                if job == "web" && inst == 2 && i == 240 {
                    buckets.iter_mut().for_each(|b| *b = 0.0);
                    (sum, count) = (0.0, 0.0);
                }
                for _ in 0..rng.random_range(5..50) {
                    let u: f64 = rng.random_range(1e-9..1.0);
                    let d = -u.ln() * mean;
                    sum += d;
                    count += 1.0;
                    for (b, le) in buckets.iter_mut().zip(&bounds) {
                        if d <= *le {
                            *b += 1.0;
                        }
                    }
                }
                rows.push((scrape_time(&mut rng, i), buckets.clone(), sum, count));
            }
            let base = [("job", job), ("instance", instance.as_str())];
            for (k, le) in LE.iter().enumerate() {
                let mut pairs = base.to_vec();
                pairs.push(("le", le));
                out.push(GenSeries {
                    family: "request_duration_seconds",
                    kind: "histogram",
                    labels: labels("request_duration_seconds_bucket", &pairs),
                    samples: rows.iter().map(|r| (r.0, r.1[k])).collect(),
                });
            }
            out.push(GenSeries {
                family: "request_duration_seconds",
                kind: "histogram",
                labels: labels("request_duration_seconds_sum", &base),
                samples: rows.iter().map(|r| (r.0, r.2)).collect(),
            });
            out.push(GenSeries {
                family: "request_duration_seconds",
                kind: "histogram",
                labels: labels("request_duration_seconds_count", &base),
                samples: rows.iter().map(|r| (r.0, r.3)).collect(),
            });
        }
    }

    // `up` and `scrape_duration_seconds`: identical label sets except `__name__`.
    for job in ["api", "web"] {
        for inst in 1..=3 {
            let instance = format!("10.0.0.{inst}:8080");
            let down = (job == "web" && inst == 1) as i64;
            let (mut up, mut dur) = (Vec::new(), Vec::new());
            for i in 0..STEPS {
                let t = grid_time(i);
                let v = if down == 1 && (100..140).contains(&i) {
                    0.0
                } else {
                    1.0
                };
                up.push((t, v));
                dur.push((t, rng.random_range(0.001..0.5)));
            }
            let pairs = [("job", job), ("instance", instance.as_str())];
            out.push(GenSeries {
                family: "up",
                kind: "gauge",
                labels: labels("up", &pairs),
                samples: up,
            });
            out.push(GenSeries {
                family: "scrape_duration_seconds",
                kind: "gauge",
                labels: labels("scrape_duration_seconds", &pairs),
                samples: dur,
            });
        }
    }

    // Series that stop, pause for longer than the lookback, or start late.
    for (instance, from, to, gap) in [
        ("b1", 0, 160, None),
        ("b2", 0, STEPS, Some((200, 248))),
        ("b3", 400, STEPS, None),
    ] {
        let mut samples = Vec::new();
        let mut last = (T0 / 1000) as f64;
        for i in from..to {
            if gap.is_some_and(|(a, b)| (a..b).contains(&i)) {
                continue;
            }
            let t = scrape_time(&mut rng, i);
            if i % 20 == 0 {
                last = (t / 1000) as f64;
            }
            samples.push((t, last));
        }
        out.push(GenSeries {
            family: "batch_last_success_timestamp_seconds",
            kind: "gauge",
            labels: labels(
                "batch_last_success_timestamp_seconds",
                &[("job", "batch"), ("instance", instance)],
            ),
            samples,
        });
    }

    // Special values: zeros, huge and tiny magnitudes, NaN and infinities.
    for kind in ["zero", "large", "small", "nan", "inf", "negative"] {
        let samples = (0..STEPS)
            .map(|i| {
                let x: f64 = rng.random_range(0.5..2.0);
                let v = match kind {
                    "zero" => 0.0,
                    "large" => 1e300 * x,
                    "small" => 1e-300 * x,
                    "nan" if i % 37 == 5 => f64::NAN,
                    "nan" => x,
                    "inf" if i % 53 == 7 => f64::INFINITY,
                    "inf" if i % 53 == 30 => f64::NEG_INFINITY,
                    "inf" => x,
                    _ => -1e6 * x,
                };
                (scrape_time(&mut rng, i), v)
            })
            .collect();
        out.push(GenSeries {
            family: "special",
            kind: "gauge",
            labels: labels("special", &[("kind", kind)]),
            samples,
        });
    }

    // Label values that need escaping, and UTF-8.
    for (i, path) in ["/a\"b", "/back\\slash", "/new\nline", "/ünïcödé/日本", ""]
        .iter()
        .enumerate()
    {
        let code = (200 + i).to_string();
        let mut pairs = vec![("code", code.as_str())];
        if !path.is_empty() {
            pairs.push(("path", path));
        }
        let mut v = 0.0;
        let samples = (0..STEPS)
            .map(|i| {
                // Not integers, to avoid ties: see the note on `topk` in `queries.rs`.
                v += rng.random_range(0.0..10.0_f64);
                (scrape_time(&mut rng, i), v)
            })
            .collect();
        out.push(GenSeries {
            family: "path_requests",
            kind: "counter",
            labels: labels("path_requests_total", &pairs),
            samples,
        });
    }

    // Pods, their nodes, and their containers' CPU counters, for `group_left` joins.
    for namespace in ["default", "monitoring"] {
        for p in 0..3 {
            let pod = format!("{namespace}-pod-{p}");
            let node = if p % 2 == 0 { "node-a" } else { "node-b" };
            out.push(GenSeries {
                family: "kube_pod_info",
                kind: "gauge",
                labels: labels(
                    "kube_pod_info",
                    &[("namespace", namespace), ("pod", &pod), ("node", node)],
                ),
                samples: (0..STEPS).map(|i| (grid_time(i), 1.0)).collect(),
            });
            for container in ["app", "sidecar"] {
                let mut v = 0.0;
                let samples = (0..STEPS)
                    .map(|i| {
                        v += rng.random_range(0.0..3.0);
                        (scrape_time(&mut rng, i), v)
                    })
                    .collect();
                out.push(GenSeries {
                    family: "container_cpu_usage_seconds",
                    kind: "counter",
                    labels: labels(
                        "container_cpu_usage_seconds_total",
                        &[
                            ("namespace", namespace),
                            ("pod", &pod),
                            ("container", container),
                        ],
                    ),
                    samples,
                });
            }
        }
    }
    out
}

/// A float as OpenMetrics text.
fn om_float(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v:?}")
    }
}

/// A label value escaped for OpenMetrics text.
fn om_escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The data set as OpenMetrics text: families in one block each, series one after another.
fn openmetrics(data: &[GenSeries]) -> String {
    let mut families: BTreeMap<&str, (&str, Vec<&GenSeries>)> = BTreeMap::new();
    for s in data {
        families
            .entry(s.family)
            .or_insert((s.kind, Vec::new()))
            .1
            .push(s);
    }
    let mut out = String::new();
    for (family, (kind, series)) in families {
        writeln!(out, "# TYPE {family} {kind}").expect("write to string");
        for s in series {
            let name = &s.labels[0].1;
            let rest: Vec<String> = s.labels[1..]
                .iter()
                .map(|(n, v)| format!("{n}=\"{}\"", om_escape(v)))
                .collect();
            for (t, v) in &s.samples {
                writeln!(
                    out,
                    "{name}{{{}}} {} {}",
                    rest.join(","),
                    om_float(*v),
                    om_seconds(*t)
                )
                .expect("write to string");
            }
        }
    }
    out.push_str("# EOF\n");
    out
}

/// Loads the data set into a fresh in-memory head.
fn load_head(data: &[GenSeries]) -> tsdb::Head {
    let head = tsdb::Head::new(
        &tsdb::Options {
            wal_enabled: false,
            block_range: 24 * 3600 * 1000,
            ..Default::default()
        },
        &mut Registry::default(),
    )
    .expect("head");
    let mut app = head.appender();
    for s in data {
        let l = Labels::from_pairs(&s.labels);
        for (t, v) in &s.samples {
            app.add(0, &l, *t, *v).expect("append");
        }
    }
    app.commit_batch().expect("commit");
    head
}

/// A query result reduced to what both engines can be compared on. Labels are written as
/// `{a="b", ...}` with names sorted.
#[derive(Debug, Clone)]
enum Outcome {
    /// A scalar.
    Scalar(i64, f64),
    /// A string.
    Str(i64, String),
    /// An instant vector in result order.
    Vector(Vec<(String, i64, f64)>),
    /// A matrix.
    Matrix(Vec<(String, Vec<(i64, f64)>)>),
    /// A failed query: the API's `errorType` and the message.
    Error(String, String),
}

/// An [`Outcome`] with the query's annotations, sorted and deduplicated.
#[derive(Debug, Clone)]
struct Answer {
    /// The result or error.
    outcome: Outcome,
    /// `PromQL warning: ...` annotations.
    warnings: Vec<String>,
    /// `PromQL info: ...` annotations.
    infos: Vec<String>,
}

impl Answer {
    /// Whether the answer has data: a scalar, a string, or at least one sample.
    fn has_data(&self) -> bool {
        match &self.outcome {
            Outcome::Scalar(..) | Outcome::Str(..) => true,
            Outcome::Vector(v) => !v.is_empty(),
            Outcome::Matrix(m) => m.iter().any(|s| !s.1.is_empty()),
            Outcome::Error(..) => false,
        }
    }
}

/// Sorted, deduplicated annotations.
fn annotations(mut a: Vec<String>) -> Vec<String> {
    a.sort();
    a.dedup();
    a
}

/// Canonical text of a label set.
fn canon(mut pairs: Vec<(String, String)>) -> String {
    pairs.sort();
    let inner: Vec<String> = pairs.iter().map(|(n, v)| format!("{n}={v:?}")).collect();
    format!("{{{}}}", inner.join(", "))
}

/// Canonical text of our label set.
fn canon_labels(l: &Labels) -> String {
    canon(
        l.iter()
            .map(|l| (l.name.as_str().to_string(), l.value.as_str().to_string()))
            .collect(),
    )
}

/// The API's `errorType` name of an error kind.
fn error_type(k: ErrorKind) -> &'static str {
    match k {
        ErrorKind::BadData => "bad_data",
        ErrorKind::Execution => "execution",
        ErrorKind::Timeout => "timeout",
        ErrorKind::Canceled => "canceled",
        ErrorKind::Internal => "internal",
        ErrorKind::Unavailable => "unavailable",
        ErrorKind::NotFound => "not_found",
        _ => "unknown",
    }
}

/// Our engine's result as an [`Answer`].
fn ours(r: promql::Result<promql::QueryResult>) -> Answer {
    let (warnings, infos) = match &r {
        Ok(r) => (
            annotations(r.warnings.clone()),
            annotations(r.infos.clone()),
        ),
        Err(_) => (Vec::new(), Vec::new()),
    };
    let outcome = match r {
        Err(e) => Outcome::Error(error_type(e.kind()).into(), e.to_string()),
        Ok(r) => match r.value {
            Value::Scalar { t, v } => Outcome::Scalar(t, v),
            Value::String { t, s } => Outcome::Str(t, s),
            Value::Vector(v) => Outcome::Vector(
                v.into_iter()
                    .map(|s| (canon_labels(&s.labels), s.t, s.v))
                    .collect(),
            ),
            Value::Matrix(m) => Outcome::Matrix(
                m.into_iter()
                    .map(|s| (canon_labels(&s.labels), s.points))
                    .collect(),
            ),
        },
    };
    Answer {
        outcome,
        warnings,
        infos,
    }
}

/// An annotation without the ` (line:column)` suffix Prometheus appends: our parser does not
/// report positions, a known difference checked by [`annotation_positions_still_differ`].
fn without_position(a: &str) -> &str {
    if let Some(open) = a.rfind(" (")
        && let Some(pos) = a[open + 2..].strip_suffix(')')
        && let Some((line, col)) = pos.split_once(':')
        && !line.is_empty()
        && !col.is_empty()
        && line.bytes().chain(col.bytes()).all(|b| b.is_ascii_digit())
    {
        return &a[..open];
    }
    a
}

/// A JSON `[t, "v"]` pair.
fn json_point(p: &serde_json::Value) -> (i64, String) {
    let t = p[0].as_f64().expect("timestamp");
    let v = p[1].as_str().expect("value").to_string();
    ((t * 1000.0).round() as i64, v)
}

/// A float as Prometheus's API prints it.
fn json_float(s: &str) -> f64 {
    match s {
        "NaN" => f64::NAN,
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        _ => s.parse().unwrap_or_else(|_| panic!("bad float {s:?}")),
    }
}

/// A JSON `metric` object as canonical label text.
fn json_labels(m: &serde_json::Value) -> String {
    canon(
        m.as_object()
            .expect("metric object")
            .iter()
            .map(|(n, v)| (n.clone(), v.as_str().expect("label value").to_string()))
            .collect(),
    )
}

/// Prometheus's API answer as an [`Answer`].
fn theirs(body: &str) -> Answer {
    let j: serde_json::Value = serde_json::from_str(body).expect("API answers JSON");
    if j["status"] != "success" {
        return Answer {
            outcome: Outcome::Error(
                j["errorType"].as_str().expect("errorType").into(),
                j["error"].as_str().unwrap_or_default().into(),
            ),
            warnings: Vec::new(),
            infos: Vec::new(),
        };
    }
    let strings = |key: &str| {
        annotations(
            j[key]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|s| without_position(s.as_str().expect("annotation")).to_string())
                        .collect()
                })
                .unwrap_or_default(),
        )
    };
    let d = &j["data"];
    let result = &d["result"];
    let outcome = match d["resultType"].as_str().expect("resultType") {
        "scalar" => {
            let (t, v) = json_point(result);
            Outcome::Scalar(t, json_float(&v))
        }
        "string" => {
            let (t, s) = json_point(result);
            Outcome::Str(t, s)
        }
        "vector" => Outcome::Vector(
            result
                .as_array()
                .expect("vector")
                .iter()
                .map(|s| {
                    assert!(s.get("histogram").is_none(), "no native histograms here");
                    let (t, v) = json_point(&s["value"]);
                    (json_labels(&s["metric"]), t, json_float(&v))
                })
                .collect(),
        ),
        "matrix" => Outcome::Matrix(
            result
                .as_array()
                .expect("matrix")
                .iter()
                .map(|s| {
                    assert!(s.get("histograms").is_none(), "no native histograms here");
                    let pts = s["values"]
                        .as_array()
                        .expect("values")
                        .iter()
                        .map(|p| {
                            let (t, v) = json_point(p);
                            (t, json_float(&v))
                        })
                        .collect();
                    (json_labels(&s["metric"]), pts)
                })
                .collect(),
        ),
        other => panic!("unknown resultType {other}"),
    };
    Answer {
        outcome,
        warnings: strings("warnings"),
        infos: strings("infos"),
    }
}

/// Equal within a relative 1e-9; zero exactly; NaN equals NaN; infinities by sign.
fn same_float(a: f64, b: f64) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    if a == b {
        return true;
    }
    if a == 0.0 || b == 0.0 || a.is_infinite() || b.is_infinite() {
        return false;
    }
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

/// Why two answers differ, or `None` when they agree: first the outcomes, then the
/// annotations. `ordered`: the vector's order counts (only for `sort` and `sort_desc`, whose
/// ties may come in any order).
fn difference(ours: &Answer, theirs: &Answer, ordered: bool) -> Option<String> {
    if let Some(d) = outcome_difference(&ours.outcome, &theirs.outcome, ordered) {
        return Some(d);
    }
    if !same_annotations(&ours.warnings, &theirs.warnings) {
        return Some(format!(
            "warnings: ours {:?}, Prometheus {:?}",
            ours.warnings, theirs.warnings
        ));
    }
    (!same_annotations(&ours.infos, &theirs.infos)).then(|| {
        format!(
            "infos: ours {:?}, Prometheus {:?}",
            ours.infos, theirs.infos
        )
    })
}

/// Whether our annotations equal Prometheus's. Its API shows at most 10 of each kind, chosen
/// in map order, followed by `N more warning annotations omitted` (or `info`): then ours
/// must hold the 10 shown and N more.
fn same_annotations(ours: &[String], theirs: &[String]) -> bool {
    let omitted = theirs.iter().find_map(|a| {
        let n = a
            .strip_suffix(" more warning annotations omitted")
            .or_else(|| a.strip_suffix(" more info annotations omitted"))?;
        n.parse::<usize>().ok()
    });
    match omitted {
        None => ours == theirs,
        Some(n) => {
            let shown: Vec<&String> = theirs
                .iter()
                .filter(|a| !a.ends_with(" annotations omitted"))
                .collect();
            ours.len() == shown.len() + n && shown.iter().all(|a| ours.contains(a))
        }
    }
}

/// Why two outcomes differ, or `None` when they agree.
fn outcome_difference(ours: &Outcome, theirs: &Outcome, ordered: bool) -> Option<String> {
    match (ours, theirs) {
        (Outcome::Error(a, m), Outcome::Error(b, n)) => {
            (a != b).then(|| format!("error kinds differ: ours {a} ({m}), Prometheus {b} ({n})"))
        }
        (Outcome::Scalar(t1, v1), Outcome::Scalar(t2, v2)) => (t1 != t2 || !same_float(*v1, *v2))
            .then(|| format!("scalar: ours {v1}@{t1}, Prometheus {v2}@{t2}")),
        (Outcome::Str(t1, s1), Outcome::Str(t2, s2)) => (t1 != t2 || s1 != s2)
            .then(|| format!("string: ours {s1:?}@{t1}, Prometheus {s2:?}@{t2}")),
        (Outcome::Vector(a), Outcome::Vector(b)) => {
            if a.len() != b.len() {
                return Some(format!(
                    "vector sizes: ours {}, Prometheus {}; ours {}; Prometheus {}",
                    a.len(),
                    b.len(),
                    brief_vector(a),
                    brief_vector(b)
                ));
            }
            if ordered && let Some(i) = (0..a.len()).find(|&i| !same_float(a[i].2, b[i].2)) {
                return Some(format!(
                    "order differs at {i}: ours {} {}, Prometheus {} {}",
                    a[i].0, a[i].2, b[i].0, b[i].2
                ));
            }
            let (mut a, mut b) = (a.clone(), b.clone());
            a.sort_by(|x, y| x.0.cmp(&y.0));
            b.sort_by(|x, y| x.0.cmp(&y.0));
            a.iter().zip(&b).find_map(|(x, y)| {
                (x.0 != y.0 || x.1 != y.1 || !same_float(x.2, y.2)).then(|| {
                    format!(
                        "sample: ours {} {}@{}, Prometheus {} {}@{}",
                        x.0, x.2, x.1, y.0, y.2, y.1
                    )
                })
            })
        }
        (Outcome::Matrix(a), Outcome::Matrix(b)) => {
            let (mut a, mut b) = (a.clone(), b.clone());
            a.sort_by(|x, y| x.0.cmp(&y.0));
            b.sort_by(|x, y| x.0.cmp(&y.0));
            if a.len() != b.len() {
                let names = |m: &[(String, Vec<(i64, f64)>)]| {
                    m.iter().map(|s| s.0.clone()).take(4).collect::<Vec<_>>()
                };
                return Some(format!(
                    "matrix sizes: ours {} {:?}, Prometheus {} {:?}",
                    a.len(),
                    names(&a),
                    b.len(),
                    names(&b)
                ));
            }
            a.iter().zip(&b).find_map(|(x, y)| {
                if x.0 != y.0 {
                    return Some(format!("series: ours {}, Prometheus {}", x.0, y.0));
                }
                if x.1.len() != y.1.len() {
                    return Some(format!(
                        "points of {}: ours {}, Prometheus {}",
                        x.0,
                        x.1.len(),
                        y.1.len()
                    ));
                }
                x.1.iter().zip(&y.1).find_map(|(p, q)| {
                    (p.0 != q.0 || !same_float(p.1, q.1)).then(|| {
                        format!(
                            "point of {}: ours {}@{}, Prometheus {}@{}",
                            x.0, p.1, p.0, q.1, q.0
                        )
                    })
                })
            })
        }
        (a, b) => Some(format!(
            "kinds differ: ours {}, Prometheus {}",
            brief(a),
            brief(b)
        )),
    }
}

/// A few samples of a vector, for messages.
fn brief_vector(v: &[(String, i64, f64)]) -> String {
    let mut v = v.to_vec();
    v.sort_by(|x, y| x.0.cmp(&y.0));
    let shown: Vec<String> = v
        .iter()
        .take(3)
        .map(|s| format!("{} {}", s.0, s.2))
        .collect();
    shown.join("; ")
}

/// A short description of an outcome, for messages.
fn brief(o: &Outcome) -> String {
    match o {
        Outcome::Error(k, m) => format!("error {k}: {m}"),
        Outcome::Scalar(t, v) => format!("scalar {v}@{t}"),
        Outcome::Str(t, s) => format!("string {s:?}@{t}"),
        Outcome::Vector(v) => format!("vector of {} [{}]", v.len(), brief_vector(v)),
        Outcome::Matrix(m) => format!("matrix of {}", m.len()),
    }
}

/// Milliseconds as the API's seconds.
fn api_seconds(t: i64) -> String {
    format!("{}.{:03}", t.div_euclid(1000), t.rem_euclid(1000))
}

/// Asks Prometheus, retrying only transport errors.
fn ask(agent: &ureq::Agent, url: &str, form: &[(&str, String)]) -> String {
    let mut last = None;
    for _ in 0..3 {
        match agent
            .post(url)
            .send_form(form.iter().map(|(k, v)| (*k, v.as_str())))
        {
            Ok(mut r) => return r.body_mut().read_to_string().expect("response body"),
            Err(e) => last = Some(e),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("POST {url} failed: {last:?}");
}

/// Waits until Prometheus serves exactly the generated series (it opens the blocks at start;
/// this also checks promtool kept every label as written).
fn wait_for_series(agent: &ureq::Agent, prom: &Prometheus, data: &[GenSeries]) {
    let mut want: Vec<String> = data.iter().map(|s| canon(s.labels.clone())).collect();
    want.sort();
    let url = format!("{}/api/v1/series", prom.url);
    let form = [
        ("match[]", "{__name__=~\".+\"}".to_string()),
        ("start", api_seconds(T0 - 3_600_000)),
        ("end", api_seconds(T0 + 4 * 3_600_000)),
    ];
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let j: serde_json::Value =
            serde_json::from_str(&ask(agent, &url, &form)).expect("series JSON");
        let mut got: Vec<String> = j["data"]
            .as_array()
            .map(|a| a.iter().map(json_labels).collect())
            .unwrap_or_default();
        got.sort();
        if got == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus serves {} series, want {}; first differences: {:?}",
            got.len(),
            want.len(),
            got.iter()
                .zip(&want)
                .filter(|(a, b)| a != b)
                .take(3)
                .collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// What comparing one query in every mode found.
#[derive(Debug, Default)]
struct QueryReport {
    /// `(is a range query, mode, difference)` for every mode that differs.
    diffs: Vec<(bool, String, String)>,
    /// Modes where both engines returned data (not an error, not an empty result).
    with_data: usize,
    /// Modes where both engines failed.
    errors: usize,
}

impl QueryReport {
    /// Records one mode's answers.
    fn add(&mut self, mode: String, a: &Answer, b: &Answer, ordered: bool) {
        if a.has_data() && b.has_data() {
            self.with_data += 1;
        }
        if matches!(
            (&a.outcome, &b.outcome),
            (Outcome::Error(..), Outcome::Error(..))
        ) {
            self.errors += 1;
        }
        if let Some(d) = difference(a, b, ordered) {
            self.diffs.push((mode.starts_with("range"), mode, d));
        }
    }
}

/// The two engines and the evaluation times.
struct Setup<'a> {
    /// Our engine.
    engine: Engine,
    /// Our storage.
    head: &'a tsdb::Head,
    /// HTTP client that keeps error statuses as answers.
    agent: ureq::Agent,
    /// The reference server.
    prom: &'a Prometheus,
    /// Instant-query times, from [`instant_times`].
    times: Vec<i64>,
}

/// Evaluates one query in every mode: instant at each of the setup's times, then each of
/// [`RANGES`].
fn compare_query(setup: &Setup<'_>, query: &str) -> QueryReport {
    let Setup {
        engine,
        head,
        agent,
        prom,
        times,
    } = setup;
    let ctx = QueryContext::default();
    let ordered = query.starts_with("sort(") || query.starts_with("sort_desc(");
    let mut report = QueryReport::default();
    for &t in times {
        let a = ours(engine.instant_query(*head, query, t, &ctx));
        let b = theirs(&ask(
            agent,
            &format!("{}/api/v1/query", prom.url),
            &[("query", query.to_string()), ("time", api_seconds(t))],
        ));
        report.add(format!("instant at {}", api_seconds(t)), &a, &b, ordered);
    }
    for (start, end, step) in RANGES {
        let a = ours(engine.range_query(*head, query, start, end, step, &ctx));
        let b = theirs(&ask(
            agent,
            &format!("{}/api/v1/query_range", prom.url),
            &[
                ("query", query.to_string()),
                ("start", api_seconds(start)),
                ("end", api_seconds(end)),
                ("step", api_seconds(step)),
            ],
        ));
        let mode = format!(
            "range {}..{} step {}s",
            api_seconds(start),
            api_seconds(end),
            step / 1000
        );
        report.add(mode, &a, &b, false);
    }
    report
}

/// Which evaluation modes of a known difference differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Modes {
    /// Only range queries; instant queries must agree.
    Range,
    /// Any mode.
    All,
}

/// A query our engine answers differently from Prometheus 3.5.3 today.
struct KnownDifference {
    /// The query.
    query: &'static str,
    /// The modes that differ: at least one of them must still differ, and with
    /// [`Modes::Range`] every instant query must agree.
    modes: Modes,
    /// What differs and why.
    reason: &'static str,
}

/// Range queries of an expression that is neither a scalar nor an instant vector: Prometheus
/// rejects them in `NewRangeQuery`, which its API reports as `bad_data` (an invalid `query`
/// parameter); our `Engine::range_query` returns `Error::Execution`.
const RANGE_OF_NON_VECTOR: &str = "range query of a string or range vector: ours `execution`, \
    Prometheus `bad_data` (it rejects the expression type before evaluating, as an invalid \
    parameter)";

/// `rate`/`increase` of series without `__name__` warn about the name.
const EMPTY_NAME_INFO: &str = "`rate`/`increase` of a series without `__name__` (a subquery \
    of an aggregation or a function): ours adds the info annotation `metric might not be a \
    counter, name does not end in _total/_sum/_count/_bucket: \"\"`; Prometheus skips the \
    check when the name is empty. Values agree";

/// A parameter that is NaN at steps where the input has no samples (here: steps before the
/// data starts, where `scalar(...)` is NaN): Prometheus skips such steps before looking at
/// the parameter; ours checks it at every step.
const NAN_PARAMETER_WITHOUT_INPUT: &str = "parameter that is NaN at range-query steps where \
    the input vector is empty (25m steps from before the data's start): for `topk` ours fails \
    with `execution: Parameter value is NaN` where Prometheus returns the other steps; for \
    `quantile_over_time` ours adds `quantile value should be between 0 and 1, got NaN`, \
    which Prometheus does not";

/// Date functions of NaN or ±Inf: Prometheus computes `time.Unix(int64(v), 0)`, and Go's
/// `int64(NaN or ±Inf)` is `math.MinInt64` on amd64, so it returns the fields of that date
/// (minute 30, hour 15, month 12...); ours returns NaN.
const DATE_OF_NON_FINITE: &str = "date function of NaN/±Inf: ours NaN, Prometheus the fields of \
    the date `time.Unix(math.MinInt64, 0)` (Go's conversion of a non-finite float to int64)";

/// `histogram_fraction` over classic buckets: Prometheus 3.5 computes it from `le` buckets as
/// `histogram_quantile` does; ours only handles native histograms and returns nothing.
const FRACTION_OF_CLASSIC: &str = "histogram_fraction over classic `le` buckets: ours empty, \
    Prometheus 3.5 interpolates within the buckets (NaN when the lower bound is 0 or more and \
    inside the first bucket's range, as Prometheus does)";

/// Queries where our engine and Prometheus 3.5.3 disagree today. Each must still differ in
/// its [`Modes`]; once fixed, move it to [`QUERIES`].
const KNOWN_DIFFERENCES: &[KnownDifference] = &[
    KnownDifference {
        query: "\"a string\"",
        modes: Modes::Range,
        reason: RANGE_OF_NON_VECTOR,
    },
    KnownDifference {
        query: "http_requests_total[5m]",
        modes: Modes::Range,
        reason: RANGE_OF_NON_VECTOR,
    },
    KnownDifference {
        query: "temperature[2m] offset 1m",
        modes: Modes::Range,
        reason: RANGE_OF_NON_VECTOR,
    },
    KnownDifference {
        query: "batch_last_success_timestamp_seconds[10m]",
        modes: Modes::Range,
        reason: RANGE_OF_NON_VECTOR,
    },
    KnownDifference {
        query: "rate(http_requests_total[5m])[10m:]",
        modes: Modes::Range,
        reason: RANGE_OF_NON_VECTOR,
    },
    KnownDifference {
        query: "temperature[10m:1m]",
        modes: Modes::Range,
        reason: RANGE_OF_NON_VECTOR,
    },
    KnownDifference {
        query: "sum(rate(http_requests_total[5m]))[30m:5m]",
        modes: Modes::Range,
        reason: RANGE_OF_NON_VECTOR,
    },
    KnownDifference {
        query: "rate(http_requests_total[5m])[20m:3m] @ 1700003601",
        modes: Modes::Range,
        reason: RANGE_OF_NON_VECTOR,
    },
    KnownDifference {
        query: "quantile(scalar(ratio{instance=\"r1\"}), temperature)",
        modes: Modes::Range,
        reason: "`quantile` whose parameter varies across a range query's steps: Prometheus \
            3.5 checks only the parameter's minimum and maximum over all steps and warns at most \
            once for each (`quantile value should be between 0 and 1, got -0.96...`); ours warns \
            once per distinct out-of-range value. Values agree; `histogram_quantile` and \
            `quantile_over_time` warn per value in both",
    },
    KnownDifference {
        query: "up[1h30m]",
        modes: Modes::Range,
        reason: RANGE_OF_NON_VECTOR,
    },
    KnownDifference {
        query: "up[1y]",
        modes: Modes::Range,
        reason: RANGE_OF_NON_VECTOR,
    },
    KnownDifference {
        query: "up[1w] offset 1d",
        modes: Modes::Range,
        reason: RANGE_OF_NON_VECTOR,
    },
    KnownDifference {
        query: "up offset -0s",
        modes: Modes::All,
        reason: "as `up offset 0s`",
    },
    KnownDifference {
        query: "1_000",
        modes: Modes::All,
        reason: "underscores in a number literal: Prometheus 3.5's lexer accepts `1_000` \
            (1000); ours fails to parse (`bad_data`: bad number or duration syntax: 1_)",
    },
    KnownDifference {
        query: "up offset 0s",
        modes: Modes::All,
        reason: "a zero offset: Prometheus accepts `offset 0s` (no offset); ours fails to \
            parse (`bad_data`: duration must be greater than 0)",
    },
    KnownDifference {
        query: "exp(-Inf)",
        modes: Modes::All,
        reason: "a function of a negated Inf literal: Prometheus's parser rejects the scalar \
            argument (`bad_data`: expected type instant vector in call to function \"exp\", got \
            scalar); ours parses it and fails at evaluation (`execution`: expected instant \
            vector argument). `abs(-1)` and `abs(1)` agree",
    },
    KnownDifference {
        query: "exp(-Inf) + vector(0)",
        modes: Modes::All,
        reason: "as `exp(-Inf)`",
    },
    KnownDifference {
        query: "up @ 1e20",
        modes: Modes::All,
        reason: "an `@` timestamp beyond int64 milliseconds: Prometheus's parser rejects it \
            (`bad_data`: timestamp out of bounds for @ modifier); ours accepts it and returns \
            an empty vector",
    },
    KnownDifference {
        query: "histogram_fraction(0, 0.1, request_duration_seconds_bucket)",
        modes: Modes::All,
        reason: FRACTION_OF_CLASSIC,
    },
    KnownDifference {
        query: "histogram_fraction(0, 0.1, sum by (le) (rate(request_duration_seconds_bucket[5m])))",
        modes: Modes::All,
        reason: FRACTION_OF_CLASSIC,
    },
    KnownDifference {
        query: "histogram_fraction(-Inf, 0.1, request_duration_seconds_bucket)",
        modes: Modes::All,
        reason: FRACTION_OF_CLASSIC,
    },
    KnownDifference {
        query: "histogram_fraction(0.05, 0.3, sum by (le) (rate(request_duration_seconds_bucket[5m])))",
        modes: Modes::All,
        reason: FRACTION_OF_CLASSIC,
    },
    KnownDifference {
        query: "rate(sum(http_requests_total)[10m:1m])",
        modes: Modes::All,
        reason: EMPTY_NAME_INFO,
    },
    KnownDifference {
        query: "rate(rate(http_requests_total[5m])[10m:1m])",
        modes: Modes::All,
        reason: EMPTY_NAME_INFO,
    },
    KnownDifference {
        query: "increase(rate(http_requests_total[5m])[10m:1m])",
        modes: Modes::All,
        reason: EMPTY_NAME_INFO,
    },
    KnownDifference {
        query: "topk(scalar(count(up)) - 4, temperature)",
        modes: Modes::Range,
        reason: NAN_PARAMETER_WITHOUT_INPUT,
    },
    KnownDifference {
        query: "topk(scalar(round(ratio{instance=\"r2\"} * 4)), temperature)",
        modes: Modes::Range,
        reason: NAN_PARAMETER_WITHOUT_INPUT,
    },
    KnownDifference {
        query: "topk(scalar(ratio{instance=\"r1\"}) * 5, temperature)",
        modes: Modes::Range,
        reason: NAN_PARAMETER_WITHOUT_INPUT,
    },
    KnownDifference {
        query: "quantile_over_time(scalar(ratio{instance=\"r1\"}), temperature[5m])",
        modes: Modes::Range,
        reason: NAN_PARAMETER_WITHOUT_INPUT,
    },
    KnownDifference {
        query: "month(vector(Inf))",
        modes: Modes::All,
        reason: DATE_OF_NON_FINITE,
    },
    KnownDifference {
        query: "minute(vector(NaN))",
        modes: Modes::All,
        reason: DATE_OF_NON_FINITE,
    },
    KnownDifference {
        query: "hour(special)",
        modes: Modes::Range,
        reason: DATE_OF_NON_FINITE,
    },
];

/// Annotations are compared without Prometheus's ` (line:column)` suffix, because our parser
/// does not record positions. This checks that the difference is still there (so the
/// normalisation in [`without_position`] cannot outlive it) and is the only one.
fn annotation_positions_still_differ(setup: &Setup<'_>, failures: &mut String) {
    let q = "rate(temperature[5m])";
    let t = INSTANT_TIMES[1];
    let ours = setup
        .engine
        .instant_query(setup.head, q, t, &QueryContext::default())
        .expect("our answer");
    let body = ask(
        &setup.agent,
        &format!("{}/api/v1/query", setup.prom.url),
        &[("query", q.to_string()), ("time", api_seconds(t))],
    );
    let j: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    let theirs: Vec<&str> = j["infos"]
        .as_array()
        .map(|a| a.iter().filter_map(|s| s.as_str()).collect())
        .unwrap_or_default();
    let want = "PromQL info: metric might not be a counter, name does not end in \
        _total/_sum/_count/_bucket: \"temperature\"";
    if ours.infos != [want] || theirs != [format!("{want} (1:6)")] {
        writeln!(
            failures,
            "{q}\n    annotation positions: expected ours without and Prometheus with \
             \" (1:6)\"; ours {:?}, Prometheus {theirs:?}",
            ours.infos
        )
        .expect("write to string");
    }
}

/// Runs every query against both engines and compares the results.
#[test]
fn engine_agrees_with_reference_prometheus() {
    let Some(bin) = reference_bin_dir() else {
        return;
    };
    let started = Instant::now();
    let data = generate();
    let dir = tempfile::tempdir().expect("temp dir");
    let om = dir.path().join("data.om");
    std::fs::write(&om, openmetrics(&data)).expect("write OpenMetrics");
    let prom_dir = dir.path().join("prom");
    let out = Command::new(bin.join("promtool"))
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(&om)
        .arg(&prom_dir)
        .output()
        .expect("run promtool");
    assert!(
        out.status.success(),
        "promtool create-blocks-from failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let prom = Prometheus::start(
        &bin,
        &prom_dir,
        "global:\n  scrape_interval: 15s\n",
        &["--storage.tsdb.retention.time=100y"],
    );
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    wait_for_series(&agent, &prom, &data);
    let head = load_head(&data);
    let setup = Setup {
        engine: Engine::new(EngineOptions::default()),
        head: &head,
        agent,
        prom: &prom,
        times: instant_times(&data),
    };
    let modes = setup.times.len() + RANGES.len();
    let setup_time = started.elapsed();

    let mut failures = String::new();
    let (mut with_data, mut errors) = (0, 0);
    let generated = generated();
    let queries: Vec<&str> = QUERIES
        .iter()
        .copied()
        .chain(
            generated
                .iter()
                .map(String::as_str)
                .filter(|q| KNOWN_DIFFERENCES.iter().all(|k| k.query != *q)),
        )
        .collect();
    for q in &queries {
        let report = compare_query(&setup, q);
        with_data += report.with_data;
        errors += report.errors;
        for (_, mode, d) in report.diffs {
            writeln!(failures, "{q}\n    {mode}: {d}").expect("write to string");
        }
    }
    for known in KNOWN_DIFFERENCES {
        let q = known.query;
        assert!(
            !QUERIES.contains(&q),
            "{q} is in QUERIES and KNOWN_DIFFERENCES"
        );
        let report = compare_query(&setup, q);
        for (range, mode, d) in &report.diffs {
            if known.modes == Modes::Range && !range {
                writeln!(
                    failures,
                    "{q}\n    {mode}: {d} (KNOWN_DIFFERENCES lists only range queries)"
                )
                .expect("write to string");
            }
        }
        if report.diffs.is_empty() {
            writeln!(
                failures,
                "{q}\n    listed in KNOWN_DIFFERENCES ({}) but now agrees in all modes: \
                 move it to QUERIES",
                known.reason
            )
            .expect("write to string");
        }
    }
    annotation_positions_still_differ(&setup, &mut failures);
    let total = queries.len() + KNOWN_DIFFERENCES.len();
    eprintln!(
        "differential: {} series; {total} queries x {modes} modes = {} comparisons \
         ({} known differences); agreeing answers: {with_data} with data, {errors} errors; \
         setup {:.1?}, total {:.1?}",
        data.len(),
        total * modes,
        KNOWN_DIFFERENCES.len(),
        setup_time,
        started.elapsed()
    );
    // Guards against a vacuous comparison (both engines seeing no data).
    assert!(
        with_data * 4 >= queries.len() * modes * 3,
        "only {with_data} of {} comparisons had data on both sides",
        queries.len() * modes
    );
    assert!(
        failures.is_empty(),
        "our engine and Prometheus 3.5.3 disagree:\n{failures}"
    );
}
