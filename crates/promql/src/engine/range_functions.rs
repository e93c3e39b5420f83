//! Functions over range vectors (`rate`, `*_over_time`, `deriv`, ...): argument checks,
//! annotations and labels around the kernels in [`crate::functions::range`].
//!
//! A range selector argument is streamed: each series is loaded, evaluated at every
//! step and freed before the next one, so only one series' points are held at a time.

use std::sync::Arc;

use promql_parser::parser::Expr;

use crate::engine::aggregate::format_float;
use tsdb::labels::Labels;

use crate::engine::eval::{Evaluator, RangeSeries, Smp, Val, has_duplicates};
use crate::error::{Error, Result};
use crate::functions::range;

/// The windows of one series at successive window ends: while the ends do not decrease
/// (always, unless `@` pins them), two cursors move forward instead of two binary searches
/// per step.
struct Windows<'p> {
    pts: &'p [(i64, f64)],
    range: i64,
    forward: bool,
    lo: usize,
    hi: usize,
}

impl<'p> Windows<'p> {
    fn new(pts: &'p [(i64, f64)], ends: &[i64], range: i64) -> Self {
        Windows {
            pts,
            range,
            forward: ends.windows(2).all(|w| w[0] <= w[1]),
            lo: 0,
            hi: 0,
        }
    }

    /// The index range of the points in `(end - range, end]`; with `forward`, `end` must
    /// not decrease.
    fn bounds(&mut self, end: i64) -> (usize, usize) {
        let start = end.saturating_sub(self.range);
        if !self.forward {
            let lo = self.pts.partition_point(|p| p.0 <= start);
            let hi = self.pts.partition_point(|p| p.0 <= end);
            return (lo, hi.max(lo));
        }
        while self.lo < self.pts.len() && self.pts[self.lo].0 <= start {
            self.lo += 1;
        }
        self.hi = self.hi.max(self.lo);
        while self.hi < self.pts.len() && self.pts[self.hi].0 <= end {
            self.hi += 1;
        }
        (self.lo, self.hi)
    }
}

/// The output of a range function node.
struct RangeOut {
    /// One vector per step.
    steps: Vec<Vec<Smp>>,
    /// The output labels of every series that produced a sample and keeps them.
    labels: Vec<Arc<Labels>>,
}

