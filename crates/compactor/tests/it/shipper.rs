//! The shipper against `file://` and a real S3 server: uploads of real blocks byte for
//! byte, crashes between upload and record (a child process aborts), deletion marks and
//! delayed deletion, partial uploads.

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::util::{
    Backend, Recording, assert_bucket_mirrors, backends, block_files, bucket_options, make_blocks,
};
use compactor::shipper::{
    self, DeletionMark, RECORD_FILE, Shipper, clean_partial, delete_marked, list_blocks,
    mark_for_deletion,
};

/// The record's list of uploaded blocks, read from the file itself.
fn recorded(data_dir: &Path) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(data_dir.join(RECORD_FILE)) else {
        return Vec::new();
    };
    let v: serde_json::Value = serde_json::from_str(&text).expect("record is JSON");
    assert_eq!(v["version"], 1, "{text}");
    v["uploaded"]
        .as_array()
        .expect("uploaded list")
        .iter()
        .map(|s| s.as_str().expect("string").to_string())
        .collect()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read dir") {
        let e = e.expect("entry");
        if e.path().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).expect("copy");
        }
    }
}

#[test]
fn sync_uploads_blocks_byte_for_byte_and_only_once() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let Some(ids) = make_blocks(&data) else {
        return;
    };
    // Things that are not complete blocks are never shipped.
    let creating = data.join(format!("{}.tmp-for-creation", ids[0]));
    copy_dir(&data.join(&ids[0]), &creating);
    copy_dir(
        &data.join(&ids[1]),
        &data.join(format!("{}.tmp-for-deletion", ids[1])),
    );
    let unfinished = "01JZ3V2Y6Q8K0D4W9M1X7T5B3A";
    std::fs::create_dir_all(data.join(unfinished).join("chunks")).expect("mkdir");
    std::fs::write(data.join(unfinished).join("index"), b"x").expect("write");
    std::fs::create_dir_all(data.join("wal")).expect("wal");
    std::fs::write(data.join("wal/00000000"), b"wal").expect("write");

    for b in backends() {
        let _ = std::fs::remove_file(data.join(RECORD_FILE));
        let rec = Recording::new(Arc::clone(&b.bucket));
        let shipper = Shipper::new(&data, rec.as_bucket());
        let stats = shipper.sync().expect("sync");
        assert_eq!(stats.uploaded, ids, "{}", b.name);
        assert!(stats.adopted.is_empty() && stats.forgotten.is_empty());
        let files: Vec<_> = ids
            .iter()
            .flat_map(|id| block_files(&data.join(id)))
            .collect();
        let bytes: u64 = files
            .iter()
            .map(|(_, p)| std::fs::metadata(p).expect("stat").len())
            .sum();
        assert_eq!(stats.objects, files.len() as u64, "{}", b.name);
        assert_eq!(stats.bytes, bytes, "{}", b.name);
        assert_bucket_mirrors(b.bucket.as_ref(), &data, &ids);
        assert_eq!(recorded(&data), ids, "{}", b.name);
        assert_eq!(shipper.uploaded().expect("uploaded"), ids);

        // meta.json goes last, for every block.
        let writes = rec.writes();
        for id in &ids {
            let of_block: Vec<&String> = writes
                .iter()
                .filter(|w| w.starts_with(&format!("upload {id}/")))
                .collect();
            assert_eq!(
                of_block.last().map(|s| s.as_str()),
                Some(format!("upload {id}/meta.json").as_str()),
                "{}: {of_block:?}",
                b.name
            );
        }

        let listing = list_blocks(b.bucket.as_ref()).expect("list");
        let listed: Vec<&str> = listing.blocks.iter().map(|b| b.id.as_str()).collect();
        assert_eq!(listed, ids, "{}", b.name);
        assert!(listing.partial.is_empty() && listing.corrupt.is_empty());
        for block in &listing.blocks {
            let meta: serde_json::Value = serde_json::from_slice(
                &std::fs::read(data.join(&block.id).join("meta.json")).expect("meta"),
            )
            .expect("json");
            assert_eq!(
                block.meta.min_time,
                meta["minTime"].as_i64().expect("minTime")
            );
            assert_eq!(
                block.meta.max_time,
                meta["maxTime"].as_i64().expect("maxTime")
            );
            assert_eq!(block.meta.compaction.level, 1);
            assert_eq!(block.meta.ulid.to_string(), block.id);
            assert_eq!(block.meta.stats.num_series, 6);
            assert!(block.deletion_mark.is_none());
            assert_eq!(
                block.size(),
                block_files(&data.join(&block.id))
                    .iter()
                    .map(|(_, p)| std::fs::metadata(p).expect("stat").len())
                    .sum::<u64>()
            );
        }

        // A second sync, and a fresh shipper on the same record, upload nothing.
        let rec2 = Recording::new(Arc::clone(&b.bucket));
        let again = Shipper::new(&data, rec2.as_bucket()).sync().expect("sync");
        assert_eq!(again, shipper::ShipStats::default(), "{}", b.name);
        assert!(rec2.writes().is_empty(), "{}: {:?}", b.name, rec2.writes());
        assert_eq!(shipper.sync().expect("sync"), shipper::ShipStats::default());
    }
}

