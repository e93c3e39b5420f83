//! `tsdbctl import`: a Prometheus (2.x or 3.x) data directory into a data directory of
//! ours or straight into a bucket, leaving the source untouched.
//!
//! * **Blocks** are checked by opening them (`tsdb::Block::open`) and copied with their
//!   ULIDs; blocks already at the destination are skipped. Into a directory, each is
//!   copied to `<ulid>.tmp-for-creation`, fsynced and renamed, as `BlockWriter` does.
//! * **The WAL** (checkpoint and segments) is replayed read-only into a `tsdb::Head`
//!   (`Head::open_read_only`: nothing in the source is written, a torn tail ends the
//!   replay) and written as level-1 blocks, one per `--block-duration` range (the last ends after
//!   the newest sample), with the WAL's tombstones applied. As in Prometheus, samples
//!   older than the end of the newest source block are not replayed: they are in the
//!   blocks. `chunks_head/` is not read: everything in it is also in the WAL.
//! * **Into a bucket**, the blocks are staged in a temporary directory (hard links where
//!   possible) and uploaded by `compactor::shipper::Shipper`, `meta.json` last; a block
//!   whose `meta.json` is already there is not uploaded again.
//!
//! The source's `lock` file, when there is one, is flocked read-only for the whole import:
//! a running Prometheus holds it, and a Prometheus started meanwhile fails to take it.
//! Running an import twice imports nothing twice: a source block whose ULID is at the
//! destination is skipped, and so is a WAL block when the destination holds a level-1
//! block with the same range and counts (the WAL's blocks get new ULIDs each time).

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use prometheus_client::registry::Registry;
use tsdb::block::{Block, BlockMeta, TMP_FOR_CREATION, Ulid};
use tsdb::bucket::Bucket;
use tsdb::fileutil::{DirLock, fsync_dir};
use tsdb::{Head, Options};

use crate::datadir::{TempDir, local_blocks, lock_error, lock_for_writing, open_bucket};
use crate::output::{block_cells, block_json, block_table};
use crate::progress;

/// Where the import goes.
#[derive(Debug)]
pub(crate) enum Target {
    /// A data directory of ours.
    Dir(PathBuf),
    /// A bucket URL.
    Bucket(String),
}

/// Where an imported block came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    Block,
    Wal,
}

impl Origin {
    fn as_str(self) -> &'static str {
        match self {
            Origin::Block => "block",
            Origin::Wal => "wal",
        }
    }
}

/// One block of the summary.
#[derive(Debug)]
struct Row {
    meta: BlockMeta,
    origin: Origin,
    /// False when the block was already at the destination.
    imported: bool,
}

pub(crate) fn run(src: &Path, target: &Target, block_duration: i64, json: bool) -> Result<()> {
    if !src.join("wal").is_dir() && !has_blocks(src)? {
        bail!(
            "{} is not a Prometheus data directory (no wal/ and no blocks)",
            src.display()
        );
    }
    if let Target::Dir(out) = target
        && same_dir(src, out)
    {
        bail!("the output directory is the source directory");
    }
    let _src_lock = DirLock::acquire_existing(src).map_err(|e| {
        lock_error(
            format!(
                "source directory {} is locked (is Prometheus running on it?); stop it first",
                src.display()
            ),
            &e,
        )
    })?;
    let metas = local_blocks(src)?;
    for m in &metas {
        Block::open(&src.join(m.ulid.to_string()))
            .with_context(|| format!("source block {} does not open", m.ulid))?;
    }
    if src.join("wbl").is_dir() && tsdb::fileutil::dir_size(&src.join("wbl")) > 0 {
        eprintln!(
            "tsdbctl: warning: {} holds an out-of-order write-behind log (wbl/); its samples \
             are not imported",
            src.display()
        );
    }
    let blocks_end = metas.iter().map(|m| m.max_time).max();

    let rows = match target {
        Target::Dir(out) => {
            let _lock = lock_for_writing(out)?;
            into_dir(src, &metas, blocks_end, out, block_duration)?
        }
        Target::Bucket(url) => {
            let bucket = open_bucket(url)?;
            into_bucket(src, &metas, blocks_end, bucket, block_duration)?
        }
    };
    let out = std::io::stdout();
    let mut out = out.lock();
    if json {
        let v: Vec<serde_json::Value> = rows.iter().map(row_json).collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
    } else {
        write_table(&mut out, &rows)?;
    }
    Ok(())
}

