//! `block::verify` on a healthy block (no finding, exact counts) and on random damage
//! (proptest): bit flips and truncations never make it panic, and every one that touches
//! a checked byte (CRC-covered, a length, a header field, padding it checks) is reported
//! as an error naming the block. Also: a read-only head replays a WAL without writing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use proptest::prelude::*;
use tsdb::block::verify::{self, Severity};
use tsdb::block::{Block, BlockMeta};
use tsdb::index;
use tsdb::tombstones::Tombstones;

use crate::block_util;

/// A block with tombstones, written once; its directory and its files' bytes.
struct Base {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    files: Vec<(String, Vec<u8>)>,
    /// Per file, which bytes a flip must be found in.
    checked: Vec<Vec<bool>>,
}

fn base() -> &'static Base {
    static BASE: OnceLock<Base> = OnceLock::new();
    BASE.get_or_init(|| {
        let tmp = tempfile::tempdir().expect("tempdir");
        let series = block_util::generate(3, 1_700_000_000_000, 30);
        let mut meta = block_util::write_block(tmp.path(), &series[..12]);
        let dir = tmp.path().join(meta.ulid.to_string());
        let mut t = Tombstones::new();
        t.add(
            u64::from(first_series(&dir)),
            meta.min_time,
            meta.min_time + 60_000,
        );
        t.write(&dir).expect("tombstones");
        meta.stats.num_tombstones = t.total();
        meta.write(&dir).expect("meta");
        let mut files = Vec::new();
        let mut checked = Vec::new();
        for name in ["index", "chunks/000001", "tombstones", "meta.json"] {
            let b = std::fs::read(dir.join(name)).expect("read");
            checked.push(checked_bytes(&dir, name, &b));
            files.push((name.to_owned(), b));
        }
        Base {
            _tmp: tmp,
            dir,
            files,
            checked,
        }
    })
}

fn first_series(dir: &Path) -> u32 {
    let b = Block::open(dir).expect("open");
    b.index()
        .all_series()
        .expect("all")
        .min()
        .expect("a series")
}

/// Which bytes of a file verification must notice a flip in.
fn checked_bytes(dir: &Path, name: &str, b: &[u8]) -> Vec<bool> {
    let mut c = vec![true; b.len()];
    match name {
        "index" => {
            // The version byte: 2 and 3 are both valid.
            c[4] = false;
            // The alignment padding between postings lists is not checked.
            let block = Block::open(dir).expect("open");
            let ix = block.index();
            let toc = ix.toc();
            let mut lists: Vec<(usize, usize)> = ix
                .postings_table()
                .map(|e| {
                    let (_, _, off, _) = e.expect("entry");
                    let off = off as usize;
                    let len = u32::from_be_bytes(b[off..off + 4].try_into().expect("4")) as usize;
                    (off, off + 4 + len + 4)
                })
                .collect();
            lists.sort();
            let mut at = toc.postings as usize;
            for (s, e) in lists {
                for x in &mut c[at..s] {
                    *x = false;
                }
                at = e;
            }
        }
        "chunks/000001" => {
            // Three padding bytes after magic and version.
            for x in &mut c[5..8] {
                *x = false;
            }
        }
        // meta.json: a flip may leave valid JSON with an ignored key.
        "meta.json" => c.iter_mut().for_each(|x| *x = false),
        _ => {}
    }
    c
}

/// A copy of the base block in a new directory, with `file` replaced by `bytes`.
fn damaged_copy(file: &str, bytes: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let base = base();
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join(base.dir.file_name().expect("name"));
    std::fs::create_dir_all(dir.join("chunks")).expect("mkdir");
    for (name, b) in &base.files {
        let content = if name == file { bytes } else { b };
        std::fs::write(dir.join(name), content).expect("write");
    }
    (tmp, dir)
}

#[test]
fn a_healthy_block_has_no_finding_and_exact_counts() {
    let base = base();
    let meta = BlockMeta::read(&base.dir).expect("meta");
    let mut calls = 0;
    let r = verify::verify_block(&base.dir, &mut |_, _| calls += 1);
    assert!(r.findings.is_empty(), "{:#?}", r.findings);
    assert!(r.is_ok());
    assert!(calls > 0, "progress is reported");
    assert_eq!(r.blocks, 1);
    assert_eq!(r.series, meta.stats.num_series);
    assert_eq!(r.chunks, meta.stats.num_chunks);
    assert_eq!(r.samples, meta.stats.num_samples);
    // Every checked byte set exists (sanity of the property's regions).
    assert!(base.checked[0].iter().filter(|&&x| x).count() > 100);
}

