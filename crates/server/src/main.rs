//! The `tsdbd` binary: parse flags, start the server, wait for SIGINT/SIGTERM, shut down.

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// A Prometheus-compatible time-series database.
#[derive(Debug, Parser)]
#[command(name = "tsdbd", version)]
struct Args {
    /// Data directory (WAL, head chunks, blocks). Created if missing.
    #[arg(long, default_value = "data", env = "TSDBD_DATA_DIR")]
    data_dir: PathBuf,
    /// When the WAL is fsynced: `always` (before acknowledging; "2xx = durable"),
    /// `never` (leave it to the OS), or an interval such as `100ms`.
    #[arg(long, default_value = "always")]
    wal_sync: String,
}

fn parse_sync(s: &str) -> anyhow::Result<tsdb::wal::SyncPolicy> {
    use tsdb::wal::SyncPolicy;
    Ok(match s {
        "always" => SyncPolicy::Always,
        "never" => SyncPolicy::Never,
        _ => {
            let ms = s
                .strip_suffix("ms")
                .and_then(|n| n.parse::<u64>().ok())
                .with_context(|| format!("--wal-sync {s:?}: expected always, never or <N>ms"))?;
            SyncPolicy::Interval(std::time::Duration::from_millis(ms))
        }
    })
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    let config = server::Config {
        data_dir: args.data_dir,
        tsdb: tsdb::Options {
            wal_sync: parse_sync(&args.wal_sync)?,
            ..Default::default()
        },
    };
    let mut signals = Signals::new([SIGINT, SIGTERM]).context("install signal handlers")?;
    let server = server::Server::start(config).context("start tsdbd")?;
    tracing::info!("tsdbd running; send SIGINT or SIGTERM to stop");
    if let Some(sig) = signals.forever().next() {
        tracing::info!(signal = sig, "shutting down");
    }
    server.shutdown().context("shut down")?;
    Ok(())
}
