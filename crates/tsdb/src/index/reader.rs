//! Reading an index file from a shared byte buffer (an mmap, or bytes fetched from a
//! bucket) without decoding it whole.
//!
//! Opening checks the header, the TOC's CRC, the symbol table's CRC and the postings
//! offset table's CRC, and keeps in memory only what lookups need, as Prometheus's reader
//! does: every 32nd symbol's offset, every label name, and every 32nd value of each name
//! (and its last) with the offset of its postings-offset-table entry. A lookup seeks to
//! the nearest kept entry and decodes at most 32 more. Series entries and postings lists
//! are decoded when asked for, their CRCs checked each time.
//!
//! Every bounds or CRC failure is an [`Error::Corruption`] naming the file and the offset.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use roaring::{MultiOps, RoaringBitmap};

use super::postings::IndexReader;
use super::{
    FORMAT_V1, FORMAT_V2, FORMAT_V3, HEADER_LEN, MAGIC, SERIES_ALIGN, SeriesChunk, TOC_LEN, Toc,
};
use crate::bytes::SharedBytes;
use crate::encoding::{Decbuf, crc32c};
use crate::error::{Error, Result};
use crate::labels::{Label, Labels, Symbol};

/// Keep every this many symbol offsets and postings-offset-table values.
const SAMPLE_EVERY: usize = 32;

/// A series entry: its labels as symbol references and its chunks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeriesEntry {
    /// `(name, value)` symbol references in label order.
    pub labels: Vec<(u32, u32)>,
    /// The chunks, time-ordered.
    pub chunks: Vec<SeriesChunk>,
}

/// Symbols already resolved during one read (a select, a compaction pass), so labels
/// shared by many series are looked up and allocated once and compare by pointer.
///
/// References are positions in the symbol table, so the first 2^20 of them are slots of
/// a vector (one load per lookup, no hashing); rarer higher ones go to a map that is
/// emptied when it holds 2^16 entries.
#[derive(Debug, Default)]
pub struct SymbolCache {
    direct: Vec<Option<Symbol>>,
    map: HashMap<u32, Symbol>,
}

impl SymbolCache {
    /// References below this are cached in the vector (at most 8 MiB of slots).
    const DIRECT: u32 = 1 << 20;
    /// Entries the map keeps at most; it is emptied when full.
    const CAP: usize = 1 << 16;

    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }
}

/// The kept entries of one label name.
#[derive(Debug)]
struct NameOffsets {
    name: Box<str>,
    /// Every 32nd value, and the last, with the file offset of its table entry.
    samples: Vec<(Box<str>, usize)>,
}

/// An open index file.
pub struct Reader {
    bytes: SharedBytes,
    path: PathBuf,
    version: u8,
    toc: Toc,
    /// End of the data (start of the TOC).
    data_end: usize,
    symbol_count: u32,
    /// File offsets of symbols 0, 32, 64, ...
    symbol_samples: Vec<usize>,
    /// The symbol table's entries.
    symbols: Range<usize>,
    /// The postings offset table's entries.
    table: Range<usize>,
    /// Offset of the all-postings list.
    all_postings: u64,
    /// Label names (without the all-postings key `""`), sorted.
    names: Vec<NameOffsets>,
}

impl fmt::Debug for Reader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reader")
            .field("path", &self.path)
            .field("version", &self.version)
            .field("size", &self.b().len())
            .field("symbols", &self.symbol_count)
            .field("label_names", &self.names.len())
            .finish_non_exhaustive()
    }
}

/// One postings-offset-table entry.
struct TableEntry<'a> {
    name: &'a str,
    value: &'a str,
    offset: u64,
    /// Where the next entry starts.
    next: usize,
}

