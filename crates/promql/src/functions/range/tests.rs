//! Tests for the range-vector kernels. Expected numbers follow Prometheus 3.5's
//! `functions.test` scenarios, rebuilt here as points and windows.

// Float literals are kept exactly as Prometheus's test data spells them.
#![allow(clippy::excessive_precision)]

use super::*;
use proptest::prelude::*;

const MIN: i64 = 60_000;

/// Points at `0, step, 2*step, ...` with `values`.
fn load(step_ms: i64, values: &[f64]) -> Vec<(i64, f64)> {
    values
        .iter()
        .enumerate()
        .map(|(i, &v)| (i as i64 * step_ms, v))
        .collect()
}

/// Prometheus's `a+bxN` series notation: `n + 1` values.
fn series(start: f64, inc: f64, n: usize) -> Vec<f64> {
    (0..=n).map(|i| start + inc * i as f64).collect()
}

/// The points in the left-open window `(eval - range, eval]`.
fn window(points: &[(i64, f64)], eval: i64, range: i64) -> Vec<(i64, f64)> {
    points
        .iter()
        .copied()
        .filter(|&(t, _)| t > eval - range && t <= eval)
        .collect()
}

/// Relative comparison; NaN equals NaN, infinities must match exactly.
fn close_tol(got: f64, want: f64, tol: f64) -> bool {
    if want.is_nan() {
        return got.is_nan();
    }
    if want.is_infinite() || want == 0.0 {
        return got == want || (want == 0.0 && got.abs() < 1e-12);
    }
    (got - want).abs() <= tol * want.abs()
}

#[track_caller]
fn assert_close(got: Option<f64>, want: f64) {
    assert_close_tol(got, want, 1e-9);
}

#[track_caller]
fn assert_close_tol(got: Option<f64>, want: f64, tol: f64) {
    let got = got.unwrap_or_else(|| panic!("want {want}, got no sample"));
    assert!(close_tol(got, want, tol), "want {want}, got {got}");
}

fn rate_at(pts: &[(i64, f64)], eval: i64, range: i64, counter: bool, rate: bool) -> Option<f64> {
    extrapolated_rate(&window(pts, eval, range), eval - range, eval, counter, rate)
}

#[test]
fn increase_extrapolation_and_zero_cutoff() {
    let foo = load(5 * MIN, &series(0.0, 10.0, 10));
    let mut bar_vals = series(0.0, 18.0, 5);
    bar_vals.extend(series(0.0, 18.0, 5));
    let bar = load(5 * MIN, &bar_vals);
    let dings = load(5 * MIN, &series(10.0, 10.0, 10));
    let bumms = load(5 * MIN, &series(1.0, 10.0, 10));
    let cases = [
        (&foo, 50, 100.0),
        (&bar, 50, 160.0),
        (&dings, 50, 100.0),
        (&bumms, 50, 100.0),
        (&foo, 100, 100.0),
        (&bar, 100, 162.0),
        (&dings, 100, 105.0),
        (&bumms, 100, 101.0),
    ];
    for (pts, range_min, want) in cases {
        assert_close(rate_at(pts, 50 * MIN, range_min * MIN, true, false), want);
    }
}

#[test]
fn increase_counter_reset_adds_previous_value() {
    let pts = load(5 * MIN, &[0.0, 1.0, 2.0, 3.0, 2.0, 3.0, 4.0]);
    assert_close(rate_at(&pts, 30 * MIN, 30 * MIN, true, false), 7.0);
}

