//! `block::compact` and `block::rewrite` against a model: blocks of random series are
//! merged (side by side in time, or overlapping with duplicate timestamps, with and
//! without tombstones) and the output must hold exactly the model's samples, bit for bit,
//! read through `chunk_series` and through a select; its chunks must be ordered, disjoint
//! and at most 120 samples when re-encoded; its `meta.json` bookkeeping must follow
//! Prometheus. Plus: the tie rule, copies of identical chunks, `rewrite`, empty results
//! writing nothing, non-XOR chunks refused. (promtool and Prometheus-made blocks:
//! `block_compact_interop.rs`.)

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use proptest::prelude::*;
use tsdb::block::{
    self, Block, BlockDesc, BlockWriter, ChunkMeta, Compacted, Compaction,
    MAX_SAMPLES_PER_MERGED_CHUNK, Ulid,
};
use tsdb::chunkenc::{SampleIterator, ValueType, XorIterator};
use tsdb::labels::{Labels, MatchType, Matcher};

use crate::block_util::{GO_NAN, STALE_NAN, encode_chunks, symbols_of};
use crate::util::{self, Sample};

/// Samples by label set, as `t → value bits`.
pub(crate) type Model = BTreeMap<Labels, BTreeMap<i64, u64>>;

/// The label sets series are drawn from, so that inputs share series.
pub(crate) fn pool(i: usize) -> Labels {
    const NAMES: [&str; 3] = ["up", "http_requests_total", "node_cpu_seconds_total"];
    const JOBS: [&str; 2] = ["api", "node"];
    let mut pairs = vec![
        ("__name__", NAMES[i % 3].to_string()),
        ("job", JOBS[(i / 3) % 2].to_string()),
    ];
    if i >= 6 {
        pairs.push(("instance", format!("10.0.0.{i}:9100")));
    }
    Labels::from_pairs(&pairs)
}
pub(crate) const POOL: usize = 10;

/// One series of a generated block: pool index, first offset, step, count, value seed.
pub(crate) type SeriesSpec = (usize, i64, i64, usize, u64);

/// A generated block.
#[derive(Debug, Clone)]
pub(crate) struct BlockSpec {
    pub(crate) series: Vec<SeriesSpec>,
    pub(crate) per_chunk: usize,
    pub(crate) level: u32,
    /// Whether the block lists the shared extra source.
    pub(crate) shared_source: bool,
}

/// An extra source ULID some inputs list, to check the union deduplicates.
fn shared_source() -> Ulid {
    Ulid::from_string("01ARZ3NDEKTSV4RRFFQ69G5FAV").expect("ulid")
}

fn value(seed: u64, i: usize, block: usize) -> u64 {
    match (seed >> (i % 60)) & 31 {
        0 => STALE_NAN,
        1 => GO_NAN,
        2 => f64::INFINITY.to_bits(),
        3 => (-0.0f64).to_bits(),
        x => (x as f64 * 0.25 + (seed % 1000) as f64 + block as f64 * 1e6).to_bits(),
    }
}

fn arb_block(
    max_series: usize,
    offsets: std::ops::Range<i64>,
    steps: std::ops::Range<i64>,
    counts: std::ops::Range<usize>,
) -> impl Strategy<Value = BlockSpec> {
    let one = (0..POOL, offsets, steps, counts, any::<u64>());
    (
        proptest::collection::vec(one, 0..max_series),
        1usize..=120,
        1u32..4,
        any::<bool>(),
    )
        .prop_map(|(series, per_chunk, level, shared_source)| BlockSpec {
            series,
            per_chunk,
            level,
            shared_source,
        })
}

