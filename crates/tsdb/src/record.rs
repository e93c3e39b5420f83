//! WAL record types and their codecs, byte-for-byte as Prometheus writes them
//! (`tsdb/record/record.go`).
//!
//! A record is the payload of one logical WAL entry (see [`crate::wal`]); its first byte
//! is its [`RecordType`]. Every encoder *appends* one whole record to a caller-owned
//! buffer (so one allocation can be reused across records); every decoder appends the
//! decoded entries to a caller-owned `Vec` and returns [`Error::Decode`] on malformed
//! bytes, leaving the `Vec` as it was. Decoders never panic and never allocate more
//! than the record's own size justifies.
//!
//! | type | layout after the type byte (fixed-width integers big-endian) |
//! |---|---|
//! | 1 Series | repeated `ref u64, n uvarint, n × (name str, value str)` |
//! | 2 Samples | nothing if empty, else `base_ref u64, base_t i64`, then per sample `ref−base varint, t−base varint, value f64 bits u64` |
//! | 3 Tombstones | repeated `ref u64, mint varint, maxt varint` |
//! | 4 Exemplars | like Samples, each entry followed by its labels as in Series |
//! | 5 MmapMarkers | repeated `ref u64, chunk_ref u64` |
//! | 6 Metadata | repeated `ref uvarint, type u8, n uvarint, n × (name str, value str)` with fields `UNIT`, `HELP` |
//! | 7–10, 12, 13 | native histograms, see [`histogram`] |
//! | 11 SamplesV2 | Prometheus 3.12+ `st-storage` records; decoded by [`decode_samples`], start timestamps dropped |
//!
//! Deltas in Samples and Exemplars records are *signed* (zig-zag) varints, as in
//! Prometheus's code (its `wal.md` wrongly says uvarint). `str` is a uvarint length and
//! the raw bytes.
//!
//! Choices where the bytes on disk could be odd:
//! * Label names inside one label set must be strictly increasing (Prometheus writes
//!   them sorted); anything else is a decode error.
//! * Strings that are not valid UTF-8 (Prometheus does not check) are decoded lossily
//!   (U+FFFD) rather than rejected, so one odd label cannot make replay drop the rest of
//!   the WAL.
//! * Metadata types above 7 decode as [`MetricType::Unknown`], as Prometheus's
//!   `ToMetricType` does.

use std::borrow::Cow;

use crate::encoding::{Decbuf, Encbuf};
use crate::error::{Error, Result};
use crate::labels::{Label, Labels, SymbolTable};

pub mod histogram;

pub use histogram::{
    FloatHistogram, Histogram, RefFloatHistogramSample, RefHistogramSample, Span,
    decode_float_histogram_samples, decode_histogram_samples,
    encode_custom_buckets_float_histogram_samples, encode_custom_buckets_histogram_samples,
    encode_float_histogram_samples, encode_histogram_samples,
};

/// A series reference in the head (Prometheus's `chunks.HeadSeriesRef`).
pub type HeadSeriesRef = u64;

/// The first byte of a record.
#[repr(u8)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RecordType {
    /// Series labels with their refs.
    Series = 1,
    /// Float samples.
    Samples = 2,
    /// Deletion intervals.
    Tombstones = 3,
    /// Exemplars.
    Exemplars = 4,
    /// Out-of-order m-map markers (WBL only).
    MmapMarkers = 5,
    /// Metric metadata (type, unit, help).
    Metadata = 6,
    /// Integer native histograms.
    HistogramSamples = 7,
    /// Float native histograms.
    FloatHistogramSamples = 8,
    /// Integer histograms with custom buckets (NHCB, Prometheus 3.2+).
    CustomBucketsHistogramSamples = 9,
    /// Float histograms with custom buckets (NHCB, Prometheus 3.2+).
    CustomBucketsFloatHistogramSamples = 10,
    /// Float samples with start timestamps (Prometheus 3.12+, `st-storage`).
    SamplesV2 = 11,
    /// Integer histograms with start timestamps (Prometheus 3.12+).
    HistogramSamplesV2 = 12,
    /// Float histograms with start timestamps (Prometheus 3.12+).
    FloatHistogramSamplesV2 = 13,
    /// Empty record or an unrecognised type byte.
    Unknown = 255,
}

