//! Functions over the points of a range vector, with Prometheus 3.5's float semantics
//! (`promql/functions.go`).
//!
//! Every function takes the float points inside the window, in time order, as
//! `(timestamp_ms, value)`, with stale markers already removed. `None` means "no output
//! sample" (e.g. too few points). Histogram samples are the evaluator's business: these
//! kernels only see floats.

use super::quantile::quantile;

/// One step of Kahan-Babuška-Neumaier summation, as Prometheus's `kahanSumInc`: adds `inc`
/// to `sum` with compensation `c` and returns the new `(sum, c)`. The compensated total is
/// `sum + c`. Once the sum overflows to ±Inf the compensation is reset to zero, so that
/// `sum + c` does not turn into NaN.
pub fn kahan_sum_inc(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if t.is_infinite() {
        0.0
    } else if sum.abs() >= inc.abs() {
        c + ((sum - t) + inc)
    } else {
        c + ((inc - t) + sum)
    };
    (t, c)
}

/// Prometheus's `extrapolatedRate`: `rate` (`is_counter && is_rate`), `increase`
/// (`is_counter && !is_rate`) and `delta` (`!is_counter && !is_rate`). `range_start` is
/// exclusive, `range_end` inclusive (ms).
///
/// Fewer than two points give `None`. For counters, every decrease is taken as a reset and
/// the value before it is added back. The result is extrapolated to the window's edges
/// when the first (last) point is within 1.1 average sample intervals of the edge, else by
/// half an average interval; a counter is never extrapolated below zero. `rate` divides by
/// the window length (`range_end - range_start`) in seconds.
pub fn extrapolated_rate(
    points: &[(i64, f64)],
    range_start: i64,
    range_end: i64,
    is_counter: bool,
    is_rate: bool,
) -> Option<f64> {
    extrapolated_rate_with(points, range_start, range_end, is_counter, is_rate, true)
}

/// [`extrapolated_rate`] for a caller that knows whether the window holds a counter reset
/// (a point below its predecessor): with `may_reset` false the scan for resets, which
/// would add nothing, is skipped.
pub fn extrapolated_rate_with(
    points: &[(i64, f64)],
    range_start: i64,
    range_end: i64,
    is_counter: bool,
    is_rate: bool,
    may_reset: bool,
) -> Option<f64> {
    if points.len() < 2 {
        return None;
    }
    let (first_t, first_v) = points[0];
    let (last_t, last_v) = points[points.len() - 1];
    let mut result = last_v - first_v;
    if is_counter && may_reset {
        let mut prev = first_v;
        for &(_, v) in &points[1..] {
            if v < prev {
                result += prev;
            }
            prev = v;
        }
    }

    let mut duration_to_start = (first_t - range_start) as f64 / 1000.0;
    let mut duration_to_end = (range_end - last_t) as f64 / 1000.0;
    let sampled_interval = (last_t - first_t) as f64 / 1000.0;
    let average_interval = sampled_interval / (points.len() - 1) as f64;
    let threshold = average_interval * 1.1;

    if duration_to_start >= threshold {
        duration_to_start = average_interval / 2.0;
    }
    if is_counter && result > 0.0 && first_v >= 0.0 {
        // Counters cannot go below zero: if the line through the points reaches zero
        // before the extrapolated start, start there instead.
        let duration_to_zero = sampled_interval * (first_v / result);
        if duration_to_zero < duration_to_start {
            duration_to_start = duration_to_zero;
        }
    }
    if duration_to_end >= threshold {
        duration_to_end = average_interval / 2.0;
    }
    let extrapolate_to = sampled_interval + duration_to_start + duration_to_end;

    let mut factor = extrapolate_to / sampled_interval;
    if is_rate {
        factor /= (range_end - range_start) as f64 / 1000.0;
    }
    Some(result * factor)
}

/// `irate` (`is_rate`) and `idelta` (`!is_rate`): from the last two points.
///
/// `None` with fewer than two points or when the last two share a timestamp. `idelta` is
/// the difference of the last two values. `irate` treats a decrease as a counter reset and
/// uses the last value as the increase; it is per second over the two points' distance.
pub fn instant_value(points: &[(i64, f64)], is_rate: bool) -> Option<f64> {
    if points.len() < 2 {
        return None;
    }
    let (t0, v0) = points[points.len() - 2];
    let (t1, v1) = points[points.len() - 1];
    let interval = t1 - t0;
    if interval == 0 {
        return None;
    }
    // A counter reset (`v1 < v0`) leaves the last value as the increase. NaN compares
    // false, so a NaN counter value gives a NaN difference, as in Prometheus.
    let mut result = if !is_rate || v1 >= v0 || v1.is_nan() || v0.is_nan() {
        v1 - v0
    } else {
        v1
    };
    if is_rate {
        result /= interval as f64 / 1000.0;
    }
    Some(result)
}

