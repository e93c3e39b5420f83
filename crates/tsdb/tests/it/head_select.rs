//! Narrow-range selects against the head must equal a full-range select filtered to the
//! same range: the chunk pruning and snapshot sharing in `HeadQuerier::select` are a fast
//! path that may not change what a query sees (samples, stale markers, tombstones, order).

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
    let q = Queryable::querier(head, mint, maxt).expect("querier");
    let mut out = Vec::new();
    for s in q.select(false, None, matchers).expect("select") {
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
