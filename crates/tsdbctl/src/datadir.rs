//! What every subcommand needs from a data directory or a bucket: the blocks it holds, the
//! lock that keeps `tsdbctl` from writing under a running `tsdbd`, and opening a bucket URL.

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
