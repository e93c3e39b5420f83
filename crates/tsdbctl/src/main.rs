//! `tsdbctl`: the operator CLI (issue 6), working offline on a data directory or a bucket.
//!
//! Built so far:
//!
//! * `list`: the blocks of a data directory and, with `--bucket`, of a bucket (ULID, time
//!   range, duration, series, samples, chunks, size, compaction level, where they live),
//!   as a table or `--json`.
//! * `analyze`: cardinality (metric names, label names and pairs by series, churn between
//!   blocks), optionally for the series of a `--match` selector.
//! * `dump`: samples of the blocks and the WAL in a time range, as text, OpenMetrics or
//!   JSON, read-only.
//! * `verify`: every format check of `tsdb::block::verify` over the blocks, plus
//!   overlapping blocks; non-zero exit on damage.
//!
//! The other subcommands of issue 6 (`backfill`, `import`, `upload`, `compact`, `delete`,
//! `query`) are not written yet.
//!
//! Exit codes: 0 success, 1 an error (printed to stderr with its causes), 2 bad usage.

mod analyze;
mod datadir;
mod dump;
mod list;
mod output;
mod progress;
mod selector;
mod verify;

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
    /// Cardinality of the blocks: metric names, label names and pairs by series, churn.
    Analyze {
        /// The data directory.
        dir: PathBuf,
        /// Analyze only this block (a ULID) instead of all blocks.
        #[arg(long)]
        block: Option<String>,
        /// Only the series this selector picks (`{job="x"}`, `up{a=~"b.*"}`).
        #[arg(long = "match")]
        matcher: Option<String>,
        /// Rows per top list.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// Print JSON instead of tables.
        #[arg(long)]
        json: bool,
    },
    /// Dump the samples of the blocks and the WAL, by series then time, read-only.
    ///
    /// Times are Unix milliseconds (an integer, as promtool takes them) or RFC 3339
    /// (2026-11-21T10:00:00Z); both bounds are inclusive. The WAL is replayed into memory
    /// without writing anything into DIR and without the lock. Tombstones are applied.
    Dump {
        /// The data directory.
        dir: PathBuf,
        /// Series selector; repeat for the union of several. Default: every series.
        #[arg(long = "match")]
        matchers: Vec<String>,
        /// The first timestamp to dump.
        #[arg(long, value_parser = output::parse_time, allow_hyphen_values = true)]
        min_time: Option<i64>,
        /// The last timestamp to dump.
        #[arg(long, value_parser = output::parse_time, allow_hyphen_values = true)]
        max_time: Option<i64>,
        /// text (`{labels} value ts_ms`, as promtool tsdb dump), openmetrics (as promtool
        /// tsdb dump-openmetrics, ends in `# EOF`) or json (one object per series and line).
        #[arg(long, value_enum, default_value_t = dump::Format::Text)]
        format: dump::Format,
        /// Leave out the WAL (the head); dump blocks only.
        #[arg(long)]
        no_head: bool,
    },
    /// Verify blocks: meta.json stats, index, chunks, tombstones, overlapping blocks.
    ///
    /// Exits 1 with a report (block, file, offset, series, problem) when anything is
    /// damaged. Overlapping blocks are warnings (they are legal after out-of-order
    /// ingestion); --strict makes warnings fail too.
    Verify {
        /// The data directory.
        dir: PathBuf,
        /// Verify only this block (a ULID).
        #[arg(long)]
        block: Option<String>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Fail on warnings (overlapping blocks, unreferenced chunks) too.
        #[arg(long)]
        strict: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::List { dir, bucket, json } => list::run(&dir, bucket.as_deref(), json),
        Command::Analyze {
            dir,
            block,
            matcher,
            limit,
            json,
        } => matcher
            .as_deref()
            .map(selector::parse)
            .transpose()
            .and_then(|ms| analyze::run(&dir, block.as_deref(), ms.as_deref(), limit, json)),
        Command::Dump {
            dir,
            matchers,
            min_time,
            max_time,
            format,
            no_head,
        } => run_dump(&dir, &matchers, min_time, max_time, format, no_head),
        Command::Verify {
            dir,
            block,
            json,
            strict,
        } => verify::run(&dir, block.as_deref(), json, strict),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tsdbctl: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run_dump(
    dir: &std::path::Path,
    matchers: &[String],
    min_time: Option<i64>,
    max_time: Option<i64>,
    format: dump::Format,
    no_head: bool,
) -> anyhow::Result<()> {
    let mut sets = matchers
        .iter()
        .map(|m| selector::parse(m))
        .collect::<anyhow::Result<Vec<_>>>()?;
    if sets.is_empty() {
        sets.push(vec![tsdb::labels::Matcher::new(
            tsdb::labels::MatchType::RegexMatch,
            "__name__",
            ".*",
        )?]);
    }
    dump::run(&dump::Args {
        dir,
        matchers: sets,
        min_time: min_time.unwrap_or(i64::MIN),
        max_time: max_time.unwrap_or(i64::MAX),
        format,
        head: !no_head,
    })
}
