//! Replay on two threads builds the same head as on one, and both follow the replay
//! rules (aliases, unknown refs, minimum valid time, out-of-order and duplicate samples,
//! tombstones, metadata, exemplars), checked against a model.

use std::collections::HashMap;
use std::path::Path;

use prometheus_client::registry::Registry;
use proptest::prelude::*;

use super::ReplayThreads;
use crate::chunkenc::SampleIterator;
use crate::chunkenc::ValueType;
use crate::chunkenc::xor::XorIterator;
use crate::head::Head;
use crate::labels::{Labels, MatchType, Matcher};
use crate::options::Options;
use crate::record::{
    self, HeadSeriesRef, MetricType, RefExemplar, RefMetadata, RefSample, RefSeries, Tombstone,
};
use crate::wal::{self, Wal, WalMetrics, WalOptions};

/// One WAL record, in terms small enough for proptest to shrink.
#[derive(Debug, Clone)]
enum Rec {
    /// Refs, each with the label set [`set_of`] it: a set logged again under another
    /// ref is an alias.
    Series(Vec<u64>),
    /// (ref, time, value): refs without a series are unknown.
    Samples(Vec<(u64, i64, u8)>),
    Tombstones(Vec<(u64, i64, i64)>),
    Metadata(Vec<(u64, u8)>),
    Exemplars(Vec<(u64, i64, u8)>),
}

/// The label set of a ref: ten sets, so refs 1 and 11 name the same one.
fn set_of(r: u64) -> u8 {
    (r % 10) as u8
}

fn labels(set: u8) -> Labels {
    let name = format!("metric_{}", set % 3);
    let set = set.to_string();
    Labels::from_pairs(&[("__name__", name.as_str()), ("set", set.as_str())])
}

fn write_wal(dir: &Path, recs: &[Rec]) {
    let opts = WalOptions {
        // Small segments, so records span pages and segments.
        segment_size: 4 * crate::wal::PAGE_SIZE,
        compression: true,
    };
    let mut w = Wal::open(dir, opts, WalMetrics::default()).expect("wal");
    for rec in recs {
        let mut buf = Vec::new();
        match rec {
            Rec::Series(v) => {
                let v: Vec<RefSeries> = v
                    .iter()
                    .map(|&r| RefSeries {
                        series_ref: r,
                        labels: labels(set_of(r)),
                    })
                    .collect();
                record::encode_series(&v, &mut buf);
            }
            Rec::Samples(v) => {
                let v: Vec<RefSample> = v
                    .iter()
                    .map(|&(r, t, v)| RefSample {
                        series_ref: r,
                        t,
                        v: f64::from(v),
                    })
                    .collect();
                record::encode_samples(&v, &mut buf);
            }
            Rec::Tombstones(v) => {
                let v: Vec<Tombstone> = v
                    .iter()
                    .map(|&(r, a, b)| Tombstone {
                        series_ref: r,
                        mint: a.min(b),
                        maxt: a.max(b),
                    })
                    .collect();
                record::encode_tombstones(&v, &mut buf);
            }
            Rec::Metadata(v) => {
                let v: Vec<RefMetadata> = v
                    .iter()
                    .map(|&(r, u)| RefMetadata {
                        series_ref: r,
                        metric_type: MetricType::Gauge,
                        unit: format!("u{u}"),
                        help: String::new(),
                    })
                    .collect();
                record::encode_metadata(&v, &mut buf);
            }
            Rec::Exemplars(v) => {
                let v: Vec<RefExemplar> = v
                    .iter()
                    .map(|&(r, t, x)| RefExemplar {
                        series_ref: r,
                        t,
                        v: f64::from(x),
                        labels: Labels::from_pairs(&[("trace_id", &x.to_string())]),
                    })
                    .collect();
                record::encode_exemplars(&v, &mut buf);
            }
        }
        w.log(&[&buf]).expect("log");
    }
    w.close().expect("close");
}

