//! Series-major evaluation of `aggregation(selector)` and
//! `aggregation(range_function(range selector))` for the aggregations that fold (`sum avg
//! count group min max stddev stdvar`).
//!
//! The general path materialises the argument as one vector per step and then aggregates
//! step by step. Here each selected series is read once, its value at every step is
//! computed by the same kernels ([`instant_values`], [`range_values`]) and folded straight
//! into one accumulator per group and step ([`Acc`], the fold the general path uses),
//! with the group computed once per series. Nothing per step and per series is allocated.
//!
//! Results are bit-identical to the general path: each accumulator receives its samples
//! in the general path's order (series in selection order), and every step's groups are
//! listed in the order the general path would create them (by the first series that
//! contributes at that step). Samples are counted against the limit as the general path
//! holds them, so the same queries hit `max_samples`.
//!
//! Large selections are split in two halves evaluated on two threads: the second half's
//! per-series values are computed into a buffer and folded after the first half, in series
//! order, so the parallel result is the sequential one.

use std::collections::hash_map::Entry;
use std::sync::Arc;

use promql_parser::parser::token::{
    T_AVG, T_COUNT, T_GROUP, T_MAX, T_MIN, T_STDDEV, T_STDVAR, T_SUM,
};
use promql_parser::parser::{AggregateExpr, Expr, LabelModifier, VectorSelector};
use tsdb::labels::{Label, Labels, Symbol, hash_pairs};
use tsdb::storage::Series;

use crate::engine::aggregate::{Acc, in_group_key};
use crate::engine::eval::{
    Evaluator, Smp, Val, drop_metric_name, dur_ms, has_duplicates, instant_values, is_stale,
    load_points_into,
};
use crate::engine::hash::FastMap;
use crate::engine::range_functions::{not_a_counter, range_values};
use crate::error::Result;

/// Range functions of one range-selector argument that the series-major path evaluates.
const RANGE_FUNCTIONS: &[&str] = &[
    "rate",
    "increase",
    "delta",
    "irate",
    "idelta",
    "changes",
    "resets",
    "deriv",
    "avg_over_time",
    "sum_over_time",
    "count_over_time",
    "min_over_time",
    "max_over_time",
    "stddev_over_time",
    "stdvar_over_time",
    "present_over_time",
    "last_over_time",
];

/// Aggregations whose per-group state is an [`Acc`].
const FOLDING: &[u16] = &[
    T_SUM, T_AVG, T_COUNT, T_GROUP, T_MIN, T_MAX, T_STDDEV, T_STDVAR,
];

/// Selections with at least this many series are split over two threads.
pub(crate) const PARALLEL_MIN_SERIES: usize = 1_000;

/// The most values the second thread buffers (16 bytes each).
const PARALLEL_MAX_BUFFERED: usize = 8_000_000;

/// Where an aggregation's input comes from.
#[derive(Debug, Clone, Copy)]
enum Source<'e> {
    /// An instant selector.
    Instant(&'e VectorSelector),
    /// A range function over a range selector of `range` ms.
    Range {
        func: &'static str,
        vs: &'e VectorSelector,
        range: i64,
    },
}

