//! The head through the public API: classification of samples, restart replay,
//! truncation with WAL checkpointing, concurrent appenders, and the storage traits.

use std::sync::Arc;

use prometheus_client::registry::Registry;
use tsdb::labels::{Labels, MatchType, Matcher};
use tsdb::storage::LabelHints;
use tsdb::wal::SyncPolicy;
use tsdb::{AppendError, Db, Error, Head, Options};

use crate::util::{all_samples, assert_same_samples};

fn lbl(name: &str, pairs: &[(&str, &str)]) -> Labels {
    let mut v = vec![("__name__", name)];
    v.extend_from_slice(pairs);
    Labels::from_pairs(&v)
}

fn append_err(r: tsdb::Result<u64>) -> AppendError {
    match r {
        Err(Error::Append(e)) => e,
        other => panic!("expected an append error, got {other:?}"),
    }
}

#[test]
fn classifies_samples_like_prometheus() {
    let head = Head::new(&Options::default(), &mut Registry::default()).expect("head");
    let l = lbl("m", &[("a", "1")]);
    let mut app = head.appender();
    app.add(0, &l, 1000, 1.0).expect("first");
    app.commit_batch().expect("commit");

    let mut app = head.appender();
    // Same timestamp, same value: accepted silently.
    app.add(0, &l, 1000, 1.0)
        .expect("duplicate with same value is fine");
    // Same timestamp, other value.
    assert_eq!(
        append_err(app.add(0, &l, 1000, 2.0)),
        AppendError::DuplicateSampleForTimestamp
    );
    // Older timestamp.
    assert_eq!(
        append_err(app.add(0, &l, 999, 1.0)),
        AppendError::OutOfOrder
    );
    // More than half a block range behind the newest sample: out of bounds.
    assert_eq!(
        append_err(app.add(0, &lbl("other", &[]), 1000 - 3_600_001, 1.0)),
        AppendError::OutOfBounds
    );
    // Invalid label sets.
    assert_eq!(
        append_err(app.add(0, &Labels::empty(), 2000, 1.0)),
        AppendError::InvalidLabels
    );
    app.add(0, &l, 2000, 3.0).expect("newer");
    app.commit_batch().expect("commit");
    assert_eq!(head.metrics().out_of_order_samples.get(), 1);
    assert_eq!(head.metrics().out_of_bound_samples.get(), 1);
    let got: Vec<(i64, f64)> = all_samples(&head)
        .into_iter()
        .map(|(_, t, v)| (t, f64::from_bits(v)))
        .collect();
    assert_eq!(got, vec![(1000, 1.0), (2000, 3.0)]);
}

#[test]
fn rollback_discards_and_nothing_is_visible_before_commit() {
    let head = Head::new(&Options::default(), &mut Registry::default()).expect("head");
    let l = lbl("m", &[]);
    let mut app = head.appender();
    app.add(0, &l, 1, 1.0).expect("append");
    assert!(
        all_samples(&head).is_empty(),
        "uncommitted samples are invisible"
    );
    app.rollback_batch();
    assert!(all_samples(&head).is_empty());
    let mut app = head.appender();
    app.add(0, &l, 1, 1.0).expect("append after rollback");
    app.commit_batch().expect("commit");
    assert_eq!(all_samples(&head).len(), 1);
}

#[test]
fn restart_replays_everything_and_new_segment_is_started() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = Options {
        wal_segment_size: 32 * 1024,
        ..Options::default()
    };
    let written;
    {
        let db = Db::open(dir.path(), opts.clone(), &mut Registry::default()).expect("open");
        for i in 0..500i64 {
            let mut app = db.appender();
            for s in 0..30 {
                app.add(
                    0,
                    &lbl("restart", &[("s", &s.to_string())]),
                    i * 15_000,
                    (i * s) as f64,
                )
                .expect("append");
            }
            app.commit_batch().expect("commit");
        }
        written = all_samples(&db);
        db.close().expect("close");
    }
    assert_eq!(written.len(), 500 * 30);
    let segs_before = tsdb::wal::segments(&dir.path().join("wal")).expect("segments");
    assert!(
        segs_before.len() > 2,
        "small segments should have rolled over: {segs_before:?}"
    );
    let db = Db::open(dir.path(), opts, &mut Registry::default()).expect("reopen");
    assert_same_samples(&all_samples(&db), &written, "after restart");
    assert_eq!(db.head().num_series(), 30);
    // Appending continues after replay, with fresh refs that do not collide.
    let mut app = db.appender();
    app.add(0, &lbl("restart", &[("s", "new")]), 500 * 15_000, 1.0)
        .expect("append");
    app.add(0, &lbl("restart", &[("s", "0")]), 500 * 15_000, 1.0)
        .expect("append");
    app.commit_batch().expect("commit");
    assert_eq!(db.head().num_series(), 31);
    let segs_after = tsdb::wal::segments(&dir.path().join("wal")).expect("segments");
    assert!(
        segs_after.last() > segs_before.last(),
        "a reopened WAL writes a new segment"
    );
}

