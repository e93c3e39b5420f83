//! Blocks we write read back exactly: a proptest over random label sets and samples
//! checks series, chunk metas, postings, label names and values and matcher results
//! against a simple model; plus writer refusals, `meta.json`'s exact shape, and deletes.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use tsdb::block::{Block, BlockMeta, BlockStats, BlockWriter, ChunkMeta, Compaction, Ulid};
use tsdb::chunkenc::{SampleIterator, ValueType};
use tsdb::index::postings::{
    IndexReader, label_names_for_matchers, label_values_for_matchers, postings_for_matchers,
};
use tsdb::labels::{Labels, MatchType, Matcher};
use tsdb::storage::{LabelHints, Queryable, SelectHints};

use crate::block_util::{self, TestSeries, encode_chunks, symbols_of};
use crate::util::{self, Sample, assert_same_samples};

const NAMES: &[&str] = &["__name__", "a", "b", "job"];
const VALUES: &[&str] = &["x", "y", "xy", "z", "10", "1", "a b", "é"];
const PATTERNS: &[&str] = &["", ".*", ".+", "x.*", "x|y", "1.*", "z", "é|a b", "[^x]+"];

fn arb_series() -> impl Strategy<Value = Vec<TestSeries>> {
    let labels = proptest::collection::btree_map(
        proptest::sample::select(NAMES),
        proptest::sample::select(VALUES),
        1..4,
    );
    let one = (
        labels,
        1usize..300,
        0i64..1_000_000,
        1i64..60_000,
        any::<u64>(),
    );
    proptest::collection::vec(one, 0..25).prop_map(|raw| {
        let mut seen = BTreeSet::new();
        raw.into_iter()
            .filter_map(|(ls, n, start, step, seed)| {
                let labels = Labels::from_pairs(&ls.into_iter().collect::<Vec<_>>());
                if !seen.insert(labels.clone()) {
                    return None;
                }
                let samples = (0..n as i64)
                    .map(|i| (start + i * step, ((seed >> (i % 50)) % 1000) as f64 / 8.0))
                    .collect();
                Some(TestSeries { labels, samples })
            })
            .collect()
    })
}

fn arb_matchers() -> impl Strategy<Value = Vec<(MatchType, &'static str, &'static str)>> {
    let kind = proptest::sample::select(vec![
        MatchType::Equal,
        MatchType::NotEqual,
        MatchType::RegexMatch,
        MatchType::RegexNoMatch,
    ]);
    let name = proptest::sample::select(vec!["__name__", "a", "b", "job", "absent"]);
    let value =
        proptest::sample::select(VALUES.iter().chain(PATTERNS).copied().collect::<Vec<_>>());
    proptest::collection::vec((kind, name, value), 1..4)
}

/// Whether a series matches: every matcher accepts its value, an absent label being "".
fn model_matches(labels: &Labels, ms: &[Matcher]) -> bool {
    ms.iter()
        .all(|m| m.matches(labels.get(m.name.as_str()).unwrap_or("")))
}

