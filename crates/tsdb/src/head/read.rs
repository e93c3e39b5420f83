//! Reading the head through the storage traits: [`HeadQuerier`] selects series with the
//! postings index, snapshots their chunks (sealed chunks are shared, the open chunk is
//! copied) and hands out [`ChunkSeriesIterator`]s over them.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use roaring::RoaringBitmap;

use crate::bytes::SharedSlice;
use crate::chunkenc::{SampleIterator, ValueType, XorIterator};
use crate::error::{Error, Result};
use crate::head::series::prefetch_series_state;
use crate::head::{Head, HeadSeriesRef, Intervals, MemSeries, SlabBytes};
use crate::labels::{Labels, Matcher, Symbol};
use crate::storage::{LabelHints, Querier, Queryable, SelectHints, Series, SeriesSet};

/// Unsorted selections of at least this many series are snapshotted on two threads.
pub(crate) const PARALLEL_SNAPSHOT_MIN: usize = 4_096;

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

    /// Snapshots the series for `matchers` with their chunks in range, sorted by labels
    /// when `sort` is set, else in postings (series reference) order.
    ///
    /// Everything a select copies goes into one [`Snapshot`]: chunk references in one
    /// vector, the open chunks' bytes in one buffer, tombstone intervals in another, so
    /// the cost per series is a lookup, a lock and the bytes of its open chunk when that
    /// overlaps the range. Labels are not copied: a series keeps its `MemSeries`.
    ///
    /// An unsorted selection of [`PARALLEL_SNAPSHOT_MIN`] series or more is snapshotted in
    /// two parts on two threads (the first half of the refs here, the second on a scoped
    /// thread); the parts are handed out one after the other, so the order is the same.
    fn snapshot(&self, matchers: &[Matcher], sort: bool, limit: usize) -> Result<Snapshot> {
        let mut snap = Snapshot {
            parts: Vec::new(),
            mint: self.mint,
            maxt: self.maxt,
        };
        if !self.overlaps() {
            return Ok(snap);
        }
        let ids = self.postings(matchers)?;
        let tombstones = self.head.tombstones.read();
        let ids: Vec<u32> = ids.iter().collect();
        let n = ids.len();
        if sort || n < PARALLEL_SNAPSHOT_MIN {
            let mut part = Part::default();
            self.fill(&mut part, &ids, &tombstones);
            snap.parts.push(part);
        } else {
            let (first, second) = ids.split_at(n / 2);
            let tombstones = &*tombstones;
            let (a, b) = std::thread::scope(|scope| {
                let worker = scope.spawn(|| {
                    let mut part = Part::default();
                    self.fill(&mut part, second, tombstones);
                    part
                });
                let mut part = Part::default();
                self.fill(&mut part, first, tombstones);
                (part, worker.join().expect("snapshot worker panicked"))
            });
            snap.parts.extend([a, b]);
        }
        drop(tombstones);
        // Unsorted, as Prometheus's head does when the caller does not ask for order (its
        // engine never does): sorting costs O(n log n) label comparisons, each chasing the
        // series' label strings through memory. Series refs often follow label order
        // (series created in sorted batches); check before paying for a sort.
        if sort {
            for part in &mut snap.parts {
                if !part
                    .series
                    .is_sorted_by(|a, b| a.series.labels <= b.series.labels)
                {
                    sort_by_labels(&mut part.series);
                }
            }
        }
        if limit > 0 {
            let mut left = limit;
            for part in &mut snap.parts {
                part.series.truncate(left);
                left -= part.series.len();
            }
        }
        Ok(snap)
    }

    /// Snapshots the series `ids` into `part`.
    ///
    /// The series are looked up together ([`get_many_by_ref`]) and each is
    /// prefetched a few series before its lock is taken, so the cache misses of
    /// neighbouring series overlap instead of following one another.
    ///
    /// [`get_many_by_ref`]: crate::head::series::StripeSeries::get_many_by_ref
    fn fill(&self, part: &mut Part, ids: &[u32], tombstones: &HashMap<HeadSeriesRef, Intervals>) {
        /// How many series ahead the state is prefetched.
        const AHEAD: usize = 4;
        let n = ids.len();
        let has_tombstones = !tombstones.is_empty();
        // Reserve for the common case of an instant query (one chunk per series, an open
        // chunk of a few hundred bytes) so the shared vectors rarely grow while filling.
        part.series.reserve(n);
        part.chunks.reserve(n);
        part.bytes.reserve(n.saturating_mul(256));
        let (mint, maxt) = (self.mint, self.maxt);
        let mut found = self.head.series.get_many_by_ref(ids);
        for j in 0..found.len() {
            if let Some(Some(next)) = found.get(j + AHEAD) {
                prefetch_series_state(next);
            }
            let Some(s) = found[j].take() else {
                continue;
            };
            let first_chunk = part.chunks.len();
            {
                let st = s.state.lock();
                // Sealed chunks are in time order: skip those ending before `mint` by
                // bisection, stop at the first one starting after `maxt`.
                let from = st.sealed.partition_point(|c| c.max_t < mint);
                for c in st.sealed[from..].iter().take_while(|c| c.min_t <= maxt) {
                    part.chunks.push(ChunkData {
                        min_t: c.min_t,
                        max_t: c.max_t,
                        data: ChunkBytes::Shared(c.data.clone()),
                    });
                }
                if let Some(o) = &st.open
                    && o.max_t() >= mint
                    && o.min_t <= maxt
                    && o.app.num_samples() > 0
                {
                    let bytes = o.app.bytes();
                    let start = part.bytes.len();
                    part.bytes.extend_from_slice(bytes);
                    part.chunks.push(ChunkData {
                        min_t: o.min_t,
                        max_t: o.max_t(),
                        data: ChunkBytes::Buffer(start..part.bytes.len()),
                    });
                }
            }
            if part.chunks.len() == first_chunk {
                continue;
            }
            let first_deleted = part.deleted.len();
            if has_tombstones && let Some(iv) = tombstones.get(&s.series_ref) {
                part.deleted.extend_from_slice(iv);
            }
            part.series.push(SnapSeries {
                series: s,
                chunks: first_chunk..part.chunks.len(),
                deleted: first_deleted..part.deleted.len(),
            });
        }
    }
}

