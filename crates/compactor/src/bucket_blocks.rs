//! Blocks that live only in the bucket, served through a local cache
//! (`docs/format/bucket.md`, "Reading blocks from the bucket").
//!
//! [`BucketBlocks`] turns a bucket block into a read-only [`tsdb::Block`] that
//! [`tsdb::Db::set_remote_blocks`] serves next to the local blocks and the head:
//!
//! * **Index**: downloaded once into `<cache_dir>/<ulid>/index` (ranged GETs into
//!   `index.tmp`, size checked against the object's, fsync, rename) and mmapped; a later
//!   open, also after a restart, maps the cached file without any request. A cached index
//!   that does not parse is downloaded again once.
//! * **Chunks**: read by ranged GET (`chunks.rs`): the sizes of the segment objects come from
//!   the listing, a chunk read fetches the aligned page(s) holding it, and the pages stay in
//!   one LRU of bounded size shared by every bucket block (`cache.rs`). Records are checked
//!   (bounds, CRC) by the same parser as the mmap reader.
//! * **Tombstones**: fetched with the block (absent means none).
//!
//! [`BucketBlocks::sync`] keeps the set of served blocks in step with a
//! [`BucketListing`]: visible blocks that are not marked for deletion and not local are
//! opened (or kept, when already open), the others are dropped with their cache
//! directories. A block that fails to open is reported and the others are served.
//!
//! Errors name the block and the object: opening fails with [`Error::BucketBlock`] or
//! [`Error::MissingObject`]; a chunk read fails with a [`tsdb::Error::Corruption`] whose
//! path is the object key (`<ulid>/chunks/000001`), or a [`tsdb::Error::Bucket`] naming it.
//! A bucket block's [`Block::dir`] is the relative path `<ulid>`, so the index reader's
//! errors name `<ulid>/index`, the object's key.

mod cache;
mod chunks;

use std::collections::{BTreeMap, HashSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;
use tsdb::block::{Block, BlockMeta, Ulid};
use tsdb::bucket::{Bucket, ObjectMeta};
use tsdb::bytes::SharedBytes;
use tsdb::fileutil::mmap::Mmap;
use tsdb::tombstones::Tombstones;

use crate::error::{Error, Result};
use crate::shipper::{BucketBlock, BucketListing};

use cache::PageCache;
use chunks::{BucketChunks, SegmentObject};

/// The name of the cached index file in `<cache_dir>/<ulid>/`.
pub const INDEX_FILE: &str = "index";
/// The temporary name an index is downloaded to before the rename.
pub const INDEX_TMP_FILE: &str = "index.tmp";

/// Sizes of the bucket block reader's caches and reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketBlocksOptions {
    /// The most bytes of chunk pages kept in memory, over all bucket blocks.
    pub cache_bytes: u64,
    /// The size (and alignment) of one ranged chunk read; a chunk longer than the rest of
    /// its page reads the following pages too.
    pub page_size: u64,
    /// The size of one ranged GET while downloading an index (bounds the memory a
    /// download needs).
    pub index_part_size: u64,
}

impl Default for BucketBlocksOptions {
    fn default() -> Self {
        BucketBlocksOptions {
            cache_bytes: 256 << 20,
            page_size: 64 << 10,
            index_part_size: 16 << 20,
        }
    }
}

impl BucketBlocksOptions {
    /// Checks the sizes: pages of 64 B to 64 MiB (a page must hold a segment header), index
    /// parts of at least 1 byte.
    pub fn validate(&self) -> Result<()> {
        if !(64..=64 << 20).contains(&self.page_size) {
            return Err(Error::InvalidOptions {
                name: "page_size",
                reason: format!("{} is not between 64 B and 64 MiB", self.page_size),
            });
        }
        if self.index_part_size == 0 {
            return Err(Error::InvalidOptions {
                name: "index_part_size",
                reason: "must be positive".into(),
            });
        }
        Ok(())
    }
}

