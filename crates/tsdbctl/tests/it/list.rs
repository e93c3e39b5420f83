//! `tsdbctl list` against a data directory with blocks written by `tsdb::Db` (head
//! compaction) and a `file://` bucket they were shipped to: every block appears once with
//! its meta's numbers and where it lives; errors exit non-zero with a message.

use std::path::Path;
use std::sync::Arc;

use prometheus_client::registry::Registry;
use tsdb::labels::Labels;
use tsdb::{Db, Options};

use crate::fixtures::tsdbctl;

/// A data directory with four 10-minute blocks; returns the open database.
fn data_dir(dir: &Path) -> Arc<Db> {
    let opts = Options {
        block_range: 600_000,
        ..Options::default()
    };
    let db = Db::open(dir, opts, &mut Registry::default()).expect("open");
    let labels: Vec<Labels> = (0..3)
        .map(|s| Labels::from_pairs(&[("__name__", "m"), ("s", &s.to_string())]))
        .collect();
    for t in (0..3_300_000).step_by(30_000) {
        let mut app = db.appender();
        for l in &labels {
            app.add(0, l, t, t as f64).expect("add");
        }
        app.commit_batch().expect("commit");
    }
    assert_eq!(db.compact_head().expect("compact").len(), 4);
    Arc::new(db)
}

#[test]
fn lists_local_and_bucket_blocks_with_their_numbers() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("data");
    let db = data_dir(&dir);
    let out = tsdbctl(&["list", "--json", dir.to_str().expect("utf-8")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let rows = rows.as_array().expect("array");
    let blocks = db.blocks();
    assert_eq!(rows.len(), blocks.len());
    for (row, b) in rows.iter().zip(blocks.iter()) {
        let m = b.meta();
        assert_eq!(row["ulid"], m.ulid.to_string());
        assert_eq!(row["minTime"], m.min_time);
        assert_eq!(row["maxTime"], m.max_time);
        assert_eq!(row["durationMs"], 600_000);
        assert_eq!(row["numSeries"], 3);
        assert_eq!(row["numSamples"], m.stats.num_samples);
        assert_eq!(row["numChunks"], m.stats.num_chunks);
        assert_eq!(row["level"], 1);
        assert_eq!(row["location"], "local");
        assert!(row["sizeBytes"].as_u64().expect("size") > 0);
    }

    // Ship the first two blocks, then delete one of them locally.
    let url = format!("file://{}", tmp.path().join("bucket").display());
    let bucket = objstore_open(&url);
    let shipper = compactor::shipper::Shipper::new(&dir, Arc::clone(&bucket));
    shipper.sync().expect("ship");
    let gone = blocks[0].ulid();
    db.delete_blocks(&[gone]).expect("delete locally");
    let out = tsdbctl(&[
        "list",
        "--json",
        "--bucket",
        &url,
        dir.to_str().expect("utf-8"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let places: Vec<(String, String)> = rows
        .as_array()
        .expect("array")
        .iter()
        .map(|r| {
            (
                r["ulid"].as_str().unwrap_or("").to_owned(),
                r["location"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert_eq!(places.len(), 4);
    assert_eq!(places[0], (gone.to_string(), "bucket".to_owned()));
    assert!(
        places[1..].iter().all(|p| p.1 == "local+bucket"),
        "{places:?}"
    );

    // The table: a header and one line per block, oldest first.
    let out = tsdbctl(&["list", dir.to_str().expect("utf-8")]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("ULID") && lines[0].contains("WHERE"),
        "{text}"
    );
    assert_eq!(lines.len(), 4, "{text}");
    assert!(
        lines[1].starts_with(&blocks[1].ulid().to_string()),
        "{text}"
    );
    assert!(
        lines[1].contains("1970-01-01T00:10:00.000Z") && lines[1].contains("10m"),
        "{text}"
    );
}

fn objstore_open(url: &str) -> Arc<dyn tsdb::bucket::Bucket> {
    objstore::open(url, &objstore::Options::default()).expect("bucket")
}

#[test]
fn errors_exit_non_zero_with_a_message() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let missing = tmp.path().join("nope");
    let out = tsdbctl(&["list", missing.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("reading data directory") && err.contains("nope"),
        "{err}"
    );

    // A broken meta.json names the block.
    let dir = tmp.path().join("data");
    let db = data_dir(&dir);
    let ulid = db.blocks()[0].ulid().to_string();
    drop(db);
    std::fs::write(dir.join(&ulid).join("meta.json"), b"{not json").expect("break meta");
    let out = tsdbctl(&["list", dir.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&ulid) && err.contains("meta.json"), "{err}");

    let out = tsdbctl(&["lsit"]);
    assert_eq!(out.status.code(), Some(2), "bad usage");
}
