//! [`Runner`]: the compaction loop that drives a [`Db`] on its own thread, as
//! Prometheus's `DB.run` does, plus the bucket side Thanos's sidecar and compactor do.
//!
//! One cycle ([`Runner::run_once`]), in this order:
//!
//! 1. **Head**: while the head spans more than 1.5 block ranges, its oldest range becomes
//!    a block and the head (and WAL) is truncated ([`Db::compact_head`]).
//! 2. **Level compaction**: plan ([`Planner::plan`]), merge ([`Db::compact_blocks`]),
//!    plan again, until nothing is left to do. A merge that fails marks its inputs so the
//!    loop does not retry them forever (in memory, until restart). When the head becomes
//!    compactable between two merges, the cycle goes back to step 1 first (as
//!    Prometheus's `compactBlocks` aborts for the head): under fast ingest, merges over
//!    many series take long enough for the head to grow a range or more meanwhile, and
//!    each range left in the head costs memory for every series.
//! 3. **Retention**: blocks past the time or size retention are deleted locally.
//! 4. **Upload** (with a bucket): every new local block is shipped ([`Shipper::sync`]).
//! 5. **Bucket housekeeping**: a bucket block whose sources are all in a higher-level
//!    block there (it was compacted), or that is past the time retention, gets a deletion
//!    mark; marked blocks are removed after the deletion delay; abandoned partial uploads
//!    too.
//! 6. **Local retention**: uploaded local blocks older than the local retention are
//!    dropped from disk; they stay queryable from the bucket.
//! 7. **Bucket blocks**: the blocks that are in the bucket only are (re)opened through
//!    [`BucketBlocks`] and handed to the `Db` to serve.
//!
//! Time is a parameter of [`Runner::run_once`]; the thread started by [`Runner::spawn`]
//! passes the clock.

use std::collections::{BTreeSet, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use tracing::{error, info, warn};
use tsdb::Db;
use tsdb::block::{Block, BlockMeta, Ulid};
use tsdb::bucket::Bucket;

use crate::block_info::BlockInfo;
use crate::bucket_blocks::{BucketBlocks, BucketBlocksOptions};
use crate::error::{Error, Result};
use crate::options::Options;
use crate::plan::Planner;
use crate::retention;
use crate::shipper::{self, BucketListing, Shipper};

/// How often and how far a [`Runner`] goes.
#[derive(Debug, Clone)]
pub struct RunnerOptions {
    /// Planning and retention (block durations, retention time and size).
    pub compaction: Options,
    /// Time between cycles (Prometheus checks every minute).
    pub interval: Duration,
    /// Keep uploaded blocks on local disk only this long (relative to the newest block's
    /// end), 0 to keep them as long as the retention allows. Needs a bucket.
    pub local_retention: i64,
    /// How long a bucket block marked for deletion stays readable before it is removed
    /// (Thanos's `--delete-delay`, 48 h by default there).
    pub deletion_delay: Duration,
}

impl Default for RunnerOptions {
    fn default() -> Self {
        Self {
            compaction: Options::default(),
            interval: Duration::from_secs(60),
            local_retention: 0,
            deletion_delay: Duration::from_secs(2 * 3600),
        }
    }
}

/// What one cycle did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CycleReport {
    /// Blocks written from the head.
    pub head_blocks: Vec<String>,
    /// Blocks written by merging (their ULIDs).
    pub compacted: Vec<String>,
    /// Local blocks deleted by the time or size retention.
    pub retention_deleted: Vec<String>,
    /// Blocks uploaded to the bucket.
    pub uploaded: Vec<String>,
    /// Bucket blocks given a deletion mark.
    pub marked: Vec<String>,
    /// Bucket blocks removed after their deletion delay (and abandoned partial uploads).
    pub bucket_deleted: Vec<String>,
    /// Local blocks dropped by the local retention (still in the bucket).
    pub local_dropped: Vec<String>,
    /// Blocks served from the bucket after the cycle.
    pub remote_blocks: usize,
}

