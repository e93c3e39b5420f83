//! Our blocks read by promtool: `tsdb analyze` and `tsdb dump` of Prometheus 3.5.3 and of
//! promtool 2.42 (Debian bookworm) accept them, and the dump equals what we wrote.

use std::path::Path;
use std::process::Command;

use tsdb::block::Block;
use tsdb::testutil::promtool_2_42_bin_dir;

use crate::block_util::{self, expected_samples, nan_normalized};
use crate::util::{self, assert_same_samples, reference_bin_dir};

const START: i64 = 1_700_000_000_000;

/// Two blocks side by side (the second has other series and a later range), an empty
/// `wal/` beside them so promtool opens the directory as a DB.
fn data_dir(root: &Path) -> (std::path::PathBuf, Vec<block_util::TestSeries>) {
    let data = root.join("data");
    std::fs::create_dir_all(data.join("wal")).expect("wal dir");
    let first = block_util::generate(1, START, 180);
    let mut second = block_util::generate(2, START + 3 * 3_600_000, 120);
    second.truncate(20);
    block_util::write_block(&data, &first);
    block_util::write_block(&data, &second);
    let mut all = first;
    all.extend(second);
    (data, all)
}

fn promtool(bin: &Path, args: &[&str], data: &Path) -> String {
    let out = Command::new(bin.join("promtool"))
        .args(args)
        .arg(data)
        .output()
        .expect("run promtool");
    assert!(
        out.status.success(),
        "promtool {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn check(bin: &Path) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (data, series) = data_dir(tmp.path());
    let want = nan_normalized(expected_samples(&series));

    let mut blocks: Vec<String> = std::fs::read_dir(&data)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n != "wal")
        .collect();
    blocks.sort();
    assert_eq!(blocks.len(), 2);
    for ulid in &blocks {
        let out = promtool(bin, &["tsdb", "analyze"], &data);
        assert!(out.contains("Block ID"), "{out}");
        let out = Command::new(bin.join("promtool"))
            .args(["tsdb", "analyze", "--extended"])
            .arg(&data)
            .arg(ulid)
            .output()
            .expect("run promtool");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "analyze {ulid}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let meta = Block::open(&data.join(ulid)).expect("open").meta();
        assert!(text.contains(&format!("Block ID: {ulid}")), "{text}");
        assert!(
            text.contains(&format!("Series: {}", meta.stats.num_series)),
            "analyze counts our series: {text}"
        );
    }
    let listed = promtool(bin, &["tsdb", "list"], &data);
    for ulid in &blocks {
        assert!(listed.contains(ulid), "{listed}");
    }

    let got = nan_normalized(util::promtool_dump(bin, &data));
    assert_same_samples(&got, &want, "promtool tsdb dump of our blocks");
}

#[test]
fn promtool_3_5_reads_our_blocks() {
    let Some(bin) = reference_bin_dir() else {
        return;
    };
    check(&bin);
}

#[test]
fn promtool_2_42_reads_our_blocks() {
    let Some(bin) = promtool_2_42_bin_dir() else {
        return;
    };
    check(&bin);
}
