//! Leveled compaction planning with Prometheus 3.5's rules (`tsdb/compact.go`,
//! `LeveledCompactor.plan`): which blocks to compact together next.
//!
//! Blocks are ordered by `minTime` (ties by ULID, which is what Prometheus's sort of
//! ULID-named directories amounts to). Then, first match wins:
//!
//! 1. **Overlapping blocks** (vertical compaction): the first run of blocks whose ranges
//!    overlap, newest block included. Failed blocks are not skipped here.
//! 2. **Level compaction**, leaving out the block with the largest `minTime` (the one just
//!    cut from the head, so a backup of new blocks never sees them disappear into a merge
//!    at once): for each range after the first (6 h, 18 h, ... by default), the blocks are
//!    split into groups that fit one aligned window `[k·range, (k+1)·range]`; the first
//!    group with more than one block, no failed block, and either spanning the whole
//!    window or ending before the start of the newest remaining block, is chosen.
//! 3. **Tombstones**: walking from the newest remaining block back, the first block that
//!    spans at least the middle range with more than 5 % tombstones per series, or that
//!    is entirely deleted, is rewritten on its own. The walk stops at the first block
//!    shorter than the middle range.
//!
//! The planner is pure: the integrator gives it the blocks of the data directory and
//! compacts what it returns, then plans again, as Prometheus's `DB.Compact` loop does.

use std::ops::Range;

use crate::block_info::BlockInfo;
use crate::error::{Error, Result};
use crate::options::Options;

/// Why a group of blocks was planned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The blocks' ranges overlap (vertical compaction).
    Overlapping,
    /// The blocks fill (or end before the newest block in) one aligned window of `range` ms.
    Level {
        /// The compaction range the blocks are merged into.
        range: i64,
    },
    /// One block with enough tombstones to be worth rewriting without them.
    Tombstones,
}

/// One compaction to run: blocks to merge into one new block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compaction {
    /// ULIDs of the blocks, ordered by `minTime` (then ULID).
    pub blocks: Vec<String>,
    /// Why these blocks were chosen.
    pub reason: Reason,
}

/// Plans compactions over a set of blocks. Cheap to build; holds the compaction ranges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planner {
    ranges: Vec<i64>,
    vertical: bool,
}

/// A block is rewritten for its tombstones above this many tombstones per series.
const TOMBSTONE_RATIO: f64 = 0.05;

impl Planner {
    /// A planner over [`Options::block_ranges`].
    pub fn new(opts: &Options) -> Result<Self> {
        opts.validate()?;
        Self::with_ranges(opts.block_ranges(), opts.vertical_compaction)
    }

    /// A planner over explicit compaction ranges (ms, the first being the head's block
    /// range), as Prometheus's `NewLeveledCompactor` takes them. With a single range no
    /// level compaction happens; overlaps and tombstones are still planned.
    pub fn with_ranges(ranges: Vec<i64>, vertical_compaction: bool) -> Result<Self> {
        if ranges.is_empty() {
            return Err(Error::InvalidOptions {
                name: "ranges",
                reason: "at least one range must be given".into(),
            });
        }
        if let Some(r) = ranges.iter().find(|&&r| r <= 0) {
            return Err(Error::InvalidOptions {
                name: "ranges",
                reason: format!("range {r} ms must be positive"),
            });
        }
        Ok(Self {
            ranges,
            vertical: vertical_compaction,
        })
    }

    /// The compaction ranges in ms.
    pub fn ranges(&self) -> &[i64] {
        &self.ranges
    }

    /// The next compaction to run over `blocks` (in any order), or `None` when there is
    /// nothing to do. Prometheus's `LeveledCompactor.Plan`.
    pub fn plan(&self, blocks: &[BlockInfo]) -> Option<Compaction> {
        let sorted = sort_by_min_time(blocks);
        let (group, reason) = self.plan_sorted(&sorted)?;
        Some(Compaction {
            blocks: sorted[group].iter().map(|b| b.ulid.clone()).collect(),
            reason,
        })
    }

    /// Every compaction Prometheus's loop (plan, compact, plan again) would run, in
    /// order, assuming each compaction writes one block covering its inputs and nothing
    /// else changes in between (no retention, no new head block): a dry run.
    ///
    /// A planned output is named `planned-<n>` (n from 1) and may appear as an input of a
    /// later compaction. Its level is one more than its inputs' highest; its series count
    /// and size are the sums of its inputs' (upper bounds); it has no tombstones.
    pub fn plan_all(&self, blocks: &[BlockInfo]) -> Vec<Compaction> {
        self.dry_run(blocks).0
    }

    /// The blocks left after every compaction of [`Planner::plan_all`], each compaction
    /// replaced by the block it writes: the layout the compaction loop leads to.
    pub fn planned_blocks(&self, blocks: &[BlockInfo]) -> Vec<BlockInfo> {
        self.dry_run(blocks).1
    }

    /// [`Planner::plan_all`]'s compactions and the blocks they leave.
    fn dry_run(&self, blocks: &[BlockInfo]) -> (Vec<Compaction>, Vec<BlockInfo>) {
        let mut current = blocks.to_vec();
        let mut out = Vec::new();
        // Each compaction either merges two or more blocks into one, or (tombstones)
        // rewrites one block that has tombstones into one that has none; so at most
        // `2 · blocks` compactions can follow one another.
        for n in 1..=2 * blocks.len() {
            let Some(c) = self.plan(&current) else {
                break;
            };
            let inputs: Vec<BlockInfo> = current
                .iter()
                .filter(|b| c.blocks.contains(&b.ulid))
                .cloned()
                .collect();
            current.retain(|b| !c.blocks.contains(&b.ulid));
            current.push(merged(format!("planned-{n}"), &inputs));
            out.push(c);
        }
        (out, current)
    }

