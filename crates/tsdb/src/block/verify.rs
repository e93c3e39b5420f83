//! Verifying blocks offline (`tsdbctl verify`): every check the format allows, reported as
//! structured [`Finding`]s instead of stopping at the first error.
//!
//! The checks reuse the readers ([`index::Reader`], [`chunks::Reader`], [`Tombstones`],
//! [`BlockMeta`]), which already check bounds and CRCs; this module walks everything they
//! can reach and adds the cross-checks no reader needs on its hot path:
//!
//! * `meta.json` parses, names the directory's ULID, has `minTime < maxTime`, and its
//!   stats (series, chunks, samples, tombstones) match the content.
//! * `index`: header, TOC, symbol table, postings offset table (checked on open); symbols
//!   strictly increasing; the legacy label indices of pre-3.7 files; the series section
//!   walked entry by entry (bounds, zero padding, CRC of each entry), every series' labels
//!   sorted and unique with valid symbol references, series sorted by labels; the
//!   all-postings list naming exactly the walked series; the postings offset table sorted;
//!   every postings list's CRC, sorted ids naming existing series that carry the list's
//!   label pair, and as many (series, label) pairs in the lists as in the series.
//! * `chunks/`: segment headers; every record of every segment (bounds, CRC); every chunk
//!   a series references (bounds, CRC); a series' chunks ordered by time and not
//!   overlapping; samples decode, with strictly increasing timestamps inside the chunk's
//!   `[min_t, max_t]` and the block's `[minTime, maxTime)`.
//! * `tombstones`: header and CRC; every entry names an existing series.
//!
//! Memory stays bounded: one series entry at a time, the all-postings bitmap, and one
//! postings list at a time. Findings are capped per block ([`MAX_FINDINGS`]).
//!
//! [`overlapping_blocks`] reports blocks whose time ranges overlap: legal after
//! out-of-order ingestion or backfill, so a [`Severity::Warning`].

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use roaring::RoaringBitmap;
use ulid::Ulid;

use super::meta::{self, BlockMeta};
use crate::bytes::SharedBytes;
use crate::chunkenc::{Encoding, SampleIterator, ValueType, XorIterator};
use crate::chunks;
use crate::error::Error;
use crate::fileutil::mmap::Mmap;
use crate::index::reader::SymbolCache;
use crate::index::{self, SeriesEntry};
use crate::labels::Labels;
use crate::tombstones::{self, Tombstones};

/// Findings kept per block; more are counted in [`Report::suppressed`].
pub const MAX_FINDINGS: usize = 1000;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Legal but noteworthy (overlapping blocks, unreferenced chunks).
    Warning,
    /// The block is damaged or violates the format.
    Error,
}

impl Severity {
    /// `"warning"` or `"error"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// One problem found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// How bad it is.
    pub severity: Severity,
    /// The block, when the problem is inside one.
    pub block: Option<Ulid>,
    /// The file (or directory) concerned.
    pub file: PathBuf,
    /// The byte offset in `file`, where known.
    pub offset: Option<u64>,
    /// The labels of the series concerned, where known.
    pub series: Option<String>,
    /// What is wrong.
    pub problem: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.severity.as_str())?;
        if let Some(b) = self.block {
            write!(f, "block {b}: ")?;
        }
        write!(f, "{}", self.file.display())?;
        if let Some(o) = self.offset {
            write!(f, " at offset {o}")?;
        }
        if let Some(s) = &self.series {
            write!(f, ": series {s}")?;
        }
        write!(f, ": {}", self.problem)
    }
}

/// What a verification checked and found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Blocks verified.
    pub blocks: u64,
    /// Series read.
    pub series: u64,
    /// Chunks read.
    pub chunks: u64,
    /// Samples decoded.
    pub samples: u64,
    /// The problems, in the order found.
    pub findings: Vec<Finding>,
    /// Findings left out past [`MAX_FINDINGS`] per block.
    pub suppressed: u64,
}

impl Report {
    /// Whether no finding is an error.
    pub fn is_ok(&self) -> bool {
        self.suppressed == 0 && self.findings.iter().all(|f| f.severity != Severity::Error)
    }

