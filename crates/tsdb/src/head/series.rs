//! The head's series: [`MemSeries`] with its chunks, and `StripeSeries`, the striped
//! maps that find a series by reference or by label hash (with collision handling).
//!
//! Lock order: a hash stripe, then a ref stripe, then a series' state. Nobody takes a
//! stripe lock while holding a series' state lock.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

use crate::chunkenc::XorAppender;
use crate::chunkenc::cut::{ChunkCutter, CutOptions, OpenChunkInfo};
use crate::chunkenc::xor::SAMPLE_ROOM;
use crate::error::AppendError;
use crate::head::slabs::{ChunkSlabs, SlabBytes};
use crate::labels::Labels;
use crate::record::HeadSeriesRef;

/// A sealed, immutable head chunk, shared with readers by reference count (its bytes
/// live in one of the head's [`ChunkSlabs`]). 32 bytes, one per chunk of every series.
#[derive(Debug, Clone)]
pub(crate) struct SealedChunk {
    pub(crate) min_t: i64,
    pub(crate) max_t: i64,
    pub(crate) data: SlabBytes,
}

/// The chunk a series is appending to; it holds at least one sample.
#[derive(Debug)]
pub(crate) struct OpenChunk {
    pub(crate) min_t: i64,
    pub(crate) app: XorAppender,
}

impl OpenChunk {
    /// Timestamp of the newest sample (the appender keeps it for its deltas).
    pub(crate) fn max_t(&self) -> i64 {
        self.app.last_t()
    }
}

/// What an append to a series would do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Appendable {
    /// The sample is newer than everything in the series.
    Append,
    /// Same timestamp and same value bits as the newest sample: accepted, nothing to store.
    Duplicate,
}

/// The mutable part of a series, behind its mutex.
///
/// Invariant: a series with sealed chunks has an open one (a cut seals the open chunk and
/// opens the next at once; truncation drops the open chunk only with the last sealed
/// one), so the open chunk's appender knows the newest sample.
#[derive(Debug)]
pub(crate) struct SeriesState {
    /// Time-ordered; grown one slot at a time (most series hold one or two).
    pub(crate) sealed: Vec<SealedChunk>,
    pub(crate) open: Option<OpenChunk>,
    cutter: ChunkCutter,
    /// Whether a Series record for this series is durable in the WAL.
    pub(crate) logged: bool,
    /// Samples appended to uncommitted appenders; garbage collection skips the series while > 0.
    pub(crate) pending: u32,
    /// Set by garbage collection once the series left the maps; appenders must look it up again.
    pub(crate) deleted: bool,
}

impl SeriesState {
    fn new(logged: bool) -> Self {
        Self {
            sealed: Vec::new(),
            open: None,
            cutter: ChunkCutter::default(),
            logged,
            pending: 0,
            deleted: false,
        }
    }

    /// Timestamp of the newest sample.
    pub(crate) fn max_t(&self) -> Option<i64> {
        self.open.as_ref().map(OpenChunk::max_t)
    }

    /// Hints the CPU to load the open chunk's header and its last bytes, where the next
    /// append reads and writes (no effect on results).
    #[inline(always)]
    pub(crate) fn prefetch_open_chunk(&self) {
        if let Some(o) = &self.open {
            let b = o.app.bytes();
            prefetch(b.as_ptr());
            prefetch(b.as_ptr().wrapping_add(b.len()));
        }
    }

    /// Number of chunks, open one included.
    pub(crate) fn num_chunks(&self) -> usize {
        self.sealed.len() + usize::from(self.open.is_some())
    }

    /// Prometheus's classification of a new sample against the series' newest one.
    pub(crate) fn appendable(&self, t: i64, v: f64) -> Result<Appendable, AppendError> {
        let Some(open) = &self.open else {
            return Ok(Appendable::Append);
        };
        match open.max_t() {
            max_t if t > max_t => Ok(Appendable::Append),
            max_t if t == max_t => {
                if v.to_bits() == open.app.last_value_bits() {
                    Ok(Appendable::Duplicate)
                } else {
                    Err(AppendError::DuplicateSampleForTimestamp)
                }
            }
            _ => Err(AppendError::OutOfOrder),
        }
    }