/// Counters shared by the reader and its chunk sources.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) gets: AtomicU64,
    pub(crate) range_gets: AtomicU64,
    pub(crate) lists: AtomicU64,
    pub(crate) bytes_fetched: AtomicU64,
    pub(crate) index_downloads: AtomicU64,
    pub(crate) index_cache_hits: AtomicU64,
    pub(crate) cache_hits: AtomicU64,
    pub(crate) cache_misses: AtomicU64,
    pub(crate) evictions: AtomicU64,
    pub(crate) cache_peak_bytes: AtomicU64,
}

/// What the bucket block reader has done since it was made: counters for metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BucketReadStats {
    /// Whole-object GETs (tombstones).
    pub gets: u64,
    /// Ranged GETs (index download parts and chunk pages).
    pub range_gets: u64,
    /// Listings (one per [`BucketBlocks::open`]; none for blocks opened from a listing).
    pub lists: u64,
    /// Bytes received from the bucket.
    pub bytes_fetched: u64,
    /// Indexes downloaded.
    pub index_downloads: u64,
    /// Indexes found in the cache directory (no request).
    pub index_cache_hits: u64,
    /// Chunk page lookups answered by the page cache.
    pub cache_hits: u64,
    /// Chunk page lookups that needed a ranged GET.
    pub cache_misses: u64,
    /// Pages evicted to keep the cache within its bound.
    pub evictions: u64,
    /// Bytes of pages cached now.
    pub cache_bytes: u64,
    /// Pages cached now.
    pub cache_pages: u64,
    /// The most bytes the cache ever held (never above `cache_bytes` of the options).
    pub cache_peak_bytes: u64,
}

/// What one [`BucketBlocks::sync`] did.
#[derive(Debug, Default)]
pub struct BucketSync {
    /// Every block to serve from the bucket now (pass to [`tsdb::Db::set_remote_blocks`]),
    /// sorted by ULID.
    pub blocks: Vec<Block>,
    /// Blocks opened by this sync.
    pub opened: Vec<Ulid>,
    /// Blocks no longer served (gone, marked for deletion, or now local), whose cache
    /// directories were removed.
    pub dropped: Vec<Ulid>,
    /// Blocks that should be served but could not be opened (a later sync tries again),
    /// and cache directories that could not be removed.
    pub failed: Vec<(Ulid, Error)>,
}

/// Serves blocks from a bucket through a local cache; see the module documentation.
#[derive(Debug)]
pub struct BucketBlocks {
    bucket: Arc<dyn Bucket>,
    cache_dir: PathBuf,
    options: BucketBlocksOptions,
    cache: Arc<PageCache>,
    counters: Arc<Counters>,
    /// The blocks [`BucketBlocks::sync`] serves; the lock also serialises syncs.
    open: Mutex<BTreeMap<Ulid, Block>>,
    /// Serialises index lookups and downloads, so two opens of one block (a sync and an
    /// [`BucketBlocks::open`]) never write the same `index.tmp`.
    index_lock: Mutex<()>,
}

impl BucketBlocks {
    /// A reader of `bucket`'s blocks caching indexes under `cache_dir` (created if missing).
    pub fn new(
        bucket: Arc<dyn Bucket>,
        cache_dir: PathBuf,
        options: BucketBlocksOptions,
    ) -> Result<BucketBlocks> {
        options.validate()?;
        std::fs::create_dir_all(&cache_dir)
            .map_err(|e| tsdb::Error::io("create dir", &cache_dir, e))?;
        let counters = Arc::new(Counters::default());
        Ok(BucketBlocks {
            bucket,
            cache: Arc::new(PageCache::new(options.cache_bytes, Arc::clone(&counters))),
            cache_dir,
            options,
            counters,
            open: Mutex::default(),
            index_lock: Mutex::default(),
        })
    }

