//! One [`Querier`] over several: the head, local blocks and bucket blocks are each a
//! querier, and [`merge_queriers`] makes them one (Prometheus's `storage.NewMergeQuerier`
//! with `ChainedSeriesMerge`).
//!
//! * `select` merges the children's series sets, each sorted by labels, k-way and
//!   streaming; series with equal labels become one series whose samples are merged
//!   by timestamp with one sample per timestamp ([`ChainSampleIterator`]).
//!   Children are always asked for sorted sets, whatever the caller's `sort`.
//! * `label_values` and `label_names` are the sorted union of the children's answers,
//!   cut to [`LabelHints::limit`] after the union.
//! * A child's error ends the stream with that error; warnings of all children are
//!   combined without duplicates.
//!
//! **Tie rule**: when children hold a sample with the same timestamp for the same
//! series, the sample of the child listed **last** is kept. Callers list children
//! from the oldest data to the newest (blocks by time, then the head), so the newest
//! write wins. Prometheus keeps an unspecified one.
//!
//! With a single child, [`merge_queriers`] returns that child itself: no overhead.

use std::fmt;

use crate::error::Result;
use crate::labels::{Matcher, Symbol};
use crate::storage::{LabelHints, Querier, SelectHints, Series, SeriesSet};

mod chain;
mod series_set;

pub use chain::ChainSampleIterator;
use series_set::MergeSeriesSet;

/// One querier over `queriers`: the child itself when there is exactly one, otherwise a
/// [`MergeQuerier`]. List children from the oldest data to the newest: on equal
/// timestamps the last child's sample wins.
pub fn merge_queriers<'a>(mut queriers: Vec<Box<dyn Querier + 'a>>) -> Box<dyn Querier + 'a> {
    if queriers.len() == 1 {
        return queriers.pop().expect("one querier");
    }
    Box::new(MergeQuerier::new(queriers))
}

/// Merges the answers of several queriers; see the [module docs](self).
pub struct MergeQuerier<'a> {
    queriers: Vec<Box<dyn Querier + 'a>>,
}

impl fmt::Debug for MergeQuerier<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MergeQuerier")
            .field("children", &self.queriers.len())
            .finish()
    }
}

impl<'a> MergeQuerier<'a> {
    /// Merges `queriers`, listed from the oldest data to the newest.
    pub fn new(queriers: Vec<Box<dyn Querier + 'a>>) -> Self {
        Self { queriers }
    }

    /// Asks every child with `f` and merges the sorted answers.
    fn merge_labels(
        &self,
        hints: &LabelHints,
        f: impl Fn(&dyn Querier) -> Result<Vec<Symbol>>,
    ) -> Result<Vec<Symbol>> {
        let mut merged = Vec::new();
        for q in &self.queriers {
            merged = union_sorted(merged, f(&**q)?);
        }
        if hints.limit > 0 {
            merged.truncate(hints.limit);
        }
        Ok(merged)
    }
}

impl Querier for MergeQuerier<'_> {
    fn select(
        &self,
        sort: bool,
        hints: Option<&SelectHints>,
        matchers: &[Matcher],
    ) -> Result<Box<dyn SeriesSet>> {
        match self.queriers.as_slice() {
            [] => Ok(Box::new(EmptySeriesSet)),
            [q] => q.select(sort, hints, matchers),
            qs => {
                // Merging needs every child sorted, whatever the caller asked for.
                let sets = qs
                    .iter()
                    .map(|q| q.select(true, hints, matchers))
                    .collect::<Result<Vec<_>>>()?;
                let limit = hints.map_or(0, |h| h.limit);
                Ok(Box::new(MergeSeriesSet::new(sets, limit)))
            }
        }
    }

    fn label_values(
        &self,
        name: &str,
        hints: &LabelHints,
        matchers: &[Matcher],
    ) -> Result<Vec<Symbol>> {
        match self.queriers.as_slice() {
            [q] => q.label_values(name, hints, matchers),
            _ => self.merge_labels(hints, |q| q.label_values(name, hints, matchers)),
        }
    }

    fn label_names(&self, hints: &LabelHints, matchers: &[Matcher]) -> Result<Vec<Symbol>> {
        match self.queriers.as_slice() {
            [q] => q.label_names(hints, matchers),
            _ => self.merge_labels(hints, |q| q.label_names(hints, matchers)),
        }
    }
}

/// The sorted union of two sorted, duplicate-free lists.
fn union_sorted(a: Vec<Symbol>, b: Vec<Symbol>) -> Vec<Symbol> {
    if a.is_empty() {
        return b;
    }
    if b.is_empty() {
        return a;
    }
    let mut out = Vec::with_capacity(a.len().max(b.len()));
    let mut a = a.into_iter().peekable();
    let mut b = b.into_iter().peekable();
    loop {
        let next = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) => match x.as_str().cmp(y.as_str()) {
                std::cmp::Ordering::Less => a.next(),
                std::cmp::Ordering::Greater => b.next(),
                std::cmp::Ordering::Equal => {
                    b.next();
                    a.next()
                }
            },
            (Some(_), None) => a.next(),
            (None, Some(_)) => b.next(),
            (None, None) => break,
        };
        out.extend(next);
    }
    out
}

/// The answer of a merge over no queriers.
#[derive(Debug)]
struct EmptySeriesSet;

impl Iterator for EmptySeriesSet {
    type Item = Result<Box<dyn Series>>;
    fn next(&mut self) -> Option<Self::Item> {
        None
    }
}

impl SeriesSet for EmptySeriesSet {}

#[cfg(test)]
mod tests;