/// The compaction loop over one [`Db`]; see the module documentation.
#[derive(Debug)]
pub struct Runner {
    db: Arc<Db>,
    opts: RunnerOptions,
    planner: Planner,
    shipper: Option<Shipper>,
    remote: Option<BucketBlocks>,
    /// Blocks whose merge failed; left out of planning until restart.
    failed: Mutex<HashSet<String>>,
}

impl Runner {
    /// A runner for `db`; with a `bucket`, blocks are uploaded there and bucket-only
    /// blocks are served, caching their indexes in `<data>/bucket-cache/`.
    pub fn new(
        db: Arc<Db>,
        opts: RunnerOptions,
        bucket: Option<Arc<dyn Bucket>>,
    ) -> Result<Runner> {
        opts.compaction.validate()?;
        if opts.local_retention < 0 {
            return Err(Error::InvalidOptions {
                name: "local_retention",
                reason: "must not be negative".into(),
            });
        }
        if opts.local_retention > 0 && bucket.is_none() {
            return Err(Error::InvalidOptions {
                name: "local_retention",
                reason: "dropping local blocks needs a bucket to keep them".into(),
            });
        }
        let planner = Planner::new(&opts.compaction)?;
        let shipper = bucket
            .as_ref()
            .map(|b| Shipper::new(db.dir(), Arc::clone(b)));
        let remote = bucket
            .map(|b| BucketBlocks::new(b, cache_dir(&db), BucketBlocksOptions::default()))
            .transpose()?;
        Ok(Runner {
            db,
            opts,
            planner,
            shipper,
            remote,
            failed: Mutex::new(HashSet::new()),
        })
    }

    /// The database driven.
    pub fn db(&self) -> &Arc<Db> {
        &self.db
    }

