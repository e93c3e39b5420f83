//! The hot-path decoder: a hand-written protobuf walk over the decompressed body that
//! yields borrowed, UTF-8-checked `&str` labels, for both protocol versions.
//!
//! One request allocates a handful of flat vectors ([`WriteRequest`]), never one string
//! per label: a series points into them by index ranges. RW2 label references are
//! resolved against the symbol table while decoding, so both versions produce the same
//! shape. Structural damage (truncated varints, bad lengths, wrong wire types, invalid
//! UTF-8, a first symbol that is not `""`) fails the whole request; damage confined to
//! one series (an RW2 label reference out of range or an odd number of references) marks
//! only that series ([`SeriesDefect`]), so validation can reject it alone.

mod v1;
mod v2;
mod wire;

use std::ops::Range;

use crate::error::{Error, Result};
use crate::limits::Limits;

/// The remote-write protocol of a request body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// `prometheus.WriteRequest`.
    V1,
    /// `io.prometheus.write.v2.Request`.
    V2,
}

impl Protocol {
    /// The protobuf message name, as in the `proto=` content-type parameter.
    pub fn message_name(self) -> &'static str {
        match self {
            Protocol::V1 => "prometheus.WriteRequest",
            Protocol::V2 => "io.prometheus.write.v2.Request",
        }
    }
}

/// A label borrowed from the request body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Label<'a> {
    /// The name.
    pub name: &'a str,
    /// The value.
    pub value: &'a str,
}

/// A float sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Milliseconds since the epoch.
    pub t: i64,
    /// The value.
    pub v: f64,
}

/// An exemplar; its labels are `exemplar_labels[labels]` of the request.
#[derive(Debug, Clone, PartialEq)]
pub struct Exemplar {
    /// Milliseconds since the epoch.
    pub t: i64,
    /// The value.
    pub v: f64,
    /// Index range into [`WriteRequest::exemplar_labels`].
    pub labels: Range<u32>,
}

/// Per-series metadata (RW2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeriesMetadata<'a> {
    /// The metric type number (0 unspecified … 7 stateset).
    pub metric_type: i32,
    /// Help text, `""` when unset.
    pub help: &'a str,
    /// Unit, `""` when unset.
    pub unit: &'a str,
}

/// Metric-family metadata (RW1 `WriteRequest.metadata`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FamilyMetadata<'a> {
    /// The metric type number (0 unknown … 7 stateset).
    pub metric_type: i32,
    /// The metric family name.
    pub family: &'a str,
    /// Help text.
    pub help: &'a str,
    /// Unit.
    pub unit: &'a str,
}

/// Why one series could not be decoded (the rest of the request could).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeriesDefect {
    /// An RW2 label reference points past the symbol table.
    SymbolOutOfRange {
        /// The reference.
        index: u32,
        /// Number of symbols in the request.
        symbols: usize,
    },
    /// An RW2 `labels_refs` list has an odd length.
    OddLabelRefs {
        /// Its length.
        len: usize,
    },
}

/// One series of a request, as index ranges into the request's flat vectors.
#[derive(Debug, Clone, PartialEq)]
pub struct TimeSeries<'a> {
    /// Range into [`WriteRequest::labels`] (as sent: not yet validated).
    pub labels: Range<u32>,
    /// Range into [`WriteRequest::samples`].
    pub samples: Range<u32>,
    /// Range into [`WriteRequest::exemplars`].
    pub exemplars: Range<u32>,
    /// Number of native histogram samples (not stored yet, only counted).
    pub histograms: u32,
    /// RW2 metadata, if the series carried any.
    pub metadata: Option<SeriesMetadata<'a>>,
    /// Set when the series' labels could not be resolved.
    pub defect: Option<SeriesDefect>,
}

/// A decoded request of either version, borrowing from the decompressed body.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WriteRequest<'a> {
    /// The series.
    pub series: Vec<TimeSeries<'a>>,
    /// Every series label, flat.
    pub labels: Vec<Label<'a>>,
    /// Every sample, flat.
    pub samples: Vec<Sample>,
    /// Every exemplar, flat.
    pub exemplars: Vec<Exemplar>,
    /// Every exemplar label, flat.
    pub exemplar_labels: Vec<Label<'a>>,
    /// RW1 metric-family metadata.
    pub metadata: Vec<FamilyMetadata<'a>>,
}

