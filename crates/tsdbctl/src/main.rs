//! `tsdbctl`: the operator CLI (issue 6), working offline on a data directory or a bucket.
//!
//! Built so far: `list` (the blocks of a data directory and, with `--bucket`, of a bucket:
//! ULID, time range, duration, series, samples, chunks, size, compaction level, where
//! they live), as a table or `--json`; `backfill` (OpenMetrics, Prometheus text format or
//! CSV files into level-1 blocks aligned to the block duration, in memory bounded by
//! `--max-memory`). The other subcommands of issue 6 (`analyze`, `dump`, `verify`,
//! `import`, `upload`, `compact`, `delete`, `query`) are not written yet.
//!
//! Exit codes: 0 success, 1 an error (printed to stderr with its causes), 2 bad usage.

mod backfill;
mod datadir;
mod list;
mod output;
mod progress;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

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
    /// Write blocks from OpenMetrics, Prometheus text format or CSV files (every sample
    /// needs a timestamp), aligned to the block duration, into a data directory.
    Backfill {
        /// Input files; `-` reads stdin.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        /// The input format (default: by extension, else by content; see docs/tsdbctl.md).
        #[arg(long, value_enum)]
        format: Option<InputFormat>,
        /// Blocks never cross a multiple of this duration.
        #[arg(long, default_value = "2h", value_parser = backfill::parse_duration)]
        block_duration: i64,
        /// The memory the backfill may use (buffers and writers), e.g. 256MiB or 1GiB.
        #[arg(long, default_value = "256MiB", value_parser = backfill::parse_size)]
        max_memory: u64,
        /// The data directory to write into (locked while writing).
        #[arg(long, default_value = "./data")]
        output: PathBuf,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `--format` of `backfill`.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum InputFormat {
    /// OpenMetrics 1.0 text: timestamps in seconds, ends with `# EOF`.
    Openmetrics,
    /// Prometheus text format 0.0.4: timestamps in milliseconds.
    Text,
    /// CSV with a header row naming the columns.
    Csv,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::List { dir, bucket, json } => list::run(&dir, bucket.as_deref(), json),
        Command::Backfill {
            inputs,
            format,
            block_duration,
            max_memory,
            output,
            json,
        } => backfill::run(&backfill::Args {
            inputs,
            format: format.map(|f| match f {
                InputFormat::Openmetrics => ingest::exposition::Format::OpenMetrics,
                InputFormat::Text => ingest::exposition::Format::Text,
                InputFormat::Csv => ingest::exposition::Format::Csv,
            }),
            block_ms: block_duration,
            max_memory,
            output,
            json,
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tsdbctl: {e:#}");
            ExitCode::FAILURE
        }
    }
}
