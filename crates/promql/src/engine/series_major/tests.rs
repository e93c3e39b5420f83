//! The series-major path against the general path on random data: both must give the
//! same per-step vectors (labels, order and value bits), the same annotations and the
//! same errors, on one thread and split over two.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use prometheus_client::registry::Registry;
use proptest::prelude::*;
use tsdb::labels::Labels;
use tsdb::{Head, Options};

use crate::engine::eval::{Evaluator, STALE_NAN_BITS, Val};
use crate::engine::{EngineOptions, QueryContext, parse};

/// One random series: name index, job index, instance, and `(t_s, value)` points.
type GenSeries = (usize, usize, usize, Vec<(i64, f64)>);

const NAMES: [&str; 2] = ["a_total", "b"];

/// Values: counters with resets, gauges, and the awkward ones (NaN, ±Inf, huge values
/// that overflow a sum, staleness markers).
fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        8 => (0u32..1000).prop_map(f64::from),
        3 => -1e3f64..1e3,
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(f64::NEG_INFINITY),
        1 => Just(1e308),
        1 => Just(-1e308),
        1 => Just(f64::from_bits(STALE_NAN_BITS)),
    ]
}

fn series() -> impl Strategy<Value = GenSeries> {
    (
        0..NAMES.len(),
        0usize..3,
        0usize..6,
        0i64..200,
        prop::collection::vec((1i64..40, value()), 0..40),
    )
        .prop_map(|(name, job, inst, start, steps)| {
            let mut t = start;
            let points = steps
                .into_iter()
                .map(|(dt, v)| {
                    t += dt;
                    (t, v)
                })
                .collect();
            (name, job, inst, points)
        })
}

fn head(series: &[GenSeries]) -> Head {
    let head = Head::new(
        &Options {
            wal_enabled: false,
            block_range: 24 * 3600 * 1000,
            ..Default::default()
        },
        &mut Registry::default(),
    )
    .expect("head");
    let mut seen = std::collections::HashSet::new();
    let mut app = head.appender();
    for (name, job, inst, points) in series {
        // Series with equal labels would merge; keep the first.
        if !seen.insert((*name, *job, *inst)) {
            continue;
        }
        let l = Labels::from_pairs(&[
            ("__name__", NAMES[*name].to_string()),
            ("job", format!("j{job}")),
            ("inst", format!("i{inst}")),
        ]);
        for &(t, v) in points {
            app.add(0, &l, t * 1000, v).expect("add");
        }
    }
    app.commit_batch().expect("commit");
    head
}

fn query() -> impl Strategy<Value = String> {
    let op = prop::sample::select(vec![
        "sum", "avg", "count", "group", "min", "max", "stddev", "stdvar",
    ]);
    let grouping = prop::sample::select(vec![
        "",
        " by (job)",
        " by (__name__, job)",
        " by (inst, job)",
        " without (inst)",
        " without (job, __name__)",
    ]);
    let selector = prop::sample::select(vec![
        "a_total",
        "b",
        "{__name__=~\"a_total|b\"}",
        "a_total{job!=\"j1\"}",
        "a_total offset 30s",
        "b @ 150",
    ]);
    let func = prop::sample::select(vec![
        "",
        "rate",
        "increase",
        "delta",
        "irate",
        "idelta",
        "changes",
        "resets",
        "deriv",
        "avg_over_time",
        "sum_over_time",
        "count_over_time",
        "min_over_time",
        "max_over_time",
        "stddev_over_time",
        "stdvar_over_time",
        "present_over_time",
        "last_over_time",
    ]);
    let range = prop::sample::select(vec!["30s", "1m", "2m"]);
    (op, grouping, selector, func, range).prop_map(|(op, grouping, selector, func, range)| {
        let arg = if func.is_empty() {
            selector.to_string()
        } else {
            // The range goes before `offset`/`@`.
            let (sel, modifier) = match selector.find(" offset").or(selector.find(" @")) {
                Some(i) => selector.split_at(i),
                None => (selector, ""),
            };
            format!("{func}({sel}[{range}]{modifier})")
        };
        format!("{op}{grouping} ({arg})")
    })
}

/// What a query gave: per-step `(labels, value bits)` in order, or the error; then the
/// warnings and infos.
type Outcome = (
    Result<Vec<Vec<(String, u64)>>, String>,
    Vec<String>,
    Vec<String>,
);

/// Evaluates `q` with the series-major path on or off and the parallel threshold given.
fn outcome(
    storage: &Head,
    q: &str,
    (start, end, step): (i64, i64, i64),
    mode: (bool, usize),
) -> Outcome {
    let opts = EngineOptions::default();
    let ctx = QueryContext {
        deadline: None,
        cancel: Arc::new(AtomicBool::new(false)),
    };
    let expr = parse(q).expect("parses");
    let mut ev = Evaluator::new(storage, &opts, &ctx, start, end, step);
    (ev.series_major, ev.parallel_min_series) = mode;
    let res = match ev.eval(&expr) {
        Ok(Val::Vector(steps)) => Ok(steps
            .into_iter()
            .map(|v| {
                v.into_iter()
                    .map(|s| (s.labels.to_string(), s.v.to_bits()))
                    .collect()
            })
            .collect()),
        Ok(other) => Err(format!("not a vector: {other:?}")),
        Err(e) => Err(e.to_string()),
    };
    (res, ev.annos.warnings, ev.annos.infos)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn series_major_matches_the_general_path(
        data in prop::collection::vec(series(), 0..24),
        q in query(),
        start in 0i64..400,
        steps in 1i64..40,
        step in prop::sample::select(vec![5i64, 10, 15, 60]),
    ) {
        let h = head(&data);
        let range = (start * 1000, (start + (steps - 1) * step) * 1000, step * 1000);
        let general = outcome(&h, &q, range, (false, usize::MAX));
        let one_thread = outcome(&h, &q, range, (true, usize::MAX));
        let two_threads = outcome(&h, &q, range, (true, 2));
        prop_assert_eq!(&one_thread, &general, "{}", q);
        prop_assert_eq!(&two_threads, &general, "{}", q);
    }
}
