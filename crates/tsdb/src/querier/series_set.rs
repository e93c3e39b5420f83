//! [`MergeSeriesSet`]: a k-way merge by labels of several sorted series sets, in which
//! series with equal labels become one [`MergedSeries`] (Prometheus's
//! `genericMergeSeriesSet` with `ChainedSeriesMerge`).

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::fmt;

use crate::chunkenc::SampleIterator;
use crate::error::Result;
use crate::labels::Labels;
use crate::querier::chain::ChainSampleIterator;
use crate::storage::{Series, SeriesSet, read_floats_with_iterator};

/// The next series of one child set, ordered for a min-heap by labels, then child.
struct Peeked {
    series: Box<dyn Series>,
    child: usize,
}

impl Peeked {
    fn key(&self) -> (&Labels, usize) {
        (self.series.labels(), self.child)
    }
}

impl PartialEq for Peeked {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Peeked {}

impl PartialOrd for Peeked {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Peeked {
    fn cmp(&self, other: &Self) -> Ordering {
        // Reversed: `BinaryHeap` is a max-heap.
        other.key().cmp(&self.key())
    }
}

/// Merges series sets that are each sorted by labels into one sorted set. Streaming:
/// it holds one series per child. Stops after `limit` series when `limit > 0`, and at
/// the first error of any child, which it yields.
pub(crate) struct MergeSeriesSet {
    sets: Vec<Box<dyn SeriesSet>>,
    heap: BinaryHeap<Peeked>,
    /// Children whose series were handed out last and must be advanced first.
    pending: Vec<usize>,
    done: bool,
    limit: usize,
    returned: usize,
}

impl fmt::Debug for MergeSeriesSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MergeSeriesSet")
            .field("children", &self.sets.len())
            .field("returned", &self.returned)
            .field("done", &self.done)
            .finish()
    }
}

impl MergeSeriesSet {
    /// Merges `sets`, each sorted by labels.
    pub(crate) fn new(sets: Vec<Box<dyn SeriesSet>>, limit: usize) -> Self {
        let n = sets.len();
        Self {
            sets,
            heap: BinaryHeap::with_capacity(n),
            pending: (0..n).collect(),
            done: false,
            limit,
            returned: 0,
        }
    }

    /// Takes the next series of child `i` onto the heap.
    fn advance(&mut self, i: usize) -> Result<()> {
        match self.sets[i].next() {
            Some(Ok(series)) => self.heap.push(Peeked { series, child: i }),
            Some(Err(e)) => return Err(e),
            None => {}
        }
        Ok(())
    }
}

impl Iterator for MergeSeriesSet {
    type Item = Result<Box<dyn Series>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || (self.limit > 0 && self.returned >= self.limit) {
            self.done = true;
            return None;
        }
        let mut pending = std::mem::take(&mut self.pending);
        for &i in &pending {
            if let Err(e) = self.advance(i) {
                self.done = true;
                return Some(Err(e));
            }
        }
        pending.clear();
        let Some(first) = self.heap.pop() else {
            self.done = true;
            return None;
        };
        pending.push(first.child);
        let mut same = Vec::new();
        while let Some(h) = self.heap.peek()
            && h.series.labels() == first.series.labels()
        {
            let h = self.heap.pop().expect("peeked");
            pending.push(h.child);
            same.push(h.series);
        }
        self.pending = pending;
        self.returned += 1;
        if same.is_empty() {
            return Some(Ok(first.series));
        }
        // Popped in child order: the heap breaks label ties by child index.
        same.insert(0, first.series);
        Some(Ok(Box::new(MergedSeries { series: same })))
    }
}

impl SeriesSet for MergeSeriesSet {
    fn warnings(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for set in &self.sets {
            for w in set.warnings() {
                if !out.contains(&w) {
                    out.push(w);
                }
            }
        }
        out
    }
}

/// Series with equal labels from several children, in child order.
struct MergedSeries {
    series: Vec<Box<dyn Series>>,
}

impl Series for MergedSeries {
    fn labels(&self) -> &Labels {
        self.series[0].labels()
    }

    fn iterator(&self) -> Box<dyn SampleIterator + Send + '_> {
        Box::new(ChainSampleIterator::new(
            self.series.iter().map(|s| s.iterator()).collect(),
        ))
    }

    /// Each child's own `read_floats` one after the other when their samples follow each
    /// other in time (blocks, then the head: the usual case), so a merged series is
    /// decoded as fast as a single one. If one child's first sample is not after the
    /// previous children's last, the samples read so far are dropped and the series is
    /// read through the merging iterator, which settles ties.
    fn read_floats(&self, mint: i64, maxt: i64, out: &mut Vec<(i64, f64)>) -> Result<()> {
        let start = out.len();
        for s in &self.series {
            let before = out.len();
            s.read_floats(mint, maxt, out)?;
            if before > start && out.len() > before && out[before].0 <= out[before - 1].0 {
                out.truncate(start);
                return read_floats_with_iterator(self.iterator(), mint, maxt, out);
            }
        }
        Ok(())
    }
}
