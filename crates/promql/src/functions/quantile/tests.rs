//! Tests for the quantile kernels, with cases from Prometheus 3.5's `histograms.test` and
//! `aggregators.test`.

use super::*;
use proptest::prelude::*;

const INF: f64 = f64::INFINITY;

fn buckets(pairs: &[(f64, f64)]) -> Vec<Bucket> {
    pairs
        .iter()
        .map(|&(upper_bound, count)| Bucket { upper_bound, count })
        .collect()
}

fn bq(q: f64, pairs: &[(f64, f64)]) -> f64 {
    bucket_quantile(q, &mut buckets(pairs)).0
}

#[track_caller]
fn assert_close(got: f64, want: f64) {
    let ok = if want.is_nan() {
        got.is_nan()
    } else if want.is_infinite() || want == 0.0 {
        got == want
    } else {
        (got - want).abs() <= 1e-9 * want.abs()
    };
    assert!(ok, "want {want}, got {got}");
}

#[test]
fn classic_histogram_cases() {
    // testhistogram at 50m.
    let positive = [(0.1, 50.0), (0.2, 70.0), (1.0, 110.0), (INF, 120.0)];
    let negative = [(-0.2, 10.0), (-0.1, 20.0), (0.3, 20.0), (INF, 30.0)];
    let cases = [
        (0.0, 0.0, -0.2),
        (1.0, 1.0, 0.3),
        (0.2, 0.048, -0.2),
        (0.5, 0.15, -0.15),
        (0.8, 0.72, 0.3),
        (-0.1, f64::NEG_INFINITY, f64::NEG_INFINITY),
        (1.01, INF, INF),
        (f64::NAN, f64::NAN, f64::NAN),
    ];
    for (q, want_pos, want_neg) in cases {
        assert_close(bq(q, &positive), want_pos);
        assert_close(bq(q, &negative), want_neg);
    }

    // testhistogram3 at 50m (nothing in the +Inf bucket).
    let positive = [
        (0.0, 0.0),
        (0.1, 50.0),
        (0.2, 70.0),
        (1.0, 110.0),
        (INF, 110.0),
    ];
    let negative = [
        (-0.25, 0.0),
        (-0.2, 10.0),
        (-0.1, 20.0),
        (0.3, 20.0),
        (INF, 20.0),
    ];
    let cases = [
        (0.0, 0.0, -0.25),
        (0.25, 0.055, -0.225),
        (0.5, 0.125, -0.2),
        (0.75, 0.45, -0.15),
        (1.0, 1.0, -0.1),
    ];
    for (q, want_pos, want_neg) in cases {
        assert_close(bq(q, &positive), want_pos);
        assert_close(bq(q, &negative), want_neg);
    }

    // testhistogram2 at 7m: each quantile in the middle of a bucket.
    let h2 = [(0.0, 0.0), (2.0, 1.0), (4.0, 2.0), (6.0, 3.0), (INF, 3.0)];
    assert_close(bq(1.0 / 6.0, &h2), 1.0);
    assert_close(bq(0.5, &h2), 3.0);
    assert_close(bq(5.0 / 6.0, &h2), 5.0);
}

#[test]
fn unsorted_input_is_sorted() {
    let mut b = buckets(&[(INF, 120.0), (1.0, 110.0), (0.1, 50.0), (0.2, 70.0)]);
    assert_close(bucket_quantile(0.5, &mut b).0, 0.15);
    assert_eq!(b[0].upper_bound, 0.1);
}

#[test]
fn non_monotonic_counts_are_forced_monotonic() {
    let nm = [
        (0.1, 20.0),
        (1.0, 10.0),
        (10.0, 50.0),
        (100.0, 40.0),
        (1000.0, 90.0),
        (INF, 80.0),
    ];
    for (q, want) in [(0.01, 0.0045), (0.5, 8.5), (0.99, 979.75)] {
        let (got, fixes) = bucket_quantile(q, &mut buckets(&nm));
        assert_close(got, want);
        assert!(fixes.forced_monotonicity);
    }
    let (_, fixes) = bucket_quantile(0.5, &mut buckets(&[(1.0, 1.0), (INF, 2.0)]));
    assert!(!fixes.forced_monotonicity);
}

#[test]
fn small_deltas_are_ignored_without_annotation() {
    // A relative dip of 1e-15 is float noise: no forced monotonicity.
    let b = [(1.0, 100.0), (2.0, 100.0 - 1e-13), (INF, 200.0)];
    let (got, fixes) = bucket_quantile(0.5, &mut buckets(&b));
    assert!(!fixes.forced_monotonicity);
    // Rank 100 is reached in the first bucket.
    assert_close(got, 1.0);
}

