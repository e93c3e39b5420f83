//! `tsdbctl`: the operator CLI (issue 6), working offline on a data directory or a bucket.
//!
//! Built (each a table or `--json`; see `docs/tsdbctl.md`):
//!
//! * `list`: the blocks of a data directory and, with `--bucket`, of a bucket (ULID, time
//!   range, duration, series, samples, chunks, size, compaction level, where they live).
//! * `backfill`: OpenMetrics, Prometheus text format or CSV files into level-1 blocks
//!   aligned to the block duration, in memory bounded by `--max-memory` ([`backfill`]).
//! * `analyze`: cardinality (metric names, label names and pairs by series, churn between
//!   blocks), optionally for the series of a `--match` selector.
//! * `dump`: samples of the blocks and the WAL in a time range, as text, OpenMetrics or
//!   JSON, read-only.
//! * `verify`: every format check of `tsdb::block::verify` over the blocks, plus
//!   overlapping blocks; non-zero exit on damage.
//! * `import`: a Prometheus data directory (blocks and WAL) into a data directory or a
//!   bucket, the source left untouched ([`import`]).
//! * `upload`: a data directory's blocks to a bucket, as the server ships them ([`upload`]).
//! * `compact`: offline compaction with the server's loop ([`compact`]).
//! * `delete`: tombstones for matching series, optionally rewriting blocks ([`delete`]).
//! * `query`: instant and range queries against a running server's HTTP API ([`query`]).
//!
//! Subcommands that write into a data directory take its lock first, so they refuse to
//! run under a running `tsdbd`. Times are Unix seconds or RFC 3339, durations Prometheus
//! durations ([`time`]).
//!
//! Exit codes: 0 success, 1 an error (printed to stderr with its causes), 2 bad usage.