fn replay(dir: &Path, min_valid: i64, threads: ReplayThreads) -> Head {
    let opts = Options {
        max_exemplars: 1000,
        ..Options::default()
    };
    let mut head = Head::new(&opts, &mut Registry::default()).expect("head");
    head.min_valid_time = std::sync::atomic::AtomicI64::new(min_valid);
    head.replay_with(dir, wal::OnDamage::Stop, threads)
        .expect("replay");
    head
}

/// A series' ref, labels, and (min_t, max_t, bytes) of every chunk, the open one last.
type SeriesChunks = (HeadSeriesRef, String, Vec<(i64, i64, Vec<u8>)>);

/// Samples by label set.
type SamplesBySet = HashMap<u8, Vec<(i64, f64)>>;

/// Everything a replay sets, as comparable values.
#[derive(Debug, PartialEq)]
struct Snapshot {
    series: Vec<SeriesChunks>,
    postings: Vec<(String, String, Vec<u32>)>,
    tombstones: Vec<(HeadSeriesRef, Vec<(i64, i64)>)>,
    metadata: Vec<(HeadSeriesRef, String)>,
    exemplars: String,
    /// series, unknown refs, out of order, chunks, min time, max time, last ref.
    numbers: [i64; 7],
}

fn snapshot(head: &Head) -> Snapshot {
    let mut series = Vec::new();
    let mut postings = Vec::new();
    let mut all = head.series.all();
    all.sort_by_key(|s| s.series_ref);
    for s in &all {
        let st = s.state.lock();
        let mut chunks: Vec<(i64, i64, Vec<u8>)> = st
            .sealed
            .iter()
            .map(|c| (c.min_t, c.max_t, c.data.to_vec()))
            .collect();
        if let Some(o) = &st.open {
            chunks.push((o.min_t, o.max_t(), o.app.bytes().to_vec()));
        }
        series.push((s.series_ref, s.labels.to_string(), chunks));
        for l in s.labels.iter() {
            let (n, v) = (l.name.as_str(), l.value.as_str());
            let ids = head.postings.get(n, v).expect("indexed");
            postings.push((n.to_string(), v.to_string(), ids.iter().collect()));
        }
    }
    postings.sort();
    postings.dedup();
    let mut tombstones: Vec<_> = head
        .tombstones
        .read()
        .iter()
        .map(|(r, iv)| (*r, iv.clone()))
        .collect();
    tombstones.sort();
    let mut metadata: Vec<_> = head
        .metadata
        .read()
        .iter()
        .map(|(r, m)| (*r, format!("{m:?}")))
        .collect();
    metadata.sort();
    let all_names = vec![Matcher::new(MatchType::RegexMatch, "__name__", ".+").expect("matcher")];
    let exemplars = format!(
        "{:?}",
        head.select_exemplars(i64::MIN, i64::MAX, &[all_names])
            .expect("exemplars")
    );
    let m = &head.metrics;
    Snapshot {
        series,
        postings,
        tombstones,
        metadata,
        exemplars,
        numbers: [
            m.series.get(),
            m.wal_replay_unknown_refs.get() as i64,
            m.out_of_order_samples.get() as i64,
            m.chunks.get(),
            head.min_time(),
            head.max_time(),
            head.last_series_ref
                .load(std::sync::atomic::Ordering::Relaxed) as i64,
        ],
    }
}

