//! Engine tests over an in-memory head: selectors, lookback and staleness, offset and `@`,
//! matching, aggregations, limits and errors.

use std::sync::atomic::Ordering;

use prometheus_client::registry::Registry;
use tsdb::labels::Labels;
use tsdb::{Head, Options};

use super::eval::STALE_NAN_BITS;
use crate::engine::{Engine, EngineOptions, QueryContext};
use crate::error::Error;
use crate::value::{Sample, Value};

/// A head with `series`: each is (labels, [(t_seconds, value)]).
/// Labels and `(t_seconds, value)` points of one test series.
type TestSeries<'a> = (&'a [(&'a str, &'a str)], &'a [(i64, f64)]);

fn head(series: &[TestSeries<'_>]) -> Head {
    let head = Head::new(
        &Options {
            wal_enabled: false,
            block_range: 24 * 3600 * 1000,
            ..Default::default()
        },
        &mut Registry::default(),
    )
    .expect("head");
    let mut app = head.appender();
    for (labels, points) in series {
        let l = Labels::from_pairs(labels);
        for &(t, v) in *points {
            app.add(0, &l, t * 1000, v).expect("add");
        }
    }
    app.commit_batch().expect("commit");
    head
}

fn engine() -> Engine {
    Engine::new(EngineOptions::default())
}

fn instant(h: &Head, q: &str, t_s: i64) -> Value {
    engine()
        .instant_query(h, q, t_s * 1000, &QueryContext::default())
        .unwrap_or_else(|e| panic!("{q}: {e}"))
        .value
}

/// The vector's (labels as text, value) pairs, sorted.
fn vec_of(v: Value) -> Vec<(String, f64)> {
    match v {
        Value::Vector(s) => {
            let mut out: Vec<(String, f64)> = s
                .into_iter()
                .map(|Sample { labels, v, .. }| (labels.to_string(), v))
                .collect();
            out.sort_by(|a, b| a.0.cmp(&b.0));
            out
        }
        other => panic!("not a vector: {other:?}"),
    }
}

fn one(name: &str, v: f64) -> Vec<(String, f64)> {
    vec![(name.to_string(), v)]
}

fn stale() -> f64 {
    f64::from_bits(STALE_NAN_BITS)
}

#[test]
fn instant_selector_lookback_and_staleness() {
    let h = head(&[
        (&[("__name__", "a"), ("job", "x")], &[(0, 1.0), (60, 2.0)]),
        (&[("__name__", "b")], &[(0, 5.0), (30, stale())]),
    ]);
    assert_eq!(
        vec_of(instant(&h, "a", 60)),
        one("{__name__=\"a\", job=\"x\"}", 2.0)
    );
    assert_eq!(
        vec_of(instant(&h, "a", 359)),
        one("{__name__=\"a\", job=\"x\"}", 2.0)
    );
    // Left-open lookback: the sample at exactly t - 5m is out.
    assert!(vec_of(instant(&h, "a", 360)).is_empty());
    assert_eq!(vec_of(instant(&h, "b", 29)), one("{__name__=\"b\"}", 5.0));
    assert!(vec_of(instant(&h, "b", 30)).is_empty());
    assert!(vec_of(instant(&h, "b", 100)).is_empty());
}

#[test]
fn range_selector_is_left_open_and_drops_stale() {
    let h = head(&[(
        &[("__name__", "a")],
        &[(0, 1.0), (10, 2.0), (20, stale()), (30, 4.0)],
    )]);
    match instant(&h, "a[30s]", 30) {
        Value::Matrix(m) => {
            assert_eq!(m.len(), 1);
            assert_eq!(m[0].points, vec![(10_000, 2.0), (30_000, 4.0)]);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn offset_and_at() {
    let h = head(&[(&[("__name__", "a")], &[(0, 1.0), (60, 2.0), (120, 3.0)])]);
    assert_eq!(
        vec_of(instant(&h, "a offset 1m", 120)),
        one("{__name__=\"a\"}", 2.0)
    );
    assert_eq!(
        vec_of(instant(&h, "a offset -1m", 60)),
        one("{__name__=\"a\"}", 3.0)
    );
    assert_eq!(
        vec_of(instant(&h, "a @ 60", 1000)),
        one("{__name__=\"a\"}", 2.0)
    );
    assert_eq!(
        vec_of(instant(&h, "a @ 120 offset 2m", 0)),
        one("{__name__=\"a\"}", 1.0)
    );
    let r = engine()
        .range_query(
            &h,
            "a @ end()",
            0,
            120_000,
            60_000,
            &QueryContext::default(),
        )
        .expect("range");
    match r.value {
        Value::Matrix(m) => {
            assert_eq!(m[0].points, vec![(0, 3.0), (60_000, 3.0), (120_000, 3.0)]);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn binary_operators_and_matching() {
    let h = head(&[
        (&[("__name__", "a"), ("i", "1"), ("g", "x")], &[(0, 1.0)]),
        (&[("__name__", "a"), ("i", "2"), ("g", "x")], &[(0, 2.0)]),
        (&[("__name__", "b"), ("g", "x")], &[(0, 10.0)]),
        (&[("__name__", "c"), ("i", "1"), ("g", "x")], &[(0, 5.0)]),
    ]);
    assert_eq!(
        vec_of(instant(&h, "a + c", 0)),
        one("{g=\"x\", i=\"1\"}", 6.0)
    );
    assert_eq!(
        vec_of(instant(&h, "a * on(g) group_left b", 0)),
        vec![
            ("{g=\"x\", i=\"1\"}".to_string(), 10.0),
            ("{g=\"x\", i=\"2\"}".to_string(), 20.0)
        ]
    );
    assert_eq!(
        vec_of(instant(&h, "a > 1", 0)),
        one("{__name__=\"a\", g=\"x\", i=\"2\"}", 2.0)
    );
    assert_eq!(
        vec_of(instant(&h, "a > bool 1", 0)),
        vec![
            ("{g=\"x\", i=\"1\"}".to_string(), 0.0),
            ("{g=\"x\", i=\"2\"}".to_string(), 1.0)
        ]
    );
    assert_eq!(vec_of(instant(&h, "a and c", 0)).len(), 1);
    assert_eq!(vec_of(instant(&h, "a unless c", 0)).len(), 1);
    assert_eq!(vec_of(instant(&h, "a or b", 0)).len(), 3);
    assert_eq!(instant(&h, "1 + 2 * 3", 0), Value::Scalar { t: 0, v: 7.0 });
    let err = engine()
        .instant_query(&h, "b * on(g) a", 0, &QueryContext::default())
        .expect_err("many-to-many");
    assert!(
        err.to_string().contains(
            "many-to-many matching not allowed: matching labels must be unique on one side"
        ),
        "{err}"
    );
    let err = engine()
        .instant_query(&h, "a + 1 or -a", 0, &QueryContext::default())
        .map(|_| ())
        .and_then(|_| {
            engine()
                .instant_query(&h, "a - 0 > 0 or a * 1", 0, &QueryContext::default())
                .map(|_| ())
        });
    assert!(err.is_ok());
}

/// A range function checks its series' output labels once for the node: series that
/// collide after `__name__` is dropped fail only if they have outputs at the same step.
#[test]
fn range_function_duplicates_only_at_shared_steps() {
    let h = head(&[
        (&[("__name__", "a"), ("i", "1")], &[(0, 1.0), (60, 2.0)]),
        (
            &[("__name__", "b"), ("i", "1")],
            &[(1000, 1.0), (1060, 2.0)],
        ),
        (&[("__name__", "c"), ("i", "2")], &[(0, 1.0), (1060, 2.0)]),
    ]);
    let q = |start: i64, end: i64| {
        engine().range_query(
            &h,
            "sum_over_time({i!=\"\"}[2m])",
            start * 1000,
            end * 1000,
            60_000,
            &QueryContext::default(),
        )
    };
    let ok = q(0, 120).expect("a and b never share a step");
    match ok.value {
        Value::Matrix(m) => assert_eq!(m.len(), 2),
        other => panic!("{other:?}"),
    }
    let ok = q(0, 1200).expect("still disjoint");
    match ok.value {
        Value::Matrix(m) => assert_eq!(m.len(), 2),
        other => panic!("{other:?}"),
    }
    let h2 = head(&[
        (&[("__name__", "a"), ("i", "1")], &[(0, 1.0), (60, 2.0)]),
        (&[("__name__", "b"), ("i", "1")], &[(60, 1.0)]),
    ]);
    let err = engine()
        .range_query(
            &h2,
            "rate({i=\"1\"}[2m])",
            0,
            120_000,
            60_000,
            &QueryContext::default(),
        )
        .map(|_| ());
    assert!(err.is_ok(), "rate needs two points: b has no output");
    let err = engine()
        .range_query(
            &h2,
            "sum_over_time({i=\"1\"}[2m])",
            0,
            120_000,
            60_000,
            &QueryContext::default(),
        )
        .expect_err("a and b share steps 60 and 120");
    assert_eq!(
        err.to_string(),
        "vector cannot contain metrics with the same labelset"
    );
}

#[test]
fn duplicate_labelset_is_an_error() {
    let h = head(&[
        (&[("__name__", "a"), ("i", "1")], &[(0, 1.0)]),
        (&[("__name__", "b"), ("i", "1")], &[(0, 2.0)]),
    ]);
    let err = engine()
        .instant_query(&h, "{i=\"1\"} * 2", 0, &QueryContext::default())
        .expect_err("duplicate");
    assert_eq!(
        err.to_string(),
        "vector cannot contain metrics with the same labelset"
    );
}

#[test]
fn aggregations() {
    let h = head(&[
        (&[("__name__", "a"), ("i", "1"), ("g", "x")], &[(0, 1.0)]),
        (&[("__name__", "a"), ("i", "2"), ("g", "x")], &[(0, 2.0)]),
        (&[("__name__", "a"), ("i", "3"), ("g", "y")], &[(0, 6.0)]),
    ]);
    assert_eq!(
        vec_of(instant(&h, "sum by (g) (a)", 0)),
        vec![
            ("{g=\"x\"}".to_string(), 3.0),
            ("{g=\"y\"}".to_string(), 6.0)
        ]
    );
    assert_eq!(vec_of(instant(&h, "avg(a)", 0)), one("{}", 3.0));
    assert_eq!(vec_of(instant(&h, "count without (i) (a)", 0)).len(), 2);
    assert_eq!(vec_of(instant(&h, "max(a)", 0)), one("{}", 6.0));
    assert_eq!(vec_of(instant(&h, "min(a)", 0)), one("{}", 1.0));
    assert_eq!(vec_of(instant(&h, "group(a)", 0)), one("{}", 1.0));
    assert_eq!(vec_of(instant(&h, "stdvar(a)", 0)), one("{}", 14.0 / 3.0));
    match instant(&h, "topk(2, a)", 0) {
        Value::Vector(v) => {
            assert_eq!(v.iter().map(|s| s.v).collect::<Vec<_>>(), vec![6.0, 2.0]);
        }
        other => panic!("{other:?}"),
    }
    match instant(&h, "bottomk(1, a)", 0) {
        Value::Vector(v) => assert_eq!(v[0].v, 1.0),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        vec_of(instant(&h, "count_values(\"val\", a)", 0)),
        vec![
            ("{val=\"1\"}".to_string(), 1.0),
            ("{val=\"2\"}".to_string(), 1.0),
            ("{val=\"6\"}".to_string(), 1.0)
        ]
    );
}

#[test]
fn kahan_sum_is_compensated() {
    let h = head(&[
        (&[("__name__", "a"), ("i", "1")], &[(0, 1e100)]),
        (&[("__name__", "a"), ("i", "2")], &[(0, 1.0)]),
        (&[("__name__", "a"), ("i", "3")], &[(0, -1e100)]),
    ]);
    assert_eq!(vec_of(instant(&h, "sum(a)", 0)), one("{}", 1.0));
}

#[test]
fn simple_functions() {
    let h = head(&[(&[("__name__", "a"), ("i", "1")], &[(0, 5.0)])]);
    assert_eq!(
        vec_of(instant(&h, "clamp_max(a, 3)", 0)),
        one("{i=\"1\"}", 3.0)
    );
    assert_eq!(vec_of(instant(&h, "vector(2)", 0)), one("{}", 2.0));
    assert_eq!(instant(&h, "scalar(a)", 0), Value::Scalar { t: 0, v: 5.0 });
    assert_eq!(instant(&h, "time()", 7), Value::Scalar { t: 7000, v: 7.0 });
    assert_eq!(
        vec_of(instant(&h, "timestamp(a)", 60)),
        one("{i=\"1\"}", 0.0)
    );
    assert_eq!(
        vec_of(instant(&h, "absent(nope{x=\"y\"})", 0)),
        one("{x=\"y\"}", 1.0)
    );
    assert!(vec_of(instant(&h, "absent(a)", 0)).is_empty());
}

#[test]
fn subquery_steps_are_aligned() {
    let h = head(&[(&[("__name__", "a")], &[(0, 1.0), (60, 2.0), (120, 3.0)])]);
    match instant(&h, "a[2m:1m]", 150) {
        Value::Matrix(m) => {
            assert_eq!(m[0].points, vec![(60_000, 2.0), (120_000, 3.0)]);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn range_query_is_sorted() {
    let h = head(&[
        (&[("__name__", "a"), ("i", "2")], &[(0, 1.0)]),
        (&[("__name__", "a"), ("i", "1")], &[(0, 1.0)]),
    ]);
    let r = engine()
        .range_query(&h, "a", 0, 60_000, 30_000, &QueryContext::default())
        .expect("range");
    match r.value {
        Value::Matrix(m) => {
            assert_eq!(m.len(), 2);
            assert_eq!(m[0].labels.get("i"), Some("1"));
            assert_eq!(m[0].points.len(), 3);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn too_many_samples_and_cancel() {
    let points: Vec<(i64, f64)> = (0..100).map(|i| (i * 10, i as f64)).collect();
    let h = head(&[(&[("__name__", "a")], &points)]);
    let e = Engine::new(EngineOptions {
        max_samples: 10,
        ..Default::default()
    });
    let err = e
        .instant_query(
            &h,
            "sum_over_time(a[1000s])",
            1_000_000,
            &QueryContext::default(),
        )
        .expect_err("too many");
    assert!(matches!(err, Error::TooManySamples(_)), "{err}");
    assert_eq!(
        err.to_string(),
        "query processing would load too many samples into memory in query execution"
    );
    let ctx = QueryContext::default();
    ctx.cancel.store(true, Ordering::Relaxed);
    let err = engine()
        .instant_query(&h, "a", 0, &ctx)
        .expect_err("canceled");
    assert!(matches!(err, Error::Canceled(_)), "{err}");
}

#[test]
fn parse_errors_and_experimental() {
    let h = head(&[]);
    let err = engine()
        .instant_query(&h, "sum(", 0, &QueryContext::default())
        .expect_err("parse");
    assert!(matches!(err, Error::Parse { .. }));
    let err = engine()
        .instant_query(&h, "limitk(1, a)", 0, &QueryContext::default())
        .expect_err("experimental");
    assert!(matches!(err, Error::Parse { .. }));
}

#[test]
fn delayed_name_removal() {
    let h = head(&[
        (&[("__name__", "a"), ("i", "1")], &[(0, 1.0)]),
        (&[("__name__", "b"), ("i", "1")], &[(0, 2.0)]),
    ]);
    let e = Engine::new(EngineOptions {
        delayed_name_removal: true,
        ..Default::default()
    });
    let r = e
        .instant_query(
            &h,
            "label_replace(a * 2, \"x\", \"y\", \"\", \"\")",
            0,
            &QueryContext::default(),
        )
        .expect("query");
    match r.value {
        Value::Vector(v) => assert_eq!(v[0].labels.get("__name__"), None),
        other => panic!("{other:?}"),
    }
    let err = e
        .instant_query(&h, "{i=\"1\"} * 2", 0, &QueryContext::default())
        .expect_err("duplicate at the end");
    assert_eq!(
        err.to_string(),
        "vector cannot contain metrics with the same labelset"
    );
}

#[test]
fn subquery_with_offset_and_at() {
    let h = head(&[(
        &[("__name__", "a")],
        &[(0, 1.0), (60, 2.0), (120, 3.0), (180, 4.0)],
    )]);
    match instant(&h, "a[1m:1m] offset 1m", 180) {
        Value::Matrix(m) => assert_eq!(m[0].points, vec![(120_000, 3.0)]),
        other => panic!("{other:?}"),
    }
    match instant(&h, "a[2m:1m] @ 120", 1000) {
        Value::Matrix(m) => assert_eq!(m[0].points, vec![(60_000, 2.0), (120_000, 3.0)]),
        other => panic!("{other:?}"),
    }
}

#[test]
fn deadline_in_the_past_times_out() {
    let h = head(&[(&[("__name__", "a")], &[(0, 1.0)])]);
    let ctx = QueryContext {
        deadline: Some(std::time::Instant::now() - std::time::Duration::from_millis(1)),
        ..Default::default()
    };
    let err = engine()
        .instant_query(&h, "a", 0, &ctx)
        .expect_err("timeout");
    assert!(matches!(err, Error::Timeout(_)), "{err}");
}

#[test]
fn too_many_samples_fails_fast_in_range_queries() {
    let points: Vec<(i64, f64)> = (0..1000).map(|i| (i * 15, i as f64)).collect();
    let h = head(&[(&[("__name__", "a")], &points)]);
    let e = Engine::new(EngineOptions {
        max_samples: 100,
        ..Default::default()
    });
    let err = e
        .range_query(&h, "a", 0, 15_000_000, 15_000, &QueryContext::default())
        .expect_err("too many");
    assert!(matches!(err, Error::TooManySamples(_)), "{err}");
}

#[test]
fn quantile_warning_and_experimental_aggregations() {
    let h = head(&[
        (&[("__name__", "a"), ("i", "1")], &[(0, 1.0)]),
        (&[("__name__", "a"), ("i", "2")], &[(0, 2.0)]),
    ]);
    let r = engine()
        .instant_query(&h, "quantile(2, a)", 0, &QueryContext::default())
        .expect("query");
    assert_eq!(
        r.warnings,
        vec!["PromQL warning: quantile value should be between 0 and 1, got 2".to_string()]
    );
    let e = Engine::new(EngineOptions {
        experimental_functions: true,
        ..Default::default()
    });
    let r = e
        .instant_query(&h, "limitk(1, a)", 0, &QueryContext::default())
        .expect("limitk");
    assert_eq!(vec_of(r.value).len(), 1);
    let r = e
        .instant_query(&h, "limit_ratio(1, a)", 0, &QueryContext::default())
        .expect("limit_ratio");
    assert_eq!(vec_of(r.value).len(), 2);
    let r = e
        .instant_query(&h, "limit_ratio(-1, a)", 0, &QueryContext::default())
        .expect("limit_ratio");
    assert_eq!(vec_of(r.value).len(), 2);
}

#[test]
fn rate_info_for_non_counters() {
    let h = head(&[(&[("__name__", "gauge")], &[(0, 1.0), (60, 2.0)])]);
    let r = engine()
        .instant_query(&h, "rate(gauge[5m])", 60_000, &QueryContext::default())
        .expect("query");
    assert_eq!(
        r.infos,
        vec![
            "PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: \"gauge\""
                .to_string()
        ]
    );
}

#[test]
fn sort_and_histogram_fraction() {
    let h = head(&[
        (&[("__name__", "h_bucket"), ("le", "1")], &[(0, 1.0)]),
        (&[("__name__", "h_bucket"), ("le", "2")], &[(0, 3.0)]),
        (&[("__name__", "h_bucket"), ("le", "+Inf")], &[(0, 4.0)]),
    ]);
    match instant(&h, "sort_desc(h_bucket)", 0) {
        Value::Vector(v) => {
            assert_eq!(
                v.iter().map(|s| s.v).collect::<Vec<_>>(),
                vec![4.0, 3.0, 1.0]
            );
        }
        other => panic!("{other:?}"),
    }
    // Prometheus 3.5 takes the first bucket to start at -Inf: a bound inside it is NaN.
    let v = vec_of(instant(&h, "histogram_fraction(0, 2, h_bucket)", 0));
    assert!(v.len() == 1 && v[0].1.is_nan(), "{v:?}");
    assert_eq!(
        vec_of(instant(&h, "histogram_fraction(1, 2, h_bucket)", 0)),
        one("{}", 0.5)
    );
    assert_eq!(
        vec_of(instant(&h, "histogram_fraction(-Inf, 1.5, h_bucket)", 0)),
        one("{}", 0.5)
    );
}

#[test]
fn range_query_errors() {
    let h = head(&[(&[("__name__", "a")], &[(0, 1.0)])]);
    let err = engine()
        .range_query(&h, "a[5m]", 0, 60_000, 15_000, &QueryContext::default())
        .expect_err("matrix");
    assert!(
        err.to_string()
            .contains("invalid expression type \"range vector\"")
    );
    // Prometheus rejects the expression type before evaluating, as an invalid parameter.
    assert_eq!(err.kind(), tsdb::ErrorKind::BadData);
    let r = engine()
        .range_query(&h, "1 + 1", 0, 60_000, 30_000, &QueryContext::default())
        .expect("scalar");
    match r.value {
        Value::Matrix(m) => assert_eq!(m[0].points, vec![(0, 2.0), (30_000, 2.0), (60_000, 2.0)]),
        other => panic!("{other:?}"),
    }
}

#[test]
fn options_validate() {
    assert!(EngineOptions::default().validate().is_ok());
    let bad = EngineOptions {
        lookback_delta: 0,
        ..Default::default()
    };
    assert!(bad.validate().is_err());
}

#[test]
fn huge_step_counts_are_refused_before_allocating() {
    let h = head(&[(&[("__name__", "a")], &[(0, 1.0)])]);
    let err = engine()
        .instant_query(
            &h,
            "max_over_time(a[100y:1ms])",
            0,
            &QueryContext::default(),
        )
        .expect_err("too many steps");
    assert!(matches!(err, Error::TooManySamples(_)), "{err}");
    let err = engine()
        .range_query(&h, "a", i64::MIN, i64::MAX, 1, &QueryContext::default())
        .expect_err("too many steps");
    assert!(matches!(err, Error::TooManySamples(_)), "{err}");
    // Extreme @ and offset values do not overflow.
    assert!(vec_of(instant(&h, "a @ -9000000000 offset -100y", 0)).is_empty());
}
