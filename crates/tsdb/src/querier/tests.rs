//! The merge querier over hand-made queriers: pass-through, the tie rule, limits,
//! errors and warnings, and the chain iterator's `seek`. Merges of real heads are
//! property-tested in `tests/it/merge_querier.rs`.

use std::sync::{Arc, Mutex};

use super::*;
use crate::chunkenc::{SampleIterator, ValueType};
use crate::error::Error;
use crate::labels::Labels;

/// Samples in a vector; fails with a decode error instead of yielding sample `fail_at`.
#[derive(Debug)]
struct VecIterator {
    samples: Vec<(i64, f64)>,
    pos: Option<usize>,
    fail_at: Option<usize>,
    err: Option<Error>,
}

impl VecIterator {
    fn new(samples: Vec<(i64, f64)>, fail_at: Option<usize>) -> Self {
        Self {
            samples,
            pos: None,
            fail_at,
            err: None,
        }
    }

    fn land(&mut self, i: usize) -> ValueType {
        if self.fail_at == Some(i) {
            self.err = Some(Error::decode("test chunk", "broken on purpose"));
        }
        if self.err.is_some() || i >= self.samples.len() {
            self.pos = Some(self.samples.len());
            return ValueType::None;
        }
        self.pos = Some(i);
        ValueType::Float
    }
}

impl SampleIterator for VecIterator {
    fn next(&mut self) -> ValueType {
        let i = self.pos.map_or(0, |p| p + 1);
        self.land(i)
    }
    fn seek(&mut self, t: i64) -> ValueType {
        let from = self.pos.unwrap_or(0);
        if let Some(&(pt, _)) = self.samples.get(from)
            && pt >= t
            && self.pos.is_some()
        {
            return ValueType::Float;
        }
        let i = from + self.samples[from.min(self.samples.len())..].partition_point(|s| s.0 < t);
        self.land(i)
    }
    fn at(&self) -> (i64, f64) {
        self.pos
            .and_then(|p| self.samples.get(p).copied())
            .unwrap_or((0, 0.0))
    }
    fn at_t(&self) -> i64 {
        self.at().0
    }
    fn err(&self) -> Option<&Error> {
        self.err.as_ref()
    }
}

#[derive(Debug, Clone)]
struct TestSeries {
    labels: Labels,
    samples: Vec<(i64, f64)>,
    fail_at: Option<usize>,
}

impl Series for TestSeries {
    fn labels(&self) -> &Labels {
        &self.labels
    }
    fn iterator(&self) -> Box<dyn SampleIterator + Send + '_> {
        Box::new(VecIterator::new(self.samples.clone(), self.fail_at))
    }
}

/// Hands out its series in the given order; fails at series `fail_at`.
struct TestSet {
    series: std::vec::IntoIter<TestSeries>,
    fail_at: Option<usize>,
    n: usize,
    warnings: Vec<String>,
}

impl Iterator for TestSet {
    type Item = Result<Box<dyn Series>>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.fail_at == Some(self.n) {
            self.n += 1;
            return Some(Err(Error::decode("test index", "series set broken")));
        }
        self.n += 1;
        let s = self.series.next()?;
        Some(Ok(Box::new(s)))
    }
}

impl SeriesSet for TestSet {
    fn warnings(&self) -> Vec<String> {
        self.warnings.clone()
    }
}

/// A querier over fixed series (matchers ignored), recording the `sort` it was asked with.
#[derive(Default)]
struct TestQuerier {
    series: Vec<TestSeries>,
    names: Vec<&'static str>,
    set_fails_at: Option<usize>,
    select_fails: bool,
    warnings: Vec<String>,
    sorts: Arc<Mutex<Vec<bool>>>,
}

impl Querier for TestQuerier {
    fn select(
        &self,
        sort: bool,
        _hints: Option<&SelectHints>,
        _matchers: &[Matcher],
    ) -> Result<Box<dyn SeriesSet>> {
        self.sorts.lock().expect("lock").push(sort);
        if self.select_fails {
            return Err(Error::Closed);
        }
        Ok(Box::new(TestSet {
            series: self.series.clone().into_iter(),
            fail_at: self.set_fails_at,
            n: 0,
            warnings: self.warnings.clone(),
        }))
    }

    fn label_values(
        &self,
        _name: &str,
        hints: &LabelHints,
        _matchers: &[Matcher],
    ) -> Result<Vec<Symbol>> {
        let mut v: Vec<Symbol> = self.names.iter().map(|&n| Symbol::new(n)).collect();
        if hints.limit > 0 {
            v.truncate(hints.limit);
        }
        Ok(v)
    }

    fn label_names(&self, hints: &LabelHints, matchers: &[Matcher]) -> Result<Vec<Symbol>> {
        self.label_values("", hints, matchers)
    }
}

fn series(id: &str, samples: &[(i64, f64)]) -> TestSeries {
    TestSeries {
        labels: Labels::from_pairs(&[("id", id)]),
        samples: samples.to_vec(),
        fail_at: None,
    }
}