#[test]
fn truncation_drops_old_data_checkpoints_and_removes_segments() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = Options {
        wal_segment_size: 32 * 1024,
        ..Options::default()
    };
    let db = Db::open(dir.path(), opts.clone(), &mut Registry::default()).expect("open");
    // "old" series stop at t = 1h; "live" series go on to 3h.
    for i in 0..720i64 {
        let t = i * 15_000;
        let mut app = db.appender();
        for s in 0..10 {
            if t < 3_600_000 {
                app.add(0, &lbl("old", &[("s", &s.to_string())]), t, 1.0)
                    .expect("append");
            }
            app.add(0, &lbl("live", &[("s", &s.to_string())]), t, t as f64)
                .expect("append");
        }
        app.commit_batch().expect("commit");
    }
    let wal_dir = dir.path().join("wal");
    let before = tsdb::wal::segments(&wal_dir).expect("segments");
    let mint = 2 * 3_600_000;
    db.head().truncate(mint).expect("truncate");
    assert_eq!(
        db.head().num_series(),
        10,
        "series without data after mint are collected"
    );
    let after = tsdb::wal::segments(&wal_dir).expect("segments");
    assert!(
        after.first() > before.first(),
        "old segments deleted: {before:?} -> {after:?}"
    );
    let (_, cp) = tsdb::wal::last_checkpoint(&wal_dir)
        .expect("read dir")
        .expect("a checkpoint exists");
    assert!(
        after.first() == Some(&(cp + 1)),
        "segments resume after the checkpoint"
    );
    // Samples older than mint are gone from the head, out of bounds for appends.
    let mut app = db.appender();
    assert_eq!(
        append_err(app.add(0, &lbl("live", &[("s", "0")]), mint - 1, 0.0)),
        AppendError::OutOfBounds
    );
    drop(app);
    let in_head = all_samples(&db);
    assert!(in_head.iter().all(|s| s.0.contains("live")));
    // Whole chunks are dropped, so the head keeps samples from the chunk containing mint.
    let expected_min = in_head.iter().map(|s| s.1).min().expect("samples");
    assert!(expected_min <= mint && expected_min > mint - 2 * 3_600_000);
    db.close().expect("close");

    // Replay from checkpoint + remaining segments: live series, samples >= mint all there.
    let db = Db::open(dir.path(), opts, &mut Registry::default()).expect("reopen");
    let replayed = all_samples(&db);
    assert_eq!(db.head().num_series(), 10);
    let want: Vec<_> = in_head.iter().filter(|s| s.1 >= mint).cloned().collect();
    let got: Vec<_> = replayed.iter().filter(|s| s.1 >= mint).cloned().collect();
    assert_same_samples(&got, &want, "after checkpoint replay");
    assert!(replayed.iter().all(|s| s.0.contains("live")));
}

