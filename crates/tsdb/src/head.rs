//! The head: the in-memory block holding the most recent data.
//!
//! * [`series`]: every series with its open chunk and sealed (compressed) chunks,
//!   found through striped maps by reference or by label hash.
//! * postings: a [`MemPostings`] inverted index (roaring bitmaps of series ids).
//! * [`append`]: [`HeadAppender`] batches samples; commit writes the WAL first, then
//!   makes the samples visible.
//! * [`read`]: [`HeadQuerier`], the head's implementation of the storage traits.
//! * `replay`: rebuilding the head from a WAL checkpoint and segments on open.
//! * `delete`: tombstones ([`Head::delete`]); [`stats`]: cardinality ([`Head::stats`]).
//!
//! Sealed chunks stay in memory, compressed (about 1.4 bytes per sample); see
//! `docs/ARCHITECTURE.md` for why they are not m-mapped to `chunks_head/` yet.
//!
//! Series ids in postings are the low 32 bits of the series reference; references start
//! at 1 and are never reused, so a head can create 2³² − 1 series in its life.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use parking_lot::RwLock;
use prometheus_client::registry::Registry;

use crate::chunkenc::cut::CutOptions;
use crate::error::{Error, Result};
use crate::index::postings::MemPostings;
use crate::labels::{Labels, SymbolTable};
use crate::metrics::HeadMetrics;
use crate::options::Options;
use crate::record::{HeadSeriesRef, RefMetadata};
use crate::wal::{self, Wal, WalMetrics, WalOptions, WalWriter};

pub mod append;
mod delete;
pub mod exemplars;
pub mod metadata;
pub mod range;
pub mod read;
mod replay;
pub mod series;
mod slabs;
pub mod stats;

pub use append::HeadAppender;
pub use range::{RangeChunk, RangeSeries};
pub use read::HeadQuerier;
pub use series::MemSeries;
pub use slabs::SlabBytes;

use exemplars::{ExemplarMetrics, ExemplarStorage};
use series::StripeSeries;

/// Closed time intervals `[mint, maxt]` deleted from one series.
pub(crate) type Intervals = Vec<(i64, i64)>;

/// The in-memory block: series, chunks, postings and (optionally) the WAL writer.
#[derive(Debug)]
pub struct Head {
    cut: CutOptions,
    pub(crate) symbols: SymbolTable,
    pub(crate) series: StripeSeries,
    /// Where sealed chunks' bytes live.
    pub(crate) chunk_slabs: slabs::ChunkSlabs,
    pub(crate) postings: MemPostings,
    /// Tombstones read from the WAL, applied when reading.
    pub(crate) tombstones: RwLock<std::collections::HashMap<HeadSeriesRef, Intervals>>,
    /// The latest metadata record per series.
    pub(crate) metadata: RwLock<std::collections::HashMap<HeadSeriesRef, RefMetadata>>,
    /// Exemplars of all series, in a bounded ring.
    pub(crate) exemplars: exemplars::ExemplarStorage,
    /// Metric-family metadata received without series (remote write 1.0), memory only.
    pub(crate) families: metadata::FamilyMetadata,
    min_time: AtomicI64,
    max_time: AtomicI64,
    /// Samples older than this are out of bounds (raised by truncation).
    min_valid_time: AtomicI64,
    last_series_ref: AtomicU64,
    wal: Option<WalWriter>,
    wal_dir: Option<PathBuf>,
    wal_options: WalOptions,
    /// Commits apply to memory in WAL order (see [`ApplyOrder`]).
    pub(crate) apply_order: ApplyOrder,
    pub(crate) metrics: HeadMetrics,
    pub(crate) wal_metrics: WalMetrics,
}

/// Makes commits apply to memory in the order their records reached the WAL, so that
/// replaying the WAL rebuilds exactly the head that was visible (two commits racing on
/// one series would otherwise keep different samples in memory and after a restart).
#[derive(Debug, Default)]
pub(crate) struct ApplyOrder {
    next: parking_lot::Mutex<u64>,
    turn: parking_lot::Condvar,
}

/// The right to apply commit `seq`; passes the turn on when dropped (even on panic).
#[derive(Debug)]
pub(crate) struct ApplyTurn<'a> {
    order: &'a ApplyOrder,
    seq: u64,
}

