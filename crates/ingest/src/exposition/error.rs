//! [`ParseError`]: what is wrong with which line of an exposition or CSV input.

/// A line that cannot be parsed: its 1-based number and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("line {line}: {kind}")]
pub struct ParseError {
    /// The 1-based line number.
    pub line: u64,
    /// What is wrong with it.
    pub kind: ParseErrorKind,
}

/// Why a line cannot be parsed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// The line is not UTF-8.
    #[error("invalid UTF-8 at byte {column}")]
    InvalidUtf8 {
        /// The 1-based byte column of the first invalid byte.
        column: usize,
    },
    /// Something else was found where the grammar expects `expected`.
    #[error("expected {expected}, found {found:?}")]
    Unexpected {
        /// What the grammar expects here.
        expected: &'static str,
        /// The start of what was found (at most 40 characters; empty at the end of line).
        found: String,
    },
    /// A label name that is neither a valid unquoted name nor a quoted one.
    #[error("invalid label name {name:?}")]
    InvalidLabelName {
        /// The name.
        name: String,
    },
    /// A label name given twice in one sample.
    #[error("duplicate label name {name:?}")]
    DuplicateLabel {
        /// The name.
        name: String,
    },
    /// The sample has no metric name.
    #[error("missing metric name")]
    MissingMetricName,
    /// A quoted string without its closing quote.
    #[error("unterminated quoted string")]
    UnterminatedQuote,
    /// The value is not a float.
    #[error("invalid value {token:?}")]
    InvalidValue {
        /// The value as written.
        token: String,
    },
    /// The timestamp is not an integer (text format, ms), a decimal (OpenMetrics and
    /// CSV, seconds) or an RFC 3339 date-time (CSV), or is out of range.
    #[error("invalid timestamp {token:?}")]
    InvalidTimestamp {
        /// The timestamp as written.
        token: String,
    },
    /// The sample has no timestamp and the parser was told to require one.
    #[error("sample without a timestamp (backfilling needs one on every sample)")]
    MissingTimestamp,
    /// A `# TYPE` line naming an unknown type.
    #[error("unknown metric type {typ:?}")]
    InvalidType {
        /// The type as written.
        typ: String,
    },
    /// An OpenMetrics comment other than `# HELP`, `# TYPE`, `# UNIT` and `# EOF`, or a
    /// `# HELP`/`# TYPE`/`# UNIT` line without a metric name.
    #[error("invalid comment line: {reason}")]
    InvalidComment {
        /// What is wrong.
        reason: &'static str,
    },
    /// A line after OpenMetrics' `# EOF`.
    #[error("data after # EOF")]
    DataAfterEof,
    /// OpenMetrics input that does not end with `# EOF`.
    #[error("OpenMetrics input does not end with # EOF")]
    MissingEof,
    /// The CSV header lacks a required column.
    #[error("CSV header has no {column:?} column")]
    CsvMissingColumn {
        /// The column.
        column: &'static str,
    },
    /// The CSV header names a column twice (or both `__name__` and `metric`).
    #[error("CSV header names {column:?} twice (`metric` and `__name__` are the same column)")]
    CsvDuplicateColumn {
        /// The column.
        column: String,
    },
    /// A CSV row with another number of fields than the header.
    #[error("CSV row has {found} fields, the header {expected}")]
    CsvFieldCount {
        /// The header's number of columns.
        expected: usize,
        /// The row's number of fields.
        found: usize,
    },
}

/// At most 40 characters of `s`, for error messages.
pub(crate) fn excerpt(s: &str) -> String {
    s.chars().take(40).collect()
}
