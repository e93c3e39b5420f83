//! `tsdbctl`: the operator CLI (issue 6), working offline on a data directory or a bucket.
//!
//! Built so far: `list` (the blocks of a data directory and, with `--bucket`, of a bucket:
//! ULID, time range, duration, series, samples, chunks, size, compaction level, where
//! they live), as a table or `--json`. The other subcommands of issue 6 (`analyze`,
//! `dump`, `verify`, `backfill`, `import`, `upload`, `compact`, `delete`, `query`) are not
//! written yet.
//!
//! Exit codes: 0 success, 1 an error (printed to stderr with its causes), 2 bad usage.

mod datadir;
mod list;
mod output;
mod progress;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Inspect and maintain tsdbd (and Prometheus) data directories and buckets.
#[derive(Debug, Parser)]
#[command(name = "tsdbctl", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List the blocks of a data directory and, with --bucket, of a bucket.
    List {
        /// The data directory.
        dir: PathBuf,
        /// Also list this bucket's blocks (file:///dir, s3://bucket/prefix, gs://, az://;
        /// S3 credentials and endpoint from the usual AWS_* variables).
        #[arg(long)]
        bucket: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::List { dir, bucket, json } => list::run(&dir, bucket.as_deref(), json),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tsdbctl: {e:#}");
            ExitCode::FAILURE
        }
    }
}
