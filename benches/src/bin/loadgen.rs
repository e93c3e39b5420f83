//! `loadgen`: sends a Kubernetes-shaped remote-write load to a URL and reports samples/s,
//! latency percentiles and status counts.
//!
//! `cargo run --release -p benches --bin loadgen -- --url http://127.0.0.1:9201/api/v1/write --series 100000 --scrapes 10`

use benches::loadgen::{self, Plan, Target};
use benches::workload::{Generator, Workload};
use clap::Parser;

/// Remote-write load generator.
#[derive(Debug, Parser)]
#[command(name = "loadgen")]
struct Args {
    /// Remote-write endpoint.
    #[arg(long, default_value = "http://127.0.0.1:9201/api/v1/write")]
    url: String,
    /// Active series.
    #[arg(long, default_value_t = 10_000)]
    series: usize,
    /// Scrape rounds to send (each carries one sample per series).
    #[arg(long, default_value_t = 10)]
    scrapes: usize,
    /// Simulated scrape interval in seconds.
    #[arg(long, default_value_t = 15)]
    interval: i64,
    /// Samples per second over all connections; unset sends as fast as possible.
    #[arg(long)]
    rate: Option<f64>,
    /// Connections (shards).
    #[arg(long, default_value_t = 4)]
    shards: usize,
    /// Samples per request at most.
    #[arg(long, default_value_t = 2000)]
    batch: usize,
    /// Remote-write protocol: 1 or 2.
    #[arg(long, default_value_t = 1)]
    protocol: u8,
    /// Seed of the workload.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(matches!(args.protocol, 1 | 2), "--protocol must be 1 or 2");
    let plan = Plan {
        shards: args.shards,
        max_samples_per_send: args.batch,
        ..Plan::ending_now(args.scrapes, args.interval * 1000)
    };
    let mut generator = Generator::new(&Workload {
        seed: args.seed,
        series: args.series,
    });
    let v2 = args.protocol == 2;
    let payloads = loadgen::prepare(&mut generator, &plan, |b| {
        if v2 {
            loadgen::encode_v2(b)
        } else {
            loadgen::encode_v1(b)
        }
    });
    let bytes: usize = payloads.iter().flatten().map(|p| p.body.len()).sum();
    eprintln!(
        "prepared {} requests ({:.1} MiB) for {} series × {} scrapes",
        payloads.iter().map(Vec::len).sum::<usize>(),
        bytes as f64 / (1 << 20) as f64,
        args.series,
        args.scrapes
    );
    let report = loadgen::send(
        &payloads,
        &Target {
            url: args.url,
            headers: loadgen::headers(v2),
            rate: args.rate,
        },
    );
    println!("{}", report.summary());
    anyhow::ensure!(
        report.transport_errors == 0 && report.status.keys().all(|c| (200..300).contains(c)),
        "some requests failed"
    );
    Ok(())
}