/// Writes block number `k` of `spec` over `[min_time, max_time)` into `parent`, timestamps
/// shifted by `base`; returns it opened, with its samples.
pub(crate) fn write_spec(
    parent: &Path,
    k: usize,
    spec: &BlockSpec,
    base: i64,
    range: (i64, i64),
) -> (Block, Model) {
    let mut model = Model::new();
    for &(p, off, step, count, seed) in &spec.series {
        let labels = pool(p);
        if model.contains_key(&labels) {
            continue;
        }
        let samples = (0..count)
            .map(|i| (base + off + i as i64 * step, value(seed, i, k)))
            .collect();
        model.insert(labels, samples);
    }
    let ulid = Ulid::new();
    let mut w = BlockWriter::with_segment_size(parent, ulid, symbols_of(model.keys()), 4096)
        .expect("writer");
    for (labels, samples) in &model {
        let s: Vec<(i64, f64)> = samples
            .iter()
            .map(|(&t, &v)| (t, f64::from_bits(v)))
            .collect();
        let chunks = encode_chunks(&s, spec.per_chunk);
        let metas: Vec<ChunkMeta<'_>> = chunks
            .iter()
            .map(|(a, b, d)| ChunkMeta {
                min_t: *a,
                max_t: *b,
                data: d,
            })
            .collect();
        w.add_series(labels, &metas).expect("add series");
    }
    let mut compaction = Compaction::level1(ulid);
    compaction.level = spec.level;
    if spec.shared_source {
        compaction.sources.push(shared_source());
        compaction.sources.sort();
    }
    w.finish(range.0, range.1, compaction).expect("finish");
    let block = Block::open(&parent.join(ulid.to_string())).expect("open");
    (block, model)
}

/// The union of per-input models; later inputs win equal timestamps.
pub(crate) fn union(models: &[Model]) -> Model {
    let mut out = Model::new();
    for m in models {
        for (labels, samples) in m {
            let e = out.entry(labels.clone()).or_default();
            e.extend(samples.iter().map(|(&t, &v)| (t, v)));
        }
    }
    out.retain(|_, s| !s.is_empty());
    out
}

pub(crate) fn model_samples(m: &Model) -> Vec<Sample> {
    let mut out: Vec<Sample> = m
        .iter()
        .flat_map(|(l, s)| {
            let name = l.to_string();
            s.iter().map(move |(&t, &v)| (name.clone(), t, v))
        })
        .collect();
    out.sort();
    out
}

/// One output chunk: range, samples, bytes.
struct ReadChunk {
    min_t: i64,
    max_t: i64,
    samples: Vec<(i64, u64)>,
    data: Vec<u8>,
}

/// Every series of `block` through `chunk_series`, with decoded chunks.
fn read_chunks(block: &Block) -> Vec<(Labels, Vec<ReadChunk>)> {
    let mut out = Vec::new();
    for s in block.chunk_series().expect("reader") {
        let s = s.expect("series");
        assert!(s.deleted.is_empty(), "{} has tombstones", s.labels);
        let chunks = s
            .chunks
            .iter()
            .map(|c| {
                assert_eq!(c.encoding, 1);
                let mut it = XorIterator::new(&*c.data);
                let mut samples = Vec::new();
                while it.next() == ValueType::Float {
                    let (t, v) = it.at();
                    samples.push((t, v.to_bits()));
                }
                assert!(it.err().is_none(), "{:?}", it.err());
                ReadChunk {
                    min_t: c.min_t,
                    max_t: c.max_t,
                    samples,
                    data: c.data.to_vec(),
                }
            })
            .collect();
        out.push((s.labels, chunks));
    }
    out
}