/// The samples a select returns, sorted; asserts the series came in label order.
fn samples_of(q: &dyn Queryable, mint: i64, maxt: i64, ms: &[Matcher]) -> Vec<Sample> {
    let querier = q.querier(mint, maxt).expect("querier");
    let mut out = Vec::new();
    let mut prev: Option<Labels> = None;
    for s in querier.select(true, None, ms).expect("select") {
        let s = s.expect("series");
        assert!(
            prev.as_ref().is_none_or(|p| p < s.labels()),
            "series out of label order: {:?} then {}",
            prev,
            s.labels()
        );
        prev = Some(s.labels().clone());
        let name = s.labels().to_string();
        let mut it = s.iterator();
        while it.next() == ValueType::Float {
            let (t, v) = it.at();
            out.push((name.clone(), t, v.to_bits()));
        }
        assert!(it.err().is_none(), "{:?}", it.err());
    }
    out.sort();
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]

    #[test]
    fn blocks_round_trip_against_a_model(
        mut series in arb_series(),
        per_chunk in 1usize..130,
        matcher_sets in proptest::collection::vec(arb_matchers(), 1..6),
        window in (0i64..2_000_000, 0i64..2_000_000),
    ) {
        series.sort_by(|a, b| a.labels.cmp(&b.labels));
        let tmp = tempfile::tempdir().expect("tempdir");
        let ulid = Ulid::new();
        let mut w = BlockWriter::with_segment_size(
            tmp.path(), ulid, symbols_of(series.iter().map(|s| &s.labels)), 4096,
        ).expect("writer");
        let mut encoded = Vec::new();
        for s in &series {
            let chunks = encode_chunks(&s.samples, per_chunk);
            let metas: Vec<ChunkMeta<'_>> = chunks
                .iter()
                .map(|(a, b, d)| ChunkMeta { min_t: *a, max_t: *b, data: d })
                .collect();
            w.add_series(&s.labels, &metas).expect("add");
            encoded.push(chunks);
        }
        let meta = w.finish(0, 3_000_000_000, Compaction::level1(ulid)).expect("finish");
        let block = Block::open(&tmp.path().join(ulid.to_string())).expect("open");
        prop_assert_eq!(&block.meta(), &meta);
        prop_assert_eq!(meta.stats.num_series, series.len() as u64);
        prop_assert_eq!(meta.stats.num_chunks, encoded.iter().map(|c| c.len() as u64).sum::<u64>());
        prop_assert_eq!(meta.stats.num_samples, series.iter().map(|s| s.samples.len() as u64).sum::<u64>());

        // Series in label order with their chunk metas and bytes.
        let read: Vec<_> = block.chunk_series().expect("reader").map(|s| s.expect("series")).collect();
        prop_assert_eq!(read.len(), series.len());
        let mut ids = BTreeMap::new();
        for ((got, want), chunks) in read.iter().zip(&series).zip(&encoded) {
            prop_assert_eq!(&got.labels, &want.labels);
            prop_assert_eq!(got.chunks.len(), chunks.len());
            for (g, (a, b, d)) in got.chunks.iter().zip(chunks) {
                prop_assert_eq!((g.min_t, g.max_t, g.encoding), (*a, *b, 1));
                prop_assert_eq!(&*g.data, d.as_slice());
            }
            prop_assert!(got.deleted.is_empty());
            ids.insert(got.labels.clone(), got.id);
        }

        // Postings of every pair, label names and values.
        let ix = block.index();
        let mut pairs: BTreeMap<(String, String), BTreeSet<u32>> = BTreeMap::new();
        for s in &series {
            for l in &s.labels {
                pairs.entry((l.name.to_string(), l.value.to_string())).or_default().insert(ids[&s.labels]);
            }
        }
        for ((n, v), want) in &pairs {
            let got: BTreeSet<u32> = ix.postings(n, v).expect("postings").iter().collect();
            prop_assert_eq!(&got, want, "{}={:?}", n, v);
        }
        prop_assert!(ix.postings("a", "not-there").expect("postings").is_empty());
        let all: BTreeSet<u32> = ix.all_postings().expect("all").iter().collect();
        prop_assert_eq!(all, ids.values().copied().collect::<BTreeSet<_>>());
        let names: BTreeSet<String> = pairs.keys().map(|(n, _)| n.clone()).collect();
        let got_names: Vec<String> = ix.label_names().expect("names").iter().map(|s| s.to_string()).collect();
        prop_assert_eq!(got_names, names.iter().cloned().collect::<Vec<_>>());
        for n in &names {
            let want: Vec<String> = pairs.keys().filter(|(pn, _)| pn == n).map(|(_, v)| v.clone()).collect();
            let got: Vec<String> = ix.label_values(n).expect("values").iter().map(|s| s.to_string()).collect();
            prop_assert_eq!(got, want);
        }

        // Matchers against the model, through the index and through select.
        let all_samples = block_util::expected_samples(&series);
        for set in &matcher_sets {
            let ms: Vec<Matcher> = set.iter().map(|(t, n, v)| Matcher::new(*t, n, v).expect("matcher")).collect();
            let want: BTreeSet<u32> = series
                .iter()
                .filter(|s| model_matches(&s.labels, &ms))
                .map(|s| ids[&s.labels])
                .collect();
            let got: BTreeSet<u32> = postings_for_matchers(ix, &ms).expect("postings").iter().collect();
            prop_assert_eq!(&got, &want, "{:?}", ms);
            let selected: Vec<&TestSeries> = series.iter().filter(|s| model_matches(&s.labels, &ms)).collect();
            let want_names: BTreeSet<String> = selected.iter().flat_map(|s| s.labels.iter().map(|l| l.name.to_string())).collect();
            let got_names: Vec<String> = label_names_for_matchers(ix, &ms).expect("names").iter().map(|s| s.to_string()).collect();
            prop_assert_eq!(got_names, want_names.into_iter().collect::<Vec<_>>());
            let want_values: BTreeSet<String> = selected.iter().filter_map(|s| s.labels.get("a").map(str::to_string)).collect();
            let got_values: Vec<String> = label_values_for_matchers(ix, "a", &ms).expect("values").iter().map(|s| s.to_string()).collect();
            prop_assert_eq!(got_values, want_values.into_iter().collect::<Vec<_>>());
            let q = block.querier(i64::MIN, i64::MAX).expect("querier");
            let limited = q.label_names(&LabelHints { limit: 1 }, &ms).expect("names");
            prop_assert!(limited.len() <= 1);

            // Select: sorted, the matched series' samples; and within a narrow range.
            let mut want_samples = block_util::expected_samples(&selected.iter().map(|s| (*s).clone()).collect::<Vec<_>>());
            want_samples.sort();
            prop_assert_eq!(&samples_of(&block, i64::MIN, i64::MAX, &ms), &want_samples);
            let (lo, hi) = (window.0.min(window.1), window.0.max(window.1));
            let narrow: Vec<Sample> = want_samples.iter().filter(|s| (lo..=hi).contains(&s.1)).cloned().collect();
            prop_assert_eq!(samples_of(&block, lo, hi, &ms), narrow);
        }
        prop_assert_eq!(samples_of(&block, i64::MIN, i64::MAX, &[Matcher::new(MatchType::RegexMatch, "__name__", ".*").expect("m")]).len(), all_samples.len());
    }

    #[test]
    fn meta_json_round_trips_and_omits_zero_fields(
        stats in (0u64..3, 0u64..3, 0u64..3, 0u64..3, 0u64..3, 0u64..3),
        level in 1u32..5, deletable: bool, failed: bool, nsources in 0usize..3, hints in 0usize..2,
    ) {
        let id = Ulid::new();
        let meta = BlockMeta {
            ulid: id,
            min_time: -5,
            max_time: 7_200_000,
            stats: BlockStats {
                num_samples: stats.0,
                num_float_samples: stats.1,
                num_histogram_samples: stats.2,
                num_series: stats.3,
                num_chunks: stats.4,
                num_tombstones: stats.5,
            },
            compaction: Compaction {
                level,
                sources: vec![id; nsources],
                deletable,
                parents: vec![tsdb::block::BlockDesc { ulid: id, min_time: 0, max_time: 1 }; nsources],
                failed,
                hints: vec!["from-out-of-order".into(); hints],
            },
            version: 1,
        };
        let json = String::from_utf8(meta.to_json()).expect("utf-8");
        let back = BlockMeta::from_json(json.as_bytes(), std::path::Path::new("m")).expect("parse");
        prop_assert_eq!(&back, &meta);
        for (key, zero) in [
            ("numSamples", stats.0 == 0), ("numFloatSamples", stats.1 == 0),
            ("numHistogramSamples", stats.2 == 0), ("numSeries", stats.3 == 0),
            ("numChunks", stats.4 == 0), ("numTombstones", stats.5 == 0),
            ("deletable", !deletable), ("failed", !failed), ("sources", nsources == 0),
            ("parents", nsources == 0), ("hints", hints == 0),
        ] {
            prop_assert_eq!(json.contains(&format!("\"{key}\"")), !zero, "{} in {}", key, json);
        }
        let shaped = json.contains("\n\t\"stats\": {") && !json.contains("  ") && !json.ends_with('\n');
        prop_assert!(shaped, "tab-indented, no trailing newline: {}", json);
    }
}

