//! The merge querier over 1–4 real heads holding a random split of one data set (with
//! overlaps, and the same timestamp in several heads with different values) must answer
//! like a model built from the union, where on equal timestamps the last head wins:
//! select (samples, order, limits), label values and names, and any mix of `next` and
//! `seek` on the merged series.

use std::collections::{BTreeMap, BTreeSet};

use prometheus_client::registry::Registry;
use proptest::prelude::*;
use tsdb::chunkenc::{SampleIterator, ValueType};
use tsdb::labels::{Labels, MatchType, Matcher};
use tsdb::querier::merge_queriers;
use tsdb::storage::{LabelHints, Querier, Queryable, SelectHints};
use tsdb::{Head, Options};

/// Prometheus's stale marker.
const STALE_NAN: u64 = 0x7ff0_0000_0000_0002;

/// One generated series: an id and its samples as (timestamp gap, heads holding the
/// sample as a bit mask, whether it is a stale marker).
type GenSeries = (u8, Vec<(u16, u8, bool)>);

/// A sample as (timestamp, value bits).
type Sample = (i64, u64);

fn labels_of(id: u8) -> Labels {
    let id_str = format!("{id:02}");
    let k = if id.is_multiple_of(3) { "a" } else { "b" };
    let mut pairs = vec![("__name__", "m"), ("id", id_str.as_str()), ("k", k)];
    if id.is_multiple_of(4) {
        pairs.push(("extra", "yes"));
    }
    Labels::from_pairs(&pairs)
}

fn arb_data() -> impl Strategy<Value = (usize, Vec<GenSeries>)> {
    (
        1usize..=4,
        prop::collection::vec(
            (
                0u8..16,
                prop::collection::vec(
                    (1u16..5_000, any::<u8>(), prop::bool::weighted(0.03)),
                    1..200,
                ),
            ),
            1..12,
        ),
    )
}

/// What a select must return: series matching `matchers` with their samples in
/// `[mint, maxt]`, sorted by labels; per head, the label sets it holds.
struct Model {
    series: BTreeMap<Labels, BTreeMap<i64, u64>>,
    per_head: Vec<(BTreeSet<Labels>, i64, i64)>,
}

/// Fills the heads and the model. A sample goes to every head of its mask (at least
/// one); the value differs per head, so the tie rule is visible. With `sliced`, masks are
/// ignored and each series' samples are cut into consecutive time slices, one per head
/// (as blocks and the head hold them).
fn load(n_heads: usize, data: &[GenSeries], sliced: bool) -> (Vec<Head>, Model) {
    let heads: Vec<Head> = (0..n_heads)
        .map(|_| Head::new(&Options::default(), &mut Registry::default()).expect("head"))
        .collect();
    let mut model = Model {
        series: BTreeMap::new(),
        per_head: vec![(BTreeSet::new(), i64::MAX, i64::MIN); n_heads],
    };
    for (id, samples) in data {
        let labels = labels_of(*id);
        // A repeated id continues the earlier series after its last timestamp, so each
        // head receives its samples in order.
        let mut t = model
            .series
            .get(&labels)
            .and_then(|s| s.keys().next_back().copied())
            .unwrap_or(0);
        let mut apps: Vec<_> = heads.iter().map(|h| h.appender()).collect();
        for (i, &(gap, mask, stale)) in samples.iter().enumerate() {
            t += i64::from(gap);
            let mask = match mask as usize & ((1 << n_heads) - 1) {
                _ if sliced => 1 << (i * n_heads / samples.len()),
                0 => 1 << (i % n_heads),
                m => m,
            };
            for (h, app) in apps.iter_mut().enumerate() {
                if mask & (1 << h) == 0 {
                    continue;
                }
                let v = if stale {
                    f64::from_bits(STALE_NAN)
                } else {
                    (i * 10 + h) as f64
                };
                app.add(0, &labels, t, v).expect("in-order sample");
                // Later heads overwrite: the last listed child wins a tie.
                model
                    .series
                    .entry(labels.clone())
                    .or_default()
                    .insert(t, v.to_bits());
                let (set, min, max) = &mut model.per_head[h];
                set.insert(labels.clone());
                *min = (*min).min(t);
                *max = (*max).max(t);
            }
        }
        for app in apps {
            app.commit_batch().expect("commit");
        }
    }
    (heads, model)
}

/// One step of the iterator exercise: `next`, or `seek` to a timestamp.
#[derive(Debug, Clone, Copy)]
enum Op {
    Next,
    Seek(i64),
}

fn arb_ops() -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(
        prop_oneof![
            2 => Just(Op::Next),
            1 => (-10_000i64..1_100_000).prop_map(Op::Seek),
        ],
        0..40,
    )
}

/// What `ops` must yield on `samples`, by the `SampleIterator` contract.
fn model_ops(samples: &[Sample], ops: &[Op]) -> Vec<Option<Sample>> {
    let mut pos: Option<usize> = None;
    let mut done = false;
    ops.iter()
        .map(|op| {
            if done {
                return None;
            }
            let next = match *op {
                Op::Next => pos.map_or(0, |p| p + 1),
                Op::Seek(t) => match pos {
                    Some(p) if samples[p].0 >= t => p,
                    _ => {
                        let from = pos.unwrap_or(0);
                        from + samples[from..].partition_point(|s| s.0 < t)
                    }
                },
            };
            if next >= samples.len() {
                done = true;
                return None;
            }
            pos = Some(next);
            Some(samples[next])
        })
        .collect()
}

