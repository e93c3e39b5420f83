//! A block's `tombstones` file: the deleted time intervals of its series.
//!
//! ```text
//! magic 0x0130BA30 (BE u32) | version 1 (u8) | entry* | CRC32C (BE u32)
//! entry = series_ref uvarint64 | mint varint64 | maxt varint64
//! ```
//!
//! Intervals are closed (`[mint, maxt]`); the entries of one series are merged when read
//! ([`add_interval`]). The CRC covers the entries only (not the version byte), as in
//! Prometheus. A missing file means no tombstones; the file is replaced atomically
//! (`tombstones.tmp`, fsync, rename), never modified in place.

use std::collections::BTreeMap;
use std::path::Path;

use crate::encoding::{Decbuf, crc32c, put_uvarint, put_varint};
use crate::error::{Error, Result};
use crate::fileutil;

/// The file's name inside a block directory.
pub const FILENAME: &str = "tombstones";
/// The magic number at the start of the file.
pub const MAGIC: u32 = 0x0130_BA30;
/// The only format version.
pub const FORMAT_V1: u8 = 1;
/// Magic plus version.
const HEADER_LEN: usize = 5;

/// Adds `[mint, maxt]` to `intervals` (sorted, disjoint), merging it with the intervals it
/// overlaps or touches (Prometheus's `Intervals.Add`), so repeated deletes keep the list short.
pub fn add_interval(intervals: &mut Vec<(i64, i64)>, mint: i64, maxt: i64) {
    let (mut lo, mut hi) = (mint, maxt);
    intervals.retain(|&(a, b)| {
        let touches = a <= hi.saturating_add(1) && lo <= b.saturating_add(1);
        if touches {
            lo = lo.min(a);
            hi = hi.max(b);
        }
        !touches
    });
    let at = intervals.partition_point(|&(a, _)| a < lo);
    intervals.insert(at, (lo, hi));
}

/// The deleted intervals of a block's series, by series reference (the series id in the
/// block's index).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tombstones {
    series: BTreeMap<u64, Vec<(i64, i64)>>,
}

impl Tombstones {
    /// No tombstones.
    pub fn new() -> Tombstones {
        Tombstones::default()
    }

    /// Deletes `[mint, maxt]` of series `series_ref`, merged with its other intervals.
    /// An empty interval (`mint > maxt`) is ignored.
    pub fn add(&mut self, series_ref: u64, mint: i64, maxt: i64) {
        if mint > maxt {
            return;
        }
        add_interval(self.series.entry(series_ref).or_default(), mint, maxt);
    }

    /// The deleted intervals of a series, sorted and disjoint; empty if it has none.
    pub fn get(&self, series_ref: u64) -> &[(i64, i64)] {
        self.series.get(&series_ref).map_or(&[], Vec::as_slice)
    }