/// Checks `out` holds exactly `want`, through both read paths, with well-formed chunks
/// (each within its meta range, ordered, disjoint; re-encoded ones, those not among
/// `input_chunks`, at most 120 samples) and no tombstones.
fn check_content(
    out: &Block,
    want: &Model,
    input_chunks: &BTreeSet<Vec<u8>>,
) -> Result<(), TestCaseError> {
    let read = read_chunks(out);
    prop_assert_eq!(
        read.iter().map(|(l, _)| l.clone()).collect::<Vec<_>>(),
        want.keys().cloned().collect::<Vec<_>>()
    );
    let mut via_chunks = Model::new();
    for (labels, chunks) in &read {
        let mut prev_max = None;
        for c in chunks {
            prop_assert!(!c.samples.is_empty());
            prop_assert_eq!(c.samples[0].0, c.min_t, "{}: chunk min", labels);
            prop_assert_eq!(
                c.samples[c.samples.len() - 1].0,
                c.max_t,
                "{}: chunk max",
                labels
            );
            prop_assert!(
                prev_max.is_none_or(|p| p < c.min_t),
                "{}: chunks overlap or are unordered",
                labels
            );
            prev_max = Some(c.max_t);
            if !input_chunks.contains(&c.data) {
                prop_assert!(
                    c.samples.len() <= MAX_SAMPLES_PER_MERGED_CHUNK,
                    "{}: re-encoded chunk of {} samples",
                    labels,
                    c.samples.len()
                );
            }
            let e = via_chunks.entry(labels.clone()).or_default();
            for &(t, v) in &c.samples {
                prop_assert!(
                    e.insert(t, v).is_none(),
                    "{}: timestamp {} twice",
                    labels,
                    t
                );
            }
        }
    }
    let want_samples = model_samples(want);
    prop_assert_eq!(&model_samples(&via_chunks), &want_samples);
    let mut selected = util::all_samples(out);
    selected.sort();
    prop_assert_eq!(&selected, &want_samples);
    let tombstones = out.tombstones();
    prop_assert!(tombstones.is_empty());
    prop_assert_eq!(out.meta().stats.num_tombstones, 0);
    Ok(())
}

fn chunk_bytes_of(blocks: &[Block]) -> BTreeSet<Vec<u8>> {
    blocks
        .iter()
        .flat_map(|b| b.chunk_series().expect("reader"))
        .flat_map(|s| s.expect("series").chunks)
        .map(|c| c.data.to_vec())
        .collect()
}

/// Checks the bookkeeping of a merge of `inputs` (in that order).
fn check_meta(
    out: &Block,
    c: &Compacted,
    inputs: &[Block],
    want: &Model,
) -> Result<(), TestCaseError> {
    let meta = out.meta();
    prop_assert_eq!(Some(&meta), c.meta.as_ref());
    let ins: Vec<_> = inputs.iter().map(Block::meta).collect();
    prop_assert_eq!(
        meta.min_time,
        ins.iter().map(|m| m.min_time).min().expect("inputs")
    );
    prop_assert_eq!(
        meta.max_time,
        ins.iter().map(|m| m.max_time).max().expect("inputs")
    );
    prop_assert_eq!(
        meta.compaction.level,
        ins.iter()
            .map(|m| m.compaction.level)
            .max()
            .expect("inputs")
            + 1
    );
    let sources: BTreeSet<Ulid> = ins
        .iter()
        .flat_map(|m| m.compaction.sources.clone())
        .collect();
    prop_assert_eq!(
        &meta.compaction.sources,
        &sources.into_iter().collect::<Vec<_>>()
    );
    let parents: Vec<BlockDesc> = ins
        .iter()
        .map(|m| BlockDesc {
            ulid: m.ulid,
            min_time: m.min_time,
            max_time: m.max_time,
        })
        .collect();
    prop_assert_eq!(&meta.compaction.parents, &parents);
    prop_assert!(!meta.compaction.deletable && !meta.compaction.failed);
    prop_assert!(meta.compaction.hints.is_empty());
    prop_assert_eq!(meta.stats.num_series, want.len() as u64);
    prop_assert_eq!(
        meta.stats.num_samples,
        want.values().map(|s| s.len() as u64).sum::<u64>()
    );
    prop_assert_eq!(c.stats.series, meta.stats.num_series);
    prop_assert_eq!(c.stats.samples, meta.stats.num_samples);
    prop_assert_eq!(
        c.stats.chunks_copied + c.stats.chunks_reencoded,
        meta.stats.num_chunks
    );
    Ok(())
}

