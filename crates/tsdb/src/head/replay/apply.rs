//! The second half of a replay: [`Applier`] takes decoded records ([`Batch`]es), in WAL
//! order, and applies them to the head: samples to their series' chunks, tombstones,
//! metadata and exemplars to theirs.

use std::sync::Arc;

use crate::head::exemplars::Exemplar;
use crate::head::replay::refs::RefTable;
use crate::head::series::{Appendable, MemSeries, prefetch_series_state};
use crate::head::{Head, postings_id};
use crate::record::{HeadSeriesRef, RefExemplar, RefMetadata, RefSample, Tombstone};

/// Decoded records, in WAL order. Samples of consecutive records may share one batch.
pub(super) enum Batch {
    /// What the references of a Series record name.
    Series(Vec<SeriesEntry>),
    /// Samples at or after the head's minimum valid time.
    Samples(Vec<RefSample>),
    /// Deleted intervals.
    Tombstones(Vec<Tombstone>),
    /// Metadata.
    Metadata(Vec<RefMetadata>),
    /// Exemplars.
    Exemplars(Vec<RefExemplar>),
}

/// One reference of a Series record and the series it names.
pub(super) struct SeriesEntry {
    /// The reference in the record.
    pub(super) wal_ref: HeadSeriesRef,
    /// Whether `wal_ref` is an alias: the label set was first logged under another one.
    pub(super) alias: bool,
    /// Whether the decoder created the series; the applier then adds it to the postings.
    pub(super) created: bool,
    pub(super) series: Arc<MemSeries>,
}

/// What the applier added, for the head's time range and metrics.
#[derive(Debug, Clone, Copy)]
pub(super) struct Applied {
    pub(super) mint: i64,
    pub(super) maxt: i64,
    pub(super) chunks: i64,
    pub(super) samples: u64,
}

impl Default for Applied {
    fn default() -> Self {
        Self {
            mint: i64::MAX,
            maxt: i64::MIN,
            chunks: 0,
            samples: 0,
        }
    }
}

/// Applies batches to a head, in order.
#[derive(Default)]
pub(super) struct Applier {
    refs: RefTable,
    pub(super) applied: Applied,
}

impl Applier {
    /// Applies `b`; gives back a samples buffer, emptied, for reuse.
    pub(super) fn apply(&mut self, head: &Head, b: Batch) -> Option<Vec<RefSample>> {
        match b {
            Batch::Series(entries) => {
                for e in entries {
                    if e.created {
                        let id = postings_id(e.series.series_ref)
                            .expect("get_or_insert_unindexed checked the reference");
                        head.postings.add(id, &e.series.labels);
                    }
                    self.refs.insert(e.wal_ref, e.series, e.alias);
                }
            }
            Batch::Samples(mut samples) => {
                self.samples(head, &samples);
                samples.clear();
                return Some(samples);
            }
            Batch::Tombstones(ts) => {
                let mut tomb = head.tombstones.write();
                for t in &ts {
                    let Some(s) = self.refs.get(t.series_ref) else {
                        continue;
                    };
                    tomb.entry(s.series_ref).or_default().push((t.mint, t.maxt));
                }
            }
            Batch::Metadata(ms) => {
                let mut meta = head.metadata.write();
                for mut m in ms {
                    let Some(s) = self.refs.get(m.series_ref) else {
                        continue;
                    };
                    m.series_ref = s.series_ref;
                    meta.insert(s.series_ref, m);
                }
            }
            Batch::Exemplars(xs) => {
                for x in xs {
                    if let Some(s) = self.refs.get(x.series_ref) {
                        let e = Exemplar {
                            labels: x.labels,
                            v: x.v,
                            t: x.t,
                        };
                        head.exemplars.add(s.series_ref, e);
                    }
                }
            }
        }
        None
    }

    fn samples(&mut self, head: &Head, samples: &[RefSample]) {
        let cut = head.cut_options();
        let a = &mut self.applied;
        // Three cache misses per sample (the table slot, the series, its open chunk)
        // would each wait for the one before, and consecutive samples name different
        // series; so each is prefetched for a later sample: the slot three steps ahead,
        // the series two, the chunk one.
        const AHEAD: usize = 6;
        for (i, smp) in samples.iter().enumerate() {
            if let Some(next) = samples.get(i + 3 * AHEAD) {
                self.refs.prefetch(next.series_ref);
            }
            if let Some(next) = samples.get(i + 2 * AHEAD)
                && let Some(s) = self.refs.get(next.series_ref)
            {
                prefetch_series_state(s);
            }
            if let Some(next) = samples.get(i + AHEAD)
                && let Some(s) = self.refs.get(next.series_ref)
            {
                s.state.lock().prefetch_open_chunk();
            }
            let Some(s) = self.refs.get(smp.series_ref) else {
                head.metrics.wal_replay_unknown_refs.inc();
                continue;
            };
            let mut st = s.state.lock();
            match st.appendable(smp.t, smp.v) {
                Ok(Appendable::Append) => {
                    if st.append(smp.t, smp.v, cut, &head.chunk_slabs) {
                        a.chunks += 1;
                    }
                    a.samples += 1;
                    a.mint = a.mint.min(smp.t);
                    a.maxt = a.maxt.max(smp.t);
                }
                Ok(Appendable::Duplicate) => {}
                Err(_) => {
                    head.metrics.out_of_order_samples.inc();
                }
            }
        }
    }
}