#[test]
fn blocks_gone_locally_leave_the_record_but_not_the_bucket() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let Some(ids) = make_blocks(&data) else {
        return;
    };
    let keep = tmp.path().join("keep");
    copy_dir(&data.join(&ids[2]), &keep);
    for b in backends() {
        let _ = std::fs::remove_file(data.join(RECORD_FILE));
        copy_dir(&keep, &data.join(&ids[2]));
        let shipper = Shipper::new(&data, Arc::clone(&b.bucket));
        shipper.sync().expect("sync");
        std::fs::remove_dir_all(data.join(&ids[2])).expect("remove block");
        let stats = shipper.sync().expect("sync");
        assert_eq!(stats.forgotten, [ids[2].clone()], "{}", b.name);
        assert!(stats.uploaded.is_empty() && stats.adopted.is_empty());
        assert_eq!(recorded(&data), ids[..2], "{}", b.name);
        // Removing it locally is retention's business, not a deletion in the bucket.
        assert!(
            b.bucket
                .exists(&format!("{}/meta.json", ids[2]))
                .expect("exists")
        );
    }
}

/// Set by the parent: run the shipper in this child process and abort after an upload.
const CHILD_ENV: &str = "SHIPPER_CRASH_CHILD";

/// Only does something in a child process started by
/// `a_crash_between_upload_and_record_neither_loses_nor_duplicates`: syncs with a bucket
/// that aborts the process right after a chosen upload.
#[test]
fn crash_child() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let f: Vec<&str> = spec.split('\t').collect();
    let [abort_after, data, url, endpoint, key, secret] = f[..] else {
        panic!("bad {CHILD_ENV}: {spec:?}");
    };
    let bucket = objstore::open(url, &bucket_options(endpoint, key, secret)).expect("open");
    let n = abort_after.parse().expect("upload count");
    let shipper = Shipper::new(data, Recording::aborting_after(bucket, n));
    let result = shipper.sync();
    // The abort did not happen: tell the parent by exiting normally.
    eprintln!("child finished without aborting: {result:?}");
    std::process::exit(3);
}

