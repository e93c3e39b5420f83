//! Deleting blocks from a bucket so that no reader sees half a block: a deletion mark
//! first, then, after a delay, `meta.json`, the other objects, and the mark last.

use std::time::{Duration, SystemTime};

use tsdb::bucket::Bucket;

use crate::error::Result;
use crate::shipper::listing::{list_blocks, read_mark};
use crate::shipper::meta::{DELETION_MARK_FILE, DeletionMark, META_FILE, check_block_id};

/// What [`delete_marked`] or [`clean_partial`] removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeleteStats {
    /// The blocks removed completely, in id order.
    pub deleted: Vec<String>,
    /// Objects deleted.
    pub objects: u64,
}

fn unix_seconds(t: SystemTime) -> i64 {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

/// Marks the block `id` for deletion at `now` by writing `<id>/deletion-mark.json`.
/// Returns `false`, changing nothing, when the block already has a (readable) mark, so the
/// first mark's time counts. The block stays readable until [`delete_marked`] removes it.
pub fn mark_for_deletion(bucket: &dyn Bucket, id: &str, now: SystemTime) -> Result<bool> {
    check_block_id(id)?;
    if read_mark(bucket, id)?.is_some() {
        return Ok(false);
    }
    let mark = DeletionMark {
        id: id.to_string(),
        deletion_time: unix_seconds(now),
        version: 1,
        details: String::new(),
    };
    bucket.put(&format!("{id}/{DELETION_MARK_FILE}"), mark.to_json())?;
    tracing::info!(block = id, "marked block for deletion");
    Ok(true)
}

/// Removes every block (visible, partial or with a broken `meta.json`) whose deletion mark
/// is at least `delay` old at `now`. `delay` must exceed the time a reader may keep using
/// a listing (Thanos uses 48 h). A deletion cut short is finished by the next call: the
/// block has lost its `meta.json` and is not visible, but keeps its mark.
pub fn delete_marked(bucket: &dyn Bucket, delay: Duration, now: SystemTime) -> Result<DeleteStats> {
    let listing = list_blocks(bucket)?;
    let marks = listing
        .blocks
        .iter()
        .map(|b| (&b.id, &b.deletion_mark))
        .chain(listing.partial.iter().map(|b| (&b.id, &b.deletion_mark)))
        .chain(listing.corrupt.iter().map(|b| (&b.id, &b.deletion_mark)));
    let now = unix_seconds(now);
    let delay = i64::try_from(delay.as_secs()).unwrap_or(i64::MAX);
    let mut due: Vec<&String> = marks
        .filter_map(|(id, mark)| {
            let mark = mark.as_ref()?;
            (now.saturating_sub(mark.deletion_time) >= delay).then_some(id)
        })
        .collect();
    due.sort();
    let mut stats = DeleteStats::default();
    for id in due {
        stats.objects += delete_block(bucket, id)?;
        stats.deleted.push(id.clone());
    }
    Ok(stats)
}

/// Removes partial uploads (block directories without `meta.json` and without a deletion
/// mark) whose newest object is at least `delay` old at `now`, and returns what it removed.
/// `delay` must exceed the longest upload of one block, or a running upload could lose
/// files before its `meta.json` makes it visible (Thanos waits 48 h).
pub fn clean_partial(bucket: &dyn Bucket, delay: Duration, now: SystemTime) -> Result<DeleteStats> {
    let listing = list_blocks(bucket)?;
    let mut stats = DeleteStats::default();
    for partial in &listing.partial {
        if partial.deletion_mark.is_some() {
            continue; // delete_marked's, after its own delay
        }
        let age = now
            .duration_since(partial.last_modified())
            .unwrap_or(Duration::ZERO);
        if age >= delay {
            stats.objects += delete_block(bucket, &partial.id)?;
            stats.deleted.push(partial.id.clone());
            tracing::info!(block = partial.id, "removed a partial upload");
        }
    }
    Ok(stats)
}

/// Deletes every object of the block `id` at once, in the order that keeps readers safe:
/// `meta.json` first (the block stops being visible), then the other objects, then the
/// deletion mark. Returns the number of objects deleted. [`delete_marked`] is the way to
/// delete a block that readers may be using.
pub fn delete_block(bucket: &dyn Bucket, id: &str) -> Result<u64> {
    check_block_id(id)?;
    let meta_key = format!("{id}/{META_FILE}");
    let mark_key = format!("{id}/{DELETION_MARK_FILE}");
    let mut n = 0;
    if bucket.exists(&meta_key)? {
        bucket.delete(&meta_key)?;
        n += 1;
    }
    let mut has_mark = false;
    for object in bucket.list(id)? {
        if object.key == mark_key {
            has_mark = true;
        } else if object.key != meta_key {
            bucket.delete(&object.key)?;
            n += 1;
        }
    }
    if has_mark {
        bucket.delete(&mark_key)?;
        n += 1;
    }
    tracing::info!(block = id, objects = n, "deleted block from the bucket");
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_seconds_of_times_before_and_after_the_epoch() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_999);
        assert_eq!(unix_seconds(t), 1_700_000_000);
        assert_eq!(
            unix_seconds(SystemTime::UNIX_EPOCH - Duration::from_secs(5)),
            -5
        );
    }
}