impl Reader {
    /// Opens the index in `bytes`; `path` is what errors name (the file, or a block's
    /// bucket path).
    pub fn new(bytes: SharedBytes, path: impl Into<PathBuf>) -> Result<Reader> {
        let path = path.into();
        let b = (*bytes).as_ref();
        let corrupt = |off: usize, reason: String| Error::corruption(&path, off as u64, reason);
        if b.len() < HEADER_LEN + TOC_LEN {
            return Err(corrupt(
                0,
                format!("{} bytes are too short for an index file", b.len()),
            ));
        }
        let magic = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        if magic != MAGIC {
            return Err(corrupt(0, format!("invalid magic number {magic:#010x}")));
        }
        let version = b[4];
        match version {
            FORMAT_V2 | FORMAT_V3 => {}
            FORMAT_V1 => {
                return Err(corrupt(
                    4,
                    "index format version 1 is not supported (written by Prometheus before 2.0)"
                        .into(),
                ));
            }
            v => return Err(corrupt(4, format!("unknown index format version {v}"))),
        }
        let data_end = b.len() - TOC_LEN;
        let toc_bytes: &[u8; TOC_LEN] = b[data_end..].try_into().expect("TOC_LEN bytes");
        let Some(toc) = Toc::decode(toc_bytes) else {
            return Err(corrupt(data_end, "TOC checksum mismatch".into()));
        };
        let mut r = Reader {
            path: path.clone(),
            version,
            toc,
            data_end,
            symbol_count: 0,
            symbol_samples: Vec::new(),
            symbols: 0..0,
            table: 0..0,
            all_postings: 0,
            names: Vec::new(),
            bytes: std::sync::Arc::clone(&bytes),
        };
        r.read_symbols()?;
        r.read_postings_offset_table()?;
        Ok(r)
    }

    fn b(&self) -> &[u8] {
        (*self.bytes).as_ref()
    }

    fn corrupt(&self, off: usize, reason: impl Into<String>) -> Error {
        Error::corruption(&self.path, off as u64, reason)
    }

    /// The path errors name.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The format version byte (2, or 3 read as 2).
    pub fn version(&self) -> u8 {
        self.version
    }

    /// The table of contents.
    pub fn toc(&self) -> Toc {
        self.toc
    }

    /// The file's size in bytes.
    pub fn size(&self) -> usize {
        self.b().len()
    }

    /// The number of symbols.
    pub fn symbol_count(&self) -> u32 {
        self.symbol_count
    }

    /// Checks the `len | content | CRC32C(content)` frame at `at` and returns the
    /// content's range.
    fn section(&self, at: u64, what: &str) -> Result<Range<usize>> {
        let b = self.b();
        let start = usize::try_from(at)
            .ok()
            .filter(|&s| s >= HEADER_LEN && s.checked_add(4).is_some_and(|e| e <= self.data_end))
            .ok_or_else(|| {
                self.corrupt(at as usize, format!("{what} offset {at} is out of bounds"))
            })?;
        let len = u32::from_be_bytes([b[start], b[start + 1], b[start + 2], b[start + 3]]) as usize;
        let content = start + 4..start + 4 + len;
        if content.end + 4 > self.data_end {
            return Err(self.corrupt(
                start,
                format!("{what} of {len} bytes runs past the end of the data"),
            ));
        }
        let c = content.end;
        let want = u32::from_be_bytes([b[c], b[c + 1], b[c + 2], b[c + 3]]);
        if crc32c(&b[content.clone()]) != want {
            return Err(self.corrupt(start, format!("{what} checksum mismatch")));
        }
        Ok(content)
    }

    fn read_symbols(&mut self) -> Result<()> {
        let content = self.section(self.toc.symbols, "symbol table")?;
        let b = (*self.bytes).as_ref();
        let mut d = Decbuf::new(&b[content.clone()]);
        let count = d.be32();
        let entries_start = content.start + 4;
        // The count is not trusted for the allocation: a symbol takes at least one byte.
        let mut samples =
            Vec::with_capacity((count as usize).min(content.len()) / SAMPLE_EVERY + 1);
        for i in 0..count as usize {
            if i.is_multiple_of(SAMPLE_EVERY) {
                samples.push(content.end - d.len());
            }
            let _ = d.uvarint_str();
            if let Some(e) = d.err() {
                return Err(self.corrupt(content.end - d.len(), format!("symbol {i}: {e}")));
            }
        }
        if d.err().is_some() || !d.is_empty() {
            return Err(self.corrupt(
                content.start,
                format!("symbol table does not hold exactly {count} symbols"),
            ));
        }
        self.symbol_count = count;
        self.symbol_samples = samples;
        self.symbols = entries_start..content.end;
        Ok(())
    }

