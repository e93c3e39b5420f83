//! Native-histogram sample records (types 7–10, and the 3.12+ V2 types 12 and 13).
//!
//! The head does not store histograms yet, but replay must not fail on them and a
//! checkpoint must carry them over, so they are decoded in full and re-encoded
//! bit-exactly. Layout after the type byte (V1, types 7–10): `base_ref u64, base_t i64`,
//! then per histogram `ref−base varint, t−base varint` and the histogram:
//!
//! ```text
//! counter_reset_hint u8 | schema varint | zero_threshold f64
//! zero_count, count: uvarint (integer) or f64 (float) | sum f64
//! positive spans: n uvarint, n × (offset varint, length uvarint) | negative spans: same
//! positive buckets: n uvarint, n × (delta varint | absolute f64) | negative buckets: same
//! custom_values: n uvarint, n × f64        (only when schema = -53, custom buckets)
//! ```
//!
//! Whether `custom_values` follow depends on the schema, not on the record type, as in
//! Prometheus's decoder. Types 9 and 10 are written by Prometheus for histograms with
//! custom buckets; the encoders here write whatever they are given under the type the
//! caller picks. V2 records (12, 13) are decoded with their start timestamps dropped.

use crate::encoding::{Decbuf, Encbuf};
use crate::error::Result;
use crate::record::{HeadSeriesRef, RecordType, finish, read_st_marker, start, with_encbuf};

/// The schema of histograms with custom bucket boundaries (NHCB).
pub const CUSTOM_BUCKETS_SCHEMA: i32 = -53;

/// A run of consecutive buckets: `offset` buckets after the previous span, `length` long.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    /// Gap to the previous span (or the start index for the first span).
    pub offset: i32,
    /// Number of buckets in the span.
    pub length: u32,
}

/// An integer native histogram, as Prometheus's `histogram.Histogram`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Histogram {
    /// Counter-reset hint (0 unknown, 1 reset, 2 not reset, 3 gauge).
    pub counter_reset_hint: u8,
    /// Resolution; [`CUSTOM_BUCKETS_SCHEMA`] for custom buckets.
    pub schema: i32,
    /// Width of the zero bucket.
    pub zero_threshold: f64,
    /// Observations in the zero bucket.
    pub zero_count: u64,
    /// Total observations.
    pub count: u64,
    /// Sum of observations.
    pub sum: f64,
    /// Spans of positive buckets.
    pub positive_spans: Vec<Span>,
    /// Spans of negative buckets.
    pub negative_spans: Vec<Span>,
    /// Positive bucket counts, delta-encoded.
    pub positive_buckets: Vec<i64>,
    /// Negative bucket counts, delta-encoded.
    pub negative_buckets: Vec<i64>,
    /// Upper bounds of custom buckets (only with [`CUSTOM_BUCKETS_SCHEMA`]).
    pub custom_values: Vec<f64>,
}

/// A float native histogram, as Prometheus's `histogram.FloatHistogram`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FloatHistogram {
    /// Counter-reset hint (0 unknown, 1 reset, 2 not reset, 3 gauge).
    pub counter_reset_hint: u8,
    /// Resolution; [`CUSTOM_BUCKETS_SCHEMA`] for custom buckets.
    pub schema: i32,
    /// Width of the zero bucket.
    pub zero_threshold: f64,
    /// Observations in the zero bucket.
    pub zero_count: f64,
    /// Total observations.
    pub count: f64,
    /// Sum of observations.
    pub sum: f64,
    /// Spans of positive buckets.
    pub positive_spans: Vec<Span>,
    /// Spans of negative buckets.
    pub negative_spans: Vec<Span>,
    /// Positive bucket counts (absolute).
    pub positive_buckets: Vec<f64>,
    /// Negative bucket counts (absolute).
    pub negative_buckets: Vec<f64>,
    /// Upper bounds of custom buckets (only with [`CUSTOM_BUCKETS_SCHEMA`]).
    pub custom_values: Vec<f64>,
}

/// An integer histogram sample of a series.
#[derive(Debug, Clone, PartialEq)]
pub struct RefHistogramSample {
    /// The series ref.
    pub series_ref: HeadSeriesRef,
    /// Timestamp in milliseconds.
    pub t: i64,
    /// The histogram.
    pub h: Histogram,
}

