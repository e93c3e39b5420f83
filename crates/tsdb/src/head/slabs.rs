//! Where the head's sealed chunks keep their bytes: append-only slabs, grouped by the
//! chunk range (block range) a chunk's last sample falls in.
//!
//! A head truncation drops every chunk that ends before a block boundary at once. When
//! each sealed chunk was its own allocation, that left one small hole per series in
//! malloc's heaps, between live series structs and open chunks, and the holes stayed
//! resident: in the whole-system benchmark a quarter to a third of the heaps were free
//! after each truncation. Chunks that end in the same range are dropped by the same
//! truncation, so here they share slabs, and the last chunk dropped frees a whole slab
//! (large slabs are their own mappings; small ones are whole heap pages that the trim
//! returns). Sealed chunks also lose their per-allocation header and reference counts.
//!
//! Each slab is one fixed allocation filled from the front; a sealed chunk's bytes are a
//! [`SlabBytes`]: the slab's reference count, offset and length, 16 bytes where a `Bytes`
//! took 32 (a sealed chunk's entry in its series is 32 bytes instead of 48, the size of a
//! hole an open chunk's first growth leaves in the heaps, which the entry then reuses).
//! The slab's memory lives as long as any of its chunks. Sealing takes a short lock on
//! one of a few shards, chosen per thread, so concurrent appenders rarely meet.

use std::ops::Deref;
use std::ptr::NonNull;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use parking_lot::Mutex;

/// The first slab of a range and shard; each next one doubles, up to [`MAX_SLAB`].
const MIN_SLAB: usize = 4 << 10;
/// The largest slab: above malloc's mmap threshold (128 KiB), so it is its own mapping,
/// unmapped when its last chunk goes.
const MAX_SLAB: usize = 256 << 10;
/// Shards of writers; a thread always seals into the same one.
const SHARDS: usize = 8;

/// One allocation that chunks are copied into, front to back.
///
/// Only [`ChunkSlabs::seal`] writes, under its shard's lock, and only into the part no
/// [`SlabBytes`] covers yet; a chunk's bytes are never written again once handed out. So
/// readers, which reach a slab only through a `SlabBytes` (published under the series'
/// lock), read bytes that no one writes while they read.
#[derive(Debug)]
struct Slab {
    /// A `Box<[u8]>` of `cap` bytes, held as a pointer so that writing its free part does
    /// not go through a reference that readers' slices alias.
    ptr: NonNull<u8>,
    cap: usize,
}

// SAFETY: the slab owns its allocation, and the rules above keep writes and reads apart.
unsafe impl Send for Slab {}
// SAFETY: as above; shared access only reads bytes that are no longer written.
unsafe impl Sync for Slab {}

impl Slab {
    fn new(cap: usize) -> Slab {
        let raw = Box::into_raw(vec![0u8; cap].into_boxed_slice());
        Slab {
            ptr: NonNull::new(raw.cast::<u8>()).expect("a box is not null"),
            cap,
        }
    }
}

impl Drop for Slab {
    fn drop(&mut self) {
        let raw = std::ptr::slice_from_raw_parts_mut(self.ptr.as_ptr(), self.cap);
        // SAFETY: `ptr` and `cap` come from `Box::into_raw` in `new`, freed once, here.
        drop(unsafe { Box::from_raw(raw) });
    }
}

/// A sealed chunk's bytes: a range of a slab, which it keeps alive.
#[derive(Debug, Clone)]
pub struct SlabBytes {
    slab: Arc<Slab>,
    off: u32,
    len: u32,
}

impl Deref for SlabBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        // SAFETY: `off..off + len` lies within the slab (checked by `seal`), was written
        // before this handle existed, and is never written again (see `Slab`).
        unsafe {
            std::slice::from_raw_parts(
                self.slab.ptr.as_ptr().add(self.off as usize),
                self.len as usize,
            )
        }
    }
}

impl AsRef<[u8]> for SlabBytes {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

/// The slabs sealed chunks are copied into.
#[derive(Debug)]
pub(crate) struct ChunkSlabs {
    /// Width of the ranges chunks are grouped by (the head's chunk range).
    range: i64,
    shards: Box<[Mutex<Vec<Writer>>]>,
}

/// The open slab of one range in one shard.
#[derive(Debug)]
struct Writer {
    /// `max_t.div_euclid(range)` of the chunks it takes.
    bucket: i64,
    /// The slab being filled, and how much of it is.
    slab: Option<Arc<Slab>>,
    filled: usize,
    /// Capacity of the next slab.
    next: usize,
}

impl ChunkSlabs {
    /// Slabs for chunks grouped by ranges of `range` milliseconds (at least 1).
    pub(crate) fn new(range: i64) -> ChunkSlabs {
        ChunkSlabs {
            range: range.max(1),
            shards: (0..SHARDS).map(|_| Mutex::new(Vec::new())).collect(),
        }
    }