impl RecordType {
    /// The type a record's first byte names.
    pub fn from_byte(b: u8) -> RecordType {
        use RecordType::*;
        match b {
            1 => Series,
            2 => Samples,
            3 => Tombstones,
            4 => Exemplars,
            5 => MmapMarkers,
            6 => Metadata,
            7 => HistogramSamples,
            8 => FloatHistogramSamples,
            9 => CustomBucketsHistogramSamples,
            10 => CustomBucketsFloatHistogramSamples,
            11 => SamplesV2,
            12 => HistogramSamplesV2,
            13 => FloatHistogramSamplesV2,
            _ => Unknown,
        }
    }

    /// Prometheus's name for the type (`Type.String()`).
    pub fn name(self) -> &'static str {
        use RecordType::*;
        match self {
            Series => "series",
            Samples => "samples",
            Tombstones => "tombstones",
            Exemplars => "exemplars",
            MmapMarkers => "mmapmarkers",
            Metadata => "metadata",
            HistogramSamples => "histogram_samples",
            FloatHistogramSamples => "float_histogram_samples",
            CustomBucketsHistogramSamples => "custom_buckets_histogram_samples",
            CustomBucketsFloatHistogramSamples => "custom_buckets_float_histogram_samples",
            SamplesV2 => "samples_v2",
            HistogramSamplesV2 => "histogram_samples_v2",
            FloatHistogramSamplesV2 => "float_histogram_samples_v2",
            Unknown => "unknown",
        }
    }
}

/// The type of a record; [`RecordType::Unknown`] for an empty record or an unknown byte.
pub fn record_type(rec: &[u8]) -> RecordType {
    rec.first()
        .map_or(RecordType::Unknown, |&b| RecordType::from_byte(b))
}

/// A series and the ref samples refer to it by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefSeries {
    /// The series ref.
    pub series_ref: HeadSeriesRef,
    /// The series' labels.
    pub labels: Labels,
}

/// One float sample of a series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RefSample {
    /// The series ref.
    pub series_ref: HeadSeriesRef,
    /// Timestamp in milliseconds.
    pub t: i64,
    /// The value; NaN payloads (stale markers) are kept bit for bit.
    pub v: f64,
}

/// One deleted interval `[mint, maxt]` (closed) of a series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tombstone {
    /// The series ref.
    pub series_ref: HeadSeriesRef,
    /// First deleted timestamp.
    pub mint: i64,
    /// Last deleted timestamp.
    pub maxt: i64,
}

/// The type of a metric, as stored in Metadata records.
#[repr(u8)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum MetricType {
    /// Unknown or untyped.
    #[default]
    Unknown = 0,
    /// Counter.
    Counter = 1,
    /// Gauge.
    Gauge = 2,
    /// Histogram.
    Histogram = 3,
    /// Gauge histogram.
    GaugeHistogram = 4,
    /// Summary.
    Summary = 5,
    /// Info.
    Info = 6,
    /// State set.
    StateSet = 7,
}

impl MetricType {
    /// The type a byte names; bytes above 7 are [`MetricType::Unknown`].
    pub fn from_byte(b: u8) -> MetricType {
        use MetricType::*;
        match b {
            1 => Counter,
            2 => Gauge,
            3 => Histogram,
            4 => GaugeHistogram,
            5 => Summary,
            6 => Info,
            7 => StateSet,
            _ => Unknown,
        }
    }
}

/// The metadata of a series.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefMetadata {
    /// The series ref.
    pub series_ref: HeadSeriesRef,
    /// The metric type.
    pub metric_type: MetricType,
    /// The unit (may be empty).
    pub unit: String,
    /// The help text (may be empty).
    pub help: String,
}

/// An exemplar of a series.
#[derive(Debug, Clone, PartialEq)]
pub struct RefExemplar {
    /// The series ref.
    pub series_ref: HeadSeriesRef,
    /// Timestamp in milliseconds.
    pub t: i64,
    /// The value, bit for bit.
    pub v: f64,
    /// The exemplar's own labels (trace id, ...).
    pub labels: Labels,
}

/// A marker that a series' out-of-order samples up to here are in m-mapped chunks (WBL).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RefMmapMarker {
    /// The series ref.
    pub series_ref: HeadSeriesRef,
    /// The head chunk reference.
    pub mmap_ref: u64,
}

const UNIT_META_NAME: &str = "UNIT";
const HELP_META_NAME: &str = "HELP";

