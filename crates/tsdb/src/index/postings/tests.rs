//! Tests of postings: set algebra and `MemPostings` against `BTreeSet`/`BTreeMap` models,
//! and `postings_for_matchers` against brute-force filtering.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;

use super::*;
use crate::labels::{Label, Labels, MatchType, Matcher, SymbolTable};

fn to_bitmap(s: &BTreeSet<u32>) -> RoaringBitmap {
    s.iter().copied().collect()
}

fn to_set(b: &RoaringBitmap) -> BTreeSet<u32> {
    b.iter().collect()
}

/// Lists that are sparse (array containers), dense (bitmap containers), or span several
/// containers, including ids at the top of the `u32` range.
fn list_strategy() -> impl Strategy<Value = BTreeSet<u32>> {
    let id = prop_oneof![
        0u32..300,
        65_400u32..65_700,
        (u32::MAX - 50)..=u32::MAX,
        any::<u32>()
    ];
    prop_oneof![
        3 => proptest::collection::btree_set(id, 0..200),
        1 => (0u32..100_000, 0u32..9_000, 1u32..=2)
            .prop_map(|(start, len, step)| (0..len).map(|i| start + i * step).collect()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn set_algebra_matches_btreeset(lists in proptest::collection::vec(list_strategy(), 0..6)) {
        let bitmaps: Vec<RoaringBitmap> = lists.iter().map(to_bitmap).collect();

        let mut want_and: Option<BTreeSet<u32>> = None;
        for l in &lists {
            want_and = Some(match want_and {
                None => l.clone(),
                Some(acc) => acc.intersection(l).copied().collect(),
            });
        }
        let want_and = want_and.unwrap_or_default();
        prop_assert_eq!(to_set(&intersect(&bitmaps)), want_and.clone());
        // Mixed owned and borrowed inputs give the same result.
        let cows = bitmaps
            .iter()
            .enumerate()
            .map(|(i, b)| if i % 2 == 0 { Cow::Owned(b.clone()) } else { Cow::Borrowed(b) })
            .collect();
        prop_assert_eq!(to_set(&intersect_cow(cows)), want_and);

        let want_or: BTreeSet<u32> = lists.iter().flatten().copied().collect();
        prop_assert_eq!(to_set(&union(&bitmaps)), want_or);

        if let [a, b, ..] = lists.as_slice() {
            let want: BTreeSet<u32> = a.difference(b).copied().collect();
            prop_assert_eq!(to_set(&without(bitmaps[0].clone(), &bitmaps[1])), want);
        }
    }
}

const NAMES: [&str; 4] = ["__name__", "a", "b", "c"];
const VALUES: [&str; 5] = ["x", "y", "xy", "é", "x\ny"];

fn labels_strategy() -> impl Strategy<Value = Labels> {
    proptest::collection::vec((0..NAMES.len(), 0..VALUES.len()), 0..4).prop_map(|pairs| {
        Labels::from_pairs(
            &pairs
                .iter()
                .map(|&(n, v)| (NAMES[n], VALUES[v]))
                .collect::<Vec<_>>(),
        )
    })
}

/// Checks every read of `mp` against the model.
fn check_against_model(
    mp: &MemPostings,
    model: &BTreeMap<u32, Labels>,
) -> Result<(), TestCaseError> {
    let ids: BTreeSet<u32> = model.keys().copied().collect();
    prop_assert_eq!(to_set(&mp.all()), ids.clone());
    prop_assert_eq!(mp.len(), ids.len() as u64);
    prop_assert_eq!(mp.is_empty(), ids.is_empty());

    let mut pairs: BTreeMap<&str, BTreeMap<&str, BTreeSet<u32>>> = BTreeMap::new();
    for (id, labels) in model {
        for l in labels {
            pairs
                .entry(l.name.as_str())
                .or_default()
                .entry(l.value.as_str())
                .or_default()
                .insert(*id);
        }
    }
    let names: Vec<&str> = pairs.keys().copied().collect();
    let got_names = mp.label_names();
    prop_assert_eq!(
        got_names.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        names
    );
    let reader = mp.reader();
    for name in NAMES {
        let values: Vec<&str> = pairs
            .get(name)
            .map(|v| v.keys().copied().collect())
            .unwrap_or_default();
        let got_values = mp.label_values(name);
        prop_assert_eq!(
            got_values.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
            values
        );
        prop_assert_eq!(
            mp.label_value_count(name),
            pairs.get(name).map_or(0, BTreeMap::len)
        );
        for value in VALUES {
            let want = pairs.get(name).and_then(|v| v.get(value));
            prop_assert_eq!(mp.get(name, value).map(|b| to_set(&b)), want.cloned());
            prop_assert_eq!(reader.get(name, value).map(to_set), want.cloned());
        }
    }
    Ok(())
}

#[derive(Debug, Clone)]
enum Op {
    Add(Labels),
    /// Delete the live series at these positions (modulo the number of live series).
    Delete(Vec<usize>),
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => labels_strategy().prop_map(Op::Add),
        1 => proptest::collection::vec(any::<usize>(), 0..6).prop_map(Op::Delete),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn mem_postings_match_model(ops in proptest::collection::vec(op_strategy(), 0..40)) {
        let symbols = SymbolTable::new();
        let mp = MemPostings::new();
        let mut model: BTreeMap<u32, Labels> = BTreeMap::new();
        let mut next_id = 0u32;
        for op in ops {
            match op {
                Op::Add(labels) => {
                    let labels = labels.interned(&symbols);
                    mp.add(next_id, &labels);
                    model.insert(next_id, labels);
                    // Spread ids over several roaring containers.
                    next_id += 1 + (next_id % 3) * 40_000;
                }
                Op::Delete(positions) => {
                    let live: Vec<u32> = model.keys().copied().collect();
                    if live.is_empty() {
                        continue;
                    }
                    let doomed: BTreeSet<u32> = positions.iter().map(|p| live[p % live.len()]).collect();
                    let removed: Vec<Labels> = doomed.iter().filter_map(|id| model.remove(id)).collect();
                    mp.delete(&to_bitmap(&doomed), removed.iter().flat_map(Labels::iter));
                }
            }
            check_against_model(&mp, &model)?;
        }
    }
}

#[test]
fn delete_drops_empty_values_and_names() {
    let mp = MemPostings::new();
    mp.add(1, &Labels::from_pairs(&[("job", "a"), ("env", "prod")]));
    mp.add(2, &Labels::from_pairs(&[("job", "b"), ("env", "prod")]));
    let gone = Labels::from_pairs(&[("job", "a"), ("env", "prod")]);
    // Duplicate affected pairs and pairs that do not exist are harmless.
    let extra = Label::new("nope", "x");
    mp.delete(
        &RoaringBitmap::from_iter([1]),
        gone.iter().chain(gone.iter()).chain([&extra]),
    );
    assert_eq!(
        mp.label_values("job")
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>(),
        ["b"]
    );
    assert_eq!(mp.get("env", "prod"), Some(RoaringBitmap::from_iter([2])));
    mp.delete(
        &RoaringBitmap::from_iter([2]),
        Labels::from_pairs(&[("job", "b"), ("env", "prod")]).iter(),
    );
    assert!(mp.label_names().is_empty());
    assert!(mp.is_empty());
    assert_eq!(
        format!("{mp:?}"),
        "MemPostings { series: 0, label_names: 0 }"
    );
}

#[test]
fn add_stores_the_callers_symbols() {
    let symbols = SymbolTable::new();
    let mp = MemPostings::new();
    let labels = Labels::from_pairs(&[("job", "node")]).interned(&symbols);
    mp.add(7, &labels);
    mp.add(
        8,
        &Labels::from_pairs(&[("job", "node")]).interned(&symbols),
    );
    let stored = &mp.label_values("job")[0];
    assert!(crate::labels::Symbol::ptr_eq(
        stored,
        &labels.as_slice()[0].value
    ));
    assert_eq!(symbols.len(), 2, "no string was copied into a new symbol");
}

#[test]
fn union_matching_unions_selected_values() {
    let mp = MemPostings::new();
    for (id, pod) in ["api-1", "api-2", "db-1"].iter().enumerate() {
        mp.add(id as u32, &Labels::from_pairs(&[("pod", pod)]));
    }
    assert_eq!(
        to_set(&mp.union_matching("pod", |v| v.starts_with("api-"))),
        BTreeSet::from([0, 1])
    );
    assert!(mp.union_matching("missing", |_| true).is_empty());
}

/// An index implementing only the required methods of `IndexReader`, with owned postings,
/// so the trait's default methods are exercised.
struct ModelIndex(BTreeMap<u32, Labels>);

impl IndexReader for ModelIndex {
    fn label_names(&self) -> Result<Vec<Symbol>> {
        let names: BTreeSet<&Symbol> = self
            .0
            .values()
            .flat_map(|ls| ls.iter().map(|l| &l.name))
            .collect();
        Ok(names.into_iter().cloned().collect())
    }

    fn label_values(&self, name: &str) -> Result<Vec<Symbol>> {
        let values: BTreeSet<&str> = self.0.values().filter_map(|ls| ls.get(name)).collect();
        Ok(values.into_iter().map(Symbol::new).collect())
    }

    fn postings(&self, name: &str, value: &str) -> Result<Cow<'_, RoaringBitmap>> {
        Ok(Cow::Owned(
            self.0
                .iter()
                .filter(|(_, ls)| ls.get(name) == Some(value))
                .map(|(id, _)| *id)
                .collect(),
        ))
    }

    fn all_postings(&self) -> Result<Cow<'_, RoaringBitmap>> {
        Ok(Cow::Owned(self.0.keys().copied().collect()))
    }
}

