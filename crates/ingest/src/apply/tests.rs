//! Applying decoded requests to a head: partial acceptance, per-sample refusals,
//! histograms, exemplars and metadata.

use prometheus_client::registry::Registry;
use prost::Message;
use tsdb::Head;
use tsdb::labels::{MatchType, Matcher};
use tsdb::record::MetricType;

use super::*;
use crate::decode::{Protocol, decode};
use crate::encode::SymbolTable;
use crate::proto::{v1, v2};

const NOW: i64 = 1_700_000_000_000;

fn head() -> Head {
    let opts = tsdb::Options {
        wal_enabled: false,
        ..Default::default()
    };
    Head::new(&opts, &mut Registry::default()).expect("head")
}

fn series(labels: &[(&str, &str)], samples: &[(i64, f64)]) -> v1::TimeSeries {
    v1::TimeSeries::new(labels, samples)
}

fn run_v1(head: &Head, req: &v1::WriteRequest) -> Outcome {
    let body = req.encode_to_vec();
    let dec = decode(Protocol::V1, &body, &Limits::default()).expect("decode");
    apply(head, &dec, &Limits::default(), NOW).expect("apply")
}

fn count(head: &Head, name: &str) -> usize {
    use tsdb::chunkenc::{SampleIterator, ValueType};
    use tsdb::storage::Querier;
    let q = head.querier(i64::MIN, i64::MAX);
    let m = Matcher::new(MatchType::Equal, "__name__", name).unwrap();
    let mut n = 0;
    for s in q.select(false, None, &[m]).unwrap() {
        let s = s.unwrap();
        let mut it = s.iterator();
        while it.next() != ValueType::None {
            n += 1;
        }
    }
    n
}

