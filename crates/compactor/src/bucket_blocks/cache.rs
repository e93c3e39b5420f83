//! [`PageCache`]: the bounded LRU of chunk-segment pages shared by every bucket block.
//!
//! A page is an aligned range of one segment object (`page_size` bytes, the last page of
//! an object shorter). The cache holds at most `capacity` bytes of pages: inserting a page
//! evicts the least recently used ones until the total fits; a page larger than the whole
//! capacity is not kept at all. Pages are `Arc`s, so a chunk handed to a query keeps its
//! page alive after eviction; the bound is on what the cache itself keeps.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use parking_lot::Mutex;
use tsdb::block::Ulid;

use super::Counters;

/// One page: the block, the 0-based segment index, and the page number in the segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct PageKey {
    pub(crate) block: Ulid,
    pub(crate) segment: u32,
    pub(crate) page: u64,
}

/// A page's bytes.
pub(crate) type Page = Arc<Vec<u8>>;

#[derive(Debug, Default)]
struct Lru {
    /// Page → (bytes, last-use tick).
    pages: HashMap<PageKey, (Page, u64)>,
    /// Last-use tick → page, oldest first.
    order: BTreeMap<u64, PageKey>,
    tick: u64,
    bytes: u64,
}

/// A bounded, byte-counted LRU of pages; see the module documentation.
#[derive(Debug)]
pub(crate) struct PageCache {
    capacity: u64,
    lru: Mutex<Lru>,
    counters: Arc<Counters>,
}

impl PageCache {
    /// An empty cache holding at most `capacity` bytes of pages.
    pub(crate) fn new(capacity: u64, counters: Arc<Counters>) -> PageCache {
        PageCache {
            capacity,
            lru: Mutex::default(),
            counters,
        }
    }

    /// The page, marked as just used; counts a hit or a miss.
    pub(crate) fn get(&self, key: &PageKey) -> Option<Page> {
        let mut lru = self.lru.lock();
        lru.tick += 1;
        let tick = lru.tick;
        let Some((page, used)) = lru.pages.get_mut(key) else {
            self.counters.cache_misses.fetch_add(1, Ordering::Relaxed);
            return None;
        };
        let (page, old) = (Arc::clone(page), std::mem::replace(used, tick));
        lru.order.remove(&old);
        lru.order.insert(tick, *key);
        self.counters.cache_hits.fetch_add(1, Ordering::Relaxed);
        Some(page)
    }

    /// Adds (or replaces) a page, evicting the least recently used pages until the cache
    /// fits its capacity.
    pub(crate) fn insert(&self, key: PageKey, page: Page) {
        let size = page.len() as u64;
        let mut lru = self.lru.lock();
        if let Some((old, used)) = lru.pages.remove(&key) {
            lru.order.remove(&used);
            lru.bytes -= old.len() as u64;
        }
        if size > self.capacity {
            return;
        }
        while lru.bytes + size > self.capacity {
            let Some((_, victim)) = lru.order.pop_first() else {
                break;
            };
            if let Some((old, _)) = lru.pages.remove(&victim) {
                lru.bytes -= old.len() as u64;
                self.counters.evictions.fetch_add(1, Ordering::Relaxed);
            }
        }
        lru.tick += 1;
        let tick = lru.tick;
        lru.pages.insert(key, (page, tick));
        lru.order.insert(tick, key);
        lru.bytes += size;
        self.counters
            .cache_peak_bytes
            .fetch_max(lru.bytes, Ordering::Relaxed);
    }

    /// Drops every page of `block` (a block no longer served).
    pub(crate) fn remove_block(&self, block: Ulid) {
        let mut lru = self.lru.lock();
        let keys: Vec<PageKey> = lru
            .pages
            .keys()
            .filter(|k| k.block == block)
            .copied()
            .collect();
        for k in keys {
            if let Some((page, used)) = lru.pages.remove(&k) {
                lru.order.remove(&used);
                lru.bytes -= page.len() as u64;
            }
        }
    }

    /// Bytes and pages held now.
    pub(crate) fn usage(&self) -> (u64, u64) {
        let lru = self.lru.lock();
        (lru.bytes, lru.pages.len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(block: Ulid, page: u64) -> PageKey {
        PageKey {
            block,
            segment: 0,
            page,
        }
    }

    #[test]
    fn evicts_least_recently_used_pages_to_stay_within_the_byte_bound() {
        let counters = Arc::new(Counters::default());
        let cache = PageCache::new(300, Arc::clone(&counters));
        let b = Ulid::from_parts(1, 1);
        for p in 0..3 {
            cache.insert(key(b, p), Arc::new(vec![p as u8; 100]));
        }
        assert_eq!(cache.usage(), (300, 3));
        // Page 0 is used, so page 1 is now the oldest.
        assert!(cache.get(&key(b, 0)).is_some());
        cache.insert(key(b, 3), Arc::new(vec![3; 150]));
        assert!(cache.get(&key(b, 1)).is_none(), "oldest evicted");
        assert!(cache.get(&key(b, 2)).is_none(), "second oldest evicted");
        assert_eq!(cache.get(&key(b, 0)).expect("kept").as_slice(), &[0; 100]);
        assert_eq!(cache.usage(), (250, 2));
        assert_eq!(counters.evictions.load(Ordering::Relaxed), 2);
        // A page larger than the cache is not kept, and evicts nothing.
        cache.insert(key(b, 9), Arc::new(vec![9; 301]));
        assert!(cache.get(&key(b, 9)).is_none());
        assert_eq!(cache.usage(), (250, 2));
        // Replacing a page counts its bytes once.
        cache.insert(key(b, 0), Arc::new(vec![0; 50]));
        assert_eq!(cache.usage(), (200, 2));
        assert!(counters.cache_peak_bytes.load(Ordering::Relaxed) <= 300);
    }

    #[test]
    fn pages_of_a_dropped_block_go() {
        let cache = PageCache::new(1000, Arc::new(Counters::default()));
        let (a, b) = (Ulid::from_parts(1, 1), Ulid::from_parts(2, 2));
        cache.insert(key(a, 0), Arc::new(vec![0; 10]));
        cache.insert(key(b, 0), Arc::new(vec![0; 20]));
        cache.remove_block(a);
        assert_eq!(cache.usage(), (20, 1));
        assert!(cache.get(&key(a, 0)).is_none());
        assert!(cache.get(&key(b, 0)).is_some());
    }

    #[test]
    fn a_zero_capacity_cache_keeps_nothing() {
        let cache = PageCache::new(0, Arc::new(Counters::default()));
        cache.insert(key(Ulid::from_parts(1, 1), 0), Arc::new(vec![1]));
        assert_eq!(cache.usage(), (0, 0));
    }
}
