//! The JSON files of a shipped block: the fields of `meta.json` the shipper reads, and the
//! deletion mark (`deletion-mark.json`, Thanos's shape).
//!
//! `tsdb::block::BlockMeta` does not exist yet; until it does, [`BlockMetaSummary`] reads
//! only what listing needs and ignores every other field.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A block's metadata file.
pub const META_FILE: &str = "meta.json";

/// A block's deletion mark (Thanos's name).
pub const DELETION_MARK_FILE: &str = "deletion-mark.json";

/// Whether `s` is a ULID as Prometheus names blocks: 26 characters of Crockford's base32
/// in upper case, the first at most `7` (the 128-bit value fits).
pub fn is_block_id(s: &str) -> bool {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    s.len() == 26 && s.as_bytes()[0] <= b'7' && s.bytes().all(|c| ALPHABET.contains(&c))
}

/// Checks a block id.
pub(crate) fn check_block_id(id: &str) -> Result<()> {
    if is_block_id(id) {
        Ok(())
    } else {
        Err(Error::InvalidBlockId { id: id.to_string() })
    }
}

/// The fields of a block's `meta.json` that listing reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockMetaSummary {
    /// The block's ULID.
    pub ulid: String,
    /// The first timestamp in the block, in ms (inclusive).
    pub min_time: i64,
    /// The end of the block's range, in ms (exclusive).
    pub max_time: i64,
    /// The compaction level (1 for a block cut from the head).
    pub level: u32,
    /// The blocks this one was compacted from (empty for a level-1 block).
    pub parents: Vec<String>,
    /// `stats.numSeries`.
    pub num_series: u64,
    /// `stats.numSamples`.
    pub num_samples: u64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MetaJson {
    ulid: String,
    min_time: i64,
    max_time: i64,
    version: u32,
    #[serde(default)]
    stats: StatsJson,
    #[serde(default)]
    compaction: CompactionJson,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct StatsJson {
    #[serde(default)]
    num_series: u64,
    #[serde(default)]
    num_samples: u64,
}

#[derive(Deserialize, Default)]
struct CompactionJson {
    #[serde(default)]
    level: u32,
    #[serde(default)]
    parents: Vec<ParentJson>,
}

#[derive(Deserialize)]
struct ParentJson {
    ulid: String,
}

impl BlockMetaSummary {
    /// Parses `meta.json` of the block `id`; `location` names it in errors.
    pub fn parse(id: &str, bytes: &[u8], location: &str) -> Result<BlockMetaSummary> {
        let invalid = |reason: String| Error::InvalidJson {
            file: META_FILE,
            location: location.to_string(),
            reason,
        };
        let m: MetaJson = serde_json::from_slice(bytes).map_err(|e| invalid(e.to_string()))?;
        if m.version != 1 {
            return Err(invalid(format!("version {} (want 1)", m.version)));
        }
        if m.ulid != id {
            return Err(invalid(format!(
                "ulid {:?} differs from the block id {id}",
                m.ulid
            )));
        }
        Ok(BlockMetaSummary {
            ulid: m.ulid,
            min_time: m.min_time,
            max_time: m.max_time,
            level: m.compaction.level,
            parents: m.compaction.parents.into_iter().map(|p| p.ulid).collect(),
            num_series: m.stats.num_series,
            num_samples: m.stats.num_samples,
        })
    }
}

/// A block's deletion mark: `<ulid>/deletion-mark.json`, as Thanos writes it. A marked
/// block stays readable until [`crate::shipper::delete_marked`] removes it after a delay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeletionMark {
    /// The block's ULID.
    pub id: String,
    /// When the block was marked, in Unix seconds.
    pub deletion_time: i64,
    /// The mark's format version, 1.
    pub version: u32,
    /// Why the block is deleted (optional).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub details: String,
}