    /// Appends a sample [`SeriesState::appendable`] accepted; returns whether a chunk was
    /// cut (the sealed chunk's bytes then go to `slabs`).
    pub(crate) fn append(&mut self, t: i64, v: f64, opts: &CutOptions, slabs: &ChunkSlabs) -> bool {
        let info = self.open.as_ref().map(|o| OpenChunkInfo {
            min_t: o.min_t,
            max_t: o.max_t(),
            num_samples: o.app.num_samples(),
            bytes_len: o.app.bytes().len(),
        });
        let cut = self.cutter.cut_before(info.as_ref(), t, opts);
        if cut {
            match &mut self.open {
                Some(o) => {
                    let (max_t, len) = (o.max_t(), o.app.bytes().len());
                    // Exact growth: a doubling `Vec` would start at four slots per series.
                    self.sealed.reserve_exact(1);
                    self.sealed.push(SealedChunk {
                        min_t: o.min_t,
                        max_t,
                        data: slabs.seal(max_t, o.app.bytes()),
                    });
                    // The next chunk will most likely be as long as this one: room for
                    // that in the same buffer.
                    o.min_t = t;
                    o.app.restart(len + SAMPLE_ROOM);
                }
                None => {
                    self.open = Some(OpenChunk {
                        min_t: t,
                        app: XorAppender::new(),
                    })
                }
            }
        }
        let open = self
            .open
            .as_mut()
            .expect("cut_before asks for a chunk when there is none");
        open.app.append(t, v);
        cut
    }

    /// Drops chunks whose samples are all older than `mint`; returns how many were dropped.
    pub(crate) fn truncate_before(&mut self, mint: i64) -> usize {
        let keep_from = self.sealed.partition_point(|c| c.max_t < mint);
        self.sealed.drain(..keep_from);
        if keep_from > 0 {
            self.sealed.shrink_to_fit();
        }
        let mut removed = keep_from;
        if self.sealed.is_empty() && self.open.as_ref().is_some_and(|o| o.max_t() < mint) {
            self.open = None;
            removed += 1;
        }
        removed
    }
}

/// One series of the head.
#[derive(Debug)]
pub struct MemSeries {
    pub(crate) series_ref: HeadSeriesRef,
    pub(crate) labels: Labels,
    pub(crate) state: Mutex<SeriesState>,
}

impl MemSeries {
    pub(crate) fn new(series_ref: HeadSeriesRef, labels: Labels, logged: bool) -> Self {
        Self {
            series_ref,
            labels,
            state: Mutex::new(SeriesState::new(logged)),
        }
    }

    /// The series' labels.
    pub fn labels(&self) -> &Labels {
        &self.labels
    }

    /// The series' reference (its id in WAL records).
    pub fn series_ref(&self) -> HeadSeriesRef {
        self.series_ref
    }
}

/// A hasher for keys that are already well-mixed 64-bit numbers (label hashes) or
/// sequential ones (series refs); far cheaper than the standard library's SipHash.
#[derive(Debug, Default, Clone, Copy)]
pub struct U64Hasher(u64);

impl Hasher for U64Hasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        // Fibonacci hashing spreads sequential refs over the high bits the table uses.
        self.0 = v.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// A map keyed by series ref or label hash, with [`U64Hasher`].
pub type U64Map<V> = HashMap<u64, V, BuildHasherDefault<U64Hasher>>;

#[derive(Debug, Default)]
struct HashStripe {
    /// The first series seen for each hash.
    by_hash: U64Map<Arc<MemSeries>>,
    /// Further series whose labels hash to an already used value (rare).
    conflicts: U64Map<Vec<Arc<MemSeries>>>,
}

impl HashStripe {
    /// The series whose labels are `pairs` (hashing to `hash`), if any.
    fn get<'a, I>(&self, hash: u64, pairs: I) -> Option<&Arc<MemSeries>>
    where
        I: Iterator<Item = (&'a str, &'a str)> + Clone,
    {
        let s = self.by_hash.get(&hash)?;
        if s.labels.eq_pairs(pairs.clone()) {
            return Some(s);
        }
        self.conflicts
            .get(&hash)?
            .iter()
            .find(|s| s.labels.eq_pairs(pairs.clone()))
    }

