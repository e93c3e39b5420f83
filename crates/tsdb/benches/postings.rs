//! Postings benchmarks: `roaring` (pure Rust, used by `tsdb`) against `croaring` (CRoaring).
//!
//! Shapes follow a Kubernetes head of 1M series: a metric name with 10k series, a
//! namespace with 100k and a job with 300k. Two layouts:
//!
//! * `clustered`: ids of a job or namespace are contiguous (series created together), a
//!   metric name is spread evenly over its namespace;
//! * `random`: every list is a uniform random sample of the universe (the worst case).
//!
//! Benchmarks: intersection of 2 and 3 lists, union of 1000 pods × 10 series, inserting
//! 1M ids into a bitmap (in order, as the head assigns them, and shuffled), and
//! `postings_for_matchers` on a `MemPostings` for context. Run briefly with
//! `cargo bench -p tsdb --bench postings -- --warm-up-time 1 --measurement-time 3`.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion};
use croaring::Bitmap as CBitmap;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use roaring::RoaringBitmap;
use tsdb::index::postings::{self, MemPostings};
use tsdb::labels::{Labels, MatchType, Matcher};

const UNIVERSE: u32 = 1_000_000;

/// The three lists of the intersection benchmarks, as sorted ids.
struct Shape {
    name: &'static str,
    metric: Vec<u32>,
    namespace: Vec<u32>,
    job: Vec<u32>,
}

fn random_sample(rng: &mut StdRng, n: usize) -> Vec<u32> {
    let mut ids: Vec<u32> = rand::seq::index::sample(rng, UNIVERSE as usize, n)
        .into_iter()
        .map(|i| i as u32)
        .collect();
    ids.sort_unstable();
    ids
}

fn shapes() -> Vec<Shape> {
    let mut rng = StdRng::seed_from_u64(42);
    vec![
        Shape {
            name: "clustered",
            // Job: a block of 300k; namespace: 100k inside it; metric: every 10th series of
            // the namespace.
            job: (200_000..500_000).collect(),
            namespace: (350_000..450_000).collect(),
            metric: (350_000..450_000).step_by(10).collect(),
        },
        Shape {
            name: "random",
            metric: random_sample(&mut rng, 10_000),
            namespace: random_sample(&mut rng, 100_000),
            job: random_sample(&mut rng, 300_000),
        },
    ]
}

fn roaring_of(ids: &[u32]) -> RoaringBitmap {
    RoaringBitmap::from_sorted_iter(ids.iter().copied()).expect("sorted ids")
}

fn croaring_of(ids: &[u32]) -> CBitmap {
    CBitmap::of(ids)
}

fn report_sizes(shapes: &[Shape]) {
    for s in shapes {
        for (what, ids) in [
            ("metric", &s.metric),
            ("namespace", &s.namespace),
            ("job", &s.job),
        ] {
            let r = roaring_of(ids);
            let mut c = croaring_of(ids);
            let c_plain = c.get_serialized_size_in_bytes::<croaring::Portable>();
            c.run_optimize();
            let c_runs = c.get_serialized_size_in_bytes::<croaring::Portable>();
            eprintln!(
                "size {}/{what} ({} ids): roaring {} B, croaring {c_plain} B, croaring+runs {c_runs} B",
                s.name,
                ids.len(),
                r.serialized_size(),
            );
        }
    }
}

fn bench_intersect(c: &mut Criterion) {
    let shapes = shapes();
    report_sizes(&shapes);
    let mut group = c.benchmark_group("intersect");
    for s in &shapes {
        let (rm, rn, rj) = (
            roaring_of(&s.metric),
            roaring_of(&s.namespace),
            roaring_of(&s.job),
        );
        let (cm, cn, cj) = (
            croaring_of(&s.metric),
            croaring_of(&s.namespace),
            croaring_of(&s.job),
        );
        let (mut om, mut on, mut oj) = (cm.clone(), cn.clone(), cj.clone());
        om.run_optimize();
        on.run_optimize();
        oj.run_optimize();

        group.bench_function(BenchmarkId::new("2/roaring", s.name), |b| {
            b.iter(|| postings::intersect([black_box(&rm), black_box(&rn)]))
        });
        group.bench_function(BenchmarkId::new("2/croaring", s.name), |b| {
            b.iter(|| black_box(&cm).and(black_box(&cn)))
        });
        group.bench_function(BenchmarkId::new("3/roaring", s.name), |b| {
            b.iter(|| postings::intersect([black_box(&rm), black_box(&rn), black_box(&rj)]))
        });
        group.bench_function(BenchmarkId::new("3/croaring", s.name), |b| {
            b.iter(|| {
                let mut acc = black_box(&cm).and(black_box(&cn));
                acc.and_inplace(black_box(&cj));
                acc
            })
        });
        if s.name == "clustered" {
            group.bench_function(BenchmarkId::new("3/croaring+runs", s.name), |b| {
                b.iter(|| {
                    let mut acc = black_box(&om).and(black_box(&on));
                    acc.and_inplace(black_box(&oj));
                    acc
                })
            });
        }
    }
    group.finish();
}