#[test]
fn rate_cases() {
    let mut middle = series(0.0, 27.0, 4);
    middle.extend(series(0.0, 27.0, 5));
    let middle = load(5 * MIN, &middle);
    assert_close(rate_at(&middle, 50 * MIN, 50 * MIN, true, true), 0.08);

    let mut end = series(0.0, 10.0, 9);
    end.extend([0.0, 10.0]);
    let end = load(5 * MIN, &end);
    assert_eq!(rate_at(&end, 50 * MIN, 5 * MIN, true, true), None);
    assert_close(rate_at(&end, 50 * MIN, 6 * MIN, true, true), 0.0);

    let w = load(5 * MIN, &series(0.0, 80.0, 10));
    assert_close(
        rate_at(&w, 50 * MIN, 50 * MIN, true, true),
        0.26666666666666666,
    );

    // rate(x[10m] offset 5m) at 50m.
    let a = load(5 * MIN, &series(0.0, 10.0, 10));
    let b = load(5 * MIN, &series(0.0, 20.0, 10));
    assert_close(
        rate_at(&a, 45 * MIN, 10 * MIN, true, true),
        0.03333333333333333,
    );
    assert_close(
        rate_at(&b, 45 * MIN, 10 * MIN, true, true),
        0.06666666666666667,
    );
}

#[test]
fn rate_zero_cutoff() {
    let starts = [0.0, 60.0, 120.0, 180.0, 240.0, 300.0];
    let at_10m = [0.5, 0.55, 0.6, 0.6, 0.6, 0.6];
    for (start, want) in starts.iter().zip(at_10m) {
        let pts = load(4 * MIN, &series(*start, 240.0, 10));
        assert_close(rate_at(&pts, 10 * MIN, 20 * MIN, true, true), want);
        assert_close(rate_at(&pts, 50 * MIN, 20 * MIN, true, true), 0.6);
    }
}

#[test]
fn delta_is_not_reset_aware_and_not_cut_at_zero() {
    let foo = load(5 * MIN, &[0.0, 50.0, 100.0, 150.0, 200.0]);
    let bar = load(5 * MIN, &[200.0, 150.0, 100.0, 50.0, 0.0]);
    assert_close(rate_at(&foo, 20 * MIN, 20 * MIN, false, false), 200.0);
    assert_close(rate_at(&bar, 20 * MIN, 20 * MIN, false, false), -200.0);
}

#[test]
fn rate_needs_two_points() {
    assert_eq!(extrapolated_rate(&[], 0, 1000, true, true), None);
    assert_eq!(extrapolated_rate(&[(500, 1.0)], 0, 1000, true, true), None);
}

#[test]
fn rate_extrapolates_by_half_interval_when_far_from_edges() {
    // Points at 40s and 60s in a (0, 100s] window; interval 20s, threshold 22s: both
    // edges are farther, so extrapolate by 10s each side: 10 * 40/20 = 20.
    let pts = [(40_000, 100.0), (60_000, 110.0)];
    assert_close(extrapolated_rate(&pts, 0, 100_000, false, false), 20.0);
    assert_close(extrapolated_rate(&pts, 0, 100_000, true, true), 0.2);
}

#[test]
fn irate_and_idelta() {
    let foo = load(5 * MIN, &series(0.0, 10.0, 10));
    let mut bar = series(0.0, 10.0, 5);
    bar.extend(series(0.0, 10.0, 5));
    let bar = load(5 * MIN, &bar);
    let irate = |p: &[(i64, f64)], eval, range| instant_value(&window(p, eval, range), true);
    assert_close(irate(&foo, 50 * MIN, 50 * MIN), 0.03333333333333333);
    assert_close(irate(&bar, 50 * MIN, 50 * MIN), 0.03333333333333333);
    assert_close(irate(&foo, 30 * MIN, 50 * MIN), 0.03333333333333333);
    // Counter reset: the last value (0) is the increase.
    assert_close(irate(&bar, 30 * MIN, 50 * MIN), 0.0);

    let nan = load(5 * MIN, &[1.0, f64::NAN, f64::NAN, 5.0, 11.0]);
    let range = 15 * MIN + 1000;
    assert_eq!(irate(&nan, 0, range), None);
    for eval in [5, 10, 15] {
        assert!(irate(&nan, eval * MIN, range).is_some_and(f64::is_nan));
        assert!(instant_value(&window(&nan, eval * MIN, range), false).is_some_and(f64::is_nan));
    }
    assert_close(irate(&nan, 20 * MIN, range), 0.02);
    assert_close(instant_value(&window(&nan, 20 * MIN, range), false), 6.0);

    let g = load(5 * MIN, &[0.0, 50.0, 100.0, 50.0]);
    assert_close(instant_value(&g, false), -50.0);
    assert_eq!(instant_value(&[(0, 1.0)], false), None);
    assert_eq!(instant_value(&[(5, 1.0), (5, 2.0)], true), None);
}

