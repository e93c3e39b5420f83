//! A `Db` with blocks: the head's oldest range becomes a block, queries see head ∪
//! blocks exactly once, restarts (also right after a block was written but before the WAL
//! was truncated) neither lose nor duplicate samples, and a damaged block is left out
//! while the rest is served.

use std::path::Path;

use prometheus_client::registry::Registry;
use tsdb::chunkenc::{SampleIterator, ValueType};
use tsdb::labels::{Labels, MatchType, Matcher};
use tsdb::{Db, Options};

use crate::util::{Sample, all_samples, assert_same_samples};

/// Ten-minute blocks so that an hour of data makes several.
const RANGE: i64 = 600_000;

fn options() -> Options {
    Options {
        block_range: RANGE,
        ..Options::default()
    }
}

fn open(dir: &Path) -> Db {
    Db::open(dir, options(), &mut Registry::default()).expect("open db")
}

/// Appends `series` series with a sample every 15 s in `[from, to)`; returns the model.
fn fill(db: &Db, series: usize, from: i64, to: i64) -> Vec<Sample> {
    let labels: Vec<Labels> = (0..series)
        .map(|s| {
            Labels::from_pairs(&[
                ("__name__", "db_blocks_metric"),
                ("series", &format!("{s:03}")),
            ])
        })
        .collect();
    let mut model = Vec::new();
    // Time-major, like scrapes: the head refuses samples far behind its newest one.
    for t in (from..to).step_by(15_000) {
        let mut app = db.appender();
        for (s, l) in labels.iter().enumerate() {
            let v = (t / 15_000 + s as i64) as f64 * 0.5;
            app.add(0, l, t, v).expect("add");
            model.push((l.to_string(), t, v.to_bits()));
        }
        app.commit_batch().expect("commit");
    }
    model.sort();
    model
}

fn head_samples_before(db: &Db, t: i64) -> usize {
    all_samples(db.head()).iter().filter(|s| s.1 < t).count()
}

#[test]
fn head_becomes_blocks_and_restarts_keep_every_sample_once() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("data");
    let model = {
        let db = open(&dir);
        let model = fill(&db, 20, 0, 3_600_000);
        let written = db.compact_head().expect("compact head");
        // An hour of 10-minute ranges: blocks until the head spans at most 1.5 ranges
        // (the last sample is at 59m45s, so the head keeps [50m, 60m)).
        assert_eq!(written.len(), 5, "{written:?}");
        for (i, m) in written.iter().enumerate() {
            assert_eq!(m.min_time, i as i64 * RANGE, "block {i} start");
            assert_eq!(m.max_time, (i as i64 + 1) * RANGE, "block {i} end");
            assert_eq!(m.stats.num_series, 20);
            assert_eq!(m.stats.num_samples, 20 * 40);
            assert_eq!(m.compaction.level, 1);
        }
        assert_eq!(db.blocks().len(), 5);
        assert_eq!(db.head().min_time(), 5 * RANGE);
        assert_eq!(head_samples_before(&db, 5 * RANGE), 0, "head truncated");
        assert!(!db.head().compactable());
        assert_same_samples(&all_samples(&db), &model, "after head compaction");
        // A narrow query inside one block and one across block and head.
        let q = all_samples_in(&db, RANGE + 1, 2 * RANGE - 1);
        let want: Vec<_> = model
            .iter()
            .filter(|s| s.1 > RANGE && s.1 < 2 * RANGE)
            .cloned()
            .collect();
        assert_same_samples(&q, &want, "inside one block");
        db.close().expect("close");
        model
    };
    let db = open(&dir);
    assert_eq!(db.blocks().len(), 5);
    assert_eq!(
        head_samples_before(&db, 5 * RANGE),
        0,
        "replay skips persisted samples"
    );
    assert_same_samples(&all_samples(&db), &model, "after restart");
    let more = fill(&db, 20, 3_600_000, 4_200_000);
    assert_eq!(db.compact_head().expect("compact").len(), 1);
    let mut want = model;
    want.extend(more);
    want.sort();
    assert_same_samples(&all_samples(&db), &want, "after more data");
}