/// Deletes `[a, b]` of the series whose `name` label is `value`, in the block and in its model.
pub(crate) fn delete(block: &Block, model: &mut Model, name: &str, value: &str, a: i64, b: i64) {
    let m = Matcher::new(MatchType::Equal, name, value).expect("matcher");
    block.delete(a, b, &[m]).expect("delete");
    for (labels, samples) in model.iter_mut() {
        if labels.get(name) == Some(value) {
            samples.retain(|&t, _| t < a || t > b);
        }
    }
}

pub(crate) const W: i64 = 100_000;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Blocks side by side in time: everything is copied, nothing re-encoded.
    #[test]
    fn compacting_blocks_side_by_side_keeps_every_sample(
        specs in proptest::collection::vec(arb_block(12, 0..W / 2, 1..380, 1..130), 1..=5),
        order_seed in any::<u64>(),
    ) {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut inputs = Vec::new();
        let mut models = Vec::new();
        for (k, spec) in specs.iter().enumerate() {
            let base = k as i64 * W;
            let (b, m) = write_spec(tmp.path(), k, spec, base, (base, base + W));
            inputs.push(b);
            models.push(m);
        }
        // Any input order: the bookkeeping follows it, the content does not depend on it.
        let n = inputs.len();
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by_key(|&i| (order_seed.rotate_left(i as u32 * 7) ^ i as u64, i));
        let inputs: Vec<Block> = order.iter().map(|&i| inputs[i].clone()).collect();
        let want = union(&models);

        let ulid = Ulid::new();
        let c = block::compact(tmp.path(), &inputs, ulid).expect("compact");
        prop_assert!(!c.stats.overlapping);
        if want.is_empty() {
            prop_assert!(c.meta.is_none());
            prop_assert!(!tmp.path().join(ulid.to_string()).exists());
            return Ok(());
        }
        let out = Block::open(&tmp.path().join(ulid.to_string())).expect("open output");
        let input_chunks = chunk_bytes_of(&inputs);
        check_content(&out, &want, &input_chunks)?;
        check_meta(&out, &c, &inputs, &want)?;
        prop_assert_eq!(c.stats.chunks_reencoded, 0);
        prop_assert_eq!(c.stats.chunks_decoded, 0);
        let in_chunks: u64 = inputs.iter().map(|b| b.meta().stats.num_chunks).sum();
        prop_assert_eq!(c.stats.chunks_copied, in_chunks);
        // Every chunk is an input chunk, unchanged.
        for (_, chunks) in read_chunks(&out) {
            for ch in chunks {
                prop_assert!(input_chunks.contains(&ch.data));
            }
        }
    }

    /// Overlapping blocks with many equal timestamps: the later input wins each tie, and
    /// merged chunks hold at most 120 samples.
    #[test]
    fn vertical_compaction_keeps_the_later_input_on_ties(
        specs in proptest::collection::vec(arb_block(8, 0..300, 1..6, 1..300), 2..=4),
    ) {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut inputs = Vec::new();
        let mut models = Vec::new();
        for (k, spec) in specs.iter().enumerate() {
            // Timestamps on a 10 ms grid, so inputs share many of them.
            let spec = BlockSpec {
                series: spec.series.iter().map(|&(p, off, step, n, s)| (p, off * 10, step * 10, n, s)).collect(),
                ..spec.clone()
            };
            let (b, m) = write_spec(tmp.path(), k, &spec, 0, (k as i64 * 7, 20_000));
            inputs.push(b);
            models.push(m);
        }
        let want = union(&models);
        let ulid = Ulid::new();
        let c = block::compact(tmp.path(), &inputs, ulid).expect("compact");
        prop_assert!(c.stats.overlapping);
        if want.is_empty() {
            prop_assert!(c.meta.is_none());
            return Ok(());
        }
        let out = Block::open(&tmp.path().join(ulid.to_string())).expect("open output");
        check_content(&out, &want, &chunk_bytes_of(&inputs))?;
        check_meta(&out, &c, &inputs, &want)?;
    }

    /// Tombstones of the inputs are applied; fully deleted series are gone; the output
    /// has no tombstones; an input with nothing left writes no block.
    #[test]
    fn compaction_applies_tombstones(
        specs in proptest::collection::vec(arb_block(8, 0..300, 1..6, 1..300), 1..=3),
        overlap in any::<bool>(),
        deletes in proptest::collection::vec(
            (0usize..3, 0usize..POOL, any::<bool>(), 0i64..3500, 0i64..3500), 0..6),
    ) {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut inputs = Vec::new();
        let mut models = Vec::new();
        for (k, spec) in specs.iter().enumerate() {
            let base = if overlap { 0 } else { k as i64 * W };
            let (b, m) = write_spec(tmp.path(), k, spec, base, (base, base + W));
            inputs.push(b);
            models.push(m);
        }
        for &(k, p, by_job, a, len) in &deletes {
            let Some(b) = inputs.get(k) else { continue };
            let labels = pool(p);
            let (name, value) = if by_job { ("job", labels.get("job")) } else { ("__name__", labels.get("__name__")) };
            let base = if overlap { 0 } else { k as i64 * W };
            delete(b, &mut models[k], name, value.expect("label"), base + a, base + a + len);
        }
        let want = union(&models);
        let ulid = Ulid::new();
        let c = block::compact(tmp.path(), &inputs, ulid).expect("compact");
        if want.is_empty() {
            prop_assert!(c.meta.is_none());
            prop_assert!(!tmp.path().join(ulid.to_string()).exists());
            let tmp_dir = format!("{ulid}.tmp-for-creation");
            prop_assert!(!tmp.path().join(tmp_dir).exists());
            return Ok(());
        }
        let out = Block::open(&tmp.path().join(ulid.to_string())).expect("open output");
        check_content(&out, &want, &chunk_bytes_of(&inputs))?;
        check_meta(&out, &c, &inputs, &want)?;
        let in_series: BTreeSet<Labels> = models.iter().flat_map(|m| m.keys().cloned()).collect();
        prop_assert_eq!(c.stats.series_dropped, (in_series.len() - want.len()) as u64);
    }
}

