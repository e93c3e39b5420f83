//! The crate's error type: failures that make a whole request unusable.
//!
//! Problems confined to one series or one sample are not errors but rejections counted
//! in an [`crate::Outcome`].

use tsdb::ErrorKind;

/// Why a whole request was refused (or, for [`Error::Storage`], could not be stored).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The compressed body is larger than the limit.
    #[error("request body of {size} bytes exceeds the limit of {limit} bytes")]
    BodyTooLarge {
        /// Body size in bytes.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The body says it decompresses to more than the limit.
    #[error("decompressed body of {size} bytes exceeds the limit of {limit} bytes")]
    DecompressedTooLarge {
        /// Decompressed size claimed by the snappy header.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The body is not valid snappy block format.
    #[error("snappy decode error: {0}")]
    Snappy(#[source] snap::Error),
    /// The protobuf message is malformed.
    #[error("protobuf decode error at byte {offset}: {reason}")]
    Protobuf {
        /// Offset in the decompressed body.
        offset: usize,
        /// What was wrong.
        reason: &'static str,
    },
    /// A string field is not valid UTF-8.
    #[error("protobuf decode error: invalid UTF-8 at byte {offset}")]
    InvalidUtf8 {
        /// Offset in the decompressed body of the first invalid byte.
        offset: usize,
    },
    /// The request carries more series than the limit.
    #[error("request has more than {limit} series")]
    TooManySeries {
        /// The limit.
        limit: usize,
    },
    /// An RW2 symbol table whose first entry is not the empty string.
    #[error("symbols[0] must be the empty string")]
    FirstSymbolNotEmpty,
    /// A line of text-format, OpenMetrics or CSV input cannot be parsed
    /// ([`crate::exposition`]).
    #[error(transparent)]
    Exposition(#[from] crate::exposition::ParseError),
    /// The storage failed (a retryable, server-side failure).
    #[error("storage: {0}")]
    Storage(#[from] tsdb::Error),
}

impl Error {
    /// How the error is reported: bad data for everything the sender got wrong,
    /// the storage error's own kind otherwise.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Storage(e) => e.kind(),
            _ => ErrorKind::BadData,
        }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
