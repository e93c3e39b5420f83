//! [`Db`]: a data directory in Prometheus's layout, opened for reading and writing.
//!
//! ```text
//! <dir>/lock                 DirLock, held while open
//! <dir>/<ulid>/              persistent blocks (crate::block), loaded at open
//! <dir>/<ulid>.tmp-for-*     unfinished writes and deletions, removed at open
//! <dir>/wal/                 the head's WAL and checkpoints
//! ```
//!
//! Opening takes the directory lock, removes leftovers of interrupted block writes and
//! deletions, opens every block (a damaged block is reported, counted and left out; the
//! rest is served), then replays the WAL into a new [`Head`], dropping samples older than
//! the newest block's end so a crash between writing a block and truncating the WAL
//! neither loses nor duplicates samples.
//!
//! * Reading ([`Queryable`]): one [`merge_queriers`] over the blocks overlapping the range
//!   (oldest first), then bucket-only blocks, then the head, so newer data wins ties.
//! * Writing ([`Appendable`]): the head.
//! * [`compact`]: the mechanisms the compactor crate drives (head → block, merging
//!   blocks, rewriting tombstoned blocks, dropping blocks); the policy lives there.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use prometheus_client::registry::Registry;
use tracing::{error, info, warn};

use crate::block::{Block, TMP_FOR_CREATION, TMP_FOR_DELETION, Ulid};
use crate::error::{Error, Result};
use crate::fileutil::{self, DirLock};
use crate::head::{Head, HeadAppender};
use crate::labels::Matcher;
use crate::options::Options;
use crate::querier::merge_queriers;
use crate::storage::{Appendable, Appender, Querier, Queryable};

pub mod compact;
mod metrics;

pub use metrics::DbMetrics;

/// An open data directory.
#[derive(Debug)]
pub struct Db {
    dir: PathBuf,
    opts: Options,
    head: Head,
    /// Local blocks, sorted by min time then ULID. Replaced whole (copy on write), so a
    /// querier keeps the list it started with.
    blocks: RwLock<Arc<Vec<Block>>>,
    /// Blocks that live only in a bucket (set by whoever syncs the bucket).
    remote: RwLock<Arc<Vec<Block>>>,
    /// Block directories that failed to open, with the reason.
    damaged: RwLock<Vec<(PathBuf, String)>>,
    /// Serialises compactions, block deletions and tombstone rewrites.
    compaction: Mutex<()>,
    metrics: DbMetrics,
    _lock: DirLock,
}

impl Db {
    /// Opens (creating if needed) the data directory `dir`.
    pub fn open(dir: &Path, opts: Options, registry: &mut Registry) -> Result<Db> {
        opts.validate()?;
        std::fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, e))?;
        let lock = DirLock::acquire(dir)?;
        let metrics = DbMetrics::register(registry);
        remove_leftovers(dir)?;
        let (blocks, damaged) = open_blocks(dir)?;
        for (path, reason) in &damaged {
            error!(block = %path.display(), error = %reason, "damaged block left out");
        }
        metrics.block_corruptions.inc_by(damaged.len() as u64);
        let blocks_end = blocks.iter().map(Block::max_time).max();
        let head = if opts.wal_enabled {
            let min_valid = blocks_end.unwrap_or(i64::MIN);
            Head::open_from(&dir.join("wal"), &opts, registry, min_valid)?
        } else {
            Head::new(&opts, registry)?
        };
        let db = Db {
            dir: dir.to_path_buf(),
            opts,
            head,
            blocks: RwLock::new(Arc::new(blocks)),
            remote: RwLock::default(),
            damaged: RwLock::new(damaged),
            compaction: Mutex::new(()),
            metrics,
            _lock: lock,
        };
        db.update_block_metrics();
        Ok(db)
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The options the database was opened with.
    pub fn options(&self) -> &Options {
        &self.opts
    }

    /// The head block.
    pub fn head(&self) -> &Head {
        &self.head
    }

    /// The local blocks, sorted by min time.
    pub fn blocks(&self) -> Arc<Vec<Block>> {
        Arc::clone(&self.blocks.read())
    }

    /// The blocks served from a bucket only.
    pub fn remote_blocks(&self) -> Arc<Vec<Block>> {
        Arc::clone(&self.remote.read())
    }

    /// Replaces the bucket-only blocks served next to the local ones. Blocks whose ULID is
    /// also local are ignored when querying.
    pub fn set_remote_blocks(&self, mut blocks: Vec<Block>) {
        blocks.sort_by_key(|b| (b.min_time(), b.ulid()));
        *self.remote.write() = Arc::new(blocks);
        self.update_block_metrics();
    }

    /// Block directories that could not be opened, with the reason.
    pub fn damaged_blocks(&self) -> Vec<(PathBuf, String)> {
        self.damaged.read().clone()
    }

    /// The database's own metrics.
    pub fn metrics(&self) -> &DbMetrics {
        &self.metrics
    }

    /// A new batch of samples.
    pub fn appender(&self) -> HeadAppender<'_> {
        self.head.appender()
    }

    /// Hides the samples in `[mint, maxt]` of the series matching `matchers`, in the head
    /// (WAL tombstones) and in every local block (their `tombstones` files); returns how
    /// many series were affected.
    pub fn delete(&self, mint: i64, maxt: i64, matchers: &[Matcher]) -> Result<usize> {
        let _guard = self.compaction.lock();
        let mut n = 0;
        for b in self.blocks().iter().filter(|b| b.overlaps(mint, maxt)) {
            n += b.delete(mint, maxt, matchers)?;
        }
        Ok(n + self.head.delete(mint, maxt, matchers)?)
    }

    /// Flushes the WAL and closes the database.
    pub fn close(self) -> Result<()> {
        self.head.close()
    }

    fn update_block_metrics(&self) {
        let local = self.blocks.read();
        self.metrics.blocks_loaded.set(local.len() as i64);
        self.metrics
            .remote_blocks
            .set(self.remote.read().len() as i64);
        let bytes: u64 = local.iter().map(|b| fileutil::dir_size(b.dir())).sum();
        self.metrics.blocks_bytes.set(bytes as i64);
        let lowest = local.first().map_or(self.head.min_time(), Block::min_time);
        self.metrics.lowest_timestamp.set(lowest);
    }
}

