//! The differential test's data set: deterministic, Kubernetes-like series, written as
//! OpenMetrics text for promtool and loaded into our head.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use prometheus_client::registry::Registry;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tsdb::labels::Labels;

/// Timestamp of the first sample (ms): 2023-11-14T22:13:20Z.
pub(super) const T0: i64 = 1_700_000_000_000;
/// Nominal scrape interval (ms); each sample gets a little jitter on top.
pub(super) const INTERVAL: i64 = 15_000;
/// Samples per series that runs for the whole data set (two hours).
pub(super) const STEPS: i64 = 480;

/// Upper bounds of the classic histogram, written as Prometheus normalises `le` values.
pub(super) const LE: [&str; 12] = [
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1.0", "2.5", "5.0", "10.0", "+Inf",
];

/// One generated series.
pub(super) struct GenSeries {
    /// The OpenMetrics family it belongs to.
    pub(super) family: &'static str,
    /// The family's OpenMetrics type.
    pub(super) kind: &'static str,
    /// Labels, `__name__` included.
    pub(super) labels: Vec<(String, String)>,
    /// `(t ms, value)` in time order.
    pub(super) samples: Vec<(i64, f64)>,
}

/// Builds label pairs from a metric name and `(name, value)` pairs.
pub(super) fn labels(name: &str, pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut out = vec![("__name__".to_string(), name.to_string())];
    out.extend(pairs.iter().map(|(n, v)| (n.to_string(), v.to_string())));
    out
}

/// The timestamp of scrape `i`: the nominal time plus up to 400ms of jitter, kept only when
/// promtool's `int64(seconds * 1000)` conversion of the printed seconds gives it back.
pub(super) fn scrape_time(rng: &mut StdRng, i: i64) -> i64 {
    let t = T0 + i * INTERVAL + rng.random_range(0..400);
    if om_seconds(t).parse::<f64>().expect("own format") * 1000.0 == t as f64 {
        t
    } else {
        T0 + i * INTERVAL
    }
}

/// The timestamp of scrape `i` exactly on the 15s grid, for series whose samples sit on
/// window and lookback boundaries.
pub(super) fn grid_time(i: i64) -> i64 {
    T0 + i * INTERVAL
}

/// A timestamp in ms as OpenMetrics seconds with millisecond precision.
pub(super) fn om_seconds(t: i64) -> String {
    format!("{}.{:03}", t / 1000, t % 1000)
}

/// The deterministic data set.
pub(super) fn generate() -> Vec<GenSeries> {
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
pub(super) fn om_float(v: f64) -> String {
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
pub(super) fn om_escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The data set as OpenMetrics text: families in one block each, series one after another.
pub(super) fn openmetrics(data: &[GenSeries]) -> String {
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
pub(super) fn load_head(data: &[GenSeries]) -> tsdb::Head {
    let head = tsdb::Head::new(
        &tsdb::Options {
            wal_enabled: false,
            block_range: 24 * 3600 * 1000,
            ..Default::default()
        },
        &mut Registry::default(),
    )
    .expect("head");
    // Prometheus reads these samples from blocks, whose series come in label order, and
    // an engine breaks `topk`/`bottomk` ties and folds floats in its input order. Our head
    // hands out series in creation order (as Prometheus's head does), so create them in
    // label order: both engines then see the same input order.
    let mut series: Vec<(Labels, &GenSeries)> = data
        .iter()
        .map(|s| (Labels::from_pairs(&s.labels), s))
        .collect();
    series.sort_by(|a, b| a.0.cmp(&b.0));
    let mut app = head.appender();
    for (l, s) in &series {
        for (t, v) in &s.samples {
            app.add(0, l, *t, *v).expect("append");
        }
    }
    app.commit_batch().expect("commit");
    head
}
