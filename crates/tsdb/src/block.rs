//! Persistent blocks: an immutable directory of samples over a time range, in
//! Prometheus's format.
//!
//! ```text
//! <ulid>/
//!   meta.json        BlockMeta: ULID, [minTime, maxTime), stats, compaction   (meta)
//!   index            symbols, series with chunk metas, postings                (crate::index)
//!   chunks/000001…   XOR chunks                                                 (crate::chunks)
//!   tombstones       deleted intervals per series                               (crate::tombstones)
//! ```
//!
//! * [`BlockWriter`] streams series into `<ulid>.tmp-for-creation/` and renames the
//!   finished, fsynced directory into place.
//! * [`Block`] opens a block (or is built from parts, for a bucket-backed block: index
//!   bytes fetched once, chunks through a [`ChunkSource`]) and implements
//!   [`Queryable`](crate::storage::Queryable) through [`BlockQuerier`].
//! * [`ChunkSeriesReader`] streams every series of a block with its chunks and
//!   tombstones, one at a time, for compaction and tools.
//! * [`Block::delete`] adds tombstones.
//! * [`compact()`] merges blocks into one, streaming, and [`rewrite`] drops a block's
//!   deleted samples.
//! * [`verify`] checks a block offline and reports every problem it finds.
//!
//! Readers never trust the bytes: every bounds or CRC failure is an error naming the file
//! (whose path holds the block's ULID) and the offset.

mod compact;
mod delete;
pub mod meta;
mod querier;
mod series;
pub mod verify;
mod writer;

use std::fmt::Debug;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

use crate::bytes::SharedBytes;
use crate::chunks::{self, Chunk};
use crate::error::Result;
use crate::fileutil::mmap::Mmap;
use crate::index;
use crate::tombstones::Tombstones;

pub use compact::{CompactStats, Compacted, MAX_SAMPLES_PER_MERGED_CHUNK, compact, rewrite};
pub use meta::{BlockDesc, BlockMeta, BlockStats, Compaction};
pub use querier::BlockQuerier;
pub use series::{BlockChunk, ChunkSeries, ChunkSeriesReader};
pub use ulid::Ulid;
pub use writer::BlockWriter;

/// The suffix of a block directory being written.
pub const TMP_FOR_CREATION: &str = ".tmp-for-creation";
/// The suffix of a block directory being deleted.
pub const TMP_FOR_DELETION: &str = ".tmp-for-deletion";

/// One chunk handed to [`BlockWriter::add_series`].
#[derive(Debug, Clone, Copy)]
pub struct ChunkMeta<'a> {
    /// Timestamp of the first sample.
    pub min_t: i64,
    /// Timestamp of the last sample (inclusive).
    pub max_t: i64,
    /// The XOR chunk, as [`crate::chunkenc::XorAppender::bytes`] produces it.
    pub data: &'a [u8],
}

/// Where a block's chunks come from: its mmapped segment files ([`chunks::Reader`]), or
/// a bucket through a cache.
pub trait ChunkSource: Send + Sync + Debug {
    /// The chunk at `chunk_ref` (`segment index << 32 | offset`), its bounds and CRC
    /// checked.
    fn chunk(&self, chunk_ref: u64) -> Result<Chunk>;
}

impl ChunkSource for chunks::Reader {
    fn chunk(&self, chunk_ref: u64) -> Result<Chunk> {
        chunks::Reader::chunk(self, chunk_ref)
    }
}

#[derive(Debug)]
struct Inner {
    /// The block directory (or, for a bucket-backed block, the path errors name).
    dir: PathBuf,
    /// Whether the block lives in a local directory that [`Block::delete`] may update.
    writable: bool,
    meta: RwLock<BlockMeta>,
    index: index::Reader,
    chunks: Arc<dyn ChunkSource>,
    tombstones: RwLock<Arc<Tombstones>>,
    /// Serialises [`Block::delete`] calls.
    delete_lock: Mutex<()>,
}