    fn plan_sorted(&self, sorted: &[&BlockInfo]) -> Option<(Range<usize>, Reason)> {
        if self.vertical
            && let Some(run) = overlapping_run(sorted)
        {
            return Some((run, Reason::Overlapping));
        }
        // The block with the largest minTime is the newest one, cut from the head last.
        let (_, older) = sorted.split_last()?;
        if let Some((group, range)) = self.select_level(older) {
            return Some((group, Reason::Level { range }));
        }
        self.select_tombstones(older)
            .map(|i| (i..i + 1, Reason::Tombstones))
    }

    /// The first group of blocks that fills a window of one of the ranges after the first
    /// (Prometheus's `selectDirs`).
    fn select_level(&self, blocks: &[&BlockInfo]) -> Option<(Range<usize>, i64)> {
        if self.ranges.len() < 2 {
            return None;
        }
        let high_time = blocks.last()?.min_time;
        for &range in &self.ranges[1..] {
            for group in split_by_range(blocks, range) {
                let g = &blocks[group.clone()];
                if g.len() < 2 || g.iter().any(|b| b.compaction_failed) {
                    continue;
                }
                let (mint, maxt) = (g[0].min_time, g[g.len() - 1].max_time);
                // Full window (possibly with gaps), or a window that nothing can be added
                // to any more because a newer block starts after it.
                if i128::from(maxt) - i128::from(mint) == i128::from(range) || maxt <= high_time {
                    return Some((group, range));
                }
            }
        }
        None
    }

    /// The newest block worth rewriting for its tombstones.
    fn select_tombstones(&self, blocks: &[&BlockInfo]) -> Option<usize> {
        let big = self.ranges[self.ranges.len() / 2];
        for (i, b) in blocks.iter().enumerate().rev() {
            if i128::from(b.max_time) - i128::from(b.min_time) < i128::from(big) {
                // A small block is rewritten only when every series is deleted (Prometheus
                // counts one tombstone per series here).
                if b.num_tombstones > 0 && b.num_tombstones >= b.num_series {
                    return Some(i);
                }
                return None;
            }
            if b.num_tombstones as f64 / (b.num_series as f64 + 1.0) > TOMBSTONE_RATIO {
                return Some(i);
            }
        }
        None
    }
}

/// The blocks ordered by `minTime`, then ULID.
fn sort_by_min_time(blocks: &[BlockInfo]) -> Vec<&BlockInfo> {
    let mut sorted: Vec<&BlockInfo> = blocks.iter().collect();
    sorted.sort_by(|a, b| {
        a.min_time
            .cmp(&b.min_time)
            .then_with(|| a.ulid.cmp(&b.ulid))
    });
    sorted
}

/// The first run of overlapping blocks in `sorted` (by `minTime`): from the block before
/// the first one starting before the running maximum `maxTime`, through the last one that
/// still does (Prometheus's `selectOverlappingDirs`).
fn overlapping_run(sorted: &[&BlockInfo]) -> Option<Range<usize>> {
    let mut global_max = sorted.first()?.max_time;
    let mut start = None;
    for (i, b) in sorted.iter().enumerate().skip(1) {
        if b.min_time < global_max {
            start.get_or_insert(i - 1);
        } else if let Some(s) = start {
            return Some(s..i);
        }
        global_max = global_max.max(b.max_time);
    }
    start.map(|s| s..sorted.len())
}

/// Splits `blocks` (sorted by `minTime`) into groups that each fit one window
/// `[k·range, (k+1)·range]`, the window being the one holding the group's first block's
/// `minTime`. A block that does not fit the window of its own `minTime` (misaligned, or
/// longer than `range`) is skipped (Prometheus's `splitByRange`).
pub(crate) fn split_by_range(blocks: &[&BlockInfo], range: i64) -> Vec<Range<usize>> {
    let range = i128::from(range);
    let mut groups = Vec::new();
    let mut i = 0;
    while i < blocks.len() {
        let t0 = i128::from(blocks[i].min_time).div_euclid(range) * range;
        let end = t0 + range;
        if i128::from(blocks[i].max_time) > end {
            i += 1;
            continue;
        }
        let start = i;
        while i < blocks.len() && i128::from(blocks[i].max_time) <= end {
            i += 1;
        }
        groups.push(start..i);
    }
    groups
}

/// The block a compaction of `inputs` would write, as Prometheus's `CompactBlockMetas`
/// describes it (statistics estimated).
fn merged(ulid: String, inputs: &[BlockInfo]) -> BlockInfo {
    BlockInfo {
        ulid,
        min_time: inputs.iter().map(|b| b.min_time).min().unwrap_or(0),
        max_time: inputs.iter().map(|b| b.max_time).max().unwrap_or(0),
        level: inputs
            .iter()
            .map(|b| b.level)
            .max()
            .unwrap_or(0)
            .saturating_add(1),
        num_series: inputs.iter().fold(0, |n, b| n.saturating_add(b.num_series)),
        num_tombstones: 0,
        size_bytes: inputs.iter().fold(0, |n, b| n.saturating_add(b.size_bytes)),
        compaction_failed: false,
    }
}

#[cfg(test)]
mod tests;
