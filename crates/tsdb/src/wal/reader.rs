//! [`WalReader`]: streams the records of a range of segments, one page in memory at a
//! time, and reports damage as a [`CorruptionError`] (Prometheus's `wlog.Reader`).
//!
//! Each segment is read on its own: a record still open when its segment ends is a torn
//! record (a crash during its write), reported as corruption of that segment at the
//! end of the last intact record, which is where [`crate::wal::repair()`] cuts.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use crate::encoding::crc32c;
use crate::error::{Error, Result};
use crate::wal::{
    CorruptionError, HEADER_SIZE, KIND_FIRST, KIND_FULL, KIND_LAST, KIND_MASK, KIND_MIDDLE,
    KIND_PAGE_TERM, PAGE_SIZE, SNAPPY_FLAG, ZSTD_FLAG, check_sequential, segment_path, segments,
};

/// Where a record starts: its segment and the offset of its first fragment header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct RecordPosition {
    /// The segment number.
    pub segment: u32,
    /// Byte offset of the record's first fragment within the segment.
    pub offset: u64,
}

/// A streaming reader over consecutive segments of one directory.
#[derive(Debug)]
pub struct WalReader {
    dir: PathBuf,
    segs: Vec<u32>,
    next_seg: usize,
    file: Option<File>,
    segment: u32,
    page: Box<[u8]>,
    /// Valid bytes in `page`.
    page_len: usize,
    /// Read position in `page`.
    pos: usize,
    /// Offset of `page` within the segment.
    page_start: u64,
    /// The current segment has no more bytes.
    eof: bool,
    /// End of the last intact record in the current segment.
    good_end: u64,
    /// The record as stored (possibly compressed), assembled from its fragments.
    rec: Vec<u8>,
    /// The decompressed record.
    out: Vec<u8>,
    snappy: snap::raw::Decoder,
    last: RecordPosition,
}

/// Snappy cannot expand data more than ~22 times; a larger claim is corrupt.
const MAX_SNAPPY_RATIO: usize = 32;

impl WalReader {
    /// A reader over the segments of `dir` numbered `first..=last` (open-ended where
    /// `None`). The segments in the range must be consecutive.
    pub fn open(dir: &Path, first: Option<u32>, last: Option<u32>) -> Result<WalReader> {
        let segs: Vec<u32> = segments(dir)?
            .into_iter()
            .filter(|&s| first.is_none_or(|f| s >= f) && last.is_none_or(|l| s <= l))
            .collect();
        check_sequential(dir, &segs)?;
        Ok(WalReader {
            dir: dir.to_path_buf(),
            segs,
            next_seg: 0,
            file: None,
            segment: 0,
            page: vec![0u8; PAGE_SIZE].into_boxed_slice(),
            page_len: 0,
            pos: 0,
            page_start: 0,
            eof: false,
            good_end: 0,
            rec: Vec::new(),
            out: Vec::new(),
            snappy: snap::raw::Decoder::new(),
            last: RecordPosition::default(),
        })
    }

    /// The segments this reader covers.
    pub fn segments(&self) -> &[u32] {
        &self.segs
    }

    /// The directory read.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the record last returned by [`WalReader::next_record`] starts.
    pub fn position(&self) -> RecordPosition {
        self.last
    }

    /// The next record, decompressed; `None` after the last one.
    ///
    /// Damage is returned as [`Error::WalCorruption`]; a zstd-compressed record as
    /// [`Error::Decode`]; I/O failures as [`Error::Io`]. Do not call again after an error.
    pub fn next_record(&mut self) -> Result<Option<&[u8]>> {
        loop {
            if self.file.is_none() {
                let Some(&s) = self.segs.get(self.next_seg) else {
                    return Ok(None);
                };
                self.next_seg += 1;
                let p = segment_path(&self.dir, s);
                self.file = Some(File::open(&p).map_err(|e| Error::io("open segment", p, e))?);
                self.segment = s;
                (self.page_len, self.pos, self.page_start, self.good_end) = (0, 0, 0, 0);
                self.eof = false;
            }
            match self.read_record()? {
                None => self.file = None,
                Some(false) => return Ok(Some(&self.rec)),
                Some(true) => return Ok(Some(&self.out)),
            }
        }
    }

    fn corruption(&self, reason: impl Into<String>) -> Error {
        Error::WalCorruption(CorruptionError {
            dir: self.dir.clone(),
            segment: self.segment,
            offset: self.good_end,
            reason: reason.into(),
        })
    }

    /// Loads the next page of the current segment; false at its end.
    fn load_page(&mut self) -> Result<bool> {
        if self.eof {
            return Ok(false);
        }
        self.page_start += self.page_len as u64;
        let Some(file) = self.file.as_mut() else {
            return Ok(false);
        };
        let mut n = 0;
        while n < PAGE_SIZE {
            match file.read(&mut self.page[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(Error::io(
                        "read segment",
                        segment_path(&self.dir, self.segment),
                        e,
                    ));
                }
            }
        }
        if n < PAGE_SIZE {
            self.eof = true;
        }
        self.page_len = n;
        self.pos = 0;
        Ok(n > 0)
    }

