//! [`Wal`]: appends records to segments as Prometheus's `WL.Log` does.
//!
//! Records are assembled in a 32 KiB page buffer; a page is written to the segment file
//! when it is full and, partially, at the end of every [`Wal::log`] call, so when `log`
//! returns every byte of its records has been handed to the OS with `write(2)` (a killed
//! process loses nothing; a crashed machine may lose what was not fsynced, see
//! [`Wal::sync`]). A partially written page is continued by the next call and rewritten
//! from where the last write stopped, never from its start.
//!
//! After a failed write or fsync the `Wal` refuses all further writes and syncs: the
//! bytes on disk after the last successful fsync are unknown (the kernel may have
//! dropped them), and appending after them could later be repaired away together with
//! acknowledged data. Recovery is a reopen: replay, which repairs the torn tail, then
//! [`Wal::open`], which starts a fresh segment.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::encoding::crc32c;
use crate::error::{Error, Result};
use crate::wal::{
    HEADER_SIZE, KIND_FIRST, KIND_FULL, KIND_LAST, KIND_MIDDLE, PAGE_SIZE, SNAPPY_FLAG, WalMetrics,
    WalOptions, check_sequential, segment_path, segments, sync_dir,
};

/// A fault the tests can inject into the next writes or fsyncs.
#[cfg(test)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// `write(2)` fails.
    Write,
    /// `fsync(2)` fails.
    Sync,
}

/// A single-writer WAL over one directory.
#[derive(Debug)]
pub struct Wal {
    dir: PathBuf,
    opts: WalOptions,
    metrics: WalMetrics,
    file: File,
    /// Index of the active segment.
    segment: u32,
    /// Pages of the active segment written in full.
    done_pages: usize,
    /// The active page; bytes at and after `alloc` are zero.
    page: Box<[u8]>,
    /// Bytes of the page filled.
    alloc: usize,
    /// Bytes of the page already written to the file.
    flushed: usize,
    /// Whether bytes were written to the active segment since its last fsync.
    dirty: bool,
    snappy: snap::raw::Encoder,
    compressed: Vec<u8>,
    /// Why the WAL refuses writes, after a failed write or fsync.
    failed: Option<String>,
    #[cfg(test)]
    pub(crate) fault: Option<Fault>,
}

impl Wal {
    /// Opens the WAL in `dir` (creating the directory if needed) and, like Prometheus,
    /// starts writing in a new segment after the last existing one.
    ///
    /// Replay (and so repair) must run before this: a torn tail left by a crash stays in
    /// the previous segment until [`crate::wal::replay`] cuts it.
    pub fn open(dir: &Path, opts: WalOptions, metrics: WalMetrics) -> Result<Wal> {
        opts.validate()?;
        std::fs::create_dir_all(dir).map_err(|e| Error::io("create dir", dir, e))?;
        let segs = segments(dir)?;
        check_sequential(dir, &segs)?;
        let index = match segs.last() {
            None => 0,
            Some(&last) => last.checked_add(1).ok_or_else(|| Error::Corruption {
                path: dir.to_path_buf(),
                offset: 0,
                reason: "segment numbers exhausted".into(),
            })?,
        };
        let file = create_segment(dir, index)?;
        metrics.segment_current.set(i64::from(index));
        Ok(Wal {
            dir: dir.to_path_buf(),
            opts,
            metrics,
            file,
            segment: index,
            done_pages: 0,
            page: vec![0u8; PAGE_SIZE].into_boxed_slice(),
            alloc: 0,
            flushed: 0,
            dirty: false,
            snappy: snap::raw::Encoder::new(),
            compressed: Vec::new(),
            failed: None,
            #[cfg(test)]
            fault: None,
        })
    }

    /// The WAL directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The options the WAL was opened with.
    pub fn options(&self) -> &WalOptions {
        &self.opts
    }

    /// The WAL's metrics.
    pub fn metrics(&self) -> &WalMetrics {
        &self.metrics
    }

    /// The segment being written.
    pub fn current_segment(&self) -> u32 {
        self.segment
    }

    /// The first and last segment in the directory (the last is the active one).
    pub fn segment_range(&self) -> Result<(u32, u32)> {
        let segs = segments(&self.dir)?;
        let first = segs
            .first()
            .copied()
            .unwrap_or(self.segment)
            .min(self.segment);
        Ok((first, self.segment))
    }

    /// Why the WAL refuses writes, if a write or fsync failed.
    pub fn failure(&self) -> Option<&str> {
        self.failed.as_deref()
    }

