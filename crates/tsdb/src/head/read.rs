//! Reading the head through the storage traits: [`HeadQuerier`] selects series with the
//! postings index, snapshots their chunks (sealed chunks are shared, the open chunk is
//! copied) and hands out [`ChunkSeriesIterator`]s over them.

use std::ops::Range;
use std::sync::Arc;

use roaring::RoaringBitmap;

use crate::bytes::SharedSlice;
use crate::chunkenc::{SampleIterator, ValueType, XorIterator};
use crate::error::{Error, Result};
use crate::head::{Head, MemSeries};
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

    /// Snapshots the series for `matchers` with their chunks in range, sorted by labels.
    ///
    /// Everything a select copies goes into one [`Snapshot`]: chunk references in one
    /// vector, the open chunks' bytes in one buffer, tombstone intervals in another, so
    /// the cost per series is a lookup, a lock and the bytes of its open chunk when that
    /// overlaps the range. Labels are not copied: a series keeps its `MemSeries`.
    fn snapshot(&self, matchers: &[Matcher], limit: usize) -> Result<Snapshot> {
        let mut snap = Snapshot {
            mint: self.mint,
            maxt: self.maxt,
            ..Snapshot::default()
        };
        if !self.overlaps() {
            return Ok(snap);
        }
        let ids = self.postings(matchers)?;
        let tombstones = self.head.tombstones.read();
        let has_tombstones = !tombstones.is_empty();
        // Reserve for the common case of an instant query (one chunk per series, an open
        // chunk of a few hundred bytes) so the shared vectors rarely grow while filling.
        let n = ids.len() as usize;
        snap.series.reserve(n);
        snap.chunks.reserve(n);
        snap.bytes.reserve(n.saturating_mul(256));
        let (mint, maxt) = (self.mint, self.maxt);
        for id in ids {
            let Some(s) = self.head.series.get_by_ref(u64::from(id)) else {
                continue;
            };
            let first_chunk = snap.chunks.len();
            {
                let st = s.state.lock();
                // Sealed chunks are in time order: skip those ending before `mint` by
                // bisection, stop at the first one starting after `maxt`.
                let from = st.sealed.partition_point(|c| c.max_t < mint);
                for c in st.sealed[from..].iter().take_while(|c| c.min_t <= maxt) {
                    snap.chunks.push(ChunkData {
                        min_t: c.min_t,
                        max_t: c.max_t,
                        data: ChunkBytes::Shared(Arc::clone(&c.data)),
                    });
                }
                if let Some(o) = &st.open
                    && o.max_t >= mint
                    && o.min_t <= maxt
                    && o.app.num_samples() > 0
                {
                    let bytes = o.app.bytes();
                    let start = snap.bytes.len();
                    snap.bytes.extend_from_slice(bytes);
                    snap.chunks.push(ChunkData {
                        min_t: o.min_t,
                        max_t: o.max_t,
                        data: ChunkBytes::Buffer(start..snap.bytes.len()),
                    });
                }
            }
            if snap.chunks.len() == first_chunk {
                continue;
            }
            let first_deleted = snap.deleted.len();
            if has_tombstones && let Some(iv) = tombstones.get(&s.series_ref) {
                snap.deleted.extend_from_slice(iv);
            }
            snap.series.push(SnapSeries {
                series: s,
                chunks: first_chunk..snap.chunks.len(),
                deleted: first_deleted..snap.deleted.len(),
            });
        }
        drop(tombstones);
        // Series refs often follow label order (series created in sorted batches); check
        // before paying for a sort.
        if !snap
            .series
            .is_sorted_by(|a, b| a.series.labels <= b.series.labels)
        {
            snap.series
                .sort_unstable_by(|a, b| a.series.labels.cmp(&b.series.labels));
        }
        if limit > 0 {
            snap.series.truncate(limit);
        }
        Ok(snap)
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
        let snap = self.snapshot(matchers, limit)?;
        Ok(Box::new(SnapshotSeriesSet {
            next: 0,
            len: snap.series.len(),
            snap: Arc::new(snap),
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

/// Where the bytes of a chunk handed to a [`ChunkSeriesIterator`] are.
#[derive(Debug, Clone)]
pub enum ChunkBytes {
    /// A sealed chunk, shared with the head by reference count.
    Shared(Arc<[u8]>),
    /// A copy of an open chunk: this range of the snapshot's byte buffer.
    Buffer(Range<usize>),
    /// A block's chunk: a range of its mmapped segment file (or of fetched bytes), kept
    /// alive by reference count.
    Slice(SharedSlice),
}

/// One encoded chunk of a series and its time range.
#[derive(Debug, Clone)]
pub struct ChunkData {
    /// Timestamp of the first sample.
    pub min_t: i64,
    /// Timestamp of the last sample.
    pub max_t: i64,
    /// The XOR chunk bytes.
    pub data: ChunkBytes,
}

impl ChunkData {
    /// The chunk's bytes; `buffer` is the snapshot buffer [`ChunkBytes::Buffer`] points into.
    fn bytes<'a>(&'a self, buffer: &'a [u8]) -> &'a [u8] {
        match &self.data {
            ChunkBytes::Shared(b) => b,
            ChunkBytes::Slice(s) => s,
            // An out-of-range buffer reference is a bug in the snapshot; an empty chunk
            // then reads as a decode error, not a panic.
            ChunkBytes::Buffer(r) => buffer.get(r.clone()).unwrap_or_default(),
        }
    }
}

/// One selected series in a [`Snapshot`]: the series itself (for its labels) and its
/// ranges in the snapshot's shared vectors.
#[derive(Debug)]
struct SnapSeries {
    series: Arc<MemSeries>,
    chunks: Range<usize>,
    deleted: Range<usize>,
}

/// What one select copied out of the head, shared by all series it hands out.
#[derive(Debug, Default)]
struct Snapshot {
    series: Vec<SnapSeries>,
    chunks: Vec<ChunkData>,
    /// The open chunks' bytes, one after another.
    bytes: Vec<u8>,
    /// Tombstone intervals of the selected series, one list after another.
    deleted: Vec<(i64, i64)>,
    mint: i64,
    maxt: i64,
}

/// A series selected from the head: an index into the shared snapshot.
#[derive(Debug)]
struct HeadSeries {
    snap: Arc<Snapshot>,
    idx: usize,
}

impl Series for HeadSeries {
    fn labels(&self) -> &Labels {
        &self.snap.series[self.idx].series.labels
    }

    fn iterator(&self) -> Box<dyn SampleIterator + Send + '_> {
        let snap = &*self.snap;
        let s = &snap.series[self.idx];
        Box::new(ChunkSeriesIterator::new(
            &snap.chunks[s.chunks.clone()],
            &snap.bytes,
            snap.mint,
            snap.maxt,
            &snap.deleted[s.deleted.clone()],
        ))
    }
}

#[derive(Debug)]
struct SnapshotSeriesSet {
    snap: Arc<Snapshot>,
    next: usize,
    len: usize,
}

impl Iterator for SnapshotSeriesSet {
    type Item = Result<Box<dyn Series>>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.len {
            return None;
        }
        let idx = self.next;
        self.next += 1;
        Some(Ok(Box::new(HeadSeries {
            snap: Arc::clone(&self.snap),
            idx,
        })))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.len - self.next;
        (n, Some(n))
    }
}

impl SeriesSet for SnapshotSeriesSet {}

/// Iterates the samples of a time-ordered list of non-overlapping chunks, restricted to
/// `[mint, maxt]` and skipping deleted intervals.
#[derive(Debug)]
pub struct ChunkSeriesIterator<'a> {
    chunks: &'a [ChunkData],
    buffer: &'a [u8],
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
    /// samples inside the closed intervals of `deleted`; `buffer` holds the bytes of
    /// [`ChunkBytes::Buffer`] chunks.
    pub fn new(
        chunks: &'a [ChunkData],
        buffer: &'a [u8],
        mint: i64,
        maxt: i64,
        deleted: &'a [(i64, i64)],
    ) -> Self {
        Self {
            chunks,
            buffer,
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
                self.cur = Some(XorIterator::new(c.bytes(self.buffer)));
            }
            let it = self.cur.as_mut().expect("set above");
            let vt = match seek_to {
                Some(t) => it.seek(t),
                None => it.next(),
            };
            if vt == ValueType::None {
                if let Some(e) = it.err() {
                    self.err = Some(Error::decode("xor chunk", e.to_string()));
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
