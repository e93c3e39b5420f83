//! `tsdbctl backfill`: samples from OpenMetrics, Prometheus text format or CSV files into
//! level-1 blocks of a data directory, each block inside one window of the block duration
//! (a block never crosses a multiple of it), as `promtool tsdb create-blocks-from
//! openmetrics` does, but in one pass and in bounded memory.
//!
//! The memory model (also in `docs/tsdbctl.md`):
//!
//! 1. One pass over the inputs, parsed line by line ([`ingest::exposition`]); samples go
//!    to a [`Buffer`] of any series and any time, charged in bytes.
//! 2. When the buffer reaches its budget (`--max-memory` minus a fixed reserve for I/O
//!    buffers and the writers) it is sorted by (window, series, time) and written out: one
//!    block per window it holds samples of, into a staging directory inside the data
//!    directory. Input far larger than memory makes several blocks per window.
//! 3. At the end, the blocks of each window are merged into one by the streaming k-way
//!    [`tsdb::block::compact`] (duplicates across spills: the later one wins) and marked
//!    level 1. When that would take more than the budget (estimated as five times the
//!    inputs' index sizes, for the new symbol table and postings and the readers' symbol
//!    caches, plus the inputs' sizes, which are read through `mmap`), consecutive spills are merged in as few groups as fit the budget, and the
//!    window's blocks are left overlapping for tsdbd's vertical compaction (a note says
//!    so).
//! 4. Finished blocks are renamed from the staging directory into the data directory. On
//!    any error the staging directory is removed: no block is left behind.

mod buffer;

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use ingest::exposition::{Format, Parser};
use tsdb::block::{Block, BlockMeta, Compaction, TMP_FOR_CREATION, Ulid};

use crate::datadir::lock_for_writing;
use crate::output::{block_cells, block_json, block_table, bytes, rfc3339};
use crate::progress;
use buffer::Buffer;

/// The longest input line accepted.
const MAX_LINE: usize = 1 << 20;

/// What the command line asked for.
#[derive(Debug)]
pub(crate) struct Args {
    pub(crate) inputs: Vec<PathBuf>,
    pub(crate) format: Option<Format>,
    pub(crate) block_ms: i64,
    pub(crate) max_memory: u64,
    pub(crate) output: PathBuf,
    pub(crate) json: bool,
}

/// The memory not given to the buffer: I/O buffers, the line, the block writers' file
/// buffers and chunk encoding, the merge's readers.
fn reserve(max_memory: u64) -> u64 {
    (max_memory / 4).min(4 << 20)
}