impl<'e> Source<'e> {
    /// The source of `expr` if the series-major path can evaluate it.
    fn of(expr: &'e Expr) -> Option<Self> {
        match expr {
            Expr::Paren(p) => Source::of(&p.expr),
            Expr::VectorSelector(vs) => Some(Source::Instant(vs)),
            Expr::Call(c) if RANGE_FUNCTIONS.contains(&c.func.name) && c.args.args.len() == 1 => {
                match c.args.args[0].as_ref() {
                    Expr::MatrixSelector(ms) => Some(Source::Range {
                        func: c.func.name,
                        vs: &ms.vs,
                        range: dur_ms(&ms.range),
                    }),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    fn selector(&self) -> &'e VectorSelector {
        match *self {
            Source::Instant(vs) | Source::Range { vs, .. } => vs,
        }
    }

    /// Whether the source's output labels lose `__name__`.
    fn drops_name(&self) -> bool {
        matches!(self, Source::Range { func, .. } if *func != "last_over_time")
    }
}

/// What one series contributes besides its values, computed without the evaluator (so
/// on any thread).
#[derive(Debug, Default)]
struct SeriesValues {
    /// Points read (counted while the series is held).
    points: usize,
    /// Whether to flag the series' metric as maybe not a counter (a counter function saw
    /// a window of two or more points of a series whose name lacks a counter suffix).
    not_counter: NotCounter,
}

/// The second thread's output: every series' `(step, value)` pairs, in series and step
/// order, and per series what else it contributes and where its values end.
#[derive(Debug, Default)]
struct Buffered {
    values: Vec<(u32, f64)>,
    series: Vec<(SeriesValues, usize)>,
}

/// A series' "metric might not be a counter" info.
#[derive(Debug, Default)]
enum NotCounter {
    /// None.
    #[default]
    No,
    /// The selection's one metric name ([`Kernel::uniform_not_counter`]).
    Uniform,
    /// This metric.
    Metric(String),
}

/// The per-series part of the evaluation: everything a worker thread needs.
#[derive(Debug, Clone, Copy)]
struct Kernel<'k> {
    source: Source<'k>,
    eff: &'k [i64],
    mint: i64,
    maxt: i64,
    lookback: i64,
    steps: (i64, i64),
    /// When every series has the same metric name: that name if a counter function
    /// should flag it (so the check is made once, not per series).
    uniform_not_counter: Option<Option<&'k str>>,
}

impl Kernel<'_> {
    /// Reads series `s` into `pts` (a buffer reused across series) and calls
    /// `emit(step, value)` for each of its outputs.
    fn run(
        &self,
        s: &dyn Series,
        pts: &mut Vec<(i64, f64)>,
        emit: impl FnMut(usize, f64),
    ) -> Result<SeriesValues> {
        load_points_into(s, self.mint, self.maxt, pts)?;
        let mut out = SeriesValues::default();
        match self.source {
            Source::Instant(_) => {
                instant_values(pts, self.eff, self.lookback, false, emit);
            }
            Source::Range { func, range, .. } => {
                pts.retain(|p| !is_stale(p.1));
                out.points = pts.len();
                let non_counter = range_values(func, &[], pts, self.eff, range, self.steps, emit)?;
                if non_counter {
                    out.not_counter = match self.uniform_not_counter {
                        Some(Some(_)) => NotCounter::Uniform,
                        Some(None) => NotCounter::No,
                        None => match not_a_counter(s.labels()) {
                            Some(metric) => NotCounter::Metric(metric.to_owned()),
                            None => NotCounter::No,
                        },
                    };
                }
            }
        }
        Ok(out)
    }
}

/// One group's accumulator at one step, and the first series that reached it.
#[derive(Debug, Clone, Copy, Default)]
struct Cell {
    acc: Acc,
    first: u32,
}

/// No group: the end of a [`Groups::next_same_hash`] chain.
const NO_GROUP: u32 = u32::MAX;

/// Groups found so far: their keys, found by hash.
///
/// Groups with the same key hash are chained through `next_same_hash` rather than kept in
/// a vector per hash: where almost every series is its own group (`max by (pod)`) a
/// vector per group was an allocation per series, and malloc on a server's fragmented
/// heaps is the dearest part of creating a group.
#[derive(Debug, Default)]
struct Groups {
    /// Key hash → the first group id with that hash.
    by_hash: FastMap<u64, u32>,
    /// Group id → the next group id with the same key hash, or [`NO_GROUP`].
    next_same_hash: Vec<u32>,
    /// Group id → key.
    keys: Vec<Arc<Labels>>,
    /// Group id → the key's hash.
    hashes: Vec<u64>,
    /// Scratch: positions of the current labels that are in the group key.
    kept: Vec<usize>,
}

/// After this many series, [`Groups::reserve_for`] sizes the groups for the rest.
const RESERVE_AFTER: usize = 64;

impl Groups {
    /// Reserves room for the groups of `total` series when nearly every one of the first
    /// `seen` started its own group (`max by (pod)`): the per-group vectors and the map
    /// then grow once instead of doubling (each doubling a large malloc and a copy).
    fn reserve_for(&mut self, seen: usize, total: usize) {
        if self.keys.len() * 2 <= seen {
            return;
        }
        self.reserve(total - seen);
    }

    /// Reserves room for `more` groups.
    fn reserve(&mut self, more: usize) {
        self.by_hash.reserve(more);
        self.next_same_hash.reserve(more);
        self.keys.reserve(more);
        self.hashes.reserve(more);
    }

    /// The id of the group of a series with labels `l`, created if new. The key is
    /// picked once, hashed (FxHash, as `Labels::hash_value`) and compared in place
    /// (interned strings by pointer first); it is built only for a new group.
    fn id(&mut self, l: &Labels, grouping: &Grouping<'_>) -> usize {
        let labels = l.as_slice();
        self.kept.clear();
        self.kept.extend((0..labels.len()).filter(|&i| {
            in_group_key(
                labels[i].name.as_str(),
                grouping.by,
                grouping.names,
                grouping.name_dropped,
            )
        }));
        self.id_of_kept(labels)
    }

