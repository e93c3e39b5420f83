//! The JSON files of a shipped block: its `meta.json` (read as [`BlockMeta`]), and the
//! deletion mark (`deletion-mark.json`, Thanos's shape).

use std::path::Path;

use serde::{Deserialize, Serialize};
use tsdb::block::BlockMeta;

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

/// Parses the `meta.json` of the block `id` found at `key`, checking that it names `id`.
pub(crate) fn parse_block_meta(id: &str, bytes: &[u8], key: &str) -> Result<BlockMeta> {
    let meta = BlockMeta::from_json(bytes, Path::new(key))?;
    if meta.ulid.to_string() != id {
        return Err(tsdb::Error::InvalidMeta {
            path: key.into(),
            reason: format!("ulid {} differs from the block id {id}", meta.ulid),
        }
        .into());
    }
    Ok(meta)
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
    fn block_meta_must_name_its_block() {
        let json = format!(
            r#"{{"ulid": "{ID}", "minTime": 1, "maxTime": 2, "stats": {{}}, "compaction": {{"level": 1}}, "version": 1}}"#
        );
        let m = parse_block_meta(ID, json.as_bytes(), "k/meta.json").expect("parse");
        assert_eq!((m.min_time, m.max_time, m.compaction.level), (1, 2, 1));
        let other = "01M7Y9CETF5AD0853081K3M7C2";
        let err = parse_block_meta(other, json.as_bytes(), "k/meta.json").expect_err("mismatch");
        let msg = err.to_string();
        assert!(
            msg.contains("differs") && msg.contains("k/meta.json"),
            "{msg}"
        );
        let err = parse_block_meta(ID, &json.as_bytes()[..30], "k/meta.json").expect_err("cut");
        assert_eq!(err.kind(), tsdb::ErrorKind::Internal);
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
