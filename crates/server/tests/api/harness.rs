//! A tsdbd API server on `127.0.0.1:0` over a storage filled with a deterministic data set,
//! and helpers to send requests and read answers.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;

use server::state::AppState;
use tsdb::labels::Labels;

/// Start of the data set (2025-01-01T00:00:00Z), in ms.
pub(crate) const T0: i64 = 1_735_689_600_000;
/// Scrape interval of the data set, in ms.
pub(crate) const STEP: i64 = 15_000;
/// Samples per series.
pub(crate) const SAMPLES: i64 = 240;

/// One series of the data set: labels (the name first) and its samples.
#[derive(Debug, Clone)]
pub(crate) struct GenSeries {
    /// `(name, value)` pairs, `__name__` first.
    pub(crate) labels: Vec<(String, String)>,
    /// `(t ms, v)` in time order.
    pub(crate) samples: Vec<(i64, f64)>,
}

fn series(pairs: &[(&str, &str)], f: impl Fn(i64) -> Option<f64>) -> GenSeries {
    GenSeries {
        labels: pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect(),
        samples: (0..SAMPLES)
            .filter_map(|i| f(i).map(|v| (T0 + i * STEP, v)))
            .collect(),
    }
}

/// The data set: Kubernetes-shaped `up`, request counters (one with a reset), a gauge
/// with negative values and a NaN, and label values that need escaping.
pub(crate) fn data() -> Vec<GenSeries> {
    let mut out = Vec::new();
    for (job, inst) in [("api", "10.0.0.1:8080"), ("api", "10.0.0.2:8080")] {
        out.push(series(
            &[("__name__", "up"), ("instance", inst), ("job", job)],
            |_| Some(1.0),
        ));
        for method in ["GET", "POST"] {
            for code in ["200", "500"] {
                let rate = match (method, code) {
                    ("GET", "200") => 7.0,
                    ("POST", "200") => 2.5,
                    (_, _) => 0.25,
                };
                let reset = inst.ends_with("2:8080") && method == "GET" && code == "200";
                out.push(series(
                    &[
                        ("__name__", "http_requests_total"),
                        ("code", code),
                        ("instance", inst),
                        ("job", job),
                        ("method", method),
                    ],
                    move |i| {
                        let i = if reset && i >= 120 { i - 120 } else { i };
                        Some((i as f64) * rate * 15.0)
                    },
                ));
            }
        }
    }
    out.push(series(
        &[
            ("__name__", "up"),
            ("instance", "10.0.0.9:5432"),
            ("job", "db"),
        ],
        |i| Some(if i < 120 { 1.0 } else { 0.0 }),
    ));
    // A batch job that stops half way.
    out.push(series(
        &[("__name__", "batch_last_success_seconds"), ("job", "batch")],
        |i| (i < 100).then_some(1_735_000_000.0 + (i as f64) * 0.001),
    ));
    out.push(series(
        &[
            ("__name__", "node_temperature_celsius"),
            ("instance", "10.0.0.9:9100"),
            ("job", "node"),
            ("sensor", "cpu"),
        ],
        |i| {
            Some(if i == 77 {
                f64::NAN
            } else {
                ((i as f64) / 9.0).sin() * 30.0 - 5.0
            })
        },
    ));
    out.push(series(
        &[
            ("__name__", "kube_pod_info"),
            ("namespace", "kube-system"),
            ("pod", "coredns-\"x\"-ü"),
        ],
        |i| Some(if i % 2 == 0 { 1.0 } else { 1e-7 }),
    ));
    // In label order: the order in which Prometheus reads these series back from the
    // blocks promtool makes of them. Our head hands out series in creation order, as
    // Prometheus's head does, so answers that depend on series order (the pair of series
    // an error names, ties) agree only when both sides see the same order.
    out.sort_by(|a, b| a.labels.cmp(&b.labels));
    out
}

fn om_float(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else {
        format!("{v:?}")
    }
}

