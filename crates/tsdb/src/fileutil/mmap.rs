//! Read-only maps of whole files: the only place in the crate that calls `mmap`.
//!
//! # Safety invariant
//!
//! Mapping a file is sound only while nobody modifies or truncates it: a concurrent
//! change would alter memory that Rust code holds as `&[u8]` (undefined behaviour) and a
//! truncation would turn reads into `SIGBUS`. The files mapped here are block files
//! (`index`, `chunks/NNNNNN`), which are **never modified in place**: a block is written
//! under `<ulid>.tmp-for-creation/`, fsynced and renamed into place, is replaced only by
//! writing a new block under a new ULID, and is deleted by renaming it away first.
//! Files that do change (`tombstones`, `meta.json`) are rewritten as `*.tmp` and renamed
//! over the old name, which leaves an existing map of the old inode intact; they are read
//! into memory rather than mapped anyway. The bucket block reader's cached indexes
//! (`compactor::bucket_blocks`, `<cache_dir>/<ulid>/index`) keep the same regime: downloaded
//! to `index.tmp`, fsynced, renamed into place, and unlinked rather than rewritten.
//! Callers must only map files under that regime.

use std::fmt;
use std::fs::File;
use std::path::Path;

use crate::error::{Error, Result};

/// A read-only map of a whole file; an empty file maps to an empty slice.
pub struct Mmap {
    map: Option<memmap2::Mmap>,
}

impl Mmap {
    /// Maps all of `path` read-only. See the module documentation for the invariant the
    /// file must keep for as long as the map lives.
    pub fn open(path: &Path) -> Result<Mmap> {
        let file = File::open(path).map_err(|e| Error::io("open", path, e))?;
        let len = file
            .metadata()
            .map_err(|e| Error::io("stat", path, e))?
            .len();
        if len == 0 {
            // mmap(2) refuses a length of zero; an empty file needs no map.
            return Ok(Mmap { map: None });
        }
        // SAFETY: the map is read-only and the file is a block file, which is never
        // modified or truncated in place (module documentation), so the bytes behind the
        // returned slice do not change while the map lives. The descriptor may be closed
        // after mapping; the map keeps its own reference to the file.
        let map = unsafe { memmap2::MmapOptions::new().map(&file) }
            .map_err(|e| Error::io("mmap", path, e))?;
        Ok(Mmap { map: Some(map) })
    }

    /// The file's bytes.
    pub fn as_slice(&self) -> &[u8] {
        self.map.as_deref().unwrap_or_default()
    }

    /// The file's length.
    pub fn len(&self) -> usize {
        self.as_slice().len()
    }

    /// Whether the file is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl AsRef<[u8]> for Mmap {
    fn as_ref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl fmt::Debug for Mmap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Mmap({} bytes)", self.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_files_including_empty_ones() {
        let dir = tempfile::tempdir().expect("tempdir");
        let empty = dir.path().join("empty");
        std::fs::write(&empty, b"").expect("write");
        let m = Mmap::open(&empty).expect("map empty");
        assert!(m.is_empty());
        assert_eq!(m.as_slice(), b"");

        let full = dir.path().join("full");
        std::fs::write(&full, b"hello").expect("write");
        assert_eq!(Mmap::open(&full).expect("map").as_slice(), b"hello");

        let err = Mmap::open(&dir.path().join("missing")).expect_err("missing file");
        assert!(matches!(err, Error::Io { op: "open", .. }), "{err}");
    }
}