/// `<name>_over_time` for avg, sum, count, min, max, last, present, stddev, stdvar, mad,
/// and `ts_of_min`, `ts_of_max`, `ts_of_last` (`name` without the `_over_time` suffix).
///
/// `name` may also carry the `_over_time` suffix. `None` for no points or an unknown
/// `name` (including `quantile`, which has its own function). Sums, means and variances are
/// Kahan-compensated as in Prometheus. `min`/`max` ignore NaN unless every value is NaN.
/// `ts_of_min`/`ts_of_max` give the timestamp (seconds) of the *last* point holding the
/// minimum/maximum; `ts_of_last` the timestamp of the last point.
pub fn over_time(name: &str, points: &[(i64, f64)]) -> Option<f64> {
    let &(last_t, last_v) = points.last()?;
    let v = match name.strip_suffix("_over_time").unwrap_or(name) {
        "avg" => avg(points),
        "sum" => sum(points),
        "count" => points.len() as f64,
        "min" => compare(points, |cur, acc| cur < acc).1,
        "max" => compare(points, |cur, acc| cur > acc).1,
        "ts_of_min" => ms_to_s(compare(points, |cur, acc| cur <= acc).0),
        "ts_of_max" => ms_to_s(compare(points, |cur, acc| cur >= acc).0),
        "last" => last_v,
        "ts_of_last" => ms_to_s(last_t),
        "present" => 1.0,
        "stdvar" => variance(points),
        "stddev" => variance(points).sqrt(),
        "mad" => mad(points),
        _ => return None,
    };
    Some(v)
}

fn ms_to_s(t: i64) -> f64 {
    t as f64 / 1000.0
}

/// Mean with direct Kahan summation, switching to an incremental mean once the running sum
/// would overflow (Prometheus 3.5's `avg_over_time`).
fn avg(points: &[(i64, f64)]) -> f64 {
    let mut sum = points[0].1;
    let mut c = 0.0;
    let mut mean = 0.0;
    let mut incremental = false;
    for (i, &(_, v)) in points.iter().enumerate().skip(1) {
        let count = (i + 1) as f64;
        if !incremental {
            let (new_sum, new_c) = kahan_sum_inc(v, sum, c);
            if !new_sum.is_infinite() {
                sum = new_sum;
                c = new_c;
                continue;
            }
            incremental = true;
            mean = sum / (count - 1.0);
            c /= count - 1.0;
        }
        let q = (count - 1.0) / count;
        (mean, c) = kahan_sum_inc(v / count, q * mean, q * c);
    }
    if incremental {
        mean + c
    } else {
        let count = points.len() as f64;
        sum / count + c / count
    }
}

fn sum(points: &[(i64, f64)]) -> f64 {
    let (mut sum, mut c) = (0.0, 0.0);
    for &(_, v) in points {
        (sum, c) = kahan_sum_inc(v, sum, c);
    }
    if sum.is_infinite() { sum } else { sum + c }
}

/// Scans for the extreme value: `replace(cur, acc)` says whether `cur` replaces the
/// current extreme; a NaN extreme is always replaced. Returns `(timestamp, value)`.
fn compare(points: &[(i64, f64)], replace: impl Fn(f64, f64) -> bool) -> (i64, f64) {
    let (mut t, mut acc) = points[0];
    for &(pt, v) in points {
        if replace(v, acc) || acc.is_nan() {
            acc = v;
            t = pt;
        }
    }
    (t, acc)
}

/// Population variance with Welford's algorithm and Kahan-compensated mean and sum of
/// squares, as Prometheus's `varianceOverTime`.
fn variance(points: &[(i64, f64)]) -> f64 {
    let mut count = 0.0;
    let (mut mean, mut c_mean) = (0.0, 0.0);
    let (mut aux, mut c_aux) = (0.0, 0.0);
    for &(_, v) in points {
        count += 1.0;
        let delta = v - (mean + c_mean);
        (mean, c_mean) = kahan_sum_inc(delta / count, mean, c_mean);
        (aux, c_aux) = kahan_sum_inc(delta * (v - (mean + c_mean)), aux, c_aux);
    }
    (aux + c_aux) / count
}

/// Median absolute deviation from the median.
fn mad(points: &[(i64, f64)]) -> f64 {
    let mut values: Vec<f64> = points.iter().map(|&(_, v)| v).collect();
    let median = quantile(0.5, &mut values);
    let mut deviations: Vec<f64> = points.iter().map(|&(_, v)| (v - median).abs()).collect();
    quantile(0.5, &mut deviations)
}

