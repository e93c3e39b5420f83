//! The evaluator: walks the AST once for the whole query range and produces one value per
//! step; selectors, offsets, `@` and subqueries live here.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Instant, SystemTime};

use promql_parser::parser::{
    AtModifier, Expr, MatrixSelector, Offset, SubqueryExpr, VectorSelector, token,
};
use tsdb::labels::{Label, Labels};
use tsdb::storage::{Queryable, SelectHints, Series, SeriesSet};

use std::collections::hash_map::Entry;

use crate::engine::hash::{FastMap, xxhash64};
use crate::engine::{EngineOptions, QueryContext};
use crate::error::{Error, Result};

/// The bit pattern of Prometheus's staleness marker.
pub(crate) const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// Whether `v` is a staleness marker.
pub(crate) fn is_stale(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

/// One element of an instant vector at one step.
///
/// The labels are shared: every step's sample of one series points at the same
/// `Arc<Labels>`, so producing a sample per step does not allocate, and per-series work
/// (group keys, duplicate checks) can be cached by the `Arc`'s address.
#[derive(Debug, Clone)]
pub(crate) struct Smp {
    /// The labels.
    pub(crate) labels: Arc<Labels>,
    /// The value.
    pub(crate) v: f64,
    /// `__name__` is to be removed at the end (delayed name removal).
    pub(crate) drop_name: bool,
}

/// One series of a range vector: all its points over the query's range.
#[derive(Debug, Clone)]
pub(crate) struct RangeSeries {
    /// The labels.
    pub(crate) labels: Labels,
    /// Points in time order, stale markers removed.
    pub(crate) points: Vec<(i64, f64)>,
    /// `__name__` is to be removed at the end.
    pub(crate) drop_name: bool,
}

/// A range vector over all steps: step `i` sees the points in `(ends[i] - range, ends[i]]`.
#[derive(Debug, Clone)]
pub(crate) struct RangeVal {
    /// The series.
    pub(crate) series: Vec<RangeSeries>,
    /// The window length in ms.
    pub(crate) range: i64,
    /// The window end of each step.
    pub(crate) ends: Vec<i64>,
}

impl RangeVal {
    /// The points of series `s` in the window of step `i`.
    pub(crate) fn window(&self, s: usize, i: usize) -> &[(i64, f64)] {
        window(&self.series[s].points, self.ends[i], self.range)
    }
}

/// Reads a series' float points in `[mint, maxt]`.
pub(crate) fn load_points(s: &dyn Series, mint: i64, maxt: i64) -> Result<Vec<(i64, f64)>> {
    let mut points = Vec::new();
    load_points_into(s, mint, maxt, &mut points)?;
    Ok(points)
}

/// [`load_points`] into a reused buffer (cleared first), through [`Series::read_floats`]
/// (the head and blocks decode their chunks in one loop there).
pub(crate) fn load_points_into(
    s: &dyn Series,
    mint: i64,
    maxt: i64,
    points: &mut Vec<(i64, f64)>,
) -> Result<()> {
    points.clear();
    s.read_floats(mint, maxt, points)
        .map_err(|e| Error::Execution(e.to_string()))
}

/// An instant selector's value at each step: the newest point at or before the step's
/// effective time `eff[i]` and after `eff[i] - lookback`, unless it is a staleness marker
/// (`want_ts`: its timestamp in seconds instead of its value). Calls `emit(step, value)`.
///
/// While the effective times do not decrease (always, unless `@` pins them) one cursor
/// moves forward through the points; otherwise each step binary-searches.
pub(crate) fn instant_values(
    pts: &[(i64, f64)],
    eff: &[i64],
    lookback: i64,
    want_ts: bool,
    mut emit: impl FnMut(usize, f64),
) {
    let forward = eff.windows(2).all(|w| w[0] <= w[1]);
    let mut idx = 0;
    for (i, &t) in eff.iter().enumerate() {
        if forward {
            while idx < pts.len() && pts[idx].0 <= t {
                idx += 1;
            }
        } else {
            idx = pts.partition_point(|p| p.0 <= t);
        }
        if idx == 0 {
            continue;
        }
        let (pt, v) = pts[idx - 1];
        if pt <= t.saturating_sub(lookback) || is_stale(v) {
            continue;
        }
        emit(i, if want_ts { pt as f64 / 1000.0 } else { v });
    }
}

/// The points in `(end - range, end]`.
pub(crate) fn window(pts: &[(i64, f64)], end: i64, range: i64) -> &[(i64, f64)] {
    let lo = pts.partition_point(|p| p.0 <= end.saturating_sub(range));
    let hi = pts.partition_point(|p| p.0 <= end);
    &pts[lo..hi.max(lo)]
}

/// The value of an expression over all steps.
#[derive(Debug, Clone)]
pub(crate) enum Val {
    /// One float per step.
    Scalar(Vec<f64>),
    /// A string (the same at every step).
    Str(String),
    /// One instant vector per step.
    Vector(Vec<Vec<Smp>>),
    /// A range vector.
    Range(RangeVal),
}

/// Collected annotations, deduplicated, in insertion order.
#[derive(Debug, Default)]
pub(crate) struct Annotations {
    seen: HashSet<String>,
    /// Warnings.
    pub(crate) warnings: Vec<String>,
    /// Infos.
    pub(crate) infos: Vec<String>,
}

impl Annotations {
    /// Adds `PromQL warning: <msg>`.
    pub(crate) fn warn(&mut self, msg: String) {
        let s = format!("PromQL warning: {msg}");
        if self.seen.insert(s.clone()) {
            self.warnings.push(s);
        }
    }
    /// Adds `PromQL info: <msg>`.
    pub(crate) fn info(&mut self, msg: String) {
        let s = format!("PromQL info: {msg}");
        if self.seen.insert(s.clone()) {
            self.infos.push(s);
        }
    }
}

/// A callback over one streamed series: the evaluator, the series, the window end of
/// each step and the range.
pub(crate) type SeriesFn<'f, 'a> =
    dyn FnMut(&mut Evaluator<'a>, &RangeSeries, &[i64], i64) -> Result<()> + 'f;

/// Evaluation state for one query.
pub(crate) struct Evaluator<'a> {
    storage: &'a dyn Queryable,
    pub(crate) opts: &'a EngineOptions,
    ctx: &'a QueryContext,
    deadline: Instant,
    /// The query's start (for `@ start()`).
    pub(crate) query_start: i64,
    /// The query's end (for `@ end()`).
    pub(crate) query_end: i64,
    /// First step of the current (sub)evaluation.
    pub(crate) start: i64,
    /// Last step of the current (sub)evaluation.
    pub(crate) end: i64,
    /// Step of the current (sub)evaluation (> 0).
    pub(crate) interval: i64,
    samples: usize,
    /// Annotations collected so far.
    pub(crate) annos: Annotations,
    /// Whether foldable aggregations may take the series-major path (tests turn it off
    /// to compare it with the general path).
    pub(crate) series_major: bool,
    /// Selections of at least this many series are split over two threads.
    pub(crate) parallel_min_series: usize,
}

impl std::fmt::Debug for Evaluator<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Evaluator")
            .field("start", &self.start)
            .field("end", &self.end)
            .field("interval", &self.interval)
            .finish()
    }
}

