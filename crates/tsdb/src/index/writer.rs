//! Writing an index file, streaming: the symbol table first, then series one at a time;
//! only the postings (the series ids of each label pair) stay in memory until [`Writer::finish`].

use std::cell::OnceCell;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use roaring::RoaringBitmap;

use super::{FORMAT_V2, HEADER_LEN, MAGIC, POSTINGS_ALIGN, SERIES_ALIGN, SeriesChunk, Toc};
use crate::encoding::put_uvarint;
use crate::error::{Error, Result};
use crate::head::series::U64Map;
use crate::labels::Labels;

/// The ids of the series with one label pair, in the increasing order they are added. In
/// a large index most pairs belong to a single series (an instance, a pod, a container):
/// their id is held inline, without a bitmap's two allocations.
#[derive(Debug)]
enum Ids {
    One(u32),
    Many(RoaringBitmap),
}

impl Ids {
    fn push(&mut self, id: u32) {
        match self {
            Ids::One(first) => {
                *self = Ids::Many(
                    RoaringBitmap::from_sorted_iter([*first, id]).expect("series ids increase"),
                )
            }
            Ids::Many(ids) => {
                ids.push(id);
            }
        }
    }

    fn len(&self) -> u64 {
        match self {
            Ids::One(_) => 1,
            Ids::Many(ids) => ids.len(),
        }
    }
}

/// Writes one index file.
#[derive(Debug)]
pub struct Writer {
    path: PathBuf,
    w: BufWriter<File>,
    pos: u64,
    /// The symbol table, sorted: a symbol's reference is its position.
    symbols: Vec<Arc<str>>,
    /// Symbol → reference, sharing the strings of `symbols`; built for the first series
    /// added by its strings (a head block's series come with their references).
    symbol_refs: OnceCell<HashMap<Arc<str>, u32>>,
    toc: Toc,
    /// `name ref << 32 | value ref` → series ids. Symbol order is string order, so the
    /// keys sort in the (name, value) order the postings are written in. A hash map: one
    /// lookup per label of every series, where a tree's comparisons were a tenth of
    /// writing a head block.
    postings: U64Map<Ids>,
    all: RoaringBitmap,
    /// The previous series' symbol references, to check the order (symbol order is string
    /// order) and to skip lookups for the strings it shares with the next series.
    last: Option<Vec<(u32, u32)>>,
    last_chunk_ref: u64,
    buf: Vec<u8>,
}

impl Writer {
    /// Creates `path` and writes the header and the symbol table. `symbols` must be sorted
    /// and unique, and hold every label name and value of the series added later.
    pub fn new<S: AsRef<str>>(path: &Path, symbols: impl IntoIterator<Item = S>) -> Result<Writer> {
        let refuse = |reason: String| Error::BlockWriter {
            path: path.to_path_buf(),
            reason,
        };
        let mut table: Vec<Arc<str>> = Vec::new();
        for s in symbols {
            let s = s.as_ref();
            if let Some(prev) = table.last()
                && &**prev >= s
            {
                return Err(refuse(format!(
                    "symbols are not sorted and unique: {prev:?} before {s:?}"
                )));
            }
            table.push(s.into());
        }
        let count = u32::try_from(table.len())
            .map_err(|_| refuse(format!("{} symbols do not fit a u32 count", table.len())))?;
        let f = File::create(path).map_err(|e| Error::io("create", path, e))?;
        let mut w = Writer {
            path: path.to_path_buf(),
            w: BufWriter::with_capacity(1 << 20, f),
            pos: 0,
            symbols: Vec::new(),
            symbol_refs: OnceCell::new(),
            toc: Toc::default(),
            postings: U64Map::default(),
            all: RoaringBitmap::new(),
            last: None,
            last_chunk_ref: 0,
            buf: Vec::with_capacity(256),
        };
        let mut header = [0u8; HEADER_LEN];
        header[..4].copy_from_slice(&MAGIC.to_be_bytes());
        header[4] = FORMAT_V2;
        w.write(&header)?;

        // len | count | (uvarint len, bytes)* | CRC32C(count, entries)
        w.toc.symbols = w.pos;
        let mut content = Vec::with_capacity(4 + table.iter().map(|s| s.len() + 2).sum::<usize>());
        content.extend_from_slice(&count.to_be_bytes());
        for s in &table {
            put_uvarint(&mut content, s.len() as u64);
            content.extend_from_slice(s.as_bytes());
        }
        let len = u32::try_from(content.len()).map_err(|_| {
            refuse(format!(
                "symbol table of {} bytes exceeds 4 GiB",
                content.len()
            ))
        })?;
        let crc = crc32c::crc32c(&content);
        w.write(&len.to_be_bytes())?;
        w.write(&content)?;
        w.write(&crc.to_be_bytes())?;
        w.toc.series = w.pos;
        w.symbols = table;
        Ok(w)
    }

