//! Postings: the sets of series ids that carry each label pair, as roaring bitmaps.
//!
//! Series ids are `u32`s. A postings list is a [`RoaringBitmap`], so Prometheus's
//! `Intersect`, `Merge` and `Without` iterators become bitmap operations:
//! [`intersect`], [`union`] and [`without`].
//!
//! * [`MemPostings`] is the head's in-memory inverted index (label name → label value →
//!   bitmap, plus the bitmap of all series).
//! * [`IndexReader`] is the read interface a postings computation needs; [`MemPostings`]
//!   provides it through [`MemPostings::reader`], and block index readers will too.
//! * [`postings_for_matchers`] selects the series matching a list of label matchers, with
//!   the semantics of Prometheus's `PostingsForMatchers`;
//!   [`label_values_for_matchers`] and [`label_names_for_matchers`] build on it.

mod for_matchers;
mod mem;

use std::borrow::Cow;

use roaring::{MultiOps, RoaringBitmap};

use crate::error::Result;
use crate::labels::Symbol;

pub use for_matchers::{
    label_names_for_matchers, label_values_for_matchers, postings_for_matchers,
};
pub use mem::{MemPostings, MemPostingsReader};

/// The series in every one of `lists`; empty when there are no lists.
///
/// Starts from the smallest list (the only one copied) and stops as soon as the result is
/// empty, so a selective list makes the others cheap.
pub fn intersect<'a>(lists: impl IntoIterator<Item = &'a RoaringBitmap>) -> RoaringBitmap {
    intersect_cow(lists.into_iter().map(Cow::Borrowed).collect())
}

/// [`intersect`] over lists some of which are already owned; an owned list is reused as
/// the result's storage when it is the smallest, so nothing is copied.
pub(crate) fn intersect_cow(mut lists: Vec<Cow<'_, RoaringBitmap>>) -> RoaringBitmap {
    // Among lists of equal length prefer an owned one as the base.
    lists.sort_unstable_by_key(|b| (b.len(), matches!(b, Cow::Borrowed(_))));
    let mut lists = lists.into_iter();
    let Some(first) = lists.next() else {
        return RoaringBitmap::new();
    };
    let mut acc = first.into_owned();
    for other in lists {
        if acc.is_empty() {
            break;
        }
        acc &= &*other;
    }
    acc
}

/// The series in any of `lists` (Prometheus's `Merge`).
///
/// Uses roaring's multi-way union, which borrows containers until they need combining
/// instead of copying every input.
pub fn union<'a>(lists: impl IntoIterator<Item = &'a RoaringBitmap>) -> RoaringBitmap {
    lists.into_iter().union()
}

/// The series of `base` that are not in `remove` (Prometheus's `Without`).
pub fn without(mut base: RoaringBitmap, remove: &RoaringBitmap) -> RoaringBitmap {
    base -= remove;
    base
}

/// The read side of an index, as much as [`postings_for_matchers`] and the label APIs need.
///
/// Implemented by [`MemPostingsReader`] (the head) and, later, by block index readers.
/// Postings come back as [`Cow`]: an in-memory index lends its bitmaps, an on-disk one
/// decodes into owned bitmaps. An absent label pair has empty postings, not an error;
/// errors are for I/O and corruption.
pub trait IndexReader {
    /// All label names, sorted.
    fn label_names(&self) -> Result<Vec<Symbol>>;

    /// The values of label `name`, sorted; empty if there is no such label.
    fn label_values(&self, name: &str) -> Result<Vec<Symbol>>;

    /// The series with label `name` set to `value`.
    fn postings(&self, name: &str, value: &str) -> Result<Cow<'_, RoaringBitmap>>;

    /// Every series in the index.
    fn all_postings(&self) -> Result<Cow<'_, RoaringBitmap>>;

    /// The series with label `name` set to any of `values`.
    fn postings_for_values(
        &self,
        name: &str,
        values: &mut dyn Iterator<Item = &str>,
    ) -> Result<RoaringBitmap> {
        let lists = values
            .map(|v| self.postings(name, v))
            .collect::<Result<Vec<_>>>()?;
        Ok(lists.iter().map(|c| &**c).union())
    }

    /// The series whose value of label `name` starts with `prefix` and satisfies `matches`.
    ///
    /// `matches` is only called for values that start with `prefix`, so an index with
    /// sorted values can seek to the prefix instead of testing every value.
    fn postings_for_label_matching(
        &self,
        name: &str,
        prefix: &str,
        matches: &mut dyn FnMut(&str) -> bool,
    ) -> Result<RoaringBitmap> {
        let values = self.label_values(name)?;
        let mut selected = values
            .iter()
            .map(Symbol::as_str)
            .filter(|v| v.starts_with(prefix) && matches(v));
        self.postings_for_values(name, &mut selected)
    }

    /// The series that have label `name` at all (any value).
    fn postings_for_all_label_values(&self, name: &str) -> Result<RoaringBitmap> {
        self.postings_for_label_matching(name, "", &mut |_| true)
    }

    /// The names of the labels carried by at least one series of `postings`, sorted.
    ///
    /// The default tests every label pair's postings against `postings`; an index that
    /// can look up a series' labels by id should do that instead when `postings` is small.
    fn label_names_for(&self, postings: &RoaringBitmap) -> Result<Vec<Symbol>> {
        let mut out = Vec::new();
        if postings.is_empty() {
            return Ok(out);
        }
        for name in self.label_names()? {
            for value in self.label_values(&name)? {
                if !self.postings(&name, &value)?.is_disjoint(postings) {
                    out.push(name);
                    break;
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
