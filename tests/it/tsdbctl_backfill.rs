//! `tsdbctl backfill` then `tsdbd`: an OpenMetrics file of five hours ending an hour ago
//! is backfilled into an empty data directory, tsdbd is started on it, and instant and
//! range queries over the backfilled range answer the file's values, with the right
//! number of series.

use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use e2e::{Tsdbd, api_query_range, result, tsdbctl_bin};

const STEP_MS: i64 = 60_000;
const SERIES: i64 = 5;

/// The value of series `s` at `t`.
fn value(s: i64, t: i64) -> f64 {
    (s * 1000 + (t / STEP_MS) % 1000) as f64 + 0.5
}

fn num(v: &serde_json::Value) -> f64 {
    v.as_str()
        .expect("a value string")
        .parse()
        .expect("a float")
}

#[test]
fn tsdbd_answers_queries_over_backfilled_blocks() {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    let end = now - now % STEP_MS - 3_600_000;
    let start = end - 5 * 3_600_000;
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut om = String::from("# TYPE backfilled gauge\n");
    for t in (start..=end).step_by(STEP_MS as usize) {
        for s in 0..SERIES {
            om.push_str(&format!(
                "backfilled{{series=\"{s}\"}} {} {}.{:03}\n",
                value(s, t),
                t / 1000,
                t % 1000
            ));
        }
    }
    om.push_str("# EOF\n");
    let file = tmp.path().join("in.om");
    std::fs::write(&file, om).expect("write input");
    let dir = tmp.path().join("data");
    let out = Command::new(tsdbctl_bin())
        .args(["backfill", "--output"])
        .arg(&dir)
        .arg(&file)
        .output()
        .expect("run tsdbctl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let tsdbd = Tsdbd::start(&dir);
    // Instant queries: every series' value at a few sample times.
    for t in [start, start + 97 * STEP_MS, end - 13 * STEP_MS, end] {
        let resp = tsdbd.query("backfilled", t as f64 / 1000.0);
        let r = result(&resp).as_array().expect("vector");
        assert_eq!(r.len(), SERIES as usize, "{resp}");
        for series in r {
            let s: i64 = series["metric"]["series"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .expect("series label");
            assert_eq!(num(&series["value"][1]), value(s, t), "series {s} at {t}");
        }
        let resp = tsdbd.query("count(backfilled)", t as f64 / 1000.0);
        assert_eq!(num(&result(&resp)[0]["value"][1]), SERIES as f64, "{resp}");
    }
    // A range query over the whole backfilled range at the input's step.
    let resp = api_query_range(
        &tsdbd.url(""),
        "backfilled",
        start as f64 / 1000.0,
        end as f64 / 1000.0,
        (STEP_MS / 1000) as f64,
    );
    let m = result(&resp).as_array().expect("matrix");
    assert_eq!(m.len(), SERIES as usize);
    let points = ((end - start) / STEP_MS + 1) as usize;
    for series in m {
        let s: i64 = series["metric"]["series"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .expect("series label");
        let values = series["values"].as_array().expect("values");
        assert_eq!(values.len(), points);
        for (i, v) in values.iter().enumerate() {
            let t = start + i as i64 * STEP_MS;
            assert_eq!((v[0].as_f64().expect("time") * 1000.0).round() as i64, t);
            assert_eq!(num(&v[1]), value(s, t), "series {s} at {t}");
        }
    }
    // Sample counts per series over the whole range.
    let resp = tsdbd.query("count_over_time(backfilled[6h])", end as f64 / 1000.0);
    for series in result(&resp).as_array().expect("vector") {
        assert_eq!(num(&series["value"][1]), points as f64, "{resp}");
    }
}
