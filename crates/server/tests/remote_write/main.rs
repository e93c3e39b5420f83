//! Remote write over loopback HTTP: the malformed-request table, partial acceptance,
//! RW2 with metadata and exemplars, readiness and overload, and the real Prometheus 3.5.3
//! remote-writing to us (`prometheus.rs`).

mod prometheus;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ingest::encode::{SymbolTable, encode_v1, encode_v2};
use ingest::proto::{v1, v2};
use prometheus_client::registry::Registry;
use server::Config;
use server::state::AppState;
use tsdb::chunkenc::{SampleIterator, ValueType};
use tsdb::labels::{MatchType, Matcher};
use tsdb::storage::Querier;

/// A server on 127.0.0.1:0 running in its own runtime; stops on drop.
#[allow(missing_debug_implementations)]
pub struct TestServer {
    /// The server's state (storage, metrics).
    pub state: Arc<AppState>,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    _rt: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

impl TestServer {
    /// Starts a server; `ready` opens the storage first.
    pub fn start(config: Config, ready: bool) -> TestServer {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = Arc::new(AppState::new(Config {
            data_dir: dir.path().to_path_buf(),
            ..config
        }));
        if ready {
            let db = tsdb::Db::open(
                dir.path(),
                state.config.tsdb.clone(),
                &mut Registry::default(),
            )
            .expect("open db");
            state.set_db(Arc::new(db));
        }
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let addr: SocketAddr = listener.local_addr().expect("addr");
        let app = server::http::app(Arc::clone(&state));
        rt.spawn(async move {
            axum::serve(listener, app).await.expect("serve");
        });
        TestServer {
            state,
            url: format!("http://{addr}"),
            _rt: rt,
            _dir: dir,
        }
    }

    /// The open storage.
    pub fn db(&self) -> &tsdb::Db {
        self.state.db().expect("db open")
    }

    /// Samples of the series with `__name__=name`, as `(t, v)`.
    pub fn samples(&self, name: &str) -> Vec<(i64, f64)> {
        let q = self.db().head().querier(i64::MIN, i64::MAX);
        let m = Matcher::new(MatchType::Equal, "__name__", name).expect("matcher");
        let mut out = Vec::new();
        for s in q.select(true, None, &[m]).expect("select") {
            let s = s.expect("series");
            let mut it = s.iterator();
            while it.next() != ValueType::None {
                out.push(it.at());
            }
        }
        out
    }
}

/// An HTTP client that returns error statuses as responses.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

/// Status, body and the three `*-Written` headers of a response.
#[derive(Debug)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Body text.
    pub body: String,
    /// Samples, histograms, exemplars written, from the response headers.
    pub written: [Option<u64>; 3],
}