fn has_blocks(dir: &Path) -> Result<bool> {
    Ok(!local_blocks(dir)?.is_empty())
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Copies the source's blocks into `out` (skipping those present) and writes its WAL's
/// blocks there.
fn into_dir(
    src: &Path,
    metas: &[BlockMeta],
    blocks_end: Option<i64>,
    out: &Path,
    block_duration: i64,
) -> Result<Vec<Row>> {
    let present: BTreeSet<Ulid> = local_blocks(out)?.into_iter().map(|m| m.ulid).collect();
    let bar = progress::bar(metas.len() as u64 + 1, "importing", false);
    let mut rows = Vec::new();
    for m in metas {
        let imported = !present.contains(&m.ulid);
        if imported {
            copy_block(&src.join(m.ulid.to_string()), out, &m.ulid)?;
        }
        rows.push(Row {
            meta: m.clone(),
            origin: Origin::Block,
            imported,
        });
        bar.inc(1);
    }
    // The WAL's blocks are written in a staging directory first, to be compared with the
    // blocks already there. Its name ends like an unfinished block's, so if the import is
    // interrupted, tsdbd's next open (or the next import) removes it.
    let staging = out.join(format!("import-wal{TMP_FOR_CREATION}"));
    if staging.exists() {
        std::fs::remove_dir_all(&staging)
            .with_context(|| format!("removing {}", staging.display()))?;
    }
    std::fs::create_dir_all(&staging).with_context(|| format!("creating {}", staging.display()))?;
    let present = local_blocks(out)?;
    for meta in wal_blocks(src, &staging, blocks_end, block_duration)? {
        // A WAL block already imported is reported under the ULID it has there.
        let existing = present.iter().find(|p| same_data(p, &meta));
        let imported = existing.is_none();
        if imported {
            let (from, to) = (
                staging.join(meta.ulid.to_string()),
                out.join(meta.ulid.to_string()),
            );
            std::fs::rename(&from, &to)
                .with_context(|| format!("renaming {} to {}", from.display(), to.display()))?;
        }
        rows.push(Row {
            meta: existing.cloned().unwrap_or(meta),
            origin: Origin::Wal,
            imported,
        });
    }
    bar.inc(1);
    fsync_dir(out)?;
    std::fs::remove_dir_all(&staging).with_context(|| format!("removing {}", staging.display()))?;
    bar.finish_and_clear();
    Ok(rows)
}

/// Whether two blocks hold the same data as far as their metas tell: a level-1 block of
/// the same range and counts (a WAL imported before).
fn same_data(a: &BlockMeta, b: &BlockMeta) -> bool {
    a.compaction.level == 1
        && b.compaction.level == 1
        && (a.min_time, a.max_time) == (b.min_time, b.max_time)
        && (a.stats.num_series, a.stats.num_samples, a.stats.num_chunks)
            == (b.stats.num_series, b.stats.num_samples, b.stats.num_chunks)
}

/// Stages the source's blocks and its WAL's blocks in a temporary directory and ships
/// them with the compactor's shipper.
fn into_bucket(
    src: &Path,
    metas: &[BlockMeta],
    blocks_end: Option<i64>,
    bucket: Arc<dyn Bucket>,
    block_duration: i64,
) -> Result<Vec<Row>> {
    let staging = TempDir::new("import")?;
    let dir = staging.path();
    let listing = compactor::shipper::list_blocks(bucket.as_ref()).context("listing the bucket")?;
    let there: Vec<&BlockMeta> = listing
        .blocks
        .iter()
        .filter(|b| b.deletion_mark.is_none())
        .map(|b| &b.meta)
        .collect();
    let mut rows = Vec::new();
    for m in metas {
        let imported = !there.iter().any(|b| b.ulid == m.ulid);
        if imported {
            copy_tree(
                &src.join(m.ulid.to_string()),
                &dir.join(m.ulid.to_string()),
                CopyMode::LinkOrCopy,
            )?;
        }
        rows.push(Row {
            meta: m.clone(),
            origin: Origin::Block,
            imported,
        });
    }
    for meta in wal_blocks(src, dir, blocks_end, block_duration)? {
        let existing = there.iter().find(|b| same_data(b, &meta));
        let imported = existing.is_none();
        if !imported {
            let skip = dir.join(meta.ulid.to_string());
            std::fs::remove_dir_all(&skip)
                .with_context(|| format!("removing {}", skip.display()))?;
        }
        rows.push(Row {
            meta: existing.map_or(meta, |m| (*m).clone()),
            origin: Origin::Wal,
            imported,
        });
    }
    let to_ship = rows.iter().filter(|r| r.imported).count() as u64;
    let bar = progress::bar(to_ship, "uploading", false);
    let shipper = compactor::shipper::Shipper::new(dir, bucket);
    shipper
        .sync_with(|_| bar.inc(1))
        .context("uploading the blocks")?;
    bar.finish_and_clear();
    Ok(rows)
}

/// Replays `src/wal` read-only (nothing in the source is written, a damaged tail ends the
/// replay) and writes its samples as level-1 blocks in `out`, one per block range.
/// Returns their metas.
fn wal_blocks(
    src: &Path,
    out: &Path,
    blocks_end: Option<i64>,
    block_duration: i64,
) -> Result<Vec<BlockMeta>> {
    let wal = src.join("wal");
    if !wal.is_dir() {
        return Ok(Vec::new());
    }
    let opts = Options {
        block_range: block_duration,
        ..Options::default()
    };
    let head = Head::open_read_only(
        &wal,
        &opts,
        &mut Registry::default(),
        blocks_end.unwrap_or(i64::MIN),
    )
    .with_context(|| format!("replaying the WAL of {}", src.display()))?;
    let mut written = Vec::new();
    let (first, last) = (head.min_time(), head.max_time());
    let mut mint = first;
    while first <= last && mint <= last {
        let end = tsdb::chunkenc::cut::range_for_timestamp(mint, block_duration);
        let maxt = end.min(last.saturating_add(1));
        if let Some(meta) = head
            .write_block(out, mint, maxt)
            .with_context(|| format!("writing the WAL's samples in [{mint}, {maxt})"))?
        {
            written.push(meta);
        }
        mint = end;
    }
    Ok(written)
}

/// Copies block `src` into `<out>/<ulid>` crash-safely: files into
/// `<ulid>.tmp-for-creation`, fsynced, then renamed into place.
fn copy_block(src: &Path, out: &Path, ulid: &Ulid) -> Result<()> {
    let tmp = out.join(format!("{ulid}{TMP_FOR_CREATION}"));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).with_context(|| format!("removing {}", tmp.display()))?;
    }
    copy_tree(src, &tmp, CopyMode::Durable)?;
    let dst = out.join(ulid.to_string());
    std::fs::rename(&tmp, &dst)
        .with_context(|| format!("renaming {} to {}", tmp.display(), dst.display()))?;
    fsync_dir(out)?;
    Ok(())
}