    /// Appends `records` in order. When this returns `Ok`, every byte has been written
    /// to the OS (not necessarily fsynced). On error the WAL refuses further writes.
    pub fn log(&mut self, records: &[&[u8]]) -> Result<()> {
        if let Err(e) = self.check_failed() {
            self.metrics.writes_failed_total.inc();
            return Err(e);
        }
        let mut res = Ok(());
        for (i, rec) in records.iter().enumerate() {
            res = self.log_one(rec, i + 1 == records.len());
            if res.is_err() {
                break;
            }
        }
        if let Err(e) = &res {
            self.metrics.writes_failed_total.inc();
            self.fail(e);
        }
        res
    }

    /// Fsyncs the active segment (a no-op when nothing was written since the last one).
    pub fn sync(&mut self) -> Result<()> {
        self.check_failed()?;
        let res = self.sync_segment();
        if let Err(e) = &res {
            self.fail(e);
        }
        res
    }

    /// Closes the active segment (zero-pads its last page and fsyncs it) and starts the
    /// next one; returns the new segment's index.
    pub fn next_segment(&mut self) -> Result<u32> {
        self.check_failed()?;
        let res = self.roll_segment();
        if let Err(e) = &res {
            self.fail(e);
        }
        res
    }

    /// Deletes the segments numbered below `before` (never the active one), oldest
    /// first so that a crash leaves a contiguous range.
    pub fn truncate(&mut self, before: u32) -> Result<()> {
        self.metrics.truncations_total.inc();
        let res = (|| {
            let limit = before.min(self.segment);
            let mut removed = false;
            for s in segments(&self.dir)?.into_iter().take_while(|&s| s < limit) {
                let p = segment_path(&self.dir, s);
                std::fs::remove_file(&p).map_err(|e| Error::io("remove segment", p, e))?;
                removed = true;
            }
            if removed { sync_dir(&self.dir) } else { Ok(()) }
        })();
        if res.is_err() {
            self.metrics.truncations_failed_total.inc();
        }
        res
    }

    /// Zero-pads the last page, fsyncs and closes the active segment.
    pub fn close(mut self) -> Result<()> {
        self.check_failed()?;
        if self.alloc > 0 {
            self.flush_page(true)?;
        }
        self.sync_segment()
    }

    fn check_failed(&self) -> Result<()> {
        match &self.failed {
            None => Ok(()),
            Some(why) => Err(Error::io(
                "write",
                self.segment_path(),
                io::Error::other(format!(
                    "WAL refuses writes after an earlier failure: {why}"
                )),
            )),
        }
    }

    fn fail(&mut self, e: &Error) {
        if self.failed.is_none() {
            tracing::error!(dir = %self.dir.display(), segment = self.segment, err = %e, "WAL write failed; refusing further writes");
            self.failed = Some(e.to_string());
        }
    }

    fn segment_path(&self) -> PathBuf {
        segment_path(&self.dir, self.segment)
    }

    fn page_full(&self) -> bool {
        PAGE_SIZE - self.alloc < HEADER_SIZE
    }

    fn log_one(&mut self, rec: &[u8], last_of_batch: bool) -> Result<()> {
        if self.page_full() {
            self.flush_page(true)?;
        }
        let mut compressed = std::mem::take(&mut self.compressed);
        let use_snappy = self.opts.compression && self.compress(rec, &mut compressed);
        let enc: &[u8] = if use_snappy { &compressed } else { rec };
        if use_snappy {
            self.metrics
                .record_bytes_saved_total
                .inc_by((rec.len() - enc.len()) as u64);
        }
        let res = self.write_fragments(enc, use_snappy, last_of_batch);
        self.compressed = compressed;
        res
    }

    /// Snappy-compresses `rec` into `out`; false if that would not make it smaller.
    fn compress(&mut self, rec: &[u8], out: &mut Vec<u8>) -> bool {
        let max = snap::raw::max_compress_len(rec.len());
        if max == 0 {
            return false; // Too big for snappy.
        }
        out.resize(max, 0);
        match self.snappy.compress(rec, out) {
            Ok(n) if n < rec.len() => {
                out.truncate(n);
                true
            }
            _ => false,
        }
    }

