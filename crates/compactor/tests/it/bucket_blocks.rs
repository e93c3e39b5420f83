//! Blocks that exist only in the bucket, served by `BucketBlocks`, on `file://` and on a
//! real S3 server: every sample, label name and value equals the local block's (through
//! each block and through a `Db`), the index is fetched once (also across a restart),
//! chunks come by ranged GET and then from a bounded cache, damaged objects fail only
//! their block, and deletion-marked or local blocks are not served.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use compactor::bucket_blocks::{BucketBlocks, BucketBlocksOptions};
use compactor::shipper::{Shipper, list_blocks, mark_for_deletion};
use prometheus_client::registry::Registry;
use tsdb::block::{Block, Ulid};
use tsdb::chunkenc::{SampleIterator, ValueType};
use tsdb::labels::{Labels, MatchType, Matcher};
use tsdb::storage::{LabelHints, Queryable};
use tsdb::{Db, Options};

use crate::util::{Backend, Counting, backends};

/// Ten-minute blocks: an hour of samples makes five blocks (the head keeps the last range).
const RANGE: i64 = 600_000;
const SERIES: usize = 20;

/// `(labels, t, value bits)`.
type Sample = (String, i64, u64);

/// What a block (or a Db) answers: every sample, the label names, the values of `series`.
#[derive(Debug, PartialEq, Eq)]
struct Answers {
    samples: Vec<Sample>,
    names: Vec<String>,
    values: Vec<String>,
}

fn all() -> Matcher {
    Matcher::new(MatchType::RegexMatch, "__name__", ".+").expect("matcher")
}

/// Every sample `q` has in `[mint, maxt]`; an error (a damaged chunk) as its message.
fn samples_in(q: &dyn Queryable, mint: i64, maxt: i64) -> Result<Vec<Sample>, String> {
    let querier = q.querier(mint, maxt).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    let set = querier
        .select(true, None, &[all()])
        .map_err(|e| e.to_string())?;
    for s in set {
        let s = s.map_err(|e| e.to_string())?;
        let mut it = s.iterator();
        while it.next() == ValueType::Float {
            let (t, v) = it.at();
            out.push((s.labels().to_string(), t, v.to_bits()));
        }
        if let Some(e) = it.err() {
            return Err(e.to_string());
        }
    }
    Ok(out)
}

fn answers(q: &dyn Queryable) -> Answers {
    let querier = q.querier(i64::MIN, i64::MAX).expect("querier");
    let hints = LabelHints::default();
    let strings = |v: Vec<tsdb::labels::Symbol>| v.iter().map(|s| s.to_string()).collect();
    Answers {
        samples: samples_in(q, i64::MIN, i64::MAX).expect("samples"),
        names: strings(querier.label_names(&hints, &[all()]).expect("names")),
        values: strings(
            querier
                .label_values("series", &hints, &[all()])
                .expect("values"),
        ),
    }
}

/// Five blocks written by a `Db` (20 series, a sample every 15 s for 50 minutes, some of
/// series 007 deleted, so two blocks carry tombstones): their ids and what each answers.
fn make_blocks(data: &Path) -> BTreeMap<Ulid, Answers> {
    let opts = Options {
        block_range: RANGE,
        ..Options::default()
    };
    let db = Db::open(data, opts, &mut Registry::default()).expect("open db");
    let labels: Vec<Labels> = (0..SERIES)
        .map(|s| {
            Labels::from_pairs(&[
                ("__name__", "bucket_blocks_metric"),
                ("series", &format!("{s:03}")),
                ("job", if s % 2 == 0 { "even" } else { "odd" }),
            ])
        })
        .collect();
    for t in (0..3_600_000).step_by(15_000) {
        let mut app = db.appender();
        for (s, l) in labels.iter().enumerate() {
            // Irregular values, so chunks are hundreds of bytes and cross cache pages.
            let v = ((t / 15_000) as f64 * (s as f64 + 1.37)).sin() * 1e3;
            app.add(0, l, t, v).expect("add");
        }
        app.commit_batch().expect("commit");
    }
    assert_eq!(db.compact_head().expect("compact").len(), 5);
    let victim = Matcher::new(MatchType::Equal, "series", "007").expect("matcher");
    // One series in each of two blocks.
    assert_eq!(
        db.delete(RANGE + 1, 2 * RANGE + 300_000, &[victim])
            .expect("delete"),
        2
    );
    let out = db
        .blocks()
        .iter()
        .map(|b| (b.ulid(), answers(b)))
        .collect::<BTreeMap<_, _>>();
    db.close().expect("close");
    out
}

