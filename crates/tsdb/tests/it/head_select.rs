//! Narrow-range selects against the head must equal a full-range select filtered to the
//! same range: the chunk pruning and snapshot sharing in `HeadQuerier::select` are a fast
//! path that may not change what a query sees (samples, stale markers, tombstones, order).
//! An unsorted select (what the query engine asks for) must return the sorted select's
//! series, in series reference order instead of label order.

use prometheus_client::registry::Registry;
use proptest::prelude::*;
use tsdb::chunkenc::{SampleIterator, ValueType};
use tsdb::labels::{Labels, MatchType, Matcher};
use tsdb::storage::Queryable;
use tsdb::{Head, Options};

/// Prometheus's stale marker.
const STALE_NAN: u64 = 0x7ff0_0000_0000_0002;

/// One series of the generated data: a label value and its samples as
/// (timestamp gap, whether the sample is a stale marker).
type GenSeries = (u16, Vec<(u16, bool)>);

/// A series as read: labels, samples as (t, value bits), and the sample a seek found.
type ReadSeries = (Labels, Vec<(i64, u64)>, Option<(i64, u64)>);

/// `(labels, samples as (t, value bits))` of every series in `[mint, maxt]`, in select
/// order, with an optional seek target whose first sample is appended after the samples.
fn read(head: &Head, mint: i64, maxt: i64, matchers: &[Matcher], seek: i64) -> Vec<ReadSeries> {
    read_sorted(head, false, mint, maxt, matchers, seek)
}

/// [`read`], asking for label order when `sort` is set.
fn read_sorted(
    head: &Head,
    sort: bool,
    mint: i64,
    maxt: i64,
    matchers: &[Matcher],
    seek: i64,
) -> Vec<ReadSeries> {
    let q = Queryable::querier(head, mint, maxt).expect("querier");
    let mut out = Vec::new();
    for s in q.select(sort, None, matchers).expect("select") {
        let s = s.expect("series");
        let mut samples = Vec::new();
        let mut it = s.iterator();
        while it.next() != ValueType::None {
            let (t, v) = it.at();
            samples.push((t, v.to_bits()));
        }
        assert!(it.err().is_none(), "{:?}", it.err());
        let mut it = s.iterator();
        let sought = (it.seek(seek) != ValueType::None).then(|| {
            let (t, v) = it.at();
            (t, v.to_bits())
        });
        // The engine's bulk read equals the iterator's samples in the same window.
        let (lo, hi) = (seek, seek.saturating_add(300_000));
        let mut floats = Vec::new();
        s.read_floats(lo, hi, &mut floats).expect("read_floats");
        let floats: Vec<(i64, u64)> = floats.into_iter().map(|(t, v)| (t, v.to_bits())).collect();
        let want: Vec<(i64, u64)> = samples
            .iter()
            .copied()
            .filter(|&(t, _)| lo <= t && t <= hi)
            .collect();
        assert_eq!(floats, want, "read_floats({lo}, {hi})");
        out.push((s.labels().clone(), samples, sought));
    }
    out
}

