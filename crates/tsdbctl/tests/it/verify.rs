//! `tsdbctl verify`: exit 0 on healthy blocks (written by `tsdb::Db`, compacted with
//! tombstones, written by promtool 3.5.3), and for each kind of damage a non-zero exit and
//! a finding naming the block, the file and the problem. Overlapping blocks are warnings
//! (errors with `--strict`).

use std::path::{Path, PathBuf};

use serde_json::Value;
use tsdb::block::{BlockMeta, BlockWriter, ChunkMeta, Compaction};
use tsdb::chunkenc::XorAppender;
use tsdb::encoding::{crc32c, put_uvarint, uvarint, varint};
use tsdb::index::{TOC_LEN, Toc};
use tsdb::labels::Labels;

use crate::inspect_util::{churn_data, ok, tsdbctl};

/// Runs `verify --json` (plus `extra`); the exit code and the report.
fn verify(dir: &Path, extra: &[&str]) -> (Option<i32>, Value) {
    let mut args = vec!["verify", "--json"];
    args.extend_from_slice(extra);
    args.push(dir.to_str().expect("utf-8"));
    let out = tsdbctl(&args);
    let v = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    (out.status.code(), v)
}

/// Asserts a failed run with an error finding in `block`'s `file` whose problem contains
/// every word of `words`.
fn assert_finding(dir: &Path, block: &str, file: &str, words: &[&str]) -> Value {
    let (code, v) = verify(dir, &[]);
    assert_eq!(code, Some(1), "{v:#}");
    assert_eq!(v["ok"], false);
    let found = v["findings"].as_array().expect("findings").iter().any(|f| {
        f["severity"] == "error"
            && f["block"] == block
            && f["file"].as_str().is_some_and(|p| p.ends_with(file))
            && words
                .iter()
                .all(|w| f["problem"].as_str().is_some_and(|p| p.contains(w)))
    });
    assert!(found, "no error in {block}/{file} about {words:?}: {v:#}");
    v
}

/// A copy of the data directory's blocks (not the WAL) in a new directory.
fn copy_blocks(from: &Path, to: &Path) {
    for e in std::fs::read_dir(from).expect("read") {
        let p = e.expect("entry").path();
        let name = p
            .file_name()
            .and_then(|n| n.to_str())
            .expect("name")
            .to_owned();
        if name.parse::<tsdb::block::Ulid>().is_ok() {
            copy_dir(&p, &to.join(name));
        }
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read") {
        let p = e.expect("entry").path();
        let dest = to.join(p.file_name().expect("name"));
        if p.is_dir() {
            copy_dir(&p, &dest);
        } else {
            std::fs::copy(&p, &dest).expect("copy");
        }
    }
}

struct Damage {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    block: String,
}

/// A copy of the healthy blocks of `src`; `block` is the first one's ULID.
fn damage(src: &Path) -> Damage {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("data");
    copy_blocks(src, &dir);
    let mut blocks: Vec<String> = std::fs::read_dir(&dir)
        .expect("read")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    blocks.sort();
    Damage {
        _tmp: tmp,
        dir,
        block: blocks[0].clone(),
    }
}

impl Damage {
    fn file(&self, name: &str) -> PathBuf {
        self.dir.join(&self.block).join(name)
    }

    fn edit(&self, name: &str, f: impl FnOnce(&mut Vec<u8>)) {
        let p = self.file(name);
        let mut b = std::fs::read(&p).expect("read");
        f(&mut b);
        std::fs::write(&p, &b).expect("write");
    }
}

fn toc(b: &[u8]) -> Toc {
    Toc::decode(b[b.len() - TOC_LEN..].try_into().expect("toc")).expect("toc crc")
}

