//! Quantiles (skeleton: bodies come with the kernels work of issue 3).

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
pub fn bucket_quantile(_q: f64, _buckets: &mut [Bucket]) -> (f64, BucketQuantileFixes) {
    (f64::NAN, BucketQuantileFixes::default())
}

/// The `q`-quantile of `values` with Prometheus's interpolation (sorts `values`).
pub fn quantile(_q: f64, _values: &mut [f64]) -> f64 {
    f64::NAN
}
