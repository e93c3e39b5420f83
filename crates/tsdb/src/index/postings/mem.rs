//! `MemPostings`: the head's in-memory inverted index.
//!
//! # Locking
//!
//! The index is internally locked by one `parking_lot::RwLock`, so it is shared as
//! `&MemPostings` (the head does not wrap it in another lock). Every lock is held briefly:
//!
//! * [`MemPostings::add`] holds the write lock for one series' labels.
//! * [`MemPostings::delete`] (series garbage collection) takes the write lock once per batch
//!   of label pairs and releases it in between, so readers never wait for a whole GC.
//! * [`MemPostings::postings_for_matchers`] tests label values against regular expressions
//!   *without* the lock (like Prometheus's `PostingsForLabelMatching`) and holds the read
//!   lock only for the bitmap operations.
//! * [`MemPostings::reader`] returns a read guard that lends bitmaps out without copying;
//!   keep it only for the duration of one computation, since writers wait for it.
//!
//! Because a deletion is not atomic, a reader may briefly see a deleted id in some lists
//! and not in others. Prometheus has the same property: callers remove a series from the
//! series map first, and resolving postings skips ids that no longer exist.
//!
//! # Memory
//!
//! Names and values are the [`Symbol`]s of the labels passed to [`MemPostings::add`], so
//! when the head interns its labels the index stores no string of its own. Both levels
//! are `BTreeMap`s: label names and values come out sorted without sorting, and a regex
//! with a literal prefix seeks to it.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::ops::Bound;

use parking_lot::{RwLock, RwLockReadGuard};
use roaring::{MultiOps, RoaringBitmap};

use super::IndexReader;
use super::for_matchers::{self, Term};
use crate::error::Result;
use crate::labels::{Label, Labels, Matcher, Symbol};

/// How many label pairs [`MemPostings::delete`] updates per write-lock acquisition.
const DELETE_BATCH: usize = 256;

type Values = BTreeMap<Symbol, RoaringBitmap>;

#[derive(Default)]
struct Inner {
    /// Every series id.
    all: RoaringBitmap,
    /// Label name → label value → series ids. No empty bitmap or empty value map is kept.
    index: BTreeMap<Symbol, Values>,
}

/// The head's in-memory inverted index: label name → label value → series ids.
///
/// See the module documentation for the locking rules.
#[derive(Default)]
pub struct MemPostings {
    inner: RwLock<Inner>,
}

impl fmt::Debug for MemPostings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = self.inner.read();
        f.debug_struct("MemPostings")
            .field("series", &inner.all.len())
            .field("label_names", &inner.index.len())
            .finish()
    }
}

impl MemPostings {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds series `id` with `labels` to the postings of each of its label pairs.
    ///
    /// The symbols of `labels` are stored (cloned, not copied), so pass interned labels.
    pub fn add(&self, id: u32, labels: &Labels) {
        let mut inner = self.inner.write();
        inner.all.insert(id);
        for Label { name, value } in labels {
            // Look up by `&str` first so known names and values clone no symbol.
            let Some(values) = inner.index.get_mut(name.as_str()) else {
                let values = Values::from([(value.clone(), RoaringBitmap::from_iter([id]))]);
                inner.index.insert(name.clone(), values);
                continue;
            };
            match values.get_mut(value.as_str()) {
                Some(ids) => {
                    ids.insert(id);
                }
                None => {
                    values.insert(value.clone(), RoaringBitmap::from_iter([id]));
                }
            }
        }
    }

