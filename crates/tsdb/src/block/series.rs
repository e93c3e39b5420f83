//! [`ChunkSeriesReader`]: every series of a block with its encoded chunks and tombstones,
//! one series at a time, for compaction and tools.

use std::sync::Arc;

use super::{Block, ChunkMeta};
use crate::bytes::SharedSlice;
use crate::error::Result;
use crate::index::SeriesEntry;
use crate::index::reader::SymbolCache;
use crate::labels::Labels;
use crate::tombstones::Tombstones;

/// One chunk of a [`ChunkSeries`].
#[derive(Debug, Clone)]
pub struct BlockChunk {
    /// Timestamp of the first sample.
    pub min_t: i64,
    /// Timestamp of the last sample (inclusive).
    pub max_t: i64,
    /// The chunk's reference in the block.
    pub chunk_ref: u64,
    /// The encoding byte (1 = XOR).
    pub encoding: u8,
    /// The encoded chunk (CRC checked), sharing the block's bytes.
    pub data: SharedSlice,
}

/// A series of a block with all its chunks, whatever the tombstones say, and its deleted
/// intervals (to be applied by whoever rewrites it).
#[derive(Debug, Clone)]
pub struct ChunkSeries {
    /// The series id in the block's index.
    pub id: u32,
    /// The series' labels.
    pub labels: Labels,
    /// Its chunks, time-ordered.
    pub chunks: Vec<BlockChunk>,
    /// Its deleted intervals (closed, sorted, disjoint).
    pub deleted: Vec<(i64, i64)>,
}

impl ChunkSeries {
    /// The chunks as [`ChunkMeta`]s for [`super::BlockWriter::add_series`].
    pub fn chunk_metas(&self) -> Vec<ChunkMeta<'_>> {
        self.chunks
            .iter()
            .map(|c| ChunkMeta {
                min_t: c.min_t,
                max_t: c.max_t,
                data: &c.data,
            })
            .collect()
    }
}

/// Iterates a block's series in label order; see [`Block::chunk_series`].
///
/// Holds the list of series ids and one series at a time, so memory does not grow with
/// the block. An error ends the iteration.
pub struct ChunkSeriesReader {
    block: Block,
    ids: roaring::bitmap::IntoIter,
    tombstones: Arc<Tombstones>,
    cache: SymbolCache,
    entry: SeriesEntry,
    done: bool,
}

impl std::fmt::Debug for ChunkSeriesReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChunkSeriesReader")
            .field("block", &self.block.dir())
            .field("remaining", &self.ids.size_hint().0)
            .finish_non_exhaustive()
    }
}

impl ChunkSeriesReader {
    pub(super) fn new(block: Block) -> Result<ChunkSeriesReader> {
        let ids = block.index().all_series()?;
        let tombstones = block.tombstones();
        Ok(ChunkSeriesReader {
            block,
            ids: ids.into_iter(),
            tombstones,
            cache: SymbolCache::new(),
            entry: SeriesEntry::default(),
            done: false,
        })
    }

    fn read(&mut self, id: u32) -> Result<ChunkSeries> {
        let index = self.block.index();
        index.series_into(id, &mut self.entry)?;
        let labels = index.labels(&self.entry.labels, &mut self.cache)?;
        let mut chunks = Vec::with_capacity(self.entry.chunks.len());
        for c in &self.entry.chunks {
            let chunk = self.block.chunk_source().chunk(c.chunk_ref)?;
            chunks.push(BlockChunk {
                min_t: c.min_t,
                max_t: c.max_t,
                chunk_ref: c.chunk_ref,
                encoding: chunk.encoding,
                data: chunk.data,
            });
        }
        Ok(ChunkSeries {
            id,
            labels,
            chunks,
            deleted: self.tombstones.get(u64::from(id)).to_vec(),
        })
    }
}

impl Iterator for ChunkSeriesReader {
    type Item = Result<ChunkSeries>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let id = self.ids.next()?;
        let r = self.read(id);
        self.done = r.is_err();
        Some(r)
    }
}