    /// Adds `other`'s counts and findings.
    pub fn merge(&mut self, other: Report) {
        self.blocks += other.blocks;
        self.series += other.series;
        self.chunks += other.chunks;
        self.samples += other.samples;
        self.findings.extend(other.findings);
        self.suppressed += other.suppressed;
    }
}

/// The state of one block's verification.
struct Verifier<'a> {
    dir: &'a Path,
    ulid: Option<Ulid>,
    report: Report,
    kept: usize,
}

impl Verifier<'_> {
    fn push(
        &mut self,
        severity: Severity,
        file: &Path,
        offset: Option<u64>,
        series: Option<&Labels>,
        problem: String,
    ) {
        if self.kept >= MAX_FINDINGS {
            self.report.suppressed += 1;
            return;
        }
        self.kept += 1;
        self.report.findings.push(Finding {
            severity,
            block: self.ulid,
            file: file.to_path_buf(),
            offset,
            series: series.map(ToString::to_string),
            problem,
        });
    }

    fn error(&mut self, file: &Path, offset: Option<u64>, series: Option<&Labels>, p: String) {
        self.push(Severity::Error, file, offset, series, p);
    }

    /// A reader's error as a finding: corruption keeps its file and offset. The same
    /// damage found earlier without a series (by the segment walk) gets the series.
    fn reader_error(&mut self, file: &Path, series: Option<&Labels>, e: Error) {
        if let (
            Some(l),
            Error::Corruption {
                path,
                offset,
                reason,
            },
        ) = (series, &e)
            && let Some(f) = self.report.findings.iter_mut().find(|f| {
                f.series.is_none()
                    && f.file == *path
                    && f.offset == Some(*offset)
                    && f.problem == *reason
            })
        {
            f.series = Some(l.to_string());
            return;
        }
        match e {
            Error::Corruption {
                path,
                offset,
                reason,
            } => self.error(&path, Some(offset), series, reason),
            Error::InvalidMeta { path, reason } => self.error(&path, None, series, reason),
            e => self.error(file, None, series, e.to_string()),
        }
    }
}

