//! The real Prometheus 3.5.3 scrapes itself and remote-writes to us (RW1, exemplars and
//! metadata on); the samples it sent land in our head exactly as in its own TSDB.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use server::Config;
use tsdb::chunkenc::{SampleIterator, ValueType};
use tsdb::labels::{MatchType, Matcher};
use tsdb::storage::Querier;
use tsdb::testutil::{Prometheus, reference_bin_dir};

use crate::{TestServer, agent};

type Series = BTreeMap<BTreeMap<String, String>, Vec<(i64, u64)>>;

fn ours(srv: &TestServer, name: &str, maxt: i64) -> Series {
    let q = srv.db().head().querier(i64::MIN, maxt);
    let m = Matcher::new(MatchType::Equal, "__name__", name).expect("matcher");
    let mut out = Series::new();
    for s in q.select(true, None, &[m]).expect("select") {
        let s = s.expect("series");
        let labels = s
            .labels()
            .iter()
            .map(|l| (l.name.to_string(), l.value.to_string()))
            .collect();
        let mut pts = Vec::new();
        let mut it = s.iterator();
        while it.next() != ValueType::None {
            let (t, v) = it.at();
            pts.push((t, v.to_bits()));
        }
        out.insert(labels, pts);
    }
    out
}

fn theirs(prom: &Prometheus, name: &str, maxt: i64) -> Series {
    let body = agent()
        .get(&format!("{}/api/v1/query", prom.url))
        .query("query", format!("{name}[1h]"))
        .query("time", format!("{:.3}", maxt as f64 / 1000.0))
        .call()
        .expect("query")
        .body_mut()
        .read_to_string()
        .expect("body");
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(v["status"], "success", "{v}");
    let mut out = Series::new();
    for s in v["data"]["result"].as_array().expect("matrix") {
        let labels = s["metric"]
            .as_object()
            .expect("metric")
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().expect("value").to_owned()))
            .collect();
        let pts = s["values"]
            .as_array()
            .expect("values")
            .iter()
            .map(|p| {
                let t = (p[0].as_f64().expect("t") * 1000.0).round() as i64;
                let v: f64 = p[1].as_str().expect("v").parse().expect("float");
                (t, v.to_bits())
            })
            .collect();
        out.insert(labels, pts);
    }
    out
}

fn newest(srv: &TestServer, name: &str) -> Option<i64> {
    ours(srv, name, i64::MAX)
        .values()
        .filter_map(|p| p.last().map(|x| x.0))
        .max()
}

#[test]
fn prometheus_remote_writes_to_us() {
    let Some(bin) = reference_bin_dir() else {
        return;
    };
    let srv = TestServer::start(Config::default(), true);
    let dir = tempfile::tempdir().expect("tempdir");
    let config = format!(
        r#"
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: self
    static_configs:
      - targets: ["127.0.0.1:PORT"]
remote_write:
  - url: {}/api/v1/write
    send_exemplars: true
    queue_config:
      batch_send_deadline: 500ms
      min_backoff: 50ms
    metadata_config:
      send: true
      send_interval: 1s
"#,
        srv.url
    );
    let prom = Prometheus::start(
        &bin,
        &dir.path().join("prom"),
        &config,
        &["--enable-feature=exemplar-storage"],
    );
    // Wait until at least 8 scrapes of `up` reached us.
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let n: usize = ours(&srv, "up", i64::MAX).values().map(Vec::len).sum();
        if n >= 8 {
            break;
        }
        assert!(Instant::now() < deadline, "only {n} samples of up arrived");
        std::thread::sleep(Duration::from_millis(250));
    }
    for name in [
        "up",
        "prometheus_build_info",
        "go_goroutines",
        "prometheus_http_requests_total",
    ] {
        let maxt = newest(&srv, name).unwrap_or_else(|| panic!("no {name} received"));
        let (a, b) = (ours(&srv, name, maxt), theirs(&prom, name, maxt));
        assert!(!a.is_empty(), "{name}: nothing received");
        // Every series Prometheus has up to `maxt` we have, sample for sample, except
        // series whose first sample is later than what was sent so far.
        for (labels, pts) in &b {
            match a.get(labels) {
                Some(mine) => {
                    let mine_start = mine.first().map_or(i64::MAX, |p| p.0);
                    let theirs_from: Vec<_> =
                        pts.iter().filter(|p| p.0 >= mine_start).copied().collect();
                    assert_eq!(mine, &theirs_from, "{name} {labels:?}");
                }
                None => assert!(
                    pts.len() <= 2,
                    "{name}: series {labels:?} with {} samples never arrived",
                    pts.len()
                ),
            }
        }
        for labels in a.keys() {
            assert!(
                b.contains_key(labels),
                "{name}: {labels:?} unknown to Prometheus"
            );
        }
    }
    // Metadata was sent too and is served by /api/v1/metadata.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let body = agent()
            .get(&format!(
                "{}/api/v1/metadata?metric=prometheus_build_info",
                srv.url
            ))
            .call()
            .expect("metadata")
            .body_mut()
            .read_to_string()
            .expect("body");
        if body.contains(r#""type":"gauge""#) {
            break;
        }
        assert!(Instant::now() < deadline, "no metadata arrived: {body}");
        std::thread::sleep(Duration::from_millis(250));
    }
    let sent = srv.state.write_metrics.samples_written.get();
    assert!(sent > 0);
    prom.stop();
}
