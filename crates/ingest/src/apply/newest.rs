//! [`Newest`]: the newest sample a request has accepted per series, by series ref.
//!
//! The head checks a sample against committed data only, so [`crate::apply_with`] keeps
//! the request's own newest sample per series to refuse a later one that is older or a
//! conflicting duplicate. Every accepted sample reads and writes this table, so it is a
//! flat open-addressing table (linear probing, at most half full) rather than a general
//! hash map.
//!
//! The table holds only 4-byte positions into a list of entries appended in request
//! order. A request of 2000 series probes 2000 random slots, and a table of whole entries
//! (32 bytes a slot, 128 KiB) did not stay in the caches from one request to the next on
//! a busy server: its first probe per series, nearly always a miss that finds nothing,
//! was most of `apply_with`'s own time. The positions take 16 KiB, and the entries are
//! written one after the other.

/// A slot's value when no entry uses it.
const EMPTY: u32 = u32::MAX;

/// One series' newest accepted sample.
#[derive(Debug, Clone, Copy)]
struct Entry {
    series_ref: u64,
    t: i64,
    bits: u64,
}

/// The newest `(timestamp, value bits)` per series ref of one request.
#[derive(Debug, Default)]
pub(crate) struct Newest {
    /// Positions in `entries`, or [`EMPTY`]; a power of two long.
    slots: Vec<u32>,
    /// In order of first insertion.
    entries: Vec<Entry>,
}

impl Newest {
    /// Empties the table for a request of at most `samples` inserts.
    pub(crate) fn reset(&mut self, samples: usize) {
        // At most half full, so a probe always meets a free slot.
        let want = samples.saturating_mul(2).next_power_of_two().max(16);
        // Exactly `want` slots (the allocation is kept): a large request does not make
        // every later one clear and probe a larger table.
        self.slots.clear();
        self.slots.resize(want, EMPTY);
        self.entries.clear();
        self.entries.reserve(samples);
    }

    fn start(&self, series_ref: u64) -> usize {
        // Fibonacci hashing; the high half of the product mixes every bit of the ref.
        let h = series_ref.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32;
        h as usize & (self.slots.len() - 1)
    }

    /// The slot of `series_ref`: the one holding its entry, else the free one where it
    /// would go.
    #[inline]
    fn find(&self, series_ref: u64) -> usize {
        let mask = self.slots.len() - 1;
        let mut i = self.start(series_ref);
        loop {
            let at = self.slots[i];
            if at == EMPTY || self.entries[at as usize].series_ref == series_ref {
                return i;
            }
            i = (i + 1) & mask;
        }
    }

    /// The newest sample recorded for `series_ref` in this request.
    #[inline]
    pub(crate) fn get(&self, series_ref: u64) -> Option<(i64, u64)> {
        match self.slots[self.find(series_ref)] {
            EMPTY => None,
            at => {
                let e = &self.entries[at as usize];
                Some((e.t, e.bits))
            }
        }
    }

    /// Records `(t, bits)` as the newest sample of `series_ref`. At most as many distinct
    /// refs as [`Newest::reset`] was given samples may be inserted.
    #[inline]
    pub(crate) fn insert(&mut self, series_ref: u64, t: i64, bits: u64) {
        let i = self.find(series_ref);
        match self.slots[i] {
            EMPTY => {
                self.slots[i] =
                    u32::try_from(self.entries.len()).expect("fewer entries than slots");
                self.entries.push(Entry {
                    series_ref,
                    t,
                    bits,
                });
            }
            at => {
                let e = &mut self.entries[at as usize];
                e.t = t;
                e.bits = bits;
            }
        }
    }

    /// Bytes the table holds.
    pub(crate) fn retained_bytes(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<u32>()
            + self.entries.capacity() * std::mem::size_of::<Entry>()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn behaves_like_a_map_across_requests(
            requests in prop::collection::vec(
                prop::collection::vec((0u64..40, any::<i64>(), any::<u64>()), 0..60),
                1..6,
            ),
        ) {
            let mut table = Newest::default();
            for inserts in requests {
                table.reset(inserts.len());
                let mut want = HashMap::new();
                for (r, t, bits) in inserts {
                    // Refs far apart as well as neighbours.
                    let r = r.wrapping_mul(1 << 20) ^ r;
                    prop_assert_eq!(table.get(r), want.get(&r).copied());
                    table.insert(r, t, bits);
                    want.insert(r, (t, bits));
                    prop_assert_eq!(table.get(r), Some((t, bits)));
                }
                for r in 0..50u64 {
                    let r = r.wrapping_mul(1 << 20) ^ r;
                    prop_assert_eq!(table.get(r), want.get(&r).copied());
                }
            }
        }
    }

    #[test]
    fn reset_clears_the_table_and_a_larger_request_grows_it() {
        let mut table = Newest::default();
        table.reset(1);
        table.insert(7, 1, 2);
        table.insert(7, 3, 4);
        assert_eq!(table.get(7), Some((3, 4)));
        table.reset(1);
        assert_eq!(table.get(7), None);
        table.reset(100);
        for r in 0..100 {
            table.insert(r, r as i64, r);
        }
        for r in 0..100 {
            assert_eq!(table.get(r), Some((r as i64, r)));
        }
        assert_eq!(table.get(100), None);
    }
}