#[test]
fn meta_json_has_prometheus_shape() {
    let id: Ulid = "01M7Y9CETF5AD0853081K3M7C1".parse().expect("ulid");
    let meta = BlockMeta {
        ulid: id,
        min_time: 1_700_000_000_000,
        max_time: 1_700_004_485_001,
        stats: BlockStats {
            num_samples: 950,
            num_series: 4,
            num_chunks: 10,
            ..BlockStats::default()
        },
        compaction: Compaction::level1(id),
        version: 1,
    };
    let want = "{\n\t\"ulid\": \"01M7Y9CETF5AD0853081K3M7C1\",\n\t\"minTime\": 1700000000000,\n\t\"maxTime\": 1700004485001,\n\t\"stats\": {\n\t\t\"numSamples\": 950,\n\t\t\"numSeries\": 4,\n\t\t\"numChunks\": 10\n\t},\n\t\"compaction\": {\n\t\t\"level\": 1,\n\t\t\"sources\": [\n\t\t\t\"01M7Y9CETF5AD0853081K3M7C1\"\n\t\t]\n\t},\n\t\"version\": 1\n}";
    assert_eq!(String::from_utf8(meta.to_json()).expect("utf-8"), want);
    let empty = BlockMeta {
        stats: BlockStats::default(),
        compaction: Compaction::default(),
        ..meta
    };
    let json = String::from_utf8(empty.to_json()).expect("utf-8");
    assert!(
        json.contains("\"stats\": {},") && json.contains("\"level\": 0"),
        "{json}"
    );
    for bad in [&b"{"[..], b"{\"ulid\": \"01M7Y9CETF5AD0853081K3M7C1\", \"minTime\": 0, \"maxTime\": 1, \"version\": 2}", b"[]"] {
        let err = BlockMeta::from_json(bad, std::path::Path::new("/x/01ABC/meta.json")).expect_err("refused");
        assert!(err.to_string().contains("/x/01ABC/meta.json"), "{err}");
    }
}

