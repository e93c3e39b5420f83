//! Per-series validation of decoded labels, and the rejection reasons of the write path.
//!
//! Names are checked under Prometheus 3.5's default UTF-8 validation scheme: any non-empty
//! UTF-8 string is a valid label or metric name (the decoder has already checked UTF-8).
//! Labels with an empty value are dropped before validation, as Prometheus's label builder
//! does (an empty value means "no such label"); a series left without `__name__` is
//! rejected.

use crate::decode::{Label, SeriesDefect};
use crate::limits::Limits;

/// Why a series, sample, histogram or exemplar was not written. Usable as a metrics
/// label ([`RejectReason::as_str`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum RejectReason {
    /// No `__name__` label (or an empty one).
    MissingMetricName,
    /// A label with an empty name.
    EmptyLabelName,
    /// Labels not sorted by name.
    UnsortedLabels,
    /// The same label name twice.
    DuplicateLabelName,
    /// More labels than [`Limits::max_labels_per_series`].
    TooManyLabels,
    /// A label name longer than [`Limits::max_label_name_bytes`].
    LabelNameTooLong,
    /// A label value longer than [`Limits::max_label_value_bytes`].
    LabelValueTooLong,
    /// An RW2 label reference outside the symbol table, or an odd number of references.
    InvalidSymbolRef,
    /// Older than the newest sample of its series.
    OutOfOrder,
    /// Same timestamp as an existing sample, different value.
    DuplicateTimestamp,
    /// Older than the head accepts.
    OutOfBounds,
    /// More than [`Limits::max_ahead_ms`] ahead of the server's clock.
    TooFarInFuture,
    /// A native histogram sample (not stored yet).
    NativeHistogram,
    /// An exemplar older than its series' newest exemplar.
    ExemplarOutOfOrder,
    /// An exemplar whose labels exceed 128 characters.
    ExemplarLabelsTooLong,
}

impl RejectReason {
    /// Every reason, for pre-registering metric label values.
    pub const ALL: [RejectReason; 15] = [
        RejectReason::MissingMetricName,
        RejectReason::EmptyLabelName,
        RejectReason::UnsortedLabels,
        RejectReason::DuplicateLabelName,
        RejectReason::TooManyLabels,
        RejectReason::LabelNameTooLong,
        RejectReason::LabelValueTooLong,
        RejectReason::InvalidSymbolRef,
        RejectReason::OutOfOrder,
        RejectReason::DuplicateTimestamp,
        RejectReason::OutOfBounds,
        RejectReason::TooFarInFuture,
        RejectReason::NativeHistogram,
        RejectReason::ExemplarOutOfOrder,
        RejectReason::ExemplarLabelsTooLong,
    ];

    /// A short snake_case name for metrics labels.
    pub fn as_str(self) -> &'static str {
        use RejectReason::*;
        match self {
            MissingMetricName => "missing_metric_name",
            EmptyLabelName => "empty_label_name",
            UnsortedLabels => "unsorted_labels",
            DuplicateLabelName => "duplicate_label_name",
            TooManyLabels => "too_many_labels",
            LabelNameTooLong => "label_name_too_long",
            LabelValueTooLong => "label_value_too_long",
            InvalidSymbolRef => "invalid_symbol_ref",
            OutOfOrder => "out_of_order",
            DuplicateTimestamp => "duplicate_timestamp",
            OutOfBounds => "out_of_bounds",
            TooFarInFuture => "too_far_in_future",
            NativeHistogram => "native_histogram",
            ExemplarOutOfOrder => "exemplar_out_of_order",
            ExemplarLabelsTooLong => "exemplar_labels_too_long",
        }
    }

    /// Whether the reason concerns a whole series (its labels) rather than one sample.
    pub fn is_series_level(self) -> bool {
        use RejectReason::*;
        matches!(
            self,
            MissingMetricName
                | EmptyLabelName
                | UnsortedLabels
                | DuplicateLabelName
                | TooManyLabels
                | LabelNameTooLong
                | LabelValueTooLong
                | InvalidSymbolRef
        )
    }
}

/// A rejected series' reason with a human-readable detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// The reason.
    pub reason: RejectReason,
    /// What exactly was wrong (the label involved, the limit).
    pub detail: String,
}

impl Invalid {
    fn new(reason: RejectReason, detail: String) -> Self {
        Invalid { reason, detail }
    }
}