#[test]
fn resets_and_changes() {
    let foo = load(5 * MIN, &[1., 2., 3., 0., 1., 0., 0., 1., 2., 0.]);
    let bar = load(5 * MIN, &[1., 2., 3., 4., 5., 1., 2., 3., 4., 5.]);
    let biz = load(5 * MIN, &[0., 0., 0., 0., 0., 1., 1., 1., 1., 1.]);
    let eval = 50 * MIN;
    // (range minutes, [foo, bar, biz]) for resets.
    let reset_cases = [
        (10, [0., 0., 0.]),
        (20, [1., 0., 0.]),
        (30, [1., 0., 0.]),
        (32, [2., 1., 0.]),
        (50, [3., 1., 0.]),
    ];
    for (range, want) in reset_cases {
        for (pts, w) in [&foo, &bar, &biz].into_iter().zip(want) {
            let win = window(pts, eval, range * MIN);
            assert_eq!(
                resets(&win),
                (!win.is_empty()).then_some(w),
                "resets[{range}m]"
            );
        }
    }
    let change_cases = [
        (6, [0., 0., 0.]),
        (20, [2., 2., 0.]),
        (30, [3., 4., 0.]),
        (50, [7., 8., 1.]),
    ];
    for (range, want) in change_cases {
        for (pts, w) in [&foo, &bar, &biz].into_iter().zip(want) {
            assert_eq!(changes(&window(pts, eval, range * MIN)), Some(w));
        }
    }
    // At 50m, [5m] holds no sample of these series.
    assert_eq!(changes(&window(&foo, eval, 5 * MIN)), None);
    assert_eq!(resets(&[]), None);

    let all_nan = load(5 * MIN, &[f64::NAN; 3]);
    let mixed = load(5 * MIN, &[0.0, f64::NAN, 0.0]);
    assert_eq!(changes(&all_nan), Some(0.0));
    assert_eq!(changes(&mixed), Some(2.0));
}

#[test]
fn deriv_and_predict_linear() {
    let mut middle = series(0.0, 10.0, 4);
    middle.extend(series(0.0, 10.0, 5));
    let middle = load(5 * MIN, &middle);
    let total = load(5 * MIN, &series(0.0, 80.0, 10));

    assert_close(
        deriv(&window(&total, 50 * MIN, 50 * MIN)),
        0.26666666666666666,
    );
    assert_close(
        deriv(&window(&middle, 50 * MIN, 100 * MIN)),
        0.010606060606060607,
    );
    assert_eq!(deriv(&total[..1]), None);

    let w50 = window(&middle, 50 * MIN, 50 * MIN);
    assert_close(predict_linear(&w50, 50 * MIN, 3600.0), 70.0);
    // `[55m] @ 3000` selects all eleven points; the line is intercepted at the step time.
    let all = window(&middle, 50 * MIN, 55 * MIN);
    assert_eq!(all.len(), 11);
    assert_close(predict_linear(&all, 50 * MIN, 3600.0), 76.81818181818181);
    assert_close(predict_linear(&all, 10 * MIN, 3600.0), 51.36363636363637);
    assert_close(predict_linear(&all, 70 * MIN, 3600.0), 89.54545454545455);
    assert_eq!(predict_linear(&all[..1], 0, 1.0), None);

    // With an infinite value, the slope is NaN.
    let mut inf = vec![f64::NEG_INFINITY];
    inf.extend(series(0.0, 80.0, 10));
    inf.push(f64::INFINITY);
    let inf = load(5 * MIN, &inf);
    let w = window(&inf, 100 * MIN, 100 * MIN);
    assert!(deriv(&w).is_some_and(f64::is_nan));
    assert!(predict_linear(&w, 100 * MIN, 6000.0).is_some_and(f64::is_nan));

    // Constant values: slope 0; constant infinities: NaN.
    assert_eq!(deriv(&[(0, 3.0), (1000, 3.0)]), Some(0.0));
    assert_eq!(
        predict_linear(&[(0, 3.0), (1000, 3.0)], 5000, 100.0),
        Some(3.0)
    );
    assert!(deriv(&[(0, f64::INFINITY), (1000, f64::INFINITY)]).is_some_and(f64::is_nan));
}