    /// Decodes the postings-offset-table entry at `at`.
    fn table_entry(&self, at: usize) -> Result<TableEntry<'_>> {
        let b = self.b();
        if at < self.table.start || at >= self.table.end {
            return Err(self.corrupt(at, "postings offset table entry out of bounds"));
        }
        let mut d = Decbuf::new(&b[at..self.table.end]);
        let n = d.uvarint();
        let name = d.uvarint_str();
        let value = d.uvarint_str();
        let offset = d.uvarint();
        if let Some(e) = d.err() {
            return Err(self.corrupt(at, format!("postings offset table entry: {e}")));
        }
        if n != 2 {
            return Err(self.corrupt(
                at,
                format!("postings offset table entry has {n} keys, not 2"),
            ));
        }
        Ok(TableEntry {
            name,
            value,
            offset,
            next: self.table.end - d.len(),
        })
    }

    fn read_postings_offset_table(&mut self) -> Result<()> {
        let content = self.section(self.toc.postings_offset_table, "postings offset table")?;
        let b = (*self.bytes).as_ref();
        let count = u32::from_be_bytes([
            b[content.start],
            b[content.start + 1],
            b[content.start + 2],
            b[content.start + 3],
        ]);
        self.table = content.start + 4..content.end;
        let mut at = self.table.start;
        let mut all = None;
        let mut names: Vec<NameOffsets> = Vec::new();
        // The previous entry (name, value, offset) and its index within its name.
        let mut prev: Option<(&str, &str, usize)> = None;
        let mut idx_in_name = 0usize;
        for i in 0..count {
            let e = self.table_entry(at)?;
            if let Some((pn, pv, _)) = prev
                && (pn, pv) >= (e.name, e.value)
            {
                return Err(self.corrupt(
                    at,
                    format!(
                        "postings offset table is not sorted: {pn:?}={pv:?} before {:?}={:?}",
                        e.name, e.value
                    ),
                ));
            }
            if e.name.is_empty() {
                if !e.value.is_empty() || i != 0 {
                    return Err(
                        self.corrupt(at, "postings offset table entry with an empty label name")
                    );
                }
                all = Some(e.offset);
            } else {
                let new_name = prev.is_none_or(|(pn, _, _)| pn != e.name);
                if new_name {
                    // Keep the previous name's last value.
                    if let (Some((_, pv, pat)), Some(last)) = (prev, names.last_mut())
                        && last.samples.last().is_none_or(|s| s.1 != pat)
                    {
                        last.samples.push((pv.into(), pat));
                    }
                    names.push(NameOffsets {
                        name: e.name.into(),
                        samples: Vec::new(),
                    });
                    idx_in_name = 0;
                }
                if idx_in_name.is_multiple_of(SAMPLE_EVERY) {
                    let last = names.last_mut().expect("pushed above");
                    last.samples.push((e.value.into(), at));
                }
                idx_in_name += 1;
            }
            prev = Some((e.name, e.value, at));
            at = e.next;
        }
        if let (Some((pn, pv, pat)), Some(last)) = (prev, names.last_mut())
            && !pn.is_empty()
            && last.samples.last().is_none_or(|s| s.1 != pat)
        {
            last.samples.push((pv.into(), pat));
        }
        if at != self.table.end {
            return Err(self.corrupt(
                content.start,
                format!("postings offset table does not hold exactly {count} entries"),
            ));
        }
        let Some(all) = all else {
            return Err(self.corrupt(
                content.start,
                "postings offset table lacks the all-postings entry (\"\", \"\")",
            ));
        };
        self.all_postings = all;
        self.names = names;
        Ok(())
    }

    /// The string of symbol reference `r`.
    pub fn symbol(&self, r: u32) -> Result<&str> {
        if r >= self.symbol_count {
            return Err(self.corrupt(
                self.symbols.start,
                format!(
                    "symbol reference {r} is out of range ({} symbols)",
                    self.symbol_count
                ),
            ));
        }
        let r = r as usize;
        let at = self.symbol_samples[r / SAMPLE_EVERY];
        let mut d = Decbuf::new(&self.b()[at..self.symbols.end]);
        for _ in 0..r % SAMPLE_EVERY {
            let n = d.uvarint() as usize;
            d.skip(n);
        }
        let s = d.uvarint_str();
        match d.err() {
            None => Ok(s),
            Some(e) => Err(self.corrupt(at, format!("symbol {r}: {e}"))),
        }
    }

    /// Every symbol in table order (sorted, as the format requires), decoded one at a
    /// time from the file's bytes; nothing is collected. A decode failure is yielded once
    /// as an [`Error::Corruption`] and ends the iteration.
    pub fn symbols(&self) -> Symbols<'_> {
        Symbols {
            reader: self,
            d: Decbuf::new(&self.b()[self.symbols.clone()]),
            left: self.symbol_count,
            index: 0,
        }
    }

    fn symbol_cached(&self, r: u32, cache: &mut SymbolCache) -> Result<Symbol> {
        if r < SymbolCache::DIRECT {
            let i = r as usize;
            if let Some(Some(s)) = cache.direct.get(i) {
                return Ok(s.clone());
            }
            let s = Symbol::new(self.symbol(r)?);
            if cache.direct.len() <= i {
                cache.direct.resize(i + 1, None);
            }
            cache.direct[i] = Some(s.clone());
            return Ok(s);
        }
        if let Some(s) = cache.map.get(&r) {
            return Ok(s.clone());
        }
        let s = Symbol::new(self.symbol(r)?);
        if cache.map.len() >= SymbolCache::CAP {
            cache.map.clear();
        }
        cache.map.insert(r, s.clone());
        Ok(s)
    }

    /// Reads the series with id `id` (its offset divided by 16) into `out`.
    pub fn series_into(&self, id: u32, out: &mut SeriesEntry) -> Result<()> {
        out.labels.clear();
        out.chunks.clear();
        let off = u64::from(id) * SERIES_ALIGN;
        let b = self.b();
        let start = usize::try_from(off)
            .ok()
            .filter(|&s| off >= self.toc.series && s < self.data_end)
            .ok_or_else(|| {
                self.corrupt(
                    off.min(usize::MAX as u64) as usize,
                    format!("series id {id} (offset {off}) is outside the series section"),
                )
            })?;
        let mut d = Decbuf::new(&b[start..self.data_end]);
        let len = d.uvarint();
        if let Some(e) = d.err() {
            return Err(self.corrupt(start, format!("series {id} length: {e}")));
        }
        let body_start = self.data_end - d.len();
        let body_end = usize::try_from(len)
            .ok()
            .and_then(|l| body_start.checked_add(l))
            .filter(|&e| e.checked_add(4).is_some_and(|c| c <= self.data_end))
            .ok_or_else(|| {
                self.corrupt(
                    start,
                    format!("series {id} of {len} bytes runs past the data"),
                )
            })?;
        let body = &b[body_start..body_end];
        let want = u32::from_be_bytes([
            b[body_end],
            b[body_end + 1],
            b[body_end + 2],
            b[body_end + 3],
        ]);
        if crc32c(body) != want {
            return Err(self.corrupt(start, format!("series {id} checksum mismatch")));
        }
        let bad = |reason: String| self.corrupt(start, format!("series {id}: {reason}"));
        let mut d = Decbuf::new(body);
        let nlabels = d.uvarint();
        if nlabels > body.len() as u64 {
            return Err(bad(format!("{nlabels} labels in {} bytes", body.len())));
        }
        out.labels.reserve(nlabels as usize);
        for _ in 0..nlabels {
            let n = d.uvarint();
            let v = d.uvarint();
            let (Ok(n), Ok(v)) = (u32::try_from(n), u32::try_from(v)) else {
                return Err(bad("symbol reference exceeds 32 bits".into()));
            };
            out.labels.push((n, v));
        }
        let nchunks = d.uvarint();
        if nchunks > body.len() as u64 {
            return Err(bad(format!("{nchunks} chunks in {} bytes", body.len())));
        }
        out.chunks.reserve(nchunks as usize);
        let mut prev: Option<SeriesChunk> = None;
        for i in 0..nchunks {
            let (min_t, chunk_ref) = match prev {
                None => {
                    let min_t = d.varint();
                    let dt = d.uvarint();
                    let r = d.uvarint();
                    (Some((min_t, dt)), r)
                }
                Some(p) => {
                    let delta = d.uvarint();
                    let dt = d.uvarint();
                    let dr = d.varint();
                    let min_t = i64::try_from(delta)
                        .ok()
                        .and_then(|x| p.max_t.checked_add(x));
                    (min_t.map(|m| (m, dt)), p.chunk_ref.wrapping_add(dr as u64))
                }
            };
            if let Some(e) = d.err() {
                return Err(bad(format!("chunk {i}: {e}")));
            }
            let Some((min_t, dt)) = min_t else {
                return Err(bad(format!("chunk {i}: time overflows")));
            };
            let Some(max_t) = i64::try_from(dt).ok().and_then(|dt| min_t.checked_add(dt)) else {
                return Err(bad(format!("chunk {i}: time overflows")));
            };
            let c = SeriesChunk {
                min_t,
                max_t,
                chunk_ref,
            };
            out.chunks.push(c);
            prev = Some(c);
        }
        if let Some(e) = d.err() {
            return Err(bad(e.to_string()));
        }
        if !d.is_empty() {
            return Err(bad(format!("{} bytes left after the chunks", d.len())));
        }
        Ok(())
    }

    /// Reads series `id`.
    pub fn series(&self, id: u32) -> Result<SeriesEntry> {
        let mut e = SeriesEntry::default();
        self.series_into(id, &mut e)?;
        Ok(e)
    }

    /// The label set of symbol references `refs` (from [`SeriesEntry::labels`]); checks
    /// that names are sorted and unique and values non-empty.
    pub fn labels(&self, refs: &[(u32, u32)], cache: &mut SymbolCache) -> Result<Labels> {
        let mut out: Vec<Label> = Vec::with_capacity(refs.len());
        for &(n, v) in refs {
            let name = self.symbol_cached(n, cache)?;
            let value = self.symbol_cached(v, cache)?;
            if value.is_empty() || out.last().is_some_and(|l| l.name >= name) {
                return Err(self.corrupt(
                    self.symbols.start,
                    format!("invalid label set: {name:?}={value:?} after {out:?}"),
                ));
            }
            out.push(Label { name, value });
        }
        Ok(Labels::from_sorted(out))
    }

    /// The labels of series `id`.
    pub fn series_labels(&self, id: u32) -> Result<Labels> {
        let e = self.series(id)?;
        self.labels(&e.labels, &mut SymbolCache::new())
    }

    /// Decodes the postings list at `off`.
    pub fn read_postings(&self, off: u64) -> Result<RoaringBitmap> {
        let content = self.section(off, "postings list")?;
        let b = &self.b()[content.clone()];
        let at = content.start - 4;
        if b.len() < 4 {
            return Err(self.corrupt(at, "postings list shorter than its count"));
        }
        let n = u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize;
        if b.len() != 4 + 4 * n {
            return Err(self.corrupt(
                at,
                format!("postings list of {} bytes cannot hold {n} ids", b.len()),
            ));
        }
        let mut prev: Option<u32> = None;
        for w in b[4..].chunks_exact(4) {
            let id = u32::from_be_bytes([w[0], w[1], w[2], w[3]]);
            if prev.is_some_and(|p| p >= id) {
                return Err(self.corrupt(at, "postings list is not strictly ascending"));
            }
            prev = Some(id);
        }
        let ids = b[4..]
            .chunks_exact(4)
            .map(|w| u32::from_be_bytes([w[0], w[1], w[2], w[3]]));
        RoaringBitmap::from_sorted_iter(ids)
            .map_err(|_| self.corrupt(at, "postings list is not sorted"))
    }

    fn name_offsets(&self, name: &str) -> Option<&NameOffsets> {
        self.names
            .binary_search_by(|n| (*n.name).cmp(name))
            .ok()
            .map(|i| &self.names[i])
    }

    /// Calls `f(value, postings offset)` for the values of `name` from the kept sample at
    /// or before `from` onwards, in order, until `f` returns `false` or the name ends.
    fn scan_values(
        &self,
        name: &str,
        from: &str,
        f: &mut dyn FnMut(&str, u64) -> Result<bool>,
    ) -> Result<()> {
        let Some(no) = self.name_offsets(name) else {
            return Ok(());
        };
        let i = no.samples.partition_point(|(v, _)| &**v <= from);
        let Some(&(_, mut at)) = no.samples.get(i.saturating_sub(1)) else {
            return Ok(());
        };
        while at < self.table.end {
            let e = self.table_entry(at)?;
            if e.name != name || !f(e.value, e.offset)? {
                break;
            }
            at = e.next;
        }
        Ok(())
    }

    /// The offset of the postings list of `name="value"`, if the pair exists.
    fn postings_offset(&self, name: &str, value: &str) -> Result<Option<u64>> {
        let mut found = None;
        self.scan_values(name, value, &mut |v, off| {
            Ok(match v.cmp(value) {
                std::cmp::Ordering::Less => true,
                std::cmp::Ordering::Equal => {
                    found = Some(off);
                    false
                }
                std::cmp::Ordering::Greater => false,
            })
        })?;
        Ok(found)
    }

    /// The ids of every series (the all-postings list).
    pub fn all_series(&self) -> Result<RoaringBitmap> {
        self.read_postings(self.all_postings)
    }

    /// Checks the `len | content | CRC32C` section at `at` (bounds and CRC) and returns
    /// its content's byte range; for verification.
    pub fn check_section(&self, at: u64, what: &str) -> Result<Range<usize>> {
        self.section(at, what)
    }

    /// The end of the series section: where the legacy label indices (or, without them,
    /// the postings) start.
    fn series_end(&self) -> usize {
        let end = if self.toc.label_indices > self.toc.series {
            self.toc.label_indices
        } else {
            self.toc.postings
        };
        usize::try_from(end).map_or(self.data_end, |e| e.min(self.data_end))
    }

    /// The ids of the series entries in file order, found by walking the series section
    /// entry by entry (not through the postings), for verification. Each entry's length
    /// must keep it inside the section and the alignment padding between entries must be
    /// zero; a violation is yielded once as an [`Error::Corruption`] and ends the walk.
    /// The entries' CRCs are not checked here ([`Reader::series_into`] does).
    pub fn series_ids_in_file(&self) -> SeriesIds<'_> {
        // The TOC points before the padding that aligns the first entry.
        let start = usize::try_from(self.toc.series).unwrap_or(usize::MAX);
        SeriesIds {
            reader: self,
            at: start,
            end: self.series_end(),
            done: self.toc.series == 0,
            first: true,
        }
    }

    /// Every postings-offset-table entry in table order: `(name, value, postings offset,
    /// entry offset)`; the all-postings key is `("", "")`. A decode failure is yielded once
    /// and ends the iteration.
    pub fn postings_table(&self) -> impl Iterator<Item = Result<(&str, &str, u64, usize)>> + '_ {
        let mut at = self.table.start;
        let mut done = false;
        std::iter::from_fn(move || {
            if done || at >= self.table.end {
                return None;
            }
            match self.table_entry(at) {
                Ok(e) => {
                    let here = at;
                    at = e.next;
                    Some(Ok((e.name, e.value, e.offset, here)))
                }
                Err(e) => {
                    done = true;
                    Some(Err(e))
                }
            }
        })
    }

    /// Checks the legacy label-index sections that Prometheus before 3.7 writes (absent
    /// from our files): the label offset table's bounds and CRC, and those of every label
    /// index it points at. Returns how many label indices were checked.
    pub fn check_legacy_label_indices(&self) -> Result<u64> {
        let t = self.toc.label_indices_table;
        if t == 0 || t == self.toc.postings_offset_table {
            return Ok(0);
        }
        let content = self.section(t, "label offset table")?;
        let b = &self.b()[content.clone()];
        let mut d = Decbuf::new(b);
        let count = d.be32();
        let mut checked = 0;
        for i in 0..count {
            let at = content.end - d.len();
            let n = d.uvarint();
            let mut names = Vec::new();
            for _ in 0..n {
                names.push(d.uvarint_str());
            }
            let off = d.uvarint();
            if let Some(e) = d.err() {
                return Err(self.corrupt(at, format!("label offset table entry {i}: {e}")));
            }
            let names = names.join(",");
            self.section(off, &format!("label index of {names}"))?;
            checked += 1;
        }
        if !d.is_empty() {
            return Err(self.corrupt(
                content.start,
                format!("label offset table does not hold exactly {count} entries"),
            ));
        }
        Ok(checked)
    }
}