/// The labels Prometheus would store: those with a non-empty value.
pub fn effective<'a, 'b>(
    labels: &'b [Label<'a>],
) -> impl Iterator<Item = (&'a str, &'a str)> + Clone + 'b {
    labels
        .iter()
        .filter(|l| !l.value.is_empty())
        .map(|l| (l.name, l.value))
}

/// Validates one series' labels (after a decoder defect check).
pub fn validate_series(
    labels: &[Label<'_>],
    defect: Option<SeriesDefect>,
    limits: &Limits,
) -> Result<(), Invalid> {
    match defect {
        Some(SeriesDefect::SymbolOutOfRange { index, symbols }) => {
            return Err(Invalid::new(
                RejectReason::InvalidSymbolRef,
                format!("symbol reference {index} out of range ({symbols} symbols)"),
            ));
        }
        Some(SeriesDefect::OddLabelRefs { len }) => {
            return Err(Invalid::new(
                RejectReason::InvalidSymbolRef,
                format!("odd number of label references ({len})"),
            ));
        }
        None => {}
    }
    let mut count = 0usize;
    let mut prev: Option<&str> = None;
    let mut has_name = false;
    for (name, value) in effective(labels) {
        count += 1;
        if name.is_empty() {
            return Err(Invalid::new(
                RejectReason::EmptyLabelName,
                "label with an empty name".into(),
            ));
        }
        if name.len() > limits.max_label_name_bytes {
            return Err(Invalid::new(
                RejectReason::LabelNameTooLong,
                format!(
                    "label name of {} bytes exceeds the limit of {}",
                    name.len(),
                    limits.max_label_name_bytes
                ),
            ));
        }
        if value.len() > limits.max_label_value_bytes {
            return Err(Invalid::new(
                RejectReason::LabelValueTooLong,
                format!(
                    "value of label {name:?} has {} bytes, over the limit of {}",
                    value.len(),
                    limits.max_label_value_bytes
                ),
            ));
        }
        if let Some(p) = prev {
            match name_order(p, name) {
                std::cmp::Ordering::Less => {}
                std::cmp::Ordering::Equal => {
                    return Err(Invalid::new(
                        RejectReason::DuplicateLabelName,
                        format!("duplicate label name {name:?}"),
                    ));
                }
                std::cmp::Ordering::Greater => {
                    return Err(Invalid::new(
                        RejectReason::UnsortedLabels,
                        format!("labels not sorted by name: {p:?} before {name:?}"),
                    ));
                }
            }
        }
        if name == tsdb::labels::METRIC_NAME {
            has_name = true;
        }
        prev = Some(name);
    }
    if count > limits.max_labels_per_series {
        return Err(Invalid::new(
            RejectReason::TooManyLabels,
            format!(
                "{count} labels exceed the limit of {}",
                limits.max_labels_per_series
            ),
        ));
    }
    if !has_name {
        return Err(Invalid::new(
            RejectReason::MissingMetricName,
            "missing or empty metric name (__name__)".into(),
        ));
    }
    Ok(())
}

/// `a.cmp(b)` for two non-empty names. Neighbouring label names mostly differ in their
/// first byte (`__name__`, `instance`, `job`), which decides the order without the
/// library call that comparing the whole strings costs.
#[inline]
fn name_order(a: &str, b: &str) -> std::cmp::Ordering {
    match (a.as_bytes().first(), b.as_bytes().first()) {
        (Some(x), Some(y)) if x != y => x.cmp(y),
        _ => a.cmp(b),
    }
}

/// Formats labels as Prometheus does, `{__name__="up", job="node"}`, for messages
/// (values cut at 256 bytes to keep messages bounded).
pub fn format_labels(labels: &[Label<'_>]) -> String {
    let mut out = String::from("{");
    for (i, l) in labels.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let mut end = l.value.len().min(256);
        while !l.value.is_char_boundary(end) {
            end -= 1;
        }
        let v = &l.value[..end];
        out.push_str(&format!("{}={:?}", l.name, v));
    }
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn name_order_is_str_order(a in "\\PC{0,6}", b in "\\PC{0,6}") {
            prop_assert_eq!(name_order(&a, &b), a.cmp(&b));
            prop_assert_eq!(name_order(&a, &a), std::cmp::Ordering::Equal);
        }
    }
}
