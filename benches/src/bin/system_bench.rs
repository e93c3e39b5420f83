//! `system-bench`: the whole-system benchmark, tsdbd against Prometheus 3.5.3 on the same
//! remote-write load (see `benches::system`), printing one table per scale and, with
//! `--out`, writing them into the marked section of a Markdown file.
//!
//! `scripts/bench-system.sh --scale 10k,100k --out docs/benchmarks.md` installs
//! Prometheus and builds tsdbd first; directly:
//! `cargo run --release -p benches --bin system-bench -- --scale 100k --prometheus-bin DIR`

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context as _, Result, bail};
use benches::server::workspace_tsdbd;
use benches::system::{self, Binaries, Environment, Scale};
use clap::Parser;

/// Whole-system benchmark: tsdbd against Prometheus 3.5.3.
#[derive(Debug, Parser)]
#[command(name = "system-bench", args_override_self = true)]
struct Args {
    /// Active series, comma-separated scales run in turn: 10k, 100k, 1m (or any count).
    #[arg(long, default_value = "100k")]
    scale: String,
    /// Replace (or append) the section between the system-bench markers of this Markdown
    /// file.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Directory holding `prometheus` 3.5.3 (default: $REFERENCE_PROMETHEUS_BIN, else
    /// scripts/install-reference-prometheus.sh).
    #[arg(long)]
    prometheus_bin: Option<PathBuf>,
    /// The tsdbd binary (default: target/release/tsdbd of this workspace).
    #[arg(long)]
    tsdbd_bin: Option<PathBuf>,
    /// Time span of the data, e.g. 60m (default: 60m).
    #[arg(long)]
    span: Option<String>,
    /// Scrape interval, e.g. 15s (default: 15s, 30s from 500k series).
    #[arg(long)]
    interval: Option<String>,
    /// Block range; compaction goes up to three of them (default: 10m).
    #[arg(long)]
    block: Option<String>,
    /// Timed runs per dashboard query.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Remote-write connections.
    #[arg(long, default_value_t = 4)]
    shards: usize,
    /// Where the servers' data directories go (default: the system temp dir).
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// The command to record in the output (default: this program's arguments).
    #[arg(long)]
    command: Option<String>,
    /// A remark on the conditions to record (e.g. other load on the machine).
    #[arg(long, default_value = "")]
    note: String,
}

fn scales(args: &Args) -> Result<Vec<Scale>> {
    let mut out = Vec::new();
    for name in args.scale.split(',').filter(|s| !s.trim().is_empty()) {
        let mut s = Scale::new(name.trim(), system::parse_series(name)?);
        if let Some(v) = &args.span {
            s.span = system::parse_duration(v)?;
        }
        if let Some(v) = &args.interval {
            s.interval = system::parse_duration(v)?;
        }
        if let Some(v) = &args.block {
            s.block = system::parse_duration(v)?;
        }
        s.runs = args.runs;
        s.shards = args.shards;
        out.push(s);
    }
    if out.is_empty() {
        bail!("no scale given");
    }
    Ok(out)
}

fn main() -> Result<()> {
    let args = Args::parse();
    let started = Instant::now();
    let scales = scales(&args)?;
    let prom_dir = match &args.prometheus_bin {
        Some(d) => d.clone(),
        None => tsdb::testutil::reference_bin_dir()
            .context("the reference Prometheus 3.5.3 is missing; pass --prometheus-bin")?,
    };
    let bins = Binaries {
        tsdbd: args
            .tsdbd_bin
            .clone()
            .unwrap_or_else(|| workspace_tsdbd("release")),
        prometheus: prom_dir.join("prometheus"),
    };
    for (what, p) in [("tsdbd", &bins.tsdbd), ("prometheus", &bins.prometheus)] {
        anyhow::ensure!(p.is_file(), "{what} binary {} is missing", p.display());
    }
    let command = args.command.clone().unwrap_or_else(|| {
        let mut a: Vec<String> = std::env::args().collect();
        a[0] = "system-bench".to_owned();
        a.join(" ")
    });
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut env = Environment::gather(&repo, &bins.tsdbd, &bins.prometheus, &command, &args.note);
    eprintln!(
        "{}; load average {}; tsdbd {}; {}",
        env.machine, env.load_before, env.tsdbd, env.prometheus
    );
    let work = args.work_dir.clone().unwrap_or_else(std::env::temp_dir);

    let mut results = Vec::new();
    for s in &scales {
        let r = system::run(s, &bins, &work).with_context(|| format!("scale {}", s.name))?;
        println!("\n{}", system::table(&r));
        results.push(r);
    }
    env.load_after = system::load_average();
    let section = system::markdown(&env, &results);
    println!("{section}");
    if let Some(out) = &args.out {
        let doc = match std::fs::read_to_string(out) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(e).with_context(|| format!("read {}", out.display())),
        };
        std::fs::write(out, system::replace_section(&doc, &section))
            .with_context(|| format!("write {}", out.display()))?;
        eprintln!("wrote the section into {}", out.display());
    }
    eprintln!("done in {:.1}s", started.elapsed().as_secs_f64());
    Ok(())
}