    /// Reads one record of the current segment into `rec` (and `out` when compressed);
    /// `Some(compressed)` on success, `None` at a clean end of the segment.
    fn read_record(&mut self) -> Result<Option<bool>> {
        self.rec.clear();
        let mut in_record = false;
        let mut flags = 0u8;
        let mut start = 0u64;
        loop {
            if self.pos >= self.page_len && !self.load_page()? {
                if in_record {
                    return Err(self.corruption("last record is torn: the segment ends inside it"));
                }
                return Ok(None);
            }
            let pos = self.pos;
            let typ = self.page[pos];
            if typ == KIND_PAGE_TERM {
                // Padding: zeros up to the end of the page (or of a short last page).
                if self.page[pos..self.page_len].iter().any(|&b| b != 0) {
                    return Err(self.corruption("unexpected non-zero byte in padded page"));
                }
                self.pos = self.page_len;
                continue;
            }
            if PAGE_SIZE - pos < HEADER_SIZE {
                return Err(self.corruption(format!(
                    "fragment header at page offset {pos} crosses the page boundary"
                )));
            }
            if self.page_len - pos < HEADER_SIZE {
                return Err(self.corruption("torn fragment header: the segment ends inside it"));
            }
            let kind = typ & KIND_MASK;
            if typ & !(KIND_MASK | SNAPPY_FLAG | ZSTD_FLAG) != 0
                || typ & (SNAPPY_FLAG | ZSTD_FLAG) == SNAPPY_FLAG | ZSTD_FLAG
                || !(KIND_FULL..=KIND_LAST).contains(&kind)
            {
                return Err(self.corruption(format!("invalid fragment type byte {typ:#04x}")));
            }
            let h = &self.page[pos..pos + HEADER_SIZE];
            let len = usize::from(u16::from_be_bytes([h[1], h[2]]));
            let crc = u32::from_be_bytes([h[3], h[4], h[5], h[6]]);
            if HEADER_SIZE + len > PAGE_SIZE - pos {
                return Err(self.corruption(format!("invalid fragment length {len}")));
            }
            if HEADER_SIZE + len > self.page_len - pos {
                return Err(self.corruption("torn fragment: the segment ends inside it"));
            }
            let data = &self.page[pos + HEADER_SIZE..pos + HEADER_SIZE + len];
            let got = crc32c(data);
            if got != crc {
                return Err(
                    self.corruption(format!("unexpected checksum {got:08x}, expected {crc:08x}"))
                );
            }
            let compression = typ & (SNAPPY_FLAG | ZSTD_FLAG);
            match (in_record, kind) {
                (false, KIND_FULL | KIND_FIRST) => {
                    start = self.page_start + pos as u64;
                    flags = compression;
                }
                (true, KIND_MIDDLE | KIND_LAST) if compression == flags => {}
                (true, KIND_MIDDLE | KIND_LAST) => {
                    return Err(self.corruption("compression flag changes within a record"));
                }
                (false, _) => {
                    return Err(self.corruption(format!(
                        "unexpected {} fragment outside a record",
                        kind_name(kind)
                    )));
                }
                (true, _) => {
                    return Err(self.corruption(format!(
                        "unexpected {} fragment inside a record",
                        kind_name(kind)
                    )));
                }
            }
            self.rec.extend_from_slice(data);
            self.pos = pos + HEADER_SIZE + len;
            if kind == KIND_FULL || kind == KIND_LAST {
                break;
            }
            in_record = true;
        }
        let compressed = match flags {
            0 => false,
            SNAPPY_FLAG => {
                self.decompress()?;
                true
            }
            _ => {
                return Err(Error::decode(
                    "wal record",
                    format!(
                        "zstd-compressed record in segment {} of {} at offset {start} is not supported",
                        self.segment,
                        self.dir.display()
                    ),
                ));
            }
        };
        self.good_end = self.page_start + self.pos as u64;
        self.last = RecordPosition {
            segment: self.segment,
            offset: start,
        };
        Ok(Some(compressed))
    }

    fn decompress(&mut self) -> Result<()> {
        let n = match snap::raw::decompress_len(&self.rec) {
            Ok(n) if n <= self.rec.len().saturating_mul(MAX_SNAPPY_RATIO) => n,
            Ok(n) => return Err(self.corruption(format!("snappy: implausible length {n}"))),
            Err(e) => return Err(self.corruption(format!("snappy: {e}"))),
        };
        self.out.resize(n, 0);
        match self.snappy.decompress(&self.rec, &mut self.out) {
            Ok(m) if m == n => Ok(()),
            Ok(m) => Err(self.corruption(format!("snappy: decoded {m} bytes, expected {n}"))),
            Err(e) => Err(self.corruption(format!("snappy: {e}"))),
        }
    }
}

fn kind_name(kind: u8) -> &'static str {
    match kind {
        KIND_FULL => "full",
        KIND_FIRST => "first",
        KIND_MIDDLE => "middle",
        KIND_LAST => "last",
        _ => "invalid",
    }
}
