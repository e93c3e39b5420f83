//! The compaction loop over a real `Db` and a real bucket (`file://` and s3s-fs): the head
//! becomes blocks, blocks merge by level with every sample kept, new blocks are shipped,
//! compacted-away and expired blocks are marked in the bucket and removed after the delay,
//! and retention deletes expired blocks locally.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use compactor::shipper::list_blocks;
use compactor::{Options, Runner, RunnerOptions};
use prometheus_client::registry::Registry;
use tsdb::chunkenc::{SampleIterator, ValueType};
use tsdb::labels::{Labels, MatchType, Matcher};
use tsdb::storage::Queryable;
use tsdb::{Db, Options as DbOptions};

use crate::util::backends;

const MIN: i64 = 60_000;
/// Ten-minute blocks: ranges 10m, 30m, 90m, ...
const RANGE: i64 = 10 * MIN;

type Sample = (String, i64, u64);

fn open(dir: &Path) -> Arc<Db> {
    let opts = DbOptions {
        block_range: RANGE,
        ..DbOptions::default()
    };
    Arc::new(Db::open(dir, opts, &mut Registry::default()).expect("open db"))
}

/// Appends 4 series with a sample every 30 s over `[from, to)`, in time order.
fn fill(db: &Db, from: i64, to: i64) -> Vec<Sample> {
    let labels: Vec<Labels> = (0..4)
        .map(|s| Labels::from_pairs(&[("__name__", "runner_metric"), ("s", &s.to_string())]))
        .collect();
    let mut model = Vec::new();
    for t in (from..to).step_by(30_000) {
        let mut app = db.appender();
        for (i, l) in labels.iter().enumerate() {
            let v = (t / 1000 + i as i64) as f64;
            app.add(0, l, t, v).expect("add");
            model.push((l.to_string(), t, v.to_bits()));
        }
        app.commit_batch().expect("commit");
    }
    model.sort();
    model
}

