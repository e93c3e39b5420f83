//! Tests of the record codecs: golden bytes, round trips and garbage input.

use proptest::prelude::*;

use super::histogram::{CUSTOM_BUCKETS_SCHEMA, v2};
use super::*;

fn labels_strategy() -> impl Strategy<Value = Labels> {
    proptest::collection::btree_map("\\PC{1,8}", "\\PC{0,8}", 0..5)
        .prop_map(|m| Labels::from_sorted(m.iter().map(|(n, v)| Label::new(n, v)).collect()))
}

fn f64_bits() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<u64>().prop_map(f64::from_bits),
        Just(f64::from_bits(0x7ff0_0000_0000_0002)), // stale marker
        Just(f64::from_bits(0x7ff8_0000_0000_0001)), // Prometheus's NaN
        any::<f64>(),
    ]
}

fn sample_strategy() -> impl Strategy<Value = RefSample> {
    (any::<u64>(), any::<i64>(), f64_bits()).prop_map(|(series_ref, t, v)| RefSample {
        series_ref,
        t,
        v,
    })
}

fn same_samples(a: &[RefSample], b: &[RefSample]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            x.series_ref == y.series_ref && x.t == y.t && x.v.to_bits() == y.v.to_bits()
        })
}

fn spans() -> impl Strategy<Value = Vec<Span>> {
    proptest::collection::vec(
        (any::<i32>(), any::<u32>()).prop_map(|(offset, length)| Span { offset, length }),
        0..4,
    )
}

fn histogram_strategy() -> impl Strategy<Value = Histogram> {
    (
        (
            any::<u8>(),
            prop_oneof![-4i32..=8, Just(CUSTOM_BUCKETS_SCHEMA), any::<i32>()],
        ),
        (f64_bits(), any::<u64>(), any::<u64>(), f64_bits()),
        (spans(), spans()),
        proptest::collection::vec(any::<i64>(), 0..5),
        proptest::collection::vec(any::<i64>(), 0..5),
        proptest::collection::vec(f64_bits(), 0..5),
    )
        .prop_map(
            |((hint, schema), (zt, zc, c, sum), (ps, ns), pb, nb, cv)| Histogram {
                counter_reset_hint: hint,
                schema,
                zero_threshold: zt,
                zero_count: zc,
                count: c,
                sum,
                positive_spans: ps,
                negative_spans: ns,
                positive_buckets: pb,
                negative_buckets: nb,
                custom_values: if schema == CUSTOM_BUCKETS_SCHEMA {
                    cv
                } else {
                    Vec::new()
                },
            },
        )
}

fn float_histogram_strategy() -> impl Strategy<Value = FloatHistogram> {
    (
        histogram_strategy(),
        (f64_bits(), f64_bits()),
        proptest::collection::vec(f64_bits(), 0..5),
        proptest::collection::vec(f64_bits(), 0..5),
    )
        .prop_map(|(h, (zc, c), pb, nb)| FloatHistogram {
            counter_reset_hint: h.counter_reset_hint,
            schema: h.schema,
            zero_threshold: h.zero_threshold,
            zero_count: zc,
            count: c,
            sum: h.sum,
            positive_spans: h.positive_spans,
            negative_spans: h.negative_spans,
            positive_buckets: pb,
            negative_buckets: nb,
            custom_values: h.custom_values,
        })
}

/// Compares through the encoding, which is exact for NaN payloads where `==` is not.
fn hist_bytes(h: &Histogram) -> Vec<u8> {
    let mut e = Encbuf::new();
    histogram::encode_histogram(&mut e, h);
    e.b
}

fn float_hist_bytes(h: &FloatHistogram) -> Vec<u8> {
    let mut e = Encbuf::new();
    histogram::encode_float_histogram(&mut e, h);
    e.b
}

#[test]
fn samples_bytes_match_prometheus() {
    // Worked by hand from Prometheus's Encoder.Samples: base ref/time as big-endian
    // u64, then zig-zag varint deltas and the raw f64 bits of every sample.
    let samples = [
        RefSample {
            series_ref: 5,
            t: 1000,
            v: 1.0,
        },
        RefSample {
            series_ref: 4,
            t: 999,
            v: f64::from_bits(0x7ff0_0000_0000_0002),
        },
    ];
    let mut buf = vec![0xAA]; // Appends, does not overwrite.
    encode_samples(&samples, &mut buf);
    let want: Vec<u8> = [
        &[0xAA, 2][..],
        &5u64.to_be_bytes(),
        &1000u64.to_be_bytes(),
        &[0, 0],
        &1f64.to_bits().to_be_bytes(),
        &[1, 1], // -1 and -1 as zig-zag varints
        &0x7ff0_0000_0000_0002u64.to_be_bytes(),
    ]
    .concat();
    assert_eq!(buf, want);
    let mut out = Vec::new();
    decode_samples(&buf[1..], &mut out).unwrap();
    assert!(same_samples(&out, &samples));
}