    fn write_fragments(&mut self, mut enc: &[u8], snappy: bool, last_of_batch: bool) -> Result<()> {
        // Never split a record across segments: start a new one if the rest of this
        // one cannot hold it (unless this one is empty: then the record gets an
        // oversized segment of its own).
        let pages_per_segment = (self.opts.segment_size / PAGE_SIZE) as i64;
        let left = (PAGE_SIZE - self.alloc - HEADER_SIZE) as i64
            + (PAGE_SIZE - HEADER_SIZE) as i64 * (pages_per_segment - self.done_pages as i64 - 1);
        if enc.len() as i64 > left && (self.done_pages > 0 || self.alloc > 0) {
            self.roll_segment()?;
        }
        let flag = if snappy { SNAPPY_FLAG } else { 0 };
        let mut first = true;
        loop {
            let room = PAGE_SIZE - self.alloc - HEADER_SIZE;
            let l = enc.len().min(room);
            let (part, rest) = enc.split_at(l);
            let kind = match (first, rest.is_empty()) {
                (true, true) => KIND_FULL,
                (true, false) => KIND_FIRST,
                (false, true) => KIND_LAST,
                (false, false) => KIND_MIDDLE,
            };
            let a = self.alloc;
            let hdr = &mut self.page[a..a + HEADER_SIZE];
            hdr[0] = kind | flag;
            hdr[1..3].copy_from_slice(&(l as u16).to_be_bytes());
            hdr[3..7].copy_from_slice(&crc32c(part).to_be_bytes());
            self.page[a + HEADER_SIZE..a + HEADER_SIZE + l].copy_from_slice(part);
            self.alloc += HEADER_SIZE + l;
            self.metrics.record_part_writes_total.inc();
            self.metrics
                .record_parts_bytes_written_total
                .inc_by((HEADER_SIZE + l) as u64);
            if self.page_full() {
                self.flush_page(true)?;
            }
            enc = rest;
            first = false;
            if enc.is_empty() {
                break;
            }
        }
        if last_of_batch && self.alloc > 0 {
            self.flush_page(false)?;
        }
        Ok(())
    }

    /// Writes the unwritten part of the page; when the page is full or `clear` is set,
    /// writes it up to its end (zero padding) and starts a new page.
    fn flush_page(&mut self, clear: bool) -> Result<()> {
        self.metrics.page_flushes_total.inc();
        let clear = clear || self.page_full();
        if clear {
            self.alloc = PAGE_SIZE;
        }
        let (from, to) = (self.flushed, self.alloc);
        self.write_file(from, to)?;
        self.flushed = to;
        if clear {
            self.page.fill(0);
            self.alloc = 0;
            self.flushed = 0;
            self.done_pages += 1;
            self.metrics.completed_pages_total.inc();
        }
        Ok(())
    }

    fn write_file(&mut self, from: usize, to: usize) -> Result<()> {
        self.dirty = true;
        #[cfg(test)]
        if self.fault == Some(Fault::Write) {
            let e = io::Error::other("injected write failure");
            return Err(Error::io("write", self.segment_path(), e));
        }
        self.file
            .write_all(&self.page[from..to])
            .map_err(|e| Error::io("write", segment_path(&self.dir, self.segment), e))
    }

    fn sync_segment(&mut self) -> Result<()> {
        if !self.dirty {
            return Ok(());
        }
        let start = Instant::now();
        #[cfg(test)]
        let res = if self.fault == Some(Fault::Sync) {
            Err(io::Error::other("injected fsync failure"))
        } else {
            self.file.sync_data()
        };
        #[cfg(not(test))]
        let res = self.file.sync_data();
        self.metrics
            .fsync_duration_seconds
            .observe(start.elapsed().as_secs_f64());
        self.metrics.fsyncs_total.inc();
        res.map_err(|e| Error::io("fsync", self.segment_path(), e))?;
        self.dirty = false;
        Ok(())
    }

    fn roll_segment(&mut self) -> Result<u32> {
        if self.alloc > 0 {
            self.flush_page(true)?;
        }
        self.sync_segment()?;
        let next = self
            .segment
            .checked_add(1)
            .ok_or_else(|| Error::Corruption {
                path: self.dir.clone(),
                offset: 0,
                reason: "segment numbers exhausted".into(),
            })?;
        self.file = create_segment(&self.dir, next)?;
        self.segment = next;
        self.done_pages = 0;
        self.dirty = false;
        self.metrics.segment_current.set(i64::from(next));
        Ok(next)
    }
}

/// Creates segment `index` (which must not exist) and makes its directory entry durable.
fn create_segment(dir: &Path, index: u32) -> Result<File> {
    let p = segment_path(dir, index);
    let f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&p)
        .map_err(|e| Error::io("create segment", &p, e))?;
    sync_dir(dir)?;
    Ok(f)
}
