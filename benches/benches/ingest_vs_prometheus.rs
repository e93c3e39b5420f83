//! Remote-write ingestion, tsdbd against the reference Prometheus 3.5.3 side by side.
//!
//! Both servers receive the same prepared remote-write 1.0 bodies (the Kubernetes-shaped
//! workload of `benches::workload`, `BENCH_SERIES` series, default 100 000, times
//! `BENCH_SCRAPES` rounds, default 10, 4 connections of up to 2000 samples per request),
//! one server at a time on an otherwise idle pair of cores. Measured per server:
//! CPU seconds (user + system from `/proc/<pid>/stat`) per million ingested samples,
//! resident memory (`VmRSS`) per active series after ingest, and request latency
//! percentiles. tsdbd runs with its defaults, which fsync the WAL before acknowledging;
//! Prometheus does not fsync per request. The table's last column is tsdbd / Prometheus.
//!
//! `cargo bench -p benches --bench ingest_vs_prometheus` (builds tsdbd in release first).

use std::time::Duration;

use benches::loadgen::{self, Payload, Plan, Report, Target};
use benches::process::{cpu_seconds, rss_bytes};
use benches::server::{Kind, Server, Settings, build_release_tsdbd};
use benches::workload::{Generator, Workload};
use tsdb::testutil::reference_bin_dir;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// What one server measured.
struct Side {
    cpu_per_million: f64,
    rss_per_series: f64,
    report: Report,
}

fn measure(pid: u32, url: &str, payloads: &[Vec<Payload>], samples: usize) -> Side {
    let cpu0 = cpu_seconds(pid).expect("CPU seconds");
    let report = loadgen::send(
        payloads,
        &Target {
            url: format!("{url}/api/v1/write"),
            headers: loadgen::headers(false),
            rate: None,
        },
    );
    assert!(
        report.transport_errors == 0 && report.status.keys().all(|c| (200..300).contains(c)),
        "{url}: {}",
        report.summary()
    );
    // Let background work settle (WAL flush, Go's GC) before reading memory.
    std::thread::sleep(Duration::from_secs(2));
    let cpu = cpu_seconds(pid).expect("CPU seconds") - cpu0;
    let series = env_usize("BENCH_SERIES", 100_000) as f64;
    Side {
        cpu_per_million: cpu / (samples as f64 / 1e6),
        rss_per_series: rss_bytes(pid).expect("RSS") / series,
        report,
    }
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument other than ours skips the run.
    if std::env::args()
        .skip(1)
        .any(|a| !a.starts_with("--") && a != "ingest")
    {
        return;
    }
    let Some(prom_bin) = reference_bin_dir() else {
        return;
    };
    let tsdbd = build_release_tsdbd();

    let series = env_usize("BENCH_SERIES", 100_000);
    let scrapes = env_usize("BENCH_SCRAPES", 10);
    let plan = Plan::ending_now(scrapes, 15_000);
    let mut generator = Generator::new(&Workload { seed: 1, series });
    let payloads = loadgen::prepare(&mut generator, &plan, loadgen::encode_v1);
    let samples: usize = payloads.iter().flatten().map(|p| p.samples).sum();
    println!(
        "{series} series × {scrapes} scrapes = {samples} samples, same bodies to both servers"
    );

    // Both with their default settings, one after the other.
    let tmp = tempfile::tempdir().expect("tempdir");
    let ready = Duration::from_secs(120);
    let settings = Settings::default();
    let mut prom = Server::start(
        Kind::Prometheus,
        &prom_bin.join("prometheus"),
        &tmp.path().join("prom"),
        &settings,
        ready,
    )
    .expect("start Prometheus");
    let theirs = measure(prom.pid(), &prom.url(), &payloads, samples);
    prom.stop().expect("stop Prometheus");

    let mut ours = Server::start(
        Kind::Tsdbd,
        &tsdbd,
        &tmp.path().join("tsdbd"),
        &settings,
        ready,
    )
    .expect("start tsdbd");
    let us = measure(ours.pid(), &ours.url(), &payloads, samples);
    ours.stop().expect("stop tsdbd");

    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!();
    println!("| metric | tsdbd | Prometheus 3.5.3 | tsdbd / Prometheus |");
    println!("|---|---:|---:|---:|");
    let row = |name: &str, a: f64, b: f64, unit: &str| {
        println!("| {name} | {a:.3} {unit} | {b:.3} {unit} | {:.2}× |", a / b);
    };
    row(
        "CPU per million samples",
        us.cpu_per_million,
        theirs.cpu_per_million,
        "s",
    );
    row(
        "RSS per active series",
        us.rss_per_series,
        theirs.rss_per_series,
        "B",
    );
    for (name, q) in [("p50", 0.5), ("p90", 0.9), ("p99", 0.99)] {
        row(
            &format!("remote-write latency {name}"),
            ms(us.report.latency(q)),
            ms(theirs.report.latency(q)),
            "ms",
        );
    }
    row(
        "throughput (samples/s)",
        us.report.samples_per_second(),
        theirs.report.samples_per_second(),
        "",
    );
    println!();
    println!("tsdbd:      {}", us.report.summary());
    println!("Prometheus: {}", theirs.report.summary());
}