/// The samples each label set should hold, and the unknown and out-of-order counts, by
/// the replay rules: the first ref logged for a label set owns it, later refs for the
/// same set are aliases, samples before `min_valid` are dropped before anything else,
/// an older sample is out of order, and so is an equal timestamp with another value
/// (with an equal value it is a duplicate, dropped).
fn model(recs: &[Rec], min_valid: i64) -> (SamplesBySet, u64, u64) {
    let mut known: HashMap<u64, u8> = HashMap::new();
    let mut samples = SamplesBySet::new();
    let (mut unknown, mut ooo) = (0, 0);
    for rec in recs {
        match rec {
            Rec::Series(v) => {
                for &r in v {
                    known.insert(r, set_of(r));
                }
            }
            Rec::Samples(v) => {
                for &(r, t, x) in v.iter().filter(|s| s.1 >= min_valid) {
                    let Some(&set) = known.get(&r) else {
                        unknown += 1;
                        continue;
                    };
                    let got = samples.entry(set).or_default();
                    match got.last() {
                        Some(&(lt, lv)) if t == lt && f64::from(x) == lv => {}
                        Some(&(lt, _)) if t <= lt => ooo += 1,
                        _ => got.push((t, f64::from(x))),
                    }
                }
            }
            _ => {}
        }
    }
    (samples, unknown, ooo)
}

fn head_samples(head: &Head) -> SamplesBySet {
    let mut out = HashMap::new();
    for s in head.series.all() {
        let set: u8 = s
            .labels
            .get("set")
            .and_then(|v| v.parse().ok())
            .expect("set");
        let st = s.state.lock();
        let mut got = Vec::new();
        let open = st.open.as_ref().map(|o| o.app.bytes().to_vec());
        for bytes in st.sealed.iter().map(|c| c.data.to_vec()).chain(open) {
            let mut it = XorIterator::new(bytes.as_slice());
            while it.next() != ValueType::None {
                got.push(it.at());
            }
        }
        if !got.is_empty() {
            out.insert(set, got);
        }
    }
    out
}

fn check(recs: &[Rec], min_valid: i64) {
    let dir = tempfile::tempdir().expect("tempdir");
    write_wal(dir.path(), recs);
    let one = replay(dir.path(), min_valid, ReplayThreads::One);
    let two = replay(dir.path(), min_valid, ReplayThreads::Two);
    let snap = snapshot(&one);
    assert_eq!(snap, snapshot(&two), "two threads differ from one");
    let (want, unknown, ooo) = model(recs, min_valid);
    assert_eq!(head_samples(&one), want);
    assert_eq!(snap.numbers[1], unknown as i64, "unknown refs");
    assert_eq!(snap.numbers[2], ooo as i64, "out of order");
}

fn rec() -> impl Strategy<Value = Rec> {
    let r = 1u64..24;
    prop_oneof![
        3 => proptest::collection::vec(r.clone(), 1..8).prop_map(Rec::Series),
        6 => proptest::collection::vec((r.clone(), 0i64..60, 0u8..3), 1..40).prop_map(Rec::Samples),
        1 => proptest::collection::vec((r.clone(), 0i64..60, 0i64..60), 1..4).prop_map(Rec::Tombstones),
        1 => proptest::collection::vec((r.clone(), 0u8..3), 1..4).prop_map(Rec::Metadata),
        1 => proptest::collection::vec((r, 0i64..60, 0u8..3), 1..4).prop_map(Rec::Exemplars),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn two_threads_replay_like_one_and_like_the_model(
        recs in proptest::collection::vec(rec(), 0..40),
        min_valid in prop_oneof![Just(i64::MIN), 0i64..30],
    ) {
        check(&recs, min_valid);
    }
}

#[test]
fn batches_span_many_records_and_series_records_between_them() {
    // Far more samples than one batch, in records of 97, with series records (new
    // series and aliases) arriving between them and samples naming refs before their
    // series record (unknown then), out of order and duplicated.
    let mut recs = Vec::new();
    let mut x = 12345u64;
    let mut next = |n: u64| {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (x >> 33) % n
    };
    for round in 0..400i64 {
        if round % 20 == 0 {
            let base = round as u64 / 20 * 10;
            recs.push(Rec::Series((base + 1..=base + 10).collect()));
        }
        let samples = (0..97)
            .map(|_| {
                let r = next(220) + 1;
                let t = round * 10 + next(15) as i64 - 3;
                (r, t, next(2) as u8)
            })
            .collect();
        recs.push(Rec::Samples(samples));
    }
    check(&recs, i64::MIN);
    check(&recs, 1500);
}