impl Evaluator<'_> {
    pub(crate) fn eval_range_function(&mut self, name: &str, args: &[&Expr]) -> Result<Val> {
        let (m_idx, scalars) = match name {
            "quantile_over_time" => (1, vec![0]),
            "predict_linear" => (0, vec![1]),
            "double_exponential_smoothing" => (0, vec![1, 2]),
            _ => (0, vec![]),
        };
        let mut sv: Vec<Vec<f64>> = Vec::new();
        for &i in &scalars {
            let e = args
                .get(i)
                .ok_or_else(|| Error::Execution(format!("missing argument of {name}")))?;
            sv.push(self.scalar_arg(e)?);
        }
        let m_expr = *args
            .get(m_idx)
            .ok_or_else(|| Error::Execution(format!("missing argument of {name}")))?;
        if name == "double_exponential_smoothing" {
            for (&sf, &tf) in sv[0].iter().zip(&sv[1]) {
                if sf <= 0.0 || sf >= 1.0 {
                    return Err(Error::Execution(format!(
                        "invalid smoothing factor. Expected: 0 < sf < 1, got: {sf:.6}"
                    )));
                }
                if tf <= 0.0 || tf >= 1.0 {
                    return Err(Error::Execution(format!(
                        "invalid trend factor. Expected: 0 < tf < 1, got: {tf:.6}"
                    )));
                }
            }
        }
        let mut out = RangeOut {
            steps: vec![Vec::new(); self.steps()],
            labels: Vec::new(),
        };
        let mut count = 0usize;
        if let Expr::MatrixSelector(ms) = m_expr {
            self.stream_matrix(ms, &mut |ev, series, ends, range| {
                count += 1;
                if count.is_multiple_of(64) {
                    ev.check("expression evaluation")?;
                }
                ev.apply_series(name, &sv, series, ends, range, &mut out)
            })?;
        } else {
            let r = self.range_arg(m_expr)?;
            for (s, series) in r.series.iter().enumerate() {
                if s % 64 == 0 {
                    self.check("expression evaluation")?;
                }
                self.apply_series(name, &sv, series, &r.ends, r.range, &mut out)?;
            }
        }
        if name == "quantile_over_time" {
            // Prometheus checks the parameter only where some series has samples.
            for (&q, v) in sv[0].iter().zip(&out.steps) {
                if !v.is_empty() && (q.is_nan() || !(0.0..=1.0).contains(&q)) {
                    self.annos.warn(format!(
                        "quantile value should be between 0 and 1, got {}",
                        format_float(q).trim_start_matches('+')
                    ));
                }
            }
        }
        // Each series gives at most one sample per step, so a step can hold a duplicate
        // only if two series' output labels are equal: check those once for the node,
        // and step by step only when some are.
        if !self.opts.delayed_name_removal && has_duplicates(out.labels.iter()) {
            for v in &out.steps {
                Evaluator::check_duplicates(v)?;
            }
        }
        Ok(Val::Vector(out.steps))
    }

    /// Evaluates range function `name` on one series at every step, appending to `out`.
    fn apply_series(
        &mut self,
        name: &str,
        sv: &[Vec<f64>],
        series: &RangeSeries,
        ends: &[i64],
        range_ms: i64,
        out: &mut RangeOut,
    ) -> Result<()> {
        let (labels, drop_flag) = if name == "last_over_time" {
            (series.labels.clone(), series.drop_name)
        } else {
            self.fn_labels(&series.labels, series.drop_name)
        };
        let labels = Arc::new(labels);
        let mut produced = 0usize;
        let steps = (self.start, self.interval);
        let non_counter = range_values(name, sv, &series.points, ends, range_ms, steps, |i, v| {
            if let Some(slot) = out.steps.get_mut(i) {
                slot.push(Smp {
                    labels: Arc::clone(&labels),
                    v,
                    drop_name: drop_flag,
                });
                produced += 1;
            }
        })?;
        // The outputs are held until the node is done: count them now, so a query whose
        // per-step outputs outgrow the limit stops after this series, not at the end.
        self.add_samples(produced)?;
        if produced > 0 && !drop_flag {
            out.labels.push(labels);
        }
        if non_counter {
            self.not_a_counter_info(&series.labels);
        }
        Ok(())
    }

    /// Prometheus's "metric might not be a counter" info for a series a counter function
    /// (`rate`, `increase`) saw with two or more points.
    pub(crate) fn not_a_counter_info(&mut self, labels: &Labels) {
        if let Some(metric) = not_a_counter(labels) {
            self.not_a_counter_info_for(metric);
        }
    }

    /// The "metric might not be a counter" info for `metric`.
    pub(crate) fn not_a_counter_info_for(&mut self, metric: &str) {
        self.annos.info(format!(
            "metric might not be a counter, name does not end in _total/_sum/_count/_bucket: {metric:?}"
        ));
    }
}

/// The metric name of a series a counter function should flag as maybe not a counter:
/// named, and the name lacks a counter suffix (Prometheus skips unnamed series).
pub(crate) fn not_a_counter(labels: &Labels) -> Option<&str> {
    let metric = labels.metric_name().unwrap_or("");
    let counter_like = ["_total", "_sum", "_count", "_bucket"]
        .iter()
        .any(|sfx| metric.ends_with(sfx));
    (!metric.is_empty() && !counter_like).then_some(metric)
}