fn querier(series: Vec<TestSeries>) -> TestQuerier {
    TestQuerier {
        series,
        ..TestQuerier::default()
    }
}

/// Every series of a select as (id, samples); panics on errors.
fn read(
    q: &dyn Querier,
    sort: bool,
    hints: Option<&SelectHints>,
) -> Vec<(String, Vec<(i64, f64)>)> {
    q.select(sort, hints, &[])
        .expect("select")
        .map(|s| {
            let s = s.expect("series");
            let mut it = s.iterator();
            let mut samples = Vec::new();
            while it.next() != ValueType::None {
                samples.push(it.at());
            }
            assert!(it.err().is_none(), "{:?}", it.err());
            (s.labels().get("id").unwrap_or("").to_string(), samples)
        })
        .collect()
}

#[test]
fn one_child_is_passed_through_untouched() {
    let child = querier(vec![series("b", &[(1, 1.0)]), series("a", &[])]);
    let sorts = Arc::clone(&child.sorts);
    let merged = MergeQuerier::new(vec![Box::new(child)]);
    // The caller's `sort` reaches the child, and its unsorted output stays unsorted:
    // nothing merges it.
    assert_eq!(
        read(&merged, false, None),
        [("b".to_string(), vec![(1, 1.0)]), ("a".to_string(), vec![])]
    );
    assert_eq!(*sorts.lock().expect("lock"), [false]);
    // `merge_queriers` returns the child itself.
    let q = merge_queriers(vec![Box::new(querier(vec![
        series("b", &[]),
        series("a", &[]),
    ]))]);
    let ids: Vec<String> = read(&*q, false, None).into_iter().map(|s| s.0).collect();
    assert_eq!(ids, ["b", "a"]);
}

#[test]
fn several_children_are_always_asked_sorted() {
    let a = querier(vec![series("a", &[])]);
    let b = querier(vec![series("b", &[])]);
    let (sa, sb) = (Arc::clone(&a.sorts), Arc::clone(&b.sorts));
    let two = merge_queriers(vec![Box::new(a), Box::new(b)]);
    let _ = two.select(false, None, &[]).expect("select");
    assert_eq!(*sa.lock().expect("lock"), [true]);
    assert_eq!(*sb.lock().expect("lock"), [true]);
}

#[test]
fn equal_labels_merge_by_timestamp_and_the_last_child_wins_ties() {
    let old = querier(vec![
        series("a", &[(1, 1.0), (3, 3.0), (5, 5.0)]),
        series("c", &[(1, 1.0)]),
    ]);
    let mid = querier(vec![
        series("b", &[(2, 2.0)]),
        series("c", &[(1, 10.0), (2, 20.0)]),
    ]);
    let new = querier(vec![
        series("a", &[(3, 30.0), (4, 40.0)]),
        series("c", &[(1, 100.0)]),
    ]);
    let q = merge_queriers(vec![Box::new(old), Box::new(mid), Box::new(new)]);
    assert_eq!(
        read(&*q, false, None),
        [
            (
                "a".to_string(),
                vec![(1, 1.0), (3, 30.0), (4, 40.0), (5, 5.0)]
            ),
            ("b".to_string(), vec![(2, 2.0)]),
            ("c".to_string(), vec![(1, 100.0), (2, 20.0)]),
        ]
    );
}

#[test]
fn select_limit_counts_merged_series() {
    let a = querier(vec![series("a", &[]), series("c", &[]), series("d", &[])]);
    let b = querier(vec![series("a", &[]), series("b", &[])]);
    let q = merge_queriers(vec![Box::new(a), Box::new(b)]);
    let hints = SelectHints {
        limit: 2,
        ..SelectHints::default()
    };
    let ids: Vec<String> = read(&*q, true, Some(&hints))
        .into_iter()
        .map(|s| s.0)
        .collect();
    assert_eq!(ids, ["a", "b"]);
}

#[test]
fn label_values_and_names_are_a_sorted_union_cut_after_the_union() {
    let a = TestQuerier {
        names: vec!["a", "c", "e"],
        ..TestQuerier::default()
    };
    let b = TestQuerier {
        names: vec!["b", "c", "d"],
        ..TestQuerier::default()
    };
    let empty = TestQuerier::default();
    let q = merge_queriers(vec![Box::new(a), Box::new(empty), Box::new(b)]);
    let strs = |v: Vec<Symbol>| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let all = LabelHints::default();
    assert_eq!(
        strs(q.label_values("x", &all, &[]).expect("values")),
        ["a", "b", "c", "d", "e"]
    );
    assert_eq!(
        strs(q.label_names(&all, &[]).expect("names")),
        ["a", "b", "c", "d", "e"]
    );
    let three = LabelHints { limit: 3 };
    assert_eq!(
        strs(q.label_values("x", &three, &[]).expect("values")),
        ["a", "b", "c"]
    );
    assert_eq!(
        strs(q.label_names(&three, &[]).expect("names")),
        ["a", "b", "c"]
    );
}