#[test]
fn concurrent_appenders_sharing_new_series_survive_replay() {
    // Many threads create and append to the same series concurrently; whichever commits
    // first, every acknowledged sample must come back after a restart.
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = Options {
        wal_sync: SyncPolicy::Never,
        ..Options::default()
    };
    let db = Arc::new(Db::open(dir.path(), opts.clone(), &mut Registry::default()).expect("open"));
    let threads: Vec<_> = (0..4i64)
        .map(|th| {
            let db = Arc::clone(&db);
            std::thread::spawn(move || {
                for i in 0..200i64 {
                    let mut app = db.appender();
                    for s in 0..20 {
                        // Distinct timestamps per thread so no sample is a duplicate.
                        let t = (i * 4 + th) * 1000;
                        // Another thread may have committed a newer sample: that is a
                        // legitimate out-of-order refusal, not a failure.
                        match app.add(0, &lbl("conc", &[("s", &s.to_string())]), t, t as f64) {
                            Ok(_) | Err(Error::Append(AppendError::OutOfOrder)) => {}
                            Err(e) => panic!("{e}"),
                        }
                    }
                    app.commit_batch().expect("commit");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("thread");
    }
    let before = all_samples(&*db);
    assert!(!before.is_empty());
    Arc::try_unwrap(db)
        .expect("sole owner")
        .close()
        .expect("close");
    let db = Db::open(dir.path(), opts, &mut Registry::default()).expect("reopen");
    assert_eq!(
        db.head().metrics().wal_replay_unknown_refs.get(),
        0,
        "a sample preceded its series record"
    );
    assert_same_samples(&all_samples(&db), &before, "after replay");
}

#[test]
fn querier_selects_by_matchers_and_time() {
    let head = Head::new(&Options::default(), &mut Registry::default()).expect("head");
    let mut app = head.appender();
    for (job, inst) in [("api", "a"), ("api", "b"), ("db", "a")] {
        for t in [100, 200, 300] {
            app.add(0, &lbl("up", &[("job", job), ("instance", inst)]), t, 1.0)
                .expect("append");
        }
    }
    app.add(0, &lbl("other", &[("job", "api")]), 500, 1.0)
        .expect("append");
    app.commit_batch().expect("commit");

    let q = head.querier(150, 250);
    let m = |k, n: &str, v: &str| Matcher::new(k, n, v).expect("matcher");
    let select = |ms: &[Matcher]| -> Vec<String> {
        use tsdb::storage::Querier;
        q.select(true, None, ms)
            .expect("select")
            .map(|s| s.expect("series").labels().to_string())
            .collect()
    };
    assert_eq!(
        select(&[
            m(MatchType::Equal, "__name__", "up"),
            m(MatchType::Equal, "job", "api")
        ])
        .len(),
        2
    );
    assert_eq!(
        select(&[
            m(MatchType::Equal, "__name__", "up"),
            m(MatchType::NotEqual, "job", "api")
        ]),
        vec![r#"{__name__="up", instance="a", job="db"}"#]
    );
    assert_eq!(
        select(&[
            m(MatchType::RegexMatch, "job", "a.*"),
            m(MatchType::Equal, "instance", "b")
        ])
        .len(),
        1
    );
    // `other` has no sample in [150, 250]: not returned.
    assert_eq!(select(&[m(MatchType::Equal, "__name__", "other")]).len(), 0);
    // Sorted by labels.
    let all = select(&[m(MatchType::RegexMatch, "__name__", ".+")]);
    let mut sorted = all.clone();
    sorted.sort();
    assert_eq!(all.len(), 3);
    assert_eq!(all, sorted);

    use tsdb::storage::Querier;
    let names: Vec<String> = q
        .label_names(&LabelHints::default(), &[])
        .expect("names")
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(names, ["__name__", "instance", "job"]);
    let jobs: Vec<String> = q
        .label_values(
            "job",
            &LabelHints::default(),
            &[m(MatchType::Equal, "instance", "a")],
        )
        .expect("values")
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(jobs, ["api", "db"]);
    // Samples are restricted to the querier's range.
    let series = q
        .select(true, None, &[m(MatchType::Equal, "job", "db")])
        .expect("select")
        .next()
        .expect("one")
        .expect("ok");
    let mut it = series.iterator();
    let mut ts = Vec::new();
    while it.next() == tsdb::chunkenc::ValueType::Float {
        ts.push(it.at().0);
    }
    assert_eq!(ts, [200]);
}

#[test]
fn series_handles_from_borrowed_pairs() {
    let head = Head::new(&Options::default(), &mut Registry::default()).expect("head");
    let pairs = [("__name__", "m"), ("a", "1")];
    assert!(head.series_by_pairs(pairs.into_iter()).is_none());
    let mut s = head
        .get_or_create_by_pairs(pairs.into_iter())
        .expect("create");
    assert_eq!(*s.labels(), lbl("m", &[("a", "1")]));
    // Found again by borrowed pairs and by owned labels: one series.
    let again = head.series_by_pairs(pairs.into_iter()).expect("found");
    assert!(Arc::ptr_eq(&s, &again));
    let mut app = head.appender();
    let r = app.append_to(&mut s, 1000, 1.0).expect("append");
    assert_eq!(
        app.add(0, &lbl("m", &[("a", "1")]), 2000, 2.0)
            .expect("add"),
        r
    );
    app.commit_batch().expect("commit");
    assert_eq!(head.num_series(), 1);

    // Invalid pairs are refused, not stored.
    for bad in [
        vec![],
        vec![("b", "1"), ("a", "1")],
        vec![("a", "1"), ("a", "2")],
        vec![("__name__", "m"), ("a", "")],
    ] {
        assert!(matches!(
            head.get_or_create_by_pairs(bad.clone().into_iter()),
            Err(Error::Append(AppendError::InvalidLabels))
        ));
    }
    assert_eq!(head.num_series(), 1);

    // A handle to a series that garbage collection removed appends to a new series with
    // the same labels, and the handle follows it.
    let mut app = head.appender();
    assert_eq!(
        append_err(app.append_to(&mut s, 1500, 0.0)),
        AppendError::OutOfOrder
    );
    drop(app);
    head.truncate(10_000).expect("truncate");
    assert_eq!(head.num_series(), 0);
    let old = Arc::clone(&s);
    let mut app = head.appender();
    app.append_to(&mut s, 20_000, 3.0).expect("append after gc");
    app.commit_batch().expect("commit");
    assert!(!Arc::ptr_eq(&old, &s));
    assert!(s.series_ref() > r);
    assert_eq!(head.num_series(), 1);
    assert!(Arc::ptr_eq(
        &s,
        &head.series_by_pairs(pairs.into_iter()).expect("recreated")
    ));
}