    /// The id of the group whose key is `key`, hashing to `h` (a key of another
    /// `Groups`, shared if new here).
    fn id_of_key(&mut self, key: &Arc<Labels>, h: u64) -> usize {
        self.kept.clear();
        self.kept.extend(0..key.len());
        self.id_of_kept_hashed(key.as_slice(), h, Some(key))
    }

    /// The id of the group whose key is the labels at the positions in `kept`.
    fn id_of_kept(&mut self, labels: &[Label]) -> usize {
        let h = hash_pairs(
            self.kept
                .iter()
                .map(|&i| (labels[i].name.as_str(), labels[i].value.as_str())),
        );
        self.id_of_kept_hashed(labels, h, None)
    }

    /// [`Groups::id_of_kept`] with the key's hash `h` known; a new group takes `built`
    /// as its key if given.
    fn id_of_kept_hashed(
        &mut self,
        labels: &[Label],
        h: u64,
        built: Option<&Arc<Labels>>,
    ) -> usize {
        let Groups {
            by_hash,
            next_same_hash,
            keys,
            hashes,
            kept,
        } = self;
        let same_key = |key: &Labels| {
            key.len() == kept.len()
                && key
                    .iter()
                    .zip(kept.iter())
                    .all(|(a, &i)| same_label(a, &labels[i]))
        };
        let g = keys.len();
        let g32 = u32::try_from(g).expect("fewer than 2^32 - 1 groups");
        match by_hash.entry(h) {
            Entry::Occupied(first) => {
                let mut at = *first.get();
                loop {
                    if same_key(&keys[at as usize]) {
                        return at as usize;
                    }
                    let next = next_same_hash[at as usize];
                    if next == NO_GROUP {
                        break;
                    }
                    at = next;
                }
                // Chain the new group after the last one with this hash.
                next_same_hash[at as usize] = g32;
            }
            Entry::Vacant(slot) => {
                slot.insert(g32);
            }
        }
        next_same_hash.push(NO_GROUP);
        keys.push(match built {
            Some(key) => Arc::clone(key),
            None => Arc::new(Labels::from_sorted(
                kept.iter().map(|&i| labels[i].clone()).collect(),
            )),
        });
        hashes.push(h);
        g
    }
}

/// What one pass over the selected series' labels finds, before any sample is read.
#[derive(Debug, Default)]
struct Scan {
    groups: Groups,
    /// The group id of each series.
    ids: Vec<usize>,
    /// Whether every series has the metric name `first` and no `__type__`/`__unit__`.
    uniform: bool,
}

impl Scan {
    /// Scans `series`: their groups, and whether they all have metric name `first`.
    fn of(series: &[Box<dyn Series>], grouping: &Grouping<'_>, first: Option<&str>) -> Scan {
        let mut scan = Scan {
            uniform: true,
            ..Scan::default()
        };
        scan.ids.reserve(series.len());
        for (k, s) in series.iter().enumerate() {
            if k == RESERVE_AFTER {
                scan.groups.reserve_for(k, series.len());
            }
            let l = s.labels();
            if scan.uniform {
                let (name, typed) = name_and_typed(l);
                scan.uniform = name == first && !typed;
            }
            scan.ids.push(scan.groups.id(l, grouping));
        }
        scan
    }

    /// Scans `series`, the two halves on two threads when there are at least
    /// `parallel_min` series. Group ids are numbered by first appearance either way
    /// (the second half's groups are renumbered into the first's).
    fn of_all(series: &[Box<dyn Series>], grouping: &Grouping<'_>, parallel_min: usize) -> Scan {
        let first = series.first().and_then(|s| name_and_typed(s.labels()).0);
        if series.len() < parallel_min.max(2) {
            return Scan::of(series, grouping, first);
        }
        let (a, b) = series.split_at(series.len() / 2);
        let (mut scan, other) = std::thread::scope(|scope| {
            let worker = scope.spawn(|| Scan::of(b, grouping, first));
            let scan = Scan::of(a, grouping, first);
            (scan, worker.join().expect("series-major scan panicked"))
        });
        scan.groups.reserve(other.groups.keys.len());
        let renumber: Vec<usize> = other
            .groups
            .keys
            .iter()
            .zip(&other.groups.hashes)
            .map(|(key, &h)| scan.groups.id_of_key(key, h))
            .collect();
        scan.ids.extend(other.ids.iter().map(|&g| renumber[g]));
        scan.uniform &= other.uniform;
        scan
    }
}

/// Whether two labels are equal, comparing interned strings by pointer first.
#[inline]
fn same_label(a: &Label, b: &Label) -> bool {
    (Symbol::ptr_eq(&a.name, &b.name) || a.name.as_str() == b.name.as_str())
        && (Symbol::ptr_eq(&a.value, &b.value) || a.value.as_str() == b.value.as_str())
}

/// How the aggregation groups its input series.
#[derive(Debug, Clone, Copy)]
struct Grouping<'g> {
    /// `by` (true) or `without`.
    by: bool,
    /// The labels listed.
    names: &'g [String],
    /// The input has lost `__name__` (a range function other than `last_over_time`).
    name_dropped: bool,
}

