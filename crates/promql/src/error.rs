//! The engine's error type; [`Error::kind`] maps it to the API's error types.

use tsdb::ErrorKind;

/// Errors of parsing and evaluating a query.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The query does not parse (API `bad_data`).
    #[error("{message}")]
    Parse {
        /// The parser's message, with the position when known.
        message: String,
    },
    /// The query parsed but cannot be evaluated (API `execution`), e.g. many-to-many
    /// matching or an invalid regex in `label_replace`.
    #[error("{0}")]
    Execution(String),
    /// The query loaded more samples than allowed (API `execution`, as in Prometheus).
    #[error("query processing would load too many samples into memory in {0}")]
    TooManySamples(&'static str),
    /// The deadline passed (API `timeout`).
    #[error("query timed out in {0}")]
    Timeout(&'static str),
    /// The query was cancelled (API `canceled`).
    #[error("query was canceled in {0}")]
    Canceled(&'static str),
    /// Storage failed.
    #[error(transparent)]
    Storage(#[from] tsdb::Error),
}

impl Error {
    /// The API error type of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Parse { .. } => ErrorKind::BadData,
            Error::Execution(_) | Error::TooManySamples(_) => ErrorKind::Execution,
            Error::Timeout(_) => ErrorKind::Timeout,
            Error::Canceled(_) => ErrorKind::Canceled,
            Error::Storage(e) => e.kind(),
        }
    }
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