fn run_ops(it: &mut dyn SampleIterator, ops: &[Op]) -> Vec<Option<Sample>> {
    ops.iter()
        .map(|op| {
            let vt = match *op {
                Op::Next => it.next(),
                Op::Seek(t) => it.seek(t),
            };
            (vt != ValueType::None).then(|| {
                let (t, v) = it.at();
                (t, v.to_bits())
            })
        })
        .collect()
}

fn strs(v: Vec<tsdb::labels::Symbol>) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn merged_heads_answer_like_the_union(
        (n_heads, data) in arb_data(),
        queries in prop::collection::vec(
            (0i64..1_100_000, 0i64..1_100_000, 0usize..4, any::<bool>(), 0usize..4),
            1..6,
        ),
        ops in arb_ops(),
        sliced in any::<bool>(),
    ) {
        let (heads, model) = load(n_heads, &data, sliced);
        let matcher_sets = [
            vec![Matcher::new(MatchType::Equal, "__name__", "m").expect("matcher")],
            vec![Matcher::new(MatchType::Equal, "k", "b").expect("matcher")],
            vec![Matcher::new(MatchType::RegexMatch, "id", "0[0-7]").expect("matcher")],
            vec![Matcher::new(MatchType::Equal, "extra", "yes").expect("matcher")],
        ];
        for &(mint, len, which, sort, limit) in &queries {
            let maxt = mint + len / 4;
            let matchers = &matcher_sets[which];
            let matches = |l: &Labels| matchers.iter().all(|m| m.matches_labels(l));
            let children: Vec<Box<dyn Querier + '_>> = heads
                .iter()
                .map(|h| Queryable::querier(h, mint, maxt).expect("querier"))
                .collect();
            let q = merge_queriers(children);

            // Select: every non-empty series equals the model's.
            let want: Vec<(Labels, Vec<Sample>)> = model
                .series
                .iter()
                .filter(|(l, _)| matches(l))
                .map(|(l, s)| (l.clone(), s.range(mint..=maxt).map(|(&t, &v)| (t, v)).collect::<Vec<_>>()))
                .filter(|(_, s)| !s.is_empty())
                .collect();
            let mut got = Vec::new();
            for s in q.select(sort, None, matchers).expect("select") {
                let s = s.expect("series");
                let mut it = s.iterator();
                let mut samples = Vec::new();
                while it.next() != ValueType::None {
                    let (t, v) = it.at();
                    samples.push((t, v.to_bits()));
                }
                prop_assert!(it.err().is_none(), "{:?}", it.err());
                if !samples.is_empty() {
                    got.push((s.labels().clone(), samples));
                }
                // Any mix of next and seek agrees with the model of the same samples.
                let full: Vec<Sample> = model.series[s.labels()]
                    .range(mint..=maxt)
                    .map(|(&t, &v)| (t, v))
                    .collect();
                let mut it = s.iterator();
                prop_assert_eq!(run_ops(&mut *it, &ops), model_ops(&full, &ops), "{}", s.labels());
                // `read_floats` over a part of the range: the model's samples there.
                let (lo, hi) = (mint + len / 16, maxt - len / 16);
                let mut floats = Vec::new();
                s.read_floats(lo, hi, &mut floats).expect("read_floats");
                let floats: Vec<Sample> = floats.iter().map(|&(t, v)| (t, v.to_bits())).collect();
                let want_floats: Vec<Sample> =
                    full.iter().copied().filter(|&(t, _)| lo <= t && t <= hi).collect();
                prop_assert_eq!(floats, want_floats, "read_floats({}, {}) of {}", lo, hi, s.labels());
            }
            // Label order when asked, and always when several heads are merged; one head
            // asked for no order hands out creation order (`Querier::select` promises
            // label order only with `sort`), so compare its series as a set.
            if !sort && heads.len() == 1 {
                got.sort_by(|a, b| a.0.cmp(&b.0));
            }
            prop_assert_eq!(&got, &want, "range [{}, {}], {} heads", mint, maxt, n_heads);

            // A limit cuts the merged, sorted series (empty ones included, so compare a
            // prefix of the unlimited select).
            if limit > 0 {
                let hints = SelectHints { limit, ..SelectHints::default() };
                let all: Vec<Labels> = q
                    .select(true, None, matchers)
                    .expect("select")
                    .map(|s| s.expect("series").labels().clone())
                    .collect();
                let cut: Vec<Labels> = q
                    .select(true, Some(&hints), matchers)
                    .expect("select")
                    .map(|s| s.expect("series").labels().clone())
                    .collect();
                prop_assert_eq!(&cut[..], &all[..limit.min(all.len())]);
            }

            // Label values and names: the union over the heads whose range overlaps the
            // query's (a head answers from its postings, whatever the samples' times).
            let mut values = BTreeSet::new();
            let mut names = BTreeSet::new();
            for (set, hmin, hmax) in &model.per_head {
                if *hmin > maxt || *hmax < mint {
                    continue;
                }
                for l in set.iter().filter(|l| matches(l)) {
                    values.extend(l.get("id").map(str::to_string));
                    names.extend(l.iter().map(|lb| lb.name.to_string()));
                }
            }
            let hints = LabelHints { limit };
            let cut = |s: BTreeSet<String>| -> Vec<String> {
                let v: Vec<String> = s.into_iter().collect();
                if limit > 0 { v.into_iter().take(limit).collect() } else { v }
            };
            prop_assert_eq!(strs(q.label_values("id", &hints, matchers).expect("values")), cut(values));
            prop_assert_eq!(strs(q.label_names(&hints, matchers).expect("names")), cut(names));
        }
    }
}
