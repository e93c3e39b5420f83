//! [`HeadAppender`]: a batch of samples that is written to the WAL and then made visible.
//!
//! `append` classifies each sample against its series' newest committed sample the way
//! Prometheus does (out of bounds, out of order, duplicate timestamp with another value;
//! the same timestamp with the same value is accepted and ignored). `commit` encodes one
//! Series record (for series not yet in the WAL) and one Samples record, hands them to the
//! group-committing WAL writer and waits until they are durable; only then are the samples
//! appended to their series' chunks. A sample that a concurrent commit made out of order in
//! the meantime is dropped and counted, as in Prometheus (replay drops it the same way).

use std::collections::HashSet;
use std::sync::Arc;

use crate::error::{AppendError, Result};
use crate::head::Head;
use crate::head::exemplars::Exemplar;
use crate::head::series::{Appendable, MemSeries, prefetch_series_state};
use crate::labels::Labels;
use crate::record::{self, MetricType, RefExemplar, RefMetadata, RefSample, RefSeries};
use crate::storage::{Appender, SeriesRef};

/// A batch of samples for the head. Dropping it without `commit` rolls it back.
#[derive(Debug)]
pub struct HeadAppender<'a> {
    head: &'a Head,
    min_valid_time: i64,
    /// Series to log in this batch's Series record.
    new_series: Vec<Arc<MemSeries>>,
    /// The refs in `new_series`.
    to_log: HashSet<u64>,
    samples: Vec<RefSample>,
    sample_series: Vec<Arc<MemSeries>>,
    /// Exemplars of the batch, with the index of each series' newest one.
    exemplars: Vec<(Arc<MemSeries>, Exemplar)>,
    newest_exemplar: std::collections::HashMap<u64, usize>,
    /// Metadata changes of the batch.
    metadata: Vec<RefMetadata>,
    done: bool,
}

impl<'a> HeadAppender<'a> {
    pub(crate) fn new(head: &'a Head) -> Self {
        Self {
            head,
            min_valid_time: head.appendable_min_valid_time(),
            new_series: Vec::new(),
            to_log: HashSet::new(),
            samples: Vec::new(),
            sample_series: Vec::new(),
            exemplars: Vec::new(),
            newest_exemplar: std::collections::HashMap::new(),
            metadata: Vec::new(),
            done: false,
        }
    }

    /// Makes room for `additional` more samples, so that a batch of known size does not
    /// grow its vectors step by step.
    pub fn reserve(&mut self, additional: usize) {
        self.samples.reserve(additional);
        self.sample_series.reserve(additional);
    }

    /// Number of samples in the batch.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// Finds the series by its ref hint, else by labels, creating it if absent.
    fn lookup(&self, series_ref: SeriesRef, labels: &Labels) -> Result<Arc<MemSeries>> {
        if series_ref != 0
            && let Some(s) = self.head.series.get_by_ref(series_ref)
        {
            return Ok(s);
        }
        if labels.is_empty() || !labels.is_valid() {
            return Err(AppendError::InvalidLabels.into());
        }
        Ok(self.head.get_or_create(labels, None, false)?.0)
    }

    /// Adds a float sample; see [`Appender::append`].
    pub fn add(
        &mut self,
        series_ref: SeriesRef,
        labels: &Labels,
        t: i64,
        v: f64,
    ) -> Result<SeriesRef> {
        if t < self.min_valid_time {
            self.head.metrics.out_of_bound_samples.inc();
            return Err(AppendError::OutOfBounds.into());
        }
        let mut s = self.lookup(series_ref, labels)?;
        self.append_to(&mut s, t, v)
    }

    /// Adds a float sample to the series `s` (from [`Head::series_by_pairs`] or
    /// [`Head::get_or_create_by_pairs`]), which saves [`Self::add`]'s lookup. When garbage
    /// collection removed the series since, it is created again from its labels and `s`
    /// is replaced by the new series.
    pub fn append_to(&mut self, s: &mut Arc<MemSeries>, t: i64, v: f64) -> Result<SeriesRef> {
        if t < self.min_valid_time {
            self.head.metrics.out_of_bound_samples.inc();
            return Err(AppendError::OutOfBounds.into());
        }
        loop {
            let mut st = s.state.lock();
            if st.deleted {
                // Garbage collection removed it after it was found: create it afresh.
                drop(st);
                *s = self.head.get_or_create(&s.labels, None, false)?.0;
                continue;
            }
            match st.appendable(t, v) {
                Ok(Appendable::Duplicate) => return Ok(s.series_ref),
                Ok(Appendable::Append) => {}
                Err(e) => {
                    if e == AppendError::OutOfOrder {
                        self.head.metrics.out_of_order_samples.inc();
                    }
                    return Err(e.into());
                }
            }
            st.pending += 1;
            let unlogged = !st.logged;
            drop(st);
            self.log_series(s, unlogged);
            let r = s.series_ref;
            self.samples.push(RefSample {
                series_ref: r,
                t,
                v,
            });
            self.sample_series.push(Arc::clone(s));
            return Ok(r);
        }
    }

