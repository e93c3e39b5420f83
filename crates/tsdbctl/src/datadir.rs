//! What every subcommand needs from a data directory or a bucket: the blocks it holds, the
//! lock that keeps `tsdbctl` from writing under a running `tsdbd`, opening a bucket URL,
//! and reading a bucket's blocks (served through `compactor::bucket_blocks`, or
//! downloaded one at a time) for the read-only subcommands.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use tsdb::block::{BlockMeta, Ulid};
use tsdb::bucket::Bucket;
use tsdb::fileutil::DirLock;

/// The `<ulid>/` directories of `dir` in ULID order, whether or not their `meta.json`
/// parses (unfinished `.tmp-*` directories are skipped).
pub(crate) fn block_dirs(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("reading data directory {}", dir.display()))?;
    let mut dirs = Vec::new();
    for e in entries {
        let e = e.with_context(|| format!("reading data directory {}", dir.display()))?;
        let is_block = e
            .file_name()
            .to_str()
            .is_some_and(|n| n.parse::<Ulid>().is_ok());
        if is_block && e.path().is_dir() {
            dirs.push(e.path());
        }
    }
    dirs.sort();
    Ok(dirs)
}

/// The metas of the blocks of `dir` ([`block_dirs`]), oldest first.
pub(crate) fn local_blocks(dir: &Path) -> Result<Vec<BlockMeta>> {
    let mut metas = block_dirs(dir)?
        .iter()
        .map(|d| Ok(BlockMeta::read(d)?))
        .collect::<Result<Vec<_>>>()?;
    metas.sort_by_key(|m| (m.min_time, m.ulid));
    Ok(metas)
}

/// Takes the data directory's lock before `tsdbctl` writes into it, creating the directory
/// if needed. Fails with a clear message when a running `tsdbd` (or Prometheus) holds it.
pub(crate) fn lock_for_writing(dir: &Path) -> Result<DirLock> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("creating data directory {}", dir.display()))?;
    DirLock::acquire(dir).map_err(|e| {
        lock_error(
            format!(
                "data directory {} is in use (is tsdbd running on it?); stop it first",
                dir.display()
            ),
            &e,
        )
    })
}

/// Opens a bucket URL (`file:///dir`, `s3://bucket/prefix`, `gs://`, `az://`; S3
/// credentials and endpoint from the usual `AWS_*` variables).
pub(crate) fn open_bucket(url: &str) -> Result<Arc<dyn Bucket>> {
    objstore::open(url, &objstore::Options::default())
        .with_context(|| format!("opening bucket {url}"))
}

/// Opens an existing data directory as `tsdb::Db` (which takes its lock and replays its
/// WAL), with a clear message when a running `tsdbd` holds the lock.
pub(crate) fn open_db(dir: &Path, opts: tsdb::Options) -> Result<tsdb::Db> {
    if !dir.is_dir() {
        anyhow::bail!("data directory {} does not exist", dir.display());
    }
    let mut registry = prometheus_client::registry::Registry::default();
    tsdb::Db::open(dir, opts, &mut registry).map_err(|e| {
        if matches!(&e, tsdb::Error::Io { op: "lock", .. }) {
            lock_error(
                format!(
                    "data directory {} is in use (is tsdbd running on it?); stop it first",
                    dir.display()
                ),
                &e,
            )
        } else {
            anyhow::Error::new(e).context(format!("opening data directory {}", dir.display()))
        }
    })
}

/// A lock failure: `what`, then the lock error, whose message already names the OS
/// error (so it is not chained a second time).
pub(crate) fn lock_error(what: String, e: &tsdb::Error) -> anyhow::Error {
    anyhow::anyhow!("{what}: {e}")
}

/// A temporary directory, removed (with its contents) when dropped.
#[derive(Debug)]
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    /// A new, empty directory under the system's temporary directory.
    pub(crate) fn new(purpose: &str) -> Result<TempDir> {
        let dir = std::env::temp_dir().join(format!("tsdbctl-{purpose}-{}", Ulid::new()));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(TempDir(dir))
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Where a read-only subcommand reads blocks from.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Location<'a> {
    /// A data directory.
    Dir(&'a Path),
    /// A bucket URL.
    Bucket(&'a str),
}

impl Location<'_> {
    /// The directory or the URL, for messages.
    pub(crate) fn name(&self) -> String {
        match self {
            Location::Dir(d) => d.display().to_string(),
            Location::Bucket(url) => (*url).to_owned(),
        }
    }
}

/// The open blocks of a data directory or a bucket (those not marked for deletion),
/// oldest first. A bucket's blocks read their index from a local copy under a temporary
/// directory and their chunks by ranged GETs, as the server serves bucket-only blocks.
#[derive(Debug)]
pub(crate) struct OpenBlocks {
    pub(crate) blocks: Vec<tsdb::Block>,
    /// Keeps the bucket reader and its index cache alive while the blocks are used.
    _bucket: Option<(compactor::bucket_blocks::BucketBlocks, TempDir)>,
}

/// Opens the blocks at `at`, keeping only `only` when given (an error if it is not there).
pub(crate) fn open_blocks(at: Location<'_>, only: Option<Ulid>) -> Result<OpenBlocks> {
    let wanted = |u: Ulid| only.is_none_or(|o| o == u);
    let (mut blocks, bucket) = match at {
        Location::Dir(dir) => {
            let mut blocks = Vec::new();
            for m in local_blocks(dir)?.into_iter().filter(|m| wanted(m.ulid)) {
                let path = dir.join(m.ulid.to_string());
                blocks.push(
                    tsdb::Block::open(&path)
                        .with_context(|| format!("opening block {}", m.ulid))?,
                );
            }
            (blocks, None)
        }
        Location::Bucket(url) => {
            let bucket = open_bucket(url)?;
            let listing = compactor::shipper::list_blocks(bucket.as_ref())
                .with_context(|| format!("listing bucket {url}"))?;
            let cache = TempDir::new("index-cache")?;
            let reader = compactor::bucket_blocks::BucketBlocks::new(
                bucket,
                cache.path().to_path_buf(),
                compactor::bucket_blocks::BucketBlocksOptions::default(),
            )?;
            let mut blocks = Vec::new();
            for b in listing
                .blocks
                .iter()
                .filter(|b| b.deletion_mark.is_none() && wanted(b.meta.ulid))
            {
                blocks.push(
                    reader
                        .open_listed(b)
                        .with_context(|| format!("opening block {} in {url}", b.meta.ulid))?,
                );
            }
            (blocks, Some((reader, cache)))
        }
    };
    if let Some(u) = only
        && blocks.is_empty()
    {
        anyhow::bail!("block {u} not found in {}", at.name());
    }
    blocks.sort_by_key(|b| (b.meta().min_time, b.meta().ulid));
    Ok(OpenBlocks {
        blocks,
        _bucket: bucket,
    })
}

/// Downloads every object of bucket block `block` into `<into>/<ulid>/`, returning that
/// directory (for checks that read every byte, such as `verify`).
pub(crate) fn download_block(
    bucket: &dyn tsdb::bucket::Bucket,
    block: &compactor::shipper::BucketBlock,
    into: &Path,
) -> Result<PathBuf> {
    let dir = into.join(block.meta.ulid.to_string());
    for o in &block.objects {
        let rel = o
            .key
            .strip_prefix(&format!("{}/", block.id))
            .unwrap_or(&o.key);
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        let data = bucket
            .get(&o.key)
            .with_context(|| format!("downloading {}", o.key))?
            .with_context(|| format!("{} vanished from the bucket", o.key))?;
        std::fs::write(&path, data).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(dir)
}