fn range(r: &Range<u32>) -> Range<usize> {
    r.start as usize..r.end as usize
}

impl<'a> WriteRequest<'a> {
    /// The labels of `s`.
    pub fn labels_of(&self, s: &TimeSeries<'a>) -> &[Label<'a>] {
        &self.labels[range(&s.labels)]
    }

    /// The samples of `s`.
    pub fn samples_of(&self, s: &TimeSeries<'a>) -> &[Sample] {
        &self.samples[range(&s.samples)]
    }

    /// The exemplars of `s`.
    pub fn exemplars_of(&self, s: &TimeSeries<'a>) -> &[Exemplar] {
        &self.exemplars[range(&s.exemplars)]
    }

    /// The labels of exemplar `e`.
    pub fn exemplar_labels_of(&self, e: &Exemplar) -> &[Label<'a>] {
        &self.exemplar_labels[range(&e.labels)]
    }

    /// Total number of native histogram samples.
    pub fn histogram_count(&self) -> u64 {
        self.series.iter().map(|s| u64::from(s.histograms)).sum()
    }

    /// Empties the request but keeps its vectors' allocations, for [`decode_reusing`]:
    /// the empty vectors borrow nothing, so they can outlive the body.
    pub fn recycle(self) -> WriteRequest<'static> {
        WriteRequest {
            series: emptied(self.series),
            labels: emptied(self.labels),
            samples: emptied(self.samples),
            exemplars: emptied(self.exemplars),
            exemplar_labels: emptied(self.exemplar_labels),
            metadata: emptied(self.metadata),
        }
    }

    /// Bytes allocated by the request's vectors (for bounding what a cache keeps).
    pub fn allocated_bytes(&self) -> usize {
        use std::mem::size_of;
        self.series.capacity() * size_of::<TimeSeries<'_>>()
            + (self.labels.capacity() + self.exemplar_labels.capacity()) * size_of::<Label<'_>>()
            + self.samples.capacity() * size_of::<Sample>()
            + self.exemplars.capacity() * size_of::<Exemplar>()
            + self.metadata.capacity() * size_of::<FamilyMetadata<'_>>()
    }
}

/// An empty vector of another lifetime of the same type in the allocation of `v`. The
/// standard library collects a mapped `IntoIter` in place when the layouts are equal, as
/// here, so nothing is allocated; were that ever to change, this would merely allocate.
fn emptied<T, U>(mut v: Vec<T>) -> Vec<U> {
    v.clear();
    v.into_iter()
        .map(|_| unreachable!("the vector is empty"))
        .collect()
}

/// Decodes an uncompressed protobuf body of `protocol`.
///
/// Checks the series count against `limits.max_series_per_request`; the per-series checks
/// are [`crate::validate`]'s.
pub fn decode<'a>(protocol: Protocol, body: &'a [u8], limits: &Limits) -> Result<WriteRequest<'a>> {
    decode_reusing(protocol, body, limits, WriteRequest::default())
}

/// [`decode`] into the vectors of `spare` (from [`WriteRequest::recycle`]), which saves
/// allocating and growing them again for every request; the result is the same.
pub fn decode_reusing<'a>(
    protocol: Protocol,
    body: &'a [u8],
    limits: &Limits,
    spare: WriteRequest<'static>,
) -> Result<WriteRequest<'a>> {
    match protocol {
        Protocol::V1 => v1::decode(body, limits, spare),
        Protocol::V2 => v2::decode(body, limits, spare),
    }
}

/// Pushes one series, failing once the request holds more than the limit.
fn push_series<'a>(req: &mut WriteRequest<'a>, s: TimeSeries<'a>, limits: &Limits) -> Result<()> {
    if req.series.len() >= limits.max_series_per_request {
        return Err(Error::TooManySeries {
            limit: limits.max_series_per_request,
        });
    }
    req.series.push(s);
    Ok(())
}

/// Converts a vector length to the `u32` used in ranges (bodies are far below 4 GiB of
/// items because every item takes at least one byte).
fn idx(n: usize) -> u32 {
    u32::try_from(n).expect("a body below 4 GiB holds fewer than 2^32 items")
}

#[cfg(test)]
mod tests;