    /// Every series with tombstones and its intervals, by series reference.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &[(i64, i64)])> + '_ {
        self.series.iter().map(|(r, iv)| (*r, iv.as_slice()))
    }

    /// The number of intervals over all series (`numTombstones` in `meta.json`).
    pub fn total(&self) -> u64 {
        self.series.values().map(|iv| iv.len() as u64).sum()
    }

    /// Whether nothing is deleted.
    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }

    /// The file's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(HEADER_LEN + 4 + self.total() as usize * 12);
        b.extend_from_slice(&MAGIC.to_be_bytes());
        b.push(FORMAT_V1);
        for (r, ivs) in &self.series {
            for &(mint, maxt) in ivs {
                put_uvarint(&mut b, *r);
                put_varint(&mut b, mint);
                put_varint(&mut b, maxt);
            }
        }
        let crc = crc32c(&b[HEADER_LEN..]);
        b.extend_from_slice(&crc.to_be_bytes());
        b
    }

    /// Decodes a file's bytes; `path` is what errors name.
    pub fn decode(b: &[u8], path: &Path) -> Result<Tombstones> {
        crate::encoding::check_file_header(b, path, MAGIC, HEADER_LEN + 4, "tombstones file")?;
        let crc_at = b.len() - 4;
        let entries = &b[HEADER_LEN..crc_at];
        let want = u32::from_be_bytes([b[crc_at], b[crc_at + 1], b[crc_at + 2], b[crc_at + 3]]);
        if crc32c(entries) != want {
            return Err(Error::corruption(path, crc_at as u64, "checksum mismatch"));
        }
        let mut t = Tombstones::new();
        let mut d = Decbuf::new(entries);
        while !d.is_empty() {
            let at = HEADER_LEN + entries.len() - d.len();
            let r = d.uvarint();
            let mint = d.varint();
            let maxt = d.varint();
            if let Some(e) = d.err() {
                return Err(Error::corruption(path, at as u64, format!("entry: {e}")));
            }
            t.add(r, mint, maxt);
        }
        Ok(t)
    }

    /// Reads `<dir>/tombstones`; a missing file means no tombstones.
    pub fn read(dir: &Path) -> Result<Tombstones> {
        let path = dir.join(FILENAME);
        match std::fs::read(&path) {
            Ok(b) => Tombstones::decode(&b, &path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Tombstones::new()),
            Err(e) => Err(Error::io("read", path, e)),
        }
    }

    /// Writes `<dir>/tombstones` atomically (`tombstones.tmp`, fsync, rename, directory
    /// fsync).
    pub fn write(&self, dir: &Path) -> Result<()> {
        fileutil::write_atomic(&dir.join(FILENAME), &self.encode())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn an_empty_file_is_the_nine_bytes_prometheus_writes() {
        assert_eq!(
            Tombstones::new().encode(),
            [0x01, 0x30, 0xba, 0x30, 0x01, 0x00, 0x00, 0x00, 0x00]
        );
    }

    #[test]
    fn a_missing_file_is_no_tombstones_and_damage_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(Tombstones::read(dir.path()).expect("missing").is_empty());
        let mut t = Tombstones::new();
        t.add(3, 10, 20);
        t.write(dir.path()).expect("write");
        assert_eq!(Tombstones::read(dir.path()).expect("read"), t);
        let path = dir.path().join(FILENAME);
        let mut b = std::fs::read(&path).expect("read");
        let n = b.len();
        b[n - 5] ^= 0x40;
        std::fs::write(&path, &b).expect("write");
        let err = Tombstones::read(dir.path()).expect_err("flipped byte");
        assert!(
            matches!(&err, Error::Corruption { path: p, .. } if p == &path),
            "{err}"
        );
        for cut in 0..b.len() {
            assert!(
                Tombstones::decode(&b[..cut], &path).is_err(),
                "cut at {cut}"
            );
        }
    }

    proptest! {
        #[test]
        fn round_trip_merges_intervals_like_a_model(
            entries in proptest::collection::vec((0u64..20, -50i64..50, 0i64..30), 0..60)
        ) {
            let mut t = Tombstones::new();
            // The model: the set of deleted (series, timestamp) points.
            let mut model = std::collections::BTreeSet::new();
            for &(r, mint, len) in &entries {
                t.add(r, mint, mint + len);
                for ts in mint..=mint + len {
                    model.insert((r, ts));
                }
            }
            let back = Tombstones::decode(&t.encode(), Path::new("t")).expect("decode");
            prop_assert_eq!(&back, &t);
            let mut got = std::collections::BTreeSet::new();
            for (r, ivs) in back.iter() {
                for w in ivs.windows(2) {
                    // Sorted, disjoint and not touching: merged.
                    prop_assert!(w[0].1 + 1 < w[1].0, "{:?}", ivs);
                }
                for &(a, b) in ivs {
                    for ts in a..=b {
                        got.insert((r, ts));
                    }
                }
            }
            prop_assert_eq!(got, model);
        }
    }
}