    /// Removes the series `ids` (series garbage collection).
    ///
    /// `affected` lists the label pairs of the deleted series (duplicates are fine); only
    /// their postings are updated, and values and names left without series are dropped.
    /// The write lock is taken per batch of label pairs, not for the whole call.
    pub fn delete<'a>(&self, ids: &RoaringBitmap, affected: impl IntoIterator<Item = &'a Label>) {
        if ids.is_empty() {
            return;
        }
        let mut pairs: Vec<(&str, &str)> = affected
            .into_iter()
            .map(|l| (l.name.as_str(), l.value.as_str()))
            .collect();
        pairs.sort_unstable();
        pairs.dedup();
        for batch in pairs.chunks(DELETE_BATCH) {
            let mut inner = self.inner.write();
            for &(name, value) in batch {
                let Some(values) = inner.index.get_mut(name) else {
                    continue;
                };
                if let Some(list) = values.get_mut(value) {
                    *list -= ids;
                    if list.is_empty() {
                        values.remove(value);
                    }
                }
                if values.is_empty() {
                    inner.index.remove(name);
                }
            }
        }
        self.inner.write().all -= ids;
    }

    /// A copy of the postings of `name="value"`, if any series has that label pair.
    pub fn get(&self, name: &str, value: &str) -> Option<RoaringBitmap> {
        self.inner.read().index.get(name)?.get(value).cloned()
    }

    /// A copy of the set of all series ids.
    pub fn all(&self) -> RoaringBitmap {
        self.inner.read().all.clone()
    }

    /// The number of series.
    pub fn len(&self) -> u64 {
        self.inner.read().all.len()
    }

    /// Whether the index holds no series.
    pub fn is_empty(&self) -> bool {
        self.inner.read().all.is_empty()
    }

    /// All label names, sorted.
    pub fn label_names(&self) -> Vec<Symbol> {
        self.inner.read().index.keys().cloned().collect()
    }

    /// The values of label `name`, sorted.
    pub fn label_values(&self, name: &str) -> Vec<Symbol> {
        self.inner
            .read()
            .index
            .get(name)
            .map(|v| v.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// The number of distinct values of label `name`.
    pub fn label_value_count(&self, name: &str) -> usize {
        self.inner.read().index.get(name).map_or(0, BTreeMap::len)
    }

    /// The union of the postings of every value of label `name` for which `matches`
    /// returns true; no bitmap is copied unless it has to be combined.
    ///
    /// `matches` runs under the read lock; for an expensive predicate over many values
    /// prefer [`MemPostings::postings_for_matchers`], which tests values without the lock.
    pub fn union_matching(
        &self,
        name: &str,
        mut matches: impl FnMut(&str) -> bool,
    ) -> RoaringBitmap {
        let inner = self.inner.read();
        let Some(values) = inner.index.get(name) else {
            return RoaringBitmap::new();
        };
        values
            .iter()
            .filter(|(v, _)| matches(v))
            .map(|(_, ids)| ids)
            .union()
    }

    /// A read guard that lends bitmaps out and implements [`IndexReader`].
    ///
    /// Writers wait while it is alive: use it for one computation and drop it.
    pub fn reader(&self) -> MemPostingsReader<'_> {
        MemPostingsReader {
            inner: self.inner.read(),
        }
    }

    /// [`super::postings_for_matchers`] over this index, holding the read lock only for
    /// bitmap operations: label values that must be tested one by one are copied out
    /// (as cheap [`Symbol`] clones) and tested without the lock.
    pub fn postings_for_matchers(&self, matchers: &[Matcher]) -> Result<RoaringBitmap> {
        let mut plan = for_matchers::plan(matchers);
        // A series added between resolving a subtracted term's values and the bitmap
        // operations could carry a value that was not tested, and so escape the
        // subtraction. Restrict the result to the series that existed before resolving:
        // later ones are then treated as added after the query.
        let before = plan.subtracts_scan().then(|| self.all());
        for term in plan.terms_mut() {
            if let Term::Scan {
                name,
                prefix,
                matcher,
                want,
            } = *term
            {
                let mut values = self.values_with_prefix(name, prefix);
                values.retain(|v| matcher.matches(v) == want);
                *term = Term::Values { name, values };
            }
        }
        let mut selected = for_matchers::execute(&self.reader(), &plan)?;
        if let Some(before) = before {
            selected &= &before;
        }
        Ok(selected)
    }

    /// [`super::label_values_for_matchers`] over this index, with the same locking as
    /// [`MemPostings::postings_for_matchers`].
    pub fn label_values_for_matchers(
        &self,
        name: &str,
        matchers: &[Matcher],
    ) -> Result<Vec<Symbol>> {
        let mut values = self.label_values(name);
        let mut others = false;
        for m in matchers {
            if m.name == name {
                values.retain(|v| m.matches(v));
            } else {
                others = true;
            }
        }
        if values.is_empty() || !others {
            return Ok(values);
        }
        let selected = self.postings_for_matchers(matchers)?;
        let reader = self.reader();
        values.retain(|v| {
            reader
                .get(name, v)
                .is_some_and(|ids| !ids.is_disjoint(&selected))
        });
        Ok(values)
    }

    /// [`super::label_names_for_matchers`] over this index, with the same locking as
    /// [`MemPostings::postings_for_matchers`].
    pub fn label_names_for_matchers(&self, matchers: &[Matcher]) -> Result<Vec<Symbol>> {
        if matchers.is_empty() {
            return Ok(self.label_names());
        }
        let selected = self.postings_for_matchers(matchers)?;
        self.reader().label_names_for(&selected)
    }

    /// The values of `name` that start with `prefix`, sorted (a short read lock).
    fn values_with_prefix(&self, name: &str, prefix: &str) -> Vec<Symbol> {
        let inner = self.inner.read();
        match inner.index.get(name) {
            Some(values) => prefixed(values, prefix).map(|(v, _)| v.clone()).collect(),
            None => Vec::new(),
        }
    }
}