fn sync_in_child_and_abort(b: &Backend, data: &Path, abort_after: usize) {
    let (endpoint, key, secret) = (
        b.options.endpoint.clone().unwrap_or_default(),
        b.options.access_key_id.clone().unwrap_or_default(),
        b.options.secret_access_key.clone().unwrap_or_default(),
    );
    let spec = [
        abort_after.to_string(),
        data.display().to_string(),
        b.url.clone(),
        endpoint,
        key,
        secret,
    ]
    .join("\t");
    let out = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "shipper::crash_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, spec)
        .output()
        .expect("run child");
    assert_eq!(
        out.status.signal(),
        Some(6),
        "the child must die of SIGABRT after upload {abort_after}: {:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_crash_between_upload_and_record_neither_loses_nor_duplicates() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let blocks = tmp.path().join("blocks");
    let Some(ids) = make_blocks(&blocks) else {
        return;
    };
    let n: Vec<usize> = ids
        .iter()
        .map(|id| block_files(&blocks.join(id)).len())
        .collect();
    assert!(
        n[0] >= 4,
        "a block has chunks, index, tombstones, meta.json"
    );
    // (abort after this many uploads, blocks recorded before the crash, blocks whose
    // meta.json the crash left in the bucket unrecorded)
    let stages = [
        // Two data files of the first block are up; its meta.json is not.
        (2, 0, 0),
        // The first block's meta.json is up, the record does not say so.
        (n[0], 0, 1),
        // The first block is recorded; the second's meta.json is up, unrecorded.
        (n[0] + n[1], 1, 1),
    ];
    for (stage, &(abort_after, recorded_before, adoptable)) in stages.iter().enumerate() {
        for b in backends() {
            let what = format!("{} stage {stage}", b.name);
            let data = tmp.path().join(format!("data-{}-{stage}", b.name));
            for id in &ids {
                copy_dir(&blocks.join(id), &data.join(id));
            }
            sync_in_child_and_abort(&b, &data, abort_after);
            assert_eq!(recorded(&data), ids[..recorded_before], "{what}");
            let listing = list_blocks(b.bucket.as_ref()).expect("list");
            let visible: Vec<&str> = listing.blocks.iter().map(|b| b.id.as_str()).collect();
            assert_eq!(visible, ids[..recorded_before + adoptable], "{what}");
            if adoptable == 0 {
                assert_eq!(listing.partial.len(), 1, "{what}: {:?}", listing.partial);
            }

            let rec = Recording::new(Arc::clone(&b.bucket));
            let stats = Shipper::new(&data, rec.as_bucket()).sync().expect("sync");
            let done = recorded_before + adoptable;
            assert_eq!(stats.adopted, ids[recorded_before..done], "{what}");
            assert_eq!(stats.uploaded, ids[done..], "{what}");
            // Nothing of a block whose meta.json was in the bucket is uploaded again.
            for id in &ids[..done] {
                let again: Vec<_> = rec
                    .writes()
                    .into_iter()
                    .filter(|w| w.contains(id.as_str()))
                    .collect();
                assert!(again.is_empty(), "{what}: {again:?}");
            }
            // A block without meta.json in the bucket is uploaded whole, once.
            let uploads = rec.writes().len();
            let want: usize = ids[done..]
                .iter()
                .map(|id| block_files(&data.join(id)).len())
                .sum();
            assert_eq!(uploads, want, "{what}: {:?}", rec.writes());
            assert_eq!(recorded(&data), ids, "{what}");
            assert_bucket_mirrors(b.bucket.as_ref(), &data, &ids);
            let listing = list_blocks(b.bucket.as_ref()).expect("list");
            assert_eq!(listing.blocks.len(), 3, "{what}");
            assert!(listing.partial.is_empty(), "{what}");
        }
    }
}

#[test]
fn marked_blocks_are_deleted_after_the_delay_meta_json_first() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let Some(ids) = make_blocks(&data) else {
        return;
    };
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let hour = Duration::from_secs(3600);
    for b in backends() {
        let _ = std::fs::remove_file(data.join(RECORD_FILE));
        let bucket = b.bucket.as_ref();
        Shipper::new(&data, Arc::clone(&b.bucket))
            .sync()
            .expect("sync");

        assert!(mark_for_deletion(bucket, &ids[0], t0).expect("mark"));
        assert!(
            !mark_for_deletion(bucket, &ids[0], t0 + hour).expect("mark again"),
            "the first mark's time counts"
        );
        let mark_key = format!("{}/deletion-mark.json", ids[0]);
        let raw: serde_json::Value =
            serde_json::from_slice(&bucket.get(&mark_key).expect("get").expect("mark"))
                .expect("mark JSON");
        assert_eq!(
            raw,
            serde_json::json!({"id": ids[0], "deletion_time": 1_800_000_000, "version": 1})
        );
        let err = mark_for_deletion(bucket, "not-a-ulid", t0).expect_err("bad id");
        assert_eq!(err.kind(), tsdb::ErrorKind::BadData);

        let listing = list_blocks(bucket).expect("list");
        assert_eq!(
            listing.blocks.len(),
            3,
            "{}: marked blocks stay visible",
            b.name
        );
        assert_eq!(
            listing.blocks[0].deletion_mark,
            Some(DeletionMark {
                id: ids[0].clone(),
                deletion_time: 1_800_000_000,
                version: 1,
                details: String::new(),
            })
        );
        assert!(listing.blocks[1].deletion_mark.is_none());

        // Before the delay nothing goes.
        let stats =
            delete_marked(bucket, hour, t0 + hour - Duration::from_secs(1)).expect("delete");
        assert!(stats.deleted.is_empty(), "{}", b.name);
        assert_bucket_mirrors(bucket, &data, &ids);

        // A deletion cut short by an outage after its first delete: meta.json is gone,
        // so the block is no longer visible, only partial, and still marked.
        let failing = Recording::failing_deletes_after(Arc::clone(&b.bucket), 1);
        let err = delete_marked(failing.as_ref(), hour, t0 + 2 * hour).expect_err("outage");
        assert_eq!(err.kind(), tsdb::ErrorKind::Unavailable, "{err}");
        assert_eq!(failing.writes(), [format!("delete {}/meta.json", ids[0])]);
        let listing = list_blocks(bucket).expect("list");
        let visible: Vec<&str> = listing.blocks.iter().map(|b| b.id.as_str()).collect();
        assert_eq!(visible, ids[1..], "{}", b.name);
        assert_eq!(listing.partial.len(), 1);
        assert_eq!(listing.partial[0].id, ids[0]);
        assert!(listing.partial[0].deletion_mark.is_some());
        assert!(listing.partial[0].objects.len() > 1, "objects remain");
        // A partial upload cleaner leaves a marked block to delete_marked.
        let cleaned =
            clean_partial(bucket, Duration::ZERO, SystemTime::now() + hour).expect("clean");
        assert!(cleaned.deleted.is_empty(), "{}", b.name);

        // The next run finishes it, the mark last.
        let rec = Recording::new(Arc::clone(&b.bucket));
        let stats = delete_marked(rec.as_ref(), hour, t0 + 2 * hour).expect("delete");
        assert_eq!(stats.deleted, [ids[0].clone()], "{}", b.name);
        assert_eq!(
            rec.writes().last().map(String::as_str),
            Some(format!("delete {mark_key}").as_str())
        );
        assert!(bucket.list(&ids[0]).expect("list").is_empty(), "{}", b.name);
        assert_bucket_mirrors(bucket, &data, &ids[1..]);

        // A whole deletion in one go: meta.json first, the mark last, nothing left.
        mark_for_deletion(bucket, &ids[1], t0).expect("mark");
        let rec = Recording::new(Arc::clone(&b.bucket));
        let stats = delete_marked(rec.as_ref(), hour, t0 + hour).expect("delete");
        assert_eq!(stats.deleted, [ids[1].clone()]);
        let writes = rec.writes();
        assert_eq!(
            writes.first(),
            Some(&format!("delete {}/meta.json", ids[1]))
        );
        assert_eq!(
            writes.last(),
            Some(&format!("delete {}/deletion-mark.json", ids[1]))
        );
        assert_eq!(writes.len() as u64, stats.objects);
        assert_eq!(
            stats.objects,
            block_files(&data.join(&ids[1])).len() as u64 + 1
        );
        let listing = list_blocks(bucket).expect("list");
        assert_eq!(listing.blocks.len(), 1);
        assert!(listing.partial.is_empty(), "{}", b.name);
        assert_bucket_mirrors(bucket, &data, &ids[2..]);
    }
}

