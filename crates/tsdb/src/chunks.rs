//! Block chunk segment files, `<block>/chunks/000001, 000002, ...`.
//!
//! ```text
//! segment = magic 0x85BD40DD (BE u32) | version 1 (u8) | 3 zero bytes | record*
//! record  = data_len uvarint | encoding u8 | data | CRC32C(encoding, data) (BE u32)
//! ```
//!
//! A chunk is addressed by a reference `segment_index << 32 | offset`, where
//! `segment_index` is the 0-based position of its file among the block's segment files
//! in name order (`000001` is 0) and `offset` is the record's byte offset in that file.
//! The [`Writer`] cuts a new file before a record that would take the current one past
//! its size limit (512 MiB by default); the [`Reader`] maps every file and checks bounds
//! and the CRC of each chunk it returns.
//!
//! [`parse_record`] and [`check_segment_header`] are the one parser of the format, shared
//! by the [`Reader`] and by readers that hold only part of a segment (a bucket-backed
//! block's ranged reads).

mod reader;
mod writer;

use std::ops::Range;
use std::path::Path;

use crate::bytes::SharedSlice;
use crate::encoding::{crc32c, uvarint};
use crate::error::{Error, Result};

pub use reader::Reader;
pub use writer::Writer;

/// The magic number at the start of every segment file.
pub const MAGIC: u32 = 0x85BD_40DD;
/// The only segment format version.
pub const FORMAT_V1: u8 = 1;
/// Bytes of a segment header (magic, version, padding).
pub const SEGMENT_HEADER_LEN: usize = 8;
/// The default maximum size of a segment file (Prometheus's `DefaultChunkSegmentSize`).
pub const DEFAULT_SEGMENT_SIZE: u64 = 512 * 1024 * 1024;
/// The name of the directory holding the segments inside a block.
pub const DIR_NAME: &str = "chunks";

/// The reference of the chunk at `offset` in the segment at `index` (0-based).
pub fn chunk_ref(index: u32, offset: u32) -> u64 {
    (u64::from(index) << 32) | u64::from(offset)
}

/// The segment index and offset of a chunk reference.
pub fn split_ref(r: u64) -> (u32, u32) {
    ((r >> 32) as u32, r as u32)
}

/// The file name of the segment with 0-based index `index` (`000001` for 0).
pub fn segment_name(index: usize) -> String {
    format!("{:06}", index + 1)
}

/// One chunk as stored: its encoding byte and its bytes (an XOR chunk for encoding 1).
#[derive(Debug, Clone)]
pub struct Chunk {
    /// The encoding byte (1 = XOR; see [`crate::chunkenc::Encoding`]).
    pub encoding: u8,
    /// The encoded chunk, sharing the segment's bytes.
    pub data: SharedSlice,
}

/// The most bytes a record's length prefix (a uvarint) takes.
pub const MAX_LEN_PREFIX: usize = 10;

/// The parts of one chunk record, as [`parse_record`] found them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The encoding byte.
    pub encoding: u8,
    /// Where the chunk's bytes are, relative to the start of the record.
    pub data: Range<usize>,
    /// The length of the whole record (length prefix, encoding, data, CRC).
    pub len: usize,
}

/// The length of the whole record starting at `b[0]`, from its length prefix alone, so a
/// reader holding part of a segment knows how many bytes to fetch. `b` must hold at least
/// [`MAX_LEN_PREFIX`] bytes or reach the end of the segment. `path` and `offset` (where
/// `b` starts in the file) are what errors name.
pub fn record_len(b: &[u8], path: &Path, offset: u64) -> Result<u64> {
    let Some((len, n)) = uvarint(b) else {
        return Err(Error::corruption(
            path,
            offset,
            "chunk length is not a valid uvarint",
        ));
    };
    // Prefix, encoding byte, data, CRC; saturating: a huge length is reported as running
    // past the end of the segment by the caller or by [`parse_record`].
    Ok((n as u64)
        .saturating_add(1)
        .saturating_add(len)
        .saturating_add(4))
}

/// Parses and checks (bounds and CRC) the record at the start of `b`, where `b` runs to
/// the end of the segment or at least to the end of the record. `path` and `offset` (where
/// `b` starts in the file) are what errors name.
pub fn parse_record(b: &[u8], path: &Path, offset: u64) -> Result<Record> {
    let corrupt = |reason: String| Error::corruption(path, offset, reason);
    let Some((len, n)) = uvarint(b) else {
        return Err(corrupt("chunk length is not a valid uvarint".into()));
    };
    let data_start = n + 1;
    let end = usize::try_from(len)
        .ok()
        .and_then(|l| data_start.checked_add(l))
        .filter(|&e| e.checked_add(4).is_some_and(|c| c <= b.len()));
    let Some(data_end) = end else {
        return Err(corrupt(format!(
            "chunk of {len} bytes runs past the end of the segment (file size {})",
            offset + b.len() as u64
        )));
    };
    let crc = &b[data_end..data_end + 4];
    let want = u32::from_be_bytes([crc[0], crc[1], crc[2], crc[3]]);
    let got = crc32c(&b[n..data_end]);
    if got != want {
        return Err(corrupt(format!(
            "chunk checksum mismatch: computed {got:#010x}, stored {want:#010x}"
        )));
    }
    Ok(Record {
        encoding: b[n],
        data: data_start..data_end,
        len: data_end + 4,
    })
}

/// Checks a segment's magic number and version in its first bytes (at least
/// [`SEGMENT_HEADER_LEN`] of them, or the whole file when shorter).
pub fn check_segment_header(b: &[u8], path: &Path) -> Result<()> {
    crate::encoding::check_file_header(b, path, MAGIC, SEGMENT_HEADER_LEN, "chunk segment")
}

#[cfg(test)]
mod tests;
