//! `tsdbctl compact`: a directory of many 10 min blocks becomes a few larger ones with
//! every sample kept; `--head` also cuts the head; a directory held open is refused.

use crate::fixtures::{
    all_samples, block_ids, fails_with, fill, ok, ok_json, open, s, samples_in, snapshot, tsdbctl,
};

const RANGE: i64 = 600_000;

#[test]
fn merges_small_blocks_keeping_every_sample() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("data");
    let db = open(&dir, RANGE);
    fill(&db, 3, 0, 3 * 3_600_000, 60_000, true);
    let want = all_samples(&db);
    let n = db.blocks().len();
    db.close().expect("close");
    assert!(n >= 15, "{n} blocks");

    let args = [
        "compact",
        s(&dir),
        "--min-block-duration",
        "10m",
        "--max-block-duration",
        "90m",
        "--json",
    ];
    let v = ok_json(&tsdbctl(&args));
    assert_eq!(v["blocksBefore"], n);
    let after = v["blocksAfter"].as_u64().expect("after") as usize;
    assert!(after < n / 2, "{n} blocks became {after}");
    let written = v["written"].as_array().expect("written");
    assert!(
        written.iter().any(|w| w["level"].as_u64() >= Some(3)),
        "merged twice into 90 min blocks: {v}"
    );
    assert_eq!(block_ids(&dir).len(), after);
    assert_eq!(samples_in(&dir, RANGE), want, "every sample kept");

    // Nothing left to do.
    let text = ok(&tsdbctl(&args[..6]));
    assert!(text.starts_with("nothing to compact"), "{text}");
}

#[test]
fn head_flag_cuts_the_head_first() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("data");
    let db = open(&dir, RANGE);
    // 55 min in the head, no block yet.
    fill(&db, 2, 0, 55 * 60_000, 60_000, false);
    let want = all_samples(&db);
    db.close().expect("close");
    let args = ["compact", s(&dir), "--min-block-duration", "10m"];
    let text = ok(&tsdbctl(&args));
    assert!(text.starts_with("nothing to compact: 0 blocks"), "{text}");
    let text = ok(&tsdbctl(&[&args[..], &["--head"]].concat()));
    assert!(text.starts_with("ULID"), "{text}");
    assert!(!block_ids(&dir).is_empty());
    assert_eq!(samples_in(&dir, RANGE), want, "every sample kept");
}

#[test]
fn compact_refuses_a_directory_in_use() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("data");
    let db = open(&dir, RANGE);
    fill(&db, 2, 0, 3_600_000, 60_000, true);
    let before = snapshot(&dir);
    fails_with(
        &tsdbctl(&["compact", s(&dir), "--min-block-duration", "10m"]),
        "is in use (is tsdbd running on it?)",
    );
    assert_eq!(snapshot(&dir), before, "unchanged");
    drop(db);
    assert_eq!(
        tsdbctl(&["compact", s(&dir), "--max-block-duration", "2x"])
            .status
            .code(),
        Some(2)
    );
}
