//! Planner invariants over random block sets: what a planned compaction may contain
//! whatever the input, and that a dry run of the plan-compact loop ends without overlaps.

use std::collections::HashSet;

use compactor::{BlockInfo, Planner, Reason};
use proptest::prelude::*;

const RANGES: [i64; 5] = [10, 30, 90, 270, 810];

/// Random blocks, half the time like a real data directory (a time-ordered sequence
/// of aligned blocks of the first three ranges, with gaps), otherwise mostly aligned
/// blocks at random places (so windows fill up and overlaps are common) and some at
/// arbitrary offsets and lengths. Some have tombstones or a failed compaction.
fn arb_blocks() -> impl Strategy<Value = Vec<BlockInfo>> {
    let sequence = prop::collection::vec((0usize..3, 0i64..3), 0..24).prop_map(|v| {
        let mut t = 0;
        v.into_iter()
            .map(|(level, gap)| {
                let r = RANGES[level];
                let start = (t + r - 1).div_euclid(r) * r;
                t = start + r + gap * RANGES[0];
                (start, start + r)
            })
            .collect::<Vec<_>>()
    });
    let aligned = (0usize..3, 0i64..40).prop_map(|(level, slot)| {
        let r = RANGES[level];
        (slot * r, slot * r + r)
    });
    let arbitrary = (0i64..1200, 1i64..120).prop_map(|(start, len)| (start, start + len));
    let scattered = prop::collection::vec(prop_oneof![6 => aligned, 1 => arbitrary], 0..24);
    let ranges = prop_oneof![sequence, scattered];
    ranges
        .prop_flat_map(|ranges| {
            let n = ranges.len();
            let stats = (
                0u64..50,
                prop_oneof![3 => Just(0u64), 1 => 0u64..60],
                prop::bool::weighted(0.1),
            );
            (Just(ranges), prop::collection::vec(stats, n))
        })
        .prop_map(|(ranges, stats)| {
            ranges
                .into_iter()
                .zip(stats)
                .enumerate()
                .map(
                    |(i, ((min, max), (series, tombstones, failed)))| BlockInfo {
                        num_series: series,
                        num_tombstones: tombstones,
                        compaction_failed: failed,
                        ..BlockInfo::new(format!("b{i:02}"), min, max)
                    },
                )
                .collect()
        })
}

/// The blocks in planning order (minTime, then ULID).
fn sorted(blocks: &[BlockInfo]) -> Vec<&BlockInfo> {
    let mut s: Vec<&BlockInfo> = blocks.iter().collect();
    s.sort_by(|a, b| (a.min_time, &a.ulid).cmp(&(b.min_time, &b.ulid)));
    s
}