fn simple_series(n: usize) -> Vec<TestSeries> {
    (0..n)
        .map(|i| TestSeries {
            labels: Labels::from_pairs(&[("__name__", "m"), ("i", &format!("{i:03}"))]),
            samples: (0..200).map(|t| (t * 1000, t as f64)).collect(),
        })
        .collect()
}

#[test]
fn the_writer_refuses_bad_input_and_cleans_up() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let chunks = encode_chunks(&(0..10).map(|t| (t, 1.0)).collect::<Vec<_>>(), 5);
    let metas: Vec<ChunkMeta<'_>> = chunks
        .iter()
        .map(|(a, b, d)| ChunkMeta {
            min_t: *a,
            max_t: *b,
            data: d,
        })
        .collect();
    let l = |v: &str| Labels::from_pairs(&[("__name__", "m"), ("i", v)]);
    let refused = |r: tsdb::Result<()>, what: &str| match r {
        Err(e @ tsdb::Error::BlockWriter { .. }) => e.to_string(),
        other => panic!("{what}: expected a refusal, got {other:?}"),
    };

    // Unsorted or duplicate symbols.
    for syms in [vec!["b", "a"], vec!["a", "a"]] {
        match BlockWriter::new(tmp.path(), Ulid::new(), syms) {
            Err(tsdb::Error::BlockWriter { .. }) => {}
            other => panic!("unsorted symbols: {other:?}"),
        }
    }
    assert_eq!(
        std::fs::read_dir(tmp.path()).expect("ls").count(),
        0,
        "refused writers leave nothing"
    );

    let ulid = Ulid::new();
    let mut w =
        BlockWriter::new(tmp.path(), ulid, ["1", "2", "3", "__name__", "i", "m"]).expect("writer");
    assert!(w.tmp_dir().exists());
    w.add_series(&l("2"), &metas).expect("first series");
    // Out of order and duplicate series.
    refused(w.add_series(&l("1"), &metas), "unsorted series");
    refused(w.add_series(&l("2"), &metas), "duplicate series");
    // Overlapping, unordered and inverted chunks.
    let overlap = [
        metas[0],
        ChunkMeta {
            min_t: 4,
            ..metas[1]
        },
    ];
    assert!(refused(w.add_series(&l("3"), &overlap), "overlap").contains("overlaps"));
    refused(
        w.add_series(&l("3"), &[metas[1], metas[0]]),
        "unordered chunks",
    );
    refused(
        w.add_series(
            &l("3"),
            &[ChunkMeta {
                min_t: 9,
                max_t: 2,
                ..metas[0]
            }],
        ),
        "inverted chunk",
    );
    // A label value missing from the symbols.
    assert!(refused(w.add_series(&l("4"), &metas), "missing symbol").contains("\"4\""));
    // A series without chunks is skipped; the writer goes on after refusals.
    w.add_series(&l("25"), &[])
        .expect("empty series is skipped");
    w.add_series(&l("3"), &metas)
        .expect("a valid series after refusals");
    let meta = w.finish(0, 10, Compaction::level1(ulid)).expect("finish");
    assert_eq!(
        (
            meta.stats.num_series,
            meta.stats.num_chunks,
            meta.stats.num_samples
        ),
        (2, 4, 20)
    );
    let block = Block::open(&tmp.path().join(ulid.to_string())).expect("open");
    assert_eq!(util::all_samples(&block).len(), 20);
    assert!(!tmp.path().join(format!("{ulid}.tmp-for-creation")).exists());

    // The same series given by symbol references: checked like labels, and written
    // byte for byte as `add_series` writes them.
    let syms = ["", "1", "2", "3", "__name__", "i", "m"];
    let (name, i, m) = (4, 5, 6);
    let by_refs = Ulid::new();
    let mut w = BlockWriter::new(tmp.path(), by_refs, syms).expect("writer");
    w.add_series_refs(vec![(name, m), (i, 2)], &metas)
        .expect("first series");
    let mut bad =
        |refs: Vec<(u32, u32)>, what: &str| refused(w.add_series_refs(refs, &metas), what);
    bad(vec![(name, m), (i, 1)], "unsorted series");
    bad(vec![(name, m), (i, 2)], "duplicate series");
    bad(vec![(i, 3), (name, m)], "unsorted names");
    bad(vec![(name, m), (name, m)], "duplicate names");
    bad(vec![(name, m), (i, 0)], "empty value");
    bad(vec![], "no labels");
    assert!(bad(vec![(name, m), (i, 7)], "outside the table").contains("outside"));
    let inverted = [ChunkMeta {
        min_t: 9,
        max_t: 2,
        ..metas[0]
    }];
    assert!(
        refused(
            w.add_series_refs(vec![(name, m), (i, 3)], &inverted),
            "inverted"
        )
        .contains(r#"{__name__="m", i="3"}"#)
    );
    w.add_series_refs(vec![(name, m), (i, 3)], &metas)
        .expect("a valid series after refusals");
    w.finish(0, 10, Compaction::level1(by_refs))
        .expect("finish");
    let by_labels = Ulid::new();
    let mut w = BlockWriter::new(tmp.path(), by_labels, syms).expect("writer");
    w.add_series(&l("2"), &metas).expect("series");
    w.add_series(&l("3"), &metas).expect("series");
    w.finish(0, 10, Compaction::level1(by_labels))
        .expect("finish");
    let index =
        |u: Ulid| std::fs::read(tmp.path().join(u.to_string()).join("index")).expect("index");
    assert_eq!(index(by_refs), index(by_labels));

    // Dropping an unfinished writer removes its directory.
    let id = Ulid::new();
    let mut w = BlockWriter::new(tmp.path(), id, ["1", "__name__", "i", "m"]).expect("writer");
    w.add_series(&l("1"), &metas).expect("series");
    let dir = w.tmp_dir().to_path_buf();
    assert!(dir.exists());
    drop(w);
    assert!(!dir.exists(), "an abandoned block is removed");
    assert!(!tmp.path().join(id.to_string()).exists());
}