    /// Runs one cycle at time `now`. Steps after a failing one still run where they do
    /// not depend on it; the first error is returned after the cycle.
    pub fn run_once(&self, now: SystemTime) -> Result<CycleReport> {
        let mut report = CycleReport::default();
        let mut first_err: Option<Error> = None;
        let mut keep = |r: Result<()>| {
            if let Err(e) = r {
                error!(error = %e, "compaction cycle step failed");
                first_err.get_or_insert(e);
            }
        };
        // Each pass compacts the head, which makes progress, or ends the loop; the
        // bound is a safety net.
        for _ in 0..1000 {
            // A head that cannot be compacted must not stop the merges.
            let head = self.compact_head(&mut report);
            let head_ok = head.is_ok();
            keep(head);
            let head_ready = || head_ok && self.db.head().compactable();
            match self.compact_levels(&mut report, head_ready) {
                Ok(Levels::YieldedToHead) => continue,
                Ok(Levels::Done) => {}
                Err(e) => keep(Err(e)),
            }
            break;
        }
        keep(self.apply_retention(&mut report));
        if let (Some(shipper), Some(remote)) = (&self.shipper, &self.remote) {
            keep(self.upload(shipper, &mut report));
            let listing =
                match self.bucket_housekeeping(shipper.bucket().as_ref(), now, &mut report) {
                    Ok(listing) => Some(listing),
                    Err(e) => {
                        keep(Err(e));
                        None
                    }
                };
            keep(self.local_retention(shipper, &mut report));
            if let Some(listing) = listing {
                keep(self.serve_remote(remote, &listing, &mut report));
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(report),
        }
    }

    /// Runs cycles on a thread named `tsdbd-compactor` every `interval`, and at once when
    /// the head becomes compactable (checked every second, like Prometheus's trigger on
    /// append), until the handle is stopped.
    pub fn spawn(self) -> std::io::Result<RunnerHandle> {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let thread_stop = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("tsdbd-compactor".into())
            .spawn(move || {
                let (lock, cv) = &*thread_stop;
                let tick = Duration::from_secs(1).min(self.opts.interval);
                loop {
                    if let Err(e) = self.run_once(SystemTime::now()) {
                        warn!(error = %e, "compaction cycle ended with an error");
                    }
                    let next = std::time::Instant::now() + self.opts.interval;
                    loop {
                        let guard = lock.lock().unwrap_or_else(|e| e.into_inner());
                        let (guard, _) = cv
                            .wait_timeout_while(guard, tick, |stopped| !*stopped)
                            .unwrap_or_else(|e| e.into_inner());
                        if *guard {
                            return;
                        }
                        drop(guard);
                        if std::time::Instant::now() >= next || self.db.head().compactable() {
                            break;
                        }
                    }
                }
            })?;
        Ok(RunnerHandle { stop, thread })
    }

    /// Step 2 of a cycle alone: merges blocks as the planner says until it has nothing
    /// left to do (offline compaction, `tsdbctl compact`). Returns the blocks written.
    pub fn compact_levels_until_done(&self) -> Result<Vec<String>> {
        let mut report = CycleReport::default();
        self.compact_levels(&mut report, || false)?;
        Ok(report.compacted)
    }

    fn compact_head(&self, report: &mut CycleReport) -> Result<()> {
        for m in self.db.compact_head()? {
            report.head_blocks.push(m.ulid.to_string());
        }
        Ok(())
    }

    fn infos(&self) -> Vec<BlockInfo> {
        let failed = self.failed.lock().unwrap_or_else(|e| e.into_inner());
        self.db
            .blocks()
            .iter()
            .map(|b| {
                let mut info = BlockInfo::from_meta(&b.meta(), tsdb::fileutil::dir_size(b.dir()));
                info.compaction_failed |= failed.contains(&info.ulid);
                info
            })
            .collect()
    }

    /// Merges as the planner says until it has nothing left, or until `head_ready` says
    /// the head should be compacted first (checked before every merge).
    fn compact_levels(
        &self,
        report: &mut CycleReport,
        head_ready: impl Fn() -> bool,
    ) -> Result<Levels> {
        // Each merge removes at least one block, so this ends; the bound is a safety net.
        for _ in 0..1000 {
            if head_ready() {
                info!("block merges wait: the head is compactable again");
                return Ok(Levels::YieldedToHead);
            }
            let infos = self.infos();
            let Some(plan) = self.planner.plan(&infos) else {
                return Ok(Levels::Done);
            };
            let ulids = parse_ulids(&plan.blocks)?;
            match self.db.compact_blocks(&ulids) {
                Ok(meta) => report
                    .compacted
                    .extend(meta.map(|m: BlockMeta| m.ulid.to_string())),
                Err(e) => {
                    self.failed
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .extend(plan.blocks.iter().cloned());
                    return Err(e.into());
                }
            }
        }
        Ok(Levels::Done)
    }

    fn apply_retention(&self, report: &mut CycleReport) -> Result<()> {
        let infos = self.infos();
        let head_bytes = tsdb::fileutil::dir_size(&self.db.dir().join("wal"));
        let doomed = retention::blocks_to_delete(&infos, &self.opts.compaction, head_bytes);
        if doomed.is_empty() {
            return Ok(());
        }
        let m = self.db.metrics();
        if !doomed.by_time.is_empty() {
            m.time_retentions.inc();
        }
        if !doomed.by_size.is_empty() {
            m.size_retentions.inc();
        }
        let all = doomed.all();
        self.db.delete_blocks(&parse_ulids(&all)?)?;
        info!(blocks = ?all, "deleted blocks past retention");
        report.retention_deleted = all;
        Ok(())
    }

    fn upload(&self, shipper: &Shipper, report: &mut CycleReport) -> Result<()> {
        let stats = shipper.sync()?;
        report.uploaded = stats.uploaded;
        Ok(())
    }

    /// Marks compacted-away and expired bucket blocks, removes those marked long enough
    /// ago, and returns the listing of what stays visible.
    fn bucket_housekeeping(
        &self,
        bucket: &dyn Bucket,
        now: SystemTime,
        report: &mut CycleReport,
    ) -> Result<BucketListing> {
        let listing = shipper::list_blocks(bucket)?;
        let live: Vec<&BlockMeta> = listing
            .blocks
            .iter()
            .filter(|b| b.deletion_mark.is_none())
            .map(|b| &b.meta)
            .collect();
        let mut doomed: BTreeSet<String> = BTreeSet::new();
        // Compacted away: another block holds all of its sources at a higher level.
        for b in &live {
            let covered = live.iter().any(|c| {
                c.ulid != b.ulid
                    && c.compaction.level > b.compaction.level
                    && b.compaction
                        .sources
                        .iter()
                        .all(|s| c.compaction.sources.contains(s))
            });
            if covered {
                doomed.insert(b.ulid.to_string());
            }
        }
        // Past the time retention, measured from the newest block anywhere.
        let retention_time = self.opts.compaction.retention_time;
        if retention_time > 0 {
            let mut infos: Vec<BlockInfo> =
                live.iter().map(|m| BlockInfo::from_meta(m, 0)).collect();
            infos.extend(self.infos());
            let local: HashSet<String> = self
                .db
                .blocks()
                .iter()
                .map(|b| b.ulid().to_string())
                .collect();
            for u in retention::beyond_time_retention(&infos, retention_time) {
                if !local.contains(&u) {
                    doomed.insert(u);
                }
            }
        }
        for u in &doomed {
            if shipper::mark_for_deletion(bucket, u, now)? {
                report.marked.push(u.clone());
            }
        }
        let deleted = shipper::delete_marked(bucket, self.opts.deletion_delay, now)?;
        let partial = shipper::clean_partial(bucket, self.opts.deletion_delay, now)?;
        report.bucket_deleted = deleted.deleted.into_iter().chain(partial.deleted).collect();
        if report.marked.is_empty() && report.bucket_deleted.is_empty() {
            return Ok(listing);
        }
        shipper::list_blocks(bucket)
    }

    fn local_retention(&self, shipper: &Shipper, report: &mut CycleReport) -> Result<()> {
        let keep = self.opts.local_retention;
        if keep <= 0 {
            return Ok(());
        }
        let blocks = self.db.blocks();
        let Some(newest) = blocks.iter().map(Block::max_time).max() else {
            return Ok(());
        };
        let uploaded: HashSet<String> = shipper.uploaded()?.into_iter().collect();
        let drop: Vec<Ulid> = blocks
            .iter()
            .filter(|b| newest - b.max_time() >= keep && uploaded.contains(&b.ulid().to_string()))
            .map(Block::ulid)
            .collect();
        if drop.is_empty() {
            return Ok(());
        }
        self.db.delete_blocks(&drop)?;
        report.local_dropped = drop.iter().map(Ulid::to_string).collect();
        info!(blocks = ?report.local_dropped, "dropped uploaded blocks past the local retention");
        Ok(())
    }

    fn serve_remote(
        &self,
        remote: &BucketBlocks,
        listing: &BucketListing,
        report: &mut CycleReport,
    ) -> Result<()> {
        let local: HashSet<Ulid> = self.db.blocks().iter().map(Block::ulid).collect();
        let synced = remote.sync(listing, &local)?;
        for (ulid, e) in &synced.failed {
            warn!(block = %ulid, error = %e, "a bucket block cannot be served");
        }
        report.remote_blocks = synced.blocks.len();
        self.db.set_remote_blocks(synced.blocks);
        Ok(())
    }
}

/// Stops a [`Runner`] thread.
#[derive(Debug)]
pub struct RunnerHandle {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: JoinHandle<()>,
}

impl RunnerHandle {
    /// Asks the thread to stop after its current cycle and waits for it.
    pub fn stop(self) {
        let (lock, cv) = &*self.stop;
        *lock.lock().unwrap_or_else(|e| e.into_inner()) = true;
        cv.notify_all();
        if self.thread.join().is_err() {
            error!("the compaction thread panicked");
        }
    }
}

/// How level compaction ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Levels {
    /// The planner had nothing left to merge.
    Done,
    /// It stopped between two merges because the head was compactable.
    YieldedToHead,
}

