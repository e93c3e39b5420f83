//! [`BlockInfo`]: what planning and retention need to know about a block, taken from its
//! `meta.json` and its size on disk.

/// One persisted block as the planner and retention see it.
///
/// Built from a block's `meta.json` and its size on disk by [`BlockInfo::from_meta`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockInfo {
    /// The block's ULID, as its directory name.
    pub ulid: String,
    /// Timestamp of the earliest sample, in ms (inclusive).
    pub min_time: i64,
    /// End of the block's range, in ms (exclusive, as in `meta.json`).
    pub max_time: i64,
    /// Compaction level: 1 for a block cut from the head, one more than its highest
    /// parent's for a compacted block.
    pub level: u32,
    /// Number of series in the block.
    pub num_series: u64,
    /// Number of tombstones (deleted series intervals) not yet applied.
    pub num_tombstones: u64,
    /// Bytes the block takes on disk (chunks, index, tombstones, `meta.json`).
    pub size_bytes: u64,
    /// Whether an earlier compaction of this block failed (`compaction.failed`); such a
    /// block is left out of level compaction so a broken block does not stall it forever.
    pub compaction_failed: bool,
}

impl BlockInfo {
    /// A block with the given ULID and range at level 1 with empty statistics; tests and
    /// examples fill in the rest with struct update syntax.
    pub fn new(ulid: impl Into<String>, min_time: i64, max_time: i64) -> Self {
        Self {
            ulid: ulid.into(),
            min_time,
            max_time,
            level: 1,
            num_series: 0,
            num_tombstones: 0,
            size_bytes: 0,
            compaction_failed: false,
        }
    }

    /// The planner's view of a block: its `meta.json` and its size in bytes.
    pub fn from_meta(meta: &tsdb::block::BlockMeta, size_bytes: u64) -> Self {
        Self {
            ulid: meta.ulid.to_string(),
            min_time: meta.min_time,
            max_time: meta.max_time,
            level: meta.compaction.level,
            num_series: meta.stats.num_series,
            num_tombstones: meta.stats.num_tombstones,
            size_bytes,
            compaction_failed: meta.compaction.failed,
        }
    }

    /// Whether the half-open ranges `[min_time, max_time)` of the two blocks overlap.
    pub fn overlaps(&self, other: &BlockInfo) -> bool {
        self.min_time < other.max_time && other.min_time < self.max_time
    }
}
