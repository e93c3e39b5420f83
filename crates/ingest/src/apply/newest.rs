//! [`Newest`]: the newest sample a request has accepted per series, by series ref.
//!
//! The head checks a sample against committed data only, so [`crate::apply_with`] keeps
//! the request's own newest sample per series to refuse a later one that is older or a
//! conflicting duplicate. Every accepted sample reads and writes this table, so it is a
//! flat open-addressing table (linear probing, at most half full) rather than a general
//! hash map, and it is emptied between requests by bumping a generation number instead
//! of clearing its slots.

/// One slot; it is in use for the current request when its `generation` matches.
#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    generation: u32,
    series_ref: u64,
    t: i64,
    bits: u64,
}

/// The newest `(timestamp, value bits)` per series ref of one request.
#[derive(Debug, Default)]
pub(crate) struct Newest {
    slots: Vec<Slot>,
    /// The current request's generation: never 0, which marks never-used slots.
    generation: u32,
}

impl Newest {
    /// Empties the table for a request of at most `samples` inserts.
    pub(crate) fn reset(&mut self, samples: usize) {
        // At most half full, so a probe always meets a free slot.
        let want = samples.saturating_mul(2).next_power_of_two().max(16);
        if self.slots.len() < want || self.generation == u32::MAX {
            self.slots = vec![Slot::default(); want.max(self.slots.len())];
            self.generation = 0;
        }
        self.generation += 1;
    }

    fn start(&self, series_ref: u64) -> usize {
        // Fibonacci hashing; the high half of the product mixes every bit of the ref.
        let h = series_ref.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32;
        h as usize & (self.slots.len() - 1)
    }

    /// The newest sample recorded for `series_ref` in this request.
    #[inline]
    pub(crate) fn get(&self, series_ref: u64) -> Option<(i64, u64)> {
        let mask = self.slots.len() - 1;
        let mut i = self.start(series_ref);
        loop {
            let s = &self.slots[i];
            if s.generation != self.generation {
                return None;
            }
            if s.series_ref == series_ref {
                return Some((s.t, s.bits));
            }
            i = (i + 1) & mask;
        }
    }

    /// Records `(t, bits)` as the newest sample of `series_ref`. At most as many distinct
    /// refs as [`Newest::reset`] was given samples may be inserted.
    #[inline]
    pub(crate) fn insert(&mut self, series_ref: u64, t: i64, bits: u64) {
        let mask = self.slots.len() - 1;
        let mut i = self.start(series_ref);
        loop {
            let s = &mut self.slots[i];
            if s.generation != self.generation || s.series_ref == series_ref {
                *s = Slot {
                    generation: self.generation,
                    series_ref,
                    t,
                    bits,
                };
                return;
            }
            i = (i + 1) & mask;
        }
    }

    /// Bytes the table holds.
    pub(crate) fn retained_bytes(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<Slot>()
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
    fn generation_wrap_clears_the_table() {
        let mut table = Newest::default();
        table.reset(1);
        table.insert(7, 1, 2);
        table.generation = u32::MAX;
        table.reset(1);
        assert_eq!(table.get(7), None);
    }
}