const MATCHER_NAMES: [&str; 5] = ["__name__", "a", "b", "c", "missing"];
const MATCHER_VALUES: [&str; 20] = [
    "", "x", "y", "xy", "é", "x|", "|y", ".*", ".+", "x.*", ".*y", "(x|y)", "[xy]+", "x\ny", ".",
    "x.+", "(?i)X", "é|", "x?y?", ".*\n.*",
];

fn matcher_strategy() -> impl Strategy<Value = Matcher> {
    let kind = prop_oneof![
        Just(MatchType::Equal),
        Just(MatchType::NotEqual),
        Just(MatchType::RegexMatch),
        Just(MatchType::RegexNoMatch),
    ];
    (kind, 0..MATCHER_NAMES.len(), 0..MATCHER_VALUES.len()).prop_map(|(kind, n, v)| {
        Matcher::new(kind, MATCHER_NAMES[n], MATCHER_VALUES[v]).expect("valid pattern")
    })
}

fn brute_force(series: &BTreeMap<u32, Labels>, matchers: &[Matcher]) -> BTreeSet<u32> {
    if matchers.is_empty() {
        return BTreeSet::new();
    }
    series
        .iter()
        .filter(|(_, ls)| matchers.iter().all(|m| m.matches_labels(ls)))
        .map(|(id, _)| *id)
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn postings_for_matchers_match_brute_force(
        series in proptest::collection::vec(labels_strategy(), 0..30),
        matchers in proptest::collection::vec(matcher_strategy(), 0..4),
    ) {
        let model: BTreeMap<u32, Labels> = series.into_iter().enumerate().map(|(i, ls)| (i as u32 * 3, ls)).collect();
        let mp = MemPostings::new();
        for (id, ls) in &model {
            mp.add(*id, ls);
        }
        let want = brute_force(&model, &matchers);
        prop_assert_eq!(to_set(&postings_for_matchers(&mp.reader(), &matchers)?), want.clone(), "reader");
        prop_assert_eq!(to_set(&mp.postings_for_matchers(&matchers)?), want.clone(), "MemPostings");
        let model_ix = ModelIndex(model.clone());
        prop_assert_eq!(to_set(&postings_for_matchers(&model_ix, &matchers)?), want.clone(), "defaults");

        // Label names and values of the selected series.
        let selected: Vec<&Labels> = if matchers.is_empty() {
            model.values().collect()
        } else {
            want.iter().map(|id| &model[id]).collect()
        };
        let want_names: Vec<&str> =
            selected.iter().flat_map(|ls| ls.iter().map(|l| l.name.as_str())).collect::<BTreeSet<_>>().into_iter().collect();
        let as_strs = |v: Vec<Symbol>| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        prop_assert_eq!(as_strs(label_names_for_matchers(&mp.reader(), &matchers)?), want_names.clone());
        prop_assert_eq!(as_strs(mp.label_names_for_matchers(&matchers)?), want_names.clone());
        prop_assert_eq!(as_strs(label_names_for_matchers(&model_ix, &matchers)?), want_names);
        for name in MATCHER_NAMES {
            let want_values: Vec<&str> =
                selected.iter().filter_map(|ls| ls.get(name)).collect::<BTreeSet<_>>().into_iter().collect();
            prop_assert_eq!(as_strs(label_values_for_matchers(&mp.reader(), name, &matchers)?), want_values.clone());
            prop_assert_eq!(as_strs(mp.label_values_for_matchers(name, &matchers)?), want_values.clone());
            prop_assert_eq!(as_strs(label_values_for_matchers(&model_ix, name, &matchers)?), want_values);
        }
    }
}