/// A float histogram sample of a series.
#[derive(Debug, Clone, PartialEq)]
pub struct RefFloatHistogramSample {
    /// The series ref.
    pub series_ref: HeadSeriesRef,
    /// Timestamp in milliseconds.
    pub t: i64,
    /// The histogram.
    pub fh: FloatHistogram,
}

fn put_spans(e: &mut Encbuf, spans: &[Span]) {
    e.put_uvarint(spans.len() as u64);
    for s in spans {
        e.put_varint(i64::from(s.offset));
        e.put_uvarint(u64::from(s.length));
    }
}

/// Reads `n` items with `f`, stopping at the first decode error; the capacity is
/// bounded by the bytes left so a bogus count cannot force a huge allocation.
fn read_vec<'a, T>(d: &mut Decbuf<'a>, mut f: impl FnMut(&mut Decbuf<'a>) -> T) -> Vec<T> {
    let n = d.uvarint();
    let mut out = Vec::with_capacity((n as usize).min(d.len()));
    for _ in 0..n {
        if d.err().is_some() {
            break;
        }
        let v = f(d);
        out.push(v);
    }
    out
}

fn get_spans(d: &mut Decbuf<'_>) -> Vec<Span> {
    read_vec(d, |d| Span {
        offset: d.varint() as i32,
        length: d.uvarint() as u32,
    })
}

fn put_custom_values(e: &mut Encbuf, schema: i32, values: &[f64]) {
    if schema == CUSTOM_BUCKETS_SCHEMA {
        e.put_uvarint(values.len() as u64);
        for v in values {
            e.put_be_f64(*v);
        }
    }
}

fn get_custom_values(d: &mut Decbuf<'_>, schema: i32) -> Vec<f64> {
    if schema == CUSTOM_BUCKETS_SCHEMA {
        read_vec(d, |d| d.be_f64())
    } else {
        Vec::new()
    }
}

/// Appends one integer histogram (Prometheus's `EncodeHistogram`).
pub fn encode_histogram(e: &mut Encbuf, h: &Histogram) {
    e.put_byte(h.counter_reset_hint);
    e.put_varint(i64::from(h.schema));
    e.put_be_f64(h.zero_threshold);
    e.put_uvarint(h.zero_count);
    e.put_uvarint(h.count);
    e.put_be_f64(h.sum);
    put_spans(e, &h.positive_spans);
    put_spans(e, &h.negative_spans);
    for buckets in [&h.positive_buckets, &h.negative_buckets] {
        e.put_uvarint(buckets.len() as u64);
        for b in buckets {
            e.put_varint(*b);
        }
    }
    put_custom_values(e, h.schema, &h.custom_values);
}

/// Reads one integer histogram; errors are left in `d`.
pub fn decode_histogram(d: &mut Decbuf<'_>) -> Histogram {
    let counter_reset_hint = d.byte();
    let schema = d.varint() as i32;
    let zero_threshold = d.be_f64();
    let zero_count = d.uvarint();
    let count = d.uvarint();
    let sum = d.be_f64();
    let positive_spans = get_spans(d);
    let negative_spans = get_spans(d);
    let positive_buckets = read_vec(d, |d| d.varint());
    let negative_buckets = read_vec(d, |d| d.varint());
    let custom_values = get_custom_values(d, schema);
    Histogram {
        counter_reset_hint,
        schema,
        zero_threshold,
        zero_count,
        count,
        sum,
        positive_spans,
        negative_spans,
        positive_buckets,
        negative_buckets,
        custom_values,
    }
}

/// Appends one float histogram (Prometheus's `EncodeFloatHistogram`).
pub fn encode_float_histogram(e: &mut Encbuf, h: &FloatHistogram) {
    e.put_byte(h.counter_reset_hint);
    e.put_varint(i64::from(h.schema));
    e.put_be_f64(h.zero_threshold);
    e.put_be_f64(h.zero_count);
    e.put_be_f64(h.count);
    e.put_be_f64(h.sum);
    put_spans(e, &h.positive_spans);
    put_spans(e, &h.negative_spans);
    for buckets in [&h.positive_buckets, &h.negative_buckets] {
        e.put_uvarint(buckets.len() as u64);
        for b in buckets {
            e.put_be_f64(*b);
        }
    }
    put_custom_values(e, h.schema, &h.custom_values);
}

