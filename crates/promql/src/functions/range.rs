//! Functions over the points of a range vector (skeleton: bodies come with the kernels
//! work of issue 3). Every function takes the points inside the window, in time order;
//! `None` means "no output sample" (e.g. too few points).

/// Prometheus's `extrapolatedRate`: `rate` (`is_counter && is_rate`), `increase`
/// (`is_counter && !is_rate`) and `delta` (`!is_counter && !is_rate`). `range_start` is
/// exclusive, `range_end` inclusive (ms).
pub fn extrapolated_rate(
    _points: &[(i64, f64)],
    _range_start: i64,
    _range_end: i64,
    _is_counter: bool,
    _is_rate: bool,
) -> Option<f64> {
    None
}

/// `irate` (`is_rate`) and `idelta` (`!is_rate`): from the last two points.
pub fn instant_value(_points: &[(i64, f64)], _is_rate: bool) -> Option<f64> {
    None
}

/// `<name>_over_time` for avg, sum, count, min, max, last, present, stddev, stdvar, mad,
/// and `ts_of_min`, `ts_of_max`, `ts_of_last` (`name` without the `_over_time` suffix).
pub fn over_time(_name: &str, _points: &[(i64, f64)]) -> Option<f64> {
    None
}

/// `quantile_over_time(q, ...)`.
pub fn quantile_over_time(_q: f64, _points: &[(i64, f64)]) -> Option<f64> {
    None
}

/// `changes`.
pub fn changes(_points: &[(i64, f64)]) -> Option<f64> {
    None
}

/// `resets`.
pub fn resets(_points: &[(i64, f64)]) -> Option<f64> {
    None
}

/// `deriv`: slope of the least-squares line, per second.
pub fn deriv(_points: &[(i64, f64)]) -> Option<f64> {
    None
}

/// `predict_linear(v, duration)` evaluated at `eval_t` (ms), `duration` in seconds.
pub fn predict_linear(_points: &[(i64, f64)], _eval_t: i64, _duration: f64) -> Option<f64> {
    None
}

/// `double_exponential_smoothing(v, sf, tf)` (experimental).
pub fn double_exponential_smoothing(_points: &[(i64, f64)], _sf: f64, _tf: f64) -> Option<f64> {
    None
}