/// Runs `f` on an [`Encbuf`] that appends to `buf`.
pub(crate) fn with_encbuf(buf: &mut Vec<u8>, f: impl FnOnce(&mut Encbuf)) {
    let mut e = Encbuf {
        b: std::mem::take(buf),
    };
    f(&mut e);
    *buf = e.b;
}

/// Appends a label set: count, then name and value strings.
pub(crate) fn encode_labels(e: &mut Encbuf, labels: &Labels) {
    e.put_uvarint(labels.len() as u64);
    for l in labels {
        e.put_uvarint_str(&l.name);
        e.put_uvarint_str(&l.value);
    }
}

/// Reads a uvarint-prefixed string, replacing invalid UTF-8.
pub(crate) fn lossy_str<'a>(d: &mut Decbuf<'a>) -> Cow<'a, str> {
    let n = d.uvarint();
    let n = usize::try_from(n).unwrap_or(usize::MAX);
    String::from_utf8_lossy(d.bytes(n))
}

/// Reads a label set, interning its strings. Short input is left to the [`Decbuf`]'s
/// sticky error (the caller checks it); unsorted or repeated names are an error.
fn decode_labels(d: &mut Decbuf<'_>, symbols: &SymbolTable) -> Result<Labels, &'static str> {
    let n = d.uvarint();
    // Every label takes at least two bytes, so the count cannot exceed half the input.
    let mut out: Vec<Label> = Vec::with_capacity((n as usize).min(d.len() / 2));
    for _ in 0..n {
        if d.err().is_some() {
            break;
        }
        let name = lossy_str(d);
        let value = lossy_str(d);
        if d.err().is_some() {
            break;
        }
        if let Some(last) = out.last()
            && last.name.as_str() >= name.as_ref()
        {
            return Err("label names not sorted or not unique");
        }
        out.push(Label {
            name: symbols.intern(&name),
            value: symbols.intern(&value),
        });
    }
    Ok(Labels::from_sorted(out))
}

/// Checks the type byte and returns a decoder over the rest of the record.
pub(crate) fn start<'a>(
    rec: &'a [u8],
    what: &'static str,
    accepted: &[RecordType],
) -> Result<(RecordType, Decbuf<'a>)> {
    let t = record_type(rec);
    if !accepted.contains(&t) {
        let got = rec
            .first()
            .map_or_else(|| "empty record".to_string(), |b| format!("type {b}"));
        return Err(Error::decode(what, format!("invalid record type: {got}")));
    }
    Ok((t, Decbuf::new(&rec[1..])))
}

/// Turns the end state of a decoder into a result, truncating `out` back to `keep`
/// on error so a failed decode appends nothing.
pub(crate) fn finish<T>(
    d: &Decbuf<'_>,
    what: &'static str,
    out: &mut Vec<T>,
    keep: usize,
) -> Result<()> {
    let err = if let Some(e) = d.err() {
        Some(format!("{e} after {} entries", out.len() - keep))
    } else if !d.is_empty() {
        Some(format!("unexpected {} bytes left in entry", d.len()))
    } else {
        None
    };
    match err {
        Some(reason) => {
            out.truncate(keep);
            Err(Error::decode(what, reason))
        }
        None => Ok(()),
    }
}

/// Appends a Series record.
pub fn encode_series(series: &[RefSeries], buf: &mut Vec<u8>) {
    with_encbuf(buf, |e| {
        e.put_byte(RecordType::Series as u8);
        for s in series {
            e.put_be64(s.series_ref);
            encode_labels(e, &s.labels);
        }
    });
}

/// Decodes a Series record, interning label strings through `symbols`.
pub fn decode_series(rec: &[u8], symbols: &SymbolTable, out: &mut Vec<RefSeries>) -> Result<()> {
    const WHAT: &str = "series record";
    let (_, mut d) = start(rec, WHAT, &[RecordType::Series])?;
    let keep = out.len();
    while !d.is_empty() && d.err().is_none() {
        let series_ref = d.be64();
        let labels = match decode_labels(&mut d, symbols) {
            Ok(l) => l,
            Err(reason) => {
                out.truncate(keep);
                return Err(Error::decode(WHAT, reason));
            }
        };
        if d.err().is_none() {
            out.push(RefSeries { series_ref, labels });
        }
    }
    finish(&d, WHAT, out, keep)
}