impl DeletionMark {
    /// Parses the deletion mark of the block `id`; `location` names it in errors.
    pub fn parse(id: &str, bytes: &[u8], location: &str) -> Result<DeletionMark> {
        let invalid = |reason: String| Error::InvalidJson {
            file: DELETION_MARK_FILE,
            location: location.to_string(),
            reason,
        };
        let m: DeletionMark = serde_json::from_slice(bytes).map_err(|e| invalid(e.to_string()))?;
        if m.version != 1 {
            return Err(invalid(format!("version {} (want 1)", m.version)));
        }
        if m.id != id {
            return Err(invalid(format!(
                "id {:?} differs from the block id {id}",
                m.id
            )));
        }
        Ok(m)
    }

    /// The mark's JSON, tab-indented as Thanos writes it.
    pub fn to_json(&self) -> Vec<u8> {
        to_json_tabs(self)
    }
}

/// Serializes with tab indentation, the way Prometheus and Thanos write their JSON files.
pub(crate) fn to_json_tabs<T: Serialize>(v: &T) -> Vec<u8> {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(
        &mut out,
        serde_json::ser::PrettyFormatter::with_indent(b"\t"),
    );
    v.serialize(&mut ser)
        .expect("serializing plain structs to memory cannot fail");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "01M7Y9CETF5AD0853081K3M7C1";

    #[test]
    fn block_ids_are_ulids() {
        assert!(is_block_id(ID));
        assert!(is_block_id("7ZZZZZZZZZZZZZZZZZZZZZZZZZ"));
        for bad in [
            "",
            "01M7Y9CETF5AD0853081K3M7C",
            "81M7Y9CETF5AD0853081K3M7C1",
            "01m7y9cetf5ad0853081k3m7c1",
            "01M7Y9CETF5AD0853081K3M7CU",
            "01M7Y9CETF5AD0853081K3M7C1.tmp-for-creation",
            "wal",
        ] {
            assert!(!is_block_id(bad), "{bad}");
        }
    }

    #[test]
    fn meta_fields_are_read_and_others_ignored() {
        let json = format!(
            r#"{{
	"ulid": "{ID}",
	"minTime": 1700000000000,
	"maxTime": 1700004485001,
	"stats": {{"numSamples": 950, "numSeries": 4, "numChunks": 10}},
	"compaction": {{"level": 2, "sources": ["{ID}"], "parents": [{{"ulid": "01M7Y9CETF5AD0853081K3M7C0", "minTime": 0, "maxTime": 1}}]}},
	"thanos": {{"labels": {{}}}},
	"version": 1
}}"#
        );
        let m = BlockMetaSummary::parse(ID, json.as_bytes(), "x").expect("parse");
        assert_eq!(
            m,
            BlockMetaSummary {
                ulid: ID.into(),
                min_time: 1_700_000_000_000,
                max_time: 1_700_004_485_001,
                level: 2,
                parents: vec!["01M7Y9CETF5AD0853081K3M7C0".into()],
                num_series: 4,
                num_samples: 950,
            }
        );
        for (bad, why) in [
            (
                json.replace("\"version\": 1", "\"version\": 2"),
                "version 2",
            ),
            (json.replace(ID, "01M7Y9CETF5AD0853081K3M7C2"), "differs"),
            (json[..40].to_string(), "EOF"),
        ] {
            let err = BlockMetaSummary::parse(ID, bad.as_bytes(), "b/meta.json").expect_err(why);
            let msg = err.to_string();
            assert!(msg.contains(why) && msg.contains("b/meta.json"), "{msg}");
        }
    }

    #[test]
    fn deletion_marks_have_thanos_shape() {
        let m = DeletionMark {
            id: ID.into(),
            deletion_time: 1_700_000_000,
            version: 1,
            details: String::new(),
        };
        let json = String::from_utf8(m.to_json()).expect("utf8");
        assert_eq!(
            json,
            format!(
                "{{\n\t\"id\": \"{ID}\",\n\t\"deletion_time\": 1700000000,\n\t\"version\": 1\n}}"
            )
        );
        assert_eq!(
            DeletionMark::parse(ID, json.as_bytes(), "k").expect("parse"),
            m
        );
        assert!(DeletionMark::parse("01M7Y9CETF5AD0853081K3M7C2", json.as_bytes(), "k").is_err());
    }
}
