//! [`list_blocks`]: the blocks in a bucket, with their metadata and deletion marks.

use std::collections::BTreeMap;
use std::time::SystemTime;

use tsdb::block::BlockMeta;
use tsdb::bucket::{Bucket, ObjectMeta};

use crate::error::{Error, Result};
use crate::shipper::meta::{
    DELETION_MARK_FILE, DeletionMark, META_FILE, is_block_id, parse_block_meta,
};

/// A visible block: its `meta.json` is in the bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketBlock {
    /// The block's ULID.
    pub id: String,
    /// Its `meta.json`.
    pub meta: BlockMeta,
    /// Its deletion mark, if it is marked for deletion.
    pub deletion_mark: Option<DeletionMark>,
    /// The objects under `<id>/`, sorted by key (the mark included).
    pub objects: Vec<ObjectMeta>,
}

impl BucketBlock {
    /// The total size of the block's objects in bytes.
    pub fn size(&self) -> u64 {
        self.objects.iter().map(|o| o.size).sum()
    }
}

/// A block directory without `meta.json`: an upload that has not finished (or never will),
/// or a deletion that has not finished. Never read as a block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartialBlock {
    /// The block's ULID.
    pub id: String,
    /// Its deletion mark, if any (a deletion under way).
    pub deletion_mark: Option<DeletionMark>,
    /// The objects under `<id>/`, sorted by key.
    pub objects: Vec<ObjectMeta>,
}

impl PartialBlock {
    /// When the newest of its objects was written.
    pub fn last_modified(&self) -> SystemTime {
        self.objects
            .iter()
            .map(|o| o.last_modified)
            .max()
            .unwrap_or(SystemTime::UNIX_EPOCH)
    }
}

/// A block whose `meta.json` does not parse: not visible, and not a partial upload either
/// (so [`crate::shipper::clean_partial`] leaves it alone); [`crate::shipper::delete_marked`]
/// removes it once marked.
#[derive(Debug)]
pub struct CorruptBlock {
    /// The block's ULID.
    pub id: String,
    /// Why its `meta.json` does not parse.
    pub error: Error,
    /// Its deletion mark, if any.
    pub deletion_mark: Option<DeletionMark>,
    /// The objects under `<id>/`, sorted by key.
    pub objects: Vec<ObjectMeta>,
}

/// What [`list_blocks`] found.
#[derive(Debug, Default)]
pub struct BucketListing {
    /// Visible blocks (with `meta.json`), sorted by id.
    pub blocks: Vec<BucketBlock>,
    /// Block directories without `meta.json`, sorted by id.
    pub partial: Vec<PartialBlock>,
    /// Blocks whose `meta.json` does not parse, sorted by id.
    pub corrupt: Vec<CorruptBlock>,
}

/// Lists the bucket's blocks: one recursive listing, then a GET of each block's
/// `meta.json` and deletion mark. Top-level keys that are not block directories are
/// ignored. A deletion mark that does not parse is logged and treated as absent
/// ([`crate::shipper::mark_for_deletion`] replaces it).
pub fn list_blocks(bucket: &dyn Bucket) -> Result<BucketListing> {
    let mut by_block: BTreeMap<String, Vec<ObjectMeta>> = BTreeMap::new();
    for object in bucket.list("")? {
        if let Some((dir, _)) = object.key.split_once('/')
            && is_block_id(dir)
        {
            by_block.entry(dir.to_string()).or_default().push(object);
        }
    }
    let mut listing = BucketListing::default();
    for (id, objects) in by_block {
        let has = |file: &str| objects.iter().any(|o| o.key == format!("{id}/{file}"));
        let deletion_mark = if has(DELETION_MARK_FILE) {
            read_mark(bucket, &id)?
        } else {
            None
        };
        let meta_bytes = if has(META_FILE) {
            bucket.get(&format!("{id}/{META_FILE}"))?
        } else {
            None
        };
        let Some(meta_bytes) = meta_bytes else {
            listing.partial.push(PartialBlock {
                id,
                deletion_mark,
                objects,
            });
            continue;
        };
        let key = format!("{id}/{META_FILE}");
        match parse_block_meta(&id, &meta_bytes, &key) {
            Ok(meta) => listing.blocks.push(BucketBlock {
                id,
                meta,
                deletion_mark,
                objects,
            }),
            Err(error) => listing.corrupt.push(CorruptBlock {
                id,
                error,
                deletion_mark,
                objects,
            }),
        }
    }
    Ok(listing)
}

/// Reads a block's deletion mark; `None` when there is none or it does not parse (logged).
pub(crate) fn read_mark(bucket: &dyn Bucket, id: &str) -> Result<Option<DeletionMark>> {
    let key = format!("{id}/{DELETION_MARK_FILE}");
    let Some(bytes) = bucket.get(&key)? else {
        return Ok(None);
    };
    match DeletionMark::parse(id, &bytes, &key) {
        Ok(m) => Ok(Some(m)),
        Err(error) => {
            tracing::warn!(block = id, %error, "ignoring a deletion mark that does not parse");
            Ok(None)
        }
    }
}