/// Ships the blocks of `data` to the backend, then deletes them locally.
fn ship_and_forget(b: &Backend, data: &Path, ids: &[Ulid]) {
    let stats = Shipper::new(data, Arc::clone(&b.bucket))
        .sync()
        .expect("ship");
    assert_eq!(stats.uploaded.len(), ids.len(), "{}", b.name);
    for id in ids {
        std::fs::remove_dir_all(data.join(id.to_string())).expect("remove local block");
    }
}

/// The union of the blocks' samples, sorted.
fn union(want: &BTreeMap<Ulid, Answers>) -> Vec<Sample> {
    let mut all: Vec<Sample> = want.values().flat_map(|a| a.samples.clone()).collect();
    all.sort();
    all
}

fn options(page_size: u64, cache_bytes: u64) -> BucketBlocksOptions {
    BucketBlocksOptions {
        page_size,
        cache_bytes,
        ..BucketBlocksOptions::default()
    }
}

/// A `Db` with no data of its own serving `blocks` from the bucket.
fn remote_db(dir: &Path, blocks: Vec<Block>) -> Db {
    let db = Db::open(dir, Options::default(), &mut Registry::default()).expect("open db");
    db.set_remote_blocks(blocks);
    db
}

#[test]
fn bucket_only_blocks_answer_like_the_local_ones_and_fetch_each_index_once() {
    for b in backends() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let data = tmp.path().join("data");
        let want = make_blocks(&data);
        let ids: Vec<Ulid> = want.keys().copied().collect();
        let model = union(&want);
        // Series 007 lost part of two blocks; the bucket copies must hide it too.
        assert!(
            !model
                .iter()
                .any(|s| s.0.contains("\"007\"") && s.1 > RANGE && s.1 <= 2 * RANGE)
        );
        ship_and_forget(&b, &data, &ids);

        let listing = list_blocks(b.bucket.as_ref()).expect("list");
        let counting = Counting::new(Arc::clone(&b.bucket));
        let cache_dir = tmp.path().join("bucket-cache");
        let reader = BucketBlocks::new(
            counting.as_bucket(),
            cache_dir.clone(),
            options(256, 1 << 20),
        )
        .expect("reader");
        let sync = reader.sync(&listing, &HashSet::new()).expect("sync");
        assert!(sync.failed.is_empty(), "{}: {:?}", b.name, sync.failed);
        assert_eq!(sync.opened, ids, "{}", b.name);
        // Opening fetches each index (one ranged GET: it is small) and the tombstones.
        for id in &ids {
            let index = format!("get_range {id}/index");
            assert_eq!(counting.count(|r| r == index), 1, "{}: {index}", b.name);
            assert!(cache_dir.join(id.to_string()).join("index").is_file());
        }
        assert_eq!(
            counting.count(|r| r.contains("/chunks/")),
            0,
            "{}: chunks are read lazily",
            b.name
        );

        // Each block answers exactly like the local one did.
        for block in &sync.blocks {
            assert_eq!(block.dir(), Path::new(&block.ulid().to_string()));
            assert_eq!(
                answers(block),
                want[&block.ulid()],
                "{} {}",
                b.name,
                block.ulid()
            );
        }
        let chunk_gets = counting.count(|r| r.starts_with("get_range") && r.contains("/chunks/"));
        assert!(chunk_gets > 0, "{}", b.name);
        assert!(
            counting.count(|r| r.starts_with("get ") && r.contains("/chunks/")) == 0,
            "{}: chunk segments are never fetched whole",
            b.name
        );
        let s = reader.stats();
        assert_eq!(s.index_downloads, 5);
        assert_eq!(s.range_gets as usize, chunk_gets + 5, "{}: {s:?}", b.name);

        // Through a Db with no local data: the same samples, and again from the cache.
        let db = remote_db(&tmp.path().join("query"), sync.blocks.clone());
        assert_eq!(
            samples_in(&db, i64::MIN, i64::MAX).expect("db samples"),
            model,
            "{}",
            b.name
        );
        let hits = reader.stats().cache_hits;
        assert_eq!(
            samples_in(&db, i64::MIN, i64::MAX).expect("db samples"),
            model
        );
        assert!(reader.stats().cache_hits > hits, "{}", b.name);
        assert_eq!(
            counting.count(|r| r.contains("/chunks/")),
            chunk_gets,
            "{}: repeated queries are served by the cache",
            b.name
        );

        eprintln!("{}: {:?}", b.name, reader.stats());
        // A second sync keeps the open blocks and asks nothing.
        let before = counting.reads().len();
        let again = reader.sync(&listing, &HashSet::new()).expect("sync");
        assert!(again.opened.is_empty() && again.dropped.is_empty() && again.failed.is_empty());
        assert_eq!(again.blocks.len(), 5);
        assert_eq!(counting.reads().len(), before, "{}", b.name);
        db.close().expect("close");

        // After a restart, the cached indexes are used without a request.
        drop(reader);
        let counting = Counting::new(Arc::clone(&b.bucket));
        let reader = BucketBlocks::new(counting.as_bucket(), cache_dir, options(256, 1 << 20))
            .expect("reader");
        let sync = reader.sync(&listing, &HashSet::new()).expect("sync");
        assert_eq!(sync.opened, ids);
        assert_eq!(
            counting.count(|r| r.ends_with("/index")),
            0,
            "{}: {:?}",
            b.name,
            counting.reads()
        );
        assert_eq!(reader.stats().index_cache_hits, 5);
        let db = remote_db(&tmp.path().join("query2"), sync.blocks);
        assert_eq!(samples_in(&db, i64::MIN, i64::MAX).expect("samples"), model);
        // `open` lists the block once and reuses the cached index too.
        let block = reader.open(&listing.blocks[0].meta).expect("open");
        assert_eq!(answers(&block), want[&block.ulid()]);
        assert_eq!(
            counting.count(|r| r.starts_with("list ")),
            1,
            "{:?}",
            counting.reads()
        );
        assert_eq!(counting.count(|r| r.ends_with("/index")), 0);
        eprintln!("{}: after a restart: {:?}", b.name, reader.stats());
        db.close().expect("close");
    }
}

