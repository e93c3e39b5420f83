//! What every subcommand needs from a data directory or a bucket: the blocks it holds, the
//! lock that keeps `tsdbctl` from writing under a running `tsdbd`, and opening a bucket URL.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use tsdb::block::{BlockMeta, Ulid};
use tsdb::bucket::Bucket;
use tsdb::fileutil::DirLock;

/// The metas of the `<ulid>/` directories of `dir`, oldest first (unfinished `.tmp-*`
/// directories are skipped).
pub(crate) fn local_blocks(dir: &Path) -> Result<Vec<BlockMeta>> {
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("reading data directory {}", dir.display()))?;
    let mut metas = Vec::new();
    for e in entries {
        let e = e.with_context(|| format!("reading data directory {}", dir.display()))?;
        let is_block = e
            .file_name()
            .to_str()
            .is_some_and(|n| n.parse::<Ulid>().is_ok());
        if is_block && e.path().is_dir() {
            metas.push(BlockMeta::read(&e.path())?);
        }
    }
    metas.sort_by_key(|m| (m.min_time, m.ulid));
    Ok(metas)
}

/// Takes the data directory's lock before `tsdbctl` writes into it, creating the directory
/// if needed. Fails with a clear message when a running `tsdbd` (or Prometheus) holds it.
pub(crate) fn lock_for_writing(dir: &Path) -> Result<DirLock> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("creating data directory {}", dir.display()))?;
    DirLock::acquire(dir).with_context(|| {
        format!(
            "data directory {} is in use (is tsdbd running on it?); stop it first",
            dir.display()
        )
    })
}

/// Opens a bucket URL (`file:///dir`, `s3://bucket/prefix`, `gs://`, `az://`; S3
/// credentials and endpoint from the usual `AWS_*` variables).
pub(crate) fn open_bucket(url: &str) -> Result<Arc<dyn Bucket>> {
    objstore::open(url, &objstore::Options::default())
        .with_context(|| format!("opening bucket {url}"))
}
