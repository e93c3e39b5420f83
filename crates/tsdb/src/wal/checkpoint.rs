//! Checkpoints: old WAL segments folded into `checkpoint.NNNNNNNN` (Prometheus's
//! `wlog/checkpoint.go`, driven by `Head.truncateWAL`).
//!
//! A checkpoint is a directory of ordinary segments holding what is still needed from
//! the previous checkpoint and segments `from..=to`: Series records of series the head
//! still has (`keep`), samples, histograms and exemplars of those series with
//! `t >= mint`, their tombstones that have an interval with `maxt >= mint`, and the latest
//! metadata per kept series (written last, sorted by ref). N is `to`, the last segment
//! folded in. It is written as `checkpoint.N.tmp`, fsynced, then renamed, so a crash
//! leaves either the old state or the complete new checkpoint.
//!
//! The caller's sequence, as in Prometheus: `next_segment` on the live WAL (through
//! [`crate::wal::WalWriter::with_wal`]), pick `to` below the active segment, run
//! [`checkpoint()`] (outside the writer thread: it only reads closed segments), then
//! `Wal::truncate(to + 1)` and [`delete_checkpoints`]`(dir, to)`. Replay then reads the
//! checkpoint and the segments after N ([`crate::wal::replay_with_checkpoint`]).
//!
//! Differences from Prometheus: samples, histograms and exemplars are also filtered by
//! `keep` (Prometheus keeps them whatever their series; without their Series record they
//! are dropped on replay anyway); V2 (start-time) records are rewritten as V1 records;
//! MmapMarkers records (WBL only) and unknown types are dropped, as in Prometheus.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::labels::SymbolTable;
use crate::record::{self, HeadSeriesRef, RecordType, RefMetadata};
use crate::wal::{Wal, WalMetrics, WalOptions, WalReader, sync_dir};

/// Prefix of checkpoint directory names.
pub const CHECKPOINT_PREFIX: &str = "checkpoint.";

/// Flush records to the checkpoint's WAL in batches of about this size.
const FLUSH_BYTES: usize = 1 << 20;

/// What a checkpoint kept and dropped (counts of entries, not records).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CheckpointStats {
    /// Series dropped.
    pub dropped_series: usize,
    /// Float and histogram samples dropped.
    pub dropped_samples: usize,
    /// Tombstone intervals dropped.
    pub dropped_tombstones: usize,
    /// Exemplars dropped.
    pub dropped_exemplars: usize,
    /// Metadata entries dropped (including superseded ones).
    pub dropped_metadata: usize,
    /// Series read.
    pub total_series: usize,
    /// Float and histogram samples read.
    pub total_samples: usize,
    /// Tombstone intervals read.
    pub total_tombstones: usize,
    /// Exemplars read.
    pub total_exemplars: usize,
    /// Metadata entries read.
    pub total_metadata: usize,
}

/// The path of checkpoint `index` in `wal_dir`.
pub fn checkpoint_dir(wal_dir: &Path, index: u32) -> PathBuf {
    wal_dir.join(format!("{CHECKPOINT_PREFIX}{index:08}"))
}

/// Checkpoints in `dir`, sorted by index. Names that do not parse (such as the
/// `.tmp` of one being written) are ignored; a file with a checkpoint name is an error.
fn list_checkpoints(dir: &Path) -> Result<Vec<(u32, PathBuf)>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("read dir", dir, e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("read dir", dir, e))?;
        let name = entry.file_name();
        let Some(index) = name
            .to_str()
            .and_then(|n| n.strip_prefix(CHECKPOINT_PREFIX))
            .and_then(crate::wal::parse_segment_name)
        else {
            continue;
        };
        let path = entry.path();
        if !entry
            .file_type()
            .map_err(|e| Error::io("stat", &path, e))?
            .is_dir()
        {
            return Err(Error::Corruption {
                path,
                offset: 0,
                reason: "checkpoint is not a directory".into(),
            });
        }
        out.push((index, path));
    }
    out.sort_unstable_by_key(|(i, _)| *i);
    Ok(out)
}

/// The most recent checkpoint in `dir`: its path and index.
pub fn last_checkpoint(dir: &Path) -> Result<Option<(PathBuf, u32)>> {
    Ok(list_checkpoints(dir)?.pop().map(|(i, p)| (p, i)))
}