/// Reads one float histogram; errors are left in `d`.
pub fn decode_float_histogram(d: &mut Decbuf<'_>) -> FloatHistogram {
    let counter_reset_hint = d.byte();
    let schema = d.varint() as i32;
    let zero_threshold = d.be_f64();
    let zero_count = d.be_f64();
    let count = d.be_f64();
    let sum = d.be_f64();
    let positive_spans = get_spans(d);
    let negative_spans = get_spans(d);
    let positive_buckets = read_vec(d, |d| d.be_f64());
    let negative_buckets = read_vec(d, |d| d.be_f64());
    let custom_values = get_custom_values(d, schema);
    FloatHistogram {
        counter_reset_hint,
        schema,
        zero_threshold,
        zero_count,
        count,
        sum,
        positive_spans,
        negative_spans,
        positive_buckets,
        negative_buckets,
        custom_values,
    }
}

/// Shared V1 layout: base ref and time, then deltas and one item each.
fn encode_v1<T>(
    typ: RecordType,
    items: &[T],
    key: impl Fn(&T) -> (HeadSeriesRef, i64),
    mut put: impl FnMut(&mut Encbuf, &T),
    buf: &mut Vec<u8>,
) {
    with_encbuf(buf, |e| {
        e.put_byte(typ as u8);
        let Some(first) = items.first() else { return };
        let (base_ref, base_t) = key(first);
        e.put_be64(base_ref);
        e.put_be64_i(base_t);
        for it in items {
            let (r, t) = key(it);
            e.put_varint((r as i64).wrapping_sub(base_ref as i64));
            e.put_varint(t.wrapping_sub(base_t));
            put(e, it);
        }
    });
}

/// Shared decoder of V1 and V2 histogram records; `get` reads one histogram.
fn decode_any<'a, H>(
    d: &mut Decbuf<'a>,
    v2: bool,
    out: &mut Vec<(HeadSeriesRef, i64, H)>,
    mut get: impl FnMut(&mut Decbuf<'a>) -> H,
) {
    if d.is_empty() {
        return;
    }
    if v2 {
        // First entry: absolute ref, t, st as varints; later: ref delta to the previous
        // entry, t delta to the first, start-time marker.
        let first_ref = d.varint();
        let first_t = d.varint();
        let first_st = d.varint();
        let (mut prev_ref, mut prev_st, mut first) = (first_ref, first_st, true);
        while !d.is_empty() && d.err().is_none() {
            let (r, t, st) = if first {
                first = false;
                (first_ref, first_t, first_st)
            } else {
                let r = prev_ref.wrapping_add(d.varint());
                let t = first_t.wrapping_add(d.varint());
                (r, t, read_st_marker(d, prev_st, first_st))
            };
            let h = get(d);
            if d.err().is_none() {
                out.push((r as u64, t, h));
                (prev_ref, prev_st) = (r, st);
            }
        }
        return;
    }
    let base_ref = d.be64();
    let base_t = d.be64_i();
    while !d.is_empty() && d.err().is_none() {
        let dref = d.varint();
        let dt = d.varint();
        let h = get(d);
        if d.err().is_none() {
            out.push((
                base_ref.wrapping_add(dref as u64),
                base_t.wrapping_add(dt),
                h,
            ));
        }
    }
}

/// Appends a HistogramSamples record (type 7). Prometheus puts histograms with custom
/// buckets in type 9 records instead ([`encode_custom_buckets_histogram_samples`]).
pub fn encode_histogram_samples(hs: &[RefHistogramSample], buf: &mut Vec<u8>) {
    let key = |h: &RefHistogramSample| (h.series_ref, h.t);
    encode_v1(
        RecordType::HistogramSamples,
        hs,
        key,
        |e, h| encode_histogram(e, &h.h),
        buf,
    );
}