impl Evaluator<'_> {
    /// Evaluates `a` series-major if it is an aggregation that folds over a selector or a
    /// range function of a range selector; `None` when the general path must run.
    pub(crate) fn try_series_major(&mut self, a: &AggregateExpr) -> Result<Option<Val>> {
        let op = a.op.id();
        if !self.series_major
            || a.param.is_some()
            || self.opts.delayed_name_removal
            || !FOLDING.contains(&op)
        {
            return Ok(None);
        }
        let Some(source) = Source::of(&a.expr) else {
            return Ok(None);
        };
        let (by, names): (bool, &[String]) = match &a.modifier {
            Some(LabelModifier::Include(l)) => (true, &l.labels),
            Some(LabelModifier::Exclude(l)) => (false, &l.labels),
            None => (true, &[]),
        };
        let n = self.steps();
        let vs = source.selector();
        let eff = self.eff_times(&vs.at, &vs.offset);
        let lookback = self.opts.lookback_delta;
        let (Some(&lo), Some(&hi)) = (eff.iter().min(), eff.iter().max()) else {
            return Ok(Some(Val::Vector(vec![Vec::new(); n])));
        };
        let (mint, range) = match source {
            Source::Instant(_) => (lo.saturating_sub(lookback).saturating_add(1), 0),
            Source::Range { range, .. } => (lo.saturating_sub(range).saturating_add(1), range),
        };
        // Sized up front: collecting through `Result` sees no lower bound, and doubling a
        // vector of tens of thousands of series is a copy and a large malloc per doubling.
        let set = self.select_series(vs, mint, hi, range)?;
        let mut series: Vec<Box<dyn Series>> = Vec::with_capacity(set.size_hint().0);
        for s in set {
            series.push(s?);
        }
        let drops_name = source.drops_name();
        let grouping = Grouping {
            by,
            names,
            name_dropped: drops_name,
        };
        let scan = Scan::of_all(&series, &grouping, self.parallel_min_series);
        // The general path fails when two series' output labels coincide at a step; leave
        // that case (series differing only in their name) to it.
        if drops_name && !scan.uniform && names_collide(&series) {
            return Ok(None);
        }
        let uniform_metric: Option<Option<String>> = scan.uniform.then(|| {
            series
                .first()
                .and_then(|s| not_a_counter(s.labels()))
                .map(str::to_owned)
        });
        let uniform_not_counter = uniform_metric.as_ref().map(Option::as_deref);
        let kernel = Kernel {
            source,
            eff: &eff,
            mint,
            maxt: hi,
            lookback,
            steps: (self.start, self.interval),
            uniform_not_counter,
        };
        let Scan {
            groups,
            ids: group_ids,
            ..
        } = scan;
        // One row of `n` steps per group, all in one allocation.
        let mut cells: Vec<Cell> = vec![Cell::default(); groups.keys.len() * n];

        // The second half's values are buffered until the first half is folded: split only
        // when that buffer (at most one value per series and step) fits the sample limit.
        let half = series.len() / 2;
        let split = if series.len() >= self.parallel_min_series.max(2)
            && half.saturating_mul(n) <= self.samples_left().min(PARALLEL_MAX_BUFFERED)
        {
            series.len() - half
        } else {
            series.len()
        };
        let stop = self.stop_check();
        // Each thread drops its series as it goes.
        let mut first = series;
        let second = first.split_off(split);
        let buffered = std::thread::scope(|scope| -> Result<Buffered> {
            let worker = (!second.is_empty()).then(|| {
                scope.spawn(move || -> Result<Buffered> {
                    let mut pts = Vec::new();
                    // All the series' values in one vector (a vector per series would be
                    // an allocation per series, of kilobytes for a range query).
                    let mut out = Buffered {
                        values: Vec::new(),
                        series: Vec::with_capacity(second.len()),
                    };
                    for (j, s) in second.into_iter().enumerate() {
                        if j % 64 == 0 {
                            stop.check("expression evaluation")?;
                        }
                        let values = &mut out.values;
                        let sv = kernel.run(&*s, &mut pts, |i, v| values.push((i as u32, v)))?;
                        out.series.push((sv, out.values.len()));
                    }
                    Ok(out)
                })
            });
            let mut pts = Vec::new();
            for (k, s) in first.into_iter().enumerate() {
                if k % 64 == 0 {
                    self.check("expression evaluation")?;
                }
                let row = &mut cells[group_ids[k] * n..][..n];
                let mut produced = 0usize;
                let sv = kernel.run(&*s, &mut pts, |i, v| {
                    fold(&mut row[i], op, v, k);
                    produced += 1;
                })?;
                self.account(&sv, produced, uniform_not_counter)?;
            }
            match worker {
                Some(w) => w.join().expect("series-major worker panicked"),
                None => Ok(Buffered::default()),
            }
        })?;
        let mut start = 0;
        for (j, (sv, end)) in buffered.series.iter().enumerate() {
            let k = split + j;
            if j % 64 == 0 {
                self.check("expression evaluation")?;
            }
            let row = &mut cells[group_ids[k] * n..][..n];
            let values = &buffered.values[start..*end];
            for &(i, v) in values {
                fold(&mut row[i as usize], op, v, k);
            }
            self.account(sv, values.len(), uniform_not_counter)?;
            start = *end;
        }
        Ok(Some(Val::Vector(finish(&groups.keys, &cells, op, n))))
    }

    /// Counts one series' samples as the general path would hold them (its points while
    /// read, its per-step outputs until the node is done) and adds its annotations.
    fn account(
        &mut self,
        sv: &SeriesValues,
        produced: usize,
        uniform_not_counter: Option<Option<&str>>,
    ) -> Result<()> {
        self.add_samples(sv.points)?;
        self.release_samples(sv.points);
        self.add_samples(produced)?;
        match &sv.not_counter {
            NotCounter::No => {}
            NotCounter::Uniform => {
                if let Some(Some(metric)) = uniform_not_counter {
                    self.not_a_counter_info_for(metric);
                }
            }
            NotCounter::Metric(metric) => self.not_a_counter_info_for(metric),
        }
        Ok(())
    }
}