fn samples(db: &Db) -> Vec<Sample> {
    let q = db.querier(i64::MIN, i64::MAX).expect("querier");
    let all = Matcher::new(MatchType::RegexMatch, "__name__", ".+").expect("matcher");
    let mut out = Vec::new();
    for s in q.select(true, None, &[all]).expect("select") {
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

fn runner_options(retention: i64) -> RunnerOptions {
    RunnerOptions {
        compaction: Options {
            min_block_duration: RANGE,
            retention_time: retention,
            ..Options::default()
        },
        deletion_delay: Duration::from_secs(600),
        ..RunnerOptions::default()
    }
}

#[test]
fn a_cycle_compacts_ships_marks_and_expires() {
    for backend in backends() {
        let name = backend.name;
        let tmp = tempfile::tempdir().expect("tempdir");
        let db = open(&tmp.path().join("data"));
        // Three hours: 10m blocks merge into 30m and 90m blocks.
        let model = fill(&db, 0, 180 * MIN);
        let runner = Runner::new(
            Arc::clone(&db),
            runner_options(30 * 24 * 60 * MIN),
            Some(Arc::clone(&backend.bucket)),
        )
        .expect("runner");
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let r = runner.run_once(now).expect("cycle");
        assert!(r.head_blocks.len() >= 15, "{name}: {r:?}");
        assert!(
            !r.compacted.is_empty(),
            "{name}: level compaction ran: {r:?}"
        );
        let blocks = db.blocks();
        assert!(
            blocks.iter().any(|b| b.meta().compaction.level >= 3),
            "{name}: a 90m block"
        );
        assert!(
            blocks
                .windows(2)
                .all(|w| w[0].max_time() <= w[1].min_time()),
            "{name}: no overlaps left"
        );
        assert_eq!(
            samples(&db),
            model,
            "{name}: every sample once after compaction"
        );
        // Everything local is in the bucket; compacted-away uploads are marked.
        let listing = list_blocks(backend.bucket.as_ref()).expect("list");
        for b in blocks.iter() {
            let up = listing.blocks.iter().find(|x| x.meta.ulid == b.ulid());
            assert!(
                up.is_some_and(|x| x.deletion_mark.is_none()),
                "{name}: {} shipped",
                b.ulid()
            );
        }
        let marked: Vec<_> = listing
            .blocks
            .iter()
            .filter(|b| b.deletion_mark.is_some())
            .collect();
        assert_eq!(marked.len(), r.marked.len(), "{name}");
        for m in &marked {
            assert!(
                blocks.iter().all(|b| b.ulid() != m.meta.ulid),
                "{name}: only blocks gone locally are marked"
            );
        }
        // A second cycle later than the delay removes the marked ones.
        let later = now + Duration::from_secs(601);
        let r2 = runner.run_once(later).expect("second cycle");
        assert!(
            r2.uploaded.is_empty() && r2.compacted.is_empty(),
            "{name}: {r2:?}"
        );
        assert_eq!(r2.bucket_deleted.len(), marked.len(), "{name}: {r2:?}");
        let listing = list_blocks(backend.bucket.as_ref()).expect("list");
        assert_eq!(
            listing.blocks.len(),
            blocks.len(),
            "{name}: bucket mirrors the local blocks"
        );

        // Retention of 1 h: blocks ending more than an hour before the newest block go,
        // locally at once, in the bucket after the delay.
        let short = Runner::new(
            Arc::clone(&db),
            runner_options(60 * MIN),
            Some(Arc::clone(&backend.bucket)),
        )
        .expect("runner");
        let r3 = short.run_once(later).expect("retention cycle");
        assert!(!r3.retention_deleted.is_empty(), "{name}: {r3:?}");
        let newest = db
            .blocks()
            .iter()
            .map(|b| b.max_time())
            .max()
            .expect("blocks");
        assert!(
            db.blocks().iter().all(|b| newest - b.max_time() < 60 * MIN),
            "{name}"
        );
        let want: Vec<_> = model
            .iter()
            .filter(|s| s.1 >= db.blocks()[0].min_time())
            .cloned()
            .collect();
        assert_eq!(samples(&db), want, "{name}: the rest is intact");
        let r4 = short
            .run_once(later + Duration::from_secs(601))
            .expect("retention cycle in the bucket");
        assert_eq!(
            r4.bucket_deleted.len(),
            r3.retention_deleted.len(),
            "{name}: {r4:?}"
        );
        let listing = list_blocks(backend.bucket.as_ref()).expect("list");
        let local: Vec<_> = db.blocks().iter().map(|b| b.ulid()).collect();
        let mut remote: Vec<_> = listing.blocks.iter().map(|b| b.meta.ulid).collect();
        remote.sort();
        let mut local_sorted = local.clone();
        local_sorted.sort();
        assert_eq!(
            remote, local_sorted,
            "{name}: the bucket holds what retention kept"
        );
    }
}

#[test]
fn local_retention_leaves_blocks_queryable_from_the_bucket_only() {
    for backend in backends() {
        let name = backend.name;
        let tmp = tempfile::tempdir().expect("tempdir");
        let db = open(&tmp.path().join("data"));
        let model = fill(&db, 0, 180 * MIN);
        let opts = RunnerOptions {
            local_retention: 40 * MIN,
            ..runner_options(30 * 24 * 60 * MIN)
        };
        let runner =
            Runner::new(Arc::clone(&db), opts, Some(Arc::clone(&backend.bucket))).expect("runner");
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let r = runner.run_once(now).expect("cycle");
        assert!(!r.local_dropped.is_empty(), "{name}: {r:?}");
        assert!(r.remote_blocks > 0, "{name}: {r:?}");
        let newest = db
            .blocks()
            .iter()
            .map(|b| b.max_time())
            .max()
            .expect("local blocks");
        assert!(
            db.blocks().iter().all(|b| newest - b.max_time() < 40 * MIN),
            "{name}: only recent blocks stay local"
        );
        assert_eq!(db.remote_blocks().len(), r.remote_blocks, "{name}");
        for b in db.remote_blocks().iter() {
            assert!(
                !tmp.path().join("data").join(b.ulid().to_string()).exists(),
                "{name}"
            );
        }
        assert_eq!(
            samples(&db),
            model,
            "{name}: every sample, old ones from the bucket"
        );
        // A restart serves them again after the first cycle, from the index cache.
        drop(runner);
        let dir = db.dir().to_path_buf();
        drop(db);
        let db = open(&dir);
        let runner = Runner::new(
            Arc::clone(&db),
            runner_options(30 * 24 * 60 * MIN),
            Some(Arc::clone(&backend.bucket)),
        )
        .expect("runner");
        runner.run_once(now).expect("cycle after restart");
        assert_eq!(samples(&db), model, "{name}: after a restart");
    }
}
