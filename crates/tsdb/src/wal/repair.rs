//! Replay with repair: read every record, and on damage cut the WAL after the last
//! intact record, as Prometheus's head does on open (`Head.Init` → `WL.Repair`).
//!
//! Repair keeps Prometheus's policy: everything after the first damaged record is
//! dropped, *including all later segments*, because records depend on earlier ones (a
//! sample needs its series record) and a hole in the middle cannot be bridged. So a
//! single flipped byte in an old segment loses the rest of the WAL; that is rare (CRCs
//! catch it, and it needs media damage), whereas a torn tail after a crash is the
//! common case and loses only the record being written.
//!
//! Order of operations on open: replay (which repairs) *before* [`crate::wal::Wal::open`],
//! which then starts a new segment after the repaired one.

use std::fs::OpenOptions;
use std::path::Path;

use crate::error::{Error, Result};
use crate::wal::{
    CorruptionError, PAGE_SIZE, WalMetrics, WalReader, last_checkpoint, segment_path, segments,
    sync_dir,
};

/// What a replay read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplayStats {
    /// Records passed to the callback.
    pub records: u64,
    /// Their total (decompressed) size.
    pub bytes: u64,
    /// The checkpoint replayed first, if any (its index).
    pub checkpoint: Option<u32>,
    /// First and last WAL segment read (not counting the checkpoint's own).
    pub segments: Option<(u32, u32)>,
    /// The corruption that was found and repaired, if any.
    pub corruption: Option<CorruptionError>,
}

/// Cuts the WAL at `err`: deletes every segment after `err.segment` (newest first, so a
/// crash leaves a contiguous range), then truncates `err.segment` to `err.offset` and
/// zero-fills it to the end of that page, and fsyncs.
///
/// Crash-safe without a temporary file: every intermediate state (later segments partly
/// deleted, segment cut at `offset`, or cut and padded) reads back as the records before
/// `offset`, or as the same corruption, which a second repair fixes. Must not run while
/// a [`crate::wal::Wal`] writes to the directory.
pub fn repair(err: &CorruptionError) -> Result<()> {
    let dir = &err.dir;
    tracing::warn!(dir = %dir.display(), segment = err.segment, offset = err.offset, reason = %err.reason, "repairing WAL corruption");
    let segs = segments(dir)?;
    if !segs.contains(&err.segment) {
        return Err(Error::Corruption {
            path: segment_path(dir, err.segment),
            offset: err.offset,
            reason: "cannot repair: the corrupt segment does not exist".into(),
        });
    }
    let mut removed = false;
    for &s in segs.iter().rev().filter(|&&s| s > err.segment) {
        let p = segment_path(dir, s);
        tracing::warn!(segment = s, "deleting WAL segment after the corruption");
        std::fs::remove_file(&p).map_err(|e| Error::io("remove segment", p, e))?;
        removed = true;
    }
    if removed {
        sync_dir(dir)?;
    }
    let p = segment_path(dir, err.segment);
    let f = OpenOptions::new()
        .write(true)
        .open(&p)
        .map_err(|e| Error::io("open segment", &p, e))?;
    let len = f
        .metadata()
        .map_err(|e| Error::io("stat segment", &p, e))?
        .len();
    if err.offset > len {
        return Err(Error::Corruption {
            path: p,
            offset: err.offset,
            reason: format!("cannot repair: offset beyond the segment's end ({len} bytes)"),
        });
    }
    let page = PAGE_SIZE as u64;
    let padded = err.offset.div_ceil(page) * page;
    f.set_len(err.offset)
        .map_err(|e| Error::io("truncate segment", &p, e))?;
    f.set_len(padded)
        .map_err(|e| Error::io("pad segment", &p, e))?;
    f.sync_all()
        .map_err(|e| Error::io("fsync segment", &p, e))?;
    Ok(())
}

/// What a replay does when it meets damage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnDamage {
    /// [`repair()`] the WAL at the damage (tsdbd opening its own data directory).
    Repair,
    /// Stop after the last intact record and write nothing (tools reading a data
    /// directory they must not change).
    Stop,
}

/// Runs `f` on every record of the WAL segments in `dir` numbered `from_segment` or
/// higher (all if `None`), in order.
///
/// On corruption (or when `f` returns [`Error::Decode`] for a record, which marks that
/// record corrupt, as Prometheus's replay does) `corruptions_total` is incremented, the
/// WAL is [`repair()`]ed at that point when `on_damage` says so, and the replay returns
/// `Ok`, having delivered every record before the damage; [`ReplayStats::corruption`]
/// says where it was. Other errors of `f` and I/O errors are returned as they are,
/// without repair.
pub fn replay(
    dir: &Path,
    from_segment: Option<u32>,
    mut f: impl FnMut(&[u8]) -> Result<()>,
    metrics: &WalMetrics,
    on_damage: OnDamage,
) -> Result<ReplayStats> {
    let mut reader = WalReader::open(dir, from_segment, None)?;
    let mut stats = ReplayStats {
        segments: reader
            .segments()
            .first()
            .zip(reader.segments().last())
            .map(|(a, b)| (*a, *b)),
        ..ReplayStats::default()
    };
    let corruption = loop {
        match reader.next_record() {
            Ok(None) => break None,
            Ok(Some(rec)) => {
                let len = rec.len() as u64;
                match f(rec) {
                    Ok(()) => {
                        stats.records += 1;
                        stats.bytes += len;
                    }
                    Err(e @ Error::Decode { .. }) => {
                        let pos = reader.position();
                        break Some(CorruptionError {
                            dir: dir.to_path_buf(),
                            segment: pos.segment,
                            offset: pos.offset,
                            reason: e.to_string(),
                        });
                    }
                    Err(e) => return Err(e),
                }
            }
            Err(Error::WalCorruption(c)) => break Some(c),
            Err(e) => return Err(e),
        }
    };
    if let Some(c) = corruption {
        metrics.corruptions_total.inc();
        if on_damage == OnDamage::Repair {
            repair(&c)?;
        }
        stats.corruption = Some(c);
    }
    Ok(stats)
}

/// Replays a data directory's WAL: the latest checkpoint's records, then the segments
/// after it (damage there handled as [`replay`] handles it). Damage inside the checkpoint
/// is a hard error ([`Error::WalCorruption`]), as in Prometheus: a checkpoint cannot be
/// cut.
pub fn replay_with_checkpoint(
    wal_dir: &Path,
    mut f: impl FnMut(&[u8]) -> Result<()>,
    metrics: &WalMetrics,
    on_damage: OnDamage,
) -> Result<ReplayStats> {
    let mut from = None;
    let (mut records, mut bytes) = (0, 0);
    let cp = last_checkpoint(wal_dir)?;
    if let Some((cp_dir, index)) = &cp {
        let mut reader = WalReader::open(cp_dir, None, None)?;
        while let Some(rec) = reader.next_record()? {
            bytes += rec.len() as u64;
            records += 1;
            f(rec)?;
        }
        let next = index.saturating_add(1);
        if let Some(&first) = segments(wal_dir)?.iter().find(|&&s| s > *index)
            && first != next
        {
            return Err(Error::Corruption {
                path: wal_dir.to_path_buf(),
                offset: 0,
                reason: format!(
                    "segments {next:08}..{:08} after checkpoint {index:08} are missing",
                    first - 1
                ),
            });
        }
        from = Some(next);
    }
    let mut stats = replay(wal_dir, from, f, metrics, on_damage)?;
    stats.records += records;
    stats.bytes += bytes;
    stats.checkpoint = cp.map(|(_, i)| i);
    Ok(stats)
}
