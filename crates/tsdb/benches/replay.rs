//! WAL replay: how long opening a head takes after a crash.
//!
//! Writes, once, a WAL shaped like the whole-system benchmark's head between two block
//! cuts: `REPLAY_SERIES` (default 100 000) Kubernetes-shaped series, each logged in a
//! Series record on first use, then `REPLAY_SAMPLES` (default 60) scrape rounds at 15 s,
//! committed in batches of 2 000 samples as remote write sends them (snappy-compressed
//! records, as the server writes them). Each iteration then rebuilds a read-only head
//! from it (`Head::open_read_only`, the replay `Db::open` runs, minus the WAL writer).
//! Run with `cargo bench -p tsdb --bench replay`; `REPLAY_WAL_DIR=DIR` writes the WAL
//! there once and reuses it in later runs; with `REPLAY_RSS=1` it replays once and prints
//! the resident memory per series instead.

use std::path::Path;
use std::time::Duration;

use criterion::{BatchSize, Criterion, SamplingMode, Throughput};
use prometheus_client::registry::Registry;
use tsdb::labels::Labels;
use tsdb::wal::SyncPolicy;
use tsdb::{Head, Options};

/// Samples per commit, the load generator's default remote-write batch.
const BATCH: usize = 2_000;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// Resident bytes of this process.
fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("statm");
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|f| f.parse().ok())
        .expect("resident pages");
    pages * 4096
}

/// Series `i` of a cluster: cAdvisor-like container series, ten per pod.
fn labels(i: usize) -> Labels {
    let pod = i / 10;
    let node = pod / 30;
    Labels::from_pairs(&[
        (
            "__name__",
            format!("container_metric_{}_total", i % 10).as_str(),
        ),
        ("container", &format!("app-{}", pod % 7)),
        ("endpoint", "https-metrics"),
        ("id", &format!("/kubepods/burstable/pod{pod:08x}-7c1d")),
        (
            "image",
            &format!("registry.local/app-{}:v1.{}", pod % 7, pod % 3),
        ),
        (
            "instance",
            &format!("10.0.{}.{}:10250", node / 256, node % 256),
        ),
        ("job", "kubelet"),
        ("metrics_path", "/metrics/cadvisor"),
        ("namespace", &format!("ns-{}", pod % 50)),
        ("node", &format!("node-{node}")),
        ("pod", &format!("app-{pod}-5f7c9d-xk2p9")),
        ("service", "kubelet"),
    ])
}

/// Writes the WAL into `dir` (the head's `wal/` directory).
fn write_wal(dir: &Path, series: usize, rounds: usize) {
    let opts = Options {
        wal_sync: SyncPolicy::Never,
        ..Options::default()
    };
    let head = Head::open(dir, &opts, &mut Registry::default()).expect("open head");
    let ls: Vec<Labels> = (0..series).map(labels).collect();
    let mut refs = vec![0u64; series];
    let mut counter = vec![0f64; series];
    let t0 = 1_700_000_000_000i64;
    for round in 0..rounds {
        for chunk in (0..series).collect::<Vec<_>>().chunks(BATCH) {
            let mut app = head.appender();
            for &i in chunk {
                // Counters grow by small integers, gauges (every third series) wander.
                let v = if i % 3 == 0 {
                    ((i * 7 + round * 13) % 1000) as f64 / 8.0
                } else {
                    counter[i] += ((i + round) % 5) as f64;
                    counter[i]
                };
                let t = t0 + round as i64 * 15_000 + (i % 1000) as i64;
                refs[i] = app.add(refs[i], &ls[i], t, v).expect("append");
            }
            app.commit_batch().expect("commit");
        }
    }
    head.close().expect("close head");
}

/// A read-only head replayed from the WAL in `wal`.
fn replay(wal: &Path) -> Head {
    Head::open_read_only(wal, &Options::default(), &mut Registry::default(), i64::MIN)
        .expect("replay")
}

fn bench(c: &mut Criterion) {
    let series = env("REPLAY_SERIES", 100_000);
    let rounds = env("REPLAY_SAMPLES", 60);
    // `REPLAY_WAL_DIR` keeps the WAL between runs (to profile replay alone, or to
    // compare two builds on the same bytes); it is written only if missing.
    let dir = tempfile::tempdir().expect("tempdir");
    let wal = match std::env::var_os("REPLAY_WAL_DIR") {
        Some(d) => std::path::PathBuf::from(d),
        None => dir.path().join("wal"),
    };
    if !wal.exists() {
        write_wal(&wal, series, rounds);
    }

    if std::env::var_os("REPLAY_RSS").is_some() {
        // One replay in this process, then the growth of the resident set once malloc has
        // handed back its free pages (as tsdbd's release thread does): memory per series
        // after a replay.
        let base = rss_bytes();
        let head = replay(&wal);
        // SAFETY: `malloc_trim` only returns free pages to the kernel.
        unsafe { libc::malloc_trim(0) };
        let grown = rss_bytes().saturating_sub(base);
        println!(
            "series={series} rss_growth={} MiB bytes_per_series={}",
            grown >> 20,
            grown / series as u64
        );
        std::mem::forget(head);
        return;
    }

    let mut g = c.benchmark_group("replay");
    g.sample_size(10);
    g.sampling_mode(SamplingMode::Flat);
    g.measurement_time(Duration::from_secs(20));
    g.throughput(Throughput::Elements((series * rounds) as u64));
    g.bench_function(format!("{series}_series_x_{rounds}_samples"), |b| {
        // The head is dropped outside the timing, one at a time.
        b.iter_batched(
            || (),
            |()| {
                let head = replay(&wal);
                assert_eq!(head.num_series(), series as u64);
                head
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
}