/// The series ids of an index in file order; see [`Reader::series_ids_in_file`].
pub struct SeriesIds<'a> {
    reader: &'a Reader,
    at: usize,
    end: usize,
    done: bool,
    /// Whether the padding before the first entry is still to be skipped.
    first: bool,
}

impl fmt::Debug for SeriesIds<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SeriesIds")
            .field("path", &self.reader.path)
            .field("at", &self.at)
            .finish()
    }
}

impl SeriesIds<'_> {
    fn step(&mut self) -> Result<Option<u32>> {
        let r = self.reader;
        let align = SERIES_ALIGN as usize;
        if self.first {
            self.first = false;
            let aligned = self.at.div_ceil(align).saturating_mul(align);
            let b = r.b();
            let pad_end = aligned.min(self.end);
            if let Some(p) = b
                .get(self.at..pad_end)
                .and_then(|pad| pad.iter().position(|&x| x != 0))
            {
                return Err(r.corrupt(self.at + p, "non-zero padding before the first series"));
            }
            self.at = aligned;
        }
        let start = self.at;
        if start >= self.end {
            return Ok(None);
        }
        let b = &r.b()[..self.end];
        let Some((len, n)) = crate::encoding::uvarint(&b[start..]) else {
            return Err(r.corrupt(start, "series entry length is not a valid uvarint"));
        };
        let entry_end = usize::try_from(len)
            .ok()
            .and_then(|l| (start + n).checked_add(l))
            .and_then(|e| e.checked_add(4))
            .filter(|&e| e <= self.end)
            .ok_or_else(|| {
                r.corrupt(
                    start,
                    format!("series entry of {len} bytes runs past the series section"),
                )
            })?;
        let next = entry_end.div_ceil(align) * align;
        let pad_end = next.min(self.end);
        if let Some(p) = b[entry_end..pad_end].iter().position(|&x| x != 0) {
            return Err(r.corrupt(entry_end + p, "non-zero padding after a series entry"));
        }
        let id = u32::try_from(start as u64 / SERIES_ALIGN)
            .map_err(|_| r.corrupt(start, "series offset beyond 2^32 * 16"))?;
        self.at = next;
        Ok(Some(id))
    }
}