/// The entries of `values` whose value starts with `prefix`, found by seeking.
fn prefixed<'a>(
    values: &'a Values,
    prefix: &'a str,
) -> impl Iterator<Item = (&'a Symbol, &'a RoaringBitmap)> {
    values
        .range::<str, _>((Bound::Included(prefix), Bound::Unbounded))
        .take_while(move |(v, _)| v.starts_with(prefix))
}

/// A read-locked view of a [`MemPostings`]; bitmaps are lent out, not copied.
pub struct MemPostingsReader<'a> {
    inner: RwLockReadGuard<'a, Inner>,
}

impl fmt::Debug for MemPostingsReader<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemPostingsReader")
            .field("series", &self.inner.all.len())
            .field("label_names", &self.inner.index.len())
            .finish()
    }
}

impl MemPostingsReader<'_> {
    /// The postings of `name="value"`, if any series has that label pair.
    pub fn get(&self, name: &str, value: &str) -> Option<&RoaringBitmap> {
        self.inner.index.get(name)?.get(value)
    }

    /// The set of all series ids.
    pub fn all(&self) -> &RoaringBitmap {
        &self.inner.all
    }

    /// The values of label `name` with their postings, in value order.
    pub fn values(&self, name: &str) -> impl Iterator<Item = (&Symbol, &RoaringBitmap)> + '_ {
        self.inner.index.get(name).into_iter().flatten()
    }
}

impl IndexReader for MemPostingsReader<'_> {
    fn label_names(&self) -> Result<Vec<Symbol>> {
        Ok(self.inner.index.keys().cloned().collect())
    }

    fn label_values(&self, name: &str) -> Result<Vec<Symbol>> {
        Ok(self.values(name).map(|(v, _)| v.clone()).collect())
    }

    fn postings(&self, name: &str, value: &str) -> Result<Cow<'_, RoaringBitmap>> {
        Ok(self
            .get(name, value)
            .map_or_else(|| Cow::Owned(RoaringBitmap::new()), Cow::Borrowed))
    }

    fn all_postings(&self) -> Result<Cow<'_, RoaringBitmap>> {
        Ok(Cow::Borrowed(&self.inner.all))
    }

    fn postings_for_values(
        &self,
        name: &str,
        values: &mut dyn Iterator<Item = &str>,
    ) -> Result<RoaringBitmap> {
        let Some(map) = self.inner.index.get(name) else {
            return Ok(RoaringBitmap::new());
        };
        Ok(values.filter_map(|v| map.get(v)).union())
    }

    fn postings_for_label_matching(
        &self,
        name: &str,
        prefix: &str,
        matches: &mut dyn FnMut(&str) -> bool,
    ) -> Result<RoaringBitmap> {
        let Some(map) = self.inner.index.get(name) else {
            return Ok(RoaringBitmap::new());
        };
        Ok(prefixed(map, prefix)
            .filter(|(v, _)| matches(v))
            .map(|(_, ids)| ids)
            .union())
    }

    fn postings_for_all_label_values(&self, name: &str) -> Result<RoaringBitmap> {
        Ok(self.values(name).map(|(_, ids)| ids).union())
    }

    fn label_names_for(&self, postings: &RoaringBitmap) -> Result<Vec<Symbol>> {
        if postings.is_empty() {
            return Ok(Vec::new());
        }
        Ok(self
            .inner
            .index
            .iter()
            .filter(|(_, values)| values.values().any(|ids| !ids.is_disjoint(postings)))
            .map(|(name, _)| name.clone())
            .collect())
    }
}
