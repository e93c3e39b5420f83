//! The write-ahead log in Prometheus's format (`tsdb/wlog/wlog.go`, `reader.go`).
//!
//! # Format
//!
//! A WAL directory holds *segments* named with 8 decimal digits (`00000000`, `00000001`,
//! …), by default at most [`DEFAULT_SEGMENT_SIZE`] bytes each, plus checkpoint
//! directories (`checkpoint.NNNNNNNN`, see [`mod@checkpoint`]). A segment has no header: it
//! is a sequence of [`PAGE_SIZE`] pages, of which only the last one of a segment may be
//! short. A logical record (see [`crate::record`]) is first compressed with snappy
//! (block format) when that makes it smaller, then cut into *fragments* that never
//! cross a page boundary, each with a 7-byte header:
//!
//! ```text
//! ┌──────────────────────────────────┬───────────────┬──────────────────┬───────────┐
//! │ type u8                          │ length u16 BE │ CRC32C(data) u32 │ data      │
//! │ [rsv:3][zstd:1][snappy:1][kind:3]│               │ BE               │ length B  │
//! └──────────────────────────────────┴───────────────┴──────────────────┴───────────┘
//! kind: 0 page padding, 1 full, 2 first, 3 middle, 4 last
//! ```
//!
//! When fewer than 7 bytes are left in a page, or a page is closed early, its rest is
//! zero-filled. A record never spans two segments: if it does not fit in what is left
//! of the active segment, a new segment is started (a record bigger than a whole segment
//! gets an oversized segment of its own).
//!
//! # Writing, reading, repairing
//!
//! * [`Wal`] appends records; [`WalWriter`] puts one on a named thread and
//!   group-commits many appenders' records into one write and one fsync (see
//!   [`commit`] for the sync policies and the durability each gives).
//! * [`WalReader`] streams the records of a range of segments with bounded memory and
//!   reports any damage as a [`CorruptionError`] naming the segment and the offset just
//!   after the last intact record.
//! * [`repair()`] cuts the WAL there, as Prometheus's `WL.Repair` does: segments after the
//!   damaged one are deleted (records may depend on earlier ones, so nothing after a
//!   hole is trusted) and the damaged segment is truncated after its last good record.
//! * [`replay`] and [`replay_with_checkpoint`] run a callback on every record and, on
//!   corruption, repair or stop ([`OnDamage`]); [`checkpoint::checkpoint`] folds old segments into a checkpoint.
//!
//! Where we are stricter than Prometheus's reader, because the header byte is not
//! covered by the CRC: non-zero reserved bits, both compression bits set, a fragment or
//! header crossing a page boundary, and a record that is still open at the end of its
//! segment are all corruption. Records compressed with zstd (`--storage.tsdb.wal-
//! compression-type=zstd`) are reported as [`crate::Error::Decode`], not as corruption,
//! so they are never "repaired" away; supporting them needs a zstd dependency.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

pub mod checkpoint;
pub mod commit;
pub mod metrics;
pub mod reader;
pub mod repair;
pub mod writer;

pub use checkpoint::{CheckpointStats, checkpoint, delete_checkpoints, last_checkpoint};
pub use commit::{PendingCommit, SyncPolicy, WalWriter};
pub use metrics::WalMetrics;
pub use reader::{RecordPosition, WalReader};
pub use repair::{OnDamage, ReplayStats, repair, replay, replay_with_checkpoint};
pub use writer::Wal;

/// Size of a WAL page.
pub const PAGE_SIZE: usize = 32 * 1024;

/// Default maximum size of a segment.
pub const DEFAULT_SEGMENT_SIZE: usize = 128 * 1024 * 1024;

/// Size of a fragment header: type, length, CRC.
pub(crate) const HEADER_SIZE: usize = 7;

