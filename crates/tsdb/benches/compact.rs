//! Compaction throughput and peak heap: 3 blocks × `BENCH_SERIES` (default 20 000)
//! series × 120 samples merged into one block, on the copy path (blocks side by side in
//! time: chunks copied as they are) and the vertical path (the same range in all three
//! blocks, timestamps interleaved: every chunk decoded, merged and re-encoded).
//!
//! Before the timed runs it prints the peak heap of one compaction per path, measured by
//! a counting global allocator, for `BENCH_SERIES / 4` and `BENCH_SERIES` series and for
//! 120 and 480 samples per series, so one sees what grows: not the samples (series are
//! streamed), only the index writer's postings and symbols, a few bytes per series.
//! Input blocks are mmapped, so they do not count. Run with
//! `cargo bench -p tsdb --bench compact`.

use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use tsdb::block::{self, Block, BlockWriter, ChunkMeta, Compaction, Ulid};
use tsdb::chunkenc::XorAppender;
use tsdb::labels::Labels;
use tsdb::testutil::alloc::CountingAlloc;

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

const MINUTE: i64 = 60_000;

fn series_count() -> usize {
    std::env::var("BENCH_SERIES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000)
}

/// Kubernetes-shaped label set number `i`.
fn labels(i: usize) -> Labels {
    let pod = i / 10;
    Labels::from_pairs(&[
        (
            "__name__",
            format!("container_metric_{}_total", i % 10).as_str(),
        ),
        ("container", "app"),
        (
            "instance",
            &format!("10.0.{}.{}:10250", (pod / 30) % 256, pod % 30),
        ),
        ("job", "kubelet"),
        ("namespace", &format!("ns-{}", pod % 50)),
        ("pod", &format!("app-{pod}-5f7c9d-xk2p9")),
    ])
}

/// Writes a block of `n` series with `samples` samples each, every `step` ms from
/// `start`, over `[min_time, max_time)`; chunks of 120 samples.
fn write_block(
    parent: &Path,
    n: usize,
    samples: i64,
    start: i64,
    step: i64,
    range: (i64, i64),
) -> Block {
    let mut all: Vec<Labels> = (0..n).map(labels).collect();
    all.sort();
    let mut symbols: Vec<String> = all
        .iter()
        .flat_map(|l| {
            l.iter()
                .flat_map(|l| [l.name.to_string(), l.value.to_string()])
        })
        .collect();
    symbols.sort();
    symbols.dedup();
    let ulid = Ulid::new();
    let mut w = BlockWriter::new(parent, ulid, &symbols).expect("writer");
    for (i, l) in all.iter().enumerate() {
        let mut chunks = Vec::new();
        let mut v = i as f64;
        for part in 0..(samples + 119) / 120 {
            let mut app = XorAppender::new();
            let first = part * 120;
            let last = (first + 120).min(samples) - 1;
            for s in first..=last {
                v += ((s + i as i64) % 7) as f64;
                app.append(start + s * step, v);
            }
            chunks.push((start + first * step, start + last * step, app.into_bytes()));
        }
        let metas: Vec<ChunkMeta<'_>> = chunks
            .iter()
            .map(|(a, b, d)| ChunkMeta {
                min_t: *a,
                max_t: *b,
                data: d,
            })
            .collect();
        w.add_series(l, &metas).expect("add series");
    }
    w.finish(range.0, range.1, Compaction::level1(ulid))
        .expect("finish");
    Block::open(&parent.join(ulid.to_string())).expect("open")
}

/// Three blocks: side by side (`vertical` false) or over the same range with
/// interleaved timestamps.
fn inputs(parent: &Path, n: usize, samples: i64, vertical: bool) -> Vec<Block> {
    (0..3)
        .map(|k| {
            let span = samples * MINUTE;
            if vertical {
                write_block(parent, n, samples, k * 20_000, MINUTE, (0, span))
            } else {
                write_block(
                    parent,
                    n,
                    samples,
                    k * span,
                    MINUTE,
                    (k * span, (k + 1) * span),
                )
            }
        })
        .collect()
}

/// Compacts `blocks` into `out` once and returns the output's samples, the time taken
/// and the peak heap above what was in use before.
fn compact_once(out: &Path, blocks: &[Block]) -> (u64, Duration, usize) {
    let ulid = Ulid::new();
    let base = CountingAlloc::reset_peak();
    let t = Instant::now();
    let c = block::compact(out, blocks, ulid).expect("compact");
    let took = t.elapsed();
    let peak = CountingAlloc::peak().saturating_sub(base);
    std::fs::remove_dir_all(out.join(ulid.to_string())).expect("remove output");
    (c.stats.samples, took, peak)
}

fn report_memory(n: usize) {
    for vertical in [false, true] {
        let path = if vertical { "vertical" } else { "copy" };
        for (series, samples) in [(n / 4, 120), (n, 120), (n / 4, 480)] {
            let dir = tempfile::tempdir().expect("tempdir");
            let blocks = inputs(dir.path(), series, samples, vertical);
            let (written, took, peak) = compact_once(dir.path(), &blocks);
            println!(
                "compact {path}: 3 blocks x {series} series x {samples} samples: {written} samples in {:.0} ms \
                 ({:.1} M samples/s), peak heap {:.2} MiB ({} bytes per series)",
                took.as_secs_f64() * 1e3,
                written as f64 / took.as_secs_f64() / 1e6,
                peak as f64 / (1 << 20) as f64,
                peak / series.max(1),
            );
        }
    }
}

fn bench_compact(c: &mut Criterion) {
    let n = series_count();
    report_memory(n);
    let mut group = c.benchmark_group("compact");
    group.sample_size(10);
    for vertical in [false, true] {
        let dir = tempfile::tempdir().expect("tempdir");
        let blocks = inputs(dir.path(), n, 120, vertical);
        let samples: u64 = blocks.iter().map(|b| b.meta().stats.num_samples).sum();
        group.throughput(Throughput::Elements(samples));
        let name = if vertical { "vertical" } else { "copy" };
        group.bench_function(format!("{name}/3x{n}x120"), |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| compact_once(dir.path(), &blocks).1)
                    .sum()
            });
        });
    }
    group.finish();
}

// Written out instead of `criterion_group!`, whose generated `pub fn` has no doc comment.
fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench_compact(&mut c);
    c.final_summary();
}