/// Appends a Samples record (type 2): bit-exact with Prometheus's encoder.
pub fn encode_samples(samples: &[RefSample], buf: &mut Vec<u8>) {
    with_encbuf(buf, |e| {
        e.put_byte(RecordType::Samples as u8);
        let Some(first) = samples.first() else { return };
        e.put_be64(first.series_ref);
        e.put_be64_i(first.t);
        for s in samples {
            e.put_varint((s.series_ref as i64).wrapping_sub(first.series_ref as i64));
            e.put_varint(s.t.wrapping_sub(first.t));
            e.put_be_f64(s.v);
        }
    });
}

/// Decodes a Samples record (type 2) or a SamplesV2 record (type 11, whose start
/// timestamps are dropped).
pub fn decode_samples(rec: &[u8], out: &mut Vec<RefSample>) -> Result<()> {
    const WHAT: &str = "samples record";
    let (t, mut d) = start(rec, WHAT, &[RecordType::Samples, RecordType::SamplesV2])?;
    let keep = out.len();
    if d.is_empty() {
        return Ok(());
    }
    // At least 1 + 1 + 8 bytes per sample.
    out.reserve(d.len() / 10);
    if t == RecordType::SamplesV2 {
        decode_samples_v2(&mut d, out);
        return finish(&d, WHAT, out, keep);
    }
    let base_ref = d.be64();
    let base_t = d.be64_i();
    while !d.is_empty() && d.err().is_none() {
        let dref = d.varint();
        let dt = d.varint();
        let v = d.be_f64();
        if d.err().is_none() {
            out.push(RefSample {
                series_ref: (base_ref as i64).wrapping_add(dref) as u64,
                t: base_t.wrapping_add(dt),
                v,
            });
        }
    }
    finish(&d, WHAT, out, keep)
}

/// Start-timestamp marker of V2 records: none, same as previous, explicit delta.
pub(crate) fn read_st_marker(d: &mut Decbuf<'_>, prev_st: i64, first_st: i64) -> i64 {
    match d.byte() {
        0 => 0,
        1 => prev_st,
        _ => first_st.wrapping_add(d.varint()),
    }
}

/// SamplesV2: first `ref, t, st` as varints and the value, then per sample the ref delta
/// to the previous sample, the time delta to the first and a start-time marker.
fn decode_samples_v2(d: &mut Decbuf<'_>, out: &mut Vec<RefSample>) {
    let series_ref = d.varint();
    let first_t = d.varint();
    let first_st = d.varint();
    let v = d.be_f64();
    if d.err().is_some() {
        return;
    }
    out.push(RefSample {
        series_ref: series_ref as u64,
        t: first_t,
        v,
    });
    let (mut prev_ref, mut prev_st) = (series_ref, first_st);
    while !d.is_empty() && d.err().is_none() {
        let r = prev_ref.wrapping_add(d.varint());
        let t = first_t.wrapping_add(d.varint());
        let st = read_st_marker(d, prev_st, first_st);
        let v = d.be_f64();
        if d.err().is_none() {
            out.push(RefSample {
                series_ref: r as u64,
                t,
                v,
            });
            (prev_ref, prev_st) = (r, st);
        }
    }
}

/// Appends a Tombstones record, one `(ref, mint, maxt)` triple per tombstone.
pub fn encode_tombstones(tombstones: &[Tombstone], buf: &mut Vec<u8>) {
    with_encbuf(buf, |e| {
        e.put_byte(RecordType::Tombstones as u8);
        for t in tombstones {
            e.put_be64(t.series_ref);
            e.put_varint(t.mint);
            e.put_varint(t.maxt);
        }
    });
}

/// Decodes a Tombstones record.
pub fn decode_tombstones(rec: &[u8], out: &mut Vec<Tombstone>) -> Result<()> {
    const WHAT: &str = "tombstones record";
    let (_, mut d) = start(rec, WHAT, &[RecordType::Tombstones])?;
    let keep = out.len();
    while !d.is_empty() && d.err().is_none() {
        let series_ref = d.be64();
        let mint = d.varint();
        let maxt = d.varint();
        if d.err().is_none() {
            out.push(Tombstone {
                series_ref,
                mint,
                maxt,
            });
        }
    }
    finish(&d, WHAT, out, keep)
}