#[test]
fn overlapping_blocks_are_warnings_naming_both() {
    let base = base();
    let a = BlockMeta::read(&base.dir).expect("meta");
    let mut b = a.clone();
    b.ulid = ulid::Ulid::new();
    b.min_time = a.max_time - 10;
    b.max_time = a.max_time + 1000;
    let mut c = a.clone();
    c.ulid = ulid::Ulid::new();
    c.min_time = b.max_time;
    c.max_time = b.max_time + 10;
    let f = verify::overlapping_blocks(Path::new("data"), &[c.clone(), b.clone(), a.clone()]);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].severity, Severity::Warning);
    assert!(
        f[0].problem.contains(&a.ulid.to_string()) && f[0].problem.contains(&b.ulid.to_string()),
        "{}",
        f[0]
    );
}

fn assert_found(dir: &Path, what: &str, must: bool) {
    let r = verify::verify_block(dir, &mut |_, _| {});
    let ulid = base()
        .dir
        .file_name()
        .and_then(|n| n.to_str())
        .map(str::to_owned);
    for f in &r.findings {
        assert_eq!(f.block.map(|u| u.to_string()), ulid, "{f}");
    }
    if must {
        assert!(!r.is_ok(), "{what}: not detected; {:#?}", r.findings);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn bit_flips_never_panic_and_checked_bytes_are_found(
        file in 0usize..4,
        at in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let base = base();
        let (name, b) = &base.files[file];
        let i = at.index(b.len());
        let mut damaged = b.clone();
        damaged[i] ^= 1 << bit;
        let (_tmp, dir) = damaged_copy(name, &damaged);
        assert_found(&dir, &format!("{name}: bit {bit} of byte {i}"), base.checked[file][i]);
    }

    #[test]
    fn truncations_never_panic_and_are_found(
        file in 0usize..4,
        at in any::<prop::sample::Index>(),
    ) {
        let base = base();
        let (name, b) = &base.files[file];
        let cut = at.index(b.len());
        let (_tmp, dir) = damaged_copy(name, &b[..cut]);
        assert_found(&dir, &format!("{name} cut at {cut}"), true);
    }
}

#[test]
fn every_byte_of_the_index_series_section_is_checked() {
    // Exhaustive over the series section: each byte flipped once.
    let base = base();
    let b = &base.files[0].1;
    let toc = index::Toc::decode(b[b.len() - index::TOC_LEN..].try_into().expect("toc"))
        .expect("toc crc");
    for i in toc.series as usize..toc.label_indices as usize {
        let mut d = b.clone();
        d[i] ^= 0x10;
        let (_tmp, dir) = damaged_copy("index", &d);
        assert_found(&dir, &format!("series section byte {i}"), true);
    }
}

#[test]
fn a_read_only_head_replays_the_wal_without_writing() {
    use prometheus_client::registry::Registry;
    use tsdb::labels::Labels;
    use tsdb::storage::Querier;
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("data");
    {
        let db =
            tsdb::Db::open(&dir, tsdb::Options::default(), &mut Registry::default()).expect("open");
        let mut app = db.appender();
        let l = Labels::from_pairs(&[("__name__", "m")]);
        for t in 0..100 {
            app.add(0, &l, t * 1000, t as f64).expect("add");
        }
        app.commit_batch().expect("commit");
        db.close().expect("close");
    }
    // Garbage after the last record: a read-only replay stops there and repairs nothing.
    let wal = dir.join("wal");
    let last = tsdb::wal::segments(&wal)
        .expect("segments")
        .pop()
        .expect("a segment");
    let seg = tsdb::wal::segment_path(&wal, last);
    let mut b = std::fs::read(&seg).expect("read");
    b.extend_from_slice(&[0xff; 40]);
    std::fs::write(&seg, &b).expect("write");
    let before = snapshot(&wal);
    let head = tsdb::Head::open_read_only(
        &wal,
        &tsdb::Options::default(),
        &mut Registry::default(),
        i64::MIN,
    )
    .expect("read-only head");
    let all = tsdb::labels::Matcher::new(tsdb::labels::MatchType::Equal, "__name__", "m")
        .expect("matcher");
    let q = head.querier(i64::MIN, i64::MAX);
    let mut n = 0;
    for s in q.select(true, None, &[all]).expect("select") {
        let s = s.expect("series");
        let mut it = s.iterator();
        while it.next() == tsdb::chunkenc::ValueType::Float {
            n += 1;
        }
    }
    assert_eq!(n, 100);
    drop(head);
    assert_eq!(snapshot(&wal), before, "nothing written");
    assert!(!dir.join("wal-missing").exists());
    let empty = tsdb::Head::open_read_only(
        &dir.join("wal-missing"),
        &tsdb::Options::default(),
        &mut Registry::default(),
        i64::MIN,
    )
    .expect("missing WAL is an empty head");
    assert_eq!(empty.num_series(), 0);
    assert!(!dir.join("wal-missing").exists(), "not created");
}

/// Every file under `dir` with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(p.clone(), std::fs::read(&p).expect("read"));
            }
        }
    }
    out
}
