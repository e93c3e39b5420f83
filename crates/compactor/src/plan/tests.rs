//! Unit tests of the planner's internals: window splitting and the overlap scan.
//! The planner's behaviour as a whole is tested in `tests/it/plan.rs`.

use super::*;

fn blocks(ranges: &[(i64, i64)]) -> Vec<BlockInfo> {
    ranges
        .iter()
        .enumerate()
        .map(|(i, &(a, b))| BlockInfo::new(format!("{i}"), a, b))
        .collect()
}

/// The groups `split_by_range` makes, as ranges of the blocks.
fn split(ranges: &[(i64, i64)], window: i64) -> Vec<Vec<(i64, i64)>> {
    let bs = blocks(ranges);
    let refs: Vec<&BlockInfo> = bs.iter().collect();
    split_by_range(&refs, window)
        .into_iter()
        .map(|g| refs[g].iter().map(|b| (b.min_time, b.max_time)).collect())
        .collect()
}

#[test]
fn split_by_range_groups_blocks_by_aligned_window() {
    // (window, blocks, expected groups); the same situations as Prometheus's
    // `TestSplitByRange`, with other numbers.
    type Case = (i64, &'static [(i64, i64)], &'static [&'static [(i64, i64)]]);
    let cases: &[Case] = &[
        // One small block at the start of a window.
        (100, &[(0, 25)], &[&[(0, 25)]]),
        // A block filling its window exactly.
        (100, &[(0, 100)], &[&[(0, 100)]]),
        // Blocks inside one window, overlapping or not, are one group.
        (
            100,
            &[(0, 25), (20, 40), (50, 100)],
            &[&[(0, 25), (20, 40), (50, 100)]],
        ),
        // Blocks in three different windows; a block ending on a window's end belongs
        // to it.
        (
            100,
            &[(110, 150), (210, 220), (220, 300), (2000, 2001)],
            &[&[(110, 150)], &[(210, 220), (220, 300)], &[(2000, 2001)]],
        ),
        // A block crossing a window boundary is dropped; the next block starts a group.
        (100, &[(80, 120), (120, 130)], &[&[(120, 130)]]),
        // A block twice the window long is dropped.
        (
            50,
            &[(0, 100), (100, 150), (150, 200)],
            &[&[(100, 150)], &[(150, 200)]],
        ),
        // Negative timestamps: windows are aligned by floor division.
        (100, &[(-30, -10)], &[&[(-30, -10)]]),
        (
            100,
            &[(-100, -80), (-30, -10)],
            &[&[(-100, -80), (-30, -10)]],
        ),
        (
            100,
            &[(-100, -80), (-30, -10), (0, 40)],
            &[&[(-100, -80), (-30, -10)], &[(0, 40)]],
        ),
    ];
    for (window, input, want) in cases {
        let want: Vec<Vec<(i64, i64)>> = want.iter().map(|g| g.to_vec()).collect();
        assert_eq!(
            split(input, *window),
            want,
            "window {window}, blocks {input:?}"
        );
    }
}

#[test]
fn split_by_range_survives_extreme_timestamps() {
    let got = split(&[(i64::MIN, i64::MIN + 1), (i64::MAX - 1, i64::MAX)], 3);
    assert_eq!(
        got,
        [
            vec![(i64::MIN, i64::MIN + 1)],
            vec![(i64::MAX - 1, i64::MAX)]
        ]
    );
}

#[test]
fn overlapping_run_is_contiguous_and_first() {
    let run = |ranges: &[(i64, i64)]| {
        let bs = blocks(ranges);
        let refs: Vec<&BlockInfo> = bs.iter().collect();
        overlapping_run(&refs)
    };
    assert_eq!(run(&[]), None);
    assert_eq!(run(&[(0, 10)]), None);
    assert_eq!(run(&[(0, 10), (10, 20)]), None);
    assert_eq!(run(&[(0, 10), (9, 20), (20, 30)]), Some(0..2));
    // A long block makes later ones overlap it even when they do not overlap each other.
    assert_eq!(run(&[(0, 100), (10, 20), (30, 40), (100, 110)]), Some(0..3));
    // Only the first run.
    assert_eq!(run(&[(0, 10), (5, 10), (20, 30), (25, 30)]), Some(0..2));
    assert_eq!(run(&[(0, 10), (10, 20), (15, 30)]), Some(1..3));
}

#[test]
fn with_ranges_rejects_empty_and_non_positive_ranges() {
    assert!(matches!(
        Planner::with_ranges(vec![], true),
        Err(Error::InvalidOptions { name: "ranges", .. })
    ));
    assert!(matches!(
        Planner::with_ranges(vec![20, 0], true),
        Err(Error::InvalidOptions { name: "ranges", .. })
    ));
    assert_eq!(
        Planner::with_ranges(vec![20, 60], false)
            .expect("valid")
            .ranges(),
        [20, 60]
    );
}
