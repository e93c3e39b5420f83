//! [`BlockQuerier`]: a block read through the storage traits.
//!
//! A select evaluates the matchers on the index's postings, then decodes the selected
//! series lazily, one per `next()`, in series-id order, which is label order. Only chunks
//! overlapping the query range and not wholly deleted are fetched (bounds and CRC checked);
//! samples are iterated by the head's [`ChunkSeriesIterator`], which trims them to the
//! range and skips deleted intervals. Series own their labels and share their chunk bytes
//! with the block's maps, so they are `'static`.

use std::sync::Arc;

use roaring::RoaringBitmap;

use super::Block;
use crate::chunkenc::{Encoding, SampleIterator};
use crate::chunks;
use crate::error::{Error, Result};
use crate::head::read::{ChunkBytes, ChunkData, ChunkSeriesIterator, read_chunk_floats};
use crate::index::SeriesEntry;
use crate::index::postings::{
    label_names_for_matchers, label_values_for_matchers, postings_for_matchers,
};
use crate::index::reader::SymbolCache;
use crate::labels::{Labels, Matcher, Symbol};
use crate::storage::{LabelHints, Querier, SelectHints, Series, SeriesSet};
use crate::tombstones::{Tombstones, add_interval};

/// A querier over one block for samples in `[mint, maxt]`.
#[derive(Debug)]
pub struct BlockQuerier {
    block: Block,
    mint: i64,
    maxt: i64,
    /// The tombstones when the querier was made; later deletes do not change its answers.
    tombstones: Arc<Tombstones>,
}

impl BlockQuerier {
    pub(super) fn new(block: Block, mint: i64, maxt: i64) -> Self {
        let tombstones = block.tombstones();
        BlockQuerier {
            block,
            mint,
            maxt,
            tombstones,
        }
    }

    /// The selected series ids, in label order.
    fn postings(&self, matchers: &[Matcher]) -> Result<RoaringBitmap> {
        postings_for_matchers(self.block.index(), matchers)
    }
}

impl Querier for BlockQuerier {
    fn select(
        &self,
        _sort: bool,
        hints: Option<&SelectHints>,
        matchers: &[Matcher],
    ) -> Result<Box<dyn SeriesSet>> {
        // The hints narrow the range chunks are fetched and samples iterated for.
        let (mint, maxt) = match hints {
            Some(h) => (self.mint.max(h.start), self.maxt.min(h.end)),
            None => (self.mint, self.maxt),
        };
        let ids = if mint <= maxt && self.block.overlaps(mint, maxt) {
            self.postings(matchers)?
        } else {
            RoaringBitmap::new()
        };
        Ok(Box::new(BlockSeriesSet {
            block: self.block.clone(),
            ids: ids.into_iter(),
            mint,
            maxt,
            tombstones: Arc::clone(&self.tombstones),
            limit: hints.map_or(0, |h| h.limit),
            returned: 0,
            cache: SymbolCache::new(),
            entry: SeriesEntry::default(),
            done: false,
        }))
    }

    fn label_values(
        &self,
        name: &str,
        hints: &LabelHints,
        matchers: &[Matcher],
    ) -> Result<Vec<Symbol>> {
        if !self.block.overlaps(self.mint, self.maxt) {
            return Ok(Vec::new());
        }
        let mut values = label_values_for_matchers(self.block.index(), name, matchers)?;
        if hints.limit > 0 {
            values.truncate(hints.limit);
        }
        Ok(values)
    }

    fn label_names(&self, hints: &LabelHints, matchers: &[Matcher]) -> Result<Vec<Symbol>> {
        if !self.block.overlaps(self.mint, self.maxt) {
            return Ok(Vec::new());
        }
        let mut names = label_names_for_matchers(self.block.index(), matchers)?;
        names.retain(|n| !n.is_empty());
        if hints.limit > 0 {
            names.truncate(hints.limit);
        }
        Ok(names)
    }
}

/// The series of one select, decoded as they are asked for.
struct BlockSeriesSet {
    block: Block,
    ids: roaring::bitmap::IntoIter,
    mint: i64,
    maxt: i64,
    tombstones: Arc<Tombstones>,
    limit: usize,
    returned: usize,
    cache: SymbolCache,
    entry: SeriesEntry,
    done: bool,
}