/// The staging directory inside the data directory, removed on drop unless finished.
struct Staging {
    dir: PathBuf,
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Totals for the summary.
#[derive(Debug, Default)]
struct Totals {
    samples_read: u64,
    input_bytes: u64,
    spills: u64,
    left_overlapping: u64,
}

pub(crate) fn run(args: &Args) -> Result<()> {
    if args.max_memory < 4 << 20 {
        bail!(
            "--max-memory {} is too small: at least 4MiB",
            bytes(args.max_memory)
        );
    }
    if args.inputs.iter().filter(|p| p.as_os_str() == "-").count() > 1 {
        bail!("stdin (-) can be read only once");
    }
    let _lock = lock_for_writing(&args.output)?;
    // A staging directory of an interrupted backfill: nobody else writes here while we
    // hold the lock.
    let suffix = format!(".backfill{TMP_FOR_CREATION}");
    for e in std::fs::read_dir(&args.output)?.flatten() {
        if e.file_name().to_str().is_some_and(|n| n.ends_with(&suffix)) {
            std::fs::remove_dir_all(e.path())
                .with_context(|| format!("removing {}", e.path().display()))?;
        }
    }
    let staging = Staging {
        dir: args
            .output
            .join(format!("{}.backfill{TMP_FOR_CREATION}", Ulid::new())),
    };
    std::fs::create_dir(&staging.dir)
        .with_context(|| format!("creating {}", staging.dir.display()))?;

    let budget = args.max_memory - reserve(args.max_memory);
    let mut buf = Buffer::new(budget as usize, args.block_ms);
    let total_len: u64 = args
        .inputs
        .iter()
        .filter(|p| p.as_os_str() != "-")
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    let bar = progress::bar(total_len, "backfill", true);
    let mut totals = Totals::default();
    let mut spilled: Vec<BlockMeta> = Vec::new();
    for input in &args.inputs {
        let name = input.display().to_string();
        read_input(
            input,
            args.format,
            &mut buf,
            &staging.dir,
            &mut spilled,
            &mut totals,
            &bar,
        )
        .with_context(|| format!("backfilling {name}"))?;
    }
    if !buf.is_empty() {
        spilled.extend(buf.spill(&staging.dir)?);
        totals.spills += 1;
    }
    drop(buf);
    bar.finish_and_clear();

    let finals = merge_windows(&staging.dir, spilled, args.block_ms, budget, &mut totals)?;
    // Move the finished blocks into the data directory.
    for m in &finals {
        let name = m.ulid.to_string();
        std::fs::rename(staging.dir.join(&name), args.output.join(&name))
            .with_context(|| format!("moving block {name} into {}", args.output.display()))?;
    }
    tsdb::fileutil::fsync_dir(&args.output)?;
    drop(staging);
    summary(args, &finals, &totals)
}

/// Detects the format of an input: by extension (`.csv`; `.om`, `.openmetrics`), else
/// by content: a first line naming `timestamp` and `value` columns is CSV; a file whose
/// last line is `# EOF` is OpenMetrics, other files the text format; stdin is
/// OpenMetrics, which must then end with `# EOF`.
fn detect(path: &Path, head: &[u8]) -> Result<Format> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("csv") => return Ok(Format::Csv),
        Some("om" | "openmetrics") => return Ok(Format::OpenMetrics),
        _ => {}
    }
    let first = head
        .split(|&b| b == b'\n')
        .find(|l| !l.iter().all(u8::is_ascii_whitespace))
        .unwrap_or(b"");
    let first = String::from_utf8_lossy(first);
    let cells: Vec<&str> = first.split(',').map(str::trim).collect();
    if cells.contains(&"timestamp") && cells.contains(&"value") {
        return Ok(Format::Csv);
    }
    if path.as_os_str() == "-" {
        return Ok(Format::OpenMetrics);
    }
    let mut f = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let len = f.metadata()?.len();
    let mut tail = Vec::new();
    f.seek(SeekFrom::Start(len.saturating_sub(64)))?;
    f.read_to_end(&mut tail)?;
    let tail = String::from_utf8_lossy(&tail);
    let last = tail.trim_end().rsplit('\n').next().unwrap_or("");
    Ok(if last.trim_end_matches('\r') == "# EOF" {
        Format::OpenMetrics
    } else {
        Format::Text
    })
}

/// Reads one line into `line` (without `\n`); false at the end of the input.
fn read_line(r: &mut impl BufRead, line: &mut Vec<u8>) -> Result<bool> {
    line.clear();
    loop {
        let avail = r.fill_buf()?;
        if avail.is_empty() {
            return Ok(!line.is_empty());
        }
        let (take, done) = match avail.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (avail.len(), false),
        };
        if line.len() + take > MAX_LINE + 1 {
            bail!("a line is longer than {}", bytes(MAX_LINE as u64));
        }
        line.extend_from_slice(&avail[..take]);
        r.consume(take);
        if done {
            line.pop();
            return Ok(true);
        }
    }
}

fn read_input(
    input: &Path,
    format: Option<Format>,
    buf: &mut Buffer,
    staging: &Path,
    spilled: &mut Vec<BlockMeta>,
    totals: &mut Totals,
    bar: &indicatif::ProgressBar,
) -> Result<()> {
    let reader: Box<dyn Read> = if input.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(File::open(input).with_context(|| format!("opening {}", input.display()))?)
    };
    let mut r = BufReader::with_capacity(256 << 10, reader);
    let format = match format {
        Some(f) => f,
        None => detect(input, r.fill_buf()?)?,
    };
    let mut parser = Parser::new(format).require_timestamps(true);
    let mut line = Vec::new();
    while read_line(&mut r, &mut line)
        .with_context(|| format!("line {}", parser.line_number() + 1))?
    {
        let n = line.len() as u64 + 1;
        totals.input_bytes += n;
        bar.inc(n);
        let Some(sample) = parser.parse_line(&line)? else {
            continue;
        };
        let t = sample.timestamp.expect("the parser requires timestamps");
        if buf.is_full() {
            spilled.extend(buf.spill(staging)?);
            totals.spills += 1;
        }
        buf.push(sample, t);
        totals.samples_read += 1;
    }
    parser.finish().map_err(|e| {
        let hint = if format == Format::OpenMetrics && input.as_os_str() == "-" {
            " (stdin is read as OpenMetrics; use --format text or csv for other formats)"
        } else {
            ""
        };
        anyhow::anyhow!("{e}{hint}")
    })
}

/// How many times its index size merging a block costs in memory: the merged block's
/// symbol table and postings, and each input reader's symbol cache.
const MERGE_COST_PER_INDEX_BYTE: u64 = 5;