fn has_overlap(blocks: &[BlockInfo]) -> bool {
    blocks
        .iter()
        .enumerate()
        .any(|(i, a)| blocks[i + 1..].iter().any(|b| a.overlaps(b)))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn planned_groups_respect_the_rules(blocks in arb_blocks(), vertical in prop::bool::weighted(0.8)) {
        let planner = Planner::with_ranges(RANGES.to_vec(), vertical).expect("valid");
        let Some(c) = planner.plan(&blocks) else {
            // Nothing planned: with vertical compaction on, nothing overlaps.
            prop_assert!(!(vertical && has_overlap(&blocks)));
            return Ok(());
        };
        let order = sorted(&blocks);
        let newest = order.last().expect("a plan needs blocks");
        // Every ULID is an input, once, and the group is in planning order and
        // contiguous in it.
        let pos: Vec<usize> = c
            .blocks
            .iter()
            .map(|u| order.iter().position(|b| &b.ulid == u).expect("planned an input"))
            .collect();
        prop_assert!(!pos.is_empty());
        prop_assert!(pos.windows(2).all(|w| w[1] == w[0] + 1), "not contiguous: {:?}", pos);
        let group: Vec<&BlockInfo> = pos.iter().map(|&i| order[i]).collect();
        match c.reason {
            Reason::Overlapping => {
                prop_assert!(vertical);
                prop_assert!(group.len() >= 2);
                // A chain: each block starts before the latest end of those before it.
                let mut max = group[0].max_time;
                for b in &group[1..] {
                    prop_assert!(b.min_time < max, "{:?} does not overlap the run", b);
                    max = max.max(b.max_time);
                }
                // Nothing before the run overlaps anything.
                let before: Vec<BlockInfo> = order[..pos[0]].iter().map(|&b| b.clone()).collect();
                prop_assert!(!has_overlap(&before));
                if let Some(&b) = order.get(pos[pos.len() - 1] + 1) {
                    // The run ends where the next block starts after all of it.
                    prop_assert!(b.min_time >= max);
                }
            }
            Reason::Level { range } => {
                prop_assert!(RANGES[1..].contains(&range));
                prop_assert!(group.len() >= 2);
                prop_assert!(group.iter().all(|b| !b.compaction_failed));
                prop_assert!(!(vertical && has_overlap(&blocks)));
                // One aligned window holds the whole group: it never crosses a boundary.
                let t0 = group[0].min_time.div_euclid(range) * range;
                prop_assert!(group.iter().all(|b| t0 <= b.min_time && b.max_time <= t0 + range),
                    "group {:?} crosses the window [{}, {}]", group, t0, t0 + range);
                // Either the window is full or a block starting after it is not the newest.
                let (mint, maxt) = (group[0].min_time, group[group.len() - 1].max_time);
                let high = order[order.len() - 2].min_time;
                prop_assert!(maxt - mint == range || maxt <= high);
                prop_assert!(!group.iter().any(|b| b.ulid == newest.ulid), "newest block planned");
            }
            Reason::Tombstones => {
                prop_assert_eq!(group.len(), 1);
                let b = group[0];
                prop_assert!(b.ulid != newest.ulid, "newest block planned");
                prop_assert!(b.num_tombstones > 0);
                let big = b.max_time - b.min_time >= RANGES[RANGES.len() / 2];
                let ratio = b.num_tombstones as f64 / (b.num_series as f64 + 1.0) > 0.05;
                prop_assert!((big && ratio) || b.num_tombstones >= b.num_series);
            }
        }
    }

    #[test]
    fn the_plan_ignores_input_order(blocks in arb_blocks(), seed in any::<u64>()) {
        let planner = Planner::with_ranges(RANGES.to_vec(), true).expect("valid");
        let mut shuffled = blocks.clone();
        // A deterministic shuffle from the seed.
        let mut x = seed | 1;
        for i in (1..shuffled.len()).rev() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            shuffled.swap(i, (x % (i as u64 + 1)) as usize);
        }
        prop_assert_eq!(planner.plan(&blocks), planner.plan(&shuffled));
    }

    #[test]
    fn a_dry_run_ends_without_overlaps_or_work(blocks in arb_blocks()) {
        let planner = Planner::with_ranges(RANGES.to_vec(), true).expect("valid");
        let all = planner.plan_all(&blocks);
        // Replay the dry run: every compaction's inputs exist when it runs.
        let mut current: Vec<BlockInfo> = blocks.clone();
        for (n, c) in all.iter().enumerate() {
            let names: HashSet<&String> = c.blocks.iter().collect();
            prop_assert_eq!(names.len(), c.blocks.len());
            prop_assert_eq!(planner.plan(&current), Some(c.clone()));
            let inputs: Vec<BlockInfo> =
                current.iter().filter(|b| names.contains(&b.ulid)).cloned().collect();
            prop_assert_eq!(inputs.len(), c.blocks.len());
            current.retain(|b| !names.contains(&b.ulid));
            current.push(BlockInfo {
                num_series: inputs.iter().map(|b| b.num_series).sum(),
                level: inputs.iter().map(|b| b.level).max().expect("inputs") + 1,
                ..BlockInfo::new(
                    format!("planned-{}", n + 1),
                    inputs.iter().map(|b| b.min_time).min().expect("inputs"),
                    inputs.iter().map(|b| b.max_time).max().expect("inputs"),
                )
            });
        }
        prop_assert_eq!(planner.plan(&current), None);
        prop_assert!(!has_overlap(&current));
        // Samples never move: every original block's range is inside one final block.
        for b in &blocks {
            prop_assert!(current.iter().any(|f| f.min_time <= b.min_time && b.max_time <= f.max_time));
        }
    }
}
