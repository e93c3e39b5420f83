//! `RefTable`: which series each WAL reference names, for the length of one replay.

use std::collections::HashSet;
use std::sync::Arc;

use crate::head::series::{MemSeries, U64Map, prefetch};
use crate::record::HeadSeriesRef;

/// WAL reference → series, for the length of one replay.
///
/// Samples are most of a WAL, and each names its series by reference; looking each up in
/// the head's striped maps costs a stripe lock, a hash probe and a reference count, one
/// dependent cache miss after another. References are handed out one by one, so most
/// live in a vector indexed by `ref - base`: a lookup is one load, and its address is
/// known in advance, so it can be prefetched. A reference far beyond the others (a
/// sparse range after much churn) goes to a map instead, so the vector stays within
/// about two slots per series.
///
/// A reference can name a series first logged under another reference (Prometheus
/// re-logs label sets under new references after a restart): such an alias is kept
/// here too, but a series created under the reference itself takes precedence, as it
/// did when aliases were looked up only after the head's own maps.
#[derive(Default)]
pub(super) struct RefTable {
    /// The reference of slot 0 (set by the first reference met).
    base: Option<HeadSeriesRef>,
    dense: Vec<Option<Arc<MemSeries>>>,
    sparse: U64Map<Arc<MemSeries>>,
    /// References whose entry is an alias.
    aliases: HashSet<HeadSeriesRef>,
    /// Entries held, for the dense vector's bound.
    len: usize,
}

impl RefTable {
    /// The dense vector starts this many slots below the first reference met (refs met
    /// later may be a little smaller) and grows to cover a reference only up to twice
    /// this beyond twice the entries held.
    const SLACK: usize = 1 << 16;

    fn slot(&self, r: HeadSeriesRef) -> Option<usize> {
        let i = usize::try_from(r.checked_sub(self.base?)?).ok()?;
        (i < self.dense.len()).then_some(i)
    }

    pub(super) fn get(&self, r: HeadSeriesRef) -> Option<&Arc<MemSeries>> {
        if let Some(i) = self.slot(r)
            && let Some(s) = &self.dense[i]
        {
            return Some(s);
        }
        // A reference put in the map may be covered by the vector since it grew.
        if self.sparse.is_empty() {
            None
        } else {
            self.sparse.get(&r)
        }
    }

    /// Hints the CPU to load `r`'s entry (no effect on results).
    #[inline(always)]
    pub(super) fn prefetch(&self, r: HeadSeriesRef) {
        if let Some(i) = self.slot(r) {
            prefetch(self.dense.as_ptr().wrapping_add(i));
        }
    }

    /// `r` names `s`: its own reference, or an alias when `alias`.
    pub(super) fn insert(&mut self, r: HeadSeriesRef, s: Arc<MemSeries>, alias: bool) {
        if alias {
            if self.get(r).is_some() && !self.aliases.contains(&r) {
                return;
            }
            self.aliases.insert(r);
        } else if !self.aliases.is_empty() {
            self.aliases.remove(&r);
        }
        let base = *self
            .base
            .get_or_insert(r.saturating_sub(Self::SLACK as HeadSeriesRef));
        let i = r
            .checked_sub(base)
            .and_then(|i| usize::try_from(i).ok())
            .filter(|&i| i < 2 * (self.len + Self::SLACK));
        let old = match i {
            Some(i) => {
                if i >= self.dense.len() {
                    self.dense.resize(i + 1, None);
                }
                // The vector may have grown over a reference the map holds.
                let moved = if self.sparse.is_empty() {
                    None
                } else {
                    self.sparse.remove(&r)
                };
                self.dense[i].replace(s).or(moved)
            }
            None => self.sparse.insert(r, s),
        };
        if old.is_none() {
            self.len += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::Labels;

    fn series(r: HeadSeriesRef) -> Arc<MemSeries> {
        Arc::new(MemSeries::new(
            r,
            Labels::from_pairs(&[("r", &r.to_string())]),
            true,
        ))
    }

    fn found(t: &RefTable, r: HeadSeriesRef) -> Option<HeadSeriesRef> {
        t.get(r).map(|s| s.series_ref)
    }

    #[test]
    fn far_refs_stay_found_when_the_vector_grows_over_them() {
        let mut t = RefTable::default();
        t.insert(1, series(1), false);
        // Far beyond twice the entries plus the slack: kept in the map.
        let far = 300_000;
        t.insert(far, series(far), false);
        assert!(t.dense.len() < far as usize);
        assert_eq!(found(&t, far), Some(far));
        // Enough entries that the vector grows past `far`.
        for r in 2..=far + 10 {
            if r != far {
                t.insert(r, series(r), false);
            }
        }
        assert!(t.dense.len() > far as usize, "the vector covers `far` now");
        assert_eq!(found(&t, far), Some(far));
        // Overwriting it moves it into the vector, counted once.
        let len = t.len;
        t.insert(far, series(far), false);
        assert_eq!(t.len, len);
        assert!(t.sparse.is_empty());
        assert_eq!(found(&t, far), Some(far));
        assert_eq!(found(&t, far + 11), None);
        assert_eq!(found(&t, 0), None);
    }

    #[test]
    fn a_series_under_its_own_ref_wins_over_an_alias() {
        let mut t = RefTable::default();
        let (a, b) = (series(1), series(2));
        // 3 is an alias of 1, then its own series is logged: the series wins.
        t.insert(3, Arc::clone(&a), true);
        assert_eq!(found(&t, 3), Some(1));
        t.insert(3, series(3), false);
        assert_eq!(found(&t, 3), Some(3));
        // An alias logged after the series does not replace it.
        t.insert(3, Arc::clone(&b), true);
        assert_eq!(found(&t, 3), Some(3));
        // Aliases replace aliases.
        t.insert(4, a, true);
        t.insert(4, b, true);
        assert_eq!(found(&t, 4), Some(2));
        // Refs below the first one met are found too.
        t.insert(0, series(0), false);
        assert_eq!(found(&t, 0), Some(0));
    }
}