#[test]
fn a_small_cache_evicts_pages_and_answers_stay_right() {
    for b in backends() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let data = tmp.path().join("data");
        let want = make_blocks(&data);
        let ids: Vec<Ulid> = want.keys().copied().collect();
        ship_and_forget(&b, &data, &ids);
        let listing = list_blocks(b.bucket.as_ref()).expect("list");
        let bound = 4 * 256;
        let reader = BucketBlocks::new(
            Arc::clone(&b.bucket),
            tmp.path().join("cache"),
            options(256, bound),
        )
        .expect("reader");
        let sync = reader.sync(&listing, &HashSet::new()).expect("sync");
        let db = remote_db(&tmp.path().join("query"), sync.blocks);
        for _ in 0..2 {
            assert_eq!(
                samples_in(&db, i64::MIN, i64::MAX).expect("samples"),
                union(&want),
                "{}",
                b.name
            );
            let s = reader.stats();
            assert!(
                s.cache_bytes <= bound && s.cache_peak_bytes <= bound,
                "{s:?}"
            );
        }
        let s = reader.stats();
        assert!(s.evictions > 0, "{}: {s:?}", b.name);
        assert!(s.cache_peak_bytes > bound / 2, "the cache was used: {s:?}");
        db.close().expect("close");
    }
}