#[test]
fn partial_uploads_are_cleaned_after_a_delay_and_broken_metas_reported() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let Some(ids) = make_blocks(&data) else {
        return;
    };
    let hour = Duration::from_secs(3600);
    for b in backends() {
        let _ = std::fs::remove_file(data.join(RECORD_FILE));
        let bucket = b.bucket.as_ref();
        Shipper::new(&data, Arc::clone(&b.bucket))
            .sync()
            .expect("sync");
        // A partial upload: data files without meta.json.
        let partial = "01JZ3V2Y6Q8K0D4W9M1X7T5B3A";
        bucket
            .put(&format!("{partial}/index"), b"idx".to_vec())
            .expect("put");
        bucket
            .put(&format!("{partial}/chunks/000001"), b"c".to_vec())
            .expect("put");
        // A block whose meta.json is broken.
        let broken = "01JZ3V2Y6Q8K0D4W9M1X7T5B3B";
        bucket
            .put(&format!("{broken}/index"), b"idx".to_vec())
            .expect("put");
        bucket
            .put(&format!("{broken}/meta.json"), b"{\"ulid\":".to_vec())
            .expect("put");
        // Unrelated objects are ignored.
        bucket
            .put("debug/metas/x.json", b"{}".to_vec())
            .expect("put");

        let listing = list_blocks(bucket).expect("list");
        assert_eq!(listing.blocks.len(), 3, "{}", b.name);
        assert_eq!(listing.partial.len(), 1);
        assert_eq!(listing.partial[0].id, partial);
        assert_eq!(listing.partial[0].objects.len(), 2);
        assert_eq!(listing.corrupt.len(), 1);
        assert_eq!(listing.corrupt[0].id, broken);
        let msg = listing.corrupt[0].error.to_string();
        assert!(msg.contains(&format!("{broken}/meta.json")), "{msg}");

        let now = SystemTime::now();
        let stats = clean_partial(bucket, hour, now).expect("clean");
        assert!(stats.deleted.is_empty(), "{}: too young", b.name);
        let stats = clean_partial(bucket, hour, now + 2 * hour).expect("clean");
        assert_eq!(stats.deleted, [partial], "{}", b.name);
        assert_eq!(stats.objects, 2);
        assert!(bucket.list(partial).expect("list").is_empty());
        // The broken block is untouched.
        assert!(bucket.exists(&format!("{broken}/index")).expect("exists"));

        // Marking the broken block is how an operator gets rid of it.
        mark_for_deletion(bucket, broken, now).expect("mark");
        let stats = delete_marked(bucket, Duration::ZERO, now).expect("delete");
        assert_eq!(stats.deleted, [broken], "{}", b.name);
        assert!(bucket.list(broken).expect("list").is_empty());
        assert!(bucket.exists("debug/metas/x.json").expect("exists"));
        // The real blocks are untouched by all of it.
        assert_bucket_mirrors(bucket, &data, &ids);
    }
}