/// Folds `v` of series `k` into `cell`.
#[inline]
fn fold(cell: &mut Cell, op: u16, v: f64, k: usize) {
    if cell.acc.count == 0.0 {
        cell.first = u32::try_from(k).unwrap_or(u32::MAX);
    }
    cell.acc.add(op, v);
}

/// One vector per step: each group with a sample, in the order the general path creates
/// groups (by the first series contributing at that step). `cells` holds one row of
/// `steps` cells per group.
fn finish(keys: &[Arc<Labels>], cells: &[Cell], op: u16, steps: usize) -> Vec<Vec<Smp>> {
    let mut out = Vec::with_capacity(steps);
    let mut step: Vec<(u32, usize)> = Vec::with_capacity(keys.len());
    let rows = || cells.chunks_exact(steps.max(1));
    for i in 0..steps {
        step.clear();
        step.extend(
            rows()
                .enumerate()
                .filter(|(_, row)| row[i].acc.count > 0.0)
                .map(|(g, row)| (row[i].first, g)),
        );
        if !step.is_sorted_by_key(|&(first, _)| first) {
            step.sort_unstable_by_key(|&(first, _)| first);
        }
        out.push(
            step.iter()
                .map(|&(_, g)| Smp {
                    labels: Arc::clone(&keys[g]),
                    v: cells[g * steps + i]
                        .acc
                        .finish(op)
                        .expect("FOLDING holds only operators Acc finishes"),
                    drop_name: false,
                })
                .collect(),
        );
    }
    out
}

/// Whether two of `series` have equal labels once `__name__` (and `__type__`,
/// `__unit__`) are dropped (asked only when they do not all share one name: then they
/// cannot).
fn names_collide(series: &[Box<dyn Series>]) -> bool {
    let dropped: Vec<Arc<Labels>> = series
        .iter()
        .map(|s| Arc::new(drop_metric_name(s.labels())))
        .collect();
    has_duplicates(dropped.iter())
}

/// The value of `__name__` and whether `__type__` or `__unit__` is present, in one scan
/// of the (name-sorted) labels that stops after `__unit__`'s place: for most series
/// after the first two labels.
fn name_and_typed(l: &Labels) -> (Option<&str>, bool) {
    let mut name = None;
    let mut typed = false;
    for x in l.iter() {
        match x.name.as_str() {
            "__name__" => name = Some(x.value.as_str()),
            "__type__" | "__unit__" => typed = true,
            n if n > "__unit__" => break,
            _ => {}
        }
    }
    (name, typed)
}

#[cfg(test)]
mod tests;