/// Appends a CustomBucketsHistogramSamples record (type 9).
pub fn encode_custom_buckets_histogram_samples(hs: &[RefHistogramSample], buf: &mut Vec<u8>) {
    let key = |h: &RefHistogramSample| (h.series_ref, h.t);
    let typ = RecordType::CustomBucketsHistogramSamples;
    encode_v1(typ, hs, key, |e, h| encode_histogram(e, &h.h), buf);
}

/// Appends a FloatHistogramSamples record (type 8).
pub fn encode_float_histogram_samples(hs: &[RefFloatHistogramSample], buf: &mut Vec<u8>) {
    let key = |h: &RefFloatHistogramSample| (h.series_ref, h.t);
    let typ = RecordType::FloatHistogramSamples;
    encode_v1(typ, hs, key, |e, h| encode_float_histogram(e, &h.fh), buf);
}

/// Appends a CustomBucketsFloatHistogramSamples record (type 10).
pub fn encode_custom_buckets_float_histogram_samples(
    hs: &[RefFloatHistogramSample],
    buf: &mut Vec<u8>,
) {
    let key = |h: &RefFloatHistogramSample| (h.series_ref, h.t);
    let typ = RecordType::CustomBucketsFloatHistogramSamples;
    encode_v1(typ, hs, key, |e, h| encode_float_histogram(e, &h.fh), buf);
}

/// Decodes an integer histogram record: type 7, 9 or 12 (V2, start times dropped).
pub fn decode_histogram_samples(rec: &[u8], out: &mut Vec<RefHistogramSample>) -> Result<()> {
    const WHAT: &str = "histogram samples record";
    use RecordType::*;
    let accepted = [
        HistogramSamples,
        CustomBucketsHistogramSamples,
        HistogramSamplesV2,
    ];
    let (t, mut d) = start(rec, WHAT, &accepted)?;
    let mut tmp = Vec::new();
    decode_any(&mut d, t == HistogramSamplesV2, &mut tmp, decode_histogram);
    let keep = out.len();
    out.extend(
        tmp.into_iter()
            .map(|(series_ref, t, h)| RefHistogramSample { series_ref, t, h }),
    );
    finish(&d, WHAT, out, keep)
}

/// Decodes a float histogram record: type 8, 10 or 13 (V2, start times dropped).
pub fn decode_float_histogram_samples(
    rec: &[u8],
    out: &mut Vec<RefFloatHistogramSample>,
) -> Result<()> {
    const WHAT: &str = "float histogram samples record";
    use RecordType::*;
    let accepted = [
        FloatHistogramSamples,
        CustomBucketsFloatHistogramSamples,
        FloatHistogramSamplesV2,
    ];
    let (t, mut d) = start(rec, WHAT, &accepted)?;
    let mut tmp = Vec::new();
    decode_any(
        &mut d,
        t == FloatHistogramSamplesV2,
        &mut tmp,
        decode_float_histogram,
    );
    let keep = out.len();
    out.extend(
        tmp.into_iter()
            .map(|(series_ref, t, fh)| RefFloatHistogramSample { series_ref, t, fh }),
    );
    finish(&d, WHAT, out, keep)
}

/// Test-only encoders of the V2 layouts (we never write them: they are Prometheus 3.12+
/// `st-storage` records), used to check the decoders. Start times are all zero.
#[cfg(test)]
pub(crate) mod v2 {
    use super::*;

    /// Appends a HistogramSamplesV2 (12) or FloatHistogramSamplesV2 (13) record.
    pub(crate) fn encode<T>(
        typ: RecordType,
        items: &[T],
        key: impl Fn(&T) -> (HeadSeriesRef, i64),
        mut put: impl FnMut(&mut Encbuf, &T),
        buf: &mut Vec<u8>,
    ) {
        with_encbuf(buf, |e| {
            e.put_byte(typ as u8);
            let Some(first) = items.first() else { return };
            let (first_ref, first_t) = key(first);
            e.put_varint(first_ref as i64);
            e.put_varint(first_t);
            e.put_varint(0);
            put(e, first);
            let mut prev_ref = first_ref;
            for it in &items[1..] {
                let (r, t) = key(it);
                e.put_varint((r as i64).wrapping_sub(prev_ref as i64));
                e.put_varint(t.wrapping_sub(first_t));
                e.put_byte(0);
                put(e, it);
                prev_ref = r;
            }
        });
    }
}