/// Writes one block of `series` (pool index → samples) over `[lo, hi)`.
fn block_of(parent: &Path, series: &[(usize, Vec<(i64, f64)>)], range: (i64, i64)) -> Block {
    let mut sorted: Vec<(Labels, &Vec<(i64, f64)>)> =
        series.iter().map(|(p, s)| (pool(*p), s)).collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let ulid = Ulid::new();
    let mut w =
        BlockWriter::new(parent, ulid, symbols_of(sorted.iter().map(|s| &s.0))).expect("writer");
    for (labels, s) in &sorted {
        let chunks = encode_chunks(s, 120);
        let metas: Vec<ChunkMeta<'_>> = chunks
            .iter()
            .map(|(a, b, d)| ChunkMeta {
                min_t: *a,
                max_t: *b,
                data: d,
            })
            .collect();
        w.add_series(labels, &metas).expect("add");
    }
    w.finish(range.0, range.1, Compaction::level1(ulid))
        .expect("finish");
    Block::open(&parent.join(ulid.to_string())).expect("open")
}

fn values_of(b: &Block) -> Vec<f64> {
    util::all_samples(b)
        .iter()
        .map(|s| f64::from_bits(s.2))
        .collect()
}

#[test]
fn the_later_input_wins_and_identical_chunks_are_copied_once() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let ones: Vec<(i64, f64)> = (0..300).map(|i| (i * 10, 1.0)).collect();
    let twos: Vec<(i64, f64)> = (0..300).map(|i| (i * 10, 2.0)).collect();
    let a = block_of(tmp.path(), &[(0, ones.clone())], (0, 3000));
    let b = block_of(tmp.path(), &[(0, twos)], (0, 3000));

    let ab = Ulid::new();
    let c = block::compact(tmp.path(), &[a.clone(), b.clone()], ab).expect("compact");
    let out = Block::open(&tmp.path().join(ab.to_string())).expect("open");
    assert_eq!(values_of(&out), vec![2.0; 300]);
    // 300 merged samples → 120 + 120 + 60.
    assert_eq!(c.stats.chunks_reencoded, 3);
    assert_eq!(c.stats.chunks_decoded, 6);
    let ba = Ulid::new();
    block::compact(tmp.path(), &[b, a.clone()], ba).expect("compact");
    let out = Block::open(&tmp.path().join(ba.to_string())).expect("open");
    assert_eq!(values_of(&out), vec![1.0; 300]);

    // The same data twice (a replica): chunks are copied once, not re-encoded.
    let a2 = block_of(tmp.path(), &[(0, ones)], (0, 3000));
    let aa = Ulid::new();
    let c = block::compact(tmp.path(), &[a, a2], aa).expect("compact");
    assert_eq!((c.stats.chunks_copied, c.stats.chunks_reencoded), (3, 0));
    let out = Block::open(&tmp.path().join(aa.to_string())).expect("open");
    assert_eq!(values_of(&out), vec![1.0; 300]);
}