/// The query's cancel flag and deadline, checkable from any thread.
#[derive(Debug, Clone)]
pub(crate) struct StopCheck {
    cancel: Arc<std::sync::atomic::AtomicBool>,
    deadline: Instant,
}

impl StopCheck {
    /// Fails when the query is cancelled or past its deadline.
    pub(crate) fn check(&self, env: &'static str) -> Result<()> {
        if self.cancel.load(Ordering::Relaxed) {
            return Err(Error::Canceled(env));
        }
        if Instant::now() > self.deadline {
            return Err(Error::Timeout(env));
        }
        Ok(())
    }
}

/// Milliseconds of a parser duration.
pub(crate) fn dur_ms(d: &std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn offset_ms(o: &Option<Offset>) -> i64 {
    match o {
        None => 0,
        Some(Offset::Pos(d)) => dur_ms(d),
        Some(Offset::Neg(d)) => -dur_ms(d),
    }
}

/// Compares label sets as Prometheus's `labels.Compare`.
pub(crate) fn cmp_labels(a: &Labels, b: &Labels) -> std::cmp::Ordering {
    for (x, y) in a.iter().zip(b.iter()) {
        let c = x
            .name
            .as_str()
            .cmp(y.name.as_str())
            .then_with(|| x.value.as_str().cmp(y.value.as_str()));
        if c != std::cmp::Ordering::Equal {
            return c;
        }
    }
    a.len().cmp(&b.len())
}

/// The labels without `__name__` (and `__type__`/`__unit__`, which go with it).
pub(crate) fn drop_metric_name(l: &Labels) -> Labels {
    if !l.iter().any(|x| is_name_label(x.name.as_str())) {
        return l.clone();
    }
    Labels::from_sorted(
        l.iter()
            .filter(|x| !is_name_label(x.name.as_str()))
            .cloned()
            .collect(),
    )
}

/// [`drop_metric_name`] for shared labels, once per distinct input: the samples of one
/// series at every step get one shared result.
#[derive(Debug, Default)]
pub(crate) struct NameDropper {
    /// Input address → (input, kept alive so the address is not reused; result).
    done: FastMap<usize, (Arc<Labels>, Arc<Labels>)>,
}

impl NameDropper {
    /// The labels without `__name__`: the same `Arc` when there is nothing to drop.
    pub(crate) fn drop_name(&mut self, l: &Arc<Labels>) -> Arc<Labels> {
        if !l.iter().any(|x| is_name_label(x.name.as_str())) {
            return Arc::clone(l);
        }
        let (_, out) = self
            .done
            .entry(Arc::as_ptr(l) as usize)
            .or_insert_with(|| (Arc::clone(l), Arc::new(drop_metric_name(l))));
        Arc::clone(out)
    }
}

fn is_name_label(n: &str) -> bool {
    n == "__name__" || n == "__type__" || n == "__unit__"
}

/// The labels with `name` set to `value` (removed when `value` is empty).
pub(crate) fn set_label(l: &Labels, name: &str, value: &str) -> Labels {
    let mut v: Vec<Label> = l
        .iter()
        .filter(|x| x.name.as_str() != name)
        .cloned()
        .collect();
    if !value.is_empty() {
        v.push(Label::new(name, value));
    }
    Labels::new(v)
}

impl<'a> Evaluator<'a> {
    /// A new evaluator over `[start, end]` with `interval`.
    pub(crate) fn new(
        storage: &'a dyn Queryable,
        opts: &'a EngineOptions,
        ctx: &'a QueryContext,
        start: i64,
        end: i64,
        interval: i64,
    ) -> Self {
        let deadline = ctx
            .deadline
            .unwrap_or_else(|| Instant::now() + opts.timeout);
        Evaluator {
            storage,
            opts,
            ctx,
            deadline,
            query_start: start,
            query_end: end,
            start,
            end,
            interval: interval.max(1),
            samples: 0,
            annos: Annotations::default(),
            series_major: true,
            parallel_min_series: crate::engine::series_major::PARALLEL_MIN_SERIES,
        }
    }

    /// The number of steps.
    pub(crate) fn steps(&self) -> usize {
        usize::try_from((self.end - self.start) / self.interval + 1).unwrap_or(0)
    }

    /// The timestamp of step `i`.
    pub(crate) fn ts(&self, i: usize) -> i64 {
        self.start + self.interval * i as i64
    }

    /// Fails when the query is cancelled or past its deadline.
    pub(crate) fn check(&self, env: &'static str) -> Result<()> {
        if self.ctx.cancel.load(Ordering::Relaxed) {
            return Err(Error::Canceled(env));
        }
        if Instant::now() > self.deadline {
            return Err(Error::Timeout(env));
        }
        Ok(())
    }

    /// Accounts for `n` more samples held.
    pub(crate) fn add_samples(&mut self, n: usize) -> Result<()> {
        self.samples = self.samples.saturating_add(n);
        if self.samples > self.opts.max_samples {
            return Err(Error::TooManySamples("query execution"));
        }
        Ok(())
    }

    /// Stops counting `n` samples (no longer held).
    pub(crate) fn release_samples(&mut self, n: usize) {
        self.samples = self.samples.saturating_sub(n);
    }

    /// The remaining room under the sample limit.
    pub(crate) fn samples_left(&self) -> usize {
        self.opts.max_samples.saturating_sub(self.samples)
    }

    /// A copy of [`Evaluator::check`] for other threads.
    pub(crate) fn stop_check(&self) -> StopCheck {
        StopCheck {
            cancel: Arc::clone(&self.ctx.cancel),
            deadline: self.deadline,
        }
    }

    /// Evaluates `expr` over the current steps.
    ///
    /// The samples of intermediate results count against the limit only while they are
    /// alive: once a node is evaluated, its children's samples are released and its own
    /// result's samples are counted.
    pub(crate) fn eval(&mut self, expr: &Expr) -> Result<Val> {
        self.check("expression evaluation")?;
        let before = self.samples;
        let v = self.eval_node(expr)?;
        if !matches!(
            expr,
            Expr::VectorSelector(_) | Expr::MatrixSelector(_) | Expr::Paren(_)
        ) {
            self.samples = before;
            self.add_samples(val_size(&v))?;
        }
        Ok(v)
    }

    fn eval_node(&mut self, expr: &Expr) -> Result<Val> {
        match expr {
            Expr::NumberLiteral(n) => Ok(Val::Scalar(vec![n.val; self.steps()])),
            Expr::StringLiteral(s) => Ok(Val::Str(s.val.clone())),
            Expr::Paren(p) => self.eval(&p.expr),
            Expr::Unary(u) => match self.eval(&u.expr)? {
                Val::Scalar(v) => Ok(Val::Scalar(v.into_iter().map(|x| -x).collect())),
                // Like any arithmetic, negation drops the metric name.
                Val::Vector(steps) => self.map_vector(steps, |v, _| -v),
                _ => Err(Error::Execution(
                    "unary expression only allowed on expressions of type scalar or vector".into(),
                )),
            },
            Expr::VectorSelector(vs) => self.eval_vector_selector(vs),
            Expr::MatrixSelector(ms) => self.eval_matrix_selector(ms),
            Expr::Subquery(sq) => self.eval_subquery(sq),
            Expr::Binary(b) => self.eval_binary(b),
            Expr::Aggregate(a) => self.eval_aggregate(a),
            Expr::Call(c) => self.eval_call(c),
            Expr::Extension(_) => Err(Error::Execution("unsupported expression".into())),
        }
    }

    /// The effective (selector) time of each step: `@` pins it, `offset` shifts it.
    pub(crate) fn eff_times(&self, at: &Option<AtModifier>, offset: &Option<Offset>) -> Vec<i64> {
        let off = offset_ms(offset);
        let pinned = at.as_ref().map(|a| match a {
            AtModifier::Start => self.query_start,
            AtModifier::End => self.query_end,
            AtModifier::At(t) => match t.duration_since(SystemTime::UNIX_EPOCH) {
                Ok(d) => dur_ms(&d),
                Err(e) => -dur_ms(&e.duration()),
            },
        });
        (0..self.steps())
            .map(|i| pinned.unwrap_or_else(|| self.ts(i)).saturating_sub(off))
            .collect()
    }

    /// Selects the series of `vs` with samples in `[mint, maxt]`, all points loaded.
    fn select(
        &mut self,
        vs: &VectorSelector,
        mint: i64,
        maxt: i64,
        range: i64,
    ) -> Result<Vec<RangeSeries>> {
        let mut out = Vec::new();
        self.select_each(vs, mint, maxt, range, &mut |_, s| {
            out.push(s);
            Ok(())
        })?;
        Ok(out)
    }

    /// Selects the series of `vs` with samples in `[mint, maxt]` and hands each one, with
    /// its points loaded, to `f`.
    fn select_each(
        &mut self,
        vs: &VectorSelector,
        mint: i64,
        maxt: i64,
        range: i64,
        f: &mut dyn FnMut(&mut Self, RangeSeries) -> Result<()>,
    ) -> Result<()> {
        let set = self.select_series(vs, mint, maxt, range)?;
        for s in set {
            self.check("expression evaluation")?;
            let s = s?;
            let points = load_points(&*s, mint, maxt)?;
            if points.is_empty() {
                continue;
            }
            f(
                self,
                RangeSeries {
                    labels: s.labels().clone(),
                    points,
                    drop_name: false,
                },
            )?;
        }
        Ok(())
    }

    /// The series of `vs` over `[mint, maxt]`, unread (`range` is the selector's range,
    /// a hint for storage).
    pub(crate) fn select_series(
        &mut self,
        vs: &VectorSelector,
        mint: i64,
        maxt: i64,
        range: i64,
    ) -> Result<Box<dyn SeriesSet>> {
        let ms = super::selector_matchers(vs)?;
        let hints = SelectHints {
            start: mint,
            end: maxt,
            step: self.interval,
            range,
            ..Default::default()
        };
        let storage = self.storage;
        let querier = storage.querier(mint, maxt)?;
        Ok(querier.select(false, Some(&hints), &ms)?)
    }

    /// Streams the series of a range selector one at a time: each is loaded (stale
    /// markers dropped), counted against the sample limit while `f` uses it, then freed.
    /// `f` gets the series, the window end of each step and the range.
    pub(crate) fn stream_matrix(
        &mut self,
        ms: &MatrixSelector,
        f: &mut SeriesFn<'_, 'a>,
    ) -> Result<()> {
        let eff = self.eff_times(&ms.vs.at, &ms.vs.offset);
        let range = dur_ms(&ms.range);
        let (Some(&lo), Some(&hi)) = (eff.iter().min(), eff.iter().max()) else {
            return Ok(());
        };
        self.select_each(
            &ms.vs,
            lo.saturating_sub(range).saturating_add(1),
            hi,
            range,
            &mut |ev, mut s| {
                s.points.retain(|p| !is_stale(p.1));
                if s.points.is_empty() {
                    return Ok(());
                }
                let n = s.points.len();
                ev.add_samples(n)?;
                let r = f(ev, &s, &eff, range);
                ev.samples = ev.samples.saturating_sub(n);
                r
            },
        )
    }

    fn eval_vector_selector(&mut self, vs: &VectorSelector) -> Result<Val> {
        Ok(Val::Vector(self.select_instant(vs, false)?))
    }

    /// `timestamp(selector)`: the timestamps (in seconds) of the selected samples.
    pub(crate) fn eval_vector_selector_ts(&mut self, vs: &VectorSelector) -> Result<Vec<Vec<Smp>>> {
        self.select_instant(vs, true)
    }

    fn select_instant(&mut self, vs: &VectorSelector, want_ts: bool) -> Result<Vec<Vec<Smp>>> {
        let eff = self.eff_times(&vs.at, &vs.offset);
        let n = eff.len();
        let (Some(&lo), Some(&hi)) = (eff.iter().min(), eff.iter().max()) else {
            return Ok(Vec::new());
        };
        let lookback = self.opts.lookback_delta;
        // One series at a time: only the per-step outputs are held (and counted), as in
        // Prometheus, not every raw sample in the query range.
        let mut out: Vec<Vec<Smp>> = (0..n).map(|_| Vec::new()).collect();
        let mut seen = 0usize;
        self.select_each(
            vs,
            lo.saturating_sub(lookback).saturating_add(1),
            hi,
            0,
            &mut |ev, s| {
                if seen.is_multiple_of(256) {
                    ev.check("expression evaluation")?;
                }
                seen += 1;
                let labels = Arc::new(s.labels);
                let mut held = 0;
                instant_values(&s.points, &eff, lookback, want_ts, |i, v| {
                    out[i].push(Smp {
                        labels: Arc::clone(&labels),
                        v,
                        drop_name: false,
                    });
                    held += 1;
                });
                ev.add_samples(held)
            },
        )?;
        Ok(out)
    }

    fn eval_matrix_selector(&mut self, ms: &MatrixSelector) -> Result<Val> {
        let eff = self.eff_times(&ms.vs.at, &ms.vs.offset);
        let range = dur_ms(&ms.range);
        let (Some(&lo), Some(&hi)) = (eff.iter().min(), eff.iter().max()) else {
            return Ok(Val::Range(RangeVal {
                series: Vec::new(),
                range,
                ends: eff,
            }));
        };
        let mut series = self.select(
            &ms.vs,
            lo.saturating_sub(range).saturating_add(1),
            hi,
            range,
        )?;
        let mut total = 0;
        for s in &mut series {
            s.points.retain(|p| !is_stale(p.1));
            total += s.points.len();
        }
        series.retain(|s| !s.points.is_empty());
        self.add_samples(total)?;
        Ok(Val::Range(RangeVal {
            series,
            range,
            ends: eff,
        }))
    }

    fn eval_subquery(&mut self, sq: &SubqueryExpr) -> Result<Val> {
        let eff = self.eff_times(&sq.at, &sq.offset);
        let range = dur_ms(&sq.range);
        let step = sq
            .step
            .as_ref()
            .map(dur_ms)
            .filter(|s| *s > 0)
            .unwrap_or(self.opts.default_subquery_step)
            .max(1);
        let (Some(&lo), Some(&hi)) = (eff.iter().min(), eff.iter().max()) else {
            return Ok(Val::Range(RangeVal {
                series: Vec::new(),
                range,
                ends: eff,
            }));
        };
        // The first step-aligned time after `lo - range`, as Prometheus aligns subqueries.
        let first = lo.saturating_sub(range);
        let mut sub_start = first.div_euclid(step) * step;
        if sub_start <= first {
            sub_start = sub_start.saturating_add(step);
        }
        let saved = (self.start, self.end, self.interval);
        if sub_start > hi {
            return Ok(Val::Range(RangeVal {
                series: Vec::new(),
                range,
                ends: eff,
            }));
        }
        let sub_steps = (hi - sub_start) / step + 1;
        if usize::try_from(sub_steps).map_or(true, |n| n > self.opts.max_samples) {
            return Err(Error::TooManySamples("query execution"));
        }
        self.start = sub_start;
        self.end = hi;
        self.interval = step;
        let inner = self.eval(&sq.expr);
        let steps: Vec<i64> = (0..self.steps()).map(|i| self.ts(i)).collect();
        (self.start, self.end, self.interval) = saved;
        let series = match inner? {
            Val::Vector(v) => self.vector_to_series(v, &steps),
            Val::Scalar(v) => {
                let points: Vec<(i64, f64)> = steps.iter().copied().zip(v).collect();
                vec![RangeSeries {
                    labels: Labels::empty(),
                    points,
                    drop_name: false,
                }]
            }
            _ => {
                return Err(Error::Execution(
                    "subquery is only allowed on instant vector or scalar".into(),
                ));
            }
        };
        Ok(Val::Range(RangeVal {
            series,
            range,
            ends: eff,
        }))
    }

    /// Turns per-step vectors into series (in first-seen order).
    pub(crate) fn vector_to_series(&mut self, v: Vec<Vec<Smp>>, steps: &[i64]) -> Vec<RangeSeries> {
        // Samples of one series usually share one `Arc`: look it up by address first (the
        // `Arc` is kept in `by_addr`, so the address is not reused); otherwise keyed by the
        // label hash, equal hashes told apart by comparing labels.
        let mut by_addr: FastMap<usize, (Arc<Labels>, usize)> = FastMap::default();
        let mut idx: HashMap<u64, Vec<usize>> = HashMap::new();
        let mut out: Vec<RangeSeries> = Vec::new();
        let mut buf = Vec::with_capacity(256);
        for (i, vec) in v.into_iter().enumerate() {
            let t = steps[i];
            for s in vec {
                let addr = Arc::as_ptr(&s.labels) as usize;
                if let Some(&(_, j)) = by_addr.get(&addr) {
                    out[j].points.push((t, s.v));
                    continue;
                }
                buf.clear();
                for l in s.labels.iter() {
                    buf.extend_from_slice(l.name.as_bytes());
                    buf.push(0xff);
                    buf.extend_from_slice(l.value.as_bytes());
                    buf.push(0xff);
                }
                let h = xxhash64(&buf);
                let slot = idx.entry(h).or_default();
                let j = match slot.iter().find(|&&j| out[j].labels == *s.labels) {
                    Some(&j) => {
                        out[j].points.push((t, s.v));
                        j
                    }
                    None => {
                        slot.push(out.len());
                        out.push(RangeSeries {
                            labels: (*s.labels).clone(),
                            points: vec![(t, s.v)],
                            drop_name: s.drop_name,
                        });
                        out.len() - 1
                    }
                };
                by_addr.insert(addr, (s.labels, j));
            }
        }
        out
    }

    /// Fails when one step holds two samples with the same labels.
    pub(crate) fn check_duplicates(vec: &[Smp]) -> Result<()> {
        if vec.len() < 2 {
            return Ok(());
        }
        if !has_duplicates(vec.iter().filter(|s| !s.drop_name).map(|s| &s.labels)) {
            return Ok(());
        }
        Err(Error::Execution(
            "vector cannot contain metrics with the same labelset".into(),
        ))
    }
}

/// Whether two of `labels` are equal: keyed by `Labels::hash_value` (FxHash), with a full
/// comparison when hashes meet; the same `Arc` twice counts as a duplicate.
pub(crate) fn has_duplicates<'l>(labels: impl Iterator<Item = &'l Arc<Labels>>) -> bool {
    let mut seen: FastMap<u64, &'l Arc<Labels>> = FastMap::default();
    let mut collided: Vec<&'l Arc<Labels>> = Vec::new();
    for l in labels {
        match seen.entry(l.hash_value()) {
            Entry::Vacant(e) => {
                e.insert(l);
            }
            Entry::Occupied(e) => {
                let prev: &Arc<Labels> = e.get();
                if Arc::ptr_eq(prev, l) || **prev == **l {
                    return true;
                }
                // A hash collision between different label sets: compare with the
                // other colliders (rare, so a linear scan).
                if collided
                    .iter()
                    .any(|&c| c.hash_value() == l.hash_value() && **c == **l)
                {
                    return true;
                }
                collided.push(l);
            }
        }
    }
    false
}

/// The number of samples a value holds.
fn val_size(v: &Val) -> usize {
    match v {
        Val::Scalar(_) | Val::Str(_) => 0,
        Val::Vector(steps) => steps.iter().map(Vec::len).sum(),
        Val::Range(r) => r.series.iter().map(|s| s.points.len()).sum(),
    }
}

/// Whether `op` is a comparison operator.
pub(crate) fn is_comparison(op: token::TokenType) -> bool {
    op.is_comparison_operator()
}