#[test]
fn postings_for_matchers_prometheus_cases() {
    // The series of Prometheus's TestPostingsForMatchers (ids 1..=6).
    let series = [
        Labels::from_pairs(&[("n", "1")]),
        Labels::from_pairs(&[("n", "1"), ("i", "a")]),
        Labels::from_pairs(&[("n", "1"), ("i", "b")]),
        Labels::from_pairs(&[("n", "1"), ("i", "\n")]),
        Labels::from_pairs(&[("n", "2")]),
        Labels::from_pairs(&[("n", "2.5")]),
    ];
    let mp = MemPostings::new();
    for (i, ls) in series.iter().enumerate() {
        mp.add(i as u32 + 1, ls);
    }
    use MatchType::*;
    type Case<'a> = (&'a [(MatchType, &'a str, &'a str)], &'a [u32]);
    let cases: &[Case<'_>] = &[
        (&[], &[]),
        (&[(Equal, "n", "1")], &[1, 2, 3, 4]),
        (&[(Equal, "n", "1"), (Equal, "i", "a")], &[2]),
        (&[(Equal, "n", "1"), (Equal, "i", "missing")], &[]),
        (&[(Equal, "missing", "")], &[1, 2, 3, 4, 5, 6]),
        (&[(NotEqual, "n", "1")], &[5, 6]),
        (&[(Equal, "i", "")], &[1, 5, 6]),
        (&[(NotEqual, "i", "")], &[2, 3, 4]),
        (&[(Equal, "n", "1"), (NotEqual, "i", "a")], &[1, 3, 4]),
        (&[(Equal, "n", "1"), (Equal, "i", "")], &[1]),
        (&[(Equal, "n", "1"), (NotEqual, "i", "")], &[2, 3, 4]),
        (&[(RegexMatch, "n", "^1$")], &[1, 2, 3, 4]),
        (&[(RegexMatch, "n", "1|2.5")], &[1, 2, 3, 4, 6]),
        (&[(RegexMatch, "n", "1|2\\.5")], &[1, 2, 3, 4, 6]),
        (&[(RegexMatch, "i", "a|b|c")], &[2, 3]),
        (&[(RegexMatch, "i", ".")], &[2, 3, 4]),
        (&[(RegexMatch, "i", "")], &[1, 5, 6]),
        (
            &[(Equal, "n", "1"), (RegexMatch, "i", "^.*$")],
            &[1, 2, 3, 4],
        ),
        (&[(Equal, "n", "1"), (RegexMatch, "i", ".*")], &[1, 2, 3, 4]),
        (&[(Equal, "n", "1"), (RegexMatch, "i", ".+")], &[2, 3, 4]),
        (&[(Equal, "n", "1"), (RegexNoMatch, "i", ".+")], &[1]),
        (&[(Equal, "n", "1"), (RegexNoMatch, "i", "a|b")], &[1, 4]),
        (&[(Equal, "n", "1"), (RegexNoMatch, "i", ".*")], &[]),
        (
            &[(RegexMatch, "n", ".*"), (RegexNoMatch, "i", "a")],
            &[1, 3, 4, 5, 6],
        ),
        (&[(RegexMatch, "n", ".*")], &[1, 2, 3, 4, 5, 6]),
        (&[(RegexMatch, "i", "a|"), (RegexNoMatch, "i", "")], &[2]),
        (&[(RegexMatch, "n", "2.*"), (NotEqual, "n", "2")], &[6]),
        (&[(RegexMatch, "i", "(?i)A")], &[2]),
        (&[(Equal, "", "")], &[1, 2, 3, 4, 5, 6]),
    ];
    for (spec, want) in cases {
        let matchers: Vec<Matcher> = spec
            .iter()
            .map(|&(k, n, v)| Matcher::new(k, n, v).expect("valid"))
            .collect();
        let got = mp.postings_for_matchers(&matchers).expect("in memory");
        assert_eq!(got.iter().collect::<Vec<_>>(), *want, "{matchers:?}");
    }
}