fn arb_series() -> impl Strategy<Value = Vec<GenSeries>> {
    prop::collection::vec(
        (
            0u16..40,
            prop::collection::vec((1u16..6_000, prop::bool::weighted(0.05)), 1..300),
        ),
        1..12,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn narrow_select_equals_filtered_full_select(
        series in arb_series(),
        deletes in prop::collection::vec((0u16..40, 0i64..1_800_000, 0i64..200_000), 0..3),
        ranges in prop::collection::vec((0i64..1_900_000, 0i64..600_000, 0i64..700_000), 1..8),
    ) {
        let head = Head::new(&Options::default(), &mut Registry::default()).expect("head");
        // Series are created in generated (random) order, so refs rarely follow label order.
        for (id, samples) in &series {
            let labels = Labels::from_pairs(&[
                ("__name__", "m"),
                ("id", &format!("{id:02}")),
                ("k", if id % 3 == 0 { "a" } else { "b" }),
            ]);
            let mut t = 0i64;
            let mut app = head.appender();
            for (i, &(gap, stale)) in samples.iter().enumerate() {
                t += i64::from(gap);
                let v = if stale { f64::from_bits(STALE_NAN) } else { i as f64 * 1.5 };
                // Duplicate label values make a later series continue an earlier one;
                // samples it cannot take (out of order) are simply skipped.
                let _ = app.add(0, &labels, t, v);
            }
            app.commit_batch().expect("commit");
        }
        for &(id, from, len) in &deletes {
            let m = Matcher::new(MatchType::Equal, "id", &format!("{id:02}")).expect("matcher");
            head.delete(from, from + len, &[m]).expect("delete");
        }
        let all = [Matcher::new(MatchType::Equal, "__name__", "m").expect("matcher")];
        let some = [Matcher::new(MatchType::Equal, "k", "b").expect("matcher")];
        for &(mint, len, seek_off) in &ranges {
            let maxt = mint + len;
            let seek = mint - 100_000 + seek_off;
            for ms in [&all[..], &some[..]] {
                let full = read(&head, i64::MIN, i64::MAX, ms, i64::MIN);
                let narrow = read(&head, mint, maxt, ms, seek);
                // The full select, filtered to [mint, maxt]; series without samples there
                // may or may not be returned by the narrow select (chunk granularity).
                let want: Vec<_> = full
                    .into_iter()
                    .map(|(l, s, _)| {
                        let s: Vec<_> = s.into_iter().filter(|&(t, _)| mint <= t && t <= maxt).collect();
                        let sought = s.iter().copied().find(|&(t, _)| t >= seek);
                        (l, s, sought)
                    })
                    .filter(|(_, s, _)| !s.is_empty())
                    .collect();
                let got: Vec<_> = narrow.into_iter().filter(|(_, s, _)| !s.is_empty()).collect();
                prop_assert_eq!(got, want, "range [{}, {}], seek {}", mint, maxt, seek);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn unsorted_select_is_sorted_select_in_creation_order(
        ids in prop::collection::vec(0u16..500, 1..60),
        ranges in prop::collection::vec((0i64..400_000, 0i64..300_000), 1..4),
    ) {
        let head = Head::new(&Options::default(), &mut Registry::default()).expect("head");
        // Series created in generated order (refs grow), some of them twice.
        let mut created: Vec<Labels> = Vec::new();
        for (i, id) in ids.iter().enumerate() {
            let labels = Labels::from_pairs(&[
                ("__name__", "m"),
                ("id", &format!("{id}")),
                ("k", if id % 3 == 0 { "a" } else { "b" }),
            ]);
            let mut app = head.appender();
            let t = i as i64 * 5_000;
            let _ = app.add(0, &labels, t, 1.0);
            let _ = app.add(0, &labels, t + 200_000, 2.0);
            app.commit_batch().expect("commit");
            if !created.contains(&labels) {
                created.push(labels);
            }
        }
        let all = [Matcher::new(MatchType::Equal, "__name__", "m").expect("matcher")];
        let some = [Matcher::new(MatchType::Equal, "k", "b").expect("matcher")];
        for &(mint, len) in &ranges {
            let maxt = mint + len;
            for ms in [&all[..], &some[..]] {
                let sorted = read_sorted(&head, true, mint, maxt, ms, i64::MIN);
                let unsorted = read_sorted(&head, false, mint, maxt, ms, i64::MIN);
                prop_assert!(sorted.windows(2).all(|w| w[0].0 < w[1].0), "sorted select out of order");
                let order: Vec<usize> = unsorted
                    .iter()
                    .map(|(l, _, _)| created.iter().position(|c| c == l).expect("created"))
                    .collect();
                prop_assert!(order.is_sorted(), "unsorted select not in creation order: {:?}", order);
                let mut resorted = unsorted;
                resorted.sort_by(|a, b| a.0.cmp(&b.0));
                prop_assert_eq!(resorted, sorted, "range [{}, {}]", mint, maxt);
            }
        }
    }
}

/// A selection large enough to be snapshotted on two threads (4 096 series or more)
/// hands out the same series and samples as the sorted, single-threaded one, in
/// creation order, and honours the limit hint across both halves.
#[test]
fn large_unsorted_select_equals_sorted_select() {
    let head = Head::new(&Options::default(), &mut Registry::default()).expect("head");
    let n = 10_000u32;
    // Created in a scrambled order so that refs do not follow label order.
    let order: Vec<u32> = (0..n).map(|i| (i * 7_919) % n).collect();
    let mut app = head.appender();
    for (k, &i) in order.iter().enumerate() {
        let labels = Labels::from_pairs(&[("__name__", "m"), ("id", &format!("{i:05}"))]);
        for j in 0..3i64 {
            app.add(
                0,
                &labels,
                j * 15_000 + i64::from(i % 5),
                f64::from(i) + j as f64,
            )
            .expect("append");
        }
        if k % 1_000 == 999 {
            app.commit_batch().expect("commit");
            app = head.appender();
        }
    }
    app.commit_batch().expect("commit");
    let del = Matcher::new(MatchType::RegexMatch, "id", "0000.|0999.").expect("matcher");
    head.delete(15_000, 15_004, &[del]).expect("delete");
    let all = [Matcher::new(MatchType::Equal, "__name__", "m").expect("matcher")];
    let sorted = read_sorted(&head, true, 0, 20_000, &all, i64::MIN);
    let unsorted = read_sorted(&head, false, 0, 20_000, &all, i64::MIN);
    assert_eq!(unsorted.len(), n as usize);
    let created: Vec<String> = unsorted
        .iter()
        .map(|(l, _, _)| l.get("id").expect("id").to_owned())
        .collect();
    let want: Vec<String> = order.iter().map(|i| format!("{i:05}")).collect();
    assert_eq!(created, want, "unsorted select not in creation order");
    let mut resorted = unsorted;
    resorted.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(resorted, sorted);

    let q = Queryable::querier(&head, 0, 20_000).expect("querier");
    for limit in [1, 4_999, 5_000, 5_001, 9_999, 10_000, 20_000] {
        let hints = tsdb::storage::SelectHints {
            limit,
            ..Default::default()
        };
        let got: Vec<String> = q
            .select(false, Some(&hints), &all)
            .expect("select")
            .map(|s| {
                s.expect("series")
                    .labels()
                    .get("id")
                    .expect("id")
                    .to_owned()
            })
            .collect();
        assert_eq!(got, want[..limit.min(want.len())], "limit {limit}");
    }
}
