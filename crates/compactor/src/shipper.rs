//! Shipping blocks to object storage, crash-safely, and removing them again.
//!
//! The bucket layout is Thanos's, so Thanos and Mimir tooling can read it
//! (`docs/format/bucket.md`):
//!
//! ```text
//! <ulid>/chunks/000001 ...   the block's files, byte for byte as on local disk
//! <ulid>/index
//! <ulid>/tombstones
//! <ulid>/meta.json           uploaded last: a block is visible once this exists
//! <ulid>/deletion-mark.json  written first when the block is to be deleted
//! ```
//!
//! **Upload** ([`Shipper::sync`]): every local block not yet in the local record
//! (`<data>/thanos.shipper.json`) is uploaded, every file but `meta.json` first and
//! `meta.json` last; then its id is added to the record (replaced atomically). After a crash
//! at any point, the next sync finds one of three states for a block missing from the
//! record: no `meta.json` in the bucket (upload again from scratch, overwriting the partial
//! objects), or `meta.json` in the bucket (the upload had finished: record it without
//! uploading). A recorded block is never uploaded again.
//!
//! **Deletion** ([`mark_for_deletion`], [`delete_marked`]): a deletion mark is written first;
//! once it is older than a delay (longer than any reader keeps a listing), `meta.json` is
//! deleted, so the block stops being visible, then its other objects, then the mark.
//! [`list_blocks`] reports blocks without `meta.json` as partial, never as blocks.
//! [`clean_partial`] removes partial uploads that stopped long ago.
//!
//! Time is a parameter everywhere (`now`), never read from the clock here.

mod deletion;
mod listing;
mod meta;
mod record;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tsdb::bucket::Bucket;

use crate::error::Result;

pub use deletion::{DeleteStats, clean_partial, delete_block, delete_marked, mark_for_deletion};
pub use listing::{BucketBlock, BucketListing, CorruptBlock, PartialBlock, list_blocks};
pub use meta::{DELETION_MARK_FILE, DeletionMark, META_FILE, is_block_id};
pub use record::RECORD_FILE;

use record::Record;

/// What one [`Shipper::sync`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShipStats {
    /// Blocks uploaded, in id order.
    pub uploaded: Vec<String>,
    /// Blocks found complete in the bucket (a crash after the upload, before the record)
    /// and recorded without uploading.
    pub adopted: Vec<String>,
    /// Recorded blocks that are gone from local disk and were dropped from the record.
    pub forgotten: Vec<String>,
    /// Objects uploaded.
    pub objects: u64,
    /// Bytes uploaded.
    pub bytes: u64,
}

/// Uploads the blocks of a data directory to a bucket; see the module documentation.
#[derive(Debug)]
pub struct Shipper {
    data_dir: PathBuf,
    bucket: Arc<dyn Bucket>,
    /// One sync at a time: two would upload the same block twice.
    sync_lock: Mutex<()>,
}

impl Shipper {
    /// A shipper for the blocks in `data_dir` (the directory holding `<ulid>/` blocks and
    /// the record file).
    pub fn new(data_dir: impl Into<PathBuf>, bucket: Arc<dyn Bucket>) -> Shipper {
        Shipper {
            data_dir: data_dir.into(),
            bucket,
            sync_lock: Mutex::new(()),
        }
    }

    /// The bucket blocks are shipped to.
    pub fn bucket(&self) -> &Arc<dyn Bucket> {
        &self.bucket
    }

    /// The ids of the blocks recorded as uploaded, sorted. A local block not in this list
    /// is not safely in the bucket yet (local retention should keep it).
    pub fn uploaded(&self) -> Result<Vec<String>> {
        Ok(Record::read(&self.data_dir)?.uploaded.into_iter().collect())
    }

    /// Uploads every local block not yet recorded as uploaded, oldest id first, and drops
    /// blocks gone from local disk from the record. Stops at the first error; the blocks
    /// shipped before it stay recorded.
    pub fn sync(&self) -> Result<ShipStats> {
        self.sync_with(|_| {})
    }

    /// [`Shipper::sync`], calling `on_block` with each block's id once it is recorded
    /// (uploaded or adopted), for progress reports.
    pub fn sync_with(&self, mut on_block: impl FnMut(&str)) -> Result<ShipStats> {
        let _one_at_a_time = self
            .sync_lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut stats = ShipStats::default();
        let mut record = Record::read(&self.data_dir)?;
        let local = local_blocks(&self.data_dir)?;

        let local_set: BTreeSet<&String> = local.iter().collect();
        stats.forgotten = record
            .uploaded
            .iter()
            .filter(|id| !local_set.contains(id))
            .cloned()
            .collect();
        if !stats.forgotten.is_empty() {
            for id in &stats.forgotten {
                record.uploaded.remove(id);
            }
            record.write(&self.data_dir)?;
        }

        for id in &local {
            if record.uploaded.contains(id) {
                continue;
            }
            let meta_key = tsdb::bucket::join(&[id, META_FILE]);
            if self.bucket.exists(&meta_key)? {
                stats.adopted.push(id.clone());
            } else {
                self.upload_block(id, &mut stats)?;
                stats.uploaded.push(id.clone());
            }
            record.uploaded.insert(id.clone());
            record.write(&self.data_dir)?;
            on_block(id);
        }
        Ok(stats)
    }

    /// Uploads one block's files, `meta.json` last.
    fn upload_block(&self, id: &str, stats: &mut ShipStats) -> Result<()> {
        let dir = self.data_dir.join(id);
        let mut files = Vec::new();
        block_files(&dir, "", &mut files)?;
        files.sort();
        files.retain(|(rel, _)| rel != META_FILE);
        files.push((META_FILE.to_string(), dir.join(META_FILE)));
        for (rel, path) in files {
            let key = format!("{id}/{rel}");
            stats.bytes += self.bucket.upload(&key, &path)?;
            stats.objects += 1;
        }
        tracing::info!(block = id, "uploaded block");
        Ok(())
    }
}

/// The complete local blocks: directories named by a ULID that hold a `meta.json`, sorted.
/// `<ulid>.tmp-for-creation` and `<ulid>.tmp-for-deletion` are not ULIDs, so never shipped.
fn local_blocks(data_dir: &Path) -> Result<Vec<String>> {
    let entries =
        std::fs::read_dir(data_dir).map_err(|e| tsdb::Error::io("read dir", data_dir, e))?;
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| tsdb::Error::io("read dir", data_dir, e))?;
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        if is_block_id(&name) && entry.path().join(META_FILE).is_file() {
            out.push(name);
        }
    }
    out.sort();
    Ok(out)
}

/// Every regular file below `dir`, as (`/`-separated path relative to the block, path).
fn block_files(dir: &Path, rel: &str, out: &mut Vec<(String, PathBuf)>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| tsdb::Error::io("read dir", dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| tsdb::Error::io("read dir", dir, e))?;
        let path = entry.path();
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            return Err(tsdb::Error::io(
                "upload",
                &path,
                std::io::Error::new(std::io::ErrorKind::InvalidData, "file name is not UTF-8"),
            )
            .into());
        };
        let child = if rel.is_empty() {
            name.to_string()
        } else {
            format!("{rel}/{name}")
        };
        let meta = std::fs::metadata(&path).map_err(|e| tsdb::Error::io("stat", &path, e))?;
        if meta.is_dir() {
            block_files(&path, &child, out)?;
        } else if meta.is_file() {
            out.push((child, path));
        }
    }
    Ok(())
}
