//! Decoder tests: round trips against the `prost` types, arbitrary bytes, limits.

use proptest::prelude::*;
use prost::Message;

use super::*;
use crate::proto::{v1, v2};

fn pairs<'a>(req: &WriteRequest<'a>, s: &TimeSeries<'a>) -> Vec<(String, String)> {
    req.labels_of(s)
        .iter()
        .map(|l| (l.name.to_owned(), l.value.to_owned()))
        .collect()
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "[a-z_]{1,8}",
        any::<String>().prop_map(|s| s.chars().take(12).collect()),
    ]
}

fn v1_label() -> impl Strategy<Value = v1::Label> {
    (text(), text()).prop_map(|(name, value)| v1::Label { name, value })
}

fn v1_request() -> impl Strategy<Value = v1::WriteRequest> {
    let sample =
        (any::<i64>(), any::<f64>()).prop_map(|(timestamp, value)| v1::Sample { value, timestamp });
    let exemplar = (
        prop::collection::vec(v1_label(), 0..3),
        any::<f64>(),
        any::<i64>(),
    )
        .prop_map(|(labels, value, timestamp)| v1::Exemplar {
            labels,
            value,
            timestamp,
        });
    let hist = any::<u64>().prop_map(|c| v1::Histogram {
        count_int: Some(c),
        ..Default::default()
    });
    let series = (
        prop::collection::vec(v1_label(), 0..6),
        prop::collection::vec(sample, 0..5),
        prop::collection::vec(exemplar, 0..3),
        prop::collection::vec(hist, 0..2),
    )
        .prop_map(|(labels, samples, exemplars, histograms)| v1::TimeSeries {
            labels,
            samples,
            exemplars,
            histograms,
        });
    let meta = (0i32..9, text(), text(), text()).prop_map(|(t, f, h, u)| v1::MetricMetadata {
        r#type: t,
        metric_family_name: f,
        help: h,
        unit: u,
    });
    (
        prop::collection::vec(series, 0..6),
        prop::collection::vec(meta, 0..3),
    )
        .prop_map(|(timeseries, metadata)| v1::WriteRequest {
            timeseries,
            metadata,
        })
}

fn v2_request() -> impl Strategy<Value = v2::Request> {
    prop::collection::vec(text(), 1..12).prop_flat_map(|mut syms| {
        syms[0] = String::new();
        let n = syms.len() as u32;
        let refs = prop::collection::vec((0..n, 0..n), 0..5)
            .prop_map(|p| p.into_iter().flat_map(|(a, b)| [a, b]).collect::<Vec<_>>());
        let sample = (any::<i64>(), any::<f64>())
            .prop_map(|(timestamp, value)| v2::Sample { value, timestamp });
        let exemplar = (refs.clone(), any::<f64>(), any::<i64>()).prop_map(
            |(labels_refs, value, timestamp)| v2::Exemplar {
                labels_refs,
                value,
                timestamp,
            },
        );
        let meta = prop::option::of((0i32..8, 0..n, 0..n).prop_map(|(t, h, u)| v2::Metadata {
            r#type: t,
            help_ref: h,
            unit_ref: u,
        }));
        let series = (
            refs,
            prop::collection::vec(sample, 0..5),
            prop::collection::vec(exemplar, 0..3),
            0usize..2,
            meta,
        )
            .prop_map(
                |(labels_refs, samples, exemplars, h, metadata)| v2::TimeSeries {
                    labels_refs,
                    samples,
                    histograms: vec![v2::Histogram::default(); h],
                    exemplars,
                    metadata,
                    created_timestamp: 0,
                },
            );
        (Just(syms), prop::collection::vec(series, 0..6)).prop_map(|(symbols, timeseries)| {
            v2::Request {
                symbols,
                timeseries,
            }
        })
    })
}

fn check_v1(want: &v1::WriteRequest, got: &WriteRequest<'_>) {
    assert_eq!(got.series.len(), want.timeseries.len());
    for (s, w) in got.series.iter().zip(&want.timeseries) {
        let wl: Vec<_> = w
            .labels
            .iter()
            .map(|l| (l.name.clone(), l.value.clone()))
            .collect();
        assert_eq!(pairs(got, s), wl);
        let gs: Vec<_> = got
            .samples_of(s)
            .iter()
            .map(|x| (x.t, x.v.to_bits()))
            .collect();
        let ws: Vec<_> = w
            .samples
            .iter()
            .map(|x| (x.timestamp, x.value.to_bits()))
            .collect();
        assert_eq!(gs, ws);
        assert_eq!(s.histograms as usize, w.histograms.len());
        let ge = got.exemplars_of(s);
        assert_eq!(ge.len(), w.exemplars.len());
        for (e, we) in ge.iter().zip(&w.exemplars) {
            assert_eq!((e.t, e.v.to_bits()), (we.timestamp, we.value.to_bits()));
            let el: Vec<_> = got
                .exemplar_labels_of(e)
                .iter()
                .map(|l| (l.name.to_owned(), l.value.to_owned()))
                .collect();
            let wel: Vec<_> = we
                .labels
                .iter()
                .map(|l| (l.name.clone(), l.value.clone()))
                .collect();
            assert_eq!(el, wel);
        }
    }
    let gm: Vec<_> = got
        .metadata
        .iter()
        .map(|m| (m.metric_type, m.family, m.help, m.unit))
        .collect();
    let wm: Vec<_> = want
        .metadata
        .iter()
        .map(|m| {
            (
                m.r#type,
                m.metric_family_name.as_str(),
                m.help.as_str(),
                m.unit.as_str(),
            )
        })
        .collect();
    assert_eq!(gm, wm);
}