#[test]
fn double_exponential_smoothing_cases() {
    let step = 10_000;
    let eval = 8_000_000;
    let cases: [(Vec<f64>, f64); 8] = [
        (series(0.0, 10.0, 1000), 8000.0),
        (series(0.0, 20.0, 1000), 16000.0),
        (series(0.0, 30.0, 1000), 24000.0),
        (series(0.0, 40.0, 2000), 32000.0),
        (series(8000.0, -10.0, 1000), 0.0),
        (series(0.0, -20.0, 1000), -16000.0),
        (series(0.0, 30.0, 1000), 24000.0),
        (series(0.0, -40.0, 1000), -32000.0),
    ];
    for (vals, want) in cases {
        let w = window(&load(step, &vals), eval, MIN);
        assert_eq!(w.len(), 6);
        let got = double_exponential_smoothing(&w, 0.01, 0.1);
        if want == 0.0 {
            assert!(got.is_some_and(|g| g.abs() < 1e-9), "got {got:?}");
        } else {
            assert_close(got, want);
        }
    }
    assert_eq!(double_exponential_smoothing(&[(0, 1.0)], 0.5, 0.5), None);
    // Two points: s = sf*v1 + (1-sf)*(v0 + (v1-v0)) = v1.
    assert_close(
        double_exponential_smoothing(&[(0, 1.0), (1, 5.0)], 0.3, 0.7),
        5.0,
    );
}

#[test]
fn avg_over_time_cases() {
    let inf = f64::INFINITY;
    let big = 9.988465674311579e+307;
    let cases: Vec<(Vec<f64>, f64)> = vec![
        (vec![1., 2., 3., 4., 5.], 3.0),
        (vec![1., 2., 3., 4., inf], inf),
        (vec![1., 2., 3., 4., -inf], -inf),
        (vec![1., 2., 3., inf, -inf], f64::NAN),
        (vec![inf, 0., inf], inf),
        (vec![inf, inf, inf, -inf], f64::NAN),
        (vec![1., 2., 3., -inf, -inf], -inf),
        (vec![-inf, 0., -inf], -inf),
        (vec![-inf, -inf, -inf, inf], f64::NAN),
        (vec![1., 2., -inf, -inf, inf], f64::NAN),
        (vec![big, big], big),
        (vec![-big, -big, -big], -big),
        (vec![-big, big], 0.0),
        (vec![1., 2., 3., f64::NAN, f64::NAN], f64::NAN),
        (vec![1., 1e100, 1., -1e100], 0.5),
        (
            vec![1e10, 1e-6, 1e-6, 1e-6, 1e-6, 1e-6],
            1.6666666666666675e+09,
        ),
        (
            vec![
                5.30921651659898,
                0.961118537914768,
                1.62091361305318,
                0.865089463758091,
                0.323055185914577,
                0.951811357687154,
            ],
            1.67186744582113,
        ),
        (
            vec![1.78264e50, 0.76342771, 1.9592258, 7.69805412, 458.90154],
            3.56528E+49,
        ),
        (
            vec![0.76342771, 1.9592258, 7.69805412, 1.78264e50, 458.90154],
            3.56528E+49,
        ),
        (
            vec![
                1.78264E+50,
                0.76342771,
                1.9592258,
                2.258E+220,
                7.69805412,
                458.90154,
            ],
            3.76333333333333E+219,
        ),
        (
            vec![
                -1.78264E+50,
                0.76342771,
                1.9592258,
                -2.258E+220,
                7.69805412,
                -458.90154,
            ],
            -3.76333333333333E+219,
        ),
        (
            vec![
                -1.78264E+215,
                0.76342771,
                1.9592258,
                2.258E+220,
                7.69805412,
                -458.90154,
            ],
            3.76330362266667E+219,
        ),
        (
            vec![
                -1.78264E+215,
                0.76342771,
                1.9592258,
                2.258E+220,
                7.69805412,
                1.78264E+215,
                -458.90154,
            ],
            3.225714285714286e+219,
        ),
        (
            vec![
                -1.78264E+219,
                0.76342771,
                1.9592258,
                2.3757689E+217,
                -2.3757689E+217,
                2.258E+220,
                7.69805412,
                1.78264E+219,
                -458.90154,
            ],
            2.5088888888888888e+219,
        ),
        (
            vec![
                -2.258E+220,
                -1.78264E+219,
                0.76342771,
                1.9592258,
                2.3757689E+217,
                -2.3757689E+217,
                2.258E+220,
                7.69805412,
                1.78264E+219,
                -458.90154,
            ],
            0.0,
        ),
    ];
    for (vals, want) in cases {
        let got = over_time("avg", &load(10_000, &vals));
        assert_close_tol(got, want, 1e-12);
    }
    // The first two values of a NaN-tailed series.
    assert_close(over_time("avg", &load(10_000, &[1., 2., 3.])), 2.0);
    // Direct mean of a constant is exact.
    for n in [10, 11, 12, 13, 100] {
        assert_eq!(over_time("avg", &load(10_000, &vec![52.0; n])), Some(52.0));
    }
}