/// The data set as OpenMetrics text (for `promtool tsdb create-blocks-from openmetrics`).
pub(crate) fn openmetrics(data: &[GenSeries]) -> String {
    let mut by_family: std::collections::BTreeMap<&str, Vec<&GenSeries>> = Default::default();
    for s in data {
        by_family.entry(&s.labels[0].1).or_default().push(s);
    }
    let mut out = String::new();
    for (family, list) in by_family {
        writeln!(out, "# TYPE {family} unknown").expect("write");
        for s in list {
            let rest: Vec<String> = s.labels[1..]
                .iter()
                .map(|(n, v)| format!("{n}=\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\"")))
                .collect();
            for (t, v) in &s.samples {
                writeln!(
                    out,
                    "{family}{{{}}} {} {}.{:03}",
                    rest.join(","),
                    om_float(*v),
                    t / 1000,
                    t % 1000
                )
                .expect("write");
            }
        }
    }
    out.push_str("# EOF\n");
    out
}

/// Opens a storage in `dir` and appends `data`.
pub(crate) fn open_db(dir: &std::path::Path, wal: bool, data: &[GenSeries]) -> Arc<tsdb::Db> {
    let opts = tsdb::Options {
        wal_enabled: wal,
        block_range: 24 * 3600 * 1000,
        ..Default::default()
    };
    let db = tsdb::Db::open(
        dir,
        opts,
        &mut prometheus_client::registry::Registry::default(),
    )
    .expect("open db");
    let mut app = db.appender();
    for s in data {
        let l = Labels::from_pairs(&s.labels);
        for (t, v) in &s.samples {
            app.add(0, &l, *t, *v).expect("append");
        }
    }
    app.commit_batch().expect("commit");
    Arc::new(db)
}

/// A tsdbd HTTP server on loopback; stops when dropped.
pub(crate) struct TestServer {
    /// `http://127.0.0.1:PORT`.
    pub(crate) url: String,
    /// Owns the server's tasks.
    rt: Option<tokio::runtime::Runtime>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

/// Serves `state` on a free loopback port.
pub(crate) fn serve(state: Arc<AppState>) -> TestServer {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind loopback");
    let addr: SocketAddr = listener.local_addr().expect("addr");
    let app = server::http::app(Arc::clone(&state));
    rt.spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    TestServer {
        url: format!("http://{addr}"),
        rt: Some(rt),
    }
}

/// A server over the data set (no WAL) with `config`.
pub(crate) fn serve_data(config: server::Config, dir: &std::path::Path) -> TestServer {
    let state = Arc::new(AppState::new(config));
    state.set_db(open_db(dir, false, &data()));
    serve(state)
}

/// An answer: status, content type and body.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    /// HTTP status.
    pub(crate) status: u16,
    /// The `Content-Type` header.
    pub(crate) content_type: String,
    /// The body.
    pub(crate) body: String,
}

impl Answer {
    /// The body as JSON.
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

fn answer(r: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Answer {
    let mut r = r.expect("request");
    let content_type = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    Answer {
        status: r.status().as_u16(),
        content_type,
        body: r.body_mut().read_to_string().expect("body"),
    }
}

/// `GET base + path_and_query` (the query already encoded).
pub(crate) fn get(base: &str, path_and_query: &str) -> Answer {
    answer(agent().get(&format!("{base}{path_and_query}")).call())
}

/// `POST base + path` with a form body.
pub(crate) fn post_form(base: &str, path: &str, form: &[(&str, &str)]) -> Answer {
    answer(
        agent()
            .post(&format!("{base}{path}"))
            .send_form(form.iter().copied()),
    )
}

/// `method base + path` with an empty body.
pub(crate) fn call(base: &str, method: &str, path: &str) -> Answer {
    let a = agent();
    let url = format!("{base}{path}");
    answer(match method {
        "PUT" => a.put(&url).send_empty(),
        "DELETE" => a.delete(&url).call(),
        "POST" => a.post(&url).send_empty(),
        _ => a.get(&url).call(),
    })
}

/// Encodes `pairs` as a URL query.
pub(crate) fn query_string(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// Ms as the API's seconds.
pub(crate) fn secs(t: i64) -> String {
    format!("{}.{:03}", t.div_euclid(1000), t.rem_euclid(1000))
}