fn resolve(syms: &[String], refs: &[u32]) -> Vec<(String, String)> {
    refs.chunks(2)
        .map(|p| (syms[p[0] as usize].clone(), syms[p[1] as usize].clone()))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn v1_round_trip_matches_prost(sent in v1_request()) {
        // Compared with what prost decodes (prost's encoder drops -0.0 as a default).
        let body = sent.encode_to_vec();
        let want = v1::WriteRequest::decode(body.as_slice()).expect("prost decode");
        let got = decode(Protocol::V1, &body, &Limits::default()).expect("decode");
        check_v1(&want, &got);
        // An RW1 body is no valid RW2 body with series (fields 1-3 are reserved there).
        if let Ok(v2) = decode(Protocol::V2, &body, &Limits::default()) {
            prop_assert!(v2.series.is_empty());
        }
    }

    #[test]
    fn v2_round_trip_matches_prost(sent in v2_request()) {
        let body = sent.encode_to_vec();
        let want = v2::Request::decode(body.as_slice()).expect("prost decode");
        let got = decode(Protocol::V2, &body, &Limits::default()).expect("decode");
        prop_assert_eq!(got.series.len(), want.timeseries.len());
        for (s, w) in got.series.iter().zip(&want.timeseries) {
            prop_assert_eq!(s.defect, None);
            prop_assert_eq!(pairs(&got, s), resolve(&want.symbols, &w.labels_refs));
            let gs: Vec<_> = got.samples_of(s).iter().map(|x| (x.t, x.v.to_bits())).collect();
            let ws: Vec<_> = w.samples.iter().map(|x| (x.timestamp, x.value.to_bits())).collect();
            prop_assert_eq!(gs, ws);
            prop_assert_eq!(s.histograms as usize, w.histograms.len());
            for (e, we) in got.exemplars_of(s).iter().zip(&w.exemplars) {
                prop_assert_eq!((e.t, e.v.to_bits()), (we.timestamp, we.value.to_bits()));
                let el: Vec<_> = got.exemplar_labels_of(e).iter()
                    .map(|l| (l.name.to_owned(), l.value.to_owned())).collect();
                prop_assert_eq!(el, resolve(&want.symbols, &we.labels_refs));
            }
            let wm = w.metadata.map(|m| (m.r#type, want.symbols[m.help_ref as usize].clone(),
                want.symbols[m.unit_ref as usize].clone()));
            let gm = s.metadata.map(|m| (m.metric_type, m.help.to_owned(), m.unit.to_owned()));
            prop_assert_eq!(gm, wm);
        }
    }

    #[test]
    fn scratch_decodes_like_fresh_buffers(
        requests in prop::collection::vec(
            prop_oneof![
                v1_request().prop_map(|r| (Protocol::V1, r.encode_to_vec())),
                v2_request().prop_map(|r| (Protocol::V2, r.encode_to_vec())),
                prop::collection::vec(any::<u8>(), 0..64).prop_map(|b| (Protocol::V1, b)),
            ],
            1..8,
        ),
    ) {
        // One scratch through a sequence of requests (bigger and smaller, bad ones too)
        // gives what fresh buffers give, request by request (compared as debug text so
        // that NaN values compare equal).
        let limits = Limits::default();
        let mut scratch = crate::scratch::Scratch::default();
        for (protocol, raw) in &requests {
            let body = crate::snappy::compress(raw);
            let fresh = crate::snappy::decompress(&body, &limits)
                .and_then(|raw| decode(*protocol, &raw, &limits).map(|r| format!("{r:?}")));
            let reused = scratch.decode(*protocol, &body, &limits, |r, _| Ok(format!("{r:?}")));
            prop_assert_eq!(format!("{reused:?}"), format!("{fresh:?}"));
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode(Protocol::V1, &body, &Limits::default());
        let _ = decode(Protocol::V2, &body, &Limits::default());
        let _ = crate::snappy::decompress(&body, &Limits::default());
    }

    #[test]
    fn mutated_requests_never_panic(
        want in v2_request(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let mut body = want.encode_to_vec();
        if !body.is_empty() {
            for (i, b) in flips {
                let at = i.index(body.len());
                body[at] = b;
            }
        }
        let _ = decode(Protocol::V1, &body, &Limits::default());
        let _ = decode(Protocol::V2, &body, &Limits::default());
    }
}

#[test]
fn v2_symbol_errors_mark_only_their_series() {
    let req = v2::Request {
        symbols: vec!["".into(), "__name__".into(), "up".into()],
        timeseries: vec![
            v2::TimeSeries {
                labels_refs: vec![1, 2],
                ..Default::default()
            },
            v2::TimeSeries {
                labels_refs: vec![1, 9],
                ..Default::default()
            },
            v2::TimeSeries {
                labels_refs: vec![1, 2, 1],
                ..Default::default()
            },
        ],
    };
    let body = req.encode_to_vec();
    let got = decode(Protocol::V2, &body, &Limits::default()).expect("decode");
    assert_eq!(got.series[0].defect, None);
    assert_eq!(
        got.series[1].defect,
        Some(SeriesDefect::SymbolOutOfRange {
            index: 9,
            symbols: 3
        })
    );
    assert_eq!(
        got.series[2].defect,
        Some(SeriesDefect::OddLabelRefs { len: 3 })
    );
}

#[test]
fn v2_first_symbol_must_be_empty() {
    let req = v2::Request {
        symbols: vec!["x".into()],
        timeseries: vec![],
    };
    let err = decode(Protocol::V2, &req.encode_to_vec(), &Limits::default()).unwrap_err();
    assert!(matches!(err, Error::FirstSymbolNotEmpty), "{err}");
}

#[test]
fn series_limit_is_enforced() {
    let req = v1::WriteRequest {
        timeseries: vec![v1::TimeSeries::default(); 3],
        metadata: vec![],
    };
    let limits = Limits {
        max_series_per_request: 2,
        ..Limits::default()
    };
    let body = req.encode_to_vec();
    assert!(matches!(
        decode(Protocol::V1, &body, &limits),
        Err(Error::TooManySeries { limit: 2 })
    ));
    limits_ok(&body);
}

fn limits_ok(body: &[u8]) {
    assert!(decode(Protocol::V1, body, &Limits::default()).is_ok());
}

#[test]
fn invalid_utf8_and_truncation_are_errors() {
    // TimeSeries { Label { name: "\xff" } }
    let body = [0x0a, 0x05, 0x0a, 0x03, 0x0a, 0x01, 0xff];
    let err = decode(Protocol::V1, &body, &Limits::default()).unwrap_err();
    assert!(matches!(err, Error::InvalidUtf8 { offset: 6 }), "{err}");
    let err = decode(Protocol::V1, &body[..5], &Limits::default()).unwrap_err();
    assert!(matches!(err, Error::Protobuf { .. }), "{err}");
}

#[test]
fn labels_decode_on_both_utf8_paths() {
    // Pure ASCII labels (the fast path), a 200-byte value whose length varint is not
    // ASCII, and non-ASCII UTF-8: each must decode to exactly its strings.
    let long = "v".repeat(200);
    let cases = [
        ("job", "node"),
        ("long", long.as_str()),
        ("city", "Zürich ☃"),
    ];
    let req = v1::WriteRequest {
        timeseries: vec![v1::TimeSeries {
            labels: cases
                .iter()
                .map(|(n, v)| v1::Label {
                    name: (*n).to_owned(),
                    value: (*v).to_owned(),
                })
                .collect(),
            samples: vec![v1::Sample {
                value: 1.0,
                timestamp: 1,
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let body = req.encode_to_vec();
    let got = decode(Protocol::V1, &body, &Limits::default()).unwrap();
    let want: Vec<(String, String)> = cases
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect();
    assert_eq!(pairs(&got, &got.series[0]), want);
    // An ASCII name with an invalid value byte is still refused, at the right offset.
    let body = [0x0a, 0x07, 0x0a, 0x05, 0x0a, 0x01, b'a', 0x12, 0x00];
    assert!(decode(Protocol::V1, &body, &Limits::default()).is_ok());
    let body = [0x0a, 0x08, 0x0a, 0x06, 0x0a, 0x01, b'a', 0x12, 0x01, 0x80];
    let err = decode(Protocol::V1, &body, &Limits::default()).unwrap_err();
    assert!(matches!(err, Error::InvalidUtf8 { offset: 9 }), "{err}");
}

#[test]
fn snappy_limits_are_checked_before_allocating() {
    let raw = vec![7u8; 10_000];
    let body = crate::snappy::compress(&raw);
    let small = Limits {
        max_decompressed_bytes: 9_999,
        ..Limits::default()
    };
    assert!(matches!(
        crate::snappy::decompress(&body, &small),
        Err(Error::DecompressedTooLarge { size: 10_000, .. })
    ));
    let tiny = Limits {
        max_compressed_bytes: body.len() - 1,
        ..Limits::default()
    };
    assert!(matches!(
        crate::snappy::decompress(&body, &tiny),
        Err(Error::BodyTooLarge { .. })
    ));
    assert_eq!(
        crate::snappy::decompress(&body, &Limits::default()).unwrap(),
        raw
    );
    // A header claiming 2^32 bytes is refused without allocating them.
    let lie = [0xff, 0xff, 0xff, 0xff, 0x0f, 0x00];
    assert!(crate::snappy::decompress(&lie, &Limits::default()).is_err());
}