    fn insert(&mut self, hash: u64, s: Arc<MemSeries>) {
        match self.by_hash.entry(hash) {
            std::collections::hash_map::Entry::Occupied(_) => {
                self.conflicts.entry(hash).or_default().push(s);
            }
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(s);
            }
        }
    }

    fn remove(&mut self, hash: u64, series_ref: HeadSeriesRef) {
        if self
            .by_hash
            .get(&hash)
            .is_some_and(|s| s.series_ref == series_ref)
        {
            self.by_hash.remove(&hash);
            // Promote a conflicting series, if any, to the primary map.
            if let Some(list) = self.conflicts.get_mut(&hash) {
                if let Some(s) = list.pop() {
                    self.by_hash.insert(hash, s);
                }
                if list.is_empty() {
                    self.conflicts.remove(&hash);
                }
            }
        } else if let Some(list) = self.conflicts.get_mut(&hash) {
            list.retain(|s| s.series_ref != series_ref);
            if list.is_empty() {
                self.conflicts.remove(&hash);
            }
        }
    }
}

const STRIPES: usize = 1 << 10;

/// Fewer stripes for the label-hash maps: a batch lookup takes each stripe's lock once
/// for all its keys (see [`StripeSeries::get_many_by_pairs`]), so the fewer stripes, the
/// more keys' table misses overlap under one lock; 64 stripes give a 2000-series
/// request about 30 keys per stripe. Their locks are written only to create or remove
/// a series.
const HASH_STRIPES: usize = 1 << 6;

/// Asks the CPU to start loading the cache line at `p` (a hint with no effect on
/// results; it never faults, whatever the address).
#[inline(always)]
pub(crate) fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `_mm_prefetch` needs SSE, which every x86_64 CPU has; a prefetch reads
    // nothing the program sees and does not fault on any address.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(p.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// The hash stripe of a label hash.
fn stripe_index(hash: u64) -> usize {
    (hash as usize) & (HASH_STRIPES - 1)
}

/// Prefetches the start of a series' allocation: its reference counts, ref and labels.
#[inline(always)]
fn prefetch_series(s: &Arc<MemSeries>) {
    // `Arc::as_ptr` points past the two counts at the start of the allocation.
    let p = Arc::as_ptr(s).cast::<u8>();
    prefetch(p.wrapping_sub(2 * std::mem::size_of::<usize>()));
    prefetch(p.wrapping_add(32));
}

/// Prefetches all of a series' allocation (counts, labels, state and its lock), for a
/// loop that will lock it a few iterations later.
#[inline(always)]
pub(crate) fn prefetch_series_state(s: &Arc<MemSeries>) {
    let start = Arc::as_ptr(s)
        .cast::<u8>()
        .wrapping_sub(2 * std::mem::size_of::<usize>());
    let len = std::mem::size_of::<MemSeries>() + 2 * std::mem::size_of::<usize>();
    for off in (0..len).step_by(64) {
        prefetch(start.wrapping_add(off));
    }
}

/// The head's series, striped by reference and by label hash to spread lock contention.
#[derive(Debug)]
pub(crate) struct StripeSeries {
    refs: Box<[RwLock<U64Map<Arc<MemSeries>>>]>,
    hashes: Box<[RwLock<HashStripe>]>,
}

impl StripeSeries {
    pub(crate) fn new() -> Self {
        Self {
            refs: (0..STRIPES)
                .map(|_| RwLock::new(U64Map::default()))
                .collect(),
            hashes: (0..HASH_STRIPES)
                .map(|_| RwLock::new(HashStripe::default()))
                .collect(),
        }
    }

    fn ref_stripe(&self, r: HeadSeriesRef) -> &RwLock<U64Map<Arc<MemSeries>>> {
        &self.refs[(r as usize) & (STRIPES - 1)]
    }

    fn hash_stripe(&self, hash: u64) -> &RwLock<HashStripe> {
        &self.hashes[stripe_index(hash)]
    }

    pub(crate) fn get_by_ref(&self, r: HeadSeriesRef) -> Option<Arc<MemSeries>> {
        self.ref_stripe(r).read().get(&r).cloned()
    }

