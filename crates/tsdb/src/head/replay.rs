//! Rebuilding the head from the WAL on open: the latest checkpoint, then every segment
//! after it, record by record (memory stays bounded by a few records plus the head).
//!
//! A replay has two halves. The decoder (this file) reads the WAL, decodes each record,
//! creates the series of Series records (interning labels), drops samples older than
//! the head's minimum valid time, and hands the rest on as [`apply::Batch`]es in WAL
//! order; the applier ([`apply::Applier`]) indexes new series in the postings, resolves
//! each sample's reference to its series and appends it. On a machine with more than one
//! core the applier runs on a thread of its own, fed through a bounded queue, so the
//! two halves overlap; the result is the same head either way, because one thread
//! applies everything in WAL order, and series are created before any later record
//! is applied. Decoding stays on the thread that reads the WAL, so a record that does
//! not decode still marks the damage at its own position.
//!
//! Prometheus may log the same label set under a new reference after a restart; replay
//! maps such references onto the series first seen. Samples for references never seen
//! are counted in `prometheus_tsdb_wal_replay_unknown_refs_total` and dropped.

mod apply;
mod refs;

use std::path::Path;
use std::sync::mpsc;

use tracing::info;

use crate::error::{Error, Result};
use crate::head::Head;
use crate::record::{self, RecordType, RefSample, RefSeries};
use crate::wal;
use apply::{Applied, Applier, Batch, SeriesEntry};

/// How many threads a replay uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReplayThreads {
    /// Decode and apply on the calling thread.
    One,
    /// Apply on a second thread while the calling thread reads and decodes.
    Two,
}

impl ReplayThreads {
    /// Two when the machine has more than one core.
    fn for_machine() -> Self {
        match std::thread::available_parallelism() {
            Ok(n) if n.get() > 1 => ReplayThreads::Two,
            _ => ReplayThreads::One,
        }
    }
}

/// Samples handed to the applier in one batch at least (unless another record comes
/// between): few enough to stay in the caches, many enough that the queue costs little
/// per sample.
const BATCH_SAMPLES: usize = 8192;

/// Batches queued for the applier thread at most (bounds the memory a fast decoder uses).
const QUEUE: usize = 16;

/// Where the decoder's batches go.
trait Sink {
    /// Hands `b` on, after every batch sent before it.
    fn send(&mut self, b: Batch);
    /// An empty buffer for samples, reused when the applier gave one back.
    fn buffer(&mut self) -> Vec<RefSample>;
}

/// The applier on the decoding thread.
struct Inline<'h> {
    head: &'h Head,
    applier: Applier,
    spare: Option<Vec<RefSample>>,
}

impl Sink for Inline<'_> {
    fn send(&mut self, b: Batch) {
        if let Some(v) = self.applier.apply(self.head, b) {
            self.spare = Some(v);
        }
    }

    fn buffer(&mut self) -> Vec<RefSample> {
        self.spare.take().unwrap_or_default()
    }
}

/// The queue to the applier thread, and the buffers it gives back.
struct Queue {
    tx: mpsc::SyncSender<Batch>,
    back: mpsc::Receiver<Vec<RefSample>>,
}

impl Sink for Queue {
    fn send(&mut self, b: Batch) {
        // The applier hangs up only by panicking; joining it reports that.
        let _ = self.tx.send(b);
    }

    fn buffer(&mut self) -> Vec<RefSample> {
        self.back.try_recv().unwrap_or_default()
    }
}

/// The first half of a replay: decodes records and creates series.
struct Decoder<'h> {
    head: &'h Head,
    min_valid: i64,
    series: Vec<RefSeries>,
    /// Samples decoded and not yet handed on.
    pending: Vec<RefSample>,
}

impl<'h> Decoder<'h> {
    fn new(head: &'h Head) -> Self {
        Self {
            head,
            min_valid: head
                .min_valid_time
                .load(std::sync::atomic::Ordering::Relaxed),
            series: Vec::new(),
            pending: Vec::new(),
        }
    }

    /// Decodes every record of the WAL in `dir` into `sink`, then hands on the samples
    /// still pending.
    fn run(
        &mut self,
        dir: &Path,
        on_damage: wal::OnDamage,
        sink: &mut dyn Sink,
    ) -> Result<wal::ReplayStats> {
        let metrics = &self.head.wal_metrics;
        let stats =
            wal::replay_with_checkpoint(dir, |rec| self.record(rec, sink), metrics, on_damage);
        self.flush(sink);
        stats
    }

    /// Hands on the samples decoded so far.
    fn flush(&mut self, sink: &mut dyn Sink) {
        if !self.pending.is_empty() {
            sink.send(Batch::Samples(std::mem::take(&mut self.pending)));
        }
    }

    /// Hands on `b`, after the samples before it.
    fn send(&mut self, sink: &mut dyn Sink, b: Batch) {
        self.flush(sink);
        sink.send(b);
    }

