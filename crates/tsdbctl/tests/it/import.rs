//! `tsdbctl import` of a data directory written by `tsdb::Db` in Prometheus's layout
//! (blocks, and a WAL with a tombstone) into a data directory, a `file://` bucket and an
//! S3 server: every sample arrives once, the source is byte-for-byte unchanged, blocks
//! already there are skipped, and a locked source or output is refused.
//! The same against a directory the real Prometheus wrote is in the e2e package.

use std::path::Path;
use std::sync::Arc;

use tsdb::fileutil::DirLock;
use tsdb::labels::{MatchType, Matcher};

use crate::fixtures::{
    Sample, all_samples, block_ids, fails_with, fill, ok_json, open, s, s3_env, samples_in,
    snapshot, tsdbctl, tsdbctl_env,
};

const RANGE: i64 = 600_000;

/// A source directory: four 10 min blocks and 15 min in the WAL, with a tombstone over
/// part of `m{s="1"}` in the head. Returns every sample it serves.
fn source(dir: &Path) -> Vec<Sample> {
    let db = open(dir, RANGE);
    fill(&db, 3, 0, 55 * 60_000, 30_000, true);
    let sel = [
        Matcher::new(MatchType::Equal, "__name__", "m").expect("matcher"),
        Matcher::new(MatchType::Equal, "s", "1").expect("matcher"),
    ];
    assert_eq!(
        db.delete(45 * 60_000, 48 * 60_000, &sel).expect("delete"),
        1
    );
    assert_eq!(db.blocks().len(), 4);
    let samples = all_samples(&db);
    db.close().expect("close");
    assert!(Path::new(dir).join("wal").is_dir());
    samples
}

#[test]
fn imports_blocks_and_wal_into_a_data_dir_leaving_the_source_unchanged() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (src, out) = (tmp.path().join("prom"), tmp.path().join("ours"));
    let want = source(&src);
    let before = snapshot(&src);

    let args = [
        "import",
        s(&src),
        "--output",
        s(&out),
        "--block-duration",
        "10m",
    ];
    let rows = ok_json(&tsdbctl(&[&args[..], &["--json"]].concat()));
    let rows = rows.as_array().expect("rows");
    let from = |kind: &str| rows.iter().filter(|r| r["from"] == kind).count();
    assert_eq!(from("block"), 4, "{rows:?}");
    // The WAL's 15 min: [40m, 50m) and [50m, 55m).
    assert_eq!(from("wal"), 2, "{rows:?}");
    assert!(rows.iter().all(|r| r["imported"] == true), "{rows:?}");
    let last = rows.last().expect("a row");
    assert_eq!(last["minTime"], 50 * 60_000);
    assert_eq!(
        last["maxTime"],
        55 * 60_000 - 30_000 + 1,
        "ends after the last sample"
    );
    assert_eq!(snapshot(&src), before, "the source is unchanged");
    assert!(!out.join("lock").exists(), "the output's lock is released");
    assert_eq!(block_ids(&out).len(), 6);
    assert_eq!(
        samples_in(&out, RANGE),
        want,
        "every sample, the tombstone applied"
    );

    // Again: nothing is imported twice (the WAL's blocks are recognised by range and
    // counts).
    let rows = ok_json(&tsdbctl(&[&args[..], &["--json"]].concat()));
    let rows = rows.as_array().expect("rows");
    assert_eq!(rows.len(), 6);
    assert!(rows.iter().all(|r| r["imported"] == false), "{rows:?}");
    assert_eq!(block_ids(&out).len(), 6);
    assert_eq!(samples_in(&out, RANGE), want);
    assert_eq!(snapshot(&src), before, "the source is unchanged");
    let leftovers: Vec<_> = std::fs::read_dir(&out)
        .expect("read")
        .flatten()
        .map(|e| e.file_name())
        .filter(|n| n.to_string_lossy().contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // The table.
    let out2 = tmp.path().join("ours2");
    let text = crate::fixtures::ok(&tsdbctl(&[
        "import",
        s(&src),
        "--output",
        s(&out2),
        "--block-duration=10m",
    ]));
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("ULID") && lines[0].contains("FROM"),
        "{text}"
    );
    assert_eq!(lines.len(), 8, "{text}");
    assert!(lines[7].starts_with("imported 6 of 6 blocks"), "{text}");
}

#[test]
fn import_refuses_a_locked_source_or_output_and_changes_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (src, out) = (tmp.path().join("prom"), tmp.path().join("ours"));
    source(&src);
    // A stopped Prometheus leaves its lock file; a running one holds it.
    std::fs::write(src.join("lock"), b"").expect("lock file");
    let before = snapshot(&src);
    let held = DirLock::acquire(&src).expect("lock the source");
    let o = tsdbctl(&["import", s(&src), "--output", s(&out)]);
    fails_with(&o, "is locked (is Prometheus running on it?)");
    assert!(!out.exists(), "nothing written");
    drop(held);
    std::fs::write(src.join("lock"), b"").expect("lock file");

    // The output held open by a Db (as by a running tsdbd).
    let db = open(&out, RANGE);
    let out_before = snapshot(&out);
    let o = tsdbctl(&["import", s(&src), "--output", s(&out)]);
    fails_with(&o, "is in use (is tsdbd running on it?)");
    assert_eq!(snapshot(&out), out_before, "the output is unchanged");
    assert_eq!(snapshot(&src), before, "the source is unchanged");
    drop(db);

    // Missing target, both targets: bad usage.
    assert_eq!(tsdbctl(&["import", s(&src)]).status.code(), Some(2));
    let both = [
        "import",
        s(&src),
        "--output",
        "x",
        "--bucket",
        "file:///tmp/x",
    ];
    assert_eq!(tsdbctl(&both).status.code(), Some(2));
    // Not a data directory.
    fails_with(
        &tsdbctl(&["import", s(tmp.path()), "--output", s(&out)]),
        "is not a Prometheus data directory",
    );
}

