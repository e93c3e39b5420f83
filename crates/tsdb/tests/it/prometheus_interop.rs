//! WAL interoperability with the reference Prometheus 3.5.3, both ways:
//! a WAL we wrote is served by Prometheus, and a WAL Prometheus wrote is replayed by us.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prometheus_client::registry::Registry;
use tsdb::labels::Labels;
use tsdb::{Db, Head, Options};

use crate::util::{self, Prometheus, Sample};

const STALE_NAN: u64 = 0x7ff0_0000_0000_0002;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64
}

/// NaN payloads are printed as plain `NaN` by Prometheus's tools: compare NaNs as one value.
fn nan_normalized(mut s: Vec<Sample>) -> Vec<Sample> {
    for x in &mut s {
        if f64::from_bits(x.2).is_nan() {
            x.2 = f64::NAN.to_bits();
        }
    }
    s
}

fn interesting_values(i: i64) -> f64 {
    match i % 9 {
        0 => f64::INFINITY,
        1 => f64::NEG_INFINITY,
        2 => -1e300,
        3 => 5e-324,
        4 => (i as f64) * 0.1,
        5 => 42.0,
        6 => 42.0,
        7 => -0.0,
        _ => 1e15 + i as f64,
    }
}

#[test]
fn prometheus_serves_a_wal_we_wrote() {
    let Some(bin) = util::reference_bin_dir() else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let start = now_ms() - 30 * 60 * 1000;
    {
        let db = Db::open(&data, Options::default(), &mut Registry::default()).expect("open");
        let series: Vec<Labels> = (0..20)
            .map(|s| {
                Labels::from_pairs(&[
                    ("__name__", "interop_metric"),
                    ("job", "tsdbd"),
                    ("instance", &format!("host-{s}")),
                ])
            })
            .collect();
        // 300 batches, 10 s apart: several chunks per series, one commit per batch.
        for i in 0..300i64 {
            let mut app = db.appender();
            for (s, l) in series.iter().enumerate() {
                let v = if s == 0 && i == 299 {
                    f64::from_bits(STALE_NAN)
                } else {
                    interesting_values(i + s as i64)
                };
                app.add(0, l, start + i * 10_000 + s as i64, v)
                    .expect("append");
            }
            app.commit_batch().expect("commit");
        }
        db.close().expect("close");
    }
    let ours = nan_normalized(util::all_samples(
        &Db::open(
            &data,
            Options {
                wal_enabled: true,
                ..Options::default()
            },
            &mut Registry::default(),
        )
        .expect("reopen"),
    ));
    assert_eq!(ours.len(), 20 * 300);

    // promtool reads our WAL sample for sample.
    let dumped = nan_normalized(util::promtool_dump(&bin, &data));
    util::assert_same_samples(&dumped, &ours, "promtool tsdb dump of our WAL");

    // Prometheus itself opens the directory and serves the samples over its HTTP API.
    let prom = Prometheus::start(&bin, &data, "global: {}\n", &[]);
    let end = start + 300 * 10_000;
    let body = ureq::get(&format!("{}/api/v1/query", prom.url))
        .query("query", "interop_metric[1h]")
        .query("time", (end as f64 / 1000.0).to_string())
        .call()
        .expect("query")
        .body_mut()
        .read_to_string()
        .expect("body");
    let resp: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(resp["status"], "success", "{resp}");
    let result = resp["data"]["result"].as_array().expect("matrix");
    assert_eq!(result.len(), 20);
    let mut served = 0;
    for series in result {
        for point in series["values"].as_array().expect("values") {
            let t = (point[0].as_f64().expect("t") * 1000.0).round() as i64;
            let v = point[1].as_str().expect("v");
            let inst = series["metric"]["instance"].as_str().expect("instance");
            let key =
                format!("{{__name__=\"interop_metric\", instance=\"{inst}\", job=\"tsdbd\"}}");
            let want = ours
                .iter()
                .find(|s| s.0 == key && s.1 == t)
                .unwrap_or_else(|| {
                    panic!("Prometheus served a sample we never wrote: {key} @ {t}")
                });
            let want_v = f64::from_bits(want.2);
            let got_v: f64 = match v {
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                "NaN" => f64::NAN,
                x => x.parse().expect("float"),
            };
            assert!(
                want_v.to_bits() == got_v.to_bits()
                    || (want_v.is_nan() && got_v.is_nan())
                    || want_v == got_v,
                "{key} @ {t}: {want_v} vs {got_v}"
            );
            served += 1;
        }
    }
    // The stale marker is not returned by range selectors; everything else is.
    assert_eq!(served, 20 * 300 - 1, "samples served by Prometheus");
    prom.stop();
}