fn bench_union(c: &mut Criterion) {
    let mut group = c.benchmark_group("union_1000x10");
    let mut rng = StdRng::seed_from_u64(7);
    let clustered: Vec<Vec<u32>> = (0..1000u32)
        .map(|pod| (0..10).map(|i| 300_000 + pod * 10 + i).collect())
        .collect();
    let random: Vec<Vec<u32>> = (0..1000).map(|_| random_sample(&mut rng, 10)).collect();
    for (name, lists) in [("clustered", &clustered), ("random", &random)] {
        let r: Vec<RoaringBitmap> = lists.iter().map(|l| roaring_of(l)).collect();
        let cr: Vec<CBitmap> = lists.iter().map(|l| croaring_of(l)).collect();
        group.bench_function(BenchmarkId::new("roaring", name), |b| {
            b.iter(|| postings::union(black_box(&r)))
        });
        group.bench_function(BenchmarkId::new("croaring", name), |b| {
            // What `Bitmap::fast_or` (CRoaring's `or_many`) does, including its conversion of
            // containers to bitsets while merging; `fast_or` itself needs
            // croaring's `alloc` feature, which the workspace does not enable.
            b.iter(|| {
                let mut acc = CBitmap::new();
                acc.lazy_batch(|lazy| {
                    for bm in black_box(&cr) {
                        lazy.or_inplace(bm, true);
                    }
                });
                acc
            })
        });
    }
    group.finish();
}

fn bench_add(c: &mut Criterion) {
    let mut group = c.benchmark_group("add_1M");
    group.sample_size(10);
    let in_order: Vec<u32> = (0..UNIVERSE).collect();
    let mut shuffled = in_order.clone();
    shuffled.shuffle(&mut StdRng::seed_from_u64(3));
    for (name, ids) in [("in_order", &in_order), ("shuffled", &shuffled)] {
        group.bench_function(BenchmarkId::new("roaring", name), |b| {
            b.iter(|| {
                let mut bm = RoaringBitmap::new();
                for &id in ids {
                    bm.insert(id);
                }
                bm
            })
        });
        group.bench_function(BenchmarkId::new("croaring", name), |b| {
            b.iter(|| {
                let mut bm = CBitmap::new();
                for &id in ids {
                    bm.add(id);
                }
                bm
            })
        });
    }
    group.finish();
}

fn bench_mem_postings(c: &mut Criterion) {
    // 100k series: 100 metric names, 10 namespaces, 1000 pods; ids assigned in order.
    let mp = MemPostings::new();
    let mut rng = StdRng::seed_from_u64(11);
    for id in 0..100_000u32 {
        let pod = rng.random_range(0..1000u32);
        let labels = Labels::from_pairs(&[
            ("__name__", format!("metric_{}", id % 100)),
            ("namespace", format!("ns-{}", pod % 10)),
            ("pod", format!("pod-{pod}")),
            ("job", "kubelet".to_string()),
        ]);
        mp.add(id, &labels);
    }
    let m = |k, n: &str, v: &str| Matcher::new(k, n, v).expect("valid matcher");
    let cases = [
        (
            "eq_eq",
            vec![
                m(MatchType::Equal, "__name__", "metric_7"),
                m(MatchType::Equal, "namespace", "ns-3"),
            ],
        ),
        (
            "eq_regex_prefix",
            vec![
                m(MatchType::Equal, "__name__", "metric_7"),
                m(MatchType::RegexMatch, "pod", "pod-1.*"),
            ],
        ),
        (
            "eq_regex_set_neq",
            vec![
                m(MatchType::Equal, "__name__", "metric_7"),
                m(MatchType::RegexMatch, "namespace", "ns-1|ns-2|ns-3"),
                m(MatchType::NotEqual, "pod", "pod-5"),
            ],
        ),
        (
            "eq_not_regex",
            vec![
                m(MatchType::Equal, "__name__", "metric_7"),
                m(MatchType::RegexNoMatch, "pod", "pod-[0-4].*"),
            ],
        ),
    ];
    let mut group = c.benchmark_group("postings_for_matchers_100k");
    for (name, matchers) in &cases {
        group.bench_function(*name, |b| {
            b.iter(|| mp.postings_for_matchers(black_box(matchers)))
        });
    }
    group.finish();
}

// Written out instead of `criterion_group!`, whose generated `pub fn` has no doc comment.
fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench_intersect(&mut c);
    bench_union(&mut c);
    bench_add(&mut c);
    bench_mem_postings(&mut c);
    c.final_summary();
}