    /// Puts a series not yet in the WAL into this batch's Series record: one this batch
    /// created, or one another batch created and has not committed (or rolled back), so
    /// that this batch's records never precede their Series record.
    fn log_series(&mut self, s: &Arc<MemSeries>, unlogged: bool) {
        if unlogged && self.head.wal().is_some() && self.to_log.insert(s.series_ref) {
            self.new_series.push(Arc::clone(s));
        }
    }

    /// Adds an exemplar to the series (found by ref hint or labels, as in [`Self::add`]).
    /// Returns `Ok(false)` when it is a duplicate of the series' newest exemplar (or
    /// exemplar storage is disabled) and was ignored; out-of-order exemplars and overlong
    /// exemplar labels are [`AppendError`]s that leave the batch usable.
    pub fn add_exemplar(
        &mut self,
        series_ref: SeriesRef,
        labels: &Labels,
        exemplar: Exemplar,
    ) -> Result<bool> {
        if !self.head.exemplars.enabled() {
            return Ok(false);
        }
        let s = self.lookup(series_ref, labels)?;
        self.add_exemplar_to(&s, exemplar)
    }

    /// [`Self::add_exemplar`] for a series handle (see [`Self::append_to`]).
    pub fn add_exemplar_to(&mut self, s: &Arc<MemSeries>, exemplar: Exemplar) -> Result<bool> {
        if !self.head.exemplars.enabled() {
            return Ok(false);
        }
        let pending = self
            .newest_exemplar
            .get(&s.series_ref)
            .map(|&i| &self.exemplars[i].1);
        if !self
            .head
            .exemplars
            .validate(s.series_ref, &exemplar, pending)?
        {
            return Ok(false);
        }
        let unlogged = !s.state.lock().logged;
        self.log_series(s, unlogged);
        self.newest_exemplar
            .insert(s.series_ref, self.exemplars.len());
        self.exemplars.push((Arc::clone(s), exemplar));
        Ok(true)
    }

    /// Sets the series' metadata; logged in a Metadata record only when it differs from
    /// what the head holds.
    pub fn set_metadata(
        &mut self,
        series_ref: SeriesRef,
        labels: &Labels,
        metric_type: MetricType,
        unit: &str,
        help: &str,
    ) -> Result<SeriesRef> {
        let s = self.lookup(series_ref, labels)?;
        self.set_metadata_to(&s, metric_type, unit, help)
    }

    /// [`Self::set_metadata`] for a series handle (see [`Self::append_to`]).
    pub fn set_metadata_to(
        &mut self,
        s: &Arc<MemSeries>,
        metric_type: MetricType,
        unit: &str,
        help: &str,
    ) -> Result<SeriesRef> {
        let same = self
            .head
            .metadata
            .read()
            .get(&s.series_ref)
            .is_some_and(|m| m.metric_type == metric_type && m.unit == unit && m.help == help);
        if !same {
            let unlogged = !s.state.lock().logged;
            self.log_series(s, unlogged);
            self.metadata.push(RefMetadata {
                series_ref: s.series_ref,
                metric_type,
                unit: unit.to_owned(),
                help: help.to_owned(),
            });
        }
        Ok(s.series_ref)
    }

