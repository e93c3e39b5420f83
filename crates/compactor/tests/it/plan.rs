//! The planner against the situations of Prometheus 3.5's `TestLeveledCompactor_plan`,
//! `TestRangeWithFailedCompactionWontGetSelected` and `TestNoPanicFor0Tombstones`,
//! restated with their times halved (ranges 10, 30, 90, 270, 810 instead of 20, 60, ...),
//! plus the corners those tests leave out.

use compactor::{BlockInfo, Compaction, Options, Planner, Reason};

/// A block named `ulid` over `[min, max)`.
fn b(ulid: &str, min: i64, max: i64) -> BlockInfo {
    BlockInfo::new(ulid, min, max)
}

/// A block with series and tombstone counts.
fn bt(ulid: &str, min: i64, max: i64, series: u64, tombstones: u64) -> BlockInfo {
    BlockInfo {
        num_series: series,
        num_tombstones: tombstones,
        ..b(ulid, min, max)
    }
}

/// Prometheus's default ranges (three times apart, five of them), for a 10 ms minimum.
fn planner() -> Planner {
    Planner::with_ranges(vec![10, 30, 90, 270, 810], true).expect("valid ranges")
}

/// The planner's next compaction as text: `"none"`, or the reason and the ULIDs, such
/// as `"level 30: 1,2,3"`, `"overlapping: 1,2"`, `"tombstones: 1"`.
fn plan_with(planner: &Planner, blocks: &[BlockInfo]) -> String {
    match planner.plan(blocks) {
        None => "none".into(),
        Some(c) => {
            let reason = match c.reason {
                Reason::Overlapping => "overlapping".to_string(),
                Reason::Level { range } => format!("level {range}"),
                Reason::Tombstones => "tombstones".to_string(),
            };
            format!("{reason}: {}", c.blocks.join(","))
        }
    }
}

fn plan(blocks: &[BlockInfo]) -> String {
    plan_with(&planner(), blocks)
}

#[test]
fn nothing_to_do_for_one_block() {
    assert_eq!(plan(&[]), "none");
    assert_eq!(plan(&[b("1", 0, 10)]), "none");
}

#[test]
fn waits_until_a_window_is_full() {
    // Two of the three blocks of the first 30 ms window.
    assert_eq!(plan(&[b("1", 0, 10), b("2", 10, 20)]), "none");
    // Three, but the newest is never compacted by level: it was just cut from the head.
    assert_eq!(
        plan(&[b("1", 0, 10), b("2", 10, 20), b("3", 20, 30)]),
        "none"
    );
    // A fourth block arrives: the first window is complete without the newest.
    assert_eq!(
        plan(&[
            b("1", 0, 10),
            b("2", 10, 20),
            b("3", 20, 30),
            b("4", 30, 40)
        ]),
        "level 30: 1,2,3"
    );
}

#[test]
fn a_window_with_a_gap_is_compacted_once_a_newer_block_starts_after_it() {
    // The next window started, but its only block is the newest: still nothing.
    assert_eq!(
        plan(&[b("1", 0, 10), b("2", 10, 20), b("3", 30, 40)]),
        "none"
    );
    // Now the block in the next window is not the newest: the gap in [20, 30) can no
    // longer be filled, so the two blocks before it are compacted.
    assert_eq!(
        plan(&[
            b("1", 0, 10),
            b("2", 10, 20),
            b("3", 30, 40),
            b("4", 40, 50)
        ]),
        "level 30: 1,2"
    );
}

#[test]
fn smallest_range_first() {
    // 10, 10, 10, 30, 30: the first 30 ms window is full; "5" is the newest.
    assert_eq!(
        plan(&[
            b("1", 0, 10),
            b("2", 10, 20),
            b("3", 20, 30),
            b("4", 30, 60),
            b("5", 60, 90),
        ]),
        "level 30: 1,2,3"
    );
}

