//! The crate's error type; [`Error::kind`] classifies it with `tsdb`'s [`ErrorKind`].

use tsdb::ErrorKind;

/// Errors of the compactor.
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
    /// The storage engine failed (reading or writing a block).
    #[error(transparent)]
    Storage(#[from] tsdb::Error),
}

impl Error {
    /// Classifies the error for API clients.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::InvalidOptions { .. } => ErrorKind::Internal,
            Error::Storage(e) => e.kind(),
        }
    }
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