#[test]
fn series_and_metadata_bytes_match_prometheus() {
    let mut buf = Vec::new();
    let labels = Labels::from_pairs(&[("__name__", "up"), ("job", "a")]);
    encode_series(
        &[RefSeries {
            series_ref: 1,
            labels,
        }],
        &mut buf,
    );
    let mut want = vec![1u8];
    want.extend_from_slice(&1u64.to_be_bytes());
    want.extend_from_slice(b"\x02\x08__name__\x02up\x03job\x01a");
    assert_eq!(buf, want);

    buf.clear();
    let m = RefMetadata {
        series_ref: 300,
        metric_type: MetricType::Counter,
        unit: "s".into(),
        help: "h".into(),
    };
    encode_metadata(&[m], &mut buf);
    assert_eq!(buf, b"\x06\xac\x02\x01\x02\x04UNIT\x01s\x04HELP\x01h");
    assert_eq!(encode_empty(encode_samples), [2]);
    assert_eq!(encode_empty(encode_exemplars), [4]);
}

fn encode_empty<T>(f: fn(&[T], &mut Vec<u8>)) -> Vec<u8> {
    let mut b = Vec::new();
    f(&[], &mut b);
    b
}

#[test]
fn record_type_recognises_all_types() {
    for b in 1..=13u8 {
        assert_eq!(record_type(&[b]) as u8, b);
    }
    assert_eq!(record_type(&[]), RecordType::Unknown);
    assert_eq!(record_type(&[0]), RecordType::Unknown);
    assert_eq!(record_type(&[14, 1, 2]), RecordType::Unknown);
    assert_eq!(RecordType::SamplesV2.name(), "samples_v2");
}

#[test]
fn decoders_reject_wrong_type_and_trailing_bytes() {
    let mut out = vec![RefSample {
        series_ref: 1,
        t: 1,
        v: 1.0,
    }];
    assert!(matches!(
        decode_samples(&[1], &mut out),
        Err(Error::Decode { .. })
    ));
    let mut buf = Vec::new();
    encode_samples(
        &[RefSample {
            series_ref: 2,
            t: 2,
            v: 2.0,
        }],
        &mut buf,
    );
    buf.push(0);
    assert!(matches!(
        decode_samples(&buf, &mut out),
        Err(Error::Decode { .. })
    ));
    assert_eq!(out.len(), 1, "a failed decode appends nothing");
}

#[test]
fn unsorted_labels_are_rejected() {
    let mut rec = vec![1u8];
    rec.extend_from_slice(&1u64.to_be_bytes());
    rec.extend_from_slice(b"\x02\x01b\x01x\x01a\x01y");
    let err = decode_series(&rec, &SymbolTable::new(), &mut Vec::new()).unwrap_err();
    assert!(err.to_string().contains("sorted"), "{err}");
}

#[test]
fn decoded_labels_are_interned() {
    let t = SymbolTable::new();
    let labels = Labels::from_pairs(&[("job", "node")]);
    let mut buf = Vec::new();
    encode_series(
        &[RefSeries {
            series_ref: 1,
            labels: labels.clone(),
        }],
        &mut buf,
    );
    let mut out = Vec::new();
    decode_series(&buf, &t, &mut out).unwrap();
    decode_series(&buf, &t, &mut out).unwrap();
    let (a, b) = (&out[0].labels.as_slice()[0], &out[1].labels.as_slice()[0]);
    assert!(crate::labels::Symbol::ptr_eq(&a.value, &b.value));
    assert_eq!(t.len(), 2);
}

#[test]
fn custom_buckets_and_v2_histograms_decode() {
    let h = Histogram {
        schema: CUSTOM_BUCKETS_SCHEMA,
        count: 3,
        positive_spans: vec![Span {
            offset: 0,
            length: 2,
        }],
        positive_buckets: vec![1, 1],
        custom_values: vec![0.5, 1.0],
        ..Histogram::default()
    };
    let hs = vec![
        RefHistogramSample {
            series_ref: 7,
            t: 100,
            h: h.clone(),
        },
        RefHistogramSample {
            series_ref: 3,
            t: 90,
            h,
        },
    ];
    let mut buf = Vec::new();
    encode_custom_buckets_histogram_samples(&hs, &mut buf);
    assert_eq!(record_type(&buf), RecordType::CustomBucketsHistogramSamples);
    let mut out = Vec::new();
    decode_histogram_samples(&buf, &mut out).unwrap();
    assert_eq!(out, hs);

    buf.clear();
    let key = |h: &RefHistogramSample| (h.series_ref, h.t);
    let typ = RecordType::HistogramSamplesV2;
    v2::encode(
        typ,
        &hs,
        key,
        |e, h| histogram::encode_histogram(e, &h.h),
        &mut buf,
    );
    out.clear();
    decode_histogram_samples(&buf, &mut out).unwrap();
    assert_eq!(out, hs);
}

