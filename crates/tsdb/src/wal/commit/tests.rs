//! Tests of group commit.

use std::collections::HashMap;
use std::time::Duration;

use super::*;
use crate::wal::tests::read_all;
use crate::wal::writer::Fault;
use crate::wal::{WalOptions, segments};

fn spawn(dir: &std::path::Path, policy: SyncPolicy) -> (WalWriter, WalMetrics) {
    let m = WalMetrics::unregistered();
    let opts = WalOptions {
        segment_size: 4 * crate::wal::PAGE_SIZE,
        compression: true,
    };
    let wal = Wal::open(dir, opts, m.clone()).unwrap();
    (WalWriter::spawn(wal, policy), m)
}

/// A record naming its thread, commit and position in the commit.
fn rec(thread: u32, commit: u32, part: u32) -> Vec<u8> {
    let mut r = Vec::new();
    r.extend_from_slice(&thread.to_be_bytes());
    r.extend_from_slice(&commit.to_be_bytes());
    r.extend_from_slice(&part.to_be_bytes());
    r.resize(12 + (commit as usize * 37) % 900, b'x');
    r
}

fn parse(r: &[u8]) -> (u32, u32, u32) {
    let n = |i: usize| u32::from_be_bytes(r[i..i + 4].try_into().unwrap());
    (n(0), n(4), n(8))
}

#[test]
fn concurrent_commits_are_grouped_complete_and_ordered() {
    const THREADS: u32 = 8;
    const COMMITS: u32 = 150;
    let dir = tempfile::tempdir().unwrap();
    let (w, m) = spawn(dir.path(), SyncPolicy::Always);
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let w = w.clone();
            s.spawn(move || {
                for c in 0..COMMITS {
                    let parts = 1 + c % 3;
                    w.commit((0..parts).map(|p| rec(t, c, p)).collect())
                        .unwrap();
                }
            });
        }
    });
    w.close().unwrap();
    let recs = read_all(dir.path()).unwrap();
    let want: u32 = (0..COMMITS).map(|c| 1 + c % 3).sum::<u32>() * THREADS;
    assert_eq!(recs.len() as u32, want);
    // Each thread's commits in order, each commit's records contiguous and in order.
    let mut next: HashMap<u32, (u32, u32)> = HashMap::new();
    let mut open: Option<(u32, u32)> = None;
    for r in &recs {
        let (t, c, p) = parse(r);
        let expect = next.entry(t).or_insert((0, 0));
        assert_eq!((c, p), *expect, "thread {t}");
        if p > 0 {
            assert_eq!(open, Some((t, c)), "commit records are contiguous");
        }
        open = Some((t, c));
        *expect = if p + 1 == 1 + c % 3 {
            (c + 1, 0)
        } else {
            (c, p + 1)
        };
    }
    assert_eq!(
        m.group_commit_requests_total.get(),
        u64::from(THREADS * COMMITS)
    );
    assert_eq!(m.group_commit_records_total.get(), u64::from(want));
    let (requests, groups, fsyncs) = (
        m.group_commit_requests_total.get(),
        m.group_commits_total.get(),
        m.fsyncs_total.get(),
    );
    eprintln!("{requests} commits in {groups} groups with {fsyncs} fsyncs");
    assert!(fsyncs <= groups + segments(dir.path()).unwrap().len() as u64);
    assert!(
        requests > groups,
        "groups formed: {requests} commits, {groups} groups"
    );
}

#[test]
fn commits_after_close_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (w, _) = spawn(dir.path(), SyncPolicy::Never);
    let w2 = w.clone();
    w.commit(vec![b"a".to_vec()]).unwrap();
    w.close().unwrap();
    assert!(matches!(w2.commit(vec![b"b".to_vec()]), Err(Error::Closed)));
    assert!(matches!(w2.with_wal(|_| ()), Err(Error::Closed)));
    w2.close().unwrap();
    assert_eq!(read_all(dir.path()).unwrap(), vec![b"a".to_vec()]);
}

#[test]
fn failed_fsync_fails_the_group_and_every_later_commit() {
    let dir = tempfile::tempdir().unwrap();
    let (w, m) = spawn(dir.path(), SyncPolicy::Always);
    w.commit(vec![b"durable".to_vec()]).unwrap();
    w.with_wal(|wal| wal.fault = Some(Fault::Sync)).unwrap();
    let err = w.commit(vec![b"lost".to_vec()]).unwrap_err();
    assert!(err.to_string().contains("injected fsync failure"), "{err}");
    w.with_wal(|wal| wal.fault = None).unwrap();
    // The disk "works" again, but nothing is acknowledged after a failed fsync.
    assert!(w.commit(vec![b"later".to_vec()]).is_err());
    assert!(m.writes_failed_total.get() >= 1);
    assert!(w.close().is_err(), "close reports the failed state");

    // The fix is a fresh WAL (after a replay has repaired the tail).
    let dir2 = tempfile::tempdir().unwrap();
    let (w, _) = spawn(dir2.path(), SyncPolicy::Always);
    w.with_wal(|wal| wal.fault = Some(Fault::Write)).unwrap();
    assert!(w.commit(vec![b"x".to_vec()]).is_err());
    let fresh = Wal::open(
        dir2.path(),
        WalOptions::default(),
        WalMetrics::unregistered(),
    )
    .unwrap();
    w.with_wal(move |wal| *wal = fresh).unwrap();
    w.commit(vec![b"y".to_vec()]).unwrap();
    w.close().unwrap();
}

#[test]
fn failed_write_fails_every_commit_of_the_group() {
    let dir = tempfile::tempdir().unwrap();
    let (w, _) = spawn(dir.path(), SyncPolicy::Never);
    w.with_wal(|wal| wal.fault = Some(Fault::Write)).unwrap();
    let results: Vec<Result<()>> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..4u32)
            .map(|t| {
                let w = w.clone();
                s.spawn(move || w.commit(vec![rec(t, 0, 0)]))
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(results.iter().all(Result::is_err));
}

#[test]
fn with_wal_runs_between_groups() {
    let dir = tempfile::tempdir().unwrap();
    let (w, _) = spawn(dir.path(), SyncPolicy::Always);
    w.commit(vec![b"one".to_vec()]).unwrap();
    assert_eq!(w.with_wal(|wal| wal.next_segment().unwrap()).unwrap(), 1);
    w.commit(vec![b"two".to_vec()]).unwrap();
    w.with_wal(|wal| wal.truncate(1).unwrap()).unwrap();
    w.close().unwrap();
    assert_eq!(segments(dir.path()).unwrap(), vec![1]);
    assert_eq!(read_all(dir.path()).unwrap(), vec![b"two".to_vec()]);
}

#[test]
fn interval_policy_syncs_when_idle() {
    let dir = tempfile::tempdir().unwrap();
    let (w, m) = spawn(dir.path(), SyncPolicy::Interval(Duration::from_millis(30)));
    w.commit(vec![b"a".to_vec()]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while m.fsyncs_total.get() == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(m.fsyncs_total.get() >= 1, "the idle writer fsynced");
    let before = m.fsyncs_total.get();
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(m.fsyncs_total.get(), before, "no fsync without new data");
    drop(w); // Dropping the last handle closes the WAL too.
    assert_eq!(read_all(dir.path()).unwrap(), vec![b"a".to_vec()]);
}