impl Iterator for SeriesIds<'_> {
    type Item = Result<u32>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.step() {
            Ok(Some(id)) => Some(Ok(id)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// The symbols of an index in table order; see [`Reader::symbols`].
pub struct Symbols<'a> {
    reader: &'a Reader,
    d: Decbuf<'a>,
    left: u32,
    index: u32,
}

impl fmt::Debug for Symbols<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Symbols")
            .field("path", &self.reader.path)
            .field("index", &self.index)
            .field("left", &self.left)
            .finish()
    }
}

impl<'a> Iterator for Symbols<'a> {
    type Item = Result<&'a str>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        let at = self.reader.symbols.end - self.d.len();
        let s = self.d.uvarint_str();
        if let Some(e) = self.d.err() {
            self.left = 0;
            return Some(Err(self
                .reader
                .corrupt(at, format!("symbol {}: {e}", self.index))));
        }
        self.left -= 1;
        self.index += 1;
        Some(Ok(s))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.left as usize))
    }
}

impl IndexReader for Reader {
    fn label_names(&self) -> Result<Vec<Symbol>> {
        Ok(self.names.iter().map(|n| Symbol::new(&n.name)).collect())
    }

    fn label_values(&self, name: &str) -> Result<Vec<Symbol>> {
        let mut out = Vec::new();
        self.scan_values(name, "", &mut |v, _| {
            out.push(Symbol::new(v));
            Ok(true)
        })?;
        Ok(out)
    }