mod analyze;
mod backfill;
mod compact;
mod datadir;
mod delete;
mod dump;
mod import;
mod list;
mod output;
mod progress;
mod query;
mod time;
mod upload;
mod verify;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{ArgGroup, Parser, Subcommand, ValueEnum};
use tsdb::block::Ulid;

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
        #[arg(long, default_value = "2h", value_parser = parse_duration)]
        block_duration: i64,
        /// The memory the backfill may use (buffers and writers), e.g. 256MiB or 1GiB
        /// (Prometheus's size syntax: powers of 1024, so 256MB is 256MiB too).
        #[arg(long, default_value = "256MiB", value_parser = tsdb::units::parse_bytes)]
        max_memory: u64,
        /// The data directory to write into (locked while writing).
        #[arg(long, default_value = "./data")]
        output: PathBuf,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Cardinality of the blocks: metric names, label names and pairs by series, churn.
    Analyze {
        #[command(flatten)]
        at: At,
        /// Analyze only this block (a ULID) instead of all blocks.
        #[arg(long, value_parser = parse_ulid)]
        block: Option<Ulid>,
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
    /// Times are Unix seconds or RFC 3339 (2026-11-21T10:00:00Z); both bounds are
    /// inclusive. The WAL is replayed into memory without writing anything into DIR and
    /// without the lock (a bucket has no WAL). Tombstones are applied.
    Dump {
        #[command(flatten)]
        at: At,
        /// Series selector; repeat for the union of several. Default: every series.
        #[arg(long = "match")]
        matchers: Vec<String>,
        /// The first timestamp to dump.
        #[arg(long, value_parser = parse_time, allow_hyphen_values = true)]
        min_time: Option<i64>,
        /// The last timestamp to dump.
        #[arg(long, value_parser = parse_time, allow_hyphen_values = true)]
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
        #[command(flatten)]
        at: At,
        /// Verify only this block (a ULID).
        #[arg(long, value_parser = parse_ulid)]
        block: Option<Ulid>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Fail on warnings (overlapping blocks, unreferenced chunks) too.
        #[arg(long)]
        strict: bool,
    },
    /// Import a Prometheus (2.x or 3.x) data directory, blocks and WAL, into a data
    /// directory or a bucket. The source is only read.
    #[command(group(ArgGroup::new("target").required(true).args(["output", "bucket"])))]
    Import {
        /// The Prometheus data directory (stopped Prometheus).
        prom_data_dir: PathBuf,
        /// The data directory to import into (created if missing).
        #[arg(long)]
        output: Option<PathBuf>,
        /// The bucket to import into (file:///dir, s3://bucket/prefix, gs://, az://).
        #[arg(long)]
        bucket: Option<String>,
        /// The range of the blocks the WAL's samples are written as.
        #[arg(long, default_value = "2h", value_parser = parse_duration)]
        block_duration: i64,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Upload a data directory's blocks to a bucket, as tsdbd's shipper does.
    Upload {
        /// The data directory.
        dir: PathBuf,
        /// The bucket (file:///dir, s3://bucket/prefix, gs://, az://).
        #[arg(long)]
        bucket: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Compact a data directory's blocks offline until nothing is left to merge.
    Compact {
        /// The data directory.
        dir: PathBuf,
        /// The smallest block range (the head's block range).
        #[arg(long, default_value = "2h", value_parser = parse_duration)]
        min_block_duration: i64,
        /// The largest block to build (default: tsdbd's default, 36h).
        #[arg(long, value_parser = parse_duration)]
        max_block_duration: Option<i64>,
        /// Also write the head's compactable ranges as blocks first.
        #[arg(long)]
        head: bool,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Delete the series matching selectors in a time range (tombstones), as Prometheus's
    /// delete_series API does.
    Delete {
        /// The data directory.
        dir: PathBuf,
        /// A series selector (repeatable), e.g. 'up{job="node"}'.
        #[arg(long = "match", required = true, value_name = "SELECTOR")]
        selectors: Vec<String>,
        /// Start of the range (Unix seconds or RFC 3339; default: the beginning).
        #[arg(long, value_parser = parse_time)]
        min_time: Option<i64>,
        /// End of the range, inclusive (Unix seconds or RFC 3339; default: the end).
        #[arg(long, value_parser = parse_time)]
        max_time: Option<i64>,
        /// Rewrite the blocks with tombstones without the deleted samples.
        #[arg(long)]
        rewrite: bool,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Run an instant or range query against a running server's HTTP API.
    Query {
        /// The server's URL.
        #[arg(long, default_value = "http://127.0.0.1:9201")]
        url: String,
        /// The PromQL expression.
        expr: String,
        /// Time of an instant query (Unix seconds or RFC 3339; default: the server's now).
        #[arg(long, value_parser = parse_time, conflicts_with_all = ["start", "end", "step"])]
        time: Option<i64>,
        /// Start of a range query.
        #[arg(long, value_parser = parse_time, requires_all = ["end", "step"])]
        start: Option<i64>,
        /// End of a range query.
        #[arg(long, value_parser = parse_time, requires_all = ["start", "step"])]
        end: Option<i64>,
        /// Resolution of a range query (a duration: 15s, 1m).
        #[arg(long, value_parser = parse_duration, requires_all = ["start", "end"])]
        step: Option<i64>,
        /// Print the API's JSON answer as received.
        #[arg(long)]
        json: bool,
        /// A file holding a bearer token.
        #[arg(long, conflicts_with_all = ["user", "password_file"])]
        bearer_token_file: Option<PathBuf>,
        /// Basic-auth user name.
        #[arg(long, requires = "password_file")]
        user: Option<String>,
        /// A file holding the basic-auth password.
        #[arg(long, requires = "user")]
        password_file: Option<PathBuf>,
    },
}

/// The blocks a read-only subcommand reads: a data directory, or a bucket with `--bucket`.
#[derive(Debug, clap::Args)]
#[group(required = true, multiple = false)]
struct At {
    /// The data directory.
    dir: Option<PathBuf>,
    /// Read this bucket's blocks instead of a data directory's (file:///dir,
    /// s3://bucket/prefix, gs://, az://; S3 credentials and endpoint from the usual AWS_*
    /// variables).
    #[arg(long)]
    bucket: Option<String>,
}

impl At {
    fn location(&self) -> datadir::Location<'_> {
        match (&self.dir, &self.bucket) {
            (_, Some(url)) => datadir::Location::Bucket(url),
            (Some(dir), None) => datadir::Location::Dir(dir),
            (None, None) => unreachable!("clap requires a directory or --bucket"),
        }
    }
}

fn parse_ulid(s: &str) -> Result<Ulid, String> {
    s.parse()
        .map_err(|e| format!("invalid block ULID {s:?}: {e}"))
}

/// A series selector given with `--match` (`up`, `{job="x"}`, `up{a=~"b.*"}`), parsed as
/// the server parses `match[]`.
fn parse_selector(s: &str) -> Result<Vec<tsdb::labels::Matcher>> {
    promql::engine::parse_selector(s).with_context(|| format!("invalid series selector {s:?}"))
}

fn parse_duration(s: &str) -> Result<i64, String> {
    time::parse_duration(s).map_err(|e| e.to_string())
}

fn parse_time(s: &str) -> Result<i64, String> {
    time::parse_time(s).map_err(|e| e.to_string())
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
        Command::Analyze {
            at,
            block,
            matcher,
            limit,
            json,
        } => matcher
            .as_deref()
            .map(parse_selector)
            .transpose()
            .and_then(|ms| analyze::run(at.location(), block, ms.as_deref(), limit, json)),
        Command::Dump {
            at,
            matchers,
            min_time,
            max_time,
            format,
            no_head,
        } => run_dump(
            at.location(),
            &matchers,
            min_time,
            max_time,
            format,
            no_head,
        ),
        Command::Verify {
            at,
            block,
            json,
            strict,
        } => verify::run(at.location(), block, json, strict),
        Command::Import {
            prom_data_dir,
            output,
            bucket,
            block_duration,
            json,
        } => {
            let target = match (output, bucket) {
                (Some(dir), _) => import::Target::Dir(dir),
                (None, Some(url)) => import::Target::Bucket(url),
                (None, None) => unreachable!("clap requires one of --output and --bucket"),
            };
            import::run(&prom_data_dir, &target, block_duration, json)
        }
        Command::Upload { dir, bucket, json } => upload::run(&dir, &bucket, json),
        Command::Compact {
            dir,
            min_block_duration,
            max_block_duration,
            head,
            json,
        } => compact::run(&dir, min_block_duration, max_block_duration, head, json),
        Command::Delete {
            dir,
            selectors,
            min_time,
            max_time,
            rewrite,
            json,
        } => delete::run(
            &dir,
            &selectors,
            min_time.unwrap_or(i64::MIN),
            max_time.unwrap_or(i64::MAX),
            rewrite,
            json,
        ),
        Command::Query {
            url,
            expr,
            time,
            start,
            end,
            step,
            json,
            bearer_token_file,
            user,
            password_file,
        } => run_query(
            &url,
            &expr,
            time,
            start.zip(end).zip(step),
            bearer_token_file,
            user.zip(password_file),
            json,
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tsdbctl: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `tsdbctl query` with its arguments checked by clap (`--start`, `--end` and `--step`
/// come together, one kind of authentication at most).
fn run_query(
    url: &str,
    expr: &str,
    time: Option<i64>,
    range: Option<((i64, i64), i64)>,
    bearer: Option<PathBuf>,
    basic: Option<(String, PathBuf)>,
    json: bool,
) -> Result<()> {
    let kind = match range {
        Some(((start, end), step)) => {
            if start > end {
                anyhow::bail!("--start is after --end");
            }
            query::Kind::Range { start, end, step }
        }
        None => query::Kind::Instant(time),
    };
    let auth = match (&bearer, &basic) {
        (Some(file), _) => query::Auth::Bearer(file),
        (None, Some((user, password))) => query::Auth::Basic { user, password },
        (None, None) => query::Auth::None,
    };
    query::run(url, expr, &kind, &auth, json)
}

fn run_dump(
    at: datadir::Location<'_>,
    matchers: &[String],
    min_time: Option<i64>,
    max_time: Option<i64>,
    format: dump::Format,
    no_head: bool,
) -> Result<()> {
    let mut sets = matchers
        .iter()
        .map(|m| parse_selector(m))
        .collect::<Result<Vec<_>>>()?;
    if sets.is_empty() {
        sets.push(vec![tsdb::labels::Matcher::new(
            tsdb::labels::MatchType::RegexMatch,
            "__name__",
            ".*",
        )?]);
    }
    dump::run(&dump::Args {
        at,
        matchers: sets,
        min_time: min_time.unwrap_or(i64::MIN),
        max_time: max_time.unwrap_or(i64::MAX),
        format,
        head: !no_head,
    })
}
