//! The crate's error type and the API-level error classification shared by every crate.

use std::io;
use std::path::PathBuf;

use crate::bucket::BucketFailure;

/// How an error is reported to API clients; mirrors Prometheus's `errorType` values.
///
/// Defined once here, in the bottom crate, and reused by `promql`, `ingest` and `server`.
/// Only `server` maps a kind to an HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The request itself is wrong (bad matcher, sample rejected by validation).
    BadData,
    /// The request was valid but evaluating it failed.
    Execution,
    /// A deadline passed.
    Timeout,
    /// The caller cancelled the work.
    Canceled,
    /// A bug or a broken invariant on our side, or an I/O failure.
    Internal,
    /// The storage is closed or overloaded; retrying later may help.
    Unavailable,
    /// The requested object does not exist.
    NotFound,
}

/// Why the head refused one sample.
///
/// Matches Prometheus's storage errors (`ErrOutOfBounds`, `ErrOutOfOrderSample`,
/// `ErrDuplicateSampleForTimestamp`, `ErrTooOldSample`) so `ingest` can report them the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum AppendError {
    /// The sample is older than the head's lower bound (in Prometheus: `out of bounds`).
    #[error("out of bounds")]
    OutOfBounds,
    /// The sample is older than the newest sample of its series.
    #[error("out of order sample")]
    OutOfOrder,
    /// A sample with the same timestamp but a different value already exists.
    #[error("duplicate sample for timestamp")]
    DuplicateSampleForTimestamp,
    /// The series has an empty or invalid label set.
    #[error("invalid label set")]
    InvalidLabels,
    /// An exemplar older than its series' newest exemplar (Prometheus's
    /// `ErrOutOfOrderExemplar`).
    #[error("out of order exemplar")]
    OutOfOrderExemplar,
    /// An exemplar whose label names and values exceed 128 UTF-8 characters together
    /// (Prometheus's `ErrExemplarLabelLength`).
    #[error("exemplar labels exceed 128 characters")]
    ExemplarLabelsTooLong,
}

/// Errors of the storage engine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An I/O operation on a file or directory failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done (`"open"`, `"write"`, `"fsync"`, ...).
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// Bytes on disk do not decode; drives repair and the corruption metrics.
    #[error("corruption in {path} at offset {offset}: {reason}")]
    Corruption {
        /// The damaged file.
        path: PathBuf,
        /// Byte offset of the first bad byte (or the start of the bad record).
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// The WAL could not be read past a point; `wal::repair` can truncate there.
    #[error(transparent)]
    WalCorruption(#[from] crate::wal::CorruptionError),
    /// Bytes that are not a valid encoded chunk, record or other structure.
    #[error("invalid {what}: {reason}")]
    Decode {
        /// What was being decoded (`"xor chunk"`, `"series record"`, ...).
        what: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A sample was refused by the head.
    #[error("{0}")]
    Append(#[from] AppendError),
    /// A regular expression in a matcher does not compile.
    #[error("invalid regular expression {pattern:?}: {source}")]
    InvalidRegex {
        /// The pattern as given.
        pattern: String,
        /// Why it does not compile.
        source: Box<regex::Error>,
    },
    /// An option is out of range.
    #[error("invalid option {name}: {reason}")]
    InvalidOptions {
        /// The option's field name.
        name: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The head has handed out every series reference it can index.
    #[error("too many series: the head can create at most {limit} series in its life")]
    TooManySeries {
        /// The limit.
        limit: u64,
    },
    /// The database (or its WAL writer) is closed.
    #[error("storage is closed")]
    Closed,
    /// A block's `meta.json` is missing a field, is not JSON, or has a version other than 1.
    #[error("invalid block meta {path}: {reason}")]
    InvalidMeta {
        /// The `meta.json` file (inside the block directory, which is named by its ULID).
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The block writer refused its input (unsorted series or symbols, overlapping chunks,
    /// a label string missing from the symbols); nothing of the block is kept.
    #[error("block writer {path}: {reason}")]
    BlockWriter {
        /// The file being written, inside the block's temporary directory
        /// (`<ulid>.tmp-for-creation`), or that directory.
        path: PathBuf,
        /// What was refused.
        reason: String,
    },
    /// A block chunk has an encoding this build cannot read (native histograms, XOR2).
    #[error("{path}: chunk {chunk_ref:#x} has unsupported encoding {encoding}")]
    UnsupportedChunkEncoding {
        /// The chunk segment file.
        path: PathBuf,
        /// The chunk's reference (`segment index << 32 | offset`).
        chunk_ref: u64,
        /// The encoding byte.
        encoding: u8,
    },
    /// A block named by a caller is not among the blocks served.
    #[error("no block {ulid} is loaded")]
    UnknownBlock {
        /// The ULID asked for.
        ulid: String,
    },
    /// A change was asked of a block that was not opened from a local directory (a
    /// bucket-backed block), so nothing can be rewritten in place.
    #[error("block {ulid} is read-only")]
    ReadOnlyBlock {
        /// The block.
        ulid: ulid::Ulid,
    },
    /// An object-storage operation failed (see [`crate::bucket`]).
    #[error("bucket {op} {key:?}: {failure}: {source}")]
    Bucket {
        /// What was being done (`"put"`, `"get"`, `"list"`, ...).
        op: &'static str,
        /// The object key (or listing prefix), relative to the bucket's prefix.
        key: String,
        /// The class of failure; decides [`Error::kind`].
        failure: BucketFailure,
        /// The underlying error, as the store reported it.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl Error {
    /// Builds an [`Error::Io`] from an operation name, a path and the error.
    pub fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Io {
            op,
            path: path.into(),
            source,
        }
    }

    /// Builds an [`Error::Decode`].
    pub fn decode(what: &'static str, reason: impl Into<String>) -> Self {
        Error::Decode {
            what,
            reason: reason.into(),
        }
    }

    /// Builds an [`Error::Corruption`].
    pub fn corruption(path: impl Into<PathBuf>, offset: u64, reason: impl Into<String>) -> Self {
        Error::Corruption {
            path: path.into(),
            offset,
            reason: reason.into(),
        }
    }

    /// Builds an [`Error::Bucket`].
    pub fn bucket(
        op: &'static str,
        key: impl Into<String>,
        failure: BucketFailure,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Error::Bucket {
            op,
            key: key.into(),
            failure,
            source: source.into(),
        }
    }

    /// Classifies the error for API clients.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Append(_) | Error::InvalidRegex { .. } => ErrorKind::BadData,
            Error::Closed | Error::TooManySeries { .. } => ErrorKind::Unavailable,
            Error::Bucket { failure, .. } => match failure {
                BucketFailure::Unavailable => ErrorKind::Unavailable,
                BucketFailure::NotFound => ErrorKind::NotFound,
                _ => ErrorKind::Internal,
            },
            Error::Io { .. }
            | Error::Corruption { .. }
            | Error::WalCorruption(_)
            | Error::Decode { .. }
            | Error::InvalidOptions { .. }
            | Error::InvalidMeta { .. }
            | Error::BlockWriter { .. }
            | Error::UnsupportedChunkEncoding { .. } => ErrorKind::Internal,
            Error::ReadOnlyBlock { .. } | Error::UnknownBlock { .. } => ErrorKind::BadData,
        }
    }
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
