//! WAL append through group commit: Samples records of 1000 samples each, committed by
//! 1 or 4 threads with `SyncPolicy::Never` and `SyncPolicy::Always`.
//!
//! Throughput is in records per second (one record per commit); multiply by the record
//! size printed at start for bytes. After each case the commits-per-fsync ratio (how
//! well group commit batches) is printed.
//!
//! Run briefly: `cargo bench -p tsdb --bench wal_append -- --warm-up-time 1 --measurement-time 3`.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use tsdb::record::{self, RefSample};
use tsdb::wal::{SyncPolicy, Wal, WalMetrics, WalOptions, WalWriter};

/// A typical scrape-sized record: 1000 series, one sample each.
fn samples_record(round: i64) -> Vec<u8> {
    let samples: Vec<RefSample> = (0..1000u64)
        .map(|i| RefSample {
            series_ref: i + 1,
            t: 1_700_000_000_000 + round * 15_000 + (i as i64 % 7),
            v: (i as f64) * 1.5 + round as f64,
        })
        .collect();
    let mut buf = Vec::new();
    record::encode_samples(&samples, &mut buf);
    buf
}

/// Totals over all runs of one case: (commits, fsyncs).
static TOTALS: Mutex<(u64, u64)> = Mutex::new((0, 0));

fn run(policy: SyncPolicy, threads: u64, iters: u64, rec: &[u8]) -> Duration {
    let dir = tempfile::tempdir().expect("temp dir");
    let metrics = WalMetrics::unregistered();
    let wal = Wal::open(dir.path(), WalOptions::default(), metrics.clone()).expect("open WAL");
    let writer = WalWriter::spawn(wal, policy);
    let per_thread = iters.div_ceil(threads);
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            let w = writer.clone();
            s.spawn(move || {
                for _ in 0..per_thread {
                    w.commit(vec![rec.to_vec()]).expect("commit");
                }
            });
        }
    });
    let elapsed = start.elapsed();
    let fsyncs = metrics.fsyncs_total.get();
    writer.close().expect("close");
    let mut t = TOTALS.lock().expect("totals");
    t.0 += metrics.group_commit_requests_total.get();
    t.1 += fsyncs;
    // Report per committed record even when `iters` does not divide evenly.
    elapsed.mul_f64(iters as f64 / (per_thread * threads) as f64)
}

fn wal_append(c: &mut Criterion) {
    let rec = samples_record(1);
    eprintln!("record: {} samples, {} bytes uncompressed", 1000, rec.len());
    let mut group = c.benchmark_group("wal_append");
    group.throughput(Throughput::Elements(1));
    for (name, policy) in [("never", SyncPolicy::Never), ("always", SyncPolicy::Always)] {
        for threads in [1u64, 4] {
            *TOTALS.lock().expect("totals") = (0, 0);
            group.bench_function(format!("{name}/{threads}_threads"), |b| {
                b.iter_custom(|iters| run(policy, threads, iters, &rec));
            });
            let (commits, fsyncs) = *TOTALS.lock().expect("totals");
            eprintln!(
                "{name}/{threads}_threads: {commits} commits, {fsyncs} fsyncs, {:.2} commits per fsync",
                commits as f64 / fsyncs.max(1) as f64
            );
        }
    }
    group.finish();
}

// Written out instead of `criterion_group!`, whose generated function has no docs.
fn main() {
    let mut c = Criterion::default().configure_from_args();
    wal_append(&mut c);
    c.final_summary();
}