/// Deletes the checkpoints in `dir` with an index below `max_index`. Tries all of them
/// and returns the first error.
pub fn delete_checkpoints(dir: &Path, max_index: u32) -> Result<()> {
    let mut first_err = None;
    for (_, path) in list_checkpoints(dir)?
        .into_iter()
        .take_while(|(i, _)| *i < max_index)
    {
        if let Err(e) = std::fs::remove_dir_all(&path) {
            first_err.get_or_insert(Error::io("remove checkpoint", path, e));
        }
    }
    first_err.map_or(Ok(()), Err)
}

/// Removes the temporary checkpoint directory unless disarmed.
struct TmpDir(Option<PathBuf>);

impl Drop for TmpDir {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_dir_all(p);
        }
    }
}

/// Record batches waiting to be written to the checkpoint.
struct Batch {
    buf: Vec<u8>,
    ends: Vec<usize>,
}

impl Batch {
    /// Marks the bytes appended since the last mark as one record (if any).
    fn mark(&mut self) {
        let start = self.ends.last().copied().unwrap_or(0);
        if self.buf.len() > start {
            self.ends.push(self.buf.len());
        }
    }

    fn flush(&mut self, wal: &mut Wal) -> Result<()> {
        let mut start = 0;
        let recs: Vec<&[u8]> = self
            .ends
            .iter()
            .map(|&end| {
                let r = &self.buf[start..end];
                start = end;
                r
            })
            .collect();
        wal.log(&recs)?;
        self.buf.clear();
        self.ends.clear();
        Ok(())
    }
}

/// Writes `checkpoint.{to}` from the last checkpoint (if any) and WAL segments
/// `from..=to` of `wal_dir`, keeping what the module doc describes; `opts` gives the
/// checkpoint's compression and segment size. Corruption in the input is an error
/// (repairing is not an option: the head could not know which series were lost).
pub fn checkpoint(
    wal_dir: &Path,
    from: u32,
    to: u32,
    keep: &dyn Fn(HeadSeriesRef) -> bool,
    mint: i64,
    symbols: &SymbolTable,
    opts: &WalOptions,
) -> Result<CheckpointStats> {
    tracing::info!(dir = %wal_dir.display(), from, to, mint, "creating WAL checkpoint");
    let mut from = from;
    let mut readers = Vec::new();
    if let Some((cp_dir, index)) = last_checkpoint(wal_dir)? {
        let next = index.saturating_add(1);
        if from > next {
            return Err(Error::InvalidOptions {
                name: "from",
                reason: format!("gap to the last checkpoint: expected {next}, got {from}"),
            });
        }
        from = next;
        readers.push(WalReader::open(&cp_dir, None, None)?);
    }
    if to < from {
        return Err(Error::InvalidOptions {
            name: "to",
            reason: format!("segment range {from}..={to} is empty"),
        });
    }
    let wal_reader = WalReader::open(wal_dir, Some(from), Some(to))?;
    if wal_reader.segments().last() != Some(&to) {
        return Err(Error::Corruption {
            path: crate::wal::segment_path(wal_dir, to),
            offset: 0,
            reason: "last segment of the checkpoint range does not exist".into(),
        });
    }
    readers.push(wal_reader);

    let final_dir = checkpoint_dir(wal_dir, to);
    let tmp_dir = PathBuf::from(format!("{}.tmp", final_dir.display()));
    match std::fs::remove_dir_all(&tmp_dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io("remove stale checkpoint", &tmp_dir, e)),
    }
    let mut guard = TmpDir(Some(tmp_dir.clone()));
    let mut cp = Wal::open(&tmp_dir, opts.clone(), WalMetrics::unregistered())?;
    let mut folder = Folder {
        keep,
        mint,
        symbols,
        stats: CheckpointStats::default(),
        metadata: HashMap::new(),
    };
    let mut batch = Batch {
        buf: Vec::new(),
        ends: Vec::new(),
    };
    for reader in &mut readers {
        while let Some(rec) = reader.next_record()? {
            folder.fold(rec, &mut batch.buf)?;
            batch.mark();
            if batch.buf.len() > FLUSH_BYTES {
                batch.flush(&mut cp)?;
            }
        }
    }
    let mut metadata: Vec<RefMetadata> = folder.metadata.into_values().collect();
    metadata.sort_unstable_by_key(|m| m.series_ref);
    if !metadata.is_empty() {
        record::encode_metadata(&metadata, &mut batch.buf);
        batch.mark();
    }
    batch.flush(&mut cp)?;
    cp.close()?;
    sync_dir(&tmp_dir)?;
    if final_dir.exists() {
        std::fs::remove_dir_all(&final_dir)
            .map_err(|e| Error::io("remove old checkpoint", &final_dir, e))?;
    }
    std::fs::rename(&tmp_dir, &final_dir)
        .map_err(|e| Error::io("rename checkpoint", &tmp_dir, e))?;
    guard.0 = None;
    sync_dir(wal_dir)?;
    Ok(folder.stats)
}