#[test]
fn special_cases_give_nan() {
    // No +Inf bucket.
    assert!(bq(0.5, &[(1.0, 1.0), (2.0, 2.0)]).is_nan());
    // Only the +Inf bucket.
    assert!(bq(0.5, &[(INF, 5.0)]).is_nan());
    // No buckets at all.
    assert!(bq(0.5, &[]).is_nan());
    // No observations.
    assert!(bq(1.0, &[(0.0, 0.0), (1.0, 0.0), (2.0, 0.0), (INF, 0.0)]).is_nan());
    // Out-of-range q wins over the other checks, as in Prometheus.
    assert_eq!(bq(2.0, &[]), INF);
    assert_eq!(bq(-2.0, &[(1.0, 1.0)]), f64::NEG_INFINITY);
}

#[test]
fn equal_bounds_are_coalesced() {
    // "0.2" and "2e-1" parse to the same bound: their counts add up.
    let b = [(0.1, 10.0), (0.2, 10.0), (0.2, 10.0), (INF, 20.0)];
    assert_close(bq(0.75, &b), 0.15);
    let only_inf = [(INF, 1.0), (INF, 2.0)];
    assert!(bq(0.5, &only_inf).is_nan());
}

#[test]
fn rank_in_inf_bucket_gives_second_highest_bound() {
    let b = [(1.0, 1.0), (2.0, 2.0), (INF, 10.0)];
    assert_eq!(bq(0.9, &b), 2.0);
}

#[test]
fn quantile_aggregation_cases() {
    let cases = [
        (vec![0.0, 1.0], 0.8, 0.8),
        (vec![0.0, 1.0, 2.0], 0.8, 1.6),
        (vec![4.0, 0.0, 1.0], 0.8, 2.8),
        (vec![0.0, 1.0, 4.0], 0.0, 0.0),
        (vec![0.0, 1.0, 4.0], 1.0, 4.0),
        (vec![7.0], 0.3, 7.0),
        (vec![0.0, 1.0], -0.5, f64::NEG_INFINITY),
        (vec![0.0, 1.0], 1.5, INF),
        (vec![0.0, 1.0], f64::NAN, f64::NAN),
        (vec![], 0.5, f64::NAN),
        (vec![], -1.0, f64::NAN),
    ];
    for (mut values, q, want) in cases {
        assert_close(quantile(q, &mut values), want);
    }
}

#[test]
fn quantile_sorts_nan_first() {
    let mut v = vec![3.0, f64::NAN, 1.0];
    assert_eq!(quantile(1.0, &mut v), 3.0);
    assert!(v[0].is_nan());
    assert!(quantile(0.0, &mut v).is_nan());
    assert_eq!(quantile(0.5, &mut v), 1.0);
}

proptest! {
    #[test]
    fn quantile_is_monotone_and_bounded(
        mut values in prop::collection::vec(-1e9f64..1e9, 1..50),
        q1 in 0.0f64..=1.0,
        q2 in 0.0f64..=1.0,
    ) {
        let min = values.iter().copied().fold(INF, f64::min);
        let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let (lo, hi) = if q1 <= q2 { (q1, q2) } else { (q2, q1) };
        let a = quantile(lo, &mut values);
        let b = quantile(hi, &mut values);
        prop_assert!(min <= a && a <= b && b <= max, "{min} {a} {b} {max}");
    }

    #[test]
    fn bucket_quantile_is_monotone_and_within_bounds(
        incs in prop::collection::vec(0.0f64..100.0, 1..12),
        q1 in 0.0f64..=1.0,
        q2 in 0.0f64..=1.0,
    ) {
        let mut acc = 0.0;
        let mut b: Vec<Bucket> = incs
            .iter()
            .enumerate()
            .map(|(i, inc)| {
                acc += inc;
                Bucket { upper_bound: (i + 1) as f64, count: acc }
            })
            .collect();
        b.push(Bucket { upper_bound: INF, count: acc + 1.0 });
        let (lo, hi) = if q1 <= q2 { (q1, q2) } else { (q2, q1) };
        let (a, fa) = bucket_quantile(lo, &mut b.clone());
        let (c, _) = bucket_quantile(hi, &mut b);
        prop_assert!(!fa.forced_monotonicity);
        prop_assert!(0.0 <= a && a <= c + 1e-9 && c <= incs.len() as f64, "{a} {c}");
    }

    #[test]
    fn bucket_quantile_never_panics(
        pairs in prop::collection::vec((prop::num::f64::ANY, prop::num::f64::ANY), 0..8),
        q in prop::num::f64::ANY,
    ) {
        let _ = bucket_quantile(q, &mut buckets(&pairs));
        let mut values: Vec<f64> = pairs.iter().map(|p| p.1).collect();
        let _ = quantile(q, &mut values);
    }
}
