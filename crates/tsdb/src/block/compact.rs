//! [`compact`]: N blocks merged into one; [`rewrite`]: one block rewritten without its
//! tombstones. Prometheus's `LeveledCompactor.Compact` and `Block.CleanTombstones`, with
//! its `populateBlock` as the model of what happens to each series.
//!
//! Everything streams: the symbol table is the union of the inputs' symbol tables,
//! merged from their sorted lists ([`crate::index::Reader::symbols`]); series come from
//! one [`ChunkSeriesReader`] per input, merged by labels, and
//! go to the [`BlockWriter`] one label set at a time. Memory holds one series per input,
//! the writer's postings and symbol table, nothing else that grows with the blocks.
//!
//! Per label set (see `merge.rs`): a chunk that overlaps no chunk of another input and no
//! deleted interval is copied as it is; chunks that overlap in time (vertical
//! compaction: blocks from backfill or out-of-order data) are decoded, merged by
//! timestamp through [`ChainSampleIterator`](crate::querier::ChainSampleIterator) (on
//! equal timestamps the later input wins) and re-encoded into chunks of at most
//! [`MAX_SAMPLES_PER_MERGED_CHUNK`] samples; a chunk touched by a tombstone is re-encoded
//! without its deleted samples; a series left without samples is dropped.

mod merge;
mod symbols;

use std::path::Path;

use ulid::Ulid;

use super::meta::{BlockDesc, BlockMeta, Compaction};
use super::{Block, BlockWriter, ChunkMeta, ChunkSeries, ChunkSeriesReader};
use crate::error::{Error, Result};
use merge::SeriesMerger;
use symbols::MergedSymbols;

/// The most samples a chunk made by merging overlapping chunks holds (Prometheus's
/// `seriesToChunkEncoderSplit`).
pub const MAX_SAMPLES_PER_MERGED_CHUNK: usize = 120;

/// What a compaction did, for the caller's logs and metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompactStats {
    /// Series written.
    pub series: u64,
    /// Samples written.
    pub samples: u64,
    /// Chunks written as they were in an input (no decoding).
    pub chunks_copied: u64,
    /// Chunks written by re-encoding (merged overlaps, or chunks touched by tombstones).
    pub chunks_reencoded: u64,
    /// Input chunks decoded for re-encoding.
    pub chunks_decoded: u64,
    /// Input chunks dropped whole: every sample deleted or outside the output range.
    pub chunks_dropped: u64,
    /// Label sets of the inputs left without samples, so not written.
    pub series_dropped: u64,
    /// Whether the inputs' time ranges overlap (a vertical compaction; Prometheus counts
    /// these in `prometheus_tsdb_vertical_compactions_total`).
    pub overlapping: bool,
}

/// The result of [`compact`] or [`rewrite`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compacted {
    /// The new block's metadata, or `None` when no sample was left: nothing was written.
    ///
    /// For `None` Prometheus marks every input `deletable` in its `meta.json` (its
    /// `Compaction.deletable`) and the next reload deletes them. The caller does the
    /// same (or deletes the inputs at once): their content is gone either way.
    pub meta: Option<BlockMeta>,
    /// What happened.
    pub stats: CompactStats,
}

