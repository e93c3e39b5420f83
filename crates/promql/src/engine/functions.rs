//! Function dispatch: argument evaluation and validation, annotations and `__name__`
//! handling around the kernels in [`crate::functions`].

use std::sync::Arc;

use promql_parser::label::MatchOp;
use promql_parser::parser::{Call, Expr, VectorSelector};
use tsdb::labels::{Label, Labels};

use crate::engine::aggregate::format_float;
use crate::engine::eval::{
    Evaluator, NameDropper, RangeVal, Smp, Val, cmp_labels, drop_metric_name,
};
use crate::error::{Error, Result};
use crate::functions::{label, math, quantile, time};

/// Functions newer than Prometheus 3.5 that the parser knows; rejected as unknown.
const NOT_IN_3_5: &[&str] = &[
    "first_over_time",
    "ts_of_first_over_time",
    "histogram_quantiles",
    "integral",
    "max_of",
    "min_of",
    "start_timestamp",
];

/// Go's `math.Max`: NaN wins.
fn go_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

/// Go's `math.Min`: NaN wins.
fn go_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.min(b)
    }
}

/// Whether `name` is a valid label name (Prometheus 3 accepts any non-empty UTF-8).
fn valid_label_name(name: &str) -> bool {
    // Invalid UTF-8 in a query string reaches us as replacement characters.
    !name.is_empty() && !name.contains('\u{fffd}')
}

/// Compares strings in natural order (digit runs compare as numbers).
fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let (ab, bb) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < ab.len() && j < bb.len() {
        if ab[i].is_ascii_digit() && bb[j].is_ascii_digit() {
            let si = i;
            while i < ab.len() && ab[i].is_ascii_digit() {
                i += 1;
            }
            let sj = j;
            while j < bb.len() && bb[j].is_ascii_digit() {
                j += 1;
            }
            let x = a[si..i].trim_start_matches('0');
            let y = b[sj..j].trim_start_matches('0');
            let c = x.len().cmp(&y.len()).then_with(|| x.cmp(y));
            if c != Ordering::Equal {
                return c;
            }
        } else {
            if ab[i] != bb[j] {
                return ab[i].cmp(&bb[j]);
            }
            i += 1;
            j += 1;
        }
    }
    (ab.len() - i).cmp(&(bb.len() - j))
}

/// Sorts NaNs last in both directions, as Prometheus's `sort`/`sort_desc`.
fn value_order(a: f64, b: f64, desc: bool) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => {
            let c = a.partial_cmp(&b).unwrap_or(Ordering::Equal);
            if desc { c.reverse() } else { c }
        }
    }
}

/// The labels `absent` gives: the equality matchers of the selector, except `__name__`.
fn absent_labels(expr: &Expr) -> Labels {
    let vs: Option<&VectorSelector> = match expr {
        Expr::VectorSelector(vs) => Some(vs),
        Expr::MatrixSelector(ms) => Some(&ms.vs),
        _ => None,
    };
    let Some(vs) = vs else {
        return Labels::empty();
    };
    let mut out: Vec<Label> = Vec::new();
    let mut has: Vec<&str> = Vec::new();
    for m in &vs.matchers.matchers {
        if m.name == "__name__" {
            continue;
        }
        if matches!(m.op, MatchOp::Equal) && !has.contains(&m.name.as_str()) {
            out.push(Label::new(&m.name, &m.value));
            has.push(&m.name);
        } else {
            out.retain(|l| l.name.as_str() != m.name);
        }
    }
    Labels::new(out)
}

