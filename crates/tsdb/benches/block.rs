//! Block benchmarks: write throughput of [`BlockWriter`], of a head range written as a
//! block (head compaction), and postings lookup latency of a block index for typical
//! matchers.
//!
//! The block has `BENCH_SERIES` series (default 100k; 1M works) shaped like a Kubernetes
//! cluster: 200 metric names, 20 jobs, 50 namespaces, a pod per 10 series, each series one
//! 120-sample XOR chunk; the head holds 20 samples of each series (10 minutes at 30 s).
//! Before the timed head block writes it prints the peak heap of one, above the head's
//! own (a counting global allocator). Run briefly with
//! `BENCH_SERIES=1000000 cargo bench -p tsdb --bench block -- --warm-up-time 1 --measurement-time 5`.

use std::collections::BTreeSet;
use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput};
use prometheus_client::registry::Registry;
use tsdb::block::{Block, BlockWriter, ChunkMeta, Compaction, Ulid};
use tsdb::chunkenc::XorAppender;
use tsdb::index::postings::postings_for_matchers;
use tsdb::labels::{Labels, MatchType, Matcher};
use tsdb::testutil::alloc::CountingAlloc;
use tsdb::{Db, Options};

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

fn series_count() -> usize {
    std::env::var("BENCH_SERIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000)
}

/// Sorted label sets and their symbols.
fn dataset(n: usize) -> (Vec<Labels>, Vec<String>) {
    let mut labels: Vec<Labels> = (0..n)
        .map(|i| {
            let pod = i / 10;
            Labels::from_pairs(&[
                ("__name__", format!("metric_{:03}", i % 200)),
                ("job", format!("job-{}", pod % 20)),
                ("namespace", format!("ns-{}", pod % 50)),
                (
                    "pod",
                    format!("{}-{pod:07}", if pod % 3 == 0 { "api" } else { "worker" }),
                ),
                (
                    "instance",
                    format!(
                        "10.{}.{}.{}:9100",
                        pod / 65536 % 256,
                        pod / 256 % 256,
                        pod % 256
                    ),
                ),
            ])
        })
        .collect();
    labels.sort();
    labels.dedup();
    let symbols: BTreeSet<String> = labels
        .iter()
        .flat_map(|l| {
            l.iter()
                .flat_map(|l| [l.name.to_string(), l.value.to_string()])
        })
        .collect();
    (labels, symbols.into_iter().collect())
}

fn chunk() -> Vec<u8> {
    let mut app = XorAppender::new();
    for i in 0..120 {
        app.append(1_700_000_000_000 + i * 15_000, (i * 7 % 13) as f64);
    }
    app.into_bytes()
}

fn write(parent: &Path, labels: &[Labels], symbols: &[String], data: &[u8]) -> Ulid {
    let ulid = Ulid::new();
    let mut w = BlockWriter::new(parent, ulid, symbols).expect("writer");
    let meta = [ChunkMeta {
        min_t: 1_700_000_000_000,
        max_t: 1_700_000_000_000 + 119 * 15_000,
        data,
    }];
    for l in labels {
        w.add_series(l, &meta).expect("add series");
    }
    w.finish(
        1_700_000_000_000,
        1_700_007_200_000,
        Compaction::level1(ulid),
    )
    .expect("finish");
    ulid
}

fn bench(c: &mut Criterion) {
    let n = series_count();
    let (labels, symbols) = dataset(n);
    let data = chunk();
    let tmp = tempfile::tempdir().expect("tempdir");

    let mut g = c.benchmark_group("block_write");
    g.sample_size(10);
    g.throughput(Throughput::Elements(labels.len() as u64));
    g.bench_function(format!("{n}_series"), |b| {
        b.iter(|| {
            let ulid = write(tmp.path(), &labels, &symbols, &data);
            std::fs::remove_dir_all(tmp.path().join(ulid.to_string())).expect("remove");
        })
    });
    g.finish();

    head_write(c, &labels);

    let ulid = write(tmp.path(), &labels, &symbols, &data);
    let block = Block::open(&tmp.path().join(ulid.to_string())).expect("open");
    let m = |t, n: &str, v: &str| Matcher::new(t, n, v).expect("matcher");
    let cases = [
        ("job_eq", vec![m(MatchType::Equal, "job", "job-7")]),
        (
            "name_eq_pod_regex",
            vec![
                m(MatchType::Equal, "__name__", "metric_042"),
                m(MatchType::RegexMatch, "pod", "a.*"),
            ],
        ),
        (
            "name_eq_job_ne",
            vec![
                m(MatchType::Equal, "__name__", "metric_042"),
                m(MatchType::NotEqual, "job", "job-7"),
            ],
        ),
        (
            "namespace_eq_pod_eq",
            vec![
                m(MatchType::Equal, "namespace", "ns-3"),
                m(MatchType::Equal, "pod", "api-0000003"),
            ],
        ),
    ];
    let mut g = c.benchmark_group("block_postings");
    for (name, ms) in &cases {
        g.bench_function(format!("{name}/{n}_series"), |b| {
            b.iter(|| black_box(postings_for_matchers(block.index(), ms).expect("postings")))
        });
    }
    g.finish();
    let mut g = c.benchmark_group("block_open");
    g.sample_size(10);
    g.bench_function(format!("{n}_series"), |b| {
        b.iter(|| black_box(Block::open(&tmp.path().join(ulid.to_string())).expect("open")))
    });
    g.finish();
}

/// Head compaction's write: the head's series listed, sorted and written as a block.
fn head_write(c: &mut Criterion, labels: &[Labels]) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let opts = Options {
        wal_enabled: false,
        ..Options::default()
    };
    let db = Db::open(&tmp.path().join("db"), opts, &mut Registry::default()).expect("db");
    let t0 = 1_700_000_000_000;
    let mut refs = vec![0; labels.len()];
    for i in 0..20 {
        let mut app = db.appender();
        for (j, l) in labels.iter().enumerate() {
            refs[j] = app
                .add(refs[j], l, t0 + i * 30_000, (i + j as i64 % 13) as f64)
                .expect("append");
        }
        app.commit_batch().expect("commit");
    }
    let out = tmp.path().join("blocks");
    std::fs::create_dir(&out).expect("mkdir");
    let write = || {
        let meta = db
            .head()
            .write_block(&out, t0, t0 + 600_000)
            .expect("write")
            .expect("a block");
        std::fs::remove_dir_all(out.join(meta.ulid.to_string())).expect("remove");
    };
    let base = CountingAlloc::reset_peak();
    write();
    let peak = CountingAlloc::peak().saturating_sub(base);
    println!(
        "head block write, {} series: peak heap {:.1} MiB above the head ({} bytes per series)",
        labels.len(),
        peak as f64 / (1 << 20) as f64,
        peak / labels.len().max(1)
    );
    let mut g = c.benchmark_group("head_block_write");
    g.sample_size(10);
    g.throughput(Throughput::Elements(labels.len() as u64));
    g.bench_function(format!("{}_series", labels.len()), |b| b.iter(write));
    g.finish();
    db.close().expect("close");
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
}