/// An open block; cheap to clone (a reference count).
#[derive(Debug, Clone)]
pub struct Block {
    inner: Arc<Inner>,
}

impl Block {
    /// Opens the block in `dir`: reads `meta.json` and `tombstones`, maps `index` and
    /// every chunk segment, and checks their headers and the index's tables.
    pub fn open(dir: &Path) -> Result<Block> {
        let meta = BlockMeta::read(dir)?;
        let index_path = dir.join(index::FILENAME);
        let index: SharedBytes = Arc::new(Mmap::open(&index_path)?);
        let index = index::Reader::new(index, index_path)?;
        let chunks = chunks::Reader::open(&dir.join(chunks::DIR_NAME))?;
        let tombstones = Tombstones::read(dir)?;
        Ok(Block::build(
            dir.to_path_buf(),
            true,
            meta,
            index,
            Arc::new(chunks),
            tombstones,
        ))
    }

    /// A read-only block from parts fetched elsewhere (a bucket): the parsed `meta.json`,
    /// the whole `index` file, a chunk source and the tombstones. `dir` is what errors
    /// name; make it end in the block's ULID.
    pub fn from_parts(
        dir: PathBuf,
        meta: BlockMeta,
        index: SharedBytes,
        chunks: Arc<dyn ChunkSource>,
        tombstones: Tombstones,
    ) -> Result<Block> {
        let index = index::Reader::new(index, dir.join(index::FILENAME))?;
        Ok(Block::build(dir, false, meta, index, chunks, tombstones))
    }

    fn build(
        dir: PathBuf,
        writable: bool,
        meta: BlockMeta,
        index: index::Reader,
        chunks: Arc<dyn ChunkSource>,
        tombstones: Tombstones,
    ) -> Block {
        Block {
            inner: Arc::new(Inner {
                dir,
                writable,
                meta: RwLock::new(meta),
                index,
                chunks,
                tombstones: RwLock::new(Arc::new(tombstones)),
                delete_lock: Mutex::new(()),
            }),
        }
    }

    /// The block directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// A copy of the block's metadata (its tombstone count changes with deletes).
    pub fn meta(&self) -> BlockMeta {
        self.inner.meta.read().clone()
    }

    /// The block's id.
    pub fn ulid(&self) -> Ulid {
        self.inner.meta.read().ulid
    }

    /// The first timestamp covered (inclusive).
    pub fn min_time(&self) -> i64 {
        self.inner.meta.read().min_time
    }

    /// The end of the range covered (exclusive).
    pub fn max_time(&self) -> i64 {
        self.inner.meta.read().max_time
    }

    /// Whether the block's `[minTime, maxTime)` meets the closed range `[mint, maxt]`.
    pub fn overlaps(&self, mint: i64, maxt: i64) -> bool {
        let m = self.inner.meta.read();
        m.min_time <= maxt && mint < m.max_time
    }

    /// The block's index.
    pub fn index(&self) -> &index::Reader {
        &self.inner.index
    }

    /// The block's chunks.
    pub fn chunk_source(&self) -> &Arc<dyn ChunkSource> {
        &self.inner.chunks
    }

    /// The block's current tombstones.
    pub fn tombstones(&self) -> Arc<Tombstones> {
        Arc::clone(&self.inner.tombstones.read())
    }

    /// A querier over `[mint, maxt]` (closed).
    pub fn block_querier(&self, mint: i64, maxt: i64) -> BlockQuerier {
        BlockQuerier::new(self.clone(), mint, maxt)
    }

    /// Every series of the block in label order, with its chunks and tombstones.
    pub fn chunk_series(&self) -> Result<ChunkSeriesReader> {
        ChunkSeriesReader::new(self.clone())
    }
}

impl crate::storage::Queryable for Block {
    fn querier(&self, mint: i64, maxt: i64) -> Result<Box<dyn crate::storage::Querier + '_>> {
        Ok(Box::new(self.block_querier(mint, maxt)))
    }
}