/// How [`copy_tree`] writes a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CopyMode {
    /// A copy, fsynced (with its directories), for data that must survive a crash.
    Durable,
    /// A hard link, or a plain copy across file systems, for a staging copy nothing
    /// writes to.
    LinkOrCopy,
}

/// Copies the files and subdirectories of `from` into `to` (created).
fn copy_tree(from: &Path, to: &Path, mode: CopyMode) -> Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    let entries = std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))?;
    for e in entries {
        let e = e.with_context(|| format!("reading {}", from.display()))?;
        let (src, dst) = (e.path(), to.join(e.file_name()));
        let kind = e
            .file_type()
            .with_context(|| format!("reading {}", src.display()))?;
        if kind.is_dir() {
            copy_tree(&src, &dst, mode)?;
        } else if kind.is_file() {
            if mode == CopyMode::LinkOrCopy && std::fs::hard_link(&src, &dst).is_ok() {
                continue;
            }
            std::fs::copy(&src, &dst)
                .with_context(|| format!("copying {} to {}", src.display(), dst.display()))?;
            if mode == CopyMode::Durable {
                std::fs::File::open(&dst)
                    .and_then(|f| f.sync_all())
                    .with_context(|| format!("fsyncing {}", dst.display()))?;
            }
        }
    }
    if mode == CopyMode::Durable {
        fsync_dir(to)?;
    }
    Ok(())
}

fn row_json(r: &Row) -> serde_json::Value {
    let mut v = block_json(&r.meta);
    v["from"] = r.origin.as_str().into();
    v["imported"] = r.imported.into();
    v
}

fn write_table(out: &mut impl Write, rows: &[Row]) -> Result<()> {
    let mut table = block_table(&["FROM", "RESULT"]);
    for r in rows {
        let mut cells = block_cells(&r.meta);
        cells.extend([
            r.origin.as_str().to_owned(),
            if r.imported {
                "imported"
            } else {
                "already there"
            }
            .to_owned(),
        ]);
        table.row(cells);
    }
    table.write(out)?;
    let imported = rows.iter().filter(|r| r.imported).count();
    let samples: u64 = rows
        .iter()
        .filter(|r| r.imported)
        .map(|r| r.meta.stats.num_samples)
        .sum();
    writeln!(
        out,
        "imported {imported} of {} blocks, {samples} samples",
        rows.len()
    )?;
    Ok(())
}
