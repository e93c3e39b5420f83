//! Quantiles with Prometheus 3.5's semantics (`promql/quantile.go`): `histogram_quantile`
//! over classic buckets ([`bucket_quantile`]) and the interpolating [`quantile`] behind the
//! `quantile` aggregation, `quantile_over_time` and `mad_over_time`.

use std::cmp::Ordering;

/// Relative difference below which two successive bucket counts are taken as equal
/// (floating-point noise, e.g. from sharded summation), as Prometheus's
/// `smallDeltaTolerance`.
pub const SMALL_DELTA_TOLERANCE: f64 = 1e-12;

/// One classic histogram bucket: its `le` bound and cumulative count.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    /// The `le` label as a float.
    pub upper_bound: f64,
    /// The cumulative count.
    pub count: f64,
}

/// What `bucket_quantile` had to correct, for annotations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BucketQuantileFixes {
    /// Counts were not monotonic and were forced to be (info annotation in Prometheus).
    pub forced_monotonicity: bool,
}

/// Prometheus's `BucketQuantile` over classic buckets (any order; sorted in place).
///
/// * NaN `q` gives NaN, `q < 0` gives -Inf, `q > 1` gives +Inf (the evaluator adds the
///   invalid-quantile warning).
/// * Buckets are sorted by bound and buckets with equal bounds are merged (counts added).
/// * The highest bound must be +Inf, else NaN; fewer than two buckets after merging, or a
///   total count of zero, also give NaN.
/// * Counts that differ from the previous bucket's by a relative [`SMALL_DELTA_TOLERANCE`]
///   are taken as equal; any remaining decrease is flattened
///   ([`BucketQuantileFixes::forced_monotonicity`]).
/// * The result is interpolated linearly inside the bucket holding the rank `q * total`.
///   The lowest bucket starts at 0 if its bound is positive, else its bound is returned; a
///   rank in the +Inf bucket returns the second-highest bound.
///
/// Bounds are ordered by IEEE total order, so a NaN bound sorts first or last depending on
/// its sign (Prometheus leaves that case unspecified).
pub fn bucket_quantile(q: f64, buckets: &mut [Bucket]) -> (f64, BucketQuantileFixes) {
    let none = BucketQuantileFixes::default();
    if q.is_nan() {
        return (f64::NAN, none);
    }
    if q < 0.0 {
        return (f64::NEG_INFINITY, none);
    }
    if q > 1.0 {
        return (f64::INFINITY, none);
    }
    buckets.sort_unstable_by(|a, b| a.upper_bound.total_cmp(&b.upper_bound));
    match buckets.last() {
        Some(b) if b.upper_bound == f64::INFINITY => {}
        _ => return (f64::NAN, none),
    }
    let len = coalesce_buckets(buckets);
    let buckets = &mut buckets[..len];
    let fixes = BucketQuantileFixes {
        forced_monotonicity: ensure_monotonic(buckets, SMALL_DELTA_TOLERANCE),
    };
    if buckets.len() < 2 {
        return (f64::NAN, none);
    }
    let observations = buckets[buckets.len() - 1].count;
    if observations == 0.0 {
        return (f64::NAN, none);
    }
    let mut rank = q * observations;
    // The first bucket (the +Inf one excluded) whose count reaches the rank.
    let b = buckets[..buckets.len() - 1].partition_point(|bk| bk.count < rank);
    if b == buckets.len() - 1 {
        return (buckets[buckets.len() - 2].upper_bound, fixes);
    }
    if b == 0 && buckets[0].upper_bound <= 0.0 {
        return (buckets[0].upper_bound, fixes);
    }
    let bucket_end = buckets[b].upper_bound;
    let mut count = buckets[b].count;
    let mut bucket_start = 0.0;
    if b > 0 {
        bucket_start = buckets[b - 1].upper_bound;
        count -= buckets[b - 1].count;
        rank -= buckets[b - 1].count;
    }
    (
        bucket_start + (bucket_end - bucket_start) * (rank / count),
        fixes,
    )
}

/// Merges adjacent buckets with equal bounds (the input is sorted) into the front of the
/// slice and returns how many remain.
fn coalesce_buckets(buckets: &mut [Bucket]) -> usize {
    let Some(&first) = buckets.first() else {
        return 0;
    };
    let mut last = first;
    let mut out = 0;
    for i in 1..buckets.len() {
        let b = buckets[i];
        if b.upper_bound == last.upper_bound {
            last.count += b.count;
        } else {
            buckets[out] = last;
            last = b;
            out += 1;
        }
    }
    buckets[out] = last;
    out + 1
}

/// Prometheus's `ensureMonotonicAndIgnoreSmallDeltas`: ignores numerically insignificant
/// differences between successive counts, then flattens decreases. Returns whether a
/// decrease had to be flattened.
fn ensure_monotonic(buckets: &mut [Bucket], tolerance: f64) -> bool {
    let Some(first) = buckets.first() else {
        return false;
    };
    let mut forced = false;
    let mut prev = first.count;
    for b in buckets.iter_mut().skip(1) {
        let curr = b.count;
        if curr == prev {
            continue;
        }
        if almost_equal(prev, curr, tolerance) {
            // Neither direction counts: keep `prev`, as the difference is noise.
            b.count = prev;
            continue;
        }
        if curr < prev {
            b.count = prev;
            forced = true;
            continue;
        }
        prev = curr;
    }
    forced
}

/// Prometheus's `almost.Equal`: relative difference below `epsilon`, both NaN, or (near
/// zero) an absolute difference below `epsilon` times the smallest normal float.
fn almost_equal(a: f64, b: f64, epsilon: f64) -> bool {
    const STALE_NAN: u64 = 0x7ff0_0000_0000_0002;
    let (a_stale, b_stale) = (a.to_bits() == STALE_NAN, b.to_bits() == STALE_NAN);
    if a_stale || b_stale {
        return a_stale && b_stale;
    }
    if (a.is_nan() && b.is_nan()) || a == b {
        return true;
    }
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < f64::MIN_POSITIVE {
        return diff < epsilon * f64::MIN_POSITIVE;
    }
    diff / abs_sum.min(f64::MAX) < epsilon
}

/// The `q`-quantile of `values` with Prometheus's interpolation (sorts `values`).
///
/// No values or NaN `q` give NaN, `q < 0` gives -Inf, `q > 1` +Inf. Otherwise the values
/// are sorted with NaNs first and the result interpolates linearly between the values at
/// ranks `floor(q * (n - 1))` and the next.
pub fn quantile(q: f64, values: &mut [f64]) -> f64 {
    if values.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    values.sort_unstable_by(nan_first);
    let n = values.len() as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (lower + 1.0).min(n - 1.0);
    let weight = rank - rank.floor();
    // Both indices are in [0, n - 1] by construction.
    values[lower as usize] * (1.0 - weight) + values[upper as usize] * weight
}

/// Orders floats ascending with every NaN before every number, as Prometheus's
/// `vectorByValueHeap`.
fn nan_first(a: &f64, b: &f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        (false, false) => a.partial_cmp(b).unwrap_or(Ordering::Equal),
    }
}

#[cfg(test)]
mod tests;
