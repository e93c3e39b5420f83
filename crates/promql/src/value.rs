//! Values an expression evaluates to, as in Prometheus's `promql/value.go`.

use tsdb::labels::Labels;

/// One float sample of an instant vector.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The series' labels.
    pub labels: Labels,
    /// Timestamp in ms.
    pub t: i64,
    /// The value.
    pub v: f64,
}

/// A time series of a matrix: labels and `(t, v)` points in time order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Series {
    /// The series' labels.
    pub labels: Labels,
    /// Points in time order.
    pub points: Vec<(i64, f64)>,
}

/// The result of an expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A scalar at a time.
    Scalar {
        /// Timestamp in ms.
        t: i64,
        /// The value.
        v: f64,
    },
    /// A string at a time.
    String {
        /// Timestamp in ms.
        t: i64,
        /// The string.
        s: String,
    },
    /// An instant vector.
    Vector(Vec<Sample>),
    /// A range vector or a range query's result, sorted by labels for range queries.
    Matrix(Vec<Series>),
}