#[test]
fn label_values_and_names_for_matchers() {
    let mp = MemPostings::new();
    mp.add(
        1,
        &Labels::from_pairs(&[("__name__", "up"), ("job", "node"), ("instance", "a")]),
    );
    mp.add(
        2,
        &Labels::from_pairs(&[("__name__", "up"), ("job", "api")]),
    );
    mp.add(
        3,
        &Labels::from_pairs(&[("__name__", "down"), ("job", "db"), ("zone", "z1")]),
    );
    let m = |k, n: &str, v: &str| Matcher::new(k, n, v).expect("valid");
    let strs = |v: Vec<Symbol>| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();

    let up = [m(MatchType::Equal, "__name__", "up")];
    assert_eq!(
        strs(mp.label_values_for_matchers("job", &up).unwrap()),
        ["api", "node"]
    );
    assert_eq!(
        strs(mp.label_values_for_matchers("job", &[]).unwrap()),
        ["api", "db", "node"]
    );
    let not_node = [m(MatchType::NotEqual, "job", "node")];
    assert_eq!(
        strs(mp.label_values_for_matchers("job", &not_node).unwrap()),
        ["api", "db"]
    );
    assert_eq!(
        strs(mp.label_names_for_matchers(&up).unwrap()),
        ["__name__", "instance", "job"]
    );
    assert_eq!(
        strs(mp.label_names_for_matchers(&[]).unwrap()),
        ["__name__", "instance", "job", "zone"]
    );
    let none = [m(MatchType::Equal, "job", "nope")];
    assert!(mp.label_names_for_matchers(&none).unwrap().is_empty());

    // The generic helpers also take a trait object.
    let reader = mp.reader();
    let dyn_reader: &dyn IndexReader = &reader;
    assert_eq!(
        to_set(&postings_for_matchers(dyn_reader, &up).unwrap()),
        BTreeSet::from([1, 2])
    );
    assert_eq!(
        strs(label_values_for_matchers(dyn_reader, "job", &up).unwrap()),
        ["api", "node"]
    );
}

#[test]
fn readers_and_writers_run_concurrently() {
    let mp = MemPostings::new();
    let matchers = [
        Matcher::new(MatchType::RegexMatch, "pod", "p-1.*").expect("valid"),
        Matcher::new(MatchType::NotEqual, "ns", "b").expect("valid"),
    ];
    std::thread::scope(|s| {
        s.spawn(|| {
            for id in 0..2_000u32 {
                let ns = if id % 2 == 0 { "a" } else { "b" };
                mp.add(
                    id,
                    &Labels::from_pairs(&[("pod", format!("p-{id}").as_str()), ("ns", ns)]),
                );
            }
        });
        s.spawn(|| {
            let mut last = 0;
            for _ in 0..200 {
                let n = mp
                    .postings_for_matchers(&matchers)
                    .expect("in memory")
                    .len();
                assert!(n >= last, "series are only added");
                last = n;
            }
        });
    });
    let want = (0..2_000u32)
        .filter(|id| id % 2 == 0 && format!("p-{id}").starts_with("p-1"))
        .count();
    assert_eq!(
        mp.postings_for_matchers(&matchers).unwrap().len(),
        want as u64
    );
}
