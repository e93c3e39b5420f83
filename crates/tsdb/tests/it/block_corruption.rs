//! Damaged blocks: a truncated index, flipped bytes in a chunk file, a truncated chunk
//! file, a broken `meta.json` and a bad TOC CRC each give an error naming the block and the
//! file, never a panic, and an intact block in the same directory still opens and reads.

use std::path::{Path, PathBuf};

use tsdb::block::{Block, BlockMeta};
use tsdb::chunkenc::{SampleIterator, ValueType};
use tsdb::index::postings::IndexReader;
use tsdb::labels::{MatchType, Matcher};
use tsdb::storage::Queryable;

use crate::block_util::{self, TestSeries};
use crate::util::{self, assert_same_samples};

/// Reads every sample of every series, returning the first error.
fn read_all(block: &Block) -> tsdb::Result<usize> {
    let q = block.querier(i64::MIN, i64::MAX)?;
    let all = Matcher::new(MatchType::RegexMatch, "__name__", ".*").expect("matcher");
    let mut n = 0;
    for s in q.select(true, None, &[all])? {
        let s = s?;
        let mut it = s.iterator();
        while it.next() == ValueType::Float {
            n += 1;
        }
        if let Some(e) = it.err() {
            return Err(tsdb::Error::decode("xor chunk", e.to_string()));
        }
    }
    Ok(n)
}

/// Opens and reads a block; the error, if any, rendered.
fn open_and_read(dir: &Path) -> Result<usize, String> {
    Block::open(dir)
        .and_then(|b| read_all(&b))
        .map_err(|e| e.to_string())
}

struct Fixture {
    _tmp: tempfile::TempDir,
    damaged: PathBuf,
    intact: PathBuf,
    intact_series: Vec<TestSeries>,
    ulid: String,
}

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().expect("tempdir");
    let series = block_util::generate(7, 1_700_000_000_000, 60);
    let a = block_util::write_block(tmp.path(), &series[..10]);
    let b = block_util::write_block(tmp.path(), &series[10..]);
    Fixture {
        damaged: tmp.path().join(a.ulid.to_string()),
        intact: tmp.path().join(b.ulid.to_string()),
        intact_series: series[10..].to_vec(),
        ulid: a.ulid.to_string(),
        _tmp: tmp,
    }
}

impl Fixture {
    /// The error names the damaged block and `file`; the intact block still reads.
    #[track_caller]
    fn assert_error(&self, err: Result<usize, String>, file: &str) {
        let msg = err.expect_err("damage must be reported");
        assert!(
            msg.contains(&self.ulid) && msg.contains(file),
            "error should name block {} and {file}: {msg}",
            self.ulid
        );
        let intact = Block::open(&self.intact).expect("the intact block opens");
        assert_same_samples(
            &util::all_samples(&intact),
            &block_util::expected_samples(&self.intact_series),
            "the intact block",
        );
    }
}

#[test]
fn a_truncated_index_is_an_error() {
    let f = fixture();
    let path = f.damaged.join("index");
    let good = std::fs::read(&path).expect("read");
    for cut in [0, 4, good.len() / 2, good.len() - 53, good.len() - 1] {
        std::fs::write(&path, &good[..cut]).expect("truncate");
        f.assert_error(open_and_read(&f.damaged), "index");
    }
}

#[test]
fn a_bad_toc_crc_is_an_error() {
    let f = fixture();
    let path = f.damaged.join("index");
    let mut b = std::fs::read(&path).expect("read");
    let n = b.len();
    b[n - 10] ^= 0x01;
    std::fs::write(&path, &b).expect("write");
    let err = open_and_read(&f.damaged);
    assert!(err.as_ref().is_err_and(|e| e.contains("TOC")), "{err:?}");
    f.assert_error(err, "index");
}