impl ApplyOrder {
    /// Blocks until every commit before `seq` has applied.
    pub(crate) fn wait(&self, seq: u64) -> ApplyTurn<'_> {
        let mut next = self.next.lock();
        while *next != seq {
            self.turn.wait(&mut next);
        }
        ApplyTurn { order: self, seq }
    }
}

impl Drop for ApplyTurn<'_> {
    fn drop(&mut self) {
        *self.order.next.lock() = self.seq + 1;
        self.order.turn.notify_all();
    }
}

impl Head {
    /// Creates an empty head without a WAL (nothing it holds survives the process).
    pub fn new(opts: &Options, registry: &mut Registry) -> Result<Head> {
        opts.validate()?;
        let mut head = Head::empty(
            opts,
            HeadMetrics::register(registry),
            WalMetrics::new(registry),
        );
        head.exemplars =
            ExemplarStorage::new(opts.max_exemplars, ExemplarMetrics::register(registry));
        Ok(head)
    }

    fn empty(opts: &Options, metrics: HeadMetrics, wal_metrics: WalMetrics) -> Head {
        Head {
            cut: opts.cut_options(),
            symbols: SymbolTable::new(),
            series: StripeSeries::new(),
            chunk_slabs: slabs::ChunkSlabs::new(opts.cut_options().chunk_range),
            postings: MemPostings::new(),
            tombstones: RwLock::default(),
            metadata: RwLock::default(),
            exemplars: ExemplarStorage::new(0, ExemplarMetrics::default()),
            families: metadata::FamilyMetadata::default(),
            min_time: AtomicI64::new(i64::MAX),
            max_time: AtomicI64::new(i64::MIN),
            min_valid_time: AtomicI64::new(i64::MIN),
            last_series_ref: AtomicU64::new(0),
            wal: None,
            wal_dir: None,
            wal_options: WalOptions {
                segment_size: opts.wal_segment_size,
                compression: opts.wal_compression,
            },
            apply_order: ApplyOrder::default(),
            metrics,
            wal_metrics,
        }
    }

    /// Opens a head whose WAL lives in `wal_dir`: replays the latest checkpoint and the
    /// segments after it (repairing a torn or corrupt tail), then starts the WAL writer.
    pub fn open(wal_dir: &Path, opts: &Options, registry: &mut Registry) -> Result<Head> {
        Head::open_from(wal_dir, opts, registry, i64::MIN)
    }

    /// [`Head::open`] for a head whose data before `min_valid_time` is already persisted
    /// in blocks: replay drops older samples (a crash between writing a block and
    /// truncating the WAL must not duplicate them) and appends below it are refused.
    pub fn open_from(
        wal_dir: &Path,
        opts: &Options,
        registry: &mut Registry,
        min_valid_time: i64,
    ) -> Result<Head> {
        opts.validate()?;
        let mut head = Head::empty(
            opts,
            HeadMetrics::register(registry),
            WalMetrics::new(registry),
        );
        head.exemplars =
            ExemplarStorage::new(opts.max_exemplars, ExemplarMetrics::register(registry));
        head.min_valid_time = AtomicI64::new(min_valid_time);
        head.replay(wal_dir, wal::OnDamage::Repair)?;
        if min_valid_time > i64::MIN {
            // Series whose samples all lay before `min_valid_time` are left empty.
            head.gc(min_valid_time);
        }
        let wal = Wal::open(wal_dir, head.wal_options.clone(), head.wal_metrics.clone())?;
        head.wal = Some(WalWriter::spawn(wal, opts.wal_sync));
        head.wal_dir = Some(wal_dir.to_path_buf());
        Ok(head)
    }

    /// A head rebuilt from the WAL in `wal_dir` for reading only, as Prometheus's read-only
    /// DB does for `promtool tsdb dump`: nothing is written (damage ends the replay instead
    /// of being repaired), no WAL writer runs, and no lock is needed. Samples before
    /// `min_valid_time` (already in blocks) are dropped. A missing `wal_dir` is an empty
    /// head. Appends to the returned head are kept in memory only.
    pub fn open_read_only(
        wal_dir: &Path,
        opts: &Options,
        registry: &mut Registry,
        min_valid_time: i64,
    ) -> Result<Head> {
        let mut head = Head::new(opts, registry)?;
        if !wal_dir.is_dir() {
            return Ok(head);
        }
        head.min_valid_time = AtomicI64::new(min_valid_time);
        head.replay(wal_dir, wal::OnDamage::Stop)?;
        if min_valid_time > i64::MIN {
            head.gc(min_valid_time);
        }
        Ok(head)
    }