/// Decodes records, drops what is no longer needed and re-encodes the rest.
struct Folder<'a> {
    keep: &'a dyn Fn(HeadSeriesRef) -> bool,
    mint: i64,
    symbols: &'a SymbolTable,
    stats: CheckpointStats,
    metadata: HashMap<HeadSeriesRef, RefMetadata>,
}

impl Folder<'_> {
    /// Appends to `out` what is kept of `rec` (possibly nothing).
    fn fold(&mut self, rec: &[u8], out: &mut Vec<u8>) -> Result<()> {
        use RecordType::*;
        let (keep, mint, st) = (self.keep, self.mint, &mut self.stats);
        match record::record_type(rec) {
            Series => {
                let mut v = Vec::new();
                record::decode_series(rec, self.symbols, &mut v)?;
                let n = v.len();
                v.retain(|s| keep(s.series_ref));
                (st.total_series, st.dropped_series) =
                    (st.total_series + n, st.dropped_series + n - v.len());
                if !v.is_empty() {
                    record::encode_series(&v, out);
                }
            }
            Samples | SamplesV2 => {
                let mut v = Vec::new();
                record::decode_samples(rec, &mut v)?;
                let n = v.len();
                v.retain(|s| s.t >= mint && keep(s.series_ref));
                (st.total_samples, st.dropped_samples) =
                    (st.total_samples + n, st.dropped_samples + n - v.len());
                if !v.is_empty() {
                    record::encode_samples(&v, out);
                }
            }
            t @ (HistogramSamples | CustomBucketsHistogramSamples | HistogramSamplesV2) => {
                let mut v = Vec::new();
                record::decode_histogram_samples(rec, &mut v)?;
                let n = v.len();
                v.retain(|s| s.t >= mint && keep(s.series_ref));
                (st.total_samples, st.dropped_samples) =
                    (st.total_samples + n, st.dropped_samples + n - v.len());
                if !v.is_empty() {
                    if t == CustomBucketsHistogramSamples {
                        record::encode_custom_buckets_histogram_samples(&v, out);
                    } else {
                        record::encode_histogram_samples(&v, out);
                    }
                }
            }
            t @ (FloatHistogramSamples
            | CustomBucketsFloatHistogramSamples
            | FloatHistogramSamplesV2) => {
                let mut v = Vec::new();
                record::decode_float_histogram_samples(rec, &mut v)?;
                let n = v.len();
                v.retain(|s| s.t >= mint && keep(s.series_ref));
                (st.total_samples, st.dropped_samples) =
                    (st.total_samples + n, st.dropped_samples + n - v.len());
                if !v.is_empty() {
                    if t == CustomBucketsFloatHistogramSamples {
                        record::encode_custom_buckets_float_histogram_samples(&v, out);
                    } else {
                        record::encode_float_histogram_samples(&v, out);
                    }
                }
            }
            Tombstones => {
                let mut v = Vec::new();
                record::decode_tombstones(rec, &mut v)?;
                let n = v.len();
                v.retain(|t| t.maxt >= mint && keep(t.series_ref));
                (st.total_tombstones, st.dropped_tombstones) =
                    (st.total_tombstones + n, st.dropped_tombstones + n - v.len());
                if !v.is_empty() {
                    record::encode_tombstones(&v, out);
                }
            }
            Exemplars => {
                let mut v = Vec::new();
                record::decode_exemplars(rec, self.symbols, &mut v)?;
                let n = v.len();
                v.retain(|e| e.t >= mint && keep(e.series_ref));
                (st.total_exemplars, st.dropped_exemplars) =
                    (st.total_exemplars + n, st.dropped_exemplars + n - v.len());
                if !v.is_empty() {
                    record::encode_exemplars(&v, out);
                }
            }
            Metadata => {
                let mut v = Vec::new();
                record::decode_metadata(rec, &mut v)?;
                let n = v.len();
                let mut kept = 0;
                for m in v {
                    if keep(m.series_ref) && self.metadata.insert(m.series_ref, m).is_none() {
                        kept += 1;
                    }
                }
                (st.total_metadata, st.dropped_metadata) =
                    (st.total_metadata + n, st.dropped_metadata + n - kept);
            }
            // MmapMarkers (WBL only) and types from the future.
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