/// Test-only SamplesV2 encoder (start times all zero), checking the decoder.
fn encode_samples_v2(samples: &[RefSample], buf: &mut Vec<u8>) {
    with_encbuf(buf, |e| {
        e.put_byte(RecordType::SamplesV2 as u8);
        let Some(first) = samples.first() else { return };
        e.put_varint(first.series_ref as i64);
        e.put_varint(first.t);
        e.put_varint(0);
        e.put_be_f64(first.v);
        let mut prev = first.series_ref as i64;
        for s in &samples[1..] {
            e.put_varint((s.series_ref as i64).wrapping_sub(prev));
            e.put_varint(s.t.wrapping_sub(first.t));
            // Alternate the three start-time markers; the decoder drops them anyway.
            match s.t.rem_euclid(3) {
                0 => e.put_byte(0),
                1 => e.put_byte(1),
                _ => {
                    e.put_byte(2);
                    e.put_varint(s.t);
                }
            }
            e.put_be_f64(s.v);
            prev = s.series_ref as i64;
        }
    });
}

proptest! {
    #[test]
    fn series_round_trip(
        series in proptest::collection::vec((any::<u64>(), labels_strategy()), 0..8),
        prefix in proptest::collection::vec(any::<u8>(), 0..3),
    ) {
        let series: Vec<RefSeries> = series
            .into_iter()
            .map(|(series_ref, labels)| RefSeries { series_ref, labels })
            .collect();
        let mut buf = prefix.clone();
        encode_series(&series, &mut buf);
        prop_assert_eq!(&buf[..prefix.len()], &prefix[..]);
        let mut out = Vec::new();
        decode_series(&buf[prefix.len()..], &SymbolTable::new(), &mut out).unwrap();
        prop_assert_eq!(out, series);
    }

    #[test]
    fn samples_round_trip(samples in proptest::collection::vec(sample_strategy(), 0..50)) {
        let mut buf = Vec::new();
        encode_samples(&samples, &mut buf);
        let mut out = vec![RefSample { series_ref: 9, t: 9, v: 9.0 }];
        decode_samples(&buf, &mut out).unwrap();
        prop_assert!(same_samples(&out[1..], &samples));

        buf.clear();
        encode_samples_v2(&samples, &mut buf);
        out.clear();
        decode_samples(&buf, &mut out).unwrap();
        prop_assert!(same_samples(&out, &samples));
    }

    #[test]
    fn tombstones_round_trip(
        ts in proptest::collection::vec((any::<u64>(), any::<i64>(), any::<i64>()), 0..20),
    ) {
        let ts: Vec<Tombstone> = ts
            .into_iter()
            .map(|(series_ref, mint, maxt)| Tombstone { series_ref, mint, maxt })
            .collect();
        let mut buf = Vec::new();
        encode_tombstones(&ts, &mut buf);
        let mut out = Vec::new();
        decode_tombstones(&buf, &mut out).unwrap();
        prop_assert_eq!(out, ts);
    }

    #[test]
    fn metadata_round_trip(
        ms in proptest::collection::vec((any::<u64>(), 0u8..=7, "\\PC{0,10}", "\\PC{0,30}"), 0..8),
    ) {
        let ms: Vec<RefMetadata> = ms
            .into_iter()
            .map(|(series_ref, t, unit, help)| RefMetadata {
                series_ref,
                metric_type: MetricType::from_byte(t),
                unit,
                help,
            })
            .collect();
        let mut buf = Vec::new();
        encode_metadata(&ms, &mut buf);
        let mut out = Vec::new();
        decode_metadata(&buf, &mut out).unwrap();
        prop_assert_eq!(out, ms);
    }

    #[test]
    fn exemplars_round_trip(
        xs in proptest::collection::vec((sample_strategy(), labels_strategy()), 0..10),
    ) {
        let xs: Vec<RefExemplar> = xs
            .into_iter()
            .map(|(s, labels)| RefExemplar { series_ref: s.series_ref, t: s.t, v: s.v, labels })
            .collect();
        let mut buf = Vec::new();
        encode_exemplars(&xs, &mut buf);
        let mut out = Vec::new();
        decode_exemplars(&buf, &SymbolTable::new(), &mut out).unwrap();
        prop_assert_eq!(out.len(), xs.len());
        for (a, b) in out.iter().zip(&xs) {
            prop_assert_eq!(a.series_ref, b.series_ref);
            prop_assert_eq!(a.t, b.t);
            prop_assert_eq!(a.v.to_bits(), b.v.to_bits());
            prop_assert_eq!(&a.labels, &b.labels);
        }
    }

    #[test]
    fn mmap_markers_round_trip(ms in proptest::collection::vec((any::<u64>(), any::<u64>()), 0..10)) {
        let ms: Vec<RefMmapMarker> = ms
            .into_iter()
            .map(|(series_ref, mmap_ref)| RefMmapMarker { series_ref, mmap_ref })
            .collect();
        let mut buf = Vec::new();
        encode_mmap_markers(&ms, &mut buf);
        let mut out = Vec::new();
        decode_mmap_markers(&buf, &mut out).unwrap();
        prop_assert_eq!(out, ms);
    }

    #[test]
    fn histograms_round_trip(
        hs in proptest::collection::vec((any::<u64>(), any::<i64>(), histogram_strategy()), 0..5),
        fhs in proptest::collection::vec((any::<u64>(), any::<i64>(), float_histogram_strategy()), 0..5),
    ) {
        let hs: Vec<RefHistogramSample> =
            hs.into_iter().map(|(series_ref, t, h)| RefHistogramSample { series_ref, t, h }).collect();
        let fhs: Vec<RefFloatHistogramSample> = fhs
            .into_iter()
            .map(|(series_ref, t, fh)| RefFloatHistogramSample { series_ref, t, fh })
            .collect();
        for enc in [encode_histogram_samples, encode_custom_buckets_histogram_samples] {
            let mut buf = Vec::new();
            enc(&hs, &mut buf);
            let mut out = Vec::new();
            decode_histogram_samples(&buf, &mut out).unwrap();
            prop_assert_eq!(out.len(), hs.len());
            for (a, b) in out.iter().zip(&hs) {
                prop_assert_eq!((a.series_ref, a.t), (b.series_ref, b.t));
                prop_assert_eq!(hist_bytes(&a.h), hist_bytes(&b.h));
            }
        }
        for enc in [encode_float_histogram_samples, encode_custom_buckets_float_histogram_samples] {
            let mut buf = Vec::new();
            enc(&fhs, &mut buf);
            let mut out = Vec::new();
            decode_float_histogram_samples(&buf, &mut out).unwrap();
            prop_assert_eq!(out.len(), fhs.len());
            for (a, b) in out.iter().zip(&fhs) {
                prop_assert_eq!((a.series_ref, a.t), (b.series_ref, b.t));
                prop_assert_eq!(float_hist_bytes(&a.fh), float_hist_bytes(&b.fh));
            }
        }
        let mut buf = Vec::new();
        let key = |h: &RefFloatHistogramSample| (h.series_ref, h.t);
        let typ = RecordType::FloatHistogramSamplesV2;
        v2::encode(typ, &fhs, key, |e, h| histogram::encode_float_histogram(e, &h.fh), &mut buf);
        let mut out = Vec::new();
        decode_float_histogram_samples(&buf, &mut out).unwrap();
        prop_assert_eq!(out.len(), fhs.len());
    }

    #[test]
    fn decoders_never_panic(typ in 0u8..=14, tail in proptest::collection::vec(any::<u8>(), 0..64)) {
        let mut rec = vec![typ];
        rec.extend_from_slice(&tail);
        let syms = SymbolTable::new();
        let _ = decode_series(&rec, &syms, &mut Vec::new());
        let _ = decode_samples(&rec, &mut Vec::new());
        let _ = decode_tombstones(&rec, &mut Vec::new());
        let _ = decode_metadata(&rec, &mut Vec::new());
        let _ = decode_exemplars(&rec, &syms, &mut Vec::new());
        let _ = decode_mmap_markers(&rec, &mut Vec::new());
        let _ = decode_histogram_samples(&rec, &mut Vec::new());
        let _ = decode_float_histogram_samples(&rec, &mut Vec::new());
    }

    #[test]
    fn truncated_records_are_errors_not_panics(
        samples in proptest::collection::vec(sample_strategy(), 1..10),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut buf = Vec::new();
        encode_samples(&samples, &mut buf);
        let cut = 1 + cut.index(buf.len() - 1);
        let mut out = Vec::new();
        // A strict prefix is malformed, or (cut at a sample boundary) holds fewer samples.
        match decode_samples(&buf[..cut], &mut out) {
            Ok(()) => prop_assert!(out.len() < samples.len()),
            Err(_) => prop_assert!(out.is_empty()),
        }
    }
}