#[test]
fn sum_over_time_cases() {
    let big = 9.988465674311579e+307;
    assert_eq!(
        over_time("sum", &load(1, &[1., 1e100, 1., -1e100])),
        Some(2.0)
    );
    assert_eq!(over_time("sum", &load(1, &[big, big])), Some(f64::INFINITY));
    assert_eq!(
        over_time("sum", &load(1, &[-big, -big])),
        Some(f64::NEG_INFINITY)
    );
    for n in [1000, 1001, 2003, 3003] {
        assert_eq!(over_time("sum", &load(1, &vec![1.0; n])), Some(n as f64));
    }
}

#[test]
fn simple_over_time_functions() {
    let pts = load(10_000, &[3.0, 1.0, 4.0, 1.0, 5.0]);
    assert_eq!(over_time("count", &pts), Some(5.0));
    assert_eq!(over_time("min", &pts), Some(1.0));
    assert_eq!(over_time("max", &pts), Some(5.0));
    assert_eq!(over_time("last", &pts), Some(5.0));
    assert_eq!(over_time("present", &pts), Some(1.0));
    // The last point holding the minimum.
    assert_eq!(over_time("ts_of_min", &pts), Some(30.0));
    assert_eq!(over_time("ts_of_max", &pts), Some(40.0));
    assert_eq!(over_time("ts_of_last", &pts), Some(40.0));
    assert_eq!(over_time("nope", &pts), None);
    for name in [
        "avg",
        "sum",
        "count",
        "min",
        "max",
        "last",
        "stddev",
        "mad",
        "ts_of_last",
    ] {
        assert_eq!(over_time(name, &[]), None, "{name}");
    }
}

#[test]
fn over_time_table_from_functions_test() {
    let nan = f64::NAN;
    // (values at 0s, 10s, 20s) -> (min, max, last, count), evaluated at 1m over [2m].
    let cases = [
        ([2.0, 0.0, 3.0], [0.0, 3.0, 3.0, 3.0]),
        ([2.0, 0.0, nan], [0.0, 2.0, nan, 3.0]),
        ([2.0, nan, 1.0], [1.0, 2.0, 1.0, 3.0]),
        ([nan, 0.0, 1.0], [0.0, 1.0, 1.0, 3.0]),
        ([nan, nan, nan], [nan, nan, nan, 3.0]),
    ];
    for (vals, want) in cases {
        let pts = window(&load(10_000, &vals), MIN, 2 * MIN);
        for (name, w) in ["min", "max", "last", "count"].into_iter().zip(want) {
            assert_close(over_time(name, &pts), w);
        }
    }
    // The `_over_time` suffix is accepted too.
    assert_eq!(over_time("max_over_time", &load(1, &[1.0, 2.0])), Some(2.0));
    assert_eq!(over_time("quantile", &load(1, &[1.0])), None);
}

