//! [`Block::delete`]: tombstones for a block (Prometheus's `Block.Delete`).

use std::sync::Arc;

use super::Block;
use crate::error::{Error, Result};
use crate::index::SeriesEntry;
use crate::index::postings::postings_for_matchers;
use crate::labels::Matcher;

impl Block {
    /// Hides the samples in `[mint, maxt]` of every series matching `matchers` that has a
    /// chunk in that range; returns how many series got a tombstone.
    ///
    /// Each interval is clamped to its series' own time range, merged with the series'
    /// earlier intervals, and written to the `tombstones` file (`tombstones.tmp`, fsync,
    /// rename); `meta.json` is then rewritten with the new `numTombstones`. Queriers made
    /// before the call keep the old tombstones. Only blocks opened from a directory can
    /// be changed.
    pub fn delete(&self, mint: i64, maxt: i64, matchers: &[Matcher]) -> Result<usize> {
        let inner = &*self.inner;
        if !inner.writable {
            return Err(Error::ReadOnlyBlock { ulid: self.ulid() });
        }
        let _turn = inner.delete_lock.lock();
        let ids = postings_for_matchers(&inner.index, matchers)?;
        let mut stones = (*self.tombstones()).clone();
        let mut deleted = 0;
        let mut entry = SeriesEntry::default();
        for id in ids {
            inner.index.series_into(id, &mut entry)?;
            let (Some(first), Some(last)) = (entry.chunks.first(), entry.chunks.last()) else {
                continue;
            };
            if !entry
                .chunks
                .iter()
                .any(|c| c.min_t <= maxt && mint <= c.max_t)
            {
                continue;
            }
            stones.add(u64::from(id), mint.max(first.min_t), maxt.min(last.max_t));
            deleted += 1;
        }
        if deleted == 0 {
            return Ok(0);
        }
        stones.write(&inner.dir)?;
        let mut meta = self.meta();
        meta.stats.num_tombstones = stones.total();
        meta.write(&inner.dir)?;
        *inner.meta.write() = meta;
        *inner.tombstones.write() = Arc::new(stones);
        Ok(deleted)
    }
}
