//! Reading a head range out for a block (`Head::range_series`) must hand out exactly the
//! samples a query over that range sees (tombstones applied), in label order, as
//! time-ordered, non-overlapping chunks inside the range; and a head reopened after its
//! oldest range went to a block must not replay that range again.

use prometheus_client::registry::Registry;
use proptest::prelude::*;
use tsdb::chunkenc::{SampleIterator, ValueType, XorIterator};
use tsdb::labels::{Labels, MatchType, Matcher};
use tsdb::storage::Queryable;
use tsdb::{Head, Options};

/// Samples per series as (labels, [(t, value bits)]), from a full select of `[mint, maxt)`.
fn selected(head: &Head, mint: i64, maxt: i64) -> Vec<(Labels, Vec<(i64, u64)>)> {
    let q = Queryable::querier(head, mint, maxt - 1).expect("querier");
    let all = [Matcher::new(MatchType::RegexMatch, "__name__", ".+").expect("matcher")];
    let mut out = Vec::new();
    for s in q.select(true, None, &all).expect("select") {
        let s = s.expect("series");
        let mut samples = Vec::new();
        let mut it = s.iterator();
        while it.next() != ValueType::None {
            let (t, v) = it.at();
            samples.push((t, v.to_bits()));
        }
        if !samples.is_empty() {
            out.push((s.labels().clone(), samples));
        }
    }
    out
}

/// What `range_series` hands out, decoded, after checking the chunk invariants.
fn exported(head: &Head, mint: i64, maxt: i64) -> Vec<(Labels, Vec<(i64, u64)>)> {
    let mut out = Vec::new();
    for item in head.range_series(mint, maxt) {
        let (series, chunks) = item.expect("range series");
        let mut samples = Vec::new();
        let mut prev_max = i64::MIN;
        for c in &chunks {
            assert!(c.min_t <= c.max_t && c.min_t > prev_max, "chunk order");
            assert!(c.min_t >= mint && c.max_t < maxt, "chunk outside the range");
            prev_max = c.max_t;
            let mut it = XorIterator::new(&c.data[..]);
            let mut ts = Vec::new();
            while it.next() == ValueType::Float {
                let (t, v) = it.at();
                ts.push((t, v.to_bits()));
            }
            assert!(it.err().is_none());
            assert_eq!(ts.first().map(|s| s.0), Some(c.min_t), "chunk min_t");
            assert_eq!(ts.last().map(|s| s.0), Some(c.max_t), "chunk max_t");
            samples.extend(ts);
        }
        out.push((series.labels().clone(), samples));
    }
    out
}

fn options() -> Options {
    Options {
        block_range: 600_000,
        wal_enabled: false,
        ..Options::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]

    #[test]
    fn range_series_equals_a_select_of_the_range(
        series in prop::collection::vec(
            (0u16..30, prop::collection::vec(1u16..30_000, 1..200)),
            1..10,
        ),
        deletes in prop::collection::vec((0u16..30, 0i64..3_000_000, 0i64..400_000), 0..4),
        ranges in prop::collection::vec((0i64..3_000_000, 1i64..1_500_000), 1..5),
    ) {
        let head = Head::new(&options(), &mut Registry::default()).expect("head");
        for (id, gaps) in &series {
            let labels = Labels::from_pairs(&[("__name__", "m"), ("id", &format!("{id:02}"))]);
            let mut app = head.appender();
            let mut t = 0i64;
            for (i, &gap) in gaps.iter().enumerate() {
                t += i64::from(gap);
                let _ = app.add(0, &labels, t, i as f64);
            }
            app.commit_batch().expect("commit");
        }
        for &(id, from, len) in &deletes {
            let m = Matcher::new(MatchType::Equal, "id", &format!("{id:02}")).expect("matcher");
            head.delete(from, from + len, &[m]).expect("delete");
        }
        let mut all_ranges: Vec<(i64, i64)> = ranges.iter().map(|&(a, l)| (a, a + l)).collect();
        all_ranges.extend(head.oldest_block_range());
        for (mint, maxt) in all_ranges {
            prop_assert_eq!(exported(&head, mint, maxt), selected(&head, mint, maxt), "[{}, {})", mint, maxt);
        }
        let symbols: Vec<String> =
            head.range_series(i64::MIN, i64::MAX).symbols().iter().map(|s| s.to_string()).collect();
        let mut want: Vec<String> = selected(&head, i64::MIN, i64::MAX)
            .iter()
            .flat_map(|(l, _)| l.pairs().flat_map(|(n, v)| [n.to_string(), v.to_string()]).collect::<Vec<_>>())
            .collect();
        want.sort();
        want.dedup();
        // Fully deleted series are still listed (their symbols are harmless extras).
        prop_assert!(want.iter().all(|w| symbols.contains(w)));
        prop_assert!(symbols.windows(2).all(|w| w[0] < w[1]), "sorted and distinct");
    }
}

#[test]
fn compactable_after_one_and_a_half_ranges() {
    let head = Head::new(&options(), &mut Registry::default()).expect("head");
    let labels = Labels::from_pairs(&[("__name__", "m")]);
    let mut app = head.appender();
    for t in (100_000..=1_000_000).step_by(15_000) {
        app.add(0, &labels, t, 1.0).expect("add");
    }
    app.commit_batch().expect("commit");
    assert!(!head.compactable(), "900 s < 1.5 × 600 s");
    assert_eq!(head.oldest_block_range(), Some((100_000, 600_000)));
    let mut app = head.appender();
    app.add(0, &labels, 1_000_001, 1.0).expect("add");
    app.commit_batch().expect("commit");
    assert!(head.compactable());
}

#[test]
fn reopened_head_skips_samples_before_min_valid_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let wal = dir.path().join("wal");
    let opts = Options {
        wal_enabled: true,
        ..options()
    };
    let old = Labels::from_pairs(&[("__name__", "old")]);
    let both = Labels::from_pairs(&[("__name__", "both")]);
    {
        let head = Head::open(&wal, &opts, &mut Registry::default()).expect("open");
        let mut app = head.appender();
        for t in (0..1_200_000).step_by(60_000) {
            app.add(0, &both, t, t as f64).expect("add");
            if t < 600_000 {
                app.add(0, &old, t, 1.0).expect("add");
            }
        }
        app.commit_batch().expect("commit");
        head.close().expect("close");
    }
    let head = Head::open_from(&wal, &opts, &mut Registry::default(), 600_000).expect("reopen");
    assert_eq!(
        head.num_series(),
        1,
        "the series with only old samples is gone"
    );
    assert_eq!(head.min_time(), 600_000);
    let got = selected(&head, i64::MIN, i64::MAX);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, both);
    let ts: Vec<i64> = got[0].1.iter().map(|s| s.0).collect();
    assert_eq!(ts, (600_000..1_200_000).step_by(60_000).collect::<Vec<_>>());
    let mut app = head.appender();
    assert!(
        app.add(0, &both, 599_999, 0.0).is_err(),
        "below min valid time"
    );
}