#[test]
fn a_chunk_touched_by_a_tombstone_is_reencoded_as_one_chunk() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // One series of 240 samples in two chunks of 120, one chunk of another series.
    let s: Vec<(i64, f64)> = (0..240).map(|i| (i * 10, i as f64)).collect();
    let other: Vec<(i64, f64)> = (0..50).map(|i| (i * 10, -1.0)).collect();
    let b = block_of(tmp.path(), &[(0, s), (1, other)], (0, 2400));
    // Delete two samples of the first chunk of `up`.
    let up = Matcher::new(MatchType::Equal, "__name__", "up").expect("matcher");
    b.delete(100, 110, std::slice::from_ref(&up))
        .expect("delete");
    let ulid = Ulid::new();
    let c = block::compact(tmp.path(), std::slice::from_ref(&b), ulid).expect("compact");
    assert_eq!(c.stats.chunks_reencoded, 1, "{:?}", c.stats);
    assert_eq!(c.stats.chunks_copied, 2, "{:?}", c.stats);
    let out = Block::open(&tmp.path().join(ulid.to_string())).expect("open");
    let read = read_chunks(&out);
    let up_chunks: Vec<usize> = read
        .iter()
        .find(|(l, _)| l.get("__name__") == Some("up"))
        .expect("up")
        .1
        .iter()
        .map(|c| c.samples.len())
        .collect();
    assert_eq!(up_chunks, [118, 120]);
    assert_eq!(out.meta().stats.num_samples, 238 + 50);
}