    /// The cache directory.
    pub fn cache_dir(&self) -> &Path {
        &self.cache_dir
    }

    /// The counters so far.
    pub fn stats(&self) -> BucketReadStats {
        let c = &self.counters;
        let (cache_bytes, cache_pages) = self.cache.usage();
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        BucketReadStats {
            gets: get(&c.gets),
            range_gets: get(&c.range_gets),
            lists: get(&c.lists),
            bytes_fetched: get(&c.bytes_fetched),
            index_downloads: get(&c.index_downloads),
            index_cache_hits: get(&c.index_cache_hits),
            cache_hits: get(&c.cache_hits),
            cache_misses: get(&c.cache_misses),
            evictions: get(&c.evictions),
            cache_bytes,
            cache_pages,
            cache_peak_bytes: get(&c.cache_peak_bytes),
        }
    }

    /// The blocks the last [`BucketBlocks::sync`] left open, sorted by ULID.
    pub fn blocks(&self) -> Vec<Block> {
        self.open.lock().values().cloned().collect()
    }

    /// Opens the bucket block `meta` describes: one listing of `<ulid>/`, then as
    /// [`BucketBlocks::open_listed`]. Always builds a new [`Block`] (sharing the page cache
    /// and the cached index file); [`BucketBlocks::sync`] keeps blocks open.
    pub fn open(&self, meta: &BlockMeta) -> Result<Block> {
        let prefix = meta.ulid.to_string();
        let objects = self
            .bucket
            .list(&prefix)
            .map_err(|e| bucket_block_error(meta.ulid, format!("{prefix}/"), e))?;
        self.counters.lists.fetch_add(1, Ordering::Relaxed);
        self.open_objects(meta, &objects)
    }

    /// Opens a block of a [`crate::shipper::list_blocks`] listing, whose objects (and their
    /// sizes) are known, without listing again.
    pub fn open_listed(&self, block: &BucketBlock) -> Result<Block> {
        self.open_objects(&block.meta, &block.objects)
    }

    /// Brings the served set in step with `listing`: visible blocks that are neither
    /// marked for deletion nor in `local` are served (kept open when they already are);
    /// the others are dropped, their pages evicted and their cache directories (and any
    /// other `<ulid>` directory in the cache directory that is not to be served) removed.
    /// A block that fails to open is in [`BucketSync::failed`] and does not stop the others.
    pub fn sync(&self, listing: &BucketListing, local: &HashSet<Ulid>) -> Result<BucketSync> {
        let want: BTreeMap<Ulid, &BucketBlock> = listing
            .blocks
            .iter()
            .filter(|b| b.deletion_mark.is_none() && !local.contains(&b.meta.ulid))
            .map(|b| (b.meta.ulid, b))
            .collect();
        let mut open = self.open.lock();
        let mut out = BucketSync::default();
        let gone: Vec<Ulid> = open
            .keys()
            .filter(|u| !want.contains_key(u))
            .copied()
            .collect();
        for ulid in gone {
            open.remove(&ulid);
            self.cache.remove_block(ulid);
            out.dropped.push(ulid);
        }
        for (&ulid, block) in &want {
            if open.contains_key(&ulid) {
                continue;
            }
            match self.open_listed(block) {
                Ok(b) => {
                    open.insert(ulid, b);
                    out.opened.push(ulid);
                }
                Err(e) => out.failed.push((ulid, e)),
            }
        }
        // Cache directories of blocks not served: those dropped now, and leftovers from
        // before a restart. Served blocks that failed keep theirs for the next try.
        let entries = std::fs::read_dir(&self.cache_dir)
            .map_err(|e| tsdb::Error::io("read dir", &self.cache_dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| tsdb::Error::io("read dir", &self.cache_dir, e))?;
            let Some(ulid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
                continue;
            };
            if want.contains_key(&ulid) {
                continue;
            }
            if let Err(e) = std::fs::remove_dir_all(entry.path()) {
                out.failed
                    .push((ulid, tsdb::Error::io("remove dir", entry.path(), e).into()));
            }
        }
        out.blocks = open.values().cloned().collect();
        Ok(out)
    }

