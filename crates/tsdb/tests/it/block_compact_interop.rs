//! Compacted blocks and Prometheus: promtool 3.5.3 and 2.42 `tsdb analyze` and `tsdb
//! dump` read a merge with overlaps and tombstones exactly, and blocks Prometheus made
//! (`promtool tsdb create-blocks-from openmetrics`) compact into one without losing a
//! sample.

use std::path::Path;

use tsdb::block::{self, Block, Ulid};

use crate::block_compact::{BlockSpec, POOL, W, delete, model_samples, union, write_spec};
use crate::block_util::nan_normalized;
use crate::util::{self, assert_same_samples};

/// A merge with overlaps and tombstones, then promtool `tsdb analyze` and `tsdb dump` of
/// the output alone.
fn promtool_reads_compacted(bin: &Path) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let inputs_dir = tmp.path().join("inputs");
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&inputs_dir).expect("inputs dir");
    std::fs::create_dir_all(data.join("wal")).expect("wal dir");
    const START: i64 = 1_700_000_000_000;
    let mut models = Vec::new();
    let mut inputs = Vec::new();
    for k in 0..3usize {
        // Blocks 0 and 1 overlap; block 2 follows them.
        let base = START + if k == 2 { 2 * W } else { k as i64 * 777 };
        let spec = BlockSpec {
            series: (0..POOL)
                .map(|p| {
                    (
                        p,
                        (p as i64) * 13,
                        15 + p as i64,
                        500,
                        p as u64 * 7919 + k as u64,
                    )
                })
                .collect(),
            per_chunk: 120,
            level: 1,
            shared_source: false,
        };
        let (b, m) = write_spec(&inputs_dir, k, &spec, base, (base, base + W));
        inputs.push(b);
        models.push(m);
    }
    delete(
        &inputs[0],
        &mut models[0],
        "job",
        "node",
        START + 100,
        START + 2000,
    );
    delete(
        &inputs[2],
        &mut models[2],
        "__name__",
        "up",
        i64::MIN,
        i64::MAX,
    );
    let want = nan_normalized(model_samples(&union(&models)));
    let ulid = Ulid::new();
    let c = block::compact(&data, &inputs, ulid).expect("compact");
    assert!(
        c.stats.chunks_reencoded > 0 && c.stats.chunks_copied > 0,
        "{:?}",
        c.stats
    );
    let meta = c.meta.expect("a block");

    let out = std::process::Command::new(bin.join("promtool"))
        .args(["tsdb", "analyze", "--extended"])
        .arg(&data)
        .arg(ulid.to_string())
        .output()
        .expect("run promtool");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "analyze: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains(&format!("Block ID: {ulid}")), "{text}");
    assert!(
        text.contains(&format!("Series: {}", meta.stats.num_series)),
        "{text}"
    );
    let got = nan_normalized(util::promtool_dump(bin, &data));
    assert_same_samples(&got, &want, "promtool tsdb dump of a compacted block");
}

#[test]
fn promtool_3_5_reads_compacted_blocks() {
    let Some(bin) = util::reference_bin_dir() else {
        return;
    };
    promtool_reads_compacted(&bin);
}

#[test]
fn promtool_2_42_reads_compacted_blocks() {
    let Some(bin) = tsdb::testutil::promtool_2_42_bin_dir() else {
        return;
    };
    promtool_reads_compacted(&bin);
}

#[test]
fn compacting_prometheus_blocks_keeps_every_sample() {
    let Some(bin) = util::reference_bin_dir() else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let input = tmp.path().join("input.om");
    let theirs = tmp.path().join("theirs");
    let ours = tmp.path().join("ours");
    std::fs::create_dir_all(ours.join("wal")).expect("wal dir");
    let want = crate::block_prometheus::write_input(&input);
    tsdb::testutil::create_blocks_from_openmetrics(&bin, &input, &theirs);
    let mut blocks: Vec<Block> = std::fs::read_dir(&theirs)
        .expect("read dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.join("meta.json").exists())
        .map(|p| Block::open(&p).expect("open a Prometheus block"))
        .collect();
    blocks.sort_by_key(Block::min_time);
    assert!(
        blocks.len() >= 3,
        "expected several 2 h blocks, got {}",
        blocks.len()
    );

    let ulid = Ulid::new();
    let c = block::compact(&ours, &blocks, ulid).expect("compact");
    // Prometheus's blocks do not overlap: every chunk is copied.
    assert!(!c.stats.overlapping);
    assert_eq!(c.stats.chunks_reencoded, 0);
    let out = Block::open(&ours.join(ulid.to_string())).expect("open");
    let meta = out.meta();
    assert_eq!(meta.compaction.level, 2);
    assert_eq!(meta.compaction.parents.len(), blocks.len());
    assert_eq!(meta.min_time, blocks[0].min_time());
    assert_eq!(meta.stats.num_samples, want.len() as u64);
    let mut got = util::all_samples(&out);
    got.sort();
    assert_same_samples(&got, &want, "compacted Prometheus blocks");
    let dumped = util::promtool_dump(&bin, &ours);
    assert_same_samples(&dumped, &want, "promtool dump of the compacted block");
}