/// Every sample a querier over `[mint, maxt]` returns, sorted like `all_samples`.
fn all_samples_in(db: &Db, mint: i64, maxt: i64) -> Vec<Sample> {
    let querier = tsdb::storage::Queryable::querier(db, mint, maxt).expect("querier");
    let all = Matcher::new(MatchType::RegexMatch, "__name__", ".+").expect("matcher");
    let mut out = Vec::new();
    for s in querier.select(true, None, &[all]).expect("select") {
        let s = s.expect("series");
        let mut it = s.iterator();
        while it.next() == ValueType::Float {
            let (t, v) = it.at();
            out.push((s.labels().to_string(), t, v.to_bits()));
        }
        assert!(it.err().is_none());
    }
    out
}

#[test]
fn crash_after_writing_a_block_before_truncating_the_wal() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let model = {
        let db = open(&a);
        let model = fill(&db, 5, 0, 1_800_000);
        db.close().expect("close");
        model
    };
    // `b` is `a` before compaction: the full WAL.
    copy_dir(&a, &b);
    {
        let db = open(&a);
        assert_eq!(db.compact_head().expect("compact").len(), 2);
        db.close().expect("close");
    }
    // Give `b` the blocks but not the truncated WAL: the state of a crash in between.
    for e in std::fs::read_dir(&a).expect("read dir").flatten() {
        if e.file_name().to_str().is_some_and(|n| n.len() == 26) {
            copy_dir(&e.path(), &b.join(e.file_name()));
        }
    }
    let db = open(&b);
    assert_eq!(db.blocks().len(), 2);
    assert_eq!(
        head_samples_before(&db, 2 * RANGE),
        0,
        "no sample both in a block and the head"
    );
    assert_same_samples(&all_samples(&db), &model, "after the crash");
}

#[test]
fn a_damaged_block_is_left_out_and_the_rest_is_served() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("data");
    let model = {
        let db = open(&dir);
        let model = fill(&db, 3, 0, 2_400_000);
        assert_eq!(db.compact_head().expect("compact").len(), 3);
        db.close().expect("close");
        model
    };
    let first = open(&dir).blocks()[0].dir().to_path_buf();
    let index = first.join("index");
    let len = std::fs::metadata(&index).expect("index").len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&index)
        .and_then(|f| f.set_len(len / 2))
        .expect("truncate index");
    let db = open(&dir);
    assert_eq!(db.blocks().len(), 2);
    let damaged = db.damaged_blocks();
    assert_eq!(damaged.len(), 1);
    assert_eq!(damaged[0].0, first);
    let name = first.file_name().and_then(|n| n.to_str()).expect("name");
    assert!(
        damaged[0].1.contains(name) && damaged[0].1.contains("index"),
        "{}",
        damaged[0].1
    );
    assert_eq!(db.metrics().block_corruptions.get(), 1);
    let want: Vec<_> = model.into_iter().filter(|s| s.1 >= RANGE).collect();
    assert_same_samples(&all_samples(&db), &want, "the intact block and the head");
}

#[test]
fn delete_hides_samples_in_blocks_and_head_across_restarts() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("data");
    let db = open(&dir);
    let model = fill(&db, 4, 0, 2_400_000);
    db.compact_head().expect("compact");
    let m = Matcher::new(MatchType::Equal, "series", "001").expect("matcher");
    // From inside the first block to the head.
    let n = db.delete(300_000, 2_000_000, &[m]).expect("delete");
    assert!(n >= 2, "series touched in blocks and head: {n}");
    let want: Vec<_> = model
        .iter()
        .filter(|s| !(s.0.contains("\"001\"") && s.1 >= 300_000 && s.1 <= 2_000_000))
        .cloned()
        .collect();
    assert_same_samples(&all_samples(&db), &want, "after delete");
    db.close().expect("close");
    let db = open(&dir);
    assert_same_samples(&all_samples(&db), &want, "after restart");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read dir").flatten() {
        let p = e.path();
        if e.file_name() == "lock" {
            continue;
        }
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).expect("copy");
        }
    }
}