#[test]
fn min_max_nan_handling() {
    let nan = f64::NAN;
    let pts = load(1000, &[nan, 2.0, nan, 1.0, nan]);
    assert_eq!(over_time("min", &pts), Some(1.0));
    assert_eq!(over_time("max", &pts), Some(2.0));
    assert_eq!(over_time("ts_of_min", &pts), Some(3.0));
    assert_eq!(over_time("ts_of_max", &pts), Some(1.0));
    let all_nan = load(1000, &[nan, nan]);
    assert!(over_time("min", &all_nan).is_some_and(f64::is_nan));
    assert!(over_time("max", &all_nan).is_some_and(f64::is_nan));
    // Every NaN replaces a NaN extreme: the timestamp is the last point's.
    assert_eq!(over_time("ts_of_max", &all_nan), Some(1.0));
}

#[test]
fn ts_of_functions_with_odd_interval() {
    let pts = load(10_053, &[1., 2., 3., 0., 5., 6., 2., 1., 4.]);
    let w = window(&pts, 90_000, 90_000);
    assert_close(over_time("ts_of_min", &w), 30.159);
    assert_close(over_time("ts_of_max", &w), 50.265);
    let pts = load(10_053, &[1., 2., 3.]);
    assert_close(
        over_time("ts_of_last", &window(&pts, 90_000, 90_000)),
        20.106,
    );
}

#[test]
fn variance_and_mad() {
    let pts = load(10_000, &[0., 8., 8., 2., 3.]);
    assert_close(over_time("stdvar", &pts), 10.56);
    assert_close_tol(over_time("stddev", &pts), 3.249615, 1e-6);
    let c = load(10_000, &[1.5990505637277868; 3]);
    assert_eq!(over_time("stdvar", &c), Some(0.0));
    assert_eq!(over_time("stddev", &c), Some(0.0));
    assert_eq!(over_time("stddev", &load(1, &[7.0])), Some(0.0));

    let pts = load(10_000, &[4., 6., 2., 1., 999., 1., 2.]);
    assert_eq!(over_time("mad", &window(&pts, 70_000, 70_000)), Some(1.0));
}

#[test]
fn quantile_over_time_cases() {
    let two = load(10_000, &[0., 1.]);
    let three = load(10_000, &[0., 1., 2.]);
    let uneven = load(10_000, &[0., 1., 4.]);
    let cases = [
        (0.0, [0.0, 0.0, 0.0]),
        (0.5, [0.5, 1.0, 1.0]),
        (0.75, [0.75, 1.5, 2.5]),
        (0.8, [0.8, 1.6, 2.8]),
        (1.0, [1.0, 2.0, 4.0]),
        (-1.0, [f64::NEG_INFINITY; 3]),
        (2.0, [f64::INFINITY; 3]),
        (f64::NAN, [f64::NAN; 3]),
    ];
    for (q, want) in cases {
        for (pts, w) in [&two, &three, &uneven].into_iter().zip(want) {
            assert_close(quantile_over_time(q, pts), w);
        }
    }
    assert_eq!(quantile_over_time(0.5, &[]), None);
}

#[test]
fn kahan_recovers_lost_low_bits() {
    let (mut s, mut c) = (0.0, 0.0);
    for v in [1.0, 1e100, 1.0, -1e100] {
        (s, c) = kahan_sum_inc(v, s, c);
    }
    assert_eq!(s + c, 2.0);
    // Overflow resets the compensation instead of producing NaN.
    let (s, c) = kahan_sum_inc(f64::MAX, f64::MAX, 1.0);
    assert_eq!((s, c), (f64::INFINITY, 0.0));
}