    /// The series of many refs at once (postings ids, the low 32 bits of refs), in the
    /// order of `refs`, as [`Self::get_by_ref`] finds them one by one.
    ///
    /// As in [`Self::get_many_by_pairs`], one-by-one lookups cannot overlap their cache
    /// misses (stripe lock, table probe, reference count), so refs are visited stripe by
    /// stripe (a counting sort), each stripe under one read lock, probed in runs with plain
    /// loads while the series found are prefetched, and cloned after each run.
    pub(crate) fn get_many_by_ref(&self, refs: &[u32]) -> Vec<Option<Arc<MemSeries>>> {
        /// Refs probed between two lock-prefixed instructions.
        const RUN: usize = 32;
        let mut found: Vec<Option<Arc<MemSeries>>> = vec![None; refs.len()];
        let stripe_of = |r: u32| (r as usize) & (STRIPES - 1);
        let mut end = vec![0usize; STRIPES + 1];
        for &r in refs {
            end[stripe_of(r) + 1] += 1;
        }
        for i in 1..end.len() {
            end[i] += end[i - 1];
        }
        let mut order = vec![0u32; refs.len()];
        for (i, &r) in refs.iter().enumerate() {
            let s = stripe_of(r);
            order[end[s]] = i as u32;
            end[s] += 1;
        }
        // `end[s]` is now where stripe `s`'s positions end.
        let mut lo = 0;
        for (s, &hi) in end[..STRIPES].iter().enumerate() {
            if lo == hi {
                continue;
            }
            let guard = self.refs[s].read();
            for run in order[lo..hi].chunks(RUN) {
                let mut cands: [Option<&Arc<MemSeries>>; RUN] = [None; RUN];
                for (c, &i) in cands.iter_mut().zip(run) {
                    *c = guard.get(&u64::from(refs[i as usize]));
                    if let Some(s) = c {
                        prefetch_series(s);
                    }
                }
                for (c, &i) in cands.iter().zip(run) {
                    found[i as usize] = c.cloned();
                }
            }
            drop(guard);
            lo = hi;
        }
        found
    }

    /// The series whose labels are the borrowed `pairs` (hashing to `hash`), if any.
    pub(crate) fn get_by_pairs<'a, I>(&self, hash: u64, pairs: I) -> Option<Arc<MemSeries>>
    where
        I: Iterator<Item = (&'a str, &'a str)> + Clone,
    {
        self.hash_stripe(hash).read().get(hash, pairs).cloned()
    }

