//! `tsdbctl upload` to a `file://` bucket: every block lands with its `meta.json` and in
//! the shipper's record (`thanos.shipper.json`), a second run uploads nothing, `tsdbctl
//! list --bucket` shows them in both places, and a directory held open is refused.

use std::sync::Arc;

use crate::fixtures::{block_ids, fails_with, fill, ok, ok_json, open, s, tsdbctl};

#[test]
fn uploads_every_block_once_with_the_shippers_record() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("data");
    let db = open(&dir, 600_000);
    fill(&db, 2, 0, 45 * 60_000, 60_000, true);
    db.close().expect("close");
    let ids = block_ids(&dir);
    assert_eq!(ids.len(), 3);
    std::fs::create_dir_all(tmp.path().join("bucket")).expect("bucket dir");
    let url = format!("file://{}", tmp.path().join("bucket").display());

    let v = ok_json(&tsdbctl(&["upload", s(&dir), "--bucket", &url, "--json"]));
    assert_eq!(v["uploaded"], serde_json::json!(ids));
    assert!(v["objects"].as_u64() >= Some(4 * 3), "{v}");
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("thanos.shipper.json")).expect("record"))
            .expect("record JSON");
    assert_eq!(record["uploaded"], serde_json::json!(ids), "{record}");
    let bucket: Arc<dyn tsdb::bucket::Bucket> =
        objstore::open(&url, &objstore::Options::default()).expect("bucket");
    let listing = compactor::shipper::list_blocks(bucket.as_ref()).expect("list");
    let mut listed: Vec<String> = listing
        .blocks
        .iter()
        .map(|b| b.meta.ulid.to_string())
        .collect();
    listed.sort();
    assert_eq!(listed, ids);
    assert!(!dir.join("lock").exists(), "the lock is released");

    // A second upload ships nothing.
    let v = ok_json(&tsdbctl(&["upload", s(&dir), "--bucket", &url, "--json"]));
    assert_eq!(v["uploaded"], serde_json::json!([]), "{v}");
    assert_eq!(v["objects"], 0);
    let text = ok(&tsdbctl(&["upload", s(&dir), "--bucket", &url]));
    assert!(text.starts_with("uploaded 0 blocks"), "{text}");

    // `list --bucket` sees them in both places.
    let rows = ok_json(&tsdbctl(&["list", "--json", "--bucket", &url, s(&dir)]));
    let rows = rows.as_array().expect("rows");
    assert_eq!(rows.len(), 3);
    assert!(
        rows.iter().all(|r| r["location"] == "local+bucket"),
        "{rows:?}"
    );
}

#[test]
fn upload_refuses_a_directory_in_use() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("data");
    let db = open(&dir, 600_000);
    fill(&db, 2, 0, 45 * 60_000, 60_000, true);
    std::fs::create_dir_all(tmp.path().join("bucket")).expect("bucket dir");
    let url = format!("file://{}", tmp.path().join("bucket").display());
    let o = tsdbctl(&["upload", s(&dir), "--bucket", &url]);
    fails_with(&o, "is in use (is tsdbd running on it?)");
    assert!(!dir.join("thanos.shipper.json").exists());
    let in_bucket = std::fs::read_dir(tmp.path().join("bucket"))
        .expect("bucket")
        .count();
    assert_eq!(in_bucket, 0, "nothing uploaded");
    drop(db);
    fails_with(
        &tsdbctl(&["upload", s(&tmp.path().join("nope")), "--bucket", &url]),
        "does not exist",
    );
    assert_eq!(
        tsdbctl(&["upload", s(&dir)]).status.code(),
        Some(2),
        "--bucket is required"
    );
}
