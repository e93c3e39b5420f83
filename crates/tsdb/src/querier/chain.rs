//! [`ChainSampleIterator`]: the samples of several iterators over the same series, merged
//! by timestamp with one sample per timestamp (Prometheus's `chainSampleIterator`).
//!
//! The iterator positioned on the current sample is kept apart from a min-heap of the
//! others (keyed by their current timestamps, all later than the current one), so while
//! one child holds the earliest samples, as when head and blocks do not overlap in
//! time, `next` costs the child's `next` and one comparison with the top of the heap.
//! Nothing is allocated after construction.
//!
//! **Ties**: when several children have a sample at the same timestamp, the one listed
//! last wins and the others skip theirs. The merge querier lists children oldest data
//! first (blocks by time, then the head), so the newest write wins. Prometheus keeps an
//! unspecified one of them (whichever its heap yields first).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fmt;

use crate::chunkenc::{SampleIterator, ValueType};
use crate::error::Error;

/// Where the iterator is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Neither `next` nor `seek` has been called.
    Fresh,
    /// Positioned on a sample of child `cur` at `last_t`.
    Active,
    /// Exhausted, or stopped by a child's error (`err_child`).
    Done,
}

/// Merges the samples of several iterators by timestamp; on equal timestamps the
/// iterator listed last wins. A child's error stops the merge and is reported by
/// [`SampleIterator::err`].
pub struct ChainSampleIterator<'a> {
    its: Vec<Box<dyn SampleIterator + Send + 'a>>,
    /// The value type each child returned last.
    vts: Vec<ValueType>,
    /// Children positioned on a sample later than `last_t`, except `cur`, by
    /// (timestamp, index).
    heap: BinaryHeap<Reverse<(i64, usize)>>,
    /// Children taken off the heap for a seek or a tie; kept to reuse its capacity.
    scratch: Vec<usize>,
    state: State,
    cur: usize,
    last_t: i64,
    err_child: Option<usize>,
}

impl fmt::Debug for ChainSampleIterator<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChainSampleIterator")
            .field("children", &self.its.len())
            .field("state", &self.state)
            .field("cur", &self.cur)
            .field("last_t", &self.last_t)
            .finish()
    }
}

impl<'a> ChainSampleIterator<'a> {
    /// Merges `its`; on equal timestamps the iterator listed last wins.
    pub fn new(its: Vec<Box<dyn SampleIterator + Send + 'a>>) -> Self {
        let n = its.len();
        Self {
            its,
            vts: vec![ValueType::None; n],
            heap: BinaryHeap::with_capacity(n),
            scratch: Vec::with_capacity(n),
            state: State::Fresh,
            cur: 0,
            last_t: i64::MIN,
            err_child: None,
        }
    }

    fn finish(&mut self) -> ValueType {
        self.state = State::Done;
        self.heap.clear();
        ValueType::None
    }

    /// Records what child `i` returned: onto the heap if positioned; `Err` if it failed.
    fn offer(&mut self, i: usize, vt: ValueType) -> Result<(), ()> {
        self.vts[i] = vt;
        if vt != ValueType::None {
            self.heap.push(Reverse((self.its[i].at_t(), i)));
            Ok(())
        } else if self.its[i].err().is_some() {
            self.err_child = Some(i);
            Err(())
        } else {
            Ok(())
        }
    }

    /// Moves child `i` to its first sample after `t` (skipping its own duplicates).
    fn advance_past(&mut self, i: usize, t: i64) -> ValueType {
        loop {
            let vt = self.its[i].next();
            if vt == ValueType::None || self.its[i].at_t() > t {
                return vt;
            }
        }
    }

    /// Makes the child with the earliest sample current; on a tie the last-listed child
    /// wins and the others move past the timestamp.
    fn select(&mut self) -> ValueType {
        let Some(Reverse((t, first))) = self.heap.pop() else {
            return self.finish();
        };
        let mut winner = first;
        let mut losers = std::mem::take(&mut self.scratch);
        while let Some(&Reverse((t2, j))) = self.heap.peek()
            && t2 == t
        {
            self.heap.pop();
            losers.push(winner.min(j));
            winner = winner.max(j);
        }
        let mut failed = false;
        for &j in &losers {
            let vt = self.advance_past(j, t);
            if self.offer(j, vt).is_err() {
                failed = true;
                break;
            }
        }
        losers.clear();
        self.scratch = losers;
        if failed {
            return self.finish();
        }
        self.state = State::Active;
        self.cur = winner;
        self.last_t = t;
        self.vts[winner]
    }

    /// Positions every child with `step` (its first `next` or `seek`), then selects.
    fn start(&mut self, mut step: impl FnMut(&mut dyn SampleIterator) -> ValueType) -> ValueType {
        for i in 0..self.its.len() {
            let vt = step(&mut *self.its[i]);
            if self.offer(i, vt).is_err() {
                return self.finish();
            }
        }
        self.select()
    }
}

impl SampleIterator for ChainSampleIterator<'_> {
    fn next(&mut self) -> ValueType {
        match self.state {
            State::Done => ValueType::None,
            State::Fresh => self.start(|it| it.next()),
            State::Active => {
                let c = self.cur;
                let vt = self.advance_past(c, self.last_t);
                self.vts[c] = vt;
                if vt == ValueType::None {
                    if self.its[c].err().is_some() {
                        self.err_child = Some(c);
                        return self.finish();
                    }
                    return self.select();
                }
                let t = self.its[c].at_t();
                match self.heap.peek() {
                    // The common case: the current child still has the earliest sample.
                    Some(&Reverse((top, _))) if top <= t => {
                        self.heap.push(Reverse((t, c)));
                        self.select()
                    }
                    _ => {
                        self.last_t = t;
                        vt
                    }
                }
            }
        }
    }

    fn seek(&mut self, t: i64) -> ValueType {
        match self.state {
            State::Done => ValueType::None,
            State::Fresh => self.start(|it| it.seek(t)),
            State::Active if self.last_t >= t => self.vts[self.cur],
            State::Active => {
                // Only the children behind `t` move; the others keep their place.
                self.heap.push(Reverse((self.last_t, self.cur)));
                let mut behind = std::mem::take(&mut self.scratch);
                while let Some(&Reverse((ti, i))) = self.heap.peek()
                    && ti < t
                {
                    self.heap.pop();
                    behind.push(i);
                }
                let mut failed = false;
                for &i in &behind {
                    let vt = self.its[i].seek(t);
                    if self.offer(i, vt).is_err() {
                        failed = true;
                        break;
                    }
                }
                behind.clear();
                self.scratch = behind;
                if failed {
                    return self.finish();
                }
                self.select()
            }
        }
    }

    fn at(&self) -> (i64, f64) {
        match self.state {
            State::Active => self.its[self.cur].at(),
            State::Fresh | State::Done => (0, 0.0),
        }
    }

    fn at_t(&self) -> i64 {
        match self.state {
            State::Active => self.its[self.cur].at_t(),
            State::Fresh | State::Done => 0,
        }
    }

    fn err(&self) -> Option<&Error> {
        self.err_child.and_then(|i| self.its[i].err())
    }
}