/// Verifies the block in `dir`; `progress(done, total)` is called now and then with
/// series counts. Never panics on damaged files; everything wrong is in the report.
pub fn verify_block(dir: &Path, progress: &mut dyn FnMut(u64, u64)) -> Report {
    let ulid = dir
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.parse::<Ulid>().ok());
    let mut v = Verifier {
        dir,
        ulid,
        report: Report {
            blocks: 1,
            ..Report::default()
        },
        kept: 0,
    };
    let meta_path = dir.join(meta::FILENAME);
    let meta = match BlockMeta::read(dir) {
        Ok(m) => {
            if ulid.is_some_and(|u| u != m.ulid) {
                let problem = format!("ULID {} differs from the directory's name", m.ulid);
                v.error(&meta_path, None, None, problem);
            }
            if m.min_time >= m.max_time {
                let problem = format!(
                    "minTime {} is not before maxTime {}",
                    m.min_time, m.max_time
                );
                v.error(&meta_path, None, None, problem);
            }
            Some(m)
        }
        Err(e) => {
            v.reader_error(&meta_path, None, e);
            None
        }
    };
    let tomb_path = dir.join(tombstones::FILENAME);
    let tombstones = match Tombstones::read(dir) {
        Ok(t) => Some(t),
        Err(e) => {
            v.reader_error(&tomb_path, None, e);
            None
        }
    };
    let chunks_dir = dir.join(chunks::DIR_NAME);
    let chunks = match chunks::Reader::open(&chunks_dir) {
        Ok(c) => Some(c),
        Err(e) => {
            v.reader_error(&chunks_dir, None, e);
            None
        }
    };
    let mut records_in_segments = 0u64;
    if let Some(c) = &chunks {
        for seg in 0..c.segments() {
            for r in c.segment_chunks(seg) {
                match r {
                    Ok(_) => records_in_segments += 1,
                    Err(e) => v.reader_error(&chunks_dir, None, e),
                }
            }
        }
    }
    let index_path = dir.join(index::FILENAME);
    let index = Mmap::open(&index_path).and_then(|m| {
        let bytes: SharedBytes = Arc::new(m);
        index::Reader::new(bytes, index_path.clone())
    });
    let index = match index {
        Ok(i) => Some(i),
        Err(e) => {
            v.reader_error(&index_path, None, e);
            None
        }
    };
    let mut counts = Counts::default();
    if let Some(ix) = &index {
        check_index(
            &mut v,
            ix,
            chunks.as_ref(),
            meta.as_ref(),
            &mut counts,
            progress,
        );
        if let (Some(t), Some(all)) = (&tombstones, &counts.all) {
            for (r, _) in t.iter() {
                if u32::try_from(r).map_or(true, |r| !all.contains(r)) {
                    let problem = format!("tombstone for series id {r}, which does not exist");
                    v.error(&tomb_path, None, None, problem);
                }
            }
        }
    }
    v.report.series = counts.series;
    v.report.chunks = counts.chunks;
    v.report.samples = counts.samples;
    if let Some(m) = &meta {
        if index.is_some() && chunks.is_some() && counts.complete {
            let s = &m.stats;
            for (what, stated, found) in [
                ("numSeries", s.num_series, counts.series),
                ("numChunks", s.num_chunks, counts.chunks),
                ("numSamples", s.num_samples, counts.samples),
            ] {
                if stated != found {
                    let problem = format!("stats.{what} is {stated} but the block holds {found}");
                    v.error(&meta_path, None, None, problem);
                }
            }
        }
        if let Some(t) = &tombstones
            && t.total() != m.stats.num_tombstones
        {
            let problem = format!(
                "stats.numTombstones is {} but the tombstones file holds {}",
                m.stats.num_tombstones,
                t.total()
            );
            v.error(&meta_path, None, None, problem);
        }
    }
    if chunks.is_some() && counts.complete && records_in_segments > counts.chunks {
        let problem = format!(
            "{} chunks in the segment files are not referenced by any series",
            records_in_segments - counts.chunks
        );
        v.push(Severity::Warning, &chunks_dir, None, None, problem);
    }
    v.report
}

/// What the index walk counted.
#[derive(Default)]
struct Counts {
    series: u64,
    chunks: u64,
    samples: u64,
    /// Whether every series was read (so the counts can be compared with the meta).
    complete: bool,
    all: Option<RoaringBitmap>,
}