#[test]
fn partly_bad_request_keeps_valid_series() {
    let h = head();
    let req = v1::WriteRequest {
        timeseries: vec![
            series(
                &[("__name__", "good"), ("a", "1")],
                &[(NOW, 1.0), (NOW + 1, 2.0)],
            ),
            series(&[("b", "1"), ("__name__", "unsorted")], &[(NOW, 1.0)]),
            series(
                &[("__name__", "dup"), ("a", "1"), ("a", "2")],
                &[(NOW, 1.0)],
            ),
            series(&[("a", "1")], &[(NOW, 1.0)]),
            series(&[("__name__", ""), ("a", "1")], &[(NOW, 1.0)]),
            series(&[("__name__", "empty_value"), ("a", "")], &[(NOW, 5.0)]),
        ],
        metadata: vec![],
    };
    let out = run_v1(&h, &req);
    assert_eq!(out.samples_written, 3);
    assert_eq!(out.series_rejected, 4);
    assert_eq!(out.rejected[&RejectReason::UnsortedLabels], 1);
    assert_eq!(out.rejected[&RejectReason::DuplicateLabelName], 1);
    assert_eq!(out.rejected[&RejectReason::MissingMetricName], 2);
    let msg = out.message().expect("400 message");
    assert!(
        msg.starts_with(r#"series {b="1", __name__="unsorted"}: labels not sorted"#),
        "{msg}"
    );
    assert!(
        msg.contains("4 samples/histograms/exemplars and 4 series rejected"),
        "{msg}"
    );
    assert_eq!(count(&h, "good"), 2);
    // The empty-valued label was dropped, as Prometheus does.
    assert!(
        h.lookup([("__name__", "empty_value")].into_iter())
            .is_some()
    );
}

#[test]
fn samples_are_refused_one_by_one() {
    let h = head();
    let lbls = [("__name__", "m")];
    let first = run_v1(
        &h,
        &v1::WriteRequest {
            timeseries: vec![series(&lbls, &[(NOW, 1.0)])],
            metadata: vec![],
        },
    );
    assert_eq!(first.samples_written, 1);
    assert!(!first.is_bad_request());
    let out = run_v1(
        &h,
        &v1::WriteRequest {
            timeseries: vec![series(
                &lbls,
                &[
                    (NOW - 1, 0.0),         // older than stored: out of order
                    (NOW, 2.0),             // same timestamp, other value
                    (NOW, 1.0),             // exact duplicate: accepted, no-op
                    (NOW + 10, 3.0),        // fine
                    (NOW + 5, 3.0),         // out of order within the request
                    (NOW + 3_600_000, 9.0), // an hour ahead
                ],
            )],
            metadata: vec![],
        },
    );
    assert_eq!(out.samples_written, 2);
    assert_eq!(out.rejected[&RejectReason::OutOfOrder], 2);
    assert_eq!(out.rejected[&RejectReason::DuplicateTimestamp], 1);
    assert_eq!(out.rejected[&RejectReason::TooFarInFuture], 1);
    assert!(out.first_error.as_ref().unwrap().contains("out of order"));
    assert_eq!(count(&h, "m"), 2);
}

#[test]
fn histograms_are_refused_but_floats_kept() {
    let h = head();
    let mut hs = series(&[("__name__", "h")], &[]);
    hs.histograms.push(v1::Histogram {
        count_int: Some(1),
        timestamp: NOW,
        ..Default::default()
    });
    let out = run_v1(
        &h,
        &v1::WriteRequest {
            timeseries: vec![hs, series(&[("__name__", "f")], &[(NOW, 1.0)])],
            metadata: vec![],
        },
    );
    assert_eq!(out.samples_written, 1);
    assert_eq!(out.rejected[&RejectReason::NativeHistogram], 1);
    assert_eq!(
        out.first_error.as_deref(),
        Some(r#"series {__name__="h"}: native histograms are not supported yet"#)
    );
}

#[test]
fn metadata_only_request_is_accepted() {
    let h = head();
    let out = run_v1(
        &h,
        &v1::WriteRequest {
            timeseries: vec![],
            metadata: vec![v1::MetricMetadata {
                r#type: 1,
                metric_family_name: "http_requests_total".into(),
                help: "Requests.".into(),
                unit: String::new(),
            }],
        },
    );
    assert!(!out.is_bad_request());
    let m = h.metadata_by_metric(None, None, None);
    assert_eq!(m["http_requests_total"][0].metric_type, MetricType::Counter);
}

#[test]
fn v2_exemplars_and_metadata_are_written() {
    let h = head();
    let mut st = SymbolTable::new();
    let refs = st.refs([("__name__", "req_total"), ("job", "api")]);
    let ex_refs = st.refs([("trace_id", "abc")]);
    let help = st.intern("Requests served.");
    let bad = vec![1, 999];
    let req = v2::Request {
        timeseries: vec![
            v2::TimeSeries {
                labels_refs: refs,
                samples: vec![v2::Sample {
                    value: 3.0,
                    timestamp: NOW,
                }],
                exemplars: vec![v2::Exemplar {
                    labels_refs: ex_refs,
                    value: 1.0,
                    timestamp: NOW,
                }],
                metadata: Some(v2::Metadata {
                    r#type: 1,
                    help_ref: help,
                    unit_ref: 0,
                }),
                ..Default::default()
            },
            v2::TimeSeries {
                labels_refs: bad,
                samples: vec![v2::Sample {
                    value: 1.0,
                    timestamp: NOW,
                }],
                ..Default::default()
            },
        ],
        symbols: st.into_symbols(),
    };
    let body = req.encode_to_vec();
    let dec = decode(Protocol::V2, &body, &Limits::default()).expect("decode");
    let out = apply(&h, &dec, &Limits::default(), NOW).expect("apply");
    assert_eq!(out.samples_written, 1);
    assert_eq!(out.exemplars_written, 1);
    assert_eq!(out.rejected[&RejectReason::InvalidSymbolRef], 1);
    assert!(
        out.first_error
            .as_deref()
            .unwrap()
            .starts_with("series #1: symbol reference 999 out of range"),
        "{:?}",
        out.first_error
    );
    let m = Matcher::new(MatchType::Equal, "job", "api").unwrap();
    let ex = h.select_exemplars(NOW, NOW, &[vec![m]]).unwrap();
    assert_eq!(ex[0].exemplars[0].labels.get("trace_id"), Some("abc"));
    let meta = h.metadata_by_metric(Some("req_total"), None, None);
    assert_eq!(meta["req_total"][0].help, "Requests served.");
}

#[test]
fn label_limits_are_enforced() {
    let h = head();
    let long = "x".repeat(5000);
    let req = v1::WriteRequest {
        timeseries: vec![series(&[("__name__", "m"), ("v", &long)], &[(NOW, 1.0)])],
        metadata: vec![],
    };
    let out = run_v1(&h, &req);
    assert_eq!(out.rejected[&RejectReason::LabelValueTooLong], 1);
    let many: Vec<(String, String)> = (0..200).map(|i| (format!("l{i:03}"), "v".into())).collect();
    let mut lbls: Vec<(&str, &str)> = vec![("__name__", "m")];
    lbls.extend(many.iter().map(|(n, v)| (n.as_str(), v.as_str())));
    let out = run_v1(
        &h,
        &v1::WriteRequest {
            timeseries: vec![series(&lbls, &[(NOW, 1.0)])],
            metadata: vec![],
        },
    );
    assert_eq!(out.rejected[&RejectReason::TooManyLabels], 1);
}

/// Every sample of the head as `(labels, t, value bits)`, sorted.
fn dump(head: &Head) -> Vec<(String, i64, u64)> {
    use tsdb::chunkenc::{SampleIterator, ValueType};
    use tsdb::storage::Querier;
    let q = head.querier(i64::MIN, i64::MAX);
    let m = Matcher::new(MatchType::RegexMatch, "__name__", ".+").unwrap();
    let mut out = Vec::new();
    for s in q.select(false, None, &[m]).unwrap() {
        let s = s.unwrap();
        let labels = format!("{:?}", s.labels());
        let mut it = s.iterator();
        while it.next() != ValueType::None {
            let (t, v) = it.at();
            out.push((labels.clone(), t, v.to_bits()));
        }
    }
    out.sort();
    out
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// One `ApplyScratch` through a sequence of requests (series repeated within a
    /// request, out-of-order and duplicate samples, bad labels) gives the outcomes and
    /// the head that fresh tables give.
    #[test]
    fn reused_scratch_applies_like_fresh_tables(
        requests in proptest::collection::vec(
            proptest::collection::vec(
                (0usize..4, 0usize..6, proptest::collection::vec((0i64..6, 0u8..3), 0..4)),
                0..12,
            ),
            1..6,
        ),
    ) {
        let (fresh, reused) = (head(), head());
        let mut scratch = ApplyScratch::default();
        for req in &requests {
            let timeseries = req
                .iter()
                .map(|(name, v, samples)| {
                    // Name 3 is missing: a series-level refusal.
                    let name = ["m0", "m1", "m2", ""][*name];
                    let v = v.to_string();
                    let samples: Vec<(i64, f64)> = samples
                        .iter()
                        .map(|(t, x)| (NOW - 1_000 + t * 100, f64::from(*x)))
                        .collect();
                    series(&[("__name__", name), ("v", &v)], &samples)
                })
                .collect();
            let body = v1::WriteRequest { timeseries, metadata: Vec::new() }.encode_to_vec();
            let dec = decode(Protocol::V1, &body, &Limits::default()).expect("decode");
            let a = apply(&fresh, &dec, &Limits::default(), NOW).expect("apply");
            let b = apply_with(&reused, &dec, &Limits::default(), NOW, &mut scratch)
                .expect("apply_with");
            proptest::prop_assert_eq!(a, b);
        }
        proptest::prop_assert_eq!(dump(&fresh), dump(&reused));
    }
}