/// Below this many series [`sort_by_labels`] compares the labels themselves.
const SORT_KEYS_MIN: usize = 64;

/// Sorts `series` by their labels (`Labels`' order).
///
/// Comparing `Labels` chases each series' labels and their interned strings through
/// memory, about `log2(n)` times per series; over a head select of tens of thousands of
/// series that was a sixth of a range query over head and blocks. Instead each series'
/// labels are written once into one buffer in an encoding whose byte order is their
/// order ([`push_sort_key`]), and the sort compares those contiguous bytes.
///
/// A head block write sorts by symbol positions instead (`head/range.rs`), since it needs
/// the positions for writing anyway; for a select alone, building them was about 15%
/// slower than these keys over a sorted select of 100k series.
fn sort_by_labels(series: &mut Vec<SnapSeries>) {
    if series.len() < SORT_KEYS_MIN {
        series.sort_unstable_by(|a, b| a.series.labels.cmp(&b.series.labels));
        return;
    }
    let mut buf = Vec::new();
    let mut ends = Vec::with_capacity(series.len());
    for s in series.iter() {
        push_sort_key(&mut buf, &s.series.labels);
        ends.push(buf.len());
    }
    let key = |i: usize| &buf[if i == 0 { 0 } else { ends[i - 1] }..ends[i]];
    let mut order: Vec<usize> = (0..series.len()).collect();
    order.sort_unstable_by(|&a, &b| key(a).cmp(key(b)));
    let mut old: Vec<Option<SnapSeries>> = series.drain(..).map(Some).collect();
    series.extend(
        order
            .iter()
            .map(|&i| old[i].take().expect("a permutation takes each series once")),
    );
}

/// Appends `labels` to `buf` so that byte order of the encodings is `Labels`' order:
/// every name and value in turn, each with its NUL bytes escaped as `00 ff` and ended by
/// `00 01` (below any other byte and any escaped NUL, so a string sorts before its
/// extensions, as `str` does); a label set that is a prefix of another then encodes as a
/// prefix of it, and sorts first, as `Labels` does.
fn push_sort_key(buf: &mut Vec<u8>, labels: &Labels) {
    for l in labels.iter() {
        for part in [l.name.as_str(), l.value.as_str()] {
            let bytes = part.as_bytes();
            if bytes.contains(&0) {
                for &b in bytes {
                    buf.push(b);
                    if b == 0 {
                        buf.push(0xff);
                    }
                }
            } else {
                buf.extend_from_slice(bytes);
            }
            buf.extend_from_slice(&[0, 1]);
        }
    }
}