fn check_index(
    v: &mut Verifier<'_>,
    ix: &index::Reader,
    chunks: Option<&chunks::Reader>,
    meta: Option<&BlockMeta>,
    counts: &mut Counts,
    progress: &mut dyn FnMut(u64, u64),
) {
    let path = ix.path().to_path_buf();
    let toc = ix.toc();
    // Symbols: strictly increasing.
    let mut prev: Option<&str> = None;
    for (i, s) in ix.symbols().enumerate() {
        match s {
            Ok(s) => {
                if let Some(p) = prev
                    && p >= s
                {
                    let problem = format!(
                        "symbol table is not sorted and unique: symbol {i} {s:?} follows {p:?}"
                    );
                    v.error(&path, Some(toc.symbols), None, problem);
                }
                prev = Some(s);
            }
            Err(e) => v.reader_error(&path, None, e),
        }
    }
    if let Err(e) = ix.check_legacy_label_indices() {
        v.reader_error(&path, None, e);
    }
    let all = match ix.all_series() {
        Ok(a) => Some(a),
        Err(e) => {
            v.reader_error(&path, None, e);
            None
        }
    };
    let total = all.as_ref().map_or(0, RoaringBitmap::len);
    let mut all_iter = all.as_ref().map(|a| a.iter().peekable());
    let mut cache = SymbolCache::new();
    let mut entry = SeriesEntry::default();
    let mut prev_labels: Option<Labels> = None;
    let mut label_pairs = 0u64;
    let mut complete = true;
    let (block_min, block_max) = meta.map_or((i64::MIN, i64::MAX), |m| (m.min_time, m.max_time));
    for id in ix.series_ids_in_file() {
        let id = match id {
            Ok(id) => id,
            Err(e) => {
                v.reader_error(&path, None, e);
                complete = false;
                break;
            }
        };
        let off = u64::from(id) * index::SERIES_ALIGN;
        counts.series += 1;
        if counts.series.is_multiple_of(1024) {
            progress(counts.series, total);
        }
        // The all-postings list and the walk, both ascending, must name the same ids.
        if let Some(it) = all_iter.as_mut() {
            while let Some(&a) = it.peek()
                && a < id
            {
                it.next();
                let problem =
                    format!("all-postings list names series id {a}, which is no series entry");
                v.error(&path, Some(toc.postings), None, problem);
            }
            if it.peek() == Some(&id) {
                it.next();
            } else {
                let problem =
                    format!("series id {id} (offset {off}) is missing from the all-postings list");
                v.error(&path, Some(off), None, problem);
            }
        }
        if let Err(e) = ix.series_into(id, &mut entry) {
            v.reader_error(&path, None, e);
            complete = false;
            continue;
        }
        let labels = match ix.labels(&entry.labels, &mut cache) {
            Ok(l) => l,
            Err(e) => {
                let reason = match e {
                    Error::Corruption { reason, .. } => reason,
                    e => e.to_string(),
                };
                v.error(&path, Some(off), None, format!("series id {id}: {reason}"));
                complete = false;
                continue;
            }
        };
        if labels.is_empty() {
            v.error(
                &path,
                Some(off),
                None,
                format!("series id {id} has no labels"),
            );
        }
        label_pairs += labels.len() as u64;
        if let Some(p) = &prev_labels
            && *p >= labels
        {
            let problem = format!("series are not sorted by labels: this one follows {p}");
            v.error(&path, Some(off), Some(&labels), problem);
        }
        if let Some(reason) =
            index::chunk_order_error(entry.chunks.iter().map(|c| (c.min_t, c.max_t)))
        {
            v.error(&path, Some(off), Some(&labels), reason);
        }
        for c in &entry.chunks {
            counts.chunks += 1;
            if c.min_t < block_min || c.max_t >= block_max {
                let problem = format!(
                    "chunk {:#x} [{}, {}] lies outside the block's range [{block_min}, {block_max})",
                    c.chunk_ref, c.min_t, c.max_t
                );
                v.error(&path, Some(off), Some(&labels), problem);
            }
            let Some(cr) = chunks else { continue };
            let chunk = match cr.chunk(c.chunk_ref) {
                Ok(ch) => ch,
                Err(e) => {
                    let dir = v.dir;
                    v.reader_error(dir, Some(&labels), e);
                    complete = false;
                    continue;
                }
            };
            let (seg, coff) = chunks::split_ref(c.chunk_ref);
            let seg_path = v
                .dir
                .join(chunks::DIR_NAME)
                .join(chunks::segment_name(seg as usize));
            if chunk.encoding != Encoding::Xor as u8 {
                let problem = format!(
                    "chunk has encoding {}, whose samples this build cannot check",
                    chunk.encoding
                );
                v.push(
                    Severity::Warning,
                    &seg_path,
                    Some(u64::from(coff)),
                    Some(&labels),
                    problem,
                );
                continue;
            }
            let mut it = XorIterator::new(&*chunk.data);
            let mut last: Option<i64> = None;
            let mut n = 0u64;
            while it.next() == ValueType::Float {
                let (t, _) = it.at();
                n += 1;
                let bad = if last.is_some_and(|l| t <= l) {
                    Some(format!(
                        "sample {n} at {t} does not follow the previous one at {}",
                        last.unwrap_or_default()
                    ))
                } else if t < c.min_t || t > c.max_t {
                    Some(format!(
                        "sample at {t} lies outside the chunk's range [{}, {}]",
                        c.min_t, c.max_t
                    ))
                } else if t < block_min || t >= block_max {
                    Some(format!(
                        "sample at {t} lies outside the block's range [{block_min}, {block_max})"
                    ))
                } else {
                    None
                };
                if let Some(problem) = bad {
                    v.error(&seg_path, Some(u64::from(coff)), Some(&labels), problem);
                    break;
                }
                last = Some(t);
            }
            if let Some(e) = it.err() {
                let problem = format!("chunk does not decode: {e}");
                v.error(&seg_path, Some(u64::from(coff)), Some(&labels), problem);
            }
            counts.samples += n;
        }
        prev_labels = Some(labels);
    }
    if let Some(it) = all_iter.as_mut() {
        for a in it {
            let problem =
                format!("all-postings list names series id {a}, which is no series entry");
            v.error(&path, Some(toc.postings), None, problem);
        }
    }
    progress(counts.series, total);
    check_postings(v, ix, all.as_ref(), label_pairs, complete);
    counts.complete = complete;
    counts.all = all;
}