    fn record(&mut self, rec: &[u8], sink: &mut dyn Sink) -> Result<()> {
        let head = self.head;
        match record::record_type(rec) {
            RecordType::Series => {
                self.series.clear();
                record::decode_series(rec, &head.symbols, &mut self.series)?;
                let mut found = Vec::with_capacity(self.series.len());
                for rs in self.series.drain(..) {
                    if rs.labels.is_empty() || !rs.labels.is_valid() {
                        continue;
                    }
                    head.observe_series_ref(rs.series_ref);
                    // The decoder interned the labels in the head's table already, so
                    // they move into a new series as they are.
                    let (s, created) = head.get_or_insert_unindexed(rs.labels, rs.series_ref)?;
                    found.push(SeriesEntry {
                        wal_ref: rs.series_ref,
                        alias: s.series_ref != rs.series_ref,
                        created,
                        series: s,
                    });
                }
                if !found.is_empty() {
                    self.send(sink, Batch::Series(found));
                }
            }
            RecordType::Samples => {
                if self.pending.capacity() == 0 {
                    self.pending = sink.buffer();
                }
                let from = self.pending.len();
                record::decode_samples(rec, &mut self.pending)?;
                if self.min_valid > i64::MIN {
                    let mut kept = from;
                    for i in from..self.pending.len() {
                        if self.pending[i].t >= self.min_valid {
                            self.pending[kept] = self.pending[i];
                            kept += 1;
                        }
                    }
                    self.pending.truncate(kept);
                }
                if self.pending.len() >= BATCH_SAMPLES {
                    self.flush(sink);
                }
            }
            RecordType::Tombstones => {
                let mut v = Vec::new();
                record::decode_tombstones(rec, &mut v)?;
                self.send(sink, Batch::Tombstones(v));
            }
            RecordType::Metadata => {
                let mut v = Vec::new();
                record::decode_metadata(rec, &mut v)?;
                self.send(sink, Batch::Metadata(v));
            }
            RecordType::Exemplars => {
                let mut v = Vec::new();
                record::decode_exemplars(rec, &head.symbols, &mut v)?;
                self.send(sink, Batch::Exemplars(v));
            }
            // Histograms and the rest are not held by this head yet; skipping
            // them keeps the float samples of the same WAL readable.
            _ => {}
        }
        Ok(())
    }
}

impl Head {
    /// Replays the WAL in `dir`, handling damage as `on_damage` says, on two threads
    /// when the machine has more than one core.
    pub(super) fn replay(&mut self, dir: &Path, on_damage: wal::OnDamage) -> Result<()> {
        self.replay_with(dir, on_damage, ReplayThreads::for_machine())
    }

    /// [`Head::replay`] on the given number of threads.
    pub(crate) fn replay_with(
        &mut self,
        dir: &Path,
        on_damage: wal::OnDamage,
        threads: ReplayThreads,
    ) -> Result<()> {
        let started = std::time::Instant::now();
        let head: &Head = self;
        let mut dec = Decoder::new(head);
        let (stats, applied) = match threads {
            ReplayThreads::One => {
                let mut sink = Inline {
                    head,
                    applier: Applier::default(),
                    spare: None,
                };
                let stats = dec.run(dir, on_damage, &mut sink);
                (stats, sink.applier.applied)
            }
            ReplayThreads::Two => std::thread::scope(|scope| -> Result<_> {
                let (tx, rx) = mpsc::sync_channel::<Batch>(QUEUE);
                let (back_tx, back) = mpsc::channel();
                let applier = std::thread::Builder::new()
                    .name("tsdb-replay".into())
                    .spawn_scoped(scope, move || {
                        let mut a = Applier::default();
                        for b in rx {
                            if let Some(v) = a.apply(head, b) {
                                let _ = back_tx.send(v);
                            }
                        }
                        a.applied
                    })
                    .map_err(|e| Error::io("spawn the WAL replay thread", dir, e))?;
                let mut sink = Queue { tx, back };
                let stats = dec.run(dir, on_damage, &mut sink);
                drop(sink);
                let applied = applier
                    .join()
                    .unwrap_or_else(|p| std::panic::resume_unwind(p));
                Ok((stats, applied))
            })?,
        };
        let stats = stats?;
        let Applied {
            mint,
            maxt,
            chunks,
            samples,
        } = applied;
        if samples > 0 {
            self.update_time_range(mint, maxt);
        }
        self.metrics.chunks.inc_by(chunks);
        self.metrics.chunks_created.inc_by(chunks as u64);
        info!(
            records = stats.records,
            checkpoint = ?stats.checkpoint,
            corruption = ?stats.corruption,
            series = self.num_series(),
            samples,
            threads = ?threads,
            duration_ms = started.elapsed().as_millis() as u64,
            "WAL replay completed"
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests;
