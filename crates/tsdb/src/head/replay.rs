//! Rebuilding the head from the WAL on open: the latest checkpoint, then every segment
//! after it, record by record (memory stays bounded by one record plus the head itself).
//!
//! Prometheus may log the same label set under a new reference after a restart; replay
//! maps such references onto the series first seen. Samples for references never seen
//! are counted in `prometheus_tsdb_wal_replay_unknown_refs_total` and dropped.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use tracing::info;

use crate::error::Result;
use crate::head::Head;
use crate::head::series::{Appendable, MemSeries};
use crate::record::{
    self, HeadSeriesRef, RecordType, RefMetadata, RefSample, RefSeries, Tombstone,
};
use crate::wal;

/// Scratch state of one replay.
#[derive(Default)]
struct Replay {
    /// WAL references that name a series first logged under another reference.
    aliases: HashMap<HeadSeriesRef, Arc<MemSeries>>,
    series: Vec<RefSeries>,
    samples: Vec<RefSample>,
    tombstones: Vec<Tombstone>,
    metadata: Vec<RefMetadata>,
    mint: i64,
    maxt: i64,
    chunks: i64,
    appended: u64,
}

impl Head {
    /// Replays the WAL in `dir`, handling damage as `on_damage` says.
    pub(super) fn replay(&mut self, dir: &Path, on_damage: wal::OnDamage) -> Result<()> {
        let started = std::time::Instant::now();
        let mut r = Replay {
            mint: i64::MAX,
            maxt: i64::MIN,
            ..Default::default()
        };
        let stats = wal::replay_with_checkpoint(
            dir,
            |rec| self.replay_record(rec, &mut r),
            &self.wal_metrics,
            on_damage,
        )?;
        if r.appended > 0 {
            self.update_time_range(r.mint, r.maxt);
        }
        self.metrics.chunks.inc_by(r.chunks);
        self.metrics.chunks_created.inc_by(r.chunks as u64);
        info!(
            records = stats.records,
            checkpoint = ?stats.checkpoint,
            corruption = ?stats.corruption,
            series = self.num_series(),
            samples = r.appended,
            duration_ms = started.elapsed().as_millis() as u64,
            "WAL replay completed"
        );
        Ok(())
    }

    fn resolve(&self, r: &Replay, series_ref: HeadSeriesRef) -> Option<Arc<MemSeries>> {
        self.series
            .get_by_ref(series_ref)
            .or_else(|| r.aliases.get(&series_ref).cloned())
    }

    fn replay_record(&self, rec: &[u8], r: &mut Replay) -> Result<()> {
        match record::record_type(rec) {
            RecordType::Series => {
                r.series.clear();
                record::decode_series(rec, &self.symbols, &mut r.series)?;
                for rs in r.series.drain(..) {
                    if rs.labels.is_empty() || !rs.labels.is_valid() {
                        continue;
                    }
                    self.observe_series_ref(rs.series_ref);
                    let (s, _) = self.get_or_create(&rs.labels, Some(rs.series_ref), true)?;
                    if s.series_ref != rs.series_ref {
                        r.aliases.insert(rs.series_ref, s);
                    }
                }
            }
            RecordType::Samples => {
                r.samples.clear();
                record::decode_samples(rec, &mut r.samples)?;
                let samples = std::mem::take(&mut r.samples);
                let min_valid = self
                    .min_valid_time
                    .load(std::sync::atomic::Ordering::Relaxed);
                for smp in samples.iter().filter(|s| s.t >= min_valid) {
                    let Some(s) = self.resolve(r, smp.series_ref) else {
                        self.metrics.wal_replay_unknown_refs.inc();
                        continue;
                    };
                    let mut st = s.state.lock();
                    match st.appendable(smp.t, smp.v) {
                        Ok(Appendable::Append) => {
                            if st.append(smp.t, smp.v, self.cut_options(), &self.chunk_slabs) {
                                r.chunks += 1;
                            }
                            r.appended += 1;
                            r.mint = r.mint.min(smp.t);
                            r.maxt = r.maxt.max(smp.t);
                        }
                        Ok(Appendable::Duplicate) => {}
                        Err(_) => {
                            self.metrics.out_of_order_samples.inc();
                        }
                    }
                }
                r.samples = samples;
            }
            RecordType::Tombstones => {
                r.tombstones.clear();
                record::decode_tombstones(rec, &mut r.tombstones)?;
                let mut tomb = self.tombstones.write();
                let tombstones = std::mem::take(&mut r.tombstones);
                for t in &tombstones {
                    let Some(s) = self.resolve(r, t.series_ref) else {
                        continue;
                    };
                    tomb.entry(s.series_ref).or_default().push((t.mint, t.maxt));
                }
                r.tombstones = tombstones;
            }
            RecordType::Metadata => {
                r.metadata.clear();
                record::decode_metadata(rec, &mut r.metadata)?;
                let mut meta = self.metadata.write();
                for mut m in std::mem::take(&mut r.metadata) {
                    let Some(s) = self.resolve(r, m.series_ref) else {
                        continue;
                    };
                    m.series_ref = s.series_ref;
                    meta.insert(s.series_ref, m);
                }
            }
            RecordType::Exemplars => {
                self.replay_exemplars(rec, |x| self.resolve(r, x).map(|s| s.series_ref))?;
            }
            // Histograms and the rest are not held by this head yet; skipping
            // them keeps the float samples of the same WAL readable.
            _ => {}
        }
        Ok(())
    }
}