/// The block ULIDs listed in a bucket.
fn bucket_blocks(url: &str) -> Vec<String> {
    let bucket: Arc<dyn tsdb::bucket::Bucket> =
        objstore::open(url, &objstore::Options::default()).expect("bucket");
    let listing = compactor::shipper::list_blocks(bucket.as_ref()).expect("list");
    assert!(listing.partial.is_empty(), "no partial uploads");
    let mut ids: Vec<String> = listing
        .blocks
        .iter()
        .map(|b| b.meta.ulid.to_string())
        .collect();
    ids.sort();
    ids
}

#[test]
fn imports_into_a_file_bucket() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let src = tmp.path().join("prom");
    source(&src);
    let before = snapshot(&src);
    let url = format!("file://{}", tmp.path().join("bucket").display());
    std::fs::create_dir_all(tmp.path().join("bucket")).expect("bucket dir");
    let args = [
        "import",
        s(&src),
        "--bucket",
        &url,
        "--block-duration",
        "10m",
        "--json",
    ];
    let rows = ok_json(&tsdbctl(&args));
    let mut ids: Vec<String> = rows
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r["ulid"].as_str().expect("ulid").to_owned())
        .collect();
    ids.sort();
    assert_eq!(ids.len(), 6);
    assert_eq!(bucket_blocks(&url), ids);
    assert_eq!(snapshot(&src), before, "the source is unchanged");
    // Again: everything is there already.
    let rows = ok_json(&tsdbctl(&args));
    let again = rows.as_array().expect("rows");
    assert!(again.iter().all(|r| r["imported"] == false), "{again:?}");
    assert_eq!(bucket_blocks(&url), ids);
}

#[test]
fn imports_into_s3() {
    let Some(s3) = tsdb::testutil::S3Server::start() else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let src = tmp.path().join("prom");
    let want = source(&src);
    let before = snapshot(&src);
    let url = s3.url("imported");
    let env = s3_env(&s3);
    let args = [
        "import",
        s(&src),
        "--bucket",
        &url,
        "--block-duration",
        "10m",
        "--json",
    ];
    let rows = ok_json(&tsdbctl_env(&args, &env));
    assert_eq!(rows.as_array().expect("rows").len(), 6);
    // The objects as s3s-fs stores them: every block with its meta.json.
    let stored = s3.bucket_dir().join("imported");
    let ids = block_ids(&stored);
    assert_eq!(ids.len(), 6, "{ids:?}");
    assert_eq!(snapshot(&src), before, "the source is unchanged");
    // Downloaded into a data directory, they hold every sample.
    let dl = tmp.path().join("dl");
    for id in &ids {
        copy(&stored.join(id), &dl.join(id));
    }
    assert_eq!(samples_in(&dl, RANGE), want);
}

fn copy(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read").flatten() {
        if e.path().is_dir() {
            copy(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).expect("copy");
        }
    }
}

/// Blocks written by Prometheus 2.x's tooling (`promtool` 2.42 `tsdb create-blocks-from
/// openmetrics`, a directory without a WAL) import with every sample.
#[test]
fn imports_blocks_written_by_prometheus_2() {
    let Some(bin) = tsdb::testutil::promtool_2_42_bin_dir() else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let (src, out) = (tmp.path().join("prom2"), tmp.path().join("ours"));
    let mut text = String::from("# TYPE om_metric gauge\n");
    let mut want: Vec<Sample> = Vec::new();
    for i in 0..3 {
        for k in 0..480 {
            let (t, v) = (1_700_000_000 + k * 30, k as f64 * 0.5 + f64::from(i));
            text.push_str(&format!("om_metric{{i=\"{i}\"}} {v} {t}\n"));
            want.push((
                format!("{{__name__=\"om_metric\", i=\"{i}\"}}"),
                t * 1000,
                v.to_bits(),
            ));
        }
    }
    text.push_str("# EOF\n");
    let input = tmp.path().join("input.om");
    std::fs::write(&input, text).expect("write input");
    tsdb::testutil::create_blocks_from_openmetrics(&bin, &input, &src);
    let before = snapshot(&src);
    let rows = ok_json(&tsdbctl(&[
        "import",
        s(&src),
        "--output",
        s(&out),
        "--json",
    ]));
    let rows = rows.as_array().expect("rows");
    assert!(rows.len() >= 2, "{rows:?}");
    assert!(rows.iter().all(|r| r["from"] == "block"), "{rows:?}");
    assert_eq!(samples_in(&out, 2 * 3_600_000), want);
    assert_eq!(snapshot(&src), before, "the source is unchanged");
}