    /// A new, empty batch of samples.
    pub fn appender(&self) -> HeadAppender<'_> {
        HeadAppender::new(self)
    }

    /// The reference of the series whose labels are the borrowed `pairs` (sorted by
    /// name, no empty values), without building a label set; `None` if absent.
    pub fn lookup<'a, I>(&self, pairs: I) -> Option<HeadSeriesRef>
    where
        I: Iterator<Item = (&'a str, &'a str)> + Clone,
    {
        self.series_by_pairs(pairs).map(|s| s.series_ref)
    }

    /// The series whose labels are the borrowed `pairs` (sorted by name, no empty
    /// values), without building a label set; `None` if absent. Appending through the
    /// returned handle ([`HeadAppender::append_to`]) skips a second lookup by reference.
    pub fn series_by_pairs<'a, I>(&self, pairs: I) -> Option<Arc<MemSeries>>
    where
        I: Iterator<Item = (&'a str, &'a str)> + Clone,
    {
        let hash = crate::labels::hash_pairs(pairs.clone());
        self.series.get_by_pairs(hash, pairs)
    }

    /// [`Self::series_by_pairs`] for a batch of label sets (`None` entries give `None`),
    /// faster than one by one because the cache misses of different lookups overlap.
    pub fn series_by_pairs_many<'a, I>(&self, sets: Vec<Option<I>>) -> Vec<Option<Arc<MemSeries>>>
    where
        I: Iterator<Item = (&'a str, &'a str)> + Clone,
    {
        let keys: Vec<Option<(u64, I)>> = sets
            .into_iter()
            .map(|p| p.map(|p| (crate::labels::hash_pairs(p.clone()), p)))
            .collect();
        self.series.get_many_by_pairs(&keys)
    }

    /// The series whose labels are the borrowed `pairs`, created (and indexed) if absent.
    /// The labels of a new series are interned straight from the borrowed strings.
    /// Fails with [`AppendError::InvalidLabels`](crate::AppendError::InvalidLabels) when
    /// `pairs` is empty, unsorted, has a repeated name or an empty value.
    pub fn get_or_create_by_pairs<'a, I>(&self, pairs: I) -> Result<Arc<MemSeries>>
    where
        I: Iterator<Item = (&'a str, &'a str)> + Clone,
    {
        if !crate::labels::pairs_are_valid(pairs.clone()) {
            return Err(crate::AppendError::InvalidLabels.into());
        }
        let hash = crate::labels::hash_pairs(pairs.clone());
        let symbols = &self.symbols;
        let interned = || {
            Labels::from_sorted(
                pairs
                    .clone()
                    .map(|(n, v)| crate::labels::Label {
                        name: symbols.intern(n),
                        value: symbols.intern(v),
                    })
                    .collect(),
            )
        };
        Ok(self
            .get_or_create_hashed(hash, pairs.clone(), interned, None, false)?
            .0)
    }

    /// A querier over samples in `[mint, maxt]`.
    pub fn querier(&self, mint: i64, maxt: i64) -> HeadQuerier<'_> {
        HeadQuerier::new(self, mint, maxt)
    }

    /// Timestamp of the oldest sample (`i64::MAX` when empty).
    pub fn min_time(&self) -> i64 {
        self.min_time.load(Ordering::Acquire)
    }

    /// Timestamp of the newest sample (`i64::MIN` when empty).
    pub fn max_time(&self) -> i64 {
        self.max_time.load(Ordering::Acquire)
    }

    /// Number of series in the head.
    pub fn num_series(&self) -> u64 {
        self.metrics.series.get().max(0) as u64
    }

    /// The head's metrics.
    pub fn metrics(&self) -> &HeadMetrics {
        &self.metrics
    }

    /// The WAL's metrics.
    pub fn wal_metrics(&self) -> &WalMetrics {
        &self.wal_metrics
    }

    /// The string interner shared by every series' labels.
    pub fn symbols(&self) -> &SymbolTable {
        &self.symbols
    }

    /// The oldest timestamp an appender created now accepts (Prometheus's
    /// `appendableMinValidTime`): nothing below the truncation point, nor more than half a
    /// chunk range behind the newest sample, so appends never race a head compaction.
    pub(crate) fn appendable_min_valid_time(&self) -> i64 {
        let min_valid = self.min_valid_time.load(Ordering::Acquire);
        let max_t = self.max_time();
        if max_t == i64::MIN {
            return min_valid;
        }
        min_valid.max(max_t.saturating_sub(self.cut.chunk_range / 2))
    }

    pub(crate) fn cut_options(&self) -> &CutOptions {
        &self.cut
    }

    pub(crate) fn wal(&self) -> Option<&WalWriter> {
        self.wal.as_ref()
    }

    pub(crate) fn next_series_ref(&self) -> HeadSeriesRef {
        self.last_series_ref.fetch_add(1, Ordering::AcqRel) + 1
    }

    /// Moves `last_series_ref` up to at least `r` (WAL replay).
    pub(crate) fn observe_series_ref(&self, r: HeadSeriesRef) {
        self.last_series_ref.fetch_max(r, Ordering::AcqRel);
    }

    /// Widens the head's time range to cover `[mint, maxt]`.
    pub(crate) fn update_time_range(&self, mint: i64, maxt: i64) {
        let lo = self.min_time.fetch_min(mint, Ordering::AcqRel).min(mint);
        let hi = self.max_time.fetch_max(maxt, Ordering::AcqRel).max(maxt);
        self.metrics.min_time.set(lo);
        self.metrics.max_time.set(hi);
    }

    /// Returns the series with `labels`, creating (and indexing) it if absent. `labels` must
    /// be valid. `series_ref` forces the reference of a new series (WAL replay).
    pub(crate) fn get_or_create(
        &self,
        labels: &Labels,
        series_ref: Option<HeadSeriesRef>,
        logged: bool,
    ) -> Result<(Arc<MemSeries>, bool)> {
        self.get_or_create_hashed(
            labels.hash_value(),
            labels.pairs(),
            || labels.interned(&self.symbols),
            series_ref,
            logged,
        )
    }

    /// [`Self::get_or_create`] for the labels `pairs`, hashing to `hash`; `interned` gives
    /// the labels a new series keeps (interned in the head's symbol table). It runs only
    /// when the series is absent, under the hash stripe's write lock.
    fn get_or_create_hashed<'a, I>(
        &self,
        hash: u64,
        pairs: I,
        interned: impl FnOnce() -> Labels,
        series_ref: Option<HeadSeriesRef>,
        logged: bool,
    ) -> Result<(Arc<MemSeries>, bool)>
    where
        I: Iterator<Item = (&'a str, &'a str)> + Clone,
    {
        let (s, created) = self.series.get_or_create(hash, pairs, || {
            let r = series_ref.unwrap_or_else(|| self.next_series_ref());
            MemSeries::new(r, interned(), logged)
        });
        if created {
            let id = postings_id(s.series_ref)?;
            self.postings.add(id, &s.labels);
            self.metrics.series.inc();
            self.metrics.series_created.inc();
        }
        Ok((s, created))
    }

    /// The series with `labels` (valid, and interned in the head's table), created with
    /// reference `series_ref` if absent (WAL replay). Unlike [`Self::get_or_create`] the
    /// labels move into a new series rather than being interned again, and the new
    /// series is not yet in the postings: the caller adds it (replay does so on its
    /// applying thread). The bool says whether it was created.
    pub(crate) fn get_or_insert_unindexed(
        &self,
        labels: Labels,
        series_ref: HeadSeriesRef,
    ) -> Result<(Arc<MemSeries>, bool)> {
        postings_id(series_ref)?;
        let hash = labels.hash_value();
        let s = Arc::new(MemSeries::new(series_ref, labels, true));
        let (s, created) = self.series.get_or_insert(hash, s);
        if created {
            self.metrics.series.inc();
            self.metrics.series_created.inc();
        }
        Ok((s, created))
    }

    /// Drops all data older than `mint`: chunks, then series left without chunks, then
    /// (with a WAL) folds the oldest two thirds of the segments into a checkpoint that keeps
    /// only live series and samples at or after `mint`, and deletes those segments.
    ///
    /// Call it once the data before `mint` is persisted elsewhere (in a block).
    pub fn truncate(&self, mint: i64) -> Result<()> {
        self.metrics.truncations.inc();
        self.min_valid_time.fetch_max(mint, Ordering::AcqRel);
        let lo = self.min_time.fetch_max(mint, Ordering::AcqRel).max(mint);
        self.metrics.min_time.set(lo);
        let started = std::time::Instant::now();
        let removed = self.gc(mint);
        self.chunk_slabs.close_before(mint);
        tracing::info!(
            removed_series = removed,
            duration_ms = started.elapsed().as_millis() as u64,
            "head GC completed"
        );
        if let (Some(w), Some(dir)) = (&self.wal, &self.wal_dir) {
            self.truncate_wal(w, dir, mint)?;
        }
        Ok(())
    }

    /// Removes chunks older than `mint` and the series left empty; returns how many series
    /// were removed.
    fn gc(&self, mint: i64) -> usize {
        let mut removed_chunks = 0usize;
        let mut dead = Vec::new();
        for s in self.series.all() {
            let mut st = s.state.lock();
            removed_chunks += st.truncate_before(mint);
            if st.pending == 0 && st.num_chunks() == 0 {
                st.deleted = true;
                drop(st);
                dead.push(s);
            }
        }
        if !dead.is_empty() {
            let mut ids = roaring::RoaringBitmap::new();
            for s in &dead {
                self.series.remove(s);
                ids.insert(s.series_ref as u32);
            }
            self.postings
                .delete(&ids, dead.iter().flat_map(|s| s.labels.iter()));
            let mut tomb = self.tombstones.write();
            let mut meta = self.metadata.write();
            for s in &dead {
                tomb.remove(&s.series_ref);
                meta.remove(&s.series_ref);
            }
        }
        self.metrics.chunks.dec_by(removed_chunks as i64);
        self.metrics.chunks_removed.inc_by(removed_chunks as u64);
        self.metrics.series.dec_by(dead.len() as i64);
        self.metrics.series_removed.inc_by(dead.len() as u64);
        let n = dead.len();
        drop(dead);
        self.symbols.purge();
        n
    }

    fn truncate_wal(&self, w: &WalWriter, dir: &Path, mint: i64) -> Result<()> {
        // A fresh segment first, so that little traffic still lets old segments go.
        w.with_wal(|wal| wal.next_segment())??;
        let segs = wal::segments(dir)?;
        let (Some(&first), Some(&last)) = (segs.first(), segs.last()) else {
            return Ok(());
        };
        let upto = first + (last - first) * 2 / 3;
        if upto <= first {
            return Ok(());
        }
        let started = std::time::Instant::now();
        // The postings' set of all series ids (a series' id is its ref) answers for each
        // sample without the cache miss a lookup in the series stripes costs (seconds at
        // 1M series). Taken after the segment switch, so every Series record in
        // `first..=upto` is of a series indexed before; series go only in `gc`, which ran.
        let live = self.postings.all();
        let keep = |r: HeadSeriesRef| u32::try_from(r).is_ok_and(|id| live.contains(id));
        let stats = wal::checkpoint(
            dir,
            first,
            upto,
            &keep,
            mint,
            &self.symbols,
            &self.wal_options,
        )?;
        w.with_wal(move |wal| wal.truncate(upto + 1))??;
        wal::delete_checkpoints(dir, upto)?;
        tracing::info!(
            first,
            last = upto,
            series = stats.total_series,
            dropped_samples = stats.dropped_samples,
            duration_ms = started.elapsed().as_millis() as u64,
            "WAL checkpoint complete"
        );
        Ok(())
    }

    /// Flushes and stops the WAL writer. Further commits fail with [`Error::Closed`].
    pub fn close(&self) -> Result<()> {
        match &self.wal {
            Some(w) => w.close(),
            None => Ok(()),
        }
    }
}

/// The postings id of a series reference.
pub(crate) fn postings_id(r: HeadSeriesRef) -> Result<u32> {
    u32::try_from(r).map_err(|_| Error::TooManySeries {
        limit: u64::from(u32::MAX),
    })
}