/// Encodes a remote-write v1 `WriteRequest` by hand (protobuf wire format) and snappy.
/// One series of a remote-write request: labels and `(timestamp, value)` samples.
type RwSeries<'a> = (Vec<(&'a str, String)>, Vec<(i64, f64)>);

fn remote_write_body(series: &[RwSeries<'_>]) -> Vec<u8> {
    fn put_len(buf: &mut Vec<u8>, field: u8, bytes: &[u8]) {
        buf.push((field << 3) | 2);
        tsdb::encoding::put_uvarint(buf, bytes.len() as u64);
        buf.extend_from_slice(bytes);
    }
    let mut req = Vec::new();
    for (labels, samples) in series {
        let mut ts = Vec::new();
        for (n, v) in labels {
            let mut l = Vec::new();
            put_len(&mut l, 1, n.as_bytes());
            put_len(&mut l, 2, v.as_bytes());
            put_len(&mut ts, 1, &l);
        }
        for &(t, v) in samples {
            let mut s = vec![(1 << 3) | 1];
            s.extend_from_slice(&v.to_bits().to_le_bytes());
            s.push(2 << 3);
            tsdb::encoding::put_uvarint(&mut s, t as u64);
            put_len(&mut ts, 2, &s);
        }
        put_len(&mut req, 1, &ts);
    }
    snap::raw::Encoder::new()
        .compress_vec(&req)
        .expect("snappy")
}

#[test]
fn we_replay_a_wal_prometheus_wrote() {
    let Some(bin) = util::reference_bin_dir() else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("prom");
    std::fs::create_dir_all(&data).expect("mkdir");
    let config = "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: self\n    static_configs:\n      - targets: ['127.0.0.1:PORT']\n";
    let prom = Prometheus::start(&bin, &data, config, &["--web.enable-remote-write-receiver"]);

    let now = now_ms();
    let mut series = Vec::new();
    for s in 0..10 {
        let samples: Vec<(i64, f64)> = (0..200)
            .map(|i| {
                let t = now - 20 * 60 * 1000 + i * 5_000 + s;
                let v = if i == 199 && s % 2 == 0 {
                    f64::from_bits(STALE_NAN)
                } else {
                    interesting_values(i * 7 + s)
                };
                (t, v)
            })
            .collect();
        series.push((
            vec![
                ("__name__", "rw_metric".to_string()),
                ("series", format!("s{s:02}")),
            ],
            samples,
        ));
    }
    let resp = ureq::post(&format!("{}/api/v1/write", prom.url))
        .header("Content-Encoding", "snappy")
        .header("Content-Type", "application/x-protobuf")
        .header("X-Prometheus-Remote-Write-Version", "0.1.0")
        .send(&remote_write_body(&series[..]))
        .expect("remote write");
    assert_eq!(resp.status(), 204);
    // Let Prometheus scrape itself a few times too: real label sets, real values. Its
    // discovery hands out targets after about 5 s, so wait for the first scrape.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let body = ureq::get(&format!("{}/api/v1/query", prom.url))
            .query("query", "up")
            .call()
            .expect("query")
            .body_mut()
            .read_to_string()
            .expect("body");
        if body.contains("\"job\":\"self\"") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "Prometheus never scraped itself"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(3));
    prom.stop();

    let expected = util::promtool_dump(&bin, &data);
    assert!(
        expected
            .iter()
            .filter(|s| s.0.contains("rw_metric"))
            .count()
            == 2000
    );
    let log = std::fs::read_to_string(data.with_extension("log")).unwrap_or_default();
    assert!(
        expected.len() > 2000 + 100,
        "self-scrape produced too few samples: {}; log:\n{log}",
        expected.len()
    );

    let mut reg = Registry::default();
    let head = Head::open(&data.join("wal"), &Options::default(), &mut reg)
        .expect("replay Prometheus WAL");
    let ours = util::all_samples(&head);
    assert_eq!(head.wal_metrics().corruptions_total.get(), 0);
    // Stale markers keep their exact bits through Prometheus's WAL and our replay.
    let stale = ours
        .iter()
        .filter(|s| s.0.contains("rw_metric") && s.2 == STALE_NAN)
        .count();
    assert_eq!(stale, 5);
    util::assert_same_samples(
        &nan_normalized(ours),
        &nan_normalized(expected),
        "our replay of the Prometheus WAL",
    );
    head.close().expect("close");
}