/// `quantile_over_time(q, ...)`: `None` for no points; otherwise Prometheus's `quantile`
/// (q < 0 gives -Inf, q > 1 +Inf, NaN q NaN; the evaluator adds the warning).
pub fn quantile_over_time(q: f64, points: &[(i64, f64)]) -> Option<f64> {
    if points.is_empty() {
        return None;
    }
    let mut values: Vec<f64> = points.iter().map(|&(_, v)| v).collect();
    Some(quantile(q, &mut values))
}

/// `changes`: how often the value changed between consecutive points (NaN to NaN is no
/// change). `None` for no points.
pub fn changes(points: &[(i64, f64)]) -> Option<f64> {
    if points.is_empty() {
        return None;
    }
    let n = points
        .windows(2)
        .filter(|w| {
            let (a, b) = (w[0].1, w[1].1);
            a != b && !(a.is_nan() && b.is_nan())
        })
        .count();
    Some(n as f64)
}

/// `resets`: how often the value decreased between consecutive points. `None` for no
/// points.
pub fn resets(points: &[(i64, f64)]) -> Option<f64> {
    if points.is_empty() {
        return None;
    }
    let n = points.windows(2).filter(|w| w[1].1 < w[0].1).count();
    Some(n as f64)
}

/// Least-squares fit of the points, with x in seconds relative to `intercept_t` (ms):
/// returns `(slope per second, value at intercept_t)`, as Prometheus's
/// `linearRegression`. Constant values give slope 0 (NaN for a constant ±Inf). Needs at
/// least one point.
pub fn linear_regression(points: &[(i64, f64)], intercept_t: i64) -> (f64, f64) {
    let init_y = points.first().map_or(f64::NAN, |p| p.1);
    let mut const_y = true;
    let mut n = 0.0;
    let (mut sum_x, mut c_x) = (0.0, 0.0);
    let (mut sum_y, mut c_y) = (0.0, 0.0);
    let (mut sum_xy, mut c_xy) = (0.0, 0.0);
    let (mut sum_x2, mut c_x2) = (0.0, 0.0);
    for (i, &(t, y)) in points.iter().enumerate() {
        if const_y && i > 0 && y != init_y {
            const_y = false;
        }
        n += 1.0;
        let x = (t - intercept_t) as f64 / 1e3;
        (sum_x, c_x) = kahan_sum_inc(x, sum_x, c_x);
        (sum_y, c_y) = kahan_sum_inc(y, sum_y, c_y);
        (sum_xy, c_xy) = kahan_sum_inc(x * y, sum_xy, c_xy);
        (sum_x2, c_x2) = kahan_sum_inc(x * x, sum_x2, c_x2);
    }
    if const_y {
        if init_y.is_infinite() {
            return (f64::NAN, f64::NAN);
        }
        return (0.0, init_y);
    }
    let sum_x = sum_x + c_x;
    let sum_y = sum_y + c_y;
    let sum_xy = sum_xy + c_xy;
    let sum_x2 = sum_x2 + c_x2;
    let cov_xy = sum_xy - sum_x * sum_y / n;
    let var_x = sum_x2 - sum_x * sum_x / n;
    let slope = cov_xy / var_x;
    let intercept = sum_y / n - slope * sum_x / n;
    (slope, intercept)
}

/// `deriv`: slope of the least-squares line, per second. `None` with fewer than two
/// points. Timestamps are taken relative to the first point for precision.
pub fn deriv(points: &[(i64, f64)]) -> Option<f64> {
    if points.len() < 2 {
        return None;
    }
    Some(linear_regression(points, points[0].0).0)
}

/// `predict_linear(v, duration)` evaluated at `eval_t` (ms), `duration` in seconds: the
/// least-squares line, intercepted at `eval_t`, extended by `duration`. `None` with fewer
/// than two points.
pub fn predict_linear(points: &[(i64, f64)], eval_t: i64, duration: f64) -> Option<f64> {
    if points.len() < 2 {
        return None;
    }
    let (slope, intercept) = linear_regression(points, eval_t);
    Some(slope * duration + intercept)
}

/// `double_exponential_smoothing(v, sf, tf)` (experimental; formerly `holt_winters`).
/// `None` with fewer than two points. The evaluator must reject `sf` and `tf` outside
/// `(0, 1)` before calling.
pub fn double_exponential_smoothing(points: &[(i64, f64)], sf: f64, tf: f64) -> Option<f64> {
    if points.len() < 2 {
        return None;
    }
    // s1 is the last smoothed value, s0 the one before, b the trend.
    let mut s0 = 0.0;
    let mut s1 = points[0].1;
    let mut b = points[1].1 - points[0].1;
    for (i, &(_, v)) in points.iter().enumerate().skip(1) {
        if i > 1 {
            b = tf * (s1 - s0) + (1.0 - tf) * b;
        }
        let next = sf * v + (1.0 - sf) * (s1 + b);
        s0 = s1;
        s1 = next;
    }
    Some(s1)
}

#[cfg(test)]
mod tests;