#[test]
fn healthy_blocks_pass_and_every_damage_is_named() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let src = tmp.path().join("data");
    let (db, _) = churn_data(&src);
    let blocks = db.blocks();
    let (code, v) = verify(&src, &[]);
    assert_eq!(code, Some(0), "{v:#}");
    assert_eq!(v["blocks"], 3);
    assert_eq!(v["series"], 8 + 5 + 5);
    let chunks: u64 = blocks.iter().map(|b| b.meta().stats.num_chunks).sum();
    assert_eq!(v["chunks"], chunks);
    let text = ok(&["verify", src.to_str().expect("utf-8")]);
    assert!(
        text.ends_with(&format!(
            "3 blocks, 18 series, {chunks} chunks, {} samples verified: 0 errors, 0 warnings\n",
            v["samples"]
        )),
        "{text}"
    );

    // Truncated chunk segment.
    let d = damage(&src);
    d.edit("chunks/000001", |b| b.truncate(b.len() / 2));
    assert_finding(&d.dir, &d.block, "chunks/000001", &["runs past the end"]);
    // Truncated index.
    let d = damage(&src);
    d.edit("index", |b| b.truncate(b.len() - 7));
    assert_finding(&d.dir, &d.block, "index", &["TOC checksum mismatch"]);
    // A bit flip in chunk data.
    let d = damage(&src);
    d.edit("chunks/000001", |b| {
        let i = b.len() / 2;
        b[i] ^= 0x08;
    });
    assert_finding(&d.dir, &d.block, "chunks/000001", &["checksum mismatch"]);
    // A bit flip in the index's series section.
    let d = damage(&src);
    d.edit("index", |b| {
        let t = toc(b);
        let i = (t.series as usize).div_ceil(16) * 16 + 5;
        b[i] ^= 0x01;
    });
    assert_finding(&d.dir, &d.block, "index", &["series", "checksum mismatch"]);
    // meta.json stats that do not match.
    let d = damage(&src);
    let mut meta = BlockMeta::read(&d.dir.join(&d.block)).expect("meta");
    meta.stats.num_samples += 1;
    meta.write(&d.dir.join(&d.block)).expect("write meta");
    assert_finding(&d.dir, &d.block, "meta.json", &["stats.numSamples"]);
    // Unsorted symbols: two adjacent one-byte symbols swapped, the table's CRC fixed up,
    // so only the ordering check can tell.
    let d = damage(&src);
    d.edit("index", |b| {
        let t = toc(b);
        let start = t.symbols as usize;
        let len = u32::from_be_bytes(b[start..start + 4].try_into().expect("4")) as usize;
        let content = start + 4..start + 4 + len;
        // Symbols: count (4 bytes), then uvarint-prefixed strings; find "0" then "1".
        let mut at = content.start + 4;
        let mut swapped = false;
        while at < content.end {
            let n = b[at] as usize;
            if n == 1 && &b[at..at + 4] == b"\x010\x011" {
                b.swap(at + 1, at + 3);
                swapped = true;
                break;
            }
            at += 1 + n;
        }
        assert!(swapped, "symbols 0 and 1 found");
        let crc = crc32c(&b[content.clone()]);
        b[content.end..content.end + 4].copy_from_slice(&crc.to_be_bytes());
    });
    assert_finding(
        &d.dir,
        &d.block,
        "index",
        &["symbol table is not sorted", "\"0\"", "\"1\""],
    );

    // Overlapping blocks: a copy of a block under a new ULID. A warning; --strict fails.
    let d = damage(&src);
    let ulid = tsdb::block::Ulid::new();
    copy_dir(&d.dir.join(&d.block), &d.dir.join(ulid.to_string()));
    let mut meta = BlockMeta::read(&d.dir.join(ulid.to_string())).expect("meta");
    meta.ulid = ulid;
    meta.write(&d.dir.join(ulid.to_string())).expect("meta");
    let (code, v) = verify(&d.dir, &[]);
    assert_eq!(code, Some(0), "{v:#}");
    let f = v["findings"].as_array().expect("findings");
    assert_eq!(f.len(), 1, "{v:#}");
    assert_eq!(f[0]["severity"], "warning");
    let p = f[0]["problem"].as_str().expect("problem");
    assert!(
        p.contains("overlap") && p.contains(&d.block) && p.contains(&ulid.to_string()),
        "{p}"
    );
    let (code, v) = verify(&d.dir, &["--strict"]);
    assert_eq!(code, Some(1), "{v:#}");
    // --block verifies one block and skips the overlap check.
    let (code, v) = verify(&d.dir, &["--block", &d.block]);
    assert_eq!(code, Some(0), "{v:#}");
    assert_eq!(v["blocks"], 1);

    // A compacted block with tombstones is healthy.
    let ulids: Vec<_> = blocks.iter().take(2).map(|b| b.ulid()).collect();
    db.compact_blocks(&ulids)
        .expect("compact")
        .expect("a block");
    let ms = [
        tsdb::labels::Matcher::new(tsdb::labels::MatchType::Equal, "__name__", "a")
            .expect("matcher"),
    ];
    db.delete(0, 100_000, &ms).expect("delete");
    let merged = db.blocks()[0].meta();
    assert_eq!(merged.compaction.level, 2);
    assert!(merged.stats.num_tombstones > 0);
    let (code, v) = verify(&src, &[]);
    assert_eq!(code, Some(0), "{v:#}");
    assert_eq!(v["blocks"], 2);
}

