//! Decode throughput of remote-write bodies shaped like Prometheus's (2,000 series of
//! 10 labels, one sample each), RW1 and RW2, and the whole ingest path into a head
//! without a WAL.

use criterion::{Criterion, Throughput};
use ingest::encode::SymbolTable;
use ingest::proto::{v1, v2};
use ingest::{Limits, Protocol};
use prometheus_client::registry::Registry;
use prost::Message;

const SERIES: usize = 2000;

fn labels(i: usize) -> Vec<(String, String)> {
    vec![
        ("__name__".into(), format!("container_metric_{}", i % 40)),
        ("container".into(), format!("app-{}", i % 7)),
        ("cpu".into(), "total".into()),
        (
            "id".into(),
            format!("/kubepods/burstable/pod{:08x}", i * 7919),
        ),
        ("image".into(), "registry.local/app:1.2.3".into()),
        (
            "instance".into(),
            format!("10.0.{}.{}:10250", i % 16, i % 250),
        ),
        ("job".into(), "kubelet".into()),
        ("name".into(), format!("k8s_app_{i}")),
        ("namespace".into(), format!("team-{}", i % 12)),
        ("pod".into(), format!("app-{}-{:05}", i % 7, i)),
    ]
}

fn bodies() -> (Vec<u8>, Vec<u8>) {
    let t = 1_700_000_000_000;
    let v1 = v1::WriteRequest {
        timeseries: (0..SERIES)
            .map(|i| v1::TimeSeries {
                labels: labels(i)
                    .into_iter()
                    .map(|(name, value)| v1::Label { name, value })
                    .collect(),
                samples: vec![v1::Sample {
                    value: i as f64,
                    timestamp: t,
                }],
                ..Default::default()
            })
            .collect(),
        metadata: vec![],
    };
    let mut st = SymbolTable::new();
    let timeseries = (0..SERIES)
        .map(|i| {
            let l = labels(i);
            v2::TimeSeries {
                labels_refs: st.refs(l.iter().map(|(n, v)| (n.as_str(), v.as_str()))),
                samples: vec![v2::Sample {
                    value: i as f64,
                    timestamp: t,
                }],
                ..Default::default()
            }
        })
        .collect();
    let v2 = v2::Request {
        symbols: st.into_symbols(),
        timeseries,
    };
    (v1.encode_to_vec(), v2.encode_to_vec())
}

fn bench(c: &mut Criterion) {
    let (b1, b2) = bodies();
    let limits = Limits::default();
    let mut g = c.benchmark_group("remote_write");
    g.throughput(Throughput::Elements(SERIES as u64));
    g.bench_function("decode_v1", |b| {
        b.iter(|| ingest::decode(Protocol::V1, &b1, &limits).expect("decode"))
    });
    g.bench_function("decode_v2", |b| {
        b.iter(|| ingest::decode(Protocol::V2, &b2, &limits).expect("decode"))
    });
    g.bench_function("prost_v1", |b| {
        b.iter(|| v1::WriteRequest::decode(b1.as_slice()).expect("decode"))
    });
    let c1 = ingest::snappy::compress(&b1);
    let opts = tsdb::Options {
        wal_enabled: false,
        ..Default::default()
    };
    let head = tsdb::Head::new(&opts, &mut Registry::default()).expect("head");
    let mut t = 1_700_000_000_000i64;
    g.bench_function("ingest_v1_existing_series", |b| {
        b.iter(|| {
            // A new timestamp per iteration: every sample is appended, none refused.
            t += 1000;
            let raw = ingest::snappy::decompress(&c1, &limits).expect("snappy");
            let mut req = ingest::decode(Protocol::V1, &raw, &limits).expect("decode");
            for s in &mut req.samples {
                s.t = t;
            }
            let out = ingest::apply(&head, &req, &limits, t).expect("apply");
            assert_eq!(out.samples_written, SERIES as u64);
        })
    });
    g.finish();
}

// Written out instead of `criterion_group!`, whose generated `pub fn` has no doc comment.
fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
}