#[test]
fn rewrite_drops_deleted_samples_and_keeps_the_bookkeeping() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let s: Vec<(i64, f64)> = (0..100).map(|i| (i * 10, i as f64)).collect();
    let b = block_of(
        tmp.path(),
        &[(0, s.clone()), (1, s.clone()), (2, s)],
        (0, 5000),
    );
    // A level-3 block from two sources with a hint.
    let mut meta = b.meta();
    meta.compaction.level = 3;
    meta.compaction.sources = vec![shared_source(), meta.ulid];
    meta.compaction.hints = vec![block::meta::HINT_FROM_OUT_OF_ORDER.to_string()];
    meta.write(b.dir()).expect("write meta");
    let b = Block::open(b.dir()).expect("reopen");
    // `up` (pool 0) is deleted entirely, `http_requests_total` (pool 1) in part.
    let m = |v: &str| Matcher::new(MatchType::Equal, "__name__", v).expect("matcher");
    b.delete(i64::MIN, i64::MAX, &[m("up")]).expect("delete");
    b.delete(0, 495, &[m("http_requests_total")])
        .expect("delete");

    let ulid = Ulid::new();
    let c = block::rewrite(tmp.path(), &b, ulid).expect("rewrite");
    let out = Block::open(&tmp.path().join(ulid.to_string())).expect("open");
    let meta = out.meta();
    assert_eq!(Some(&meta), c.meta.as_ref());
    assert_eq!((meta.min_time, meta.max_time), (0, 5000));
    assert_eq!(meta.compaction.level, 3);
    assert_eq!(meta.compaction.sources, b.meta().compaction.sources);
    assert_eq!(meta.compaction.hints, [block::meta::HINT_FROM_OUT_OF_ORDER]);
    assert_eq!(
        meta.compaction.parents,
        [BlockDesc {
            ulid: b.ulid(),
            min_time: 0,
            max_time: 5000
        }]
    );
    assert_eq!(meta.stats.num_series, 2);
    assert_eq!(meta.stats.num_samples, 50 + 100);
    assert_eq!(c.stats.series_dropped, 1);
    assert!(out.tombstones().is_empty());
    let names: Vec<String> = read_chunks(&out)
        .iter()
        .map(|(l, _)| l.to_string())
        .collect();
    assert!(names.iter().all(|n| !n.contains("\"up\"")), "{names:?}");

    // Everything deleted: nothing is written.
    b.delete(
        i64::MIN,
        i64::MAX,
        &[Matcher::new(MatchType::RegexMatch, "__name__", ".+").expect("m")],
    )
    .expect("delete");
    let empty = Ulid::new();
    let c = block::rewrite(tmp.path(), &b, empty).expect("rewrite");
    assert_eq!(c.meta, None);
    assert_eq!(c.stats.series_dropped, 3);
    let left: Vec<String> = std::fs::read_dir(tmp.path())
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&empty.to_string()))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn samples_outside_the_output_range_are_dropped() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // A block whose meta range does not cover its last samples (as a buggy writer could
    // make): Prometheus trims them to [minTime, maxTime), and so do we.
    let s: Vec<(i64, f64)> = (0..100).map(|i| (i * 10, 1.0)).collect();
    let b = block_of(tmp.path(), &[(0, s)], (0, 500));
    let ulid = Ulid::new();
    let c = block::compact(tmp.path(), &[b], ulid).expect("compact");
    assert_eq!(c.meta.map(|m| m.stats.num_samples), Some(50));
}

#[test]
fn no_input_is_an_error() {
    let tmp = tempfile::tempdir().expect("tempdir");
    assert!(block::compact(tmp.path(), &[], Ulid::new()).is_err());
}

#[test]
fn a_chunk_with_another_encoding_is_refused_with_block_and_ref() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let s: Vec<(i64, f64)> = (0..10).map(|i| (i * 10, 1.0)).collect();
    let b = block_of(tmp.path(), &[(0, s)], (0, 100));
    let dir = b.dir().to_path_buf();
    let chunk_ref = b
        .chunk_series()
        .expect("reader")
        .next()
        .expect("a series")
        .expect("series")
        .chunks[0]
        .chunk_ref;
    drop(b);
    // Make the chunk a native histogram chunk (encoding 2), CRC fixed up.
    let seg = dir.join("chunks").join("000001");
    let mut bytes = std::fs::read(&seg).expect("read segment");
    let at = (chunk_ref & 0xffff_ffff) as usize;
    let (len, n) = tsdb::encoding::uvarint(&bytes[at..]).expect("length");
    let enc = at + n;
    let end = enc + 1 + len as usize;
    bytes[enc] = 2;
    let crc = tsdb::encoding::crc32c(&bytes[enc..end]);
    bytes[end..end + 4].copy_from_slice(&crc.to_be_bytes());
    std::fs::write(&seg, &bytes).expect("write segment");

    let b = Block::open(&dir).expect("open");
    let ulid = Ulid::new();
    let err =
        block::compact(tmp.path(), std::slice::from_ref(&b), ulid).expect_err("histogram chunk");
    let msg = err.to_string();
    assert!(msg.contains(&b.ulid().to_string()), "{msg}");
    assert!(msg.contains(&format!("{chunk_ref:#x}")), "{msg}");
    assert!(!tmp.path().join(ulid.to_string()).exists());
    assert!(!tmp.path().join(format!("{ulid}.tmp-for-creation")).exists());
}
