//! The write-ahead log in Prometheus's format.

use std::path::PathBuf;

/// The WAL cannot be read past a point. (Skeleton.)
#[derive(Debug, Clone, thiserror::Error)]
#[error("corruption in WAL segment {segment} at offset {offset}: {reason}")]
pub struct CorruptionError {
    /// The WAL directory.
    pub dir: PathBuf,
    /// The segment holding the damage.
    pub segment: u32,
    /// Byte offset within the segment of the start of the first bad record.
    pub offset: u64,
    /// What is wrong.
    pub reason: String,
}