fn parse_ulids(ids: &[String]) -> Result<Vec<Ulid>> {
    ids.iter()
        .map(|s| {
            s.parse::<Ulid>()
                .map_err(|_| Error::InvalidBlockId { id: s.clone() })
        })
        .collect()
}

fn cache_dir(db: &Db) -> PathBuf {
    db.dir().join("bucket-cache")
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use prometheus_client::registry::Registry;
    use tsdb::labels::Labels;

    use super::*;

    const MIN: i64 = 60_000;
    const RANGE: i64 = 10 * MIN;

    /// Appends one sample every 30 s to 4 series over `[from, to)`.
    fn fill(db: &Db, from: i64, to: i64) {
        for t in (from..to).step_by(30_000) {
            let mut app = db.appender();
            for s in 0..4 {
                let l = Labels::from_pairs(&[("__name__", "m"), ("s", &s.to_string())]);
                app.add(0, &l, t, t as f64).expect("add");
            }
            app.commit_batch().expect("commit");
        }
    }

    fn runner(db: &Arc<Db>) -> Runner {
        let opts = RunnerOptions {
            compaction: crate::Options {
                min_block_duration: RANGE,
                ..crate::Options::default()
            },
            ..RunnerOptions::default()
        };
        Runner::new(Arc::clone(db), opts, None).expect("runner")
    }

    /// Level compaction stops for a head that became compactable between two merges
    /// (samples arriving faster than merges finish), and the cycle compacts the head
    /// before it merges on.
    #[test]
    fn merges_yield_to_a_compactable_head() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let opts = tsdb::Options {
            block_range: RANGE,
            ..tsdb::Options::default()
        };
        let db = Arc::new(Db::open(tmp.path(), opts, &mut Registry::default()).expect("db"));
        // Nine 10-minute blocks (three 30-minute merges to plan) and 10 minutes in the head.
        fill(&db, 0, 100 * MIN);
        let runner = runner(&db);
        let mut report = CycleReport::default();
        runner.compact_head(&mut report).expect("head");
        assert_eq!(report.head_blocks.len(), 9, "{report:?}");
        assert!(!db.head().compactable());

        // Ingest moves the head on by 20 minutes once the first merge is done.
        let checks = Cell::new(0);
        let head_ready = || {
            checks.set(checks.get() + 1);
            if checks.get() == 2 {
                fill(&db, 100 * MIN, 120 * MIN);
            }
            db.head().compactable()
        };
        let ended = runner
            .compact_levels(&mut report, head_ready)
            .expect("levels");
        assert_eq!(ended, Levels::YieldedToHead);
        assert_eq!(
            report.compacted.len(),
            1,
            "one merge before the yield: {report:?}"
        );
        assert!(db.head().compactable());
        assert!(
            runner.planner.plan(&runner.infos()).is_some(),
            "merges are left"
        );

        // A whole cycle compacts the head and then finishes the merges.
        let cycle = runner.run_once(SystemTime::now()).expect("cycle");
        assert!(!cycle.head_blocks.is_empty(), "{cycle:?}");
        assert!(!db.head().compactable());
        assert!(runner.planner.plan(&runner.infos()).is_none(), "{cycle:?}");

        // Offline compaction never yields.
        fill(&db, 120 * MIN, 160 * MIN);
        assert!(db.head().compactable());
        runner.compact_levels_until_done().expect("offline");
        assert!(runner.planner.plan(&runner.infos()).is_none());
        assert!(
            db.head().compactable(),
            "offline compaction leaves the head alone"
        );
    }
}
