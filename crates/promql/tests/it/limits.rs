//! Limits: a query over far more samples than `max_samples` fails with Prometheus's error
//! type (`execution`, "query processing would load too many samples into memory ...")
//! while the process's peak memory stays far below what the query would need.
//!
//! Peak memory is read from `VmHWM` in `/proc/self/status`; nextest runs each test in its
//! own process, so the peak belongs to this test alone.

use prometheus_client::registry::Registry;
use promql::{Engine, EngineOptions, Error, QueryContext};
use tsdb::labels::Labels;
use tsdb::{ErrorKind, Head, Options};

const SERIES: usize = 5_000;
const STEP_MS: i64 = 15_000;
const SAMPLES: i64 = 1_440; // 6 h at 15 s

fn peak_rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("proc status");
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM line");
    kb * 1024
}

fn loaded_head() -> Head {
    let opts = Options {
        wal_enabled: false,
        block_range: 24 * 3600 * 1000,
        ..Options::default()
    };
    let head = Head::new(&opts, &mut Registry::default()).expect("head");
    let labels: Vec<Labels> = (0..SERIES)
        .map(|i| Labels::from_pairs(&[("__name__", "big"), ("i", &i.to_string())]))
        .collect();
    let mut refs = vec![0u64; SERIES];
    for step in 0..SAMPLES {
        let mut app = head.appender();
        for (i, l) in labels.iter().enumerate() {
            refs[i] = app
                .add(refs[i], l, step * STEP_MS, (step + i as i64) as f64)
                .expect("append");
        }
        app.commit_batch().expect("commit");
    }
    head
}

#[test]
fn queries_over_the_sample_limit_fail_with_bounded_memory() {
    let head = loaded_head();
    let engine = Engine::new(EngineOptions {
        max_samples: 1_000_000,
        ..EngineOptions::default()
    });
    let ctx = QueryContext::default();
    let end = (SAMPLES - 1) * STEP_MS;
    let before = peak_rss_bytes();

    // A raw range query at a 1 s step: 5 000 series x 21 600 steps = 108 M points, about
    // 1.7 GB as (t, v) pairs if nothing stopped it.
    let err = engine
        .range_query(&head, "big", 0, end, 1_000, &ctx)
        .expect_err("must hit the limit");
    assert!(matches!(err, Error::TooManySamples(_)), "{err}");
    assert_eq!(err.kind(), ErrorKind::Execution);
    assert!(
        err.to_string()
            .starts_with("query processing would load too many samples into memory"),
        "{err}"
    );

    // The same through a function and an aggregation, and as an instant query over a
    // range selector holding 7.2 M samples.
    let err = engine.range_query(&head, "sum(rate(big[1h]))", 0, end, 1_000, &ctx);
    assert!(matches!(err, Err(Error::TooManySamples(_))), "{err:?}");
    let err = engine.instant_query(&head, "big[6h]", end, &ctx);
    assert!(matches!(err, Err(Error::TooManySamples(_))), "{err:?}");

    let grown = peak_rss_bytes().saturating_sub(before);
    assert!(
        grown < 300 << 20,
        "peak memory grew by {} MiB while refusing the queries",
        grown >> 20
    );

    // Within the limit the same data is queryable: 5 000 series x 36 steps of 10 min (the
    // raw samples behind them, 7.2 M, are streamed one series at a time and not held).
    let ok = engine
        .range_query(&head, "sum(big)", 0, end, 600_000, &ctx)
        .expect("within limits");
    assert!(matches!(ok.value, promql::value::Value::Matrix(ref m) if m.len() == 1));
}
