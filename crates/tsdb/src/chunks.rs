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

mod reader;
mod writer;

use crate::bytes::SharedSlice;

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

#[cfg(test)]
mod tests;