    fn write(&mut self, b: &[u8]) -> Result<()> {
        self.w
            .write_all(b)
            .map_err(|e| Error::io("write", &self.path, e))?;
        self.pos += b.len() as u64;
        Ok(())
    }

    fn pad(&mut self, align: u64) -> Result<()> {
        let n = (align - self.pos % align) % align;
        self.write(&[0u8; 16][..n as usize])
    }

    fn refuse(&self, reason: String) -> Error {
        Error::BlockWriter {
            path: self.path.clone(),
            reason,
        }
    }

    fn symbol_ref(&self, s: &str) -> Result<u32> {
        self.symbol_refs
            .get_or_init(|| {
                self.symbols
                    .iter()
                    .enumerate()
                    .map(|(i, s)| (Arc::clone(s), i as u32))
                    .collect()
            })
            .get(s)
            .copied()
            .ok_or_else(|| self.refuse(format!("symbol {s:?} is not in the symbol table")))
    }

    /// The symbol references of `labels`, reusing the previous series' where it has the
    /// same string at the same position.
    fn label_refs(&self, labels: &Labels) -> Result<Vec<(u32, u32)>> {
        let prev = self.last.as_deref().unwrap_or_default();
        let same = |r: u32, s: &str| *self.symbols[r as usize] == *s;
        let mut refs = Vec::with_capacity(labels.len());
        for (i, l) in labels.iter().enumerate() {
            let (pn, pv) = prev.get(i).copied().unwrap_or((u32::MAX, u32::MAX));
            let n = if pn != u32::MAX && same(pn, &l.name) {
                pn
            } else {
                self.symbol_ref(&l.name)?
            };
            let v = if pv != u32::MAX && same(pv, &l.value) {
                pv
            } else {
                self.symbol_ref(&l.value)?
            };
            refs.push((n, v));
        }
        Ok(refs)
    }

    /// The label set of symbol references (inside the table), as `Labels` formats one,
    /// for messages; invalid sets are shown as they are.
    pub(crate) fn labels_of(&self, refs: &[(u32, u32)]) -> String {
        let pairs: Vec<String> = refs
            .iter()
            .map(|&(n, v)| {
                format!(
                    "{}={:?}",
                    self.symbols[n as usize], &*self.symbols[v as usize]
                )
            })
            .collect();
        format!("{{{}}}", pairs.join(", "))
    }

    /// Adds a series with its chunks (time-ordered, non-overlapping, references never
    /// decreasing). Series must come in strictly increasing label order. Returns the
    /// series id. A refused series leaves nothing behind.
    pub fn add_series(&mut self, labels: &Labels, chunks: &[SeriesChunk]) -> Result<u32> {
        let refs = self.check_labels(labels)?;
        let mut last_ref = self.last_chunk_ref;
        if let Some(reason) = super::chunk_order_error(chunks.iter().map(|c| (c.min_t, c.max_t))) {
            return Err(self.refuse(format!("series {labels}: {reason}")));
        }
        for c in chunks {
            if c.chunk_ref < last_ref {
                return Err(self.refuse(format!(
                    "series {labels}: chunk reference {:#x} is below the previous {last_ref:#x}",
                    c.chunk_ref
                )));
            }
            last_ref = c.chunk_ref;
        }
        self.write_series(refs, chunks)
    }

