//! A block's `meta.json` (version 1), written the way Prometheus writes it.
//!
//! Prometheus marshals its `BlockMeta` with `json.MarshalIndent(meta, "", "\t")`: tab
//! indentation, its struct's field order, no trailing newline, and the `omitempty` fields
//! left out when zero. [`BlockMeta::to_json`] produces the same bytes.
//!
//! `stats.numFloatSamples` and `stats.numHistogramSamples` exist only in Prometheus 3.8+.
//! We target 3.5, so our writer never sets them; a meta.json that has them (a 3.8+ block)
//! keeps them when we rewrite it (after a delete), in 3.8's field order.
//! Unknown fields (Thanos's `thanos` section) are ignored when read and not written back.

use std::path::Path;

use serde::{Deserialize, Serialize};
use ulid::Ulid;

use crate::error::{Error, Result};
use crate::fileutil;

/// The file's name inside a block directory.
pub const FILENAME: &str = "meta.json";
/// The only meta.json version.
pub const META_VERSION_1: u32 = 1;
/// The compaction hint of blocks written from out-of-order data.
pub const HINT_FROM_OUT_OF_ORDER: &str = "from-out-of-order";

fn is_zero(v: &u64) -> bool {
    *v == 0
}

fn is_false(v: &bool) -> bool {
    !*v
}

/// A block's metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockMeta {
    /// The block's unique id, also its directory name.
    pub ulid: Ulid,
    /// The first timestamp the block covers, in ms (inclusive).
    #[serde(rename = "minTime")]
    pub min_time: i64,
    /// The end of the time range the block covers, in ms (exclusive).
    #[serde(rename = "maxTime")]
    pub max_time: i64,
    /// Counts of the block's content.
    #[serde(default)]
    pub stats: BlockStats,
    /// Where the block came from.
    #[serde(default)]
    pub compaction: Compaction,
    /// The meta.json format version: always 1.
    #[serde(default)]
    pub version: u32,
}

/// Counts of a block's content; zero counts are omitted from the file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockStats {
    /// Samples in the block.
    #[serde(rename = "numSamples", default, skip_serializing_if = "is_zero")]
    pub num_samples: u64,
    /// Float samples (Prometheus 3.8+; never set by our writer, kept when read).
    #[serde(rename = "numFloatSamples", default, skip_serializing_if = "is_zero")]
    pub num_float_samples: u64,
    /// Histogram samples (Prometheus 3.8+; never set by our writer, kept when read).
    #[serde(
        rename = "numHistogramSamples",
        default,
        skip_serializing_if = "is_zero"
    )]
    pub num_histogram_samples: u64,
    /// Series in the block.
    #[serde(rename = "numSeries", default, skip_serializing_if = "is_zero")]
    pub num_series: u64,
    /// Chunks in the block.
    #[serde(rename = "numChunks", default, skip_serializing_if = "is_zero")]
    pub num_chunks: u64,
    /// Deleted intervals in the block's tombstones.
    #[serde(rename = "numTombstones", default, skip_serializing_if = "is_zero")]
    pub num_tombstones: u64,
}

/// A parent block of a compacted or rewritten block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockDesc {
    /// The parent's id.
    pub ulid: Ulid,
    /// The parent's `minTime`.
    #[serde(rename = "minTime")]
    pub min_time: i64,
    /// The parent's `maxTime`.
    #[serde(rename = "maxTime")]
    pub max_time: i64,
}

/// Compaction bookkeeping of a block.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Compaction {
    /// 1 for a block written from the head; one more than its highest parent when merged.
    #[serde(default)]
    pub level: u32,
    /// The level-1 blocks whose data this block holds, sorted by ULID.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<Ulid>,
    /// Set when compaction produced an empty block that may be deleted.
    #[serde(default, skip_serializing_if = "is_false")]
    pub deletable: bool,
    /// The blocks this one was made from, in input order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parents: Vec<BlockDesc>,
    /// Set after a failed compaction of this block.
    #[serde(default, skip_serializing_if = "is_false")]
    pub failed: bool,
    /// Sorted hints such as [`HINT_FROM_OUT_OF_ORDER`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hints: Vec<String>,
}

impl Compaction {
    /// The bookkeeping of a block written from the head: level 1, its own ULID as source.
    pub fn level1(ulid: Ulid) -> Compaction {
        Compaction {
            level: 1,
            sources: vec![ulid],
            ..Compaction::default()
        }
    }
}

impl BlockMeta {
    /// The file's bytes, as Prometheus writes them (tab-indented, no trailing newline).
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(512);
        let fmt = serde_json::ser::PrettyFormatter::with_indent(b"\t");
        let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
        self.serialize(&mut ser)
            .expect("serializing plain data to a Vec cannot fail");
        out
    }

    /// Parses meta.json bytes; `path` is what errors name. Rejects versions other than 1.
    pub fn from_json(b: &[u8], path: &Path) -> Result<BlockMeta> {
        let meta: BlockMeta = serde_json::from_slice(b).map_err(|e| Error::InvalidMeta {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        if meta.version != META_VERSION_1 {
            return Err(Error::InvalidMeta {
                path: path.to_path_buf(),
                reason: format!("unexpected meta file version {}", meta.version),
            });
        }
        Ok(meta)
    }

    /// Reads `<dir>/meta.json`.
    pub fn read(dir: &Path) -> Result<BlockMeta> {
        let path = dir.join(FILENAME);
        let b = std::fs::read(&path).map_err(|e| Error::io("read", &path, e))?;
        BlockMeta::from_json(&b, &path)
    }

    /// Writes `<dir>/meta.json` atomically (`meta.json.tmp`, fsync, rename, directory
    /// fsync), with `version` set to 1.
    pub fn write(&mut self, dir: &Path) -> Result<()> {
        self.version = META_VERSION_1;
        fileutil::write_atomic(&dir.join(FILENAME), &self.to_json())
    }
}