    /// The series of many label sets at once (`None` entries are skipped), as
    /// [`Self::get_by_pairs`] finds them one by one.
    ///
    /// At 100k series and more, a lookup is a chain of dependent cache misses (stripe lock,
    /// table probe, series, label slice, value strings) that costs far more than its
    /// instructions, and the lock-prefixed instructions of a lookup (stripe lock and
    /// unlock, reference count) let no load pass them, so one-by-one lookups cannot
    /// overlap their misses. So the batch is done in two passes. The first visits the
    /// keys stripe by stripe and, under one read lock per stripe, probes a run of keys
    /// with plain loads (their table misses overlap), prefetches the candidate series,
    /// and only then clones them. The second compares labels in request order (outside
    /// the locks: a series' labels never change), with the label slices and value
    /// strings of later candidates prefetched. A candidate whose labels differ (a hash
    /// collision) is looked up again the ordinary way, which also searches the collision
    /// side map. A series created or removed meanwhile is found or missed as if the
    /// lookup had happened a little earlier or later, as with a single lookup.
    pub(crate) fn get_many_by_pairs<'a, I>(
        &self,
        keys: &[Option<(u64, I)>],
    ) -> Vec<Option<Arc<MemSeries>>>
    where
        I: Iterator<Item = (&'a str, &'a str)> + Clone,
    {
        const AHEAD: usize = 6;
        /// Keys probed between two lock-prefixed instructions.
        const RUN: usize = 32;
        let mut found: Vec<Option<Arc<MemSeries>>> = vec![None; keys.len()];
        // (stripe, index) of every key, in stripe order (a counting sort: no comparisons).
        let mut start = [0usize; HASH_STRIPES + 1];
        for (h, _) in keys.iter().flatten() {
            start[stripe_index(*h) + 1] += 1;
        }
        for i in 1..start.len() {
            start[i] += start[i - 1];
        }
        let mut order = vec![(0u32, 0u32); start[HASH_STRIPES]];
        for (i, key) in keys.iter().enumerate() {
            if let Some((h, _)) = key {
                let stripe = stripe_index(*h);
                order[start[stripe]] = (stripe as u32, i as u32);
                start[stripe] += 1;
            }
        }
        let mut rest = order.as_slice();
        while let Some(&(stripe, _)) = rest.first() {
            let len = rest.partition_point(|&(s, _)| s == stripe);
            let (group, next) = rest.split_at(len);
            // The lock and table header of a stripe a few keys on.
            if let Some(&(s, _)) = next.get(AHEAD).or(next.last()) {
                prefetch(&self.hashes[s as usize]);
            }
            let guard = self.hashes[stripe as usize].read();
            for run in group.chunks(RUN) {
                let mut cands: [Option<&Arc<MemSeries>>; RUN] = [None; RUN];
                for (c, &(_, i)) in cands.iter_mut().zip(run) {
                    let (h, _) = keys[i as usize].as_ref().expect("only keys are ordered");
                    *c = guard.by_hash.get(h);
                    if let Some(s) = c {
                        prefetch_series(s);
                    }
                }
                for (c, &(_, i)) in cands.iter().zip(run) {
                    found[i as usize] = c.cloned();
                }
            }
            drop(guard);
            rest = next;
        }
        // The label slices of a whole batch do not stay in the caches between the passes,
        // so they are prefetched here too, farther ahead than the strings they point to.
        for i in 0..keys.len() {
            if let Some(Some(s)) = found.get(i + 2 * AHEAD) {
                // Every cache line of the slice: ten labels span five.
                let labels = s.labels.as_slice();
                let bytes = std::mem::size_of_val(labels);
                for off in (0..bytes).step_by(64) {
                    prefetch(labels.as_ptr().cast::<u8>().wrapping_add(off));
                }
            }
            if let Some(Some(s)) = found.get(i + AHEAD) {
                for l in s.labels.iter() {
                    prefetch(l.value.as_str().as_ptr());
                }
            }
            let (Some((h, pairs)), Some(s)) = (&keys[i], &found[i]) else {
                continue;
            };
            if !s.labels.eq_pairs(pairs.clone()) {
                found[i] = self.get_by_pairs(*h, pairs.clone());
            }
        }
        found
    }

    /// Returns the series whose labels are `pairs` (hashing to `hash`), creating it with
    /// `create` if absent. The bool says whether it was created.
    pub(crate) fn get_or_create<'a, I>(
        &self,
        hash: u64,
        pairs: I,
        create: impl FnOnce() -> MemSeries,
    ) -> (Arc<MemSeries>, bool)
    where
        I: Iterator<Item = (&'a str, &'a str)> + Clone,
    {
        if let Some(s) = self.get_by_pairs(hash, pairs.clone()) {
            return (s, false);
        }
        let mut stripe = self.hash_stripe(hash).write();
        if let Some(s) = stripe.get(hash, pairs) {
            return (Arc::clone(s), false);
        }
        let s = Arc::new(create());
        self.insert_new(&mut stripe, hash, &s);
        (s, true)
    }

    /// Inserts `s`, whose labels hash to `hash`, unless a series with the same labels is
    /// there already; returns the series kept and whether it is `s`. (WAL replay builds
    /// the series first, so its decoded labels move into it instead of being copied.)
    pub(crate) fn get_or_insert(&self, hash: u64, s: Arc<MemSeries>) -> (Arc<MemSeries>, bool) {
        let mut stripe = self.hash_stripe(hash).write();
        if let Some(old) = stripe.get(hash, s.labels.pairs()) {
            return (Arc::clone(old), false);
        }
        self.insert_new(&mut stripe, hash, &s);
        (s, true)
    }

    /// Adds `s`, absent from its (write-locked) hash stripe, to both maps.
    fn insert_new(&self, stripe: &mut HashStripe, hash: u64, s: &Arc<MemSeries>) {
        stripe.insert(hash, Arc::clone(s));
        self.ref_stripe(s.series_ref)
            .write()
            .insert(s.series_ref, Arc::clone(s));
    }

    /// Removes a series from both maps.
    pub(crate) fn remove(&self, s: &MemSeries) {
        let hash = s.labels.hash_value();
        let mut stripe = self.hash_stripe(hash).write();
        stripe.remove(hash, s.series_ref);
        self.ref_stripe(s.series_ref).write().remove(&s.series_ref);
    }

    /// Calls `f` on every series, one ref stripe at a time (under its read lock).
    pub(crate) fn for_each(&self, mut f: impl FnMut(&Arc<MemSeries>)) {
        for stripe in self.refs.iter() {
            for s in stripe.read().values() {
                f(s);
            }
        }
    }

    /// Snapshot of every series, for work that must not hold stripe locks.
    pub(crate) fn all(&self) -> Vec<Arc<MemSeries>> {
        let mut out = Vec::new();
        self.for_each(|s| out.push(Arc::clone(s)));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(r: u64, v: &str) -> Arc<MemSeries> {
        Arc::new(MemSeries::new(r, Labels::from_pairs(&[("a", v)]), false))
    }

    #[test]
    fn hash_collisions_keep_series_apart() {
        // Three label sets forced onto one hash: each must be found, and removing any
        // one (the primary or a conflict) must leave the others reachable.
        let mut stripe = HashStripe::default();
        let (s1, s2, s3) = (series(1, "x"), series(2, "y"), series(3, "z"));
        for s in [&s1, &s2, &s3] {
            stripe.insert(42, Arc::clone(s));
        }
        for s in [&s1, &s2, &s3] {
            assert_eq!(
                stripe.get(42, s.labels.pairs()).map(|f| f.series_ref),
                Some(s.series_ref)
            );
        }
        assert!(
            stripe
                .get(42, Labels::from_pairs(&[("a", "w")]).pairs())
                .is_none()
        );
        stripe.remove(42, 1);
        assert!(stripe.get(42, s1.labels.pairs()).is_none());
        assert_eq!(
            stripe.get(42, s2.labels.pairs()).map(|f| f.series_ref),
            Some(2)
        );
        assert_eq!(
            stripe.get(42, s3.labels.pairs()).map(|f| f.series_ref),
            Some(3)
        );
        stripe.remove(42, 3);
        assert_eq!(
            stripe.get(42, s2.labels.pairs()).map(|f| f.series_ref),
            Some(2)
        );
        stripe.remove(42, 2);
        assert!(stripe.by_hash.is_empty() && stripe.conflicts.is_empty());
    }

    #[test]
    fn batch_lookup_matches_single_lookups() {
        // Two label sets forced onto hash 42 (the second lands in the collision map), one
        // on hash 7; the batch must find each by its labels, not by its hash alone.
        let stripes = StripeSeries::new();
        let sets = [("a", "x"), ("a", "y"), ("a", "z")];
        for (r, (h, pair)) in [(42, sets[0]), (42, sets[1]), (7, sets[2])]
            .into_iter()
            .enumerate()
        {
            let labels = Labels::from_pairs(&[pair]);
            stripes.get_or_create(h, labels.pairs(), || {
                MemSeries::new(r as u64 + 1, labels.clone(), false)
            });
        }
        let key = |h: u64, v: &'static str| Some((h, std::iter::once(("a", v))));
        let keys = [
            key(42, "y"),
            None,
            key(42, "x"),
            key(7, "z"),
            key(7, "w"),
            key(99, "x"),
        ];
        let found: Vec<Option<u64>> = stripes
            .get_many_by_pairs(&keys)
            .iter()
            .map(|s| s.as_ref().map(|s| s.series_ref))
            .collect();
        assert_eq!(found, [Some(2), None, Some(1), Some(3), None, None]);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// Batches far longer than a probe run, many keys per stripe, hash collisions,
        /// missing series and `None` keys: the batch finds what single lookups find.
        #[test]
        fn batch_lookup_matches_single_lookups_at_random(
            stored in proptest::collection::vec((0u64..300, 0u32..50), 0..400),
            wanted in proptest::collection::vec(
                proptest::option::of((0u64..300, 0u32..60)), 0..600,
            ),
        ) {
            // 300 hashes over three stripes, so that a stripe holds far more keys than a
            // probe run, and often the same hash for different values (collisions).
            let hash = |h: u64| (h << 6) | (h % 3);
            let stripes = StripeSeries::new();
            let values: Vec<String> = (0..60).map(|v| format!("v{v}")).collect();
            for (r, (h, v)) in stored.iter().enumerate() {
                let labels = Labels::from_pairs(&[("a", values[*v as usize].as_str())]);
                stripes.get_or_create(hash(*h), labels.pairs(), || {
                    MemSeries::new(r as u64 + 1, labels.clone(), false)
                });
            }
            let keys: Vec<_> = wanted
                .iter()
                .map(|k| k.map(|(h, v)| (hash(h), std::iter::once(("a", values[v as usize].as_str())))))
                .collect();
            let batch: Vec<Option<u64>> = stripes
                .get_many_by_pairs(&keys)
                .iter()
                .map(|s| s.as_ref().map(|s| s.series_ref))
                .collect();
            let single: Vec<Option<u64>> = keys
                .iter()
                .map(|k| {
                    let (h, pairs) = k.clone()?;
                    stripes.get_by_pairs(h, pairs).map(|s| s.series_ref)
                })
                .collect();
            proptest::prop_assert_eq!(batch, single);
        }
    }

    #[test]
    fn appendable_follows_prometheus() {
        let mut st = SeriesState::new(false);
        let cut = CutOptions::default();
        let slabs = ChunkSlabs::new(cut.chunk_range);
        assert_eq!(st.appendable(10, 1.0), Ok(Appendable::Append));
        st.append(10, 1.0, &cut, &slabs);
        assert_eq!(st.appendable(10, 1.0), Ok(Appendable::Duplicate));
        assert_eq!(
            st.appendable(10, 2.0),
            Err(AppendError::DuplicateSampleForTimestamp)
        );
        // NaN payloads compare by bits: the stale marker is not a duplicate of NaN.
        st.append(20, f64::NAN, &cut, &slabs);
        assert_eq!(
            st.appendable(20, f64::from_bits(0x7ff0_0000_0000_0002)),
            Err(AppendError::DuplicateSampleForTimestamp)
        );
        assert_eq!(st.appendable(20, f64::NAN), Ok(Appendable::Duplicate));
        assert_eq!(st.appendable(5, 1.0), Err(AppendError::OutOfOrder));
    }

    #[test]
    fn truncate_drops_whole_chunks_only() {
        let mut st = SeriesState::new(false);
        let cut = CutOptions::default();
        let slabs = ChunkSlabs::new(cut.chunk_range);
        // 15 s samples over 2 h: 4 chunks of 120 samples.
        for i in 0..480 {
            st.append(i * 15_000, i as f64, &cut, &slabs);
        }
        assert_eq!(st.num_chunks(), 4);
        let boundary = st.sealed[1].max_t;
        assert_eq!(
            st.truncate_before(boundary),
            1,
            "the chunk holding mint stays"
        );
        assert_eq!(st.truncate_before(boundary + 1), 1);
        assert_eq!(st.truncate_before(i64::MAX), 2);
        assert_eq!(st.num_chunks(), 0);
        assert_eq!(st.max_t(), None);
    }

    #[test]
    fn newest_sample_comes_from_the_open_chunk_across_cuts() {
        let mut st = SeriesState::new(false);
        let cut = CutOptions::default();
        let slabs = ChunkSlabs::new(cut.chunk_range);
        for i in 0..130 {
            st.append(i * 15_000, i as f64, &cut, &slabs);
        }
        assert_eq!(st.num_chunks(), 2, "a cut after 120 samples");
        assert_eq!(
            st.sealed.capacity(),
            1,
            "sealed chunks grow one slot at a time"
        );
        let (capacity, want) = (
            st.open.as_ref().expect("open chunk").app.capacity(),
            st.sealed[0].data.len() + SAMPLE_ROOM,
        );
        assert!(
            (want..=want + want / 8).contains(&capacity),
            "the next chunk is sized like the last: {capacity} for {want}"
        );
        assert_eq!(st.max_t(), Some(129 * 15_000));
        assert_eq!(
            st.appendable(129 * 15_000, 129.0),
            Ok(Appendable::Duplicate)
        );
        assert_eq!(
            st.appendable(129 * 15_000, 1.0),
            Err(AppendError::DuplicateSampleForTimestamp)
        );
        assert_eq!(
            st.appendable(128 * 15_000, 1.0),
            Err(AppendError::OutOfOrder)
        );
        assert_eq!(st.truncate_before(121 * 15_000), 1);
        assert_eq!(st.sealed.capacity(), 0, "truncation gives the slots back");
        assert_eq!(st.max_t(), Some(129 * 15_000));
    }

    #[test]
    fn a_series_is_at_most_136_bytes() {
        // Every active series has one: 1M series make a byte here a megabyte.
        assert!(
            std::mem::size_of::<MemSeries>() <= 136,
            "{}",
            std::mem::size_of::<MemSeries>()
        );
    }
}