/// Evaluates range function `name` on one series' points (stale markers removed) at
/// every window end, calling `emit(step, value)` for each step with an output.
///
/// `sv` holds the scalar arguments per step, `steps` the evaluation's first step and
/// interval (for `predict_linear`). Returns whether a counter function saw a window of two
/// or more points (the caller then checks the "not a counter" info). The general path
/// (per-step vectors) and the series-major aggregation both evaluate through here.
pub(crate) fn range_values(
    name: &str,
    sv: &[Vec<f64>],
    pts: &[(i64, f64)],
    ends: &[i64],
    range_ms: i64,
    steps: (i64, i64),
    mut emit: impl FnMut(usize, f64),
) -> Result<bool> {
    let mut windows = Windows::new(pts, ends, range_ms);
    let mut non_counter = false;
    let counter = name == "rate" || name == "increase";
    // Resets up to each point, so a counter window knows in O(1) whether it holds one.
    let resets: Vec<u32> = if counter {
        let mut n = 0u32;
        let mut prev = f64::NAN;
        pts.iter()
            .map(|&(_, v)| {
                if v < prev {
                    n += 1;
                }
                prev = v;
                n
            })
            .collect()
    } else {
        Vec::new()
    };
    let all = pts;
    for (i, &end) in ends.iter().enumerate() {
        let (lo, hi) = windows.bounds(end);
        let pts = &all[lo..hi];
        if pts.is_empty() {
            continue;
        }
        let v = match name {
            "rate" | "increase" | "delta" => {
                if counter && pts.len() >= 2 {
                    non_counter = true;
                }
                let may_reset = counter && resets[hi - 1] != resets[lo];
                range::extrapolated_rate_with(
                    pts,
                    end.saturating_sub(range_ms),
                    end,
                    counter,
                    name == "rate",
                    may_reset,
                )
            }
            "irate" => range::instant_value(pts, true),
            "idelta" => range::instant_value(pts, false),
            "changes" => range::changes(pts),
            "resets" => range::resets(pts),
            "deriv" => range::deriv(pts),
            "predict_linear" => range::predict_linear(pts, steps.0 + steps.1 * i as i64, sv[0][i]),
            "quantile_over_time" => range::quantile_over_time(sv[0][i], pts),
            "double_exponential_smoothing" => {
                range::double_exponential_smoothing(pts, sv[0][i], sv[1][i])
            }
            other => match other.strip_suffix("_over_time") {
                Some(base) => range::over_time(base, pts),
                None => {
                    return Err(Error::Execution(format!(
                        "function {other:?} is not supported"
                    )));
                }
            },
        };
        if let Some(v) = v {
            emit(i, v);
        }
    }
    Ok(non_counter)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::range_values;
    use crate::engine::eval::window;
    use crate::functions::range;

    proptest! {
        /// The reset prefix counts only skip scans that would add nothing: `rate` and
        /// `increase` through `range_values` equal the kernel on each window.
        #[test]
        fn counter_windows_match_the_kernel(
            steps in prop::collection::vec((1i64..30_000, prop_oneof![
                6 => (0u32..100).prop_map(f64::from),
                1 => Just(f64::NAN),
            ]), 0..80),
            first_end in 0i64..200_000,
            step in 1i64..60_000,
            n in 1usize..50,
            range_ms in 1i64..300_000,
            increase in any::<bool>(),
        ) {
            let mut t = 0;
            let pts: Vec<(i64, f64)> = steps.into_iter().map(|(dt, v)| { t += dt; (t, v) }).collect();
            let ends: Vec<i64> = (0..n as i64).map(|i| first_end + i * step).collect();
            let name = if increase { "increase" } else { "rate" };
            let mut got = Vec::new();
            range_values(name, &[], &pts, &ends, range_ms, (0, 1), |i, v| got.push((i, v.to_bits())))
                .expect("evaluates");
            let want: Vec<(usize, u64)> = ends
                .iter()
                .enumerate()
                .filter_map(|(i, &end)| {
                    range::extrapolated_rate(window(&pts, end, range_ms), end - range_ms, end, true, !increase)
                        .map(|v| (i, v.to_bits()))
                })
                .collect();
            prop_assert_eq!(got, want);
        }
    }
}