/// POSTs `body` to `/api/v1/write`.
pub fn post(url: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    let mut req = agent().post(&format!("{url}/api/v1/write"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let mut resp = req.send(body).expect("request");
    let h = |n: &str| {
        resp.headers()
            .get(n)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
    };
    let written = [
        h("X-Prometheus-Remote-Write-Samples-Written"),
        h("X-Prometheus-Remote-Write-Histograms-Written"),
        h("X-Prometheus-Remote-Write-Exemplars-Written"),
    ];
    let status = resp.status().as_u16();
    let body = resp.body_mut().read_to_string().unwrap_or_default();
    Reply {
        status,
        body,
        written,
    }
}

const RW1: &[(&str, &str)] = &[
    ("Content-Type", "application/x-protobuf"),
    ("Content-Encoding", "snappy"),
];
const RW2: &[(&str, &str)] = &[
    (
        "Content-Type",
        "application/x-protobuf;proto=io.prometheus.write.v2.Request",
    ),
    ("Content-Encoding", "snappy"),
];

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64
}

fn ts(labels: &[(&str, &str)], samples: &[(i64, f64)]) -> v1::TimeSeries {
    v1::TimeSeries::new(labels, samples)
}

fn rw1(series: Vec<v1::TimeSeries>) -> Vec<u8> {
    encode_v1(&v1::WriteRequest {
        timeseries: series,
        metadata: vec![],
    })
}

#[test]
fn malformed_requests_get_documented_answers_and_nothing_is_lost() {
    let limits = ingest::Limits {
        max_compressed_bytes: 64 * 1024,
        ..Default::default()
    };
    let mut cfg = Config::default();
    cfg.write.limits = limits;
    let srv = TestServer::start(cfg, true);
    let t0 = now_ms();
    let good = rw1(vec![ts(
        &[("__name__", "kept"), ("job", "a")],
        &[(t0, 1.0)],
    )]);
    let r = post(&srv.url, RW1, &good);
    assert_eq!(r.status, 204, "{r:?}");
    assert_eq!(r.written, [Some(1), Some(0), Some(0)]);

    let mut st = SymbolTable::new();
    let refs = st.refs([("__name__", "rw2")]);
    let bad_refs = encode_v2(&v2::Request {
        symbols: st.into_symbols(),
        timeseries: vec![v2::TimeSeries {
            labels_refs: vec![refs[0], 42],
            samples: vec![v2::Sample {
                value: 1.0,
                timestamp: t0,
            }],
            ..Default::default()
        }],
    });
    let mut truncated_pb = v1::WriteRequest {
        timeseries: vec![ts(&[("__name__", "x")], &[(t0, 1.0)])],
        metadata: vec![],
    };
    truncated_pb.timeseries[0].labels[0].name = "__name__".into();
    let pb = prost::Message::encode_to_vec(&truncated_pb);
    let bad_pb = ingest::snappy::compress(&pb[..pb.len() - 3]);
    let oversize = ingest::snappy::compress(&vec![0u8; 200 * 1024])
        .into_iter()
        .chain(std::iter::repeat_n(0u8, 70 * 1024))
        .collect::<Vec<u8>>();
    // (case, headers, body, status, message part)
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], Vec<u8>, u16, &'a str);
    let cases: Vec<Case<'_>> = vec![
        (
            "bad snappy",
            RW1,
            b"\xff\xff\xff\xff\xffnot snappy".to_vec(),
            400,
            "snappy decode error",
        ),
        ("bad protobuf", RW1, bad_pb, 400, "protobuf decode error"),
        (
            "unsorted labels",
            RW1,
            rw1(vec![ts(&[("job", "a"), ("__name__", "u")], &[(t0, 1.0)])]),
            400,
            r#"series {job="a", __name__="u"}: labels not sorted by name"#,
        ),
        (
            "duplicate labels",
            RW1,
            rw1(vec![ts(
                &[("__name__", "d"), ("a", "1"), ("a", "2")],
                &[(t0, 1.0)],
            )]),
            400,
            r#"duplicate label name "a""#,
        ),
        (
            "empty metric name",
            RW1,
            rw1(vec![ts(&[("__name__", ""), ("job", "a")], &[(t0, 1.0)])]),
            400,
            "missing or empty metric name",
        ),
        (
            "oversize body",
            RW1,
            oversize,
            400,
            "exceeds the limit of 65536 bytes",
        ),
        (
            "wrong content type",
            &[
                ("Content-Type", "application/json"),
                ("Content-Encoding", "snappy"),
            ],
            good.clone(),
            415,
            "expected application/x-protobuf",
        ),
        (
            "unknown proto message",
            &[("Content-Type", "application/x-protobuf;proto=foo.Bar")],
            good.clone(),
            415,
            "unknown remote write protobuf message foo.Bar",
        ),
        (
            "wrong encoding",
            &[
                ("Content-Type", "application/x-protobuf"),
                ("Content-Encoding", "gzip"),
            ],
            good.clone(),
            415,
            "gzip encoding (compression) is not accepted",
        ),
        (
            "rw2 symbol out of range",
            RW2,
            bad_refs,
            400,
            "series #0: symbol reference 42 out of range (3 symbols)",
        ),
    ];
    for (name, headers, body, status, msg) in cases {
        let r = post(&srv.url, headers, &body);
        assert_eq!(r.status, status, "{name}: {r:?}");
        assert!(r.body.contains(msg), "{name}: {:?} lacks {msg:?}", r.body);
        assert_eq!(r.written[0], Some(0), "{name}: {r:?}");
        assert!(r.written[1].is_some() && r.written[2].is_some(), "{name}");
    }
    // Still serving, and what was acknowledged before is there.
    let r = post(
        &srv.url,
        RW1,
        &rw1(vec![ts(
            &[("__name__", "kept"), ("job", "a")],
            &[(t0 + 1, 2.0)],
        )]),
    );
    assert_eq!(r.status, 204, "{r:?}");
    assert_eq!(srv.samples("kept"), vec![(t0, 1.0), (t0 + 1, 2.0)]);
    assert!(srv.samples("u").is_empty() && srv.samples("d").is_empty());
    let metrics = {
        let mut s = String::new();
        prometheus_client::encoding::text::encode(&mut s, &srv.state.registry.lock())
            .expect("encode");
        s
    };
    assert!(
        metrics.contains(r#"tsdbd_remote_write_rejected_total{reason="unsorted_labels"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"tsdbd_remote_write_requests_total{code="415",protocol="unknown"} 2"#),
        "{metrics}"
    );
}

