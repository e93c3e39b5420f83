//! Reading the head through the storage traits: [`HeadQuerier`] selects series with the
//! postings index, snapshots their chunks (sealed chunks are shared, the open chunk is
//! copied) and hands out [`ChunkSeriesIterator`]s over them.

use std::sync::Arc;

use roaring::RoaringBitmap;

use crate::chunkenc::{SampleIterator, ValueType, XorIterator};
use crate::error::{Error, Result};
use crate::head::{Head, Intervals};
use crate::labels::{Labels, Matcher, Symbol};
use crate::storage::{LabelHints, Querier, Queryable, SelectHints, Series, SeriesSet};

/// A querier over the head for samples in `[mint, maxt]`.
#[derive(Debug)]
pub struct HeadQuerier<'a> {
    head: &'a Head,
    mint: i64,
    maxt: i64,
}

impl<'a> HeadQuerier<'a> {
    pub(crate) fn new(head: &'a Head, mint: i64, maxt: i64) -> Self {
        Self { head, mint, maxt }
    }

    /// Whether the head holds anything in the querier's range.
    fn overlaps(&self) -> bool {
        self.head.min_time() <= self.maxt && self.head.max_time() >= self.mint
    }

    fn postings(&self, matchers: &[Matcher]) -> Result<RoaringBitmap> {
        self.head.postings.postings_for_matchers(matchers)
    }

    /// The series for `matchers` with their chunks in range, sorted by labels.
    fn series(&self, matchers: &[Matcher], limit: usize) -> Result<Vec<HeadSeries>> {
        if !self.overlaps() {
            return Ok(Vec::new());
        }
        let ids = self.postings(matchers)?;
        let tombstones = self.head.tombstones.read();
        let mut out = Vec::with_capacity(ids.len() as usize);
        for id in ids {
            let Some(s) = self.head.series.get_by_ref(u64::from(id)) else {
                continue;
            };
            let chunks = {
                let st = s.state.lock();
                let mut chunks = Vec::with_capacity(st.num_chunks());
                for c in &st.sealed {
                    if c.max_t >= self.mint && c.min_t <= self.maxt {
                        chunks.push(ChunkData {
                            min_t: c.min_t,
                            max_t: c.max_t,
                            data: Arc::clone(&c.data),
                        });
                    }
                }
                if let Some(o) = &st.open
                    && o.max_t >= self.mint
                    && o.min_t <= self.maxt
                    && o.app.num_samples() > 0
                {
                    chunks.push(ChunkData {
                        min_t: o.min_t,
                        max_t: o.max_t,
                        data: Arc::from(o.app.bytes()),
                    });
                }
                chunks
            };
            if chunks.is_empty() {
                continue;
            }
            let deleted = tombstones.get(&s.series_ref).cloned().unwrap_or_default();
            out.push(HeadSeries {
                labels: s.labels.clone(),
                chunks,
                mint: self.mint,
                maxt: self.maxt,
                deleted,
            });
        }
        out.sort_unstable_by(|a, b| a.labels.cmp(&b.labels));
        if limit > 0 {
            out.truncate(limit);
        }
        Ok(out)
    }
}

impl Querier for HeadQuerier<'_> {
    fn select(
        &self,
        _sort: bool,
        hints: Option<&SelectHints>,
        matchers: &[Matcher],
    ) -> Result<Box<dyn SeriesSet>> {
        let limit = hints.map_or(0, |h| h.limit);
        let series = self.series(matchers, limit)?;
        Ok(Box::new(VecSeriesSet {
            inner: series.into_iter(),
        }))
    }

    fn label_values(
        &self,
        name: &str,
        hints: &LabelHints,
        matchers: &[Matcher],
    ) -> Result<Vec<Symbol>> {
        if !self.overlaps() {
            return Ok(Vec::new());
        }
        let mut values = self
            .head
            .postings
            .label_values_for_matchers(name, matchers)?;
        if hints.limit > 0 {
            values.truncate(hints.limit);
        }
        Ok(values)
    }

    fn label_names(&self, hints: &LabelHints, matchers: &[Matcher]) -> Result<Vec<Symbol>> {
        if !self.overlaps() {
            return Ok(Vec::new());
        }
        let mut names = self.head.postings.label_names_for_matchers(matchers)?;
        names.retain(|n| !n.is_empty());
        if hints.limit > 0 {
            names.truncate(hints.limit);
        }
        Ok(names)
    }
}

impl Head {
    pub(crate) fn querier_boxed(&self, mint: i64, maxt: i64) -> Result<Box<dyn Querier + '_>> {
        Ok(Box::new(HeadQuerier::new(self, mint, maxt)))
    }
}

impl Queryable for Head {
    fn querier(&self, mint: i64, maxt: i64) -> Result<Box<dyn Querier + '_>> {
        self.querier_boxed(mint, maxt)
    }
}