/// Fragment kinds (the low three bits of the type byte).
pub(crate) const KIND_PAGE_TERM: u8 = 0;
pub(crate) const KIND_FULL: u8 = 1;
pub(crate) const KIND_FIRST: u8 = 2;
pub(crate) const KIND_MIDDLE: u8 = 3;
pub(crate) const KIND_LAST: u8 = 4;
/// Mask of the kind bits.
pub(crate) const KIND_MASK: u8 = 0x07;
/// The record is snappy-compressed.
pub(crate) const SNAPPY_FLAG: u8 = 0x08;
/// The record is zstd-compressed (Prometheus 2.46+; not supported here).
pub(crate) const ZSTD_FLAG: u8 = 0x10;

/// Options of a [`Wal`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalOptions {
    /// Maximum size of a segment in bytes; a positive multiple of [`PAGE_SIZE`].
    pub segment_size: usize,
    /// Whether records are snappy-compressed (when that makes them smaller).
    pub compression: bool,
}

impl Default for WalOptions {
    fn default() -> Self {
        WalOptions {
            segment_size: DEFAULT_SEGMENT_SIZE,
            compression: true,
        }
    }
}

impl WalOptions {
    /// Checks the options.
    pub fn validate(&self) -> Result<()> {
        if self.segment_size == 0 || !self.segment_size.is_multiple_of(PAGE_SIZE) {
            return Err(Error::InvalidOptions {
                name: "segment_size",
                reason: format!(
                    "{} is not a positive multiple of the page size {PAGE_SIZE}",
                    self.segment_size
                ),
            });
        }
        Ok(())
    }
}

/// The WAL cannot be read past a point; [`repair()`] can cut it there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("corruption in WAL segment {segment} of {dir} at offset {offset}: {reason}", dir = .dir.display())]
pub struct CorruptionError {
    /// The WAL (or checkpoint) directory.
    pub dir: PathBuf,
    /// The segment holding the damage.
    pub segment: u32,
    /// Byte offset within the segment just after the last intact record, where the
    /// damaged record (or the padding before it) starts. Repair truncates here.
    pub offset: u64,
    /// What is wrong.
    pub reason: String,
}

/// The path of segment `index` in `dir`.
pub fn segment_path(dir: &Path, index: u32) -> PathBuf {
    dir.join(format!("{index:08}"))
}

/// Parses a segment file name: at least 8 decimal digits, written as `{:08}` would.
pub(crate) fn parse_segment_name(name: &str) -> Option<u32> {
    if name.len() < 8 || !name.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u32 = name.parse().ok()?;
    (format!("{n:08}") == name).then_some(n)
}

/// The segment numbers present in `dir`, sorted. Names that are not segment names and
/// directories (checkpoints) are ignored; a missing directory has no segments.
pub fn segments(dir: &Path) -> Result<Vec<u32>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("read dir", dir, e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("read dir", dir, e))?;
        let Some(index) = entry.file_name().to_str().and_then(parse_segment_name) else {
            continue;
        };
        let is_dir = entry
            .file_type()
            .map_err(|e| Error::io("stat", entry.path(), e))?
            .is_dir();
        if !is_dir {
            out.push(index);
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// Fails unless `segs` are consecutive numbers: a gap means lost data, which Prometheus
/// also refuses to open (`segments are not sequential`).
pub(crate) fn check_sequential(dir: &Path, segs: &[u32]) -> Result<()> {
    for w in segs.windows(2) {
        if w[1] != w[0] + 1 {
            return Err(Error::Corruption {
                path: dir.to_path_buf(),
                offset: 0,
                reason: format!(
                    "segments are not sequential: {:08} is followed by {:08}",
                    w[0], w[1]
                ),
            });
        }
    }
    Ok(())
}

/// Fsyncs a directory so entries created, renamed or removed in it are durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    let f = std::fs::File::open(dir).map_err(|e| Error::io("open dir", dir, e))?;
    f.sync_all().map_err(|e| Error::io("fsync dir", dir, e))
}

#[cfg(test)]
mod tests;
