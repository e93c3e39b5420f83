//! Per-sample float functions (skeleton: bodies come with the kernels work of issue 3).

/// The one-argument float function called `name` (`abs`, `ceil`, `exp`, `ln`, `sqrt`,
/// trig and hyperbolic functions, `deg`, `rad`, `sgn`, ...), if there is one.
pub fn simple(_name: &str) -> Option<fn(f64) -> f64> {
    None
}

/// `round(v, to_nearest)`, rounding half up like Prometheus.
pub fn round(v: f64, _to_nearest: f64) -> f64 {
    v
}