#[test]
fn mixed_sizes_are_compacted_into_a_larger_window() {
    // Given out of order; "5" starts last, so it is the newest. No 30 ms window has two
    // blocks, the 90 ms window [0, 90] has three and a newer block ("7") starts later.
    assert_eq!(
        plan(&[
            b("2", 10, 20),
            b("4", 30, 60),
            b("5", 480, 490),
            b("6", 60, 90),
            b("7", 360, 480),
        ]),
        "level 90: 2,4,6"
    );
}

#[test]
fn the_newest_block_is_the_one_starting_last() {
    // Given in ULID order "5" < "6" < "7" < "8", but "6" starts last: it is the fresh
    // one. Taking the largest ULID as the newest would compact "5" and "7" into a block
    // overlapping "8".
    assert_eq!(
        plan(&[
            b("5", 0, 180),
            b("6", 270, 280),
            b("7", 180, 210),
            b("8", 210, 270),
        ]),
        "level 90: 7,8"
    );
}

#[test]
fn large_blocks_with_many_tombstones_are_rewritten() {
    // 3 tombstones for 10 series (27 % of series + 1) in a block spanning the middle
    // range (90) or more, but it is the newest block: untouched.
    assert_eq!(plan(&[bt("1", 0, 270, 10, 3)]), "none");
    // Once a newer block exists it is rewritten on its own.
    assert_eq!(
        plan(&[bt("1", 0, 270, 10, 3), b("2", 270, 280)]),
        "tombstones: 1"
    );
    // 5 % of series + 1 is not enough: the ratio must exceed it.
    assert_eq!(plan(&[bt("1", 0, 270, 19, 1), b("2", 270, 280)]), "none");
    assert_eq!(
        plan(&[bt("1", 0, 270, 18, 1), b("2", 270, 280)]),
        "tombstones: 1"
    );
}

#[test]
fn small_blocks_are_rewritten_only_when_entirely_deleted() {
    // A 30 ms block (below the middle range) with 30 % tombstones: left alone.
    assert_eq!(plan(&[bt("1", 0, 30, 10, 3), b("2", 30, 40)]), "none");
    // As many tombstones as series: every series is deleted, rewrite it (to nothing).
    assert_eq!(
        plan(&[bt("1", 0, 30, 10, 10), b("2", 30, 40)]),
        "tombstones: 1"
    );
    // The walk from the newest block back stops at the first small block, so a large
    // tombstoned block behind it waits until that one is compacted away.
    assert_eq!(
        plan(&[
            bt("1", 0, 270, 10, 5),
            b("2", 280, 290),
            b("3", 300, 310),
            b("4", 320, 330),
        ]),
        "none"
    );
}

#[test]
fn no_tombstones_and_no_series_is_not_a_reason_to_rewrite() {
    // Regression in Prometheus: 0 / (0 + 1) is not above 5 %, and "entirely deleted"
    // needs at least one tombstone; otherwise the same block was rewritten forever.
    assert_eq!(plan(&[bt("1", 0, 270, 0, 0), b("2", 270, 280)]), "none");
    // Prometheus's `TestNoPanicFor0Tombstones`: a single range and no statistics.
    let single = Planner::with_ranges(vec![50], true).expect("valid");
    assert_eq!(single.plan(&[b("1", 0, 100), b("2", 101, 200)]), None);
}

#[test]
fn overlapping_blocks_are_planned_first() {
    // Two blocks overlapping by 1 ms; the third touches but does not overlap.
    assert_eq!(
        plan(&[b("1", 0, 10), b("2", 9, 20), b("3", 20, 30)]),
        "overlapping: 1,2"
    );
    // The newest block takes part when it overlaps.
    assert_eq!(
        plan(&[b("1", 0, 10), b("2", 10, 20), b("3", 15, 25)]),
        "overlapping: 2,3"
    );
    // A chain: 1 overlaps 2, 2 overlaps 3.
    assert_eq!(
        plan(&[b("1", 0, 10), b("2", 5, 20), b("3", 15, 25)]),
        "overlapping: 1,2,3"
    );
    // A long block overlaps blocks that do not overlap each other.
    assert_eq!(
        plan(&[
            b("5", 0, 180),
            b("6", 170, 280),
            b("7", 180, 210),
            b("8", 210, 270),
        ]),
        "overlapping: 5,6,7,8"
    );
    // Two separate overlapping pairs: the older pair first.
    assert_eq!(
        plan(&[b("1", 0, 5), b("2", 4, 10), b("3", 15, 20), b("4", 19, 25)]),
        "overlapping: 1,2"
    );
    // Overlaps win over a full window.
    assert_eq!(
        plan(&[
            b("1", 0, 10),
            b("2", 10, 20),
            b("3", 20, 30),
            b("4", 30, 40),
            b("5", 35, 45),
        ]),
        "overlapping: 4,5"
    );
}