    /// Copies the bytes of a chunk whose last sample is at `max_t` into a slab.
    ///
    /// # Panics
    ///
    /// If the chunk is 4 GiB or more (head chunks are cut at a few KiB).
    pub(crate) fn seal(&self, max_t: i64, data: &[u8]) -> SlabBytes {
        let len = u32::try_from(data.len()).expect("a head chunk is far below 4 GiB");
        let bucket = max_t.div_euclid(self.range);
        let mut writers = self.shards[shard()].lock();
        let i = match writers.iter().position(|w| w.bucket == bucket) {
            Some(i) => i,
            None => {
                writers.push(Writer {
                    bucket,
                    slab: None,
                    filled: 0,
                    next: MIN_SLAB,
                });
                writers.len() - 1
            }
        };
        let w = &mut writers[i];
        let slab = match &w.slab {
            Some(slab) if slab.cap - w.filled >= data.len() => Arc::clone(slab),
            _ => {
                // The rest of the old slab is given up; its chunks keep it alive.
                let slab = Arc::new(Slab::new(w.next.max(data.len())));
                w.next = (w.next * 2).min(MAX_SLAB);
                w.filled = 0;
                w.slab = Some(Arc::clone(&slab));
                slab
            }
        };
        let off = w.filled;
        // SAFETY: `off + len <= cap` (checked above); no `SlabBytes` covers bytes at or
        // after `filled`, and this shard's lock makes us their only writer.
        unsafe {
            std::ptr::copy_nonoverlapping(data.as_ptr(), slab.ptr.as_ptr().add(off), data.len());
        }
        w.filled += data.len();
        SlabBytes {
            slab,
            off: u32::try_from(off).expect("slabs are below 4 GiB"),
            len,
        }
    }

    /// Closes the slabs of ranges that end at or before `mint`: a truncation to `mint`
    /// dropped their chunks, so no chunk will be sealed into them again (and their
    /// unused room goes once the last reader lets go).
    pub(crate) fn close_before(&self, mint: i64) {
        for shard in self.shards.iter() {
            shard
                .lock()
                .retain(|w| (w.bucket + 1).saturating_mul(self.range) > mint);
        }
    }
}

/// This thread's shard.
fn shard() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SHARD: usize = NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS;
    }
    SHARD.with(|s| *s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_of_one_range_share_a_slab_and_keep_their_bytes() {
        let slabs = ChunkSlabs::new(1000);
        let a = slabs.seal(10, b"first");
        let b = slabs.seal(999, b"second");
        let c = slabs.seal(1000, b"third");
        assert_eq!(
            (&a[..], &b[..], &c[..]),
            (&b"first"[..], &b"second"[..], &b"third"[..])
        );
        // Same range: adjacent in one slab. Next range: another slab.
        assert_eq!(a.as_ptr().wrapping_add(a.len()), b.as_ptr());
        assert_ne!(b.as_ptr().wrapping_add(b.len()), c.as_ptr());
    }

    #[test]
    fn slabs_grow_and_large_chunks_get_their_own() {
        let slabs = ChunkSlabs::new(1000);
        let chunk = vec![7u8; 1000];
        let sealed: Vec<SlabBytes> = (0..2000).map(|_| slabs.seal(5, &chunk)).collect();
        assert!(sealed.iter().all(|s| s[..] == chunk[..]));
        // 2 MB in slabs of at most 256 KiB, doubling from 4 KiB: a handful of slabs, each
        // holding runs of adjacent chunks.
        let starts = sealed
            .windows(2)
            .filter(|w| w[0].as_ptr().wrapping_add(w[0].len()) != w[1].as_ptr())
            .count();
        assert!((5..=20).contains(&starts), "{starts} slab changes");
        let big = vec![1u8; MAX_SLAB + 1];
        assert_eq!(slabs.seal(5, &big)[..], big[..]);
        assert_eq!(slabs.seal(5, b"after")[..], b"after"[..]);
    }

    #[test]
    fn chunks_sealed_from_many_threads_keep_their_bytes() {
        // More threads than shards, so some share a shard's slabs; each checks its earlier
        // chunks while the others keep writing behind them.
        let slabs = ChunkSlabs::new(1000);
        std::thread::scope(|scope| {
            for t in 0..(SHARDS as u8 + 4) {
                let slabs = &slabs;
                scope.spawn(move || {
                    let chunk = |i: u32| vec![t; 1 + (i % 300) as usize];
                    let sealed: Vec<SlabBytes> = (0..3000)
                        .map(|i| {
                            let s = slabs.seal(i64::from(i % 2) * 1000, &chunk(i));
                            assert_eq!(s[..], chunk(i)[..]);
                            s
                        })
                        .collect();
                    for (i, s) in sealed.iter().enumerate() {
                        assert_eq!(s[..], chunk(i as u32)[..], "thread {t}, chunk {i}");
                    }
                });
            }
        });
    }

    #[test]
    fn closing_a_range_forgets_its_writers_only() {
        let slabs = ChunkSlabs::new(1000);
        slabs.seal(-1, b"x");
        slabs.seal(500, b"x");
        slabs.seal(1500, b"x");
        let buckets = |s: &ChunkSlabs| {
            let mut b: Vec<i64> = s
                .shards
                .iter()
                .flat_map(|w| w.lock().iter().map(|w| w.bucket).collect::<Vec<_>>())
                .collect();
            b.sort_unstable();
            b
        };
        assert_eq!(buckets(&slabs), [-1, 0, 1]);
        slabs.close_before(999);
        assert_eq!(buckets(&slabs), [0, 1]);
        slabs.close_before(1000);
        assert_eq!(buckets(&slabs), [1]);
    }
}
