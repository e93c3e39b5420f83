//! `tsdbctl delete`: the matched series lose their samples in the range, in blocks and
//! in the head, and nothing else does; with `--rewrite` no block keeps tombstones; a
//! directory held open is refused.

use std::path::Path;

use crate::fixtures::{
    Sample, all_samples, fails_with, fill, ok, ok_json, open, s, samples_in, snapshot, tsdbctl,
};

const RANGE: i64 = 600_000;

/// 55 min of `m{s="0".."2"}` and `other`: blocks up to 40 min, the rest in the head.
fn data(dir: &Path) -> Vec<Sample> {
    let db = open(dir, RANGE);
    fill(&db, 3, 0, 55 * 60_000, 30_000, true);
    let all = all_samples(&db);
    db.close().expect("close");
    all
}

/// `all` without the samples of `series` in `[mint, maxt]`.
fn without(all: &[Sample], series: &str, mint: i64, maxt: i64) -> Vec<Sample> {
    all.iter()
        .filter(|(l, t, _)| !(l == series && (mint..=maxt).contains(t)))
        .cloned()
        .collect()
}

fn tombstoned_blocks(dir: &Path) -> usize {
    let db = open(dir, RANGE);
    let n = db
        .blocks()
        .iter()
        .filter(|b| !b.tombstones().is_empty())
        .count();
    db.close().expect("close");
    n
}

#[test]
fn deletes_the_matched_series_in_the_range_only() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("data");
    let all = data(&dir);
    // 15 min to 45 min: three blocks and the head. Unix seconds and RFC 3339.
    let v = ok_json(&tsdbctl(&[
        "delete",
        s(&dir),
        "--match",
        "m{s=\"1\"}",
        "--min-time",
        "900",
        "--max-time",
        "1970-01-01T00:45:00Z",
        "--json",
    ]));
    // Blocks [10,20), [20,30), [30,40) and the head.
    assert_eq!(v["tombstonedSeries"], 4, "{v}");
    let want = without(&all, "{__name__=\"m\", s=\"1\"}", 900_000, 2_700_000);
    assert!(want.len() < all.len());
    assert_eq!(samples_in(&dir, RANGE), want);
    assert_eq!(tombstoned_blocks(&dir), 3);

    // Two selectors, whole time range, with the blocks rewritten.
    let text = ok(&tsdbctl(&[
        "delete",
        s(&dir),
        "--match",
        "other",
        "--match",
        "{__name__=\"m\", s=~\"2|9\"}",
        "--rewrite",
    ]));
    assert!(text.contains("REWRITTEN"), "{text}");
    let want: Vec<Sample> = want
        .into_iter()
        .filter(|(l, _, _)| l.contains("s=\"0\"") && l.contains("\"m\"") || l.contains("s=\"1\""))
        .collect();
    assert_eq!(samples_in(&dir, RANGE), want);
    assert_eq!(tombstoned_blocks(&dir), 0, "--rewrite leaves no tombstones");
}

#[test]
fn rewrite_applies_the_new_tombstones_at_once() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("data");
    let all = data(&dir);
    let v = ok_json(&tsdbctl(&[
        "delete",
        s(&dir),
        "--match",
        "m{s=\"0\"}",
        "--max-time",
        "1200",
        "--rewrite",
        "--json",
    ]));
    let rewritten = v["rewritten"].as_array().expect("rewritten");
    // The range ends on 20 min inclusive: block [20, 30) loses its first sample too.
    assert_eq!(
        rewritten.len(),
        3,
        "blocks [0,10), [10,20) and [20,30): {v}"
    );
    assert_eq!(tombstoned_blocks(&dir), 0);
    let want = without(&all, "{__name__=\"m\", s=\"0\"}", i64::MIN, 1_200_000);
    assert_eq!(samples_in(&dir, RANGE), want);
}

#[test]
fn delete_refuses_a_directory_in_use_and_bad_input() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("data");
    data(&dir);
    let db = open(&dir, RANGE);
    let before = snapshot(&dir);
    fails_with(
        &tsdbctl(&["delete", s(&dir), "--match", "m"]),
        "is in use (is tsdbd running on it?)",
    );
    assert_eq!(snapshot(&dir), before, "unchanged");
    drop(db);
    fails_with(
        &tsdbctl(&["delete", s(&dir), "--match", "rate(m[5m])"]),
        "invalid series selector",
    );
    assert_eq!(tsdbctl(&["delete", s(&dir)]).status.code(), Some(2));
    assert_eq!(
        tsdbctl(&["delete", s(&dir), "--match", "m", "--min-time", "yesterday"])
            .status
            .code(),
        Some(2)
    );
}