#[test]
fn no_children_is_empty() {
    let q = merge_queriers(Vec::new());
    assert!(read(&*q, true, None).is_empty());
    assert!(
        q.label_names(&LabelHints::default(), &[])
            .expect("names")
            .is_empty()
    );
    assert!(
        q.label_values("a", &LabelHints::default(), &[])
            .expect("values")
            .is_empty()
    );
}

#[test]
fn a_child_error_ends_the_stream_with_it() {
    let good = querier(vec![series("a", &[]), series("b", &[]), series("c", &[])]);
    let bad = TestQuerier {
        series: vec![series("a", &[]), series("z", &[])],
        set_fails_at: Some(1),
        ..TestQuerier::default()
    };
    let q = merge_queriers(vec![Box::new(good), Box::new(bad)]);
    let mut set = q.select(true, None, &[]).expect("select");
    assert_eq!(
        set.next().expect("a").expect("ok").labels().get("id"),
        Some("a")
    );
    // Advancing the bad child past "a" fails.
    assert!(matches!(set.next(), Some(Err(Error::Decode { .. }))));
    assert!(set.next().is_none());

    let failing = TestQuerier {
        select_fails: true,
        ..TestQuerier::default()
    };
    let q = merge_queriers(vec![Box::new(querier(vec![])), Box::new(failing)]);
    assert!(matches!(q.select(true, None, &[]), Err(Error::Closed)));
}

#[test]
fn a_sample_error_stops_the_merged_iterator() {
    let mut broken = series("a", &[(2, 2.0), (4, 4.0), (6, 6.0)]);
    broken.fail_at = Some(1);
    let q = merge_queriers(vec![
        Box::new(querier(vec![series("a", &[(1, 1.0), (5, 5.0)])])),
        Box::new(querier(vec![broken])),
    ]);
    let s = q
        .select(true, None, &[])
        .expect("select")
        .next()
        .expect("a")
        .expect("ok");
    let mut it = s.iterator();
    let mut got = Vec::new();
    while it.next() != ValueType::None {
        got.push(it.at_t());
    }
    assert_eq!(got, [1, 2]);
    assert!(matches!(it.err(), Some(Error::Decode { .. })));
    assert_eq!(it.next(), ValueType::None);
}

#[test]
fn warnings_of_all_children_are_combined_once() {
    let a = TestQuerier {
        warnings: vec!["w1".into(), "w2".into()],
        ..TestQuerier::default()
    };
    let b = TestQuerier {
        warnings: vec!["w2".into(), "w3".into()],
        ..TestQuerier::default()
    };
    let q = merge_queriers(vec![Box::new(a), Box::new(b)]);
    let set = q.select(true, None, &[]).expect("select");
    assert_eq!(set.warnings(), ["w1", "w2", "w3"]);
}

fn chain(children: &[&[i64]]) -> ChainSampleIterator<'static> {
    ChainSampleIterator::new(
        children
            .iter()
            .enumerate()
            .map(|(i, ts)| {
                let samples = ts.iter().map(|&t| (t, i as f64)).collect();
                Box::new(VecIterator::new(samples, None)) as Box<dyn SampleIterator + Send>
            })
            .collect(),
    )
}

#[test]
fn chain_seek_moves_forward_only_and_stays_put() {
    let mut it = chain(&[&[1, 4, 7, 10], &[2, 4, 8], &[3, 11]]);
    // Seek before any next: first sample at or after 4, the tie at 4 going to child 1.
    assert_eq!(it.seek(4), ValueType::Float);
    assert_eq!(it.at(), (4, 1.0));
    // Already there: no movement, even for an earlier target.
    assert_eq!(it.seek(2), ValueType::Float);
    assert_eq!(it.at(), (4, 1.0));
    assert_eq!(it.next(), ValueType::Float);
    assert_eq!(it.at(), (7, 0.0));
    assert_eq!(it.seek(9), ValueType::Float);
    assert_eq!(it.at(), (10, 0.0));
    assert_eq!(it.next(), ValueType::Float);
    assert_eq!(it.at(), (11, 2.0));
    assert_eq!(it.seek(12), ValueType::None);
    assert_eq!(it.next(), ValueType::None);
    assert!(it.err().is_none());
}

#[test]
fn chain_skips_duplicates_within_one_child() {
    let mut it = chain(&[&[1, 1, 2, 2, 3], &[2]]);
    let mut got = Vec::new();
    while it.next() != ValueType::None {
        got.push(it.at());
    }
    assert_eq!(got, [(1, 0.0), (2, 1.0), (3, 0.0)]);
}

#[test]
fn chain_of_empty_children_is_empty() {
    let mut it = chain(&[&[], &[]]);
    assert_eq!(it.next(), ValueType::None);
    let mut it = chain(&[]);
    assert_eq!(it.seek(0), ValueType::None);
    assert_eq!(it.at(), (0, 0.0));
}
