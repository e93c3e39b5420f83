//! The crate's error type; [`Error::kind`] classifies it with `tsdb`'s [`ErrorKind`].

use tsdb::ErrorKind;

/// Errors of the compactor and the shipper.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An option is out of range.
    #[error("invalid compactor option {name}: {reason}")]
    InvalidOptions {
        /// The option's field name.
        name: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A storage error: reading or writing a block, local file I/O, or an object-storage
    /// operation ([`tsdb::Error::Bucket`]).
    #[error(transparent)]
    Tsdb(#[from] tsdb::Error),
    /// A JSON file of a shipped block other than `meta.json` (whose errors are
    /// [`tsdb::Error::InvalidMeta`]), such as its deletion mark, that does not parse or does
    /// not say what it must.
    #[error("invalid {file} at {location}: {reason}")]
    InvalidJson {
        /// Which kind of file (`"deletion-mark.json"`).
        file: &'static str,
        /// Its local path or its bucket key.
        location: String,
        /// What is wrong.
        reason: String,
    },
    /// A block id that is not a ULID.
    #[error("invalid block id {id:?}: not a ULID")]
    InvalidBlockId {
        /// The id as given.
        id: String,
    },
}

impl Error {
    /// Classifies the error for API clients.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::InvalidOptions { .. } | Error::InvalidJson { .. } => ErrorKind::Internal,
            Error::Tsdb(e) => e.kind(),
            Error::InvalidBlockId { .. } => ErrorKind::BadData,
        }
    }
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