    /// The symbol references of `labels` if the series may come next: a valid label set,
    /// after the previous series, with every string in the symbol table.
    pub(crate) fn check_labels(&self, labels: &Labels) -> Result<Vec<(u32, u32)>> {
        if labels.is_empty() {
            return Err(self.refuse(format!("invalid label set {labels}")));
        }
        let refs = self.label_refs(labels)?;
        self.check_refs(&refs)?;
        Ok(refs)
    }

    /// Whether a series of these symbol references may come next: a valid label set (names
    /// strictly increasing, no empty value) after the previous series. Symbol order is
    /// string order, so all of it is checked on the references, without the strings.
    pub(crate) fn check_refs(&self, refs: &[(u32, u32)]) -> Result<()> {
        let count = self.symbols.len() as u32;
        if let Some(&(n, v)) = refs.iter().find(|&&(n, v)| n >= count || v >= count) {
            return Err(self.refuse(format!(
                "symbol reference ({n}, {v}) is outside the table of {count} symbols"
            )));
        }
        // The empty string sorts first, so only reference 0 can be it.
        let empty = |r: u32| r == 0 && self.symbols[0].is_empty();
        let valid = !refs.is_empty()
            && refs.windows(2).all(|w| w[0].0 < w[1].0)
            && refs.iter().all(|&(_, v)| !empty(v));
        if !valid {
            return Err(self.refuse(format!("invalid label set {}", self.labels_of(refs))));
        }
        if let Some(prev) = &self.last
            && refs <= prev.as_slice()
        {
            return Err(self.refuse(format!(
                "series out of order: {} after {}",
                self.labels_of(refs),
                self.labels_of(prev)
            )));
        }
        Ok(())
    }

    /// Writes a series whose labels passed [`Writer::check_labels`] (giving `refs`) and
    /// whose chunks are valid.
    pub(crate) fn write_series(
        &mut self,
        refs: Vec<(u32, u32)>,
        chunks: &[SeriesChunk],
    ) -> Result<u32> {
        self.pad(SERIES_ALIGN)?;
        let id = u32::try_from(self.pos / SERIES_ALIGN).map_err(|_| {
            self.refuse("index exceeds 64 GiB: series ids no longer fit 32 bits".into())
        })?;

        let mut body = std::mem::take(&mut self.buf);
        body.clear();
        put_uvarint(&mut body, refs.len() as u64);
        for &(n, v) in &refs {
            put_uvarint(&mut body, u64::from(n));
            put_uvarint(&mut body, u64::from(v));
        }
        put_uvarint(&mut body, chunks.len() as u64);
        if let Some((first, rest)) = chunks.split_first() {
            crate::encoding::put_varint(&mut body, first.min_t);
            put_uvarint(&mut body, first.max_t.wrapping_sub(first.min_t) as u64);
            put_uvarint(&mut body, first.chunk_ref);
            let (mut t0, mut r0) = (first.max_t, first.chunk_ref);
            for c in rest {
                put_uvarint(&mut body, c.min_t.wrapping_sub(t0) as u64);
                put_uvarint(&mut body, c.max_t.wrapping_sub(c.min_t) as u64);
                crate::encoding::put_varint(&mut body, c.chunk_ref.wrapping_sub(r0) as i64);
                t0 = c.max_t;
                r0 = c.chunk_ref;
            }
        }
        let mut len = Vec::with_capacity(5);
        put_uvarint(&mut len, body.len() as u64);
        let crc = crc32c::crc32c(&body);
        self.write(&len)?;
        self.write(&body)?;
        self.write(&crc.to_be_bytes())?;
        self.buf = body;

        for &pair in &refs {
            let key = u64::from(pair.0) << 32 | u64::from(pair.1);
            match self.postings.entry(key) {
                Entry::Occupied(mut ids) => ids.get_mut().push(id),
                Entry::Vacant(slot) => {
                    slot.insert(Ids::One(id));
                }
            }
        }
        self.all.push(id);
        if let Some(c) = chunks.last() {
            self.last_chunk_ref = c.chunk_ref;
        }
        self.last = Some(refs);
        Ok(id)
    }

    /// The number of series added.
    pub fn series(&self) -> u64 {
        self.all.len()
    }