#[test]
fn equal_start_times_order_by_ulid() {
    let blocks = [b("2", 0, 10), b("1", 0, 10)];
    assert_eq!(plan(&blocks), "overlapping: 1,2");
}

#[test]
fn without_vertical_compaction_overlaps_are_left_alone() {
    let planner = Planner::with_ranges(vec![10, 30, 90], false).expect("valid");
    let blocks = [b("1", 0, 10), b("2", 9, 20), b("3", 20, 30), b("4", 30, 40)];
    // The overlapping pair is in the first window, which is full: compacted by level.
    assert_eq!(
        planner.plan(&blocks).map(|c| c.reason),
        Some(Reason::Level { range: 30 })
    );
    assert_eq!(planner.plan(&blocks[..2]), None);
}

#[test]
fn a_window_holding_a_failed_block_is_skipped() {
    // Prometheus's `TestRangeWithFailedCompactionWontGetSelected`: ranges four and
    // three times apart, the second block failed an earlier compaction.
    let planner = Planner::with_ranges(vec![10, 30, 120, 360, 1080], true).expect("valid");
    let cases: [&[(i64, i64)]; 3] = [
        &[(0, 10), (10, 20), (20, 30), (30, 40)],
        &[(0, 10), (10, 20), (30, 40), (40, 50)],
        &[(0, 10), (10, 20), (20, 30), (30, 60), (60, 90), (90, 100)],
    ];
    for ranges in cases {
        let mut blocks: Vec<BlockInfo> = ranges
            .iter()
            .enumerate()
            .map(|(i, &(a, z))| b(&(i + 1).to_string(), a, z))
            .collect();
        // Without the failure each case plans a compaction including block "2".
        let healthy = planner.plan(&blocks).expect("plans without the failure");
        assert!(healthy.blocks.contains(&"2".to_string()), "{healthy:?}");
        blocks[1].compaction_failed = true;
        assert_eq!(planner.plan(&blocks), None, "{ranges:?}");
    }
}

#[test]
fn default_options_plan_two_hour_blocks_into_six_hours() {
    const H: i64 = 60 * 60 * 1000;
    let planner = Planner::new(&Options::default()).expect("valid");
    assert_eq!(planner.ranges(), [2 * H, 6 * H, 18 * H]);
    // Twelve 2 h blocks from midnight: the first 6 h window is compacted first.
    let blocks: Vec<BlockInfo> = (0..12)
        .map(|i| b(&format!("{i:02}"), i * 2 * H, (i + 1) * 2 * H))
        .collect();
    assert_eq!(
        planner.plan(&blocks),
        Some(Compaction {
            blocks: vec!["00".into(), "01".into(), "02".into()],
            reason: Reason::Level { range: 6 * H },
        })
    );
    // The whole dry run: the first three 6 h windows (the fourth holds the newest block),
    // then the 18 h window [0, 18h) they fill. Blocks 09 and 10 wait for the newest.
    let all = planner.plan_all(&blocks);
    let shapes: Vec<(usize, Reason)> = all.iter().map(|c| (c.blocks.len(), c.reason)).collect();
    assert_eq!(
        shapes,
        [
            (3, Reason::Level { range: 6 * H }),
            (3, Reason::Level { range: 6 * H }),
            (3, Reason::Level { range: 6 * H }),
            (3, Reason::Level { range: 18 * H }),
        ]
    );
    assert_eq!(all[3].blocks, ["planned-1", "planned-2", "planned-3"]);
}