impl Appendable for Db {
    fn appender(&self) -> Box<dyn Appender + '_> {
        Box::new(self.head.appender())
    }
}

impl Queryable for Db {
    fn querier(&self, mint: i64, maxt: i64) -> Result<Box<dyn Querier + '_>> {
        let local = self.blocks();
        let remote = self.remote_blocks();
        let mut queriers: Vec<Box<dyn Querier + '_>> = Vec::new();
        // Oldest data first: the merge lets later queriers win timestamp ties. A remote
        // block that is also local (rare, and only until the next bucket sync) is skipped;
        // the check costs nothing per query when no bucket block overlaps the range.
        for b in remote
            .iter()
            .filter(|b| b.overlaps(mint, maxt) && !local.iter().any(|l| l.ulid() == b.ulid()))
        {
            queriers.push(Box::new(b.block_querier(mint, maxt)));
        }
        for b in local.iter().filter(|b| b.overlaps(mint, maxt)) {
            queriers.push(Box::new(b.block_querier(mint, maxt)));
        }
        let head_overlaps = self.head.min_time() <= maxt && self.head.max_time() >= mint;
        if head_overlaps || queriers.is_empty() {
            queriers.push(self.head.querier_boxed(mint, maxt)?);
        }
        Ok(merge_queriers(queriers))
    }
}

/// Removes `<ulid>.tmp-for-creation` and `<ulid>.tmp-for-deletion` directories (and
/// Prometheus's legacy `.tmp` suffix) left by an interrupted write or deletion.
fn remove_leftovers(dir: &Path) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io("read dir", dir, e))?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let leftover = [TMP_FOR_CREATION, TMP_FOR_DELETION, ".tmp"]
            .iter()
            .any(|suffix| name.ends_with(suffix));
        if leftover && entry.path().is_dir() {
            info!(dir = %entry.path().display(), "removing an unfinished block directory");
            std::fs::remove_dir_all(entry.path())
                .map_err(|e| Error::io("remove", entry.path(), e))?;
        }
    }
    Ok(())
}

/// Opens every `<ulid>/` directory of `dir`; returns the blocks sorted by min time and
/// the directories that failed with their error.
#[allow(clippy::type_complexity)]
fn open_blocks(dir: &Path) -> Result<(Vec<Block>, Vec<(PathBuf, String)>)> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io("read dir", dir, e))?;
    let mut blocks = Vec::new();
    let mut damaged = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let is_block = entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.parse::<Ulid>().is_ok());
        if !is_block || !path.is_dir() {
            continue;
        }
        match Block::open(&path) {
            Ok(b) => blocks.push(b),
            Err(e) => damaged.push((path, e.to_string())),
        }
    }
    // A merge that crashed after writing its output but before deleting its inputs
    // leaves them behind: their data is in the output, so they go now.
    let parents: HashSet<Ulid> = blocks
        .iter()
        .flat_map(|b| b.meta().compaction.parents.into_iter().map(|p| p.ulid))
        .collect();
    let (stale, mut blocks): (Vec<Block>, Vec<Block>) = blocks
        .into_iter()
        .partition(|b| parents.contains(&b.ulid()));
    for b in stale {
        info!(block = %b.dir().display(), "removing a block already merged into another");
        remove_block_dir(b.dir())?;
    }
    blocks.sort_by_key(|b| (b.min_time(), b.ulid()));
    Ok((blocks, damaged))
}

/// Renames a block directory to `<ulid>.tmp-for-deletion`, fsyncs, then removes it, so an
/// interruption leaves a directory the next open removes rather than half a block.
pub(crate) fn remove_block_dir(dir: &Path) -> Result<()> {
    let mut tmp = dir.as_os_str().to_owned();
    tmp.push(TMP_FOR_DELETION);
    let tmp = PathBuf::from(tmp);
    std::fs::rename(dir, &tmp).map_err(|e| Error::io("rename", dir, e))?;
    if let Some(parent) = dir.parent() {
        fileutil::fsync_dir(parent)?;
    }
    if let Err(e) = std::fs::remove_dir_all(&tmp) {
        warn!(dir = %tmp.display(), error = %e, "cannot remove a deleted block; the next open will");
    }
    Ok(())
}
