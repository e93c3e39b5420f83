//! Writing chunk segment files.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::{DEFAULT_SEGMENT_SIZE, FORMAT_V1, MAGIC, SEGMENT_HEADER_LEN, chunk_ref, segment_name};
use crate::encoding::put_uvarint;
use crate::error::{Error, Result};
use crate::fileutil;

/// The largest segment size: chunk offsets are 32-bit.
const MAX_SEGMENT_SIZE: u64 = u32::MAX as u64;

/// Writes chunks into numbered segment files in one directory.
#[derive(Debug)]
pub struct Writer {
    dir: PathBuf,
    segment_size: u64,
    /// The open segment, its path and the bytes written to it.
    cur: Option<(BufWriter<File>, PathBuf, u64)>,
    /// Segment files created so far.
    segments: usize,
    /// Bytes of chunk records written over all segments.
    bytes: u64,
}

impl Writer {
    /// A writer creating segments of at most [`DEFAULT_SEGMENT_SIZE`] bytes in `dir`
    /// (created if missing).
    pub fn new(dir: &Path) -> Result<Writer> {
        Writer::with_segment_size(dir, DEFAULT_SEGMENT_SIZE)
    }

    /// A writer cutting segments at `segment_size` bytes (a chunk larger than that still
    /// gets a segment of its own). At most `u32::MAX`, since offsets are 32-bit.
    pub fn with_segment_size(dir: &Path, segment_size: u64) -> Result<Writer> {
        if !(SEGMENT_HEADER_LEN as u64..=MAX_SEGMENT_SIZE).contains(&segment_size) {
            return Err(Error::InvalidOptions {
                name: "segment_size",
                reason: format!(
                    "{segment_size} is outside {SEGMENT_HEADER_LEN}..={MAX_SEGMENT_SIZE}"
                ),
            });
        }
        std::fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, e))?;
        Ok(Writer {
            dir: dir.to_path_buf(),
            segment_size,
            cur: None,
            segments: 0,
            bytes: 0,
        })
    }

    /// Appends one chunk and returns its reference.
    pub fn write_chunk(&mut self, encoding: u8, data: &[u8]) -> Result<u64> {
        let mut head = [0u8; 11];
        let head_len = {
            let mut v = Vec::with_capacity(10);
            put_uvarint(&mut v, data.len() as u64);
            head[..v.len()].copy_from_slice(&v);
            head[v.len()] = encoding;
            v.len() + 1
        };
        let record = (head_len + data.len() + 4) as u64;
        let cut = match &self.cur {
            None => true,
            Some((_, _, n)) => *n > SEGMENT_HEADER_LEN as u64 && n + record > self.segment_size,
        };
        if cut {
            self.cut()?;
        }
        let index = self.segments - 1;
        let (w, path, n) = self.cur.as_mut().expect("cut opened a segment");
        let offset = u32::try_from(*n).map_err(|_| {
            Error::corruption(
                &*path,
                *n,
                "chunk offset does not fit 32 bits (segment too large)",
            )
        })?;
        let crc = crc32c::crc32c_append(crc32c::crc32c(&[encoding]), data);
        w.write_all(&head[..head_len])
            .and_then(|()| w.write_all(data))
            .and_then(|()| w.write_all(&crc.to_be_bytes()))
            .map_err(|e| Error::io("write", &*path, e))?;
        *n += record;
        self.bytes += record;
        let index = u32::try_from(index).map_err(|_| Error::InvalidOptions {
            name: "segment_size",
            reason: "more than 2^32 segment files".into(),
        })?;
        Ok(chunk_ref(index, offset))
    }

    /// Closes the current segment (flush, fsync) and opens the next.
    fn cut(&mut self) -> Result<()> {
        self.close_segment()?;
        let path = self.dir.join(segment_name(self.segments));
        let f = File::create(&path).map_err(|e| Error::io("create", &path, e))?;
        let mut w = BufWriter::with_capacity(1 << 20, f);
        let mut header = [0u8; SEGMENT_HEADER_LEN];
        header[..4].copy_from_slice(&MAGIC.to_be_bytes());
        header[4] = FORMAT_V1;
        w.write_all(&header)
            .map_err(|e| Error::io("write", &path, e))?;
        self.cur = Some((w, path, SEGMENT_HEADER_LEN as u64));
        self.segments += 1;
        Ok(())
    }

    fn close_segment(&mut self) -> Result<()> {
        if let Some((w, path, _)) = self.cur.take() {
            let f = w
                .into_inner()
                .map_err(|e| Error::io("write", &path, e.into_error()))?;
            f.sync_all().map_err(|e| Error::io("fsync", &path, e))?;
        }
        Ok(())
    }

    /// The number of segment files created so far.
    pub fn segments(&self) -> usize {
        self.segments
    }

    /// Bytes of chunk records written (without segment headers).
    pub fn bytes_written(&self) -> u64 {
        self.bytes
    }

    /// Flushes and fsyncs the last segment and the directory.
    pub fn finish(mut self) -> Result<()> {
        self.close_segment()?;
        fileutil::fsync_dir(&self.dir)
    }
}
