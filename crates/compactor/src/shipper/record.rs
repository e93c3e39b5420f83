//! The shipper's local record of uploaded blocks: `<data>/thanos.shipper.json`, in the
//! shape Thanos's shipper uses (`{"version": 1, "uploaded": [ULID, ...]}`).
//!
//! It is replaced atomically (a temporary file, fsync, rename, fsync of the directory), so
//! after a crash it holds either the old or the new list.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tsdb::fileutil::write_atomic;

use crate::error::Result;
use crate::shipper::meta::to_json_tabs;

/// The record's file name in the data directory.
pub const RECORD_FILE: &str = "thanos.shipper.json";

#[derive(Serialize, Deserialize)]
struct RecordJson {
    version: u32,
    uploaded: Vec<String>,
}

/// The set of block ids recorded as uploaded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Record {
    pub(crate) uploaded: BTreeSet<String>,
}

fn record_path(data_dir: &Path) -> PathBuf {
    data_dir.join(RECORD_FILE)
}

impl Record {
    /// Reads the record. A missing file is an empty record; so is one that does not parse
    /// (logged): that only costs a look at the bucket for each local block, because a block
    /// whose `meta.json` is in the bucket is recorded again without being uploaded.
    pub(crate) fn read(data_dir: &Path) -> Result<Record> {
        let path = record_path(data_dir);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Record::default()),
            Err(e) => return Err(tsdb::Error::io("read", &path, e).into()),
        };
        match serde_json::from_slice::<RecordJson>(&bytes) {
            Ok(r) if r.version == 1 => Ok(Record {
                uploaded: r.uploaded.into_iter().collect(),
            }),
            Ok(r) => {
                tracing::warn!(path = %path.display(), version = r.version, "unknown shipper record version; checking the bucket for every block");
                Ok(Record::default())
            }
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "unreadable shipper record; checking the bucket for every block");
                Ok(Record::default())
            }
        }
    }

    /// Replaces the record on disk atomically and durably.
    pub(crate) fn write(&self, data_dir: &Path) -> Result<()> {
        let json = to_json_tabs(&RecordJson {
            version: 1,
            uploaded: self.uploaded.iter().cloned().collect(),
        });
        write_atomic(&record_path(data_dir), &json)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_thanos_shape() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(
            Record::read(dir.path()).expect("missing"),
            Record::default()
        );
        let mut r = Record::default();
        r.uploaded.insert("01M7Y9CETF5AD0853081K3M7C2".into());
        r.uploaded.insert("01M7Y9CETF5AD0853081K3M7C1".into());
        r.write(dir.path()).expect("write");
        let text = std::fs::read_to_string(dir.path().join(RECORD_FILE)).expect("read");
        assert_eq!(
            text,
            "{\n\t\"version\": 1,\n\t\"uploaded\": [\n\t\t\"01M7Y9CETF5AD0853081K3M7C1\",\n\t\t\"01M7Y9CETF5AD0853081K3M7C2\"\n\t]\n}"
        );
        assert_eq!(Record::read(dir.path()).expect("read"), r);
        assert!(!dir.path().join("thanos.shipper.json.tmp").exists());
    }

    #[test]
    fn unreadable_records_count_as_empty() {
        let dir = tempfile::tempdir().expect("tempdir");
        for bad in ["{", "{\"version\": 2, \"uploaded\": [\"x\"]}", "[]"] {
            std::fs::write(dir.path().join(RECORD_FILE), bad).expect("write");
            assert_eq!(
                Record::read(dir.path()).expect(bad),
                Record::default(),
                "{bad}"
            );
        }
    }
}