/// Writes `<parent_dir>/<ulid>`, the union of `inputs`, and returns its metadata (or
/// `None` when nothing is left; see [`Compacted::meta`]).
///
/// The inputs are given in the planner's order (by `minTime`); on equal timestamps of one
/// series the sample of the input listed later wins. Tombstones of the inputs are
/// applied, and samples outside the output range `[min minTime, max maxTime)` dropped, as
/// Prometheus does; the new block has no tombstones. Its `meta.json` says: level = the
/// highest input level + 1, sources = the sorted union of the inputs' sources, parents =
/// the inputs in the given order, no hints (as Prometheus 3.5, which drops them on merge).
///
/// The inputs are not changed. On error nothing is left in `parent_dir` (the temporary
/// directory is removed); Prometheus then marks the inputs `compaction.failed`, which is
/// the caller's job.
pub fn compact(parent_dir: &Path, inputs: &[Block], ulid: Ulid) -> Result<Compacted> {
    let metas: Vec<BlockMeta> = inputs.iter().map(Block::meta).collect();
    let Some(first) = metas.first() else {
        return Err(Error::InvalidOptions {
            name: "inputs",
            reason: "compaction needs at least one block".into(),
        });
    };
    let mut min_time = first.min_time;
    let mut max_time = first.max_time;
    let mut level = 0;
    let mut sources = Vec::new();
    let mut parents = Vec::with_capacity(metas.len());
    for m in &metas {
        min_time = min_time.min(m.min_time);
        max_time = max_time.max(m.max_time);
        level = level.max(m.compaction.level);
        sources.extend_from_slice(&m.compaction.sources);
        parents.push(desc(m));
    }
    sources.sort();
    sources.dedup();
    let compaction = Compaction {
        level: level.saturating_add(1),
        sources,
        parents,
        ..Compaction::default()
    };
    populate(
        parent_dir, inputs, ulid, min_time, max_time, compaction, &metas,
    )
}

/// Writes `<parent_dir>/<ulid>`: `block` without its tombstones (Prometheus's
/// `CleanTombstones`), or returns `None` (writing nothing) when every sample is deleted.
///
/// This is [`compact`] of one input, except for the bookkeeping: the range, level,
/// sources and hints stay the block's, and its one parent is the block. (Prometheus 3.5
/// writes such a block as level 1 with itself as the only source; keeping them tells the
/// planner and tools the truth about where the data came from.) The caller swaps the
/// blocks: opens the new one and deletes `block`. It is rewritten even without
/// tombstones; callers check [`Block::tombstones`] first, as Prometheus does.
pub fn rewrite(parent_dir: &Path, block: &Block, ulid: Ulid) -> Result<Compacted> {
    let meta = block.meta();
    let sources = if meta.compaction.sources.is_empty() {
        vec![meta.ulid]
    } else {
        meta.compaction.sources.clone()
    };
    let compaction = Compaction {
        level: meta.compaction.level.max(1),
        sources,
        parents: vec![desc(&meta)],
        hints: meta.compaction.hints.clone(),
        ..Compaction::default()
    };
    populate(
        parent_dir,
        std::slice::from_ref(block),
        ulid,
        meta.min_time,
        meta.max_time,
        compaction,
        std::slice::from_ref(&meta),
    )
}

fn desc(m: &BlockMeta) -> BlockDesc {
    BlockDesc {
        ulid: m.ulid,
        min_time: m.min_time,
        max_time: m.max_time,
    }
}

/// Whether any two of the ranges overlap (Prometheus's check in `populateBlock`, made
/// independent of the input order).
fn overlapping(metas: &[BlockMeta]) -> bool {
    let mut ranges: Vec<(i64, i64)> = metas.iter().map(|m| (m.min_time, m.max_time)).collect();
    ranges.sort_unstable();
    let mut end = i64::MIN;
    for (i, &(lo, hi)) in ranges.iter().enumerate() {
        if i > 0 && lo < end {
            return true;
        }
        end = end.max(hi);
    }
    false
}