/// What merging the spilled block `dir` costs in memory: [`MERGE_COST_PER_INDEX_BYTE`]
/// times its index, plus its files, which the merge reads through `mmap` (resident
/// pages, counted in the process's RSS until the block is closed).
fn merge_cost(dir: &Path) -> u64 {
    let index = std::fs::metadata(dir.join("index")).map_or(0, |md| md.len());
    index
        .saturating_mul(MERGE_COST_PER_INDEX_BYTE)
        .saturating_add(tsdb::fileutil::dir_size(dir))
}

/// Merges the spilled blocks of each window (see the module docs); returns the final
/// blocks, oldest first.
fn merge_windows(
    staging: &Path,
    mut spilled: Vec<BlockMeta>,
    block_ms: i64,
    budget: u64,
    totals: &mut Totals,
) -> Result<Vec<BlockMeta>> {
    // Stable: within a window the blocks stay in spill order, which is input order.
    spilled.sort_by_key(|m| m.min_time.div_euclid(block_ms));
    let mut finals = Vec::new();
    let mut rest = &spilled[..];
    while let Some(first) = rest.first() {
        let w = first.min_time.div_euclid(block_ms);
        let n = rest.partition_point(|m| m.min_time.div_euclid(block_ms) == w);
        let (window, tail) = rest.split_at(n);
        rest = tail;
        // Consecutive spills, as many as fit the budget together, become one block.
        let mut merged = Vec::new();
        let mut group: Vec<&BlockMeta> = Vec::new();
        let mut cost = 0u64;
        for m in window {
            let c = merge_cost(&staging.join(m.ulid.to_string()));
            if !group.is_empty() && cost + c > budget {
                merged.extend(merge_group(staging, &group, w * block_ms)?);
                group.clear();
                cost = 0;
            }
            group.push(m);
            cost += c;
        }
        merged.extend(merge_group(staging, &group, w * block_ms)?);
        if merged.len() > 1 {
            eprintln!(
                "tsdbctl: note: leaving {} overlapping blocks for the window at {}: merging \
                 them would take more than --max-memory; tsdbd's vertical compaction merges them",
                merged.len(),
                rfc3339(w * block_ms),
            );
            totals.left_overlapping += merged.len() as u64;
        }
        finals.extend(merged);
    }
    finals.sort_by_key(|m| (m.min_time, m.ulid));
    Ok(finals)
}

/// Merges the blocks of `group` (in spill order: on equal timestamps the later spill
/// wins) into one level-1 block and removes them; a group of one is left as it is.
fn merge_group(staging: &Path, group: &[&BlockMeta], window: i64) -> Result<Option<BlockMeta>> {
    match group {
        [] => return Ok(None),
        [one] => return Ok(Some((*one).clone())),
        _ => {}
    }
    let blocks = group
        .iter()
        .map(|m| Block::open(&staging.join(m.ulid.to_string())))
        .collect::<tsdb::Result<Vec<_>>>()?;
    let ulid = Ulid::new();
    let out = tsdb::block::compact(staging, &blocks, ulid)
        .with_context(|| format!("merging the blocks of the window at {}", rfc3339(window)))?;
    drop(blocks);
    for m in group {
        let dir = staging.join(m.ulid.to_string());
        std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    let Some(mut meta) = out.meta else {
        return Ok(None);
    };
    // A block written from the input, as promtool's: level 1, its own source.
    meta.compaction = Compaction::level1(meta.ulid);
    meta.write(&staging.join(ulid.to_string()))?;
    Ok(Some(meta))
}

fn summary(args: &Args, finals: &[BlockMeta], totals: &Totals) -> Result<()> {
    let samples_written: u64 = finals.iter().map(|m| m.stats.num_samples).sum();
    let out = std::io::stdout();
    let mut out = out.lock();
    if args.json {
        let blocks: Vec<serde_json::Value> = finals.iter().map(block_json).collect();
        let v = serde_json::json!({
            "output": args.output.display().to_string(),
            "blocks": blocks,
            "samplesRead": totals.samples_read,
            "samplesWritten": samples_written,
            "inputBytes": totals.input_bytes,
            "spills": totals.spills,
            "blocksLeftOverlapping": totals.left_overlapping,
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
        return Ok(());
    }
    let mut table = block_table(&[]);
    for m in finals {
        table.row(block_cells(m));
    }
    table.write(&mut out)?;
    writeln!(
        out,
        "wrote {} blocks ({} samples of {} read, {} of input, {} spills) into {}",
        finals.len(),
        samples_written,
        totals.samples_read,
        bytes(totals.input_bytes),
        totals.spills,
        args.output.display()
    )?;
    Ok(())
}