#[test]
fn partly_bad_request_keeps_its_valid_series() {
    let srv = TestServer::start(Config::default(), true);
    let t0 = now_ms();
    let body = rw1(vec![
        ts(&[("__name__", "ok1")], &[(t0, 1.0), (t0 + 1000, 2.0)]),
        ts(&[("z", "1"), ("__name__", "bad")], &[(t0, 1.0)]),
        ts(&[("__name__", "ok2")], &[(t0, 3.0), (t0 + 3_600_000, 4.0)]),
    ]);
    let r = post(&srv.url, RW1, &body);
    assert_eq!(r.status, 400, "{r:?}");
    assert_eq!(r.written, [Some(3), Some(0), Some(0)]);
    assert!(
        r.body
            .starts_with(r#"series {z="1", __name__="bad"}: labels not sorted"#),
        "{}",
        r.body
    );
    assert!(
        r.body
            .contains("2 samples/histograms/exemplars and 1 series rejected"),
        "{}",
        r.body
    );
    assert_eq!(srv.samples("ok1").len(), 2);
    assert_eq!(srv.samples("ok2"), vec![(t0, 3.0)]);
}

#[test]
fn rw2_round_trip_with_metadata_and_exemplars() {
    let srv = TestServer::start(Config::default(), true);
    let t0 = now_ms();
    let mut st = SymbolTable::new();
    let labels = st.refs([("__name__", "http_requests_total"), ("job", "api")]);
    let hist = st.refs([("__name__", "latency"), ("job", "api")]);
    let ex = st.refs([("trace_id", "4bf92f3577b34da6")]);
    let help = st.intern("Requests <served>.");
    let req = v2::Request {
        timeseries: vec![
            v2::TimeSeries {
                labels_refs: labels,
                samples: vec![
                    v2::Sample {
                        value: 1.0,
                        timestamp: t0,
                    },
                    v2::Sample {
                        value: 2.5,
                        timestamp: t0 + 15_000,
                    },
                ],
                exemplars: vec![v2::Exemplar {
                    labels_refs: ex,
                    value: 0.5,
                    timestamp: t0 + 15_000,
                }],
                metadata: Some(v2::Metadata {
                    r#type: 1,
                    help_ref: help,
                    unit_ref: 0,
                }),
                ..Default::default()
            },
            v2::TimeSeries {
                labels_refs: hist,
                histograms: vec![v2::Histogram {
                    count_int: Some(3),
                    timestamp: t0,
                    ..Default::default()
                }],
                ..Default::default()
            },
        ],
        symbols: st.into_symbols(),
    };
    let r = post(&srv.url, RW2, &encode_v2(&req));
    assert_eq!(r.status, 400, "{r:?}");
    assert_eq!(
        r.body.trim_end(),
        format!(
            r#"series {{__name__="latency", job="api"}}: native histograms are not supported yet (1 samples/histograms/exemplars and 0 series rejected in total; 2 samples written)"#
        )
    );
    assert_eq!(r.written, [Some(2), Some(0), Some(1)]);
    assert_eq!(
        srv.samples("http_requests_total"),
        vec![(t0, 1.0), (t0 + 15_000, 2.5)]
    );

    let get = |path: &str| -> serde_json::Value {
        let body = agent()
            .get(&format!("{}{path}", srv.url))
            .call()
            .expect("get")
            .body_mut()
            .read_to_string()
            .expect("body");
        serde_json::from_str(&body).expect("json")
    };
    let meta = get("/api/v1/metadata");
    assert_eq!(
        meta,
        serde_json::json!({"status":"success","data":{"http_requests_total":[{"type":"counter","help":"Requests <served>.","unit":""}]}})
    );
    assert_eq!(
        get("/api/v1/metadata?limit=0"),
        serde_json::json!({"status":"success","data":{}})
    );
    let bad = get("/api/v1/metadata?limit=x");
    assert_eq!(bad["errorType"], "bad_data");
    // Field order and HTML escaping as Prometheus 3.5.3 writes them.
    let raw = agent()
        .get(&format!("{}/api/v1/metadata", srv.url))
        .call()
        .expect("get")
        .body_mut()
        .read_to_string()
        .expect("body");
    assert!(
        raw.contains(r#"[{"type":"counter","unit":"","help":"Requests \u003cserved\u003e."}]"#),
        "{raw}"
    );
    let bad_time = get("/api/v1/query_exemplars?query=up&start=abc");
    assert_eq!(
        bad_time["error"],
        "invalid parameter \"start\": invalid time value for 'start': cannot parse \"abc\" to a valid timestamp"
    );
    let no_selector = agent()
        .get(&format!("{}/api/v1/query_exemplars?query=1", srv.url))
        .call()
        .expect("get");
    assert_eq!(no_selector.status().as_u16(), 204);
    let q = format!(
        "/api/v1/query_exemplars?query=rate(http_requests_total%5B5m%5D)&start={}&end={}",
        t0 / 1000 - 1,
        t0 / 1000 + 60
    );
    let ex = get(&q);
    let ts = (t0 + 15_000) as f64 / 1000.0;
    assert_eq!(ex["status"], "success", "{ex}");
    assert_eq!(
        ex["data"][0]["seriesLabels"],
        serde_json::json!({"__name__":"http_requests_total","job":"api"})
    );
    assert_eq!(
        ex["data"][0]["exemplars"][0]["labels"],
        serde_json::json!({"trace_id":"4bf92f3577b34da6"})
    );
    assert_eq!(ex["data"][0]["exemplars"][0]["value"], "0.5");
    assert!((ex["data"][0]["exemplars"][0]["timestamp"].as_f64().unwrap() - ts).abs() < 1e-6);
    // Grafana's probe: a selector matching nothing, start/end in milliseconds.
    assert_eq!(
        get("/api/v1/query_exemplars?query=test&start=1&end=2000"),
        serde_json::json!({"status":"success","data":[]})
    );
    // Sending the same request again: as in Prometheus, a sample older than the series'
    // newest is out of order (even if equal to what is stored); the newest sample and the
    // exemplar are exact duplicates, accepted without effect.
    let r = post(&srv.url, RW2, &encode_v2(&req));
    assert_eq!(r.status, 400, "{r:?}");
    assert!(r.body.contains("out of order sample"), "{r:?}");
    assert_eq!(r.written, [Some(1), Some(0), Some(0)], "{r:?}");
    assert_eq!(
        srv.samples("http_requests_total"),
        vec![(t0, 1.0), (t0 + 15_000, 2.5)]
    );
}

#[test]
fn not_ready_and_overloaded_answer_503() {
    let srv = TestServer::start(Config::default(), false);
    let body = rw1(vec![ts(&[("__name__", "m")], &[(now_ms(), 1.0)])]);
    let r = post(&srv.url, RW1, &body);
    assert_eq!(r.status, 503, "{r:?}");
    assert_eq!(r.written, [Some(0), Some(0), Some(0)]);

    let mut cfg = Config::default();
    cfg.write.max_concurrent_requests = 1;
    cfg.write.queue_timeout = Duration::from_millis(100);
    let srv = TestServer::start(cfg, true);
    let held = Arc::clone(&srv.state.write_slots)
        .try_acquire_owned()
        .expect("permit");
    let r = post(&srv.url, RW1, &body);
    assert_eq!(r.status, 503, "{r:?}");
    assert!(r.body.contains("too many concurrent"), "{r:?}");
    drop(held);
    let r = post(&srv.url, RW1, &body);
    assert_eq!(r.status, 204, "{r:?}");
    // Metadata-only requests (what Prometheus sends every minute) are accepted.
    let meta = encode_v1(&v1::WriteRequest {
        timeseries: vec![],
        metadata: vec![v1::MetricMetadata {
            r#type: 2,
            metric_family_name: "node_load1".into(),
            help: "1m load average.".into(),
            unit: String::new(),
        }],
    });
    let r = post(&srv.url, RW1, &meta);
    assert_eq!(r.status, 204, "{r:?}");
    let m = srv
        .db()
        .head()
        .metadata_by_metric(Some("node_load1"), None, None);
    assert_eq!(m["node_load1"][0].help, "1m load average.");
}
