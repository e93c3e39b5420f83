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
    /// A bucket block could not be opened or read: an object's request failed, or its bytes
    /// are damaged (`source` is then a [`tsdb::Error::Corruption`] naming the key), or the
    /// local cache of the block could not be written.
    #[error("bucket block {block}: {key}: {source}")]
    BucketBlock {
        /// The block's ULID.
        block: tsdb::block::Ulid,
        /// The object's key (`<ulid>/index`, `<ulid>/tombstones`, ...).
        key: String,
        /// What failed.
        source: Box<tsdb::Error>,
    },
    /// A visible bucket block lacks an object it needs (its index, or a chunk segment).
    #[error("bucket block {block}: object {key} is missing")]
    MissingObject {
        /// The block's ULID.
        block: tsdb::block::Ulid,
        /// The missing object's key.
        key: String,
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
            Error::InvalidOptions { .. }
            | Error::InvalidJson { .. }
            | Error::MissingObject { .. } => ErrorKind::Internal,
            Error::BucketBlock { source, .. } => source.kind(),
            Error::Tsdb(e) => e.kind(),
            Error::InvalidBlockId { .. } => ErrorKind::BadData,
        }
    }
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