#[test]
fn flipped_bytes_in_a_chunk_file_are_errors() {
    let f = fixture();
    let path = f.damaged.join("chunks").join("000001");
    let good = std::fs::read(&path).expect("read");
    // Every byte after the header belongs to a record (length, encoding, data or CRC).
    for at in (8..good.len()).step_by(37).chain([good.len() - 1]) {
        let mut b = good.clone();
        b[at] ^= 0x10;
        std::fs::write(&path, &b).expect("write");
        f.assert_error(open_and_read(&f.damaged), "000001");
    }
    // A flipped header byte fails the open.
    let mut b = good.clone();
    b[1] ^= 0xff;
    std::fs::write(&path, &b).expect("write");
    f.assert_error(open_and_read(&f.damaged), "000001");
}

#[test]
fn a_truncated_chunk_file_is_an_error() {
    let f = fixture();
    let path = f.damaged.join("chunks").join("000001");
    let good = std::fs::read(&path).expect("read");
    for cut in [0, 5, 9, good.len() / 2, good.len() - 1] {
        std::fs::write(&path, &good[..cut]).expect("truncate");
        f.assert_error(open_and_read(&f.damaged), "000001");
    }
}

#[test]
fn a_broken_meta_json_is_an_error() {
    let f = fixture();
    let path = f.damaged.join("meta.json");
    let good = std::fs::read_to_string(&path).expect("read");
    for bad in [
        "".to_string(),
        "{".to_string(),
        good.replace("\"version\": 1", "\"version\": 2"),
        good.replace("\"minTime\"", "\"minTime\": \"x\", \"other\""),
    ] {
        std::fs::write(&path, bad).expect("write");
        let err = open_and_read(&f.damaged);
        f.assert_error(err, "meta.json");
    }
    std::fs::remove_file(&path).expect("remove");
    f.assert_error(open_and_read(&f.damaged), "meta.json");
}

#[test]
fn a_broken_tombstones_file_is_an_error() {
    let f = fixture();
    std::fs::write(
        f.damaged.join("tombstones"),
        b"\x01\x30\xba\x30\x01\x05\x00\x00\x00\x00",
    )
    .expect("write");
    f.assert_error(open_and_read(&f.damaged), "tombstones");
}

/// Opens a block and reads every series, sample, label name, value and postings list.
fn read_everything(dir: &Path) -> Result<usize, String> {
    let run = || -> tsdb::Result<usize> {
        let b = Block::open(dir)?;
        let mut n = read_all(&b)?;
        let ix = b.index();
        for name in ix.label_names()? {
            for value in ix.label_values(&name)? {
                n += ix.postings(&name, &value)?.len() as usize;
            }
        }
        Ok(n)
    };
    run().map_err(|e| e.to_string())
}

/// Every single-byte change of a small block's index, and every truncation, opens with an
/// error or reads without panicking (most bytes are covered by a CRC; padding is not).
#[test]
fn any_damage_to_an_index_never_panics() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let series = block_util::generate(3, 1_700_000_000_000, 10);
    let meta = block_util::write_block(tmp.path(), &series[..6]);
    let dir = tmp.path().join(meta.ulid.to_string());
    let path = dir.join("index");
    let good = std::fs::read(&path).expect("read");
    let mut errors = 0;
    for at in 0..good.len() {
        let mut b = good.clone();
        b[at] = b[at].wrapping_add(0x5b);
        std::fs::write(&path, &b).expect("write");
        if let Err(e) = read_everything(&dir) {
            assert!(e.contains("index") || e.contains("chunk"), "{e}");
            errors += 1;
        }
    }
    for cut in 0..good.len() {
        std::fs::write(&path, &good[..cut]).expect("write");
        assert!(open_and_read(&dir).is_err(), "truncated at {cut}");
    }
    // Only alignment padding is not covered by a CRC.
    assert!(
        errors > good.len() * 9 / 10,
        "only {errors} of {} changes were noticed",
        good.len()
    );
    assert_eq!(BlockMeta::read(&dir).expect("meta").ulid, meta.ulid);
}