    /// Writes the batch to the WAL, waits until it is durable, then applies it.
    pub fn commit_batch(mut self) -> Result<()> {
        self.done = true;
        if let Some(wal) = self.head.wal() {
            let mut records = Vec::with_capacity(2);
            if !self.new_series.is_empty() {
                let series: Vec<RefSeries> = self
                    .new_series
                    .iter()
                    .map(|s| RefSeries {
                        series_ref: s.series_ref,
                        labels: s.labels.clone(),
                    })
                    .collect();
                let mut buf = Vec::new();
                record::encode_series(&series, &mut buf);
                records.push(buf);
            }
            if !self.samples.is_empty() {
                let mut buf = Vec::with_capacity(16 + self.samples.len() * 12);
                record::encode_samples(&self.samples, &mut buf);
                records.push(buf);
            }
            if !self.exemplars.is_empty() {
                let ex: Vec<RefExemplar> = self
                    .exemplars
                    .iter()
                    .map(|(s, e)| RefExemplar {
                        series_ref: s.series_ref,
                        t: e.t,
                        v: e.v,
                        labels: e.labels.clone(),
                    })
                    .collect();
                let mut buf = Vec::new();
                record::encode_exemplars(&ex, &mut buf);
                records.push(buf);
            }
            if !self.metadata.is_empty() {
                let mut buf = Vec::new();
                record::encode_metadata(&self.metadata, &mut buf);
                records.push(buf);
            }
            if !records.is_empty() {
                let pending = match wal.submit(records) {
                    Ok(p) => p,
                    Err(e) => {
                        self.release_pending();
                        return Err(e);
                    }
                };
                let seq = pending.seq();
                let durable = pending.wait();
                // Take our turn even on failure, so later commits are not held up.
                let _turn = self.head.apply_order.wait(seq);
                if let Err(e) = durable {
                    self.release_pending();
                    return Err(e);
                }
                for s in &self.new_series {
                    s.state.lock().logged = true;
                }
                self.apply();
                return Ok(());
            }
        }
        self.apply();
        Ok(())
    }

    fn apply(&mut self) {
        let cut = self.head.cut_options();
        let (mut appended, mut chunks) = (0u64, 0i64);
        let (mut mint, mut maxt) = (i64::MAX, i64::MIN);
        // The series were last touched before the WAL write; other requests have run
        // since, so each lock below would wait for a cache miss. Prefetching a few
        // series ahead overlaps those misses. The open chunks' buffers (their own
        // allocations, found through the states) are prefetched half as far ahead, under
        // the series' lock only if it is free: this loop never waits for a prefetch.
        const AHEAD: usize = 8;
        for (i, (sample, s)) in self.samples.iter().zip(&self.sample_series).enumerate() {
            if let Some(next) = self.sample_series.get(i + AHEAD) {
                prefetch_series_state(next);
            }
            if let Some(near) = self.sample_series.get(i + AHEAD / 2)
                && let Some(st) = near.state.try_lock()
            {
                st.prefetch_open_chunk();
            }
            let mut st = s.state.lock();
            st.pending -= 1;
            match st.appendable(sample.t, sample.v) {
                Ok(Appendable::Append) => {
                    if st.append(sample.t, sample.v, cut, &self.head.chunk_slabs) {
                        chunks += 1;
                    }
                    appended += 1;
                    mint = mint.min(sample.t);
                    maxt = maxt.max(sample.t);
                }
                Ok(Appendable::Duplicate) => {}
                Err(_) => {
                    self.head.metrics.out_of_order_samples.inc();
                }
            }
        }
        if appended > 0 {
            self.head.update_time_range(mint, maxt);
        }
        self.head.metrics.samples_appended.inc_by(appended);
        self.head.metrics.chunks.inc_by(chunks);
        self.head.metrics.chunks_created.inc_by(chunks as u64);
        self.samples.clear();
        self.sample_series.clear();
        for (s, e) in self.exemplars.drain(..) {
            self.head.exemplars.add(s.series_ref, e);
        }
        if !self.metadata.is_empty() {
            let mut meta = self.head.metadata.write();
            for m in self.metadata.drain(..) {
                meta.insert(m.series_ref, m);
            }
        }
    }

    fn release_pending(&mut self) {
        for s in self.sample_series.drain(..) {
            s.state.lock().pending -= 1;
        }
        self.samples.clear();
        self.exemplars.clear();
        self.metadata.clear();
    }

    /// Discards the batch. Series it created stay (empty) until garbage collection.
    pub fn rollback_batch(mut self) {
        self.done = true;
        self.release_pending();
    }
}

impl Drop for HeadAppender<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.release_pending();
        }
    }
}

impl Appender for HeadAppender<'_> {
    fn append(&mut self, series: SeriesRef, labels: &Labels, t: i64, v: f64) -> Result<SeriesRef> {
        self.add(series, labels, t, v)
    }

    fn commit(self: Box<Self>) -> Result<()> {
        (*self).commit_batch()
    }

    fn rollback(self: Box<Self>) -> Result<()> {
        (*self).rollback_batch();
        Ok(())
    }
}
