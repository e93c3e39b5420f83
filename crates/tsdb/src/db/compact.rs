//! The mechanisms of compaction on a [`Db`]: writing the head's oldest range as a block,
//! merging blocks, rewriting blocks without their tombstones, and deleting blocks.
//! Which blocks to merge or delete, and when, is the compactor crate's policy.
//!
//! Crash safety rests on two orders. A new block is renamed into place before anything
//! it replaces goes away: the head is truncated (and its WAL checkpointed) only after the
//! head block is durable, and merged parents are deleted only after the merged block is.
//! On open, a block listed as a parent of another block is deleted (its data is in the
//! child), and WAL samples older than the newest block's end are not replayed.

use std::sync::Arc;
use std::time::Instant;

use tracing::info;

use super::{Db, open_blocks, remove_block_dir};
use crate::block::{self, Block, BlockMeta, Ulid};
use crate::error::{Error, Result};

impl Db {
    /// While the head spans more than 1.5 block ranges, writes its oldest range as a block
    /// and truncates the head (and WAL) there. Returns the blocks written.
    pub fn compact_head(&self) -> Result<Vec<BlockMeta>> {
        let _guard = self.compaction.lock();
        let mut written = Vec::new();
        while self.head.compactable() {
            let Some((mint, maxt)) = self.head.oldest_block_range() else {
                break;
            };
            if let Some(meta) = self.write_head_block(mint, maxt)? {
                written.push(meta);
            }
            self.head.truncate(maxt)?;
        }
        Ok(written)
    }

    /// Writes the head's samples in `[mint, maxt)` as a level-1 block and starts serving
    /// it; `None` when the range holds no samples.
    fn write_head_block(&self, mint: i64, maxt: i64) -> Result<Option<BlockMeta>> {
        let started = Instant::now();
        let Some(meta) = self.head.write_block(&self.dir, mint, maxt)? else {
            return Ok(None);
        };
        let ulid = meta.ulid;
        let block = Block::open(&self.dir.join(ulid.to_string()))?;
        self.swap_blocks(Some(block), &[]);
        self.metrics.head_compactions.inc();
        info!(
            ulid = %ulid,
            mint,
            maxt,
            series = meta.stats.num_series,
            samples = meta.stats.num_samples,
            duration_ms = started.elapsed().as_millis() as u64,
            "wrote a block from the head"
        );
        Ok(Some(meta))
    }

    /// Merges the local blocks `ulids` (in that order: later ones win timestamp ties) into
    /// one block (overlapping ones vertically, tombstones applied), serves it and deletes
    /// the inputs; a single block is rewritten without its tombstones. Returns the new
    /// block's meta, or `None` when nothing was left (the inputs are deleted then too).
    pub fn compact_blocks(&self, ulids: &[Ulid]) -> Result<Option<BlockMeta>> {
        let _guard = self.compaction.lock();
        let blocks = self.blocks();
        let inputs: Vec<Block> = ulids
            .iter()
            .map(|u| {
                blocks
                    .iter()
                    .find(|b| b.ulid() == *u)
                    .cloned()
                    .ok_or_else(|| Error::UnknownBlock {
                        ulid: u.to_string(),
                    })
            })
            .collect::<Result<_>>()?;
        let started = Instant::now();
        let result = match inputs.as_slice() {
            // One block: a rewrite without its tombstones, keeping its level and sources.
            [one] => block::rewrite(&self.dir, one, Ulid::new()),
            _ => block::compact(&self.dir, &inputs, Ulid::new()),
        };
        let done = match result {
            Ok(done) => done,
            Err(e) => {
                self.metrics.compactions_failed.inc();
                return Err(e);
            }
        };
        let meta = done.meta;
        let new = match &meta {
            Some(m) => Some(Block::open(&self.dir.join(m.ulid.to_string()))?),
            None => None,
        };
        self.metrics.compactions.inc();
        if done.stats.overlapping {
            self.metrics.vertical_compactions.inc();
        }
        self.swap_blocks(new, ulids);
        for b in &inputs {
            remove_block_dir(b.dir())?;
        }
        self.metrics.blocks_deleted.inc_by(inputs.len() as u64);
        info!(
            inputs = ?ulids.iter().map(Ulid::to_string).collect::<Vec<_>>(),
            output = ?meta.as_ref().map(|m| m.ulid.to_string()),
            samples = done.stats.samples,
            chunks_copied = done.stats.chunks_copied,
            chunks_reencoded = done.stats.chunks_reencoded,
            duration_ms = started.elapsed().as_millis() as u64,
            "compacted blocks"
        );
        Ok(meta)
    }

    /// Rewrites every local block that has tombstones without the deleted samples, and
    /// drops the head's tombstones that no longer hide anything (Prometheus's
    /// `CleanTombstones`).
    pub fn clean_tombstones(&self) -> Result<()> {
        let with_tombstones: Vec<Ulid> = self
            .blocks()
            .iter()
            .filter(|b| !b.tombstones().is_empty())
            .map(Block::ulid)
            .collect();
        for ulid in with_tombstones {
            self.compact_blocks(&[ulid])?;
        }
        self.head.clean_tombstones()
    }

    /// Stops serving the local blocks `ulids` and deletes their directories (retention).
    /// Returns how many were deleted.
    pub fn delete_blocks(&self, ulids: &[Ulid]) -> Result<usize> {
        let _guard = self.compaction.lock();
        let blocks = self.blocks();
        let doomed: Vec<Block> = blocks
            .iter()
            .filter(|b| ulids.contains(&b.ulid()))
            .cloned()
            .collect();
        self.swap_blocks(None, ulids);
        for b in &doomed {
            remove_block_dir(b.dir())?;
        }
        self.metrics.blocks_deleted.inc_by(doomed.len() as u64);
        Ok(doomed.len())
    }

    /// Re-reads the block directories (blocks added by a tool while running are picked
    /// up); damaged ones are reported and left out.
    pub fn reload_blocks(&self) -> Result<()> {
        let _guard = self.compaction.lock();
        let (blocks, damaged) = open_blocks(&self.dir)?;
        let known: Vec<_> = self.damaged.read().iter().map(|d| d.0.clone()).collect();
        let fresh = damaged.iter().filter(|d| !known.contains(&d.0)).count();
        self.metrics.block_corruptions.inc_by(fresh as u64);
        *self.damaged.write() = damaged;
        *self.blocks.write() = Arc::new(blocks);
        self.update_block_metrics();
        Ok(())
    }

    /// Replaces the served block list: adds `new` (if any), drops `removed`.
    fn swap_blocks(&self, new: Option<Block>, removed: &[Ulid]) {
        let mut guard = self.blocks.write();
        let mut list: Vec<Block> = guard
            .iter()
            .filter(|b| !removed.contains(&b.ulid()))
            .cloned()
            .collect();
        list.extend(new);
        list.sort_by_key(|b| (b.min_time(), b.ulid()));
        *guard = Arc::new(list);
        drop(guard);
        self.update_block_metrics();
    }
}