impl Evaluator<'_> {
    pub(crate) fn scalar_arg(&mut self, e: &Expr) -> Result<Vec<f64>> {
        match self.eval(e)? {
            Val::Scalar(v) => Ok(v),
            _ => Err(Error::Execution("expected scalar argument".into())),
        }
    }

    fn string_arg(&mut self, e: &Expr) -> Result<String> {
        match self.eval(e)? {
            Val::Str(s) => Ok(s),
            _ => Err(Error::Execution("expected string argument".into())),
        }
    }

    fn vector_arg(&mut self, e: &Expr) -> Result<Vec<Vec<Smp>>> {
        match self.eval(e)? {
            Val::Vector(v) => Ok(v),
            _ => Err(Error::Execution("expected instant vector argument".into())),
        }
    }

    pub(crate) fn range_arg(&mut self, e: &Expr) -> Result<RangeVal> {
        match self.eval(e)? {
            Val::Range(r) => Ok(r),
            _ => Err(Error::Execution("expected range vector argument".into())),
        }
    }

    /// The labels of a function's output sample.
    pub(crate) fn fn_labels(&self, l: &Labels, already: bool) -> (Labels, bool) {
        if self.opts.delayed_name_removal || already {
            (l.clone(), true)
        } else {
            (drop_metric_name(l), false)
        }
    }

    /// Maps every sample with `f`, dropping the metric name.
    pub(crate) fn map_vector(
        &mut self,
        v: Vec<Vec<Smp>>,
        f: impl Fn(f64, usize) -> f64,
    ) -> Result<Val> {
        let delayed = self.opts.delayed_name_removal;
        let mut names = NameDropper::default();
        let mut out = Vec::with_capacity(v.len());
        for (i, vec) in v.into_iter().enumerate() {
            let res: Vec<Smp> = vec
                .into_iter()
                .map(|s| Smp {
                    labels: if delayed {
                        s.labels
                    } else {
                        names.drop_name(&s.labels)
                    },
                    v: f(s.v, i),
                    drop_name: delayed,
                })
                .collect();
            if !delayed {
                Evaluator::check_duplicates(&res)?;
            }
            out.push(res);
        }
        Ok(Val::Vector(out))
    }

    pub(crate) fn eval_call(&mut self, c: &Call) -> Result<Val> {
        let name = c.func.name;
        let args: Vec<&Expr> = c.args.args.iter().map(|a| a.as_ref()).collect();
        if NOT_IN_3_5.contains(&name) {
            return Err(Error::Parse {
                message: format!("unknown function with name {name:?}"),
            });
        }
        if c.func.experimental && !self.opts.experimental_functions {
            return Err(Error::Parse {
                message: format!("function {name:?} is not enabled"),
            });
        }
        let n = self.steps();
        let arg = |i: usize| -> Result<&Expr> {
            args.get(i)
                .copied()
                .ok_or_else(|| Error::Execution(format!("missing argument {i} of {name}")))
        };
        match name {
            "time" => Ok(Val::Scalar(
                (0..n).map(|i| self.ts(i) as f64 / 1000.0).collect(),
            )),
            "pi" => Ok(Val::Scalar(vec![std::f64::consts::PI; n])),
            "vector" => {
                let v = self.scalar_arg(arg(0)?)?;
                Ok(Val::Vector(
                    v.into_iter()
                        .map(|x| {
                            vec![Smp {
                                labels: Arc::new(Labels::empty()),
                                v: x,
                                drop_name: false,
                            }]
                        })
                        .collect(),
                ))
            }
            "scalar" => {
                let v = self.vector_arg(arg(0)?)?;
                Ok(Val::Scalar(
                    v.into_iter()
                        .map(|vec| if vec.len() == 1 { vec[0].v } else { f64::NAN })
                        .collect(),
                ))
            }
            "timestamp" => {
                let inner = unwrap_parens(arg(0)?);
                let v = match inner {
                    Expr::VectorSelector(vs) => self.eval_vector_selector_ts(vs)?,
                    e => {
                        let v = self.vector_arg(e)?;
                        v.into_iter()
                            .enumerate()
                            .map(|(i, vec)| {
                                let t = self.ts(i) as f64 / 1000.0;
                                vec.into_iter().map(|s| Smp { v: t, ..s }).collect()
                            })
                            .collect()
                    }
                };
                self.map_vector(v, |x, _| x)
            }
            "absent" => {
                let v = self.vector_arg(arg(0)?)?;
                let labels = Arc::new(absent_labels(arg(0)?));
                Ok(Val::Vector(
                    v.into_iter()
                        .map(|vec| {
                            if vec.is_empty() {
                                vec![Smp {
                                    labels: Arc::clone(&labels),
                                    v: 1.0,
                                    drop_name: false,
                                }]
                            } else {
                                Vec::new()
                            }
                        })
                        .collect(),
                ))
            }
            "absent_over_time" => {
                let r = self.range_arg(arg(0)?)?;
                let labels = Arc::new(absent_labels(arg(0)?));
                let mut out = Vec::with_capacity(n);
                for i in 0..r.ends.len() {
                    let any = (0..r.series.len()).any(|s| !r.window(s, i).is_empty());
                    out.push(if any {
                        Vec::new()
                    } else {
                        vec![Smp {
                            labels: Arc::clone(&labels),
                            v: 1.0,
                            drop_name: false,
                        }]
                    });
                }
                Ok(Val::Vector(out))
            }
            "sort" | "sort_desc" => {
                let desc = name == "sort_desc";
                let mut v = self.vector_arg(arg(0)?)?;
                for vec in &mut v {
                    vec.sort_by(|a, b| value_order(a.v, b.v, desc));
                }
                Ok(Val::Vector(v))
            }
            "sort_by_label" | "sort_by_label_desc" => {
                let desc = name == "sort_by_label_desc";
                let mut v = self.vector_arg(arg(0)?)?;
                let mut names = Vec::new();
                for a in args.get(1..).unwrap_or(&[]) {
                    names.push(self.string_arg(a)?);
                }
                for vec in &mut v {
                    vec.sort_by(|a, b| {
                        let mut c = std::cmp::Ordering::Equal;
                        for l in &names {
                            c = natural_cmp(
                                a.labels.get(l).unwrap_or(""),
                                b.labels.get(l).unwrap_or(""),
                            );
                            if c != std::cmp::Ordering::Equal {
                                break;
                            }
                        }
                        let c = c.then_with(|| cmp_labels(&a.labels, &b.labels));
                        if desc { c.reverse() } else { c }
                    });
                }
                Ok(Val::Vector(v))
            }
            "label_replace" => {
                let v = self.vector_arg(arg(0)?)?;
                let dst = self.string_arg(arg(1)?)?;
                let repl = self.string_arg(arg(2)?)?;
                let src = self.string_arg(arg(3)?)?;
                let re_s = self.string_arg(arg(4)?)?;
                let re = regex::Regex::new(&format!("^(?s:{re_s})$")).map_err(|e| {
                    Error::Execution(format!(
                        "invalid regular expression in label_replace(): {re_s}: {e}"
                    ))
                })?;
                if !valid_label_name(&dst) {
                    return Err(Error::Execution(format!(
                        "invalid destination label name in label_replace(): {dst}"
                    )));
                }
                let renames = dst == "__name__";
                self.relabel(v, renames, |l| {
                    label::label_replace(l, &dst, &repl, &src, &re)
                })
            }
            "label_join" => {
                let v = self.vector_arg(arg(0)?)?;
                let dst = self.string_arg(arg(1)?)?;
                let sep = self.string_arg(arg(2)?)?;
                let mut srcs = Vec::new();
                for a in args.get(3..).unwrap_or(&[]) {
                    srcs.push(self.string_arg(a)?);
                }
                if !valid_label_name(&dst) {
                    return Err(Error::Execution(format!(
                        "invalid destination label name in label_join(): {dst}"
                    )));
                }
                let renames = dst == "__name__";
                self.relabel(v, renames, |l| label::label_join(l, &dst, &sep, &srcs))
            }
            "clamp" => {
                let v = self.vector_arg(arg(0)?)?;
                let lo = self.scalar_arg(arg(1)?)?;
                let hi = self.scalar_arg(arg(2)?)?;
                let mut v = v;
                for (i, vec) in v.iter_mut().enumerate() {
                    if hi[i] < lo[i] {
                        vec.clear();
                    }
                }
                self.map_vector(v, |x, i| go_max(lo[i], go_min(hi[i], x)))
            }
            "clamp_min" => {
                let v = self.vector_arg(arg(0)?)?;
                let lo = self.scalar_arg(arg(1)?)?;
                self.map_vector(v, |x, i| go_max(lo[i], x))
            }
            "clamp_max" => {
                let v = self.vector_arg(arg(0)?)?;
                let hi = self.scalar_arg(arg(1)?)?;
                self.map_vector(v, |x, i| go_min(hi[i], x))
            }
            "round" => {
                let v = self.vector_arg(arg(0)?)?;
                let to = match args.get(1) {
                    Some(a) => self.scalar_arg(a)?,
                    None => vec![1.0; n],
                };
                self.map_vector(v, |x, i| math::round(x, to[i]))
            }
            "minute" | "hour" | "day_of_month" | "day_of_week" | "day_of_year"
            | "days_in_month" | "month" | "year" => {
                let f = time::date_function(name)
                    .ok_or_else(|| Error::Execution(format!("unknown date function {name}")))?;
                if args.is_empty() {
                    let v: Vec<Vec<Smp>> = (0..n)
                        .map(|i| {
                            vec![Smp {
                                labels: Arc::new(Labels::empty()),
                                v: f(self.ts(i) as f64 / 1000.0),
                                drop_name: false,
                            }]
                        })
                        .collect();
                    return Ok(Val::Vector(v));
                }
                let v = self.vector_arg(arg(0)?)?;
                self.map_vector(v, |x, _| f(x))
            }
            "histogram_quantile" => {
                let q = self.scalar_arg(arg(0)?)?;
                let v = self.vector_arg(arg(1)?)?;
                self.histogram_quantile(&q, v)
            }
            "histogram_fraction" => {
                let lo = self.scalar_arg(arg(0)?)?;
                let hi = self.scalar_arg(arg(1)?)?;
                let v = self.vector_arg(arg(2)?)?;
                self.classic_buckets(v, |i, b| bucket_fraction(lo[i], hi[i], b))
            }
            "histogram_avg" | "histogram_count" | "histogram_sum" | "histogram_stddev"
            | "histogram_stdvar" => {
                // Native histograms are not stored yet: float samples give no output.
                for a in &args {
                    self.eval(a)?;
                }
                Ok(Val::Vector(vec![Vec::new(); n]))
            }
            "info" => {
                // Without info metrics joined, `info` returns its input unchanged.
                let v = self.vector_arg(arg(0)?)?;
                Ok(Val::Vector(v))
            }
            _ => {
                if let Some(f) = math::simple(name) {
                    let v = self.vector_arg(arg(0)?)?;
                    return self.map_vector(v, |x, _| f(x));
                }
                self.eval_range_function(name, &args)
            }
        }
    }

    /// Applies `f` to every sample's labels; `renames` (the destination is `__name__`)
    /// keeps the new name even when the old one was to be dropped.
    fn relabel(
        &mut self,
        v: Vec<Vec<Smp>>,
        renames: bool,
        f: impl Fn(&Labels) -> Labels,
    ) -> Result<Val> {
        let mut out = Vec::with_capacity(v.len());
        for vec in v {
            let mut res = Vec::with_capacity(vec.len());
            for s in vec {
                let labels = f(&s.labels);
                let drop_name = s.drop_name && !renames;
                res.push(Smp {
                    labels: Arc::new(labels),
                    drop_name,
                    ..s
                });
            }
            Evaluator::check_duplicates(&res)?;
            out.push(res);
        }
        Ok(Val::Vector(out))
    }

    fn histogram_quantile(&mut self, q: &[f64], v: Vec<Vec<Smp>>) -> Result<Val> {
        for &qi in q {
            if qi.is_nan() || !(0.0..=1.0).contains(&qi) {
                self.annos.warn(format!(
                    "quantile value should be between 0 and 1, got {}",
                    format_float(qi).trim_start_matches('+')
                ));
            }
        }
        self.classic_buckets(v, |i, buckets| {
            let qi = q.get(i).copied().unwrap_or(f64::NAN);
            quantile::bucket_quantile(qi, buckets)
        })
    }

    /// Groups classic `le` buckets per step by their other labels (the name included) and
    /// computes `f` over each group's buckets.
    fn classic_buckets(
        &mut self,
        v: Vec<Vec<Smp>>,
        f: impl Fn(usize, &mut [quantile::Bucket]) -> (f64, quantile::BucketQuantileFixes),
    ) -> Result<Val> {
        let mut out = Vec::with_capacity(v.len());
        for (i, vec) in v.into_iter().enumerate() {
            let mut index: std::collections::HashMap<Labels, usize> =
                std::collections::HashMap::new();
            let mut groups: Vec<(Labels, Vec<quantile::Bucket>, bool, String)> = Vec::new();
            for s in vec {
                let metric = s.labels.metric_name().unwrap_or("").to_string();
                let le = s.labels.get("le").unwrap_or("");
                let Some(ub) = parse_le(le) else {
                    self.annos.warn(format!(
                        "bucket label \"le\" is missing or has a malformed value of {le:?} for metric name {metric:?}"
                    ));
                    continue;
                };
                let without_le = Labels::from_sorted(
                    s.labels
                        .iter()
                        .filter(|l| l.name.as_str() != "le")
                        .cloned()
                        .collect(),
                );
                // Groups keep the metric name, so two histograms that differ only by
                // name collide in the output, as in Prometheus.
                let (out_labels, flag) = self.fn_labels(&without_le, s.drop_name);
                let gi = *index.entry(without_le).or_insert_with(|| {
                    groups.push((out_labels, Vec::new(), flag, metric.clone()));
                    groups.len() - 1
                });
                groups[gi].1.push(quantile::Bucket {
                    upper_bound: ub,
                    count: s.v,
                });
            }
            let mut res = Vec::with_capacity(groups.len());
            for (labels, mut buckets, flag, metric) in groups {
                let (val, fixes) = f(i, &mut buckets);
                if fixes.forced_monotonicity {
                    self.annos.info(format!(
                        "input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile) for metric name {metric:?}"
                    ));
                }
                res.push(Smp {
                    labels: Arc::new(labels),
                    v: val,
                    drop_name: flag,
                });
            }
            if !self.opts.delayed_name_removal {
                Evaluator::check_duplicates(&res)?;
            }
            out.push(res);
        }
        Ok(Val::Vector(out))
    }
}