/// Writes the merged series of `inputs` into a new block over `[min_time, max_time)`.
fn populate(
    parent_dir: &Path,
    inputs: &[Block],
    ulid: Ulid,
    min_time: i64,
    max_time: i64,
    compaction: Compaction,
    metas: &[BlockMeta],
) -> Result<Compacted> {
    let mut stats = CompactStats {
        overlapping: overlapping(metas),
        ..CompactStats::default()
    };
    let mut symbols = MergedSymbols::new(inputs.iter().map(|b| b.index().symbols()).collect());
    let writer = BlockWriter::new(parent_dir, ulid, &mut symbols);
    // A failed symbol read ends the symbol stream early; report it rather than what the
    // writer makes of a short table. The writer (dropped) removes its directory.
    symbols.take_err()?;
    let mut writer = writer?;

    let mut series = SeriesMerge::new(inputs)?;
    let mut merger = SeriesMerger::new(min_time, max_time);
    let mut group: Vec<(usize, ChunkSeries)> = Vec::with_capacity(inputs.len());
    while series.next_group(&mut group)? {
        let chunks = merger.merge(inputs, &group, &mut stats)?;
        if chunks.is_empty() {
            stats.series_dropped += 1;
            continue;
        }
        let metas: Vec<ChunkMeta<'_>> = chunks
            .iter()
            .map(|c| ChunkMeta {
                min_t: c.min_t,
                max_t: c.max_t,
                data: c.bytes(),
            })
            .collect();
        let labels = &group[0].1.labels;
        writer.add_series(labels, &metas)?;
    }

    stats.series = writer.stats().num_series;
    stats.samples = writer.stats().num_samples;
    if stats.series == 0 {
        // Dropping the writer removes its temporary directory.
        drop(writer);
        return Ok(Compacted { meta: None, stats });
    }
    let meta = writer.finish(min_time, max_time, compaction)?;
    Ok(Compacted {
        meta: Some(meta),
        stats,
    })
}

/// The k-way merge of the inputs' series by labels.
struct SeriesMerge<'a> {
    inputs: &'a [Block],
    readers: Vec<ChunkSeriesReader>,
    /// The next series of each input, `None` once it is exhausted.
    heads: Vec<Option<ChunkSeries>>,
    /// The inputs holding the label set being merged, in input order.
    members: Vec<usize>,
}

impl<'a> SeriesMerge<'a> {
    fn new(inputs: &'a [Block]) -> Result<SeriesMerge<'a>> {
        let mut readers = inputs
            .iter()
            .map(Block::chunk_series)
            .collect::<Result<Vec<_>>>()?;
        let heads = readers
            .iter_mut()
            .map(|r| r.next().transpose())
            .collect::<Result<Vec<_>>>()?;
        Ok(SeriesMerge {
            inputs,
            readers,
            heads,
            members: Vec::with_capacity(inputs.len()),
        })
    }

    /// Fills `group` with the series of the smallest label set, one per input holding
    /// it, in input order; false when every input is exhausted.
    ///
    /// A linear scan over the inputs: compactions merge a handful of blocks, where a
    /// heap would cost more than it saves.
    fn next_group(&mut self, group: &mut Vec<(usize, ChunkSeries)>) -> Result<bool> {
        group.clear();
        self.members.clear();
        let mut min: Option<&ChunkSeries> = None;
        for (i, h) in self.heads.iter().enumerate() {
            let Some(s) = h else { continue };
            match min.map(|m| s.labels.cmp(&m.labels)) {
                Some(std::cmp::Ordering::Greater) => {}
                Some(std::cmp::Ordering::Equal) => self.members.push(i),
                Some(std::cmp::Ordering::Less) | None => {
                    min = Some(s);
                    self.members.clear();
                    self.members.push(i);
                }
            }
        }
        for &i in &self.members {
            let s = self.heads[i].take().expect("a member has a series");
            let next = self.readers[i].next().transpose()?;
            if let Some(n) = &next
                && n.labels <= s.labels
            {
                return Err(Error::corruption(
                    self.inputs[i].index().path(),
                    0,
                    format!(
                        "series {} (id {}) does not sort after {} (id {})",
                        n.labels, n.id, s.labels, s.id
                    ),
                ));
            }
            self.heads[i] = next;
            group.push((i, s));
        }
        Ok(!group.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(min_time: i64, max_time: i64) -> BlockMeta {
        BlockMeta {
            ulid: Ulid::new(),
            min_time,
            max_time,
            stats: Default::default(),
            compaction: Compaction::default(),
            version: 1,
        }
    }

    #[test]
    fn overlap_is_found_in_any_order() {
        assert!(!overlapping(&[meta(0, 10), meta(10, 20), meta(20, 30)]));
        assert!(!overlapping(&[meta(20, 30), meta(0, 10)]));
        assert!(overlapping(&[meta(0, 10), meta(9, 20)]));
        assert!(overlapping(&[meta(20, 30), meta(0, 100), meta(40, 50)]));
        assert!(!overlapping(&[meta(0, 10)]));
    }
}