#[test]
fn deletes_hide_samples_persist_and_promtool_applies_them() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let series = simple_series(6);
    let meta = block_util::write_block(&data, &series);
    let dir = data.join(meta.ulid.to_string());
    let block = Block::open(&dir).expect("open");
    let q_before = block.querier(i64::MIN, i64::MAX).expect("querier");

    let m = |t, n: &str, v: &str| Matcher::new(t, n, v).expect("matcher");
    let n = block
        .delete(50_000, 120_000, &[m(MatchType::RegexMatch, "i", "00[01]")])
        .expect("delete");
    assert_eq!(n, 2);
    assert_eq!(
        block
            .delete(500_000, 600_000, &[m(MatchType::Equal, "i", "000")])
            .expect("delete"),
        0,
        "no chunk in range"
    );
    // A second, adjacent interval merges with the first.
    block
        .delete(120_001, 130_000, &[m(MatchType::Equal, "i", "000")])
        .expect("delete");
    assert_eq!(block.meta().stats.num_tombstones, 2);
    assert_eq!(
        block.tombstones().get(0).len(),
        0,
        "series ids are offsets / 16, not 0"
    );

    let deleted = |s: &Sample| {
        (s.0.contains("\"000\"") && (50_000..=130_000).contains(&s.1))
            || (s.0.contains("\"001\"") && (50_000..=120_000).contains(&s.1))
    };
    let want: Vec<Sample> = block_util::expected_samples(&series)
        .into_iter()
        .filter(|s| !deleted(s))
        .collect();
    assert_same_samples(&util::all_samples(&block), &want, "after delete");
    assert_eq!(
        count_samples(&*q_before),
        6 * 200,
        "an earlier querier keeps the old view"
    );

    let reopened = Block::open(&dir).expect("reopen");
    assert_same_samples(&util::all_samples(&reopened), &want, "after reopening");
    assert_eq!(BlockMeta::read(&dir).expect("meta").stats.num_tombstones, 2);
    // A narrow select that lies inside a deleted interval returns no samples for it.
    let q = reopened.querier(60_000, 70_000).expect("querier");
    let hints = SelectHints {
        start: 60_000,
        end: 70_000,
        ..SelectHints::default()
    };
    let got: Vec<String> = q
        .select(true, Some(&hints), &[m(MatchType::Equal, "__name__", "m")])
        .expect("select")
        .map(|s| s.expect("series").labels().to_string())
        .collect();
    assert_eq!(got.len(), 4, "wholly deleted chunks are skipped: {got:?}");

    if let Some(bin) = util::reference_bin_dir() {
        std::fs::create_dir_all(data.join("wal")).expect("wal");
        assert_same_samples(
            &util::promtool_dump(&bin, &data),
            &want,
            "promtool applies our tombstones",
        );
    }
}

/// The number of samples a querier returns for `{__name__=~".+"}`.
fn count_samples(q: &dyn tsdb::storage::Querier) -> usize {
    let all = Matcher::new(MatchType::RegexMatch, "__name__", ".+").expect("matcher");
    let mut n = 0;
    for s in q.select(true, None, &[all]).expect("select") {
        let s = s.expect("series");
        let mut it = s.iterator();
        while it.next() == ValueType::Float {
            n += 1;
        }
    }
    n
}