/// The fraction of observations between `lower` and `upper` in classic buckets, as
/// Prometheus's `BucketFraction`.
fn bucket_fraction(
    lower: f64,
    upper: f64,
    buckets: &mut [quantile::Bucket],
) -> (f64, quantile::BucketQuantileFixes) {
    let none = quantile::BucketQuantileFixes::default();
    buckets.sort_by(|a, b| {
        a.upper_bound
            .partial_cmp(&b.upper_bound)
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let Some(last) = buckets.last() else {
        return (f64::NAN, none);
    };
    if last.upper_bound != f64::INFINITY {
        return (f64::NAN, none);
    }
    // Coalesce equal bounds. Prometheus 3.5 does not force monotonic counts here.
    let mut bs: Vec<(f64, f64)> = Vec::with_capacity(buckets.len());
    for b in buckets.iter() {
        match bs.last_mut() {
            Some(l) if l.0 == b.upper_bound => l.1 += b.count,
            _ => bs.push((b.upper_bound, b.count)),
        }
    }
    let count = bs.last().map_or(0.0, |b| b.1);
    if count == 0.0 || lower.is_nan() || upper.is_nan() {
        return (f64::NAN, none);
    }
    if lower >= upper {
        return (0.0, none);
    }
    let (mut rank, mut lower_rank, mut upper_rank) = (0.0, 0.0, 0.0);
    let (mut lower_set, mut upper_set) = (false, false);
    for (i, &(ub, cum)) in bs.iter().enumerate() {
        // Prometheus 3.5 takes the first bucket to start at -Inf, so a bound inside it
        // interpolates to NaN (later versions start positive buckets at 0).
        let lb = if i > 0 {
            bs[i - 1].0
        } else {
            f64::NEG_INFINITY
        };
        let n = cum - rank;
        if !lower_set && lb >= lower {
            lower_rank = rank;
            lower_set = true;
        }
        if !upper_set && lb >= upper {
            upper_rank = rank;
            upper_set = true;
        }
        if lower_set && upper_set {
            break;
        }
        let interpolate = |x: f64| rank + n * (x - lb) / (ub - lb);
        if !lower_set && lb < lower && ub > lower {
            lower_rank = interpolate(lower);
            lower_set = true;
        }
        if !upper_set && lb < upper && ub > upper {
            upper_rank = interpolate(upper);
            upper_set = true;
        }
        if lower_set && upper_set {
            break;
        }
        rank = cum;
    }
    if !lower_set || lower_rank > count {
        lower_rank = count;
    }
    if !upper_set || upper_rank > count {
        upper_rank = count;
    }
    ((upper_rank - lower_rank) / count, none)
}

/// Parses an `le` label value as Prometheus does (`+Inf`, floats).
fn parse_le(s: &str) -> Option<f64> {
    match s {
        "" => None,
        "+Inf" | "Inf" | "+inf" | "inf" => Some(f64::INFINITY),
        "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
        _ => s.parse::<f64>().ok(),
    }
}

/// Strips parentheses around an expression.
fn unwrap_parens(mut e: &Expr) -> &Expr {
    while let Expr::Paren(p) = e {
        e = &p.expr;
    }
    e
}