    fn postings(&self, name: &str, value: &str) -> Result<Cow<'_, RoaringBitmap>> {
        if name.is_empty() && value.is_empty() {
            return self.all_postings();
        }
        Ok(Cow::Owned(match self.postings_offset(name, value)? {
            Some(off) => self.read_postings(off)?,
            None => RoaringBitmap::new(),
        }))
    }

    fn all_postings(&self) -> Result<Cow<'_, RoaringBitmap>> {
        Ok(Cow::Owned(self.all_series()?))
    }

    fn postings_for_label_matching(
        &self,
        name: &str,
        prefix: &str,
        matches: &mut dyn FnMut(&str) -> bool,
    ) -> Result<RoaringBitmap> {
        let mut lists = Vec::new();
        self.scan_values(name, prefix, &mut |v, off| {
            if v < prefix {
                return Ok(true);
            }
            if !v.starts_with(prefix) {
                return Ok(false);
            }
            if matches(v) {
                lists.push(self.read_postings(off)?);
            }
            Ok(true)
        })?;
        Ok(lists.into_iter().union())
    }

    fn label_names_for(&self, postings: &RoaringBitmap) -> Result<Vec<Symbol>> {
        let mut refs = BTreeSet::new();
        let mut e = SeriesEntry::default();
        for id in postings {
            self.series_into(id, &mut e)?;
            refs.extend(e.labels.iter().map(|&(n, _)| n));
        }
        let mut names = refs
            .into_iter()
            .map(|r| self.symbol(r).map(Symbol::new))
            .collect::<Result<Vec<_>>>()?;
        names.sort();
        names.dedup();
        Ok(names)
    }
}
