//! Time- and size-based retention with Prometheus 3.5's rules (`tsdb/db.go`,
//! `BeyondTimeRetention`, `BeyondSizeRetention`): which blocks to delete.
//!
//! Blocks are ordered newest first by `maxTime` (ties: the larger ULID, created later,
//! counts as newer, so the earlier-created block goes first).
//!
//! * **Time**: a block is deleted when the newest block's `maxTime` minus its own
//!   `maxTime` is at least the retention time. Retention is relative to the newest
//!   block, not to the wall clock or the head, so a stopped ingest deletes nothing.
//!   The newest block itself is never deleted by time.
//! * **Size**: walking newest to oldest, the head's bytes on disk plus each block's size
//!   are summed; the first block that takes the sum over the limit and every older one
//!   are deleted. What stays fits the limit, and keeping the newest deleted block back
//!   would not.
//!
//! The two are computed independently over all blocks and deleted together.

use crate::block_info::BlockInfo;
use crate::options::Options;

/// Blocks to delete, by the rule that selected them; a block may be in both lists.
/// Each list is ordered oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deletions {
    /// ULIDs beyond the time retention.
    pub by_time: Vec<String>,
    /// ULIDs beyond the size retention.
    pub by_size: Vec<String>,
}

impl Deletions {
    /// Whether no block is to be deleted.
    pub fn is_empty(&self) -> bool {
        self.by_time.is_empty() && self.by_size.is_empty()
    }

    /// Every ULID to delete, once, oldest first.
    pub fn all(&self) -> Vec<String> {
        // Both lists are suffixes of the same newest-first order, so the longer one
        // contains the shorter.
        if self.by_time.len() >= self.by_size.len() {
            self.by_time.clone()
        } else {
            self.by_size.clone()
        }
    }
}

/// Blocks beyond the time and the size retention of `opts`; `head_bytes` is what the
/// head takes on disk (WAL segments and checkpoint), counted against the size limit
/// before any block (Prometheus's `Head.Size`).
pub fn blocks_to_delete(blocks: &[BlockInfo], opts: &Options, head_bytes: u64) -> Deletions {
    Deletions {
        by_time: beyond_time_retention(blocks, opts.retention_time),
        by_size: beyond_size_retention(blocks, opts.retention_size, head_bytes),
    }
}

/// ULIDs of the blocks whose `maxTime` is at least `retention` ms behind the newest
/// block's `maxTime`, oldest first; none when `retention` is 0 (disabled) or negative.
pub fn beyond_time_retention(blocks: &[BlockInfo], retention: i64) -> Vec<String> {
    if retention <= 0 {
        return Vec::new();
    }
    let newest = newest_first(blocks);
    let Some(first) = newest.first() else {
        return Vec::new();
    };
    let horizon = i128::from(first.max_time) - i128::from(retention);
    // Everything from the first block at or beyond the horizon on is older still.
    let cut = newest.partition_point(|b| i128::from(b.max_time) > horizon);
    ulids_oldest_first(&newest[cut..])
}

/// ULIDs of the oldest blocks that must go for `head_bytes` plus the sizes of the blocks
/// kept to fit in `max_bytes`, oldest first; none when `max_bytes` is 0 (disabled).
pub fn beyond_size_retention(blocks: &[BlockInfo], max_bytes: u64, head_bytes: u64) -> Vec<String> {
    if max_bytes == 0 {
        return Vec::new();
    }
    let newest = newest_first(blocks);
    let mut total = head_bytes;
    for (i, b) in newest.iter().enumerate() {
        total = total.saturating_add(b.size_bytes);
        if total > max_bytes {
            return ulids_oldest_first(&newest[i..]);
        }
    }
    Vec::new()
}

/// The blocks ordered by `maxTime` descending, then ULID descending.
fn newest_first(blocks: &[BlockInfo]) -> Vec<&BlockInfo> {
    let mut sorted: Vec<&BlockInfo> = blocks.iter().collect();
    sorted.sort_by(|a, b| {
        b.max_time
            .cmp(&a.max_time)
            .then_with(|| b.ulid.cmp(&a.ulid))
    });
    sorted
}

fn ulids_oldest_first(newest_first: &[&BlockInfo]) -> Vec<String> {
    newest_first.iter().rev().map(|b| b.ulid.clone()).collect()
}