fn points_strategy() -> impl Strategy<Value = Vec<(i64, f64)>> {
    prop::collection::vec((1i64..20_000, -1e6f64..1e6), 1..60).prop_map(|steps| {
        let mut t = 0;
        steps
            .into_iter()
            .map(|(dt, v)| {
                t += dt;
                (t, v)
            })
            .collect()
    })
}

proptest! {
    #[test]
    fn sum_and_avg_match_naive(pts in points_strategy()) {
        let naive: f64 = pts.iter().map(|p| p.1).sum();
        let scale: f64 = pts.iter().map(|p| p.1.abs()).sum::<f64>().max(1.0);
        let sum = over_time("sum", &pts).unwrap();
        prop_assert!((sum - naive).abs() <= 1e-9 * scale);
        let avg = over_time("avg", &pts).unwrap();
        prop_assert!((avg - naive / pts.len() as f64).abs() <= 1e-9 * scale);
    }

    #[test]
    fn min_le_quantiles_le_max(pts in points_strategy(), q1 in 0.0f64..=1.0, q2 in 0.0f64..=1.0) {
        let min = over_time("min", &pts).unwrap();
        let max = over_time("max", &pts).unwrap();
        let (lo, hi) = if q1 <= q2 { (q1, q2) } else { (q2, q1) };
        let a = quantile_over_time(lo, &pts).unwrap();
        let b = quantile_over_time(hi, &pts).unwrap();
        prop_assert!(min <= a && a <= b && b <= max);
        let avg = over_time("avg", &pts).unwrap();
        prop_assert!(min - 1e-6 <= avg && avg <= max + 1e-6);
        prop_assert!(over_time("stdvar", &pts).unwrap() >= 0.0);
    }

    #[test]
    fn variance_matches_two_pass(pts in points_strategy()) {
        let n = pts.len() as f64;
        let mean = pts.iter().map(|p| p.1).sum::<f64>() / n;
        let var = pts.iter().map(|p| (p.1 - mean).powi(2)).sum::<f64>() / n;
        let got = over_time("stdvar", &pts).unwrap();
        prop_assert!((got - var).abs() <= 1e-6 * var.max(1.0));
    }

    #[test]
    fn deriv_of_a_line_is_its_slope(
        start in -1e3f64..1e3, slope in -100f64..100.0, pts in points_strategy()
    ) {
        prop_assume!(pts.len() >= 2);
        let line: Vec<(i64, f64)> =
            pts.iter().map(|&(t, _)| (t, start + slope * t as f64 / 1000.0)).collect();
        let got = deriv(&line).unwrap();
        prop_assert!((got - slope).abs() <= 1e-6 * slope.abs().max(1.0));
    }

    #[test]
    fn rate_of_regular_linear_counter_is_its_slope(
        slope in 0.01f64..1000.0, step_s in 1i64..120, n in 2i64..50, offset_s in 0i64..120,
    ) {
        // Samples every `step_s` seconds, the window's edges within one step of them, and
        // a start value high enough that the zero cutoff never applies.
        let step = step_s * 1000;
        let offset = (offset_s * 1000) % step;
        let start = 1e9;
        let pts: Vec<(i64, f64)> =
            (0..n).map(|i| (offset + i * step, start + slope * (i * step) as f64 / 1000.0)).collect();
        let range_start = offset - step + 1;
        let range_end = pts[pts.len() - 1].0 + step - 1;
        let got = extrapolated_rate(&pts, range_start, range_end, true, true).unwrap();
        prop_assert!((got - slope).abs() <= 1e-6 * slope, "{got} vs {slope}");
    }

    #[test]
    fn increase_of_monotone_counter_is_non_negative(pts in points_strategy()) {
        let mut acc = 0.0;
        let counter: Vec<(i64, f64)> =
            pts.iter().map(|&(t, v)| { acc += v.abs(); (t, acc) }).collect();
        let end = counter.last().unwrap().0 + 1;
        if let Some(inc) = extrapolated_rate(&counter, -1, end, true, false) {
            prop_assert!(inc >= 0.0);
        }
    }
}