/// Appends a Metadata record with the two fields Prometheus writes, `UNIT` and `HELP`.
pub fn encode_metadata(metadata: &[RefMetadata], buf: &mut Vec<u8>) {
    with_encbuf(buf, |e| {
        e.put_byte(RecordType::Metadata as u8);
        for m in metadata {
            e.put_uvarint(m.series_ref);
            e.put_byte(m.metric_type as u8);
            e.put_uvarint(2);
            e.put_uvarint_str(UNIT_META_NAME);
            e.put_uvarint_str(&m.unit);
            e.put_uvarint_str(HELP_META_NAME);
            e.put_uvarint_str(&m.help);
        }
    });
}

/// Decodes a Metadata record; fields other than `UNIT` and `HELP` are skipped.
pub fn decode_metadata(rec: &[u8], out: &mut Vec<RefMetadata>) -> Result<()> {
    const WHAT: &str = "metadata record";
    let (_, mut d) = start(rec, WHAT, &[RecordType::Metadata])?;
    let keep = out.len();
    while !d.is_empty() && d.err().is_none() {
        let series_ref = d.uvarint();
        let metric_type = MetricType::from_byte(d.byte());
        let fields = d.uvarint();
        let (mut unit, mut help) = (String::new(), String::new());
        for _ in 0..fields {
            if d.err().is_some() {
                break;
            }
            let name = lossy_str(&mut d);
            let value = lossy_str(&mut d);
            match name.as_ref() {
                UNIT_META_NAME => unit = value.into_owned(),
                HELP_META_NAME => help = value.into_owned(),
                _ => {}
            }
        }
        if d.err().is_none() {
            out.push(RefMetadata {
                series_ref,
                metric_type,
                unit,
                help,
            });
        }
    }
    finish(&d, WHAT, out, keep)
}

/// Appends an Exemplars record.
pub fn encode_exemplars(exemplars: &[RefExemplar], buf: &mut Vec<u8>) {
    with_encbuf(buf, |e| {
        e.put_byte(RecordType::Exemplars as u8);
        let Some(first) = exemplars.first() else {
            return;
        };
        e.put_be64(first.series_ref);
        e.put_be64_i(first.t);
        for x in exemplars {
            e.put_varint((x.series_ref as i64).wrapping_sub(first.series_ref as i64));
            e.put_varint(x.t.wrapping_sub(first.t));
            e.put_be_f64(x.v);
            encode_labels(e, &x.labels);
        }
    });
}

/// Decodes an Exemplars record, interning label strings through `symbols`.
pub fn decode_exemplars(
    rec: &[u8],
    symbols: &SymbolTable,
    out: &mut Vec<RefExemplar>,
) -> Result<()> {
    const WHAT: &str = "exemplars record";
    let (_, mut d) = start(rec, WHAT, &[RecordType::Exemplars])?;
    let keep = out.len();
    if d.is_empty() {
        return Ok(());
    }
    let base_ref = d.be64();
    let base_t = d.be64_i();
    while !d.is_empty() && d.err().is_none() {
        let dref = d.varint();
        let dt = d.varint();
        let v = d.be_f64();
        let labels = match decode_labels(&mut d, symbols) {
            Ok(l) => l,
            Err(reason) => {
                out.truncate(keep);
                return Err(Error::decode(WHAT, reason));
            }
        };
        if d.err().is_none() {
            out.push(RefExemplar {
                series_ref: base_ref.wrapping_add(dref as u64),
                t: base_t.wrapping_add(dt),
                v,
                labels,
            });
        }
    }
    finish(&d, WHAT, out, keep)
}

/// Appends an MmapMarkers record (used by the WBL).
pub fn encode_mmap_markers(markers: &[RefMmapMarker], buf: &mut Vec<u8>) {
    with_encbuf(buf, |e| {
        e.put_byte(RecordType::MmapMarkers as u8);
        for m in markers {
            e.put_be64(m.series_ref);
            e.put_be64(m.mmap_ref);
        }
    });
}

/// Decodes an MmapMarkers record.
pub fn decode_mmap_markers(rec: &[u8], out: &mut Vec<RefMmapMarker>) -> Result<()> {
    const WHAT: &str = "mmap markers record";
    let (_, mut d) = start(rec, WHAT, &[RecordType::MmapMarkers])?;
    let keep = out.len();
    while !d.is_empty() && d.err().is_none() {
        let series_ref = d.be64();
        let mmap_ref = d.be64();
        if d.err().is_none() {
            out.push(RefMmapMarker {
                series_ref,
                mmap_ref,
            });
        }
    }
    finish(&d, WHAT, out, keep)
}

#[cfg(test)]
mod tests;