/// Writes a block with one series of two chunks, `[0, 50]` and `[60, 100]`, then rewrites
/// the second chunk's start in the index to 50 (its delta to 0, same length), fixing the
/// entry's CRC: the chunks now overlap.
#[test]
fn overlapping_chunks_in_a_series_are_named() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("data");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let ulid = tsdb::block::Ulid::new();
    let labels = Labels::from_pairs(&[("__name__", "m"), ("job", "j")]);
    let mut w = BlockWriter::new(&dir, ulid, ["__name__", "j", "job", "m"]).expect("writer");
    let chunk = |ts: &[i64]| {
        let mut a = XorAppender::new();
        for &t in ts {
            a.append(t, t as f64);
        }
        a.into_bytes()
    };
    let c1 = chunk(&[0, 10, 20, 30, 40, 50]);
    let c2 = chunk(&[60, 70, 80, 90, 100]);
    w.add_series(
        &labels,
        &[
            ChunkMeta {
                min_t: 0,
                max_t: 50,
                data: &c1,
            },
            ChunkMeta {
                min_t: 60,
                max_t: 100,
                data: &c2,
            },
        ],
    )
    .expect("series");
    w.finish(0, 101, Compaction::level1(ulid)).expect("finish");
    let (code, v) = verify(&dir, &[]);
    assert_eq!(code, Some(0), "{v:#}");

    let path = dir.join(ulid.to_string()).join("index");
    let mut b = std::fs::read(&path).expect("read");
    let t = toc(&b);
    let start = (t.series as usize).div_ceil(16) * 16;
    let (len, n) = uvarint(&b[start..]).expect("len");
    let body = start + n..start + n + len as usize;
    // labels: count, (name, value) refs; chunks: count, min_t varint, dt, ref, then delta.
    let mut at = body.start;
    let next_u = |at: &mut usize, b: &[u8]| {
        let (v, n) = uvarint(&b[*at..]).expect("uvarint");
        *at += n;
        v
    };
    let nl = next_u(&mut at, &b);
    for _ in 0..nl * 2 {
        next_u(&mut at, &b);
    }
    assert_eq!(next_u(&mut at, &b), 2, "two chunks");
    let (_, n) = varint(&b[at..]).expect("min_t");
    at += n;
    next_u(&mut at, &b);
    next_u(&mut at, &b);
    assert_eq!(b[at], 10, "delta of the second chunk");
    let mut zero = Vec::new();
    put_uvarint(&mut zero, 0);
    b[at] = zero[0];
    let crc = crc32c(&b[body.clone()]);
    b[body.end..body.end + 4].copy_from_slice(&crc.to_be_bytes());
    std::fs::write(&path, &b).expect("write");

    let v = assert_finding(
        &dir,
        &ulid.to_string(),
        "index",
        &["overlaps the previous chunk"],
    );
    let f = v["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| {
            f["problem"]
                .as_str()
                .is_some_and(|p| p.contains("overlaps"))
        })
        .expect("finding");
    assert_eq!(f["series"], labels.to_string());
    assert!(f["offset"].as_u64().is_some());
    // The text report says the same on one line.
    let out = tsdbctl(&["verify", dir.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines().any(|l| l.starts_with("error: block ")
            && l.contains(&ulid.to_string())
            && l.contains("series {__name__=\"m\", job=\"j\"}")
            && l.contains("overlaps the previous chunk")),
        "{text}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("verification failed"));
}

#[test]
fn a_block_written_by_promtool_is_healthy() {
    let Some(bin) = tsdb::testutil::reference_bin_dir() else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let input = tmp.path().join("in.om");
    let mut om = String::from("# TYPE m gauge\n");
    for s in 0..20 {
        for t in 0..200 {
            om.push_str(&format!(
                "m{{s=\"{s}\",job=\"j\"}} {} {}.{:03}\n",
                t * s,
                t * 15,
                s
            ));
        }
    }
    om.push_str("# EOF\n");
    std::fs::write(&input, om).expect("write");
    let out = tmp.path().join("data");
    tsdb::testutil::create_blocks_from_openmetrics(&bin, &input, &out);
    let (code, v) = verify(&out, &[]);
    assert_eq!(code, Some(0), "{v:#}");
    assert_eq!(v["series"], 20);
    assert_eq!(v["samples"], 20 * 200);
}
