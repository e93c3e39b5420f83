//! Time and size retention: the situations of Prometheus 3.5's `TestTimeRetention` and
//! `TestSizeRetention`, restated, and invariants over random block sets.

use compactor::retention::{beyond_size_retention, beyond_time_retention, blocks_to_delete};
use compactor::{BlockInfo, Options};
use proptest::prelude::*;

fn sized(ulid: &str, min: i64, max: i64, size: u64) -> BlockInfo {
    BlockInfo {
        size_bytes: size,
        ..BlockInfo::new(ulid, min, max)
    }
}

#[test]
fn time_retention_is_relative_to_the_newest_block() {
    let blocks = [
        BlockInfo::new("old", 100, 400),
        BlockInfo::new("mid", 500, 800),
        BlockInfo::new("new", 800, 1100),
    ];
    // "old" ends 700 before the newest block's end, "mid" 300.
    assert_eq!(beyond_time_retention(&blocks, 500), ["old"]);
    // Exactly the retention behind is beyond it.
    assert_eq!(beyond_time_retention(&blocks, 300), ["old", "mid"]);
    assert_eq!(beyond_time_retention(&blocks, 301), ["old"]);
    assert!(beyond_time_retention(&blocks, 701).is_empty());
    // Disabled.
    assert!(beyond_time_retention(&blocks, 0).is_empty());
    // The newest block stays, however old, and blocks ending with it stay too.
    assert!(beyond_time_retention(&blocks[2..], 1).is_empty());
    let tie = [BlockInfo::new("a", 0, 1100), BlockInfo::new("b", 800, 1100)];
    assert!(beyond_time_retention(&tie, 1).is_empty());
    assert!(beyond_time_retention(&[], 1).is_empty());
}

#[test]
fn size_retention_deletes_the_oldest_blocks_until_the_rest_fits() {
    // Given newest first; sizes grow with age order reversed so each cut is distinct.
    let blocks = [
        sized("5", 500, 600, 500),
        sized("4", 400, 500, 400),
        sized("3", 300, 400, 300),
        sized("2", 200, 300, 200),
        sized("1", 100, 200, 100),
    ];
    let head = 50;
    let total = 1550;
    // Everything fits.
    assert!(beyond_size_retention(&blocks, total, head).is_empty());
    // As in Prometheus's test: a limit one oldest block smaller deletes that block.
    assert_eq!(beyond_size_retention(&blocks, total - 100, head), ["1"]);
    // One byte less and the next oldest goes too.
    assert_eq!(
        beyond_size_retention(&blocks, total - 101, head),
        ["1", "2"]
    );
    // The head alone is over the limit: every block goes.
    assert_eq!(
        beyond_size_retention(&blocks, head - 1, head),
        ["1", "2", "3", "4", "5"]
    );
    // The head counts: the blocks alone fit in 1500 bytes, with the head they do not.
    assert!(beyond_size_retention(&blocks, 1500, 0).is_empty());
    assert_eq!(beyond_size_retention(&blocks, 1500, head), ["1"]);
    // Disabled.
    assert!(beyond_size_retention(&blocks, 0, u64::MAX).is_empty());
    // Sizes near u64::MAX do not wrap around.
    let huge = [sized("a", 0, 10, u64::MAX), sized("b", 10, 20, u64::MAX)];
    assert_eq!(beyond_size_retention(&huge, u64::MAX - 1, 0), ["a", "b"]);
}

#[test]
fn equal_max_times_delete_the_earlier_created_block_first() {
    let blocks = [sized("01B", 0, 100, 10), sized("01A", 50, 100, 10)];
    assert_eq!(beyond_size_retention(&blocks, 15, 0), ["01A"]);
}

#[test]
fn both_rules_together() {
    let blocks = [
        sized("1", 0, 100, 100),
        sized("2", 100, 200, 100),
        sized("3", 200, 300, 100),
        sized("4", 300, 400, 100),
    ];
    let opts = Options {
        retention_time: 250,
        retention_size: 250,
        ..Options::default()
    };
    let d = blocks_to_delete(&blocks, &opts, 0);
    assert_eq!(d.by_time, ["1"]);
    assert_eq!(d.by_size, ["1", "2"]);
    assert_eq!(d.all(), ["1", "2"]);
    assert!(!d.is_empty());
    let none = blocks_to_delete(
        &blocks,
        &Options {
            retention_time: 0,
            retention_size: 0,
            ..Options::default()
        },
        0,
    );
    assert!(none.is_empty());
    assert!(none.all().is_empty());
}

fn arb_blocks() -> impl Strategy<Value = Vec<BlockInfo>> {
    prop::collection::vec((0i64..2000, 1i64..300, 0u64..1000), 0..20).prop_map(|v| {
        v.into_iter()
            .enumerate()
            .map(|(i, (min, len, size))| sized(&format!("b{i:02}"), min, min + len, size))
            .collect()
    })
}

/// Newest first, as retention orders blocks.
fn newest_first(blocks: &[BlockInfo]) -> Vec<&BlockInfo> {
    let mut s: Vec<&BlockInfo> = blocks.iter().collect();
    s.sort_by(|a, b| (b.max_time, &b.ulid).cmp(&(a.max_time, &a.ulid)));
    s
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn time_retention_deletes_exactly_the_blocks_past_it(blocks in arb_blocks(), retention in 1i64..2500) {
        let deleted = beyond_time_retention(&blocks, retention);
        let newest = blocks.iter().map(|b| b.max_time).max();
        for b in &blocks {
            let past = newest.is_some_and(|n| n - b.max_time >= retention);
            prop_assert_eq!(deleted.contains(&b.ulid), past, "{:?}", b);
        }
        // Oldest first, no duplicates.
        let order: Vec<i64> = deleted
            .iter()
            .map(|u| blocks.iter().find(|b| &b.ulid == u).expect("an input").max_time)
            .collect();
        prop_assert!(order.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn size_retention_deletes_no_more_than_needed(
        blocks in arb_blocks(),
        limit in 1u64..12_000,
        head in 0u64..2000,
    ) {
        let deleted = beyond_size_retention(&blocks, limit, head);
        let order = newest_first(&blocks);
        let kept = order.len() - deleted.len();
        // The deleted blocks are the oldest ones, in order.
        let want: Vec<String> = order[kept..].iter().rev().map(|b| b.ulid.clone()).collect();
        prop_assert_eq!(&deleted, &want);
        let kept_bytes: u64 = head + order[..kept].iter().map(|b| b.size_bytes).sum::<u64>();
        // What stays fits, unless nothing stays.
        prop_assert!(kept_bytes <= limit || kept == 0);
        // Keeping back the newest deleted block would not fit.
        if let Some(b) = order.get(kept) {
            prop_assert!(kept_bytes + b.size_bytes > limit);
        }
    }

    #[test]
    fn together_is_the_union(
        blocks in arb_blocks(),
        retention in 0i64..2500,
        limit in 0u64..12_000,
        head in 0u64..2000,
    ) {
        let opts = Options { retention_time: retention, retention_size: limit, ..Options::default() };
        let d = blocks_to_delete(&blocks, &opts, head);
        prop_assert_eq!(&d.by_time, &beyond_time_retention(&blocks, retention));
        prop_assert_eq!(&d.by_size, &beyond_size_retention(&blocks, limit, head));
        let mut all = d.all();
        let mut union: Vec<String> = d.by_time.iter().chain(&d.by_size).cloned().collect();
        all.sort();
        union.sort();
        union.dedup();
        prop_assert_eq!(all, union);
    }
}
