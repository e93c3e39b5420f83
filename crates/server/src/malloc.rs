//! How `tsdbd` tunes glibc's malloc, the allocator of its resident memory: fixed release
//! thresholds at start ([`tune`]) and free pages handed back in the background
//! ([`spawn_release_thread`]). Both do nothing on other C libraries.

use std::sync::Weak;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Malloc's size from which an allocation gets its own mapping (returned to the kernel
/// when freed), and the free space at the top of a heap above which it is returned:
/// glibc's initial values, which it would otherwise raise.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const RELEASE_THRESHOLD: i32 = 128 << 10;

/// Fixes glibc malloc's mmap and trim thresholds (unless the environment sets them) and
/// turns off its fastbins (unless `GLIBC_TUNABLES` sets `mxfast`).
/// Call it first thing in `main`, before any other thread exists.
///
/// By default glibc raises both thresholds each time a large mapped block is freed, up to
/// 32 MiB and 64 MiB: after the first compactions and large remote-write bodies, such
/// buffers come from the heaps instead and their pages stay resident once freed. In the
/// whole-system benchmark at 100k series that was a third of the resident set (live heap
/// 79 MB, heaps 173 MB). With fixed thresholds large buffers are mapped and unmapped, and
/// heaps give back free tops: resident memory per series fell by 30% (1 MiB instead of
/// 128 KiB kept 12% more).
///
/// Fastbins keep freed small blocks unmerged until a large request or a large free
/// consolidates them all at once. A query frees tens of thousands of small blocks (group
/// keys, series handles, block labels), so its next large allocation paid for walking,
/// merging and re-sorting all of them: with fastbins, `malloc_consolidate`,
/// `unlink_chunk` and `_int_malloc` were a third of the CPU of a gauge query at 1M series
/// (perf). Per-thread caches still serve the small blocks that are freed and reused at
/// once; without fastbins the others merge as they are freed. On a replayed 1M-series
/// head, side by side, dashboard queries used 25-35% less CPU.
pub fn tune() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    for (param, var) in [
        (libc::M_MMAP_THRESHOLD, "MALLOC_MMAP_THRESHOLD_"),
        (libc::M_TRIM_THRESHOLD, "MALLOC_TRIM_THRESHOLD_"),
    ] {
        if std::env::var_os(var).is_none() {
            // SAFETY: `mallopt` only changes malloc's parameters; the caller runs this
            // before other threads exist.
            unsafe { libc::mallopt(param, RELEASE_THRESHOLD) };
        }
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if !std::env::var("GLIBC_TUNABLES").is_ok_and(|t| t.contains("mxfast")) {
        // SAFETY: as above; a fastbin limit of 0 only routes small frees to the regular
        // bins.
        unsafe { libc::mallopt(libc::M_MXFAST, 0) };
    }
}

/// How often [`spawn_release_thread`]'s thread gives free heap pages back at the least.
pub const RELEASE_INTERVAL: Duration = Duration::from_secs(10);

/// How often that thread looks for a head truncation to follow.
const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// Starts a thread that calls [`release_free_memory`] every [`RELEASE_INTERVAL`], as Go's
/// scavenger or jemalloc's 10-second decay return freed memory in the background, and
/// within a second after `db` freed much at once: the head dropped chunks (the
/// truncation after a head compaction frees a block range of them, and the block writer's
/// buffers just before), the WAL was truncated (after a checkpoint, whose buffers are
/// freed), or blocks were merged. The thread ends with the database.
///
/// Start it once the database is open: the trim takes every arena's lock, which WAL
/// replay, allocating on every record, should not wait for.
pub fn spawn_release_thread(db: Weak<tsdb::Db>) -> std::io::Result<JoinHandle<()>> {
    let events = move || {
        let db = db.upgrade()?;
        Some(
            db.head().metrics().chunks_removed.get()
                + db.head().wal_metrics().truncations_total.get()
                + db.metrics().compactions.get(),
        )
    };
    std::thread::Builder::new()
        .name("tsdbd-malloc".into())
        .spawn(move || {
            let (Some(mut seen), mut last) = (events(), Instant::now()) else {
                return;
            };
            loop {
                std::thread::sleep(POLL_INTERVAL);
                let Some(now) = events() else {
                    return;
                };
                if now == seen && last.elapsed() < RELEASE_INTERVAL {
                    continue;
                }
                (seen, last) = (now, Instant::now());
                release_free_memory();
                tracing::trace!(
                    took_us = last.elapsed().as_micros() as u64,
                    "released free heap pages"
                );
            }
        })
}

/// Returns the whole free pages inside malloc's heaps to the kernel (`malloc_trim(0)`).
///
/// The trim threshold only gives back free space at the *top* of a heap. Most of what
/// `tsdbd` frees lies below live series: a head compaction frees a block range of chunks
/// (whole slabs of them), a block merge its series and postings, WAL replay its decoding
/// buffers. Without a trim those
/// pages stay resident until reused: a fifth of the resident set at 1M series. It walks
/// every arena under its lock, so it runs in the background, not per request.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `malloc_trim` is thread-safe (it takes each arena's lock) and only releases
    // pages that hold no allocation.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(all(test, target_os = "linux", target_env = "gnu"))]
mod tests {
    use super::*;

    /// Resident bytes of this process (`/proc/self/statm`, second field, in pages).
    fn resident() -> usize {
        let statm = std::fs::read_to_string("/proc/self/statm").expect("statm");
        let pages: usize = statm
            .split_whitespace()
            .nth(1)
            .and_then(|f| f.parse().ok())
            .expect("resident pages");
        pages * 4096
    }

    #[test]
    fn the_release_thread_ends_with_the_database() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = std::sync::Arc::new(
            tsdb::Db::open(
                dir.path(),
                tsdb::Options::default(),
                &mut prometheus_client::registry::Registry::default(),
            )
            .expect("open"),
        );
        let thread = spawn_release_thread(std::sync::Arc::downgrade(&db)).expect("spawn");
        std::thread::sleep(POLL_INTERVAL / 2);
        assert!(!thread.is_finished());
        drop(db);
        let deadline = Instant::now() + 5 * POLL_INTERVAL;
        while !thread.is_finished() {
            assert!(
                Instant::now() < deadline,
                "the thread outlived the database"
            );
            std::thread::sleep(POLL_INTERVAL / 10);
        }
        thread.join().expect("no panic");
    }

    #[test]
    fn release_returns_free_pages_below_live_allocations() {
        // 64 MiB of 1 KiB blocks, below the mmap threshold so they come from a heap;
        // keep every 64th, so the freed ones are whole pages under live blocks that
        // the trim threshold alone never returns.
        let mut blocks: Vec<Box<[u8; 1024]>> = (0..65_536).map(|_| Box::new([1u8; 1024])).collect();
        let mut kept = Vec::new();
        for (i, b) in blocks.drain(..).enumerate() {
            if i % 64 == 0 {
                kept.push(b);
            }
        }
        let before = resident();
        release_free_memory();
        let after = resident();
        assert!(
            before.saturating_sub(after) > 32 << 20,
            "released {} bytes of ~63 MiB freed (resident {before} -> {after})",
            before.saturating_sub(after)
        );
        assert_eq!(kept.len(), 1024);
        assert!(kept.iter().all(|b| b[1023] == 1));
    }
}