#[test]
fn damaged_objects_fail_only_their_block_naming_it() {
    for b in backends() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let data = tmp.path().join("data");
        let want = make_blocks(&data);
        let ids: Vec<Ulid> = want.keys().copied().collect();
        ship_and_forget(&b, &data, &ids);
        let (bad_index, bad_chunk, no_chunks) = (ids[0], ids[1], ids[2]);

        // Flip the index's last byte (its table of contents' CRC) and a byte inside the
        // first chunk of a segment, behind the store's back; delete another segment.
        let flip = |key: String, at: Option<u64>| {
            let path = b.object_path(&key);
            let mut bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
            let at = at.map_or(bytes.len() - 1, |a| a as usize);
            bytes[at] ^= 0x55;
            std::fs::write(&path, bytes).expect("damage");
        };
        flip(format!("{bad_index}/index"), None);
        flip(format!("{bad_chunk}/chunks/000001"), Some(20));
        b.bucket
            .delete(&format!("{no_chunks}/chunks/000001"))
            .expect("delete");

        let listing = list_blocks(b.bucket.as_ref()).expect("list");
        let cache_dir = tmp.path().join("cache");
        let reader = BucketBlocks::new(
            Arc::clone(&b.bucket),
            cache_dir.clone(),
            BucketBlocksOptions::default(),
        )
        .expect("reader");
        let sync = reader.sync(&listing, &HashSet::new()).expect("sync");
        let failed: BTreeMap<Ulid, String> = sync
            .failed
            .iter()
            .map(|(u, e)| (*u, e.to_string()))
            .collect();
        assert_eq!(
            failed.keys().copied().collect::<Vec<_>>(),
            [bad_index, no_chunks],
            "{}: {failed:?}",
            b.name
        );
        let msg = &failed[&bad_index];
        assert!(
            msg.contains(&format!("bucket block {bad_index}: {bad_index}/index")),
            "{msg}"
        );
        let msg = &failed[&no_chunks];
        assert!(
            msg.contains(&format!("{no_chunks}/chunks/000001 is missing")),
            "{msg}"
        );
        // The damaged download is not kept: the next try fetches the object again.
        assert!(!cache_dir.join(bad_index.to_string()).join("index").exists());

        // The others serve; the damaged chunk fails its query with the block and object.
        assert_eq!(sync.blocks.len(), 3);
        let db = remote_db(&tmp.path().join("query"), sync.blocks);
        for id in &ids[3..] {
            let (mint, maxt) = (
                want[id].samples[0].1,
                want[id].samples.last().expect("one").1,
            );
            let mut got = samples_in(&db, mint, maxt).expect("healthy block");
            got.sort();
            let mut w: Vec<Sample> = want[id]
                .samples
                .iter()
                .filter(|s| s.1 >= mint && s.1 <= maxt)
                .cloned()
                .collect();
            w.sort();
            assert_eq!(got, w, "{}", b.name);
        }
        let block = reader
            .blocks()
            .into_iter()
            .find(|x| x.ulid() == bad_chunk)
            .expect("opened");
        let err = samples_in(&block, i64::MIN, i64::MAX).expect_err("damaged chunk");
        assert!(
            err.contains(&format!("{bad_chunk}/chunks/000001")) && err.contains("checksum"),
            "{}: {err}",
            b.name
        );

        // Repaired in the bucket, the failed block opens on the next sync.
        flip(format!("{bad_index}/index"), None);
        let sync = reader.sync(&listing, &HashSet::new()).expect("sync");
        assert_eq!(sync.opened, [bad_index], "{}", b.name);
        db.close().expect("close");
    }
}

#[test]
fn deletion_marked_and_local_blocks_are_not_served_and_their_caches_go() {
    for b in backends() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let data = tmp.path().join("data");
        let want = make_blocks(&data);
        let ids: Vec<Ulid> = want.keys().copied().collect();
        ship_and_forget(&b, &data, &ids);
        let cache_dir = tmp.path().join("cache");
        // A cache directory left from a block that is not in the bucket any more.
        let stale = cache_dir.join(Ulid::from_parts(1, 1).to_string());
        std::fs::create_dir_all(&stale).expect("mkdir");
        std::fs::write(stale.join("index"), b"old").expect("write");
        let reader = BucketBlocks::new(
            Arc::clone(&b.bucket),
            cache_dir.clone(),
            BucketBlocksOptions::default(),
        )
        .expect("reader");

        mark_for_deletion(b.bucket.as_ref(), &ids[0].to_string(), SystemTime::now()).expect("mark");
        let listing = list_blocks(b.bucket.as_ref()).expect("list");
        let sync = reader.sync(&listing, &HashSet::new()).expect("sync");
        assert_eq!(sync.opened, ids[1..], "{}: marked block not served", b.name);
        assert!(!stale.exists(), "stale cache directory removed");
        assert!(!cache_dir.join(ids[0].to_string()).exists());

        // A block that is local again is not served from the bucket; a newly marked one
        // is dropped; both lose their cache directories.
        mark_for_deletion(b.bucket.as_ref(), &ids[1].to_string(), SystemTime::now()).expect("mark");
        let listing = list_blocks(b.bucket.as_ref()).expect("list");
        let local: HashSet<Ulid> = [ids[4]].into();
        let sync = reader.sync(&listing, &local).expect("sync");
        assert_eq!(sync.dropped, [ids[1], ids[4]], "{}", b.name);
        assert!(sync.opened.is_empty() && sync.failed.is_empty());
        let served: Vec<Ulid> = sync.blocks.iter().map(Block::ulid).collect();
        assert_eq!(served, ids[2..4], "{}", b.name);
        for gone in [ids[1], ids[4]] {
            assert!(!cache_dir.join(gone.to_string()).exists(), "{gone}");
        }
        for kept in &ids[2..4] {
            assert!(cache_dir.join(kept.to_string()).join("index").is_file());
        }
    }
}