/// Whether `[min_t, max_t]` lies inside one of the merged intervals `deleted`.
fn wholly_deleted(deleted: &[(i64, i64)], min_t: i64, max_t: i64) -> bool {
    deleted.iter().any(|&(a, b)| a <= min_t && max_t <= b)
}

/// A series' deleted intervals plus everything outside `[mint, maxt]`, merged: a chunk
/// inside one of them has no sample to return (Prometheus's trimming of `blockBaseSeriesSet`).
fn hidden_intervals(deleted: &[(i64, i64)], mint: i64, maxt: i64) -> Vec<(i64, i64)> {
    let mut out = deleted.to_vec();
    if mint > i64::MIN {
        add_interval(&mut out, i64::MIN, mint - 1);
    }
    if maxt < i64::MAX {
        add_interval(&mut out, maxt + 1, i64::MAX);
    }
    out
}

impl BlockSeriesSet {
    /// The next series with a chunk in range, or `None` at the end.
    fn next_series(&mut self) -> Result<Option<BlockSeries>> {
        let index = self.block.index();
        for id in self.ids.by_ref() {
            index.series_into(id, &mut self.entry)?;
            let deleted = self.tombstones.get(u64::from(id));
            let hidden = if deleted.is_empty() {
                Vec::new()
            } else {
                hidden_intervals(deleted, self.mint, self.maxt)
            };
            let mut chunks = Vec::new();
            for c in &self.entry.chunks {
                if c.max_t < self.mint
                    || c.min_t > self.maxt
                    || wholly_deleted(&hidden, c.min_t, c.max_t)
                {
                    continue;
                }
                let chunk = self.block.chunk_source().chunk(c.chunk_ref)?;
                if chunk.encoding != Encoding::Xor as u8 {
                    let (seg, _) = chunks::split_ref(c.chunk_ref);
                    return Err(Error::UnsupportedChunkEncoding {
                        path: self
                            .block
                            .dir()
                            .join(chunks::DIR_NAME)
                            .join(chunks::segment_name(seg as usize)),
                        chunk_ref: c.chunk_ref,
                        encoding: chunk.encoding,
                    });
                }
                chunks.push(ChunkData {
                    min_t: c.min_t,
                    max_t: c.max_t,
                    data: ChunkBytes::Slice(chunk.data),
                });
            }
            if chunks.is_empty() {
                continue;
            }
            let labels = index.labels(&self.entry.labels, &mut self.cache)?;
            return Ok(Some(BlockSeries {
                labels,
                chunks,
                deleted: deleted.to_vec(),
                mint: self.mint,
                maxt: self.maxt,
            }));
        }
        Ok(None)
    }
}

impl Iterator for BlockSeriesSet {
    type Item = Result<Box<dyn Series>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || (self.limit > 0 && self.returned >= self.limit) {
            return None;
        }
        match self.next_series() {
            Ok(Some(s)) => {
                self.returned += 1;
                Some(Ok(Box::new(s)))
            }
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

impl SeriesSet for BlockSeriesSet {}

/// A series selected from a block.
#[derive(Debug)]
struct BlockSeries {
    labels: Labels,
    chunks: Vec<ChunkData>,
    deleted: Vec<(i64, i64)>,
    mint: i64,
    maxt: i64,
}

impl Series for BlockSeries {
    fn labels(&self) -> &Labels {
        &self.labels
    }

    fn iterator(&self) -> Box<dyn SampleIterator + Send + '_> {
        Box::new(ChunkSeriesIterator::new(
            &self.chunks,
            &[],
            self.mint,
            self.maxt,
            &self.deleted,
        ))
    }

    fn read_floats(&self, mint: i64, maxt: i64, out: &mut Vec<(i64, f64)>) -> Result<()> {
        read_chunk_floats(
            &self.chunks,
            &[],
            mint.max(self.mint),
            maxt.min(self.maxt),
            &self.deleted,
            out,
        )
    }
}
