//! Index structures: postings lists and their set algebra ([`postings`]), and the block
//! `index` file in Prometheus's format v2 ([`Writer`], [`Reader`]).
//!
//! ```text
//! header (magic 0xBAAAD700, version 2) | symbol table | series (16-byte aligned)
//!   | postings lists (4-byte aligned; ("", "") first) | postings offset table | TOC
//! ```
//!
//! Every section is `len (BE u32) | content | CRC32C(content)`, except a series entry
//! (`len uvarint | content | CRC32C`) and the TOC (48 bytes of offsets, then their CRC).
//! A series is referenced by its offset divided by 16 (its "series id"), so ids sorted
//! ascending are series sorted by labels. Like Prometheus 3.7+, the writer omits the
//! legacy label-index and label-offset-table sections; see `docs/format/blocks.md`.

pub mod postings;
pub mod reader;
pub mod writer;

pub use reader::{Reader, SeriesEntry};
pub use writer::Writer;

/// The magic number at the start of an index file.
pub const MAGIC: u32 = 0xBAAA_D700;
/// Index format version 1 (not supported: refs are byte offsets, tables unsorted).
pub const FORMAT_V1: u8 = 1;
/// Index format version 2, the one every Prometheus since 2.x writes.
pub const FORMAT_V2: u8 = 2;
/// Index format version 3: reserved upstream, read like version 2 (as Prometheus 2.55+ does).
pub const FORMAT_V3: u8 = 3;
/// Bytes of the header (magic and version).
pub const HEADER_LEN: usize = 5;
/// Bytes of the TOC at the end of the file (six u64 offsets and a CRC32C).
pub const TOC_LEN: usize = 6 * 8 + 4;
/// Series entries start at multiples of this; a series id is its offset divided by it.
pub const SERIES_ALIGN: u64 = 16;
/// Postings lists start at multiples of this.
pub const POSTINGS_ALIGN: u64 = 4;
/// The file's name inside a block directory.
pub const FILENAME: &str = "index";

/// One chunk of a series as the index stores it: its time range and where it is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeriesChunk {
    /// Timestamp of the chunk's first sample.
    pub min_t: i64,
    /// Timestamp of the chunk's last sample (inclusive).
    pub max_t: i64,
    /// The chunk's reference in the block's segment files.
    pub chunk_ref: u64,
}

/// Why the time ranges `(min_t, max_t)` of a series' chunks may not be written in this
/// order: a chunk ending before it starts, or not starting after the previous one ends.
/// The one rule both the block writer (before writing chunks) and the index writer check;
/// callers name the series.
pub fn chunk_order_error(ranges: impl Iterator<Item = (i64, i64)>) -> Option<String> {
    let mut prev: Option<(i64, i64)> = None;
    for (i, (min_t, max_t)) in ranges.enumerate() {
        if max_t < min_t {
            return Some(format!(
                "chunk {i} ends ({max_t}) before it starts ({min_t})"
            ));
        }
        if let Some((p_min, p_max)) = prev
            && min_t <= p_max
        {
            return Some(format!(
                "chunk {i} [{min_t}, {max_t}] overlaps the previous chunk [{p_min}, {p_max}]"
            ));
        }
        prev = Some((min_t, max_t));
    }
    None
}

/// The table of contents: where each section starts (0 = absent).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Toc {
    /// The symbol table.
    pub symbols: u64,
    /// The first series entry.
    pub series: u64,
    /// Legacy label indices; in 3.7+ files (and ours) just the end of the series section.
    pub label_indices: u64,
    /// Legacy label offset table; in 3.7+ files (and ours) equal to `postings_offset_table`.
    pub label_indices_table: u64,
    /// The first postings list (before alignment padding).
    pub postings: u64,
    /// The postings offset table.
    pub postings_offset_table: u64,
}

impl Toc {
    /// The 52 bytes of the TOC, CRC included.
    pub fn encode(&self) -> [u8; TOC_LEN] {
        let mut b = [0u8; TOC_LEN];
        for (i, v) in [
            self.symbols,
            self.series,
            self.label_indices,
            self.label_indices_table,
            self.postings,
            self.postings_offset_table,
        ]
        .into_iter()
        .enumerate()
        {
            b[i * 8..i * 8 + 8].copy_from_slice(&v.to_be_bytes());
        }
        let crc = crate::encoding::crc32c(&b[..48]);
        b[48..].copy_from_slice(&crc.to_be_bytes());
        b
    }

    /// Decodes a TOC from the last [`TOC_LEN`] bytes of a file; `None` if the CRC is wrong.
    pub fn decode(b: &[u8; TOC_LEN]) -> Option<Toc> {
        let want = u32::from_be_bytes([b[48], b[49], b[50], b[51]]);
        if crate::encoding::crc32c(&b[..48]) != want {
            return None;
        }
        let at = |i: usize| {
            let mut x = [0u8; 8];
            x.copy_from_slice(&b[i * 8..i * 8 + 8]);
            u64::from_be_bytes(x)
        };
        Some(Toc {
            symbols: at(0),
            series: at(1),
            label_indices: at(2),
            label_indices_table: at(3),
            postings: at(4),
            postings_offset_table: at(5),
        })
    }
}

#[cfg(test)]
mod tests;