    fn open_objects(&self, meta: &BlockMeta, objects: &[ObjectMeta]) -> Result<Block> {
        let ulid = meta.ulid;
        let size_of = |key: &str| objects.iter().find(|o| o.key == key).map(|o| o.size);
        let index_key = format!("{ulid}/{}", tsdb::index::FILENAME);
        let Some(index_size) = size_of(&index_key) else {
            return Err(Error::MissingObject {
                block: ulid,
                key: index_key,
            });
        };
        let segments = segment_objects(meta, objects)?;
        let tombstones = self.tombstones(ulid, size_of(&tombstones_key(ulid)).is_some())?;
        let chunks = Arc::new(BucketChunks::new(
            ulid,
            Arc::clone(&self.bucket),
            segments,
            self.options.page_size,
            Arc::clone(&self.cache),
            Arc::clone(&self.counters),
        ));
        let dir = PathBuf::from(ulid.to_string());
        let build = |index: SharedBytes| {
            Block::from_parts(
                dir.clone(),
                meta.clone(),
                index,
                Arc::clone(&chunks) as Arc<dyn tsdb::block::ChunkSource>,
                tombstones.clone(),
            )
        };
        let (index, cached) = self.index(ulid, &index_key, index_size, false)?;
        match build(index) {
            Ok(block) => Ok(block),
            Err(_) if cached => {
                // The cached copy may be what is damaged: fetch it once more.
                let (index, _) = self.index(ulid, &index_key, index_size, true)?;
                build(index).map_err(|e| self.discard_index(ulid, index_key, e))
            }
            Err(e) => Err(self.discard_index(ulid, index_key, e)),
        }
    }

    /// Removes a cached index that does not parse (so a fixed object is fetched next
    /// time) and returns the error naming block and object.
    fn discard_index(&self, ulid: Ulid, key: String, e: tsdb::Error) -> Error {
        let _ = std::fs::remove_file(self.block_cache_dir(ulid).join(INDEX_FILE));
        bucket_block_error(ulid, key, e)
    }

    fn block_cache_dir(&self, ulid: Ulid) -> PathBuf {
        self.cache_dir.join(ulid.to_string())
    }

    /// The block's tombstones: fetched when the listing has the object, none otherwise.
    fn tombstones(&self, ulid: Ulid, listed: bool) -> Result<Tombstones> {
        if !listed {
            return Ok(Tombstones::new());
        }
        let key = tombstones_key(ulid);
        let bytes = self
            .bucket
            .get(&key)
            .map_err(|e| bucket_block_error(ulid, key.clone(), e))?;
        self.counters.gets.fetch_add(1, Ordering::Relaxed);
        let Some(bytes) = bytes else {
            return Ok(Tombstones::new());
        };
        self.counters
            .bytes_fetched
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        Tombstones::decode(&bytes, Path::new(&key)).map_err(|e| bucket_block_error(ulid, key, e))
    }

    /// The mapped index: the cached file when its size is the object's (and `refetch` is
    /// not set), else downloaded first. Also says whether it came from the cache.
    fn index(
        &self,
        ulid: Ulid,
        key: &str,
        size: u64,
        refetch: bool,
    ) -> Result<(SharedBytes, bool)> {
        let err = |e: tsdb::Error| bucket_block_error(ulid, key.to_string(), e);
        let _guard = self.index_lock.lock();
        let dir = self.block_cache_dir(ulid);
        let path = dir.join(INDEX_FILE);
        if !refetch && std::fs::metadata(&path).is_ok_and(|m| m.len() == size) {
            let map = Mmap::open(&path).map_err(err)?;
            self.counters
                .index_cache_hits
                .fetch_add(1, Ordering::Relaxed);
            return Ok((Arc::new(map), true));
        }
        self.download_index(key, size, &dir).map_err(err)?;
        self.counters
            .index_downloads
            .fetch_add(1, Ordering::Relaxed);
        Ok((Arc::new(Mmap::open(&path).map_err(err)?), false))
    }

