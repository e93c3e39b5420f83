//! Blocks in a data directory as found on disk: their time range, level, samples and
//! sizes (index sections included), for the side-by-side benches' bytes-per-sample rows.
//!
//! Works on any Prometheus-format data directory (ours or Prometheus's): a block is a
//! directory with a 26-character ULID name and a `meta.json`; directories being written
//! (`*.tmp-for-creation`) or half-deleted are skipped. The WAL, `chunks_head/` and other
//! files are not blocks and are never counted.

use std::fs::File;
use std::io::{Read as _, Seek as _, SeekFrom};
use std::path::Path;

use compactor::BlockInfo;
use serde_json::Value;

/// One block directory as found on disk.
#[derive(Debug, Clone)]
pub struct BlockDir {
    /// The directory name.
    pub ulid: String,
    /// `meta.json` `minTime` (ms, inclusive).
    pub min_time: i64,
    /// `meta.json` `maxTime` (ms, exclusive).
    pub max_time: i64,
    /// Compaction level (1: cut from the head).
    pub level: u32,
    /// `stats.numSamples`.
    pub samples: u64,
    /// `stats.numChunks`.
    pub chunks: u64,
    /// Bytes of the `chunks/` segments.
    pub chunk_bytes: u64,
    /// Bytes of the `index` file.
    pub index_bytes: u64,
    /// Bytes of every file in the directory (adds `meta.json` and `tombstones`).
    pub all_bytes: u64,
    /// Index sections by the TOC, in [`SECTIONS`] order.
    pub sections: [u64; 6],
}

/// Names of the index sections, in file order.
pub const SECTIONS: [&str; 6] = [
    "symbols",
    "series",
    "label indices",
    "postings",
    "label offset table",
    "postings offset table",
];

/// Bytes of every file under `dir`.
pub fn dir_bytes(dir: &Path) -> std::io::Result<u64> {
    let mut total = 0;
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let m = e.metadata()?;
        total += if m.is_dir() {
            dir_bytes(&e.path())?
        } else {
            m.len()
        };
    }
    Ok(total)
}

/// The index sections' sizes from the TOC at the end of an index v2 file.
pub fn index_sections(path: &Path) -> std::io::Result<[u64; 6]> {
    const TOC: u64 = 52;
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
    let mut f = File::open(path)?;
    let len = f.metadata()?.len();
    if len < TOC {
        return Err(bad("index shorter than its TOC"));
    }
    f.seek(SeekFrom::Start(len - TOC))?;
    let mut toc = [0u8; TOC as usize];
    f.read_exact(&mut toc)?;
    let at = |i: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&toc[i * 8..i * 8 + 8]);
        u64::from_be_bytes(b)
    };
    // TOC order: symbols, series, label indices, label offset table, postings, postings
    // offset table. File order: symbols, series, label indices, postings, label offset
    // table, postings offset table, TOC. Writers that omit the two label-index sections
    // (Prometheus 3.7+, us) point them at the neighbouring sections, making them empty.
    let (sym, ser, li, lot, post, pot) = (at(0), at(1), at(2), at(3), at(4), at(5));
    if !(sym <= ser && ser <= li && li <= post && post <= lot && lot <= pot && pot <= len - TOC) {
        return Err(bad("index TOC out of order"));
    }
    Ok([
        ser - sym,
        li - ser,
        post - li,
        lot - post,
        pot - lot,
        len - TOC - pot,
    ])
}

/// One block directory, or `None` when it is not a complete block (being written, or
/// being deleted by a compaction while we look).
fn block_dir(path: &Path) -> Option<BlockDir> {
    let name = path.file_name()?.to_str()?;
    if name.len() != 26 {
        return None;
    }
    let text = std::fs::read_to_string(path.join("meta.json")).ok()?;
    let m = serde_json::from_str::<Value>(&text).ok()?;
    let index = path.join("index");
    Some(BlockDir {
        ulid: name.to_string(),
        min_time: m["minTime"].as_i64()?,
        max_time: m["maxTime"].as_i64()?,
        level: u32::try_from(m["compaction"]["level"].as_u64()?).ok()?,
        samples: m["stats"]["numSamples"].as_u64()?,
        chunks: m["stats"]["numChunks"].as_u64()?,
        chunk_bytes: dir_bytes(&path.join("chunks")).ok()?,
        index_bytes: std::fs::metadata(&index).ok()?.len(),
        all_bytes: dir_bytes(path).ok()?,
        sections: index_sections(&index).ok()?,
    })
}

/// The blocks in a data directory, by `minTime` (then ULID). A directory that cannot be
/// read yields no blocks.
pub fn blocks_in(dir: &Path) -> Vec<BlockDir> {
    let mut out: Vec<BlockDir> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| block_dir(&e.path()))
        .collect();
    out.sort_by(|a, b| (a.min_time, &a.ulid).cmp(&(b.min_time, &b.ulid)));
    out
}

/// The planner's view of the blocks.
pub fn block_infos(blocks: &[BlockDir]) -> Vec<BlockInfo> {
    blocks
        .iter()
        .map(|b| BlockInfo {
            level: b.level,
            size_bytes: b.all_bytes,
            ..BlockInfo::new(b.ulid.clone(), b.min_time, b.max_time)
        })
        .collect()
}

/// Totals over a set of blocks.
#[derive(Debug, Default, Clone, Copy)]
pub struct Totals {
    /// Blocks.
    pub blocks: usize,
    /// Samples.
    pub samples: u64,
    /// Chunks.
    pub chunks: u64,
    /// Bytes of `chunks/`.
    pub chunk_bytes: u64,
    /// Bytes of `index`.
    pub index_bytes: u64,
    /// Bytes of every file.
    pub all_bytes: u64,
    /// Index sections, in [`SECTIONS`] order.
    pub sections: [u64; 6],
}

/// Sums `blocks`.
pub fn totals(blocks: &[BlockDir]) -> Totals {
    let mut t = Totals {
        blocks: blocks.len(),
        ..Totals::default()
    };
    for b in blocks {
        t.samples += b.samples;
        t.chunks += b.chunks;
        t.chunk_bytes += b.chunk_bytes;
        t.index_bytes += b.index_bytes;
        t.all_bytes += b.all_bytes;
        for (s, x) in t.sections.iter_mut().zip(b.sections) {
            *s += x;
        }
    }
    t
}
