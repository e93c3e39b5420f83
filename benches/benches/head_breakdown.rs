//! Heap bytes per active series of the head on the whole-system benchmark's
//! Kubernetes-shaped series, split by phase: what creating the series costs (labels,
//! series maps, postings, symbols, a one-sample chunk) and what `ROUNDS` scrapes of samples
//! add. Counted by a global allocator that tracks the bytes asked for, so it shows the
//! head's own memory without the allocator's overhead or the process's fixed part; compare
//! with the resident set the whole-system run reports.
//!
//! `HEAD_BREAKDOWN_SERIES` (default 100 000) and `HEAD_BREAKDOWN_ROUNDS` (default 60:
//! 15 minutes at 15 s, what a head holds between two 10-minute block cuts) set the shape.
//! Run with `cargo bench -p benches --bench head_breakdown`.

use benches::workload::{Generator, Workload};
use prometheus_client::registry::Registry;
use tsdb::labels::Labels;
use tsdb::testutil::alloc::CountingAlloc;
use tsdb::{Head, Options};

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn main() {
    // `cargo bench` passes `--bench`; ignore arguments.
    let n = env("HEAD_BREAKDOWN_SERIES", 100_000);
    let rounds = env("HEAD_BREAKDOWN_ROUNDS", 60) as i64;
    let mut generator = Generator::new(&Workload { seed: 1, series: n });
    let labels: Vec<Labels> = generator
        .series()
        .iter()
        .map(|s| Labels::from_pairs(&s.labels))
        .collect();
    let label_count: usize = labels.iter().map(Labels::len).sum();
    let head = Head::new(&Options::default(), &mut Registry::default()).expect("head");
    let mut refs = vec![0u64; n];
    let base = CountingAlloc::current();
    let mut after_first = 0;
    for round in 0..rounds {
        let mut app = head.appender();
        for (i, (s, l)) in generator.series().iter().zip(&labels).enumerate() {
            refs[i] = app
                .add(refs[i], l, round * 15_000, s.value)
                .expect("append");
        }
        app.commit_batch().expect("commit");
        generator.scrape();
        if round == 0 {
            after_first = CountingAlloc::current();
        }
    }
    let end = CountingAlloc::current();
    let stats = head.stats("__name__", 1);
    let per = |b: usize| b.saturating_sub(base) as f64 / n as f64;
    println!(
        "series={n} labels/series={:.1} label_pairs={} chunks={} rounds={rounds}",
        label_count as f64 / n as f64,
        stats.num_label_pairs,
        stats.chunk_count,
    );
    println!(
        "heap bytes/series: after the first sample {:.0}, after {rounds} rounds {:.0} (samples {:.0})",
        per(after_first),
        per(end),
        per(end) - per(after_first),
    );
    drop(head);
}