    /// Downloads `key` (of `size` bytes) to `<dir>/index.tmp` in ranged parts, checks the
    /// size, fsyncs, and renames it to `<dir>/index`. The file is never changed after the
    /// rename, which is what mapping it requires (`tsdb::fileutil::mmap`).
    fn download_index(&self, key: &str, size: u64, dir: &Path) -> tsdb::Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| tsdb::Error::io("create dir", dir, e))?;
        let tmp = dir.join(INDEX_TMP_FILE);
        let io = |op, e| tsdb::Error::io(op, &tmp, e);
        let mut file = std::fs::File::create(&tmp).map_err(|e| io("create", e))?;
        let mut at = 0;
        while at < size {
            let end = size.min(at + self.options.index_part_size);
            let part = self.bucket.get_range(key, at..end)?;
            self.counters.range_gets.fetch_add(1, Ordering::Relaxed);
            self.counters
                .bytes_fetched
                .fetch_add(part.len() as u64, Ordering::Relaxed);
            if part.len() as u64 != end - at {
                return Err(tsdb::Error::corruption(
                    key,
                    at,
                    format!("ranged read of {at}..{end} returned {} bytes", part.len()),
                ));
            }
            file.write_all(&part).map_err(|e| io("write", e))?;
            at = end;
        }
        file.sync_all().map_err(|e| io("fsync", e))?;
        let written = file.metadata().map_err(|e| io("stat", e))?.len();
        if written != size {
            return Err(tsdb::Error::corruption(
                &tmp,
                written,
                format!("downloaded {written} bytes, the object has {size}"),
            ));
        }
        drop(file);
        let path = dir.join(INDEX_FILE);
        std::fs::rename(&tmp, &path).map_err(|e| io("rename", e))?;
        tsdb::fileutil::fsync_dir(dir)
    }
}

fn tombstones_key(ulid: Ulid) -> String {
    format!("{ulid}/{}", tsdb::tombstones::FILENAME)
}

fn bucket_block_error(block: Ulid, key: String, source: tsdb::Error) -> Error {
    Error::BucketBlock {
        block,
        key,
        source: Box::new(source),
    }
}

/// The block's chunk segment objects in index order (`chunks/000001` is index 0), which
/// must be numbered 1, 2, ... without gaps; none only for a block without chunks.
fn segment_objects(meta: &BlockMeta, objects: &[ObjectMeta]) -> Result<Vec<SegmentObject>> {
    let ulid = meta.ulid;
    let prefix = format!("{ulid}/{}/", tsdb::chunks::DIR_NAME);
    let mut numbered: Vec<(u64, &ObjectMeta)> = objects
        .iter()
        .filter_map(|o| {
            let name = o.key.strip_prefix(&prefix)?;
            Some((name.parse::<u64>().ok()?, o))
        })
        .collect();
    numbered.sort_by_key(|(n, _)| *n);
    for (i, (n, _)) in numbered.iter().enumerate() {
        if *n != i as u64 + 1 {
            return Err(Error::MissingObject {
                block: ulid,
                key: format!("{prefix}{}", tsdb::chunks::segment_name(i)),
            });
        }
    }
    if numbered.is_empty() && meta.stats.num_chunks > 0 {
        return Err(Error::MissingObject {
            block: ulid,
            key: format!("{prefix}{}", tsdb::chunks::segment_name(0)),
        });
    }
    Ok(numbered
        .into_iter()
        .map(|(_, o)| SegmentObject {
            key: o.key.clone(),
            size: o.size,
        })
        .collect())
}
