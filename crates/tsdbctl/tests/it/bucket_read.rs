//! `analyze`, `dump` and `verify` with `--bucket`: on a `file://` bucket and on the real
//! S3 server (s3s-fs) they report exactly what they report on the data directory the
//! blocks were shipped from; damage to a bucket's object is found and named by its URL.

use std::path::Path;

use crate::fixtures::{fails_with, ok, s, s3_env, tsdbctl, tsdbctl_env};
use crate::inspect_util::churn_data;

/// A data directory with blocks (the database closed) and a `file://` bucket holding
/// them, shipped by `tsdbctl upload`.
fn shipped(tmp: &Path) -> (std::path::PathBuf, String) {
    let dir = tmp.join("data");
    let (db, _) = churn_data(&dir);
    db.close().expect("close");
    let url = format!("file://{}", tmp.join("bucket").display());
    ok(&tsdbctl(&["upload", s(&dir), "--bucket", &url]));
    (dir, url)
}

#[test]
fn bucket_blocks_read_like_the_directory_they_came_from() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (dir, url) = shipped(tmp.path());
    let d = s(&dir);

    let from_dir = ok(&tsdbctl(&["analyze", "--json", d]));
    let from_bucket = ok(&tsdbctl(&["analyze", "--json", "--bucket", &url]));
    assert_eq!(from_bucket, from_dir);
    let focused = ok(&tsdbctl(&[
        "analyze",
        "--json",
        "--match",
        "{job=\"y\"}",
        d,
    ]));
    assert_eq!(
        ok(&tsdbctl(&[
            "analyze",
            "--json",
            "--match",
            "{job=\"y\"}",
            "--bucket",
            &url
        ])),
        focused
    );

    for format in ["text", "openmetrics", "json"] {
        let blocks_only = ok(&tsdbctl(&["dump", "--no-head", "--format", format, d]));
        assert!(blocks_only.lines().count() >= 10, "{blocks_only}");
        let bucket = ok(&tsdbctl(&["dump", "--format", format, "--bucket", &url]));
        assert_eq!(bucket, blocks_only, "{format}");
    }

    let verified = ok(&tsdbctl(&["verify", d]));
    let bucket_verified = ok(&tsdbctl(&["verify", "--bucket", &url]));
    assert_eq!(bucket_verified, verified);
    assert!(verified.contains(" 0 errors"), "{verified}");

    // Exactly one of a directory and --bucket.
    let both = tsdbctl(&["verify", d, "--bucket", &url]);
    assert_eq!(both.status.code(), Some(2));
    let neither = tsdbctl(&["verify"]);
    assert_eq!(neither.status.code(), Some(2));
}

#[test]
fn verify_names_a_damaged_bucket_object_by_its_url() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (_, url) = shipped(tmp.path());
    let bucket_dir = tmp.path().join("bucket");
    let block = crate::fixtures::block_ids(&bucket_dir)
        .into_iter()
        .next()
        .expect("a block in the bucket");
    let segment = bucket_dir.join(&block).join("chunks/000001");
    let mut bytes = std::fs::read(&segment).expect("read segment");
    // A byte inside the first chunk's data (after the 8-byte segment header and the
    // chunk's length and encoding bytes).
    bytes[12] ^= 0x40;
    std::fs::write(&segment, bytes).expect("write segment");

    let out = tsdbctl(&["verify", "--bucket", &url]);
    fails_with(&out, "verification failed");
    let report = String::from_utf8_lossy(&out.stdout);
    let object = format!("{url}/{block}/chunks/000001");
    assert!(
        report
            .lines()
            .any(|l| l.contains(&format!("block {block}")) && l.contains(&object)),
        "{report}"
    );
    // Only the damaged block is reported; --block narrows to one.
    let one = tsdbctl(&["verify", "--bucket", &url, "--block", &block]);
    fails_with(&one, "verification failed");
}

#[test]
fn reads_blocks_from_s3() {
    let Some(s3) = tsdb::testutil::S3Server::start() else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("data");
    let (db, _) = churn_data(&dir);
    db.close().expect("close");
    let url = s3.url("blocks");
    let env = s3_env(&s3);
    let d = s(&dir);
    ok(&tsdbctl_env(&["upload", d, "--bucket", &url], &env));
    assert_eq!(
        ok(&tsdbctl_env(&["analyze", "--json", "--bucket", &url], &env)),
        ok(&tsdbctl(&["analyze", "--json", d]))
    );
    assert_eq!(
        ok(&tsdbctl_env(&["dump", "--bucket", &url], &env)),
        ok(&tsdbctl(&["dump", "--no-head", d]))
    );
    assert_eq!(
        ok(&tsdbctl_env(&["verify", "--bucket", &url], &env)),
        ok(&tsdbctl(&["verify", d]))
    );
}