/// One encoded chunk of a series and its time range.
#[derive(Debug, Clone)]
pub struct ChunkData {
    /// Timestamp of the first sample.
    pub min_t: i64,
    /// Timestamp of the last sample.
    pub max_t: i64,
    /// The XOR chunk bytes.
    pub data: Arc<[u8]>,
}

/// A series selected from the head: labels plus a snapshot of its chunks.
#[derive(Debug)]
struct HeadSeries {
    labels: Labels,
    chunks: Vec<ChunkData>,
    mint: i64,
    maxt: i64,
    deleted: Intervals,
}

impl Series for HeadSeries {
    fn labels(&self) -> &Labels {
        &self.labels
    }

    fn iterator(&self) -> Box<dyn SampleIterator + Send + '_> {
        Box::new(ChunkSeriesIterator::new(
            &self.chunks,
            self.mint,
            self.maxt,
            &self.deleted,
        ))
    }
}

#[derive(Debug)]
struct VecSeriesSet {
    inner: std::vec::IntoIter<HeadSeries>,
}

impl Iterator for VecSeriesSet {
    type Item = Result<Box<dyn Series>>;
    fn next(&mut self) -> Option<Self::Item> {
        self.inner
            .next()
            .map(|s| Ok(Box::new(s) as Box<dyn Series>))
    }
}

impl SeriesSet for VecSeriesSet {}

/// Iterates the samples of a time-ordered list of non-overlapping chunks, restricted to
/// `[mint, maxt]` and skipping deleted intervals.
#[derive(Debug)]
pub struct ChunkSeriesIterator<'a> {
    chunks: &'a [ChunkData],
    next_chunk: usize,
    cur: Option<XorIterator<&'a [u8]>>,
    mint: i64,
    maxt: i64,
    deleted: &'a [(i64, i64)],
    err: Option<Error>,
    done: bool,
}

impl<'a> ChunkSeriesIterator<'a> {
    /// An iterator over `chunks` (sorted, non-overlapping) within `[mint, maxt]`, skipping
    /// samples inside the closed intervals of `deleted`.
    pub fn new(chunks: &'a [ChunkData], mint: i64, maxt: i64, deleted: &'a [(i64, i64)]) -> Self {
        Self {
            chunks,
            next_chunk: 0,
            cur: None,
            mint,
            maxt,
            deleted,
            err: None,
            done: false,
        }
    }

    fn is_deleted(&self, t: i64) -> bool {
        self.deleted.iter().any(|&(a, b)| a <= t && t <= b)
    }

    fn finish(&mut self) -> ValueType {
        self.done = true;
        self.cur = None;
        ValueType::None
    }

    /// Advances the current chunk iterator, moving to following chunks when it ends.
    fn step(&mut self, seek_to: Option<i64>) -> ValueType {
        loop {
            if self.cur.is_none() {
                let Some(c) = self.chunks.get(self.next_chunk) else {
                    return self.finish();
                };
                self.next_chunk += 1;
                if c.max_t < self.mint.max(seek_to.unwrap_or(i64::MIN)) {
                    continue;
                }
                if c.min_t > self.maxt {
                    return self.finish();
                }
                self.cur = Some(XorIterator::new(&c.data[..]));
            }
            let it = self.cur.as_mut().expect("set above");
            let vt = match seek_to {
                Some(t) => it.seek(t),
                None => it.next(),
            };
            if vt == ValueType::None {
                if let Some(e) = it.err() {
                    self.err = Some(Error::decode("head chunk", e.to_string()));
                    return self.finish();
                }
                self.cur = None;
                continue;
            }
            return vt;
        }
    }

    fn advance(&mut self, mut seek_to: Option<i64>) -> ValueType {
        if self.done {
            return ValueType::None;
        }
        if let Some(t) = seek_to.as_mut() {
            *t = (*t).max(self.mint);
        } else if self.cur.is_none() && self.next_chunk == 0 {
            seek_to = Some(self.mint);
        }
        let mut vt = self.step(seek_to);
        loop {
            if vt == ValueType::None {
                return vt;
            }
            let t = self.at_t();
            if t > self.maxt {
                return self.finish();
            }
            if t < self.mint || self.is_deleted(t) {
                vt = self.step(None);
                continue;
            }
            return vt;
        }
    }
}

impl SampleIterator for ChunkSeriesIterator<'_> {
    fn next(&mut self) -> ValueType {
        self.advance(None)
    }

    fn seek(&mut self, t: i64) -> ValueType {
        if !self.done && self.cur.is_some() && self.at_t() >= t {
            return ValueType::Float;
        }
        self.advance(Some(t))
    }

    fn at(&self) -> (i64, f64) {
        self.cur.as_ref().map_or((0, 0.0), |c| c.at())
    }

    fn at_t(&self) -> i64 {
        self.cur.as_ref().map_or(0, |c| c.at_t())
    }

    fn err(&self) -> Option<&Error> {
        self.err.as_ref()
    }
}
