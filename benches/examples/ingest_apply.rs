//! The remote-write path without HTTP, for profilers: prepared request bodies (the
//! Kubernetes-shaped workload of `benches::workload`, as `loadgen` sends them) are
//! decompressed, decoded and applied to a [`tsdb::Db`]'s head with its WAL, one request
//! after another on one thread, as the server's handler does for each request.
//!
//! `cargo run --release -p benches --example ingest_apply -- [SERIES] [SCRAPES] [THREADS]`
//! (defaults 100 000, 10, 1). The first scrape creates the series and is reported apart;
//! the steady-state rounds after it are what remote write costs per sample. Under
//! `valgrind --tool=callgrind` use few series and scrapes; instruction counts repeat
//! exactly, timings do not. CPU seconds are the process's user + system time.
//! With `INGEST_APPLY_PAUSE` set it waits 2 s before the steady rounds, for
//! `perf record -p`.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use benches::loadgen::{self, Payload, Plan};
use benches::process::cpu_seconds;
use benches::workload::{Generator, Workload};
use ingest::{Limits, Protocol};
use prometheus_client::registry::Registry;
use tsdb::{Db, Options};

fn arg(i: usize, default: usize) -> usize {
    std::env::args()
        .nth(i)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

thread_local! {
    /// As the server keeps one per worker thread.
    static SCRATCH: std::cell::RefCell<ingest::Scratch> =
        std::cell::RefCell::new(ingest::Scratch::default());
}

fn run(db: &Db, payloads: &[&Payload], limits: &Limits, threads: usize) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    let apply = |p: &Payload| {
        SCRATCH.with_borrow_mut(|scratch| {
            let out = scratch
                .decode(Protocol::V1, &p.body, limits, |req, scratch| {
                    ingest::apply_with(db.head(), req, limits, now, scratch)
                })
                .expect("apply");
            assert!(out.first_error.is_none(), "{:?}", out.first_error);
        })
    };
    if threads <= 1 {
        payloads.iter().for_each(|p| apply(p));
        return;
    }
    std::thread::scope(|s| {
        for t in 0..threads {
            let apply = &apply;
            s.spawn(move || {
                payloads
                    .iter()
                    .skip(t)
                    .step_by(threads)
                    .for_each(|p| apply(p))
            });
        }
    });
}

fn main() {
    let series = arg(1, 100_000);
    let scrapes = arg(2, 10).max(2);
    let threads = arg(3, 1);
    let plan = Plan::ending_now(scrapes, 15_000);
    let mut generator = Generator::new(&Workload { seed: 1, series });
    let shards = loadgen::prepare(&mut generator, &plan, loadgen::encode_v1);
    // Rounds in order; within a round the shards' requests interleave as they would
    // arrive over four connections. Each shard holds one round's requests in sequence.
    let per_round: Vec<usize> = shards.iter().map(|s| s.len() / scrapes).collect();
    let mut rounds: Vec<Vec<&Payload>> = vec![Vec::new(); scrapes];
    for (shard, payloads) in shards.iter().enumerate() {
        for (i, p) in payloads.iter().enumerate() {
            rounds[i / per_round[shard]].push(p);
        }
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path(), Options::default(), &mut Registry::default()).expect("open");
    let limits = Limits::default();
    let t0 = Instant::now();
    run(&db, &rounds[0], &limits, threads);
    let first = t0.elapsed();
    let steady: Vec<&Payload> = rounds[1..].iter().flatten().copied().collect();
    let samples: usize = steady.iter().map(|p| p.samples).sum();
    let pid = std::process::id();
    if std::env::var_os("INGEST_APPLY_PAUSE").is_some() {
        // Time to attach a profiler to the steady rounds only: `perf record -p <pid>`.
        eprintln!("steady rounds start in 2 s (pid {pid})");
        std::thread::sleep(std::time::Duration::from_secs(2));
    }
    let (t1, cpu1) = (Instant::now(), cpu_seconds(pid).expect("CPU seconds"));
    run(&db, &steady, &limits, threads);
    let (rest, cpu) = (t1.elapsed(), cpu_seconds(pid).expect("CPU seconds") - cpu1);
    let millions = samples as f64 / 1e6;
    println!(
        "{series} series: first scrape {:.3} s; {} steady scrapes per million samples: {:.3} CPU s, {:.3} wall s ({threads} thread(s))",
        first.as_secs_f64(),
        scrapes - 1,
        cpu / millions,
        rest.as_secs_f64() / millions
    );
    db.close().expect("close");
}