    /// Writes one postings list: `len | n | ids | CRC32C(n, ids)`, 4-byte aligned.
    fn write_postings(&mut self, ids: &Ids) -> Result<u64> {
        self.pad(POSTINGS_ALIGN)?;
        let at = self.pos;
        let n = ids.len();
        let len = u32::try_from(4 + 4 * n)
            .map_err(|_| self.refuse(format!("postings list of {n} series exceeds 4 GiB")))?;
        let mut b = std::mem::take(&mut self.buf);
        b.clear();
        b.reserve(4 * n as usize + 4);
        b.extend_from_slice(&(n as u32).to_be_bytes());
        let mut put = |id: u32| b.extend_from_slice(&id.to_be_bytes());
        match ids {
            Ids::One(id) => put(*id),
            Ids::Many(ids) => ids.iter().for_each(put),
        }
        let crc = crc32c::crc32c(&b);
        self.write(&len.to_be_bytes())?;
        self.write(&b)?;
        self.write(&crc.to_be_bytes())?;
        self.buf = b;
        Ok(at)
    }

    /// Writes the postings, the postings offset table and the TOC, then flushes and
    /// fsyncs the file.
    pub fn finish(mut self) -> Result<()> {
        // No label indices: both legacy fields point where they would have started, as
        // Prometheus 3.7+ writes them.
        self.toc.label_indices = self.pos;
        self.toc.postings = self.pos;
        let all = Ids::Many(std::mem::take(&mut self.all));
        let all_at = self.write_postings(&all)?;
        drop(all);
        let mut postings: Vec<(u64, Ids)> =
            std::mem::take(&mut self.postings).into_iter().collect();
        postings.sort_unstable_by_key(|&(key, _)| key);
        let pair = |key: u64| ((key >> 32) as usize, key as u32 as usize);
        let mut offsets = Vec::with_capacity(postings.len());
        for (_, ids) in &postings {
            offsets.push(self.write_postings(ids)?);
        }

        self.toc.label_indices_table = self.pos;
        self.toc.postings_offset_table = self.pos;
        // len | count | (2, name, value, offset)* | CRC32C(count, entries)
        let count = u32::try_from(postings.len() + 1)
            .map_err(|_| self.refuse("more than 2^32 label pairs".into()))?;
        let entry = |b: &mut Vec<u8>, name: &str, value: &str, off: u64| {
            put_uvarint(b, 2);
            put_uvarint(b, name.len() as u64);
            b.extend_from_slice(name.as_bytes());
            put_uvarint(b, value.len() as u64);
            b.extend_from_slice(value.as_bytes());
            put_uvarint(b, off);
        };
        let mut b = Vec::with_capacity(64);
        let mut len: u64 = 4;
        entry(&mut b, "", "", all_at);
        len += b.len() as u64;
        for (&(key, _), &off) in postings.iter().zip(&offsets) {
            let (n, v) = pair(key);
            b.clear();
            entry(&mut b, &self.symbols[n], &self.symbols[v], off);
            len += b.len() as u64;
        }
        let len = u32::try_from(len).map_err(|_| {
            self.refuse(format!(
                "postings offset table of {len} bytes exceeds 4 GiB"
            ))
        })?;
        self.write(&len.to_be_bytes())?;
        let mut crc = crc32c::crc32c(&count.to_be_bytes());
        self.write(&count.to_be_bytes())?;
        b.clear();
        entry(&mut b, "", "", all_at);
        for (&(key, _), &off) in postings.iter().zip(&offsets) {
            let (n, v) = pair(key);
            entry(&mut b, &self.symbols[n], &self.symbols[v], off);
            if b.len() >= 1 << 16 {
                crc = crc32c::crc32c_append(crc, &b);
                let chunk = std::mem::take(&mut b);
                self.write(&chunk)?;
                b = chunk;
                b.clear();
            }
        }
        crc = crc32c::crc32c_append(crc, &b);
        self.write(&b)?;
        self.write(&crc.to_be_bytes())?;
        let toc = self.toc.encode();
        self.write(&toc)?;

        let f = self
            .w
            .into_inner()
            .map_err(|e| Error::io("write", &self.path, e.into_error()))?;
        f.sync_all().map_err(|e| Error::io("fsync", &self.path, e))
    }
}