/// The postings offset table sorted, every list naming existing series that carry its
/// label pair, and as many pairs in the lists as labels in the series.
fn check_postings(
    v: &mut Verifier<'_>,
    ix: &index::Reader,
    all: Option<&RoaringBitmap>,
    label_pairs: u64,
    series_complete: bool,
) {
    let path = ix.path().to_path_buf();
    let mut prev: Option<(String, String)> = None;
    let mut in_lists = 0u64;
    let mut complete = series_complete;
    let mut cache = SymbolCache::new();
    let mut entry = SeriesEntry::default();
    for e in ix.postings_table() {
        let (name, value, off, at) = match e {
            Ok(e) => e,
            Err(e) => {
                v.reader_error(&path, None, e);
                complete = false;
                break;
            }
        };
        if let Some((pn, pv)) = &prev
            && (pn.as_str(), pv.as_str()) >= (name, value)
        {
            let problem = format!(
                "postings offset table is not sorted: {name}={value:?} follows {pn}={pv:?}"
            );
            v.error(&path, Some(at as u64), None, problem);
        }
        prev = Some((name.to_owned(), value.to_owned()));
        if name.is_empty() {
            continue;
        }
        let ids = match ix.read_postings(off) {
            Ok(ids) => ids,
            Err(e) => {
                v.reader_error(&path, None, e);
                complete = false;
                continue;
            }
        };
        in_lists += ids.len();
        for id in &ids {
            if all.is_some_and(|a| !a.contains(id)) {
                let problem = format!(
                    "postings list of {name}={value:?} names series id {id}, which does not exist"
                );
                v.error(&path, Some(off), None, problem);
                continue;
            }
            let carries = ix
                .series_into(id, &mut entry)
                .and_then(|()| ix.labels(&entry.labels, &mut cache));
            match carries {
                Ok(l) if l.get(name) == Some(value) => {}
                Ok(l) => {
                    let problem = format!(
                        "postings list of {name}={value:?} names series id {id}, which lacks that label"
                    );
                    v.error(&path, Some(off), Some(&l), problem);
                }
                // Already reported by the series walk.
                Err(_) => complete = false,
            }
        }
    }
    if complete && in_lists != label_pairs {
        let problem = format!(
            "the postings lists hold {in_lists} (series, label) pairs but the series have {label_pairs} labels"
        );
        v.error(&path, Some(ix.toc().postings_offset_table), None, problem);
    }
}

/// Blocks whose `[minTime, maxTime)` overlap, one [`Severity::Warning`] per overlapping
/// pair naming both ULIDs and ranges; `dir` is the data directory (what findings name).
pub fn overlapping_blocks(dir: &Path, metas: &[BlockMeta]) -> Vec<Finding> {
    let mut sorted: Vec<&BlockMeta> = metas.iter().collect();
    sorted.sort_by_key(|m| (m.min_time, m.ulid));
    let mut out = Vec::new();
    for (i, a) in sorted.iter().enumerate() {
        for b in sorted[i + 1..]
            .iter()
            .take_while(|b| b.min_time < a.max_time)
        {
            out.push(Finding {
                severity: Severity::Warning,
                block: Some(b.ulid),
                file: dir.to_path_buf(),
                offset: None,
                series: None,
                problem: format!(
                    "blocks overlap: {} [{}, {}) and {} [{}, {})",
                    a.ulid, a.min_time, a.max_time, b.ulid, b.min_time, b.max_time
                ),
            });
        }
    }
    out
}
