//! `kill -9` during sustained remote write, several rounds: after each restart every sample
//! of every request that got a 2xx is queryable.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use e2e::{Tsdbd, api_query, result};
use ingest::proto::v1;

/// Concurrent writers, each with its own series.
const WRITERS: usize = 2;
/// Series per writer; every request carries one sample of each.
const SERIES: usize = 20;
/// Kill rounds.
const ROUNDS: usize = 4;
/// Simulated time between a writer's consecutive requests (ms).
const STEP_MS: i64 = 10;

/// The body of request `k` of writer `w`: one sample at `base + k·STEP_MS` with value `k`
/// for each of the writer's series.
fn body(w: usize, k: i64, base: i64) -> Vec<u8> {
    let timeseries = (0..SERIES)
        .map(|s| {
            let (series, writer) = (format!("s{s:02}"), format!("w{w}"));
            v1::TimeSeries::new(
                &[
                    ("__name__", "e2e_crash"),
                    ("series", series.as_str()),
                    ("writer", writer.as_str()),
                ],
                &[(base + k * STEP_MS, k as f64)],
            )
        })
        .collect();
    ingest::encode::encode_v1(&v1::WriteRequest {
        timeseries,
        metadata: Vec::new(),
    })
}

/// Sends requests `from..` until `stop`; returns the acknowledged ones and the next `k`.
fn write_until(url: &str, w: usize, from: i64, base: i64, stop: &AtomicBool) -> (Vec<i64>, i64) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(5)))
        .build()
        .into();
    let mut acked = Vec::new();
    let mut k = from;
    while !stop.load(Ordering::Relaxed) {
        let res = agent
            .post(&format!("{url}/api/v1/write"))
            .header("Content-Type", "application/x-protobuf")
            .header("Content-Encoding", "snappy")
            .header("X-Prometheus-Remote-Write-Version", "0.1.0")
            .send(&body(w, k, base)[..]);
        k += 1;
        match res {
            Ok(r) if r.status().is_success() => acked.push(k - 1),
            Ok(r) => panic!("writer {w}: request {} got {}", k - 1, r.status()),
            // The server is gone: the kill happened.
            Err(_) => break,
        }
    }
    // Whatever this writer sent last may or may not have landed; never reuse its time.
    (acked, k)
}

#[test]
fn kill_during_remote_write_loses_no_acknowledged_sample() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("data");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    let base = now - 20 * 60 * 1000;
    let mut next = [0i64; WRITERS];
    let mut acked: Vec<Vec<i64>> = vec![Vec::new(); WRITERS];
    let mut server = Tsdbd::start(&dir);
    let port = server.port;
    for round in 0..ROUNDS {
        let stop = AtomicBool::new(false);
        let url = server.url("");
        let results = std::thread::scope(|s| {
            let handles: Vec<_> = (0..WRITERS)
                .map(|w| {
                    let (url, stop) = (&url, &stop);
                    let from = next[w];
                    s.spawn(move || write_until(url, w, from, base, stop))
                })
                .collect();
            // Kill at a different moment each round, while the writers are busy.
            std::thread::sleep(Duration::from_millis(700 + 450 * round as u64));
            server.kill();
            stop.store(true, Ordering::Relaxed);
            handles
                .into_iter()
                .map(|h| h.join().expect("writer"))
                .collect::<Vec<_>>()
        });
        for (w, (a, n)) in results.into_iter().enumerate() {
            assert!(
                !a.is_empty(),
                "round {round}: writer {w} got no acknowledgement"
            );
            acked[w].extend(a);
            next[w] = n;
        }
        server = Tsdbd::start_on(&dir, port, &[]);
        check(&server, &acked, base, &next);
    }
    server.stop();
}

/// Every acknowledged request's samples are stored with the right values.
fn check(server: &Tsdbd, acked: &[Vec<i64>], base: i64, next: &[i64]) {
    for (w, ks) in acked.iter().enumerate() {
        let t = (base + next[w] * STEP_MS) as f64 / 1000.0;
        let resp = api_query(
            &server.url(""),
            &format!("e2e_crash{{writer=\"w{w}\"}}[30m]"),
            Some(t),
        );
        let mut stored: BTreeMap<String, BTreeMap<i64, f64>> = BTreeMap::new();
        for series in result(&resp).as_array().expect("matrix") {
            let name = series["metric"]["series"]
                .as_str()
                .expect("series label")
                .to_owned();
            let points = stored.entry(name).or_default();
            for p in series["values"].as_array().expect("values") {
                let ms = (p[0].as_f64().expect("t") * 1000.0).round() as i64;
                let v: f64 = p[1].as_str().expect("v").parse().expect("float");
                points.insert(ms, v);
            }
        }
        assert_eq!(stored.len(), SERIES, "writer {w}: series missing");
        for (name, points) in &stored {
            for &k in ks {
                let ts = base + k * STEP_MS;
                assert_eq!(
                    points.get(&ts),
                    Some(&(k as f64)),
                    "writer {w} series {name}: acknowledged request {k} lost"
                );
            }
        }
    }
}