impl Querier for HeadQuerier<'_> {
    fn select(
        &self,
        sort: bool,
        hints: Option<&SelectHints>,
        matchers: &[Matcher],
    ) -> Result<Box<dyn SeriesSet>> {
        let limit = hints.map_or(0, |h| h.limit);
        let snap = self.snapshot(matchers, sort, limit)?;
        Ok(Box::new(SnapshotSeriesSet {
            part: 0,
            next: 0,
            left: snap.parts.iter().map(|p| p.series.len()).sum(),
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
    Shared(SlabBytes),
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

/// One selected series in a [`Part`] of a [`Snapshot`]: the series itself (for its
/// labels) and its ranges in the part's shared vectors.
#[derive(Debug)]
struct SnapSeries {
    series: Arc<MemSeries>,
    chunks: Range<usize>,
    deleted: Range<usize>,
}

/// What one select copied out of the head, shared by all series it hands out: one part,
/// or two filled on two threads; series are handed out part after part.
#[derive(Debug)]
struct Snapshot {
    parts: Vec<Part>,
    mint: i64,
    maxt: i64,
}

/// The series of one part of a snapshot and what was copied for them.
#[derive(Debug, Default)]
struct Part {
    series: Vec<SnapSeries>,
    chunks: Vec<ChunkData>,
    /// The open chunks' bytes, one after another.
    bytes: Vec<u8>,
    /// Tombstone intervals of the selected series, one list after another.
    deleted: Vec<(i64, i64)>,
}

/// A series selected from the head: an index into a part of the shared snapshot.
#[derive(Debug)]
struct HeadSeries {
    snap: Arc<Snapshot>,
    part: usize,
    idx: usize,
}

impl HeadSeries {
    fn part(&self) -> (&Part, &SnapSeries) {
        let part = &self.snap.parts[self.part];
        (part, &part.series[self.idx])
    }
}

impl Series for HeadSeries {
    fn labels(&self) -> &Labels {
        &self.part().1.series.labels
    }

    fn iterator(&self) -> Box<dyn SampleIterator + Send + '_> {
        let (part, s) = self.part();
        Box::new(ChunkSeriesIterator::new(
            &part.chunks[s.chunks.clone()],
            &part.bytes,
            self.snap.mint,
            self.snap.maxt,
            &part.deleted[s.deleted.clone()],
        ))
    }

    fn read_floats(&self, mint: i64, maxt: i64, out: &mut Vec<(i64, f64)>) -> Result<()> {
        let (part, s) = self.part();
        read_chunk_floats(
            &part.chunks[s.chunks.clone()],
            &part.bytes,
            mint.max(self.snap.mint),
            maxt.min(self.snap.maxt),
            &part.deleted[s.deleted.clone()],
            out,
        )
    }
}

/// Appends the samples of `chunks` (sorted, non-overlapping) in `[mint, maxt]` that are
/// not inside an interval of `deleted` to `out`: what a [`ChunkSeriesIterator`] over the
/// same arguments yields, decoded in one loop per chunk without its per-sample layers
/// (the engine reads every selected series this way).
pub(crate) fn read_chunk_floats(
    chunks: &[ChunkData],
    buffer: &[u8],
    mint: i64,
    maxt: i64,
    deleted: &[(i64, i64)],
    out: &mut Vec<(i64, f64)>,
) -> Result<()> {
    let is_deleted = |t: i64| deleted.iter().any(|&(a, b)| a <= t && t <= b);
    for c in chunks {
        if c.max_t < mint {
            continue;
        }
        if c.min_t > maxt {
            break;
        }
        let mut it = XorIterator::new(c.bytes(buffer));
        if deleted.is_empty() {
            it.read_floats_into(mint, maxt, |_| false, out);
        } else {
            it.read_floats_into(mint, maxt, is_deleted, out);
        }
        if let Some(e) = it.err() {
            return Err(Error::decode("xor chunk", e.to_string()));
        }
    }
    Ok(())
}

#[derive(Debug)]
struct SnapshotSeriesSet {
    snap: Arc<Snapshot>,
    part: usize,
    next: usize,
    left: usize,
}

impl Iterator for SnapshotSeriesSet {
    type Item = Result<Box<dyn Series>>;
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let part = self.snap.parts.get(self.part)?;
            if self.next < part.series.len() {
                break;
            }
            self.part += 1;
            self.next = 0;
        }
        let idx = self.next;
        self.next += 1;
        self.left -= 1;
        Some(Ok(Box::new(HeadSeries {
            snap: Arc::clone(&self.snap),
            part: self.part,
            idx,
        })))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
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

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::push_sort_key;
    use crate::labels::Labels;

    /// Names and values from a small alphabet with NUL and a multi-byte character, so
    /// that equal prefixes, strings that extend others and escaped NULs are common.
    fn labels() -> impl Strategy<Value = Labels> {
        let s = "[ab\u{0}\u{e9}]{0,3}";
        prop::collection::vec((s, s), 0..4).prop_map(|pairs| {
            let pairs: Vec<(&str, &str)> = pairs
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect();
            Labels::from_pairs(&pairs)
        })
    }

    proptest! {
        /// The sort key's byte order is `Labels`' order.
        #[test]
        fn sort_key_order_is_labels_order(a in labels(), b in labels()) {
            let (mut ka, mut kb) = (Vec::new(), Vec::new());
            push_sort_key(&mut ka, &a);
            push_sort_key(&mut kb, &b);
            prop_assert_eq!(ka.cmp(&kb), a.cmp(&b));
        }
    }
}
