//! Reading a time range of the head out as chunks, for writing it as a block (Prometheus's
//! `RangeHead` plus the part of `compactHead` that decides the range).
//!
//! The head becomes "compactable" once it spans more than 1.5 block ranges; its oldest
//! block range `[mint, maxt)` is then written as a block and the head truncated at `maxt`.
//! [`Head::range_series`] hands that range out series by series in label order, each with
//! its chunks restricted to the range and with the head's tombstones applied, so the block
//! carries no tombstones of its own.
//!
//! Head chunks never cross a multiple of the block range (see `chunkenc::cut`), so a
//! chunk is normally copied as it is (sealed chunks are shared, not copied); a chunk is
//! re-encoded only when it sticks out of the range or has deleted samples.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;

use crate::block::{BlockMeta, BlockWriter, ChunkMeta, Compaction, Ulid};
use crate::chunkenc::cut::range_for_timestamp;
use crate::chunkenc::{SampleIterator, ValueType, XorAppender, XorIterator};
use crate::error::{Error, Result};
use crate::head::Head;
use crate::head::series::MemSeries;
use crate::labels::Symbol;

impl Head {
    /// Whether the head spans more than 1.5 block ranges, so that its oldest range should
    /// become a block (Prometheus's `Head.compactable`).
    pub fn compactable(&self) -> bool {
        let (mint, maxt) = (self.min_time(), self.max_time());
        mint <= maxt && maxt - mint > self.cut_options().chunk_range / 2 * 3
    }

    /// The half-open range `[mint, maxt)` of the head's oldest block: from the head's first
    /// sample to the end of the block range it falls in. `None` when the head is empty.
    pub fn oldest_block_range(&self) -> Option<(i64, i64)> {
        let (mint, maxt) = (self.min_time(), self.max_time());
        if mint > maxt {
            return None;
        }
        let width = self.cut_options().chunk_range;
        Some((mint, range_for_timestamp(mint, width)))
    }

    /// The series with samples in `[mint, maxt)`, sorted by labels, for writing a block.
    ///
    /// Series are listed now and their chunks read one series at a time as the iterator
    /// advances, so memory holds one series' chunk list at a time (sealed chunks are
    /// shared with the head, not copied). Samples appended while iterating and tombstones
    /// added meanwhile may or may not be seen; callers write a range the head no longer
    /// accepts appends for.
    pub fn range_series(&self, mint: i64, maxt: i64) -> RangeSeries<'_> {
        let mut series = Vec::new();
        self.series.for_each(|s| {
            let st = s.state.lock();
            let first = st.sealed.first().map(|c| c.min_t);
            let first = first.or(st.open.as_ref().map(|o| o.min_t));
            if let (Some(first), Some(last)) = (first, st.max_t())
                && first < maxt
                && last >= mint
            {
                series.push(Arc::clone(s));
            }
        });
        let symbols = sort_by_labels(&mut series);
        RangeSeries {
            head: self,
            series,
            symbols,
            next: 0,
            mint,
            maxt,
        }
    }

    /// Writes the samples in `[mint, maxt)` (tombstones applied) as a level-1 block in
    /// `dir` ([`BlockWriter`]: `<ulid>.tmp-for-creation`, fsync, rename); `None` when the
    /// range holds no samples and nothing was written. The head is left as it is: this is
    /// how `Db` cuts its head into blocks, and how a tool turns a replayed WAL into blocks.
    pub fn write_block(&self, dir: &Path, mint: i64, maxt: i64) -> Result<Option<BlockMeta>> {
        let series = self.range_series(mint, maxt);
        if series.is_empty() {
            return Ok(None);
        }
        let ulid = Ulid::new();
        let mut w = BlockWriter::new(dir, ulid, series.symbols())?;
        for item in series {
            let (s, chunks) = item?;
            let metas: Vec<ChunkMeta<'_>> = chunks.iter().map(|c| c.as_meta()).collect();
            w.add_series(s.labels(), &metas)?;
        }
        if w.stats().num_series == 0 {
            return Ok(None);
        }
        w.finish(mint, maxt, Compaction::level1(ulid)).map(Some)
    }
}

/// Sorts `series` by labels (the order of [`crate::labels::Labels`]' `Ord`) and returns
/// every distinct label string among them, sorted: the block's symbol table.
///
/// The head interns its label strings, so the millions of labels of a range name a few
/// tens of thousands of symbols. They are told apart by address (no string read, no
/// reference count touched), only the distinct ones are sorted by their bytes, and each
/// gets its rank in that order (equal strings that are not shared get the same rank).
/// Every series' labels then become a run of ranks, name and value alternating, and the
/// series are sorted by those runs: comparing two runs gives the order comparing the
/// labels' strings gives, but reads a few bytes next to each other instead of following
/// each series' label list to the strings it points to.
fn sort_by_labels(series: &mut Vec<Arc<MemSeries>>) -> Vec<Symbol> {
    // Distinct symbols by address; `keys` first holds positions in `distinct`.
    let mut position: HashMap<usize, u32, BuildHasherDefault<AddrHasher>> = HashMap::default();
    let mut distinct: Vec<&Symbol> = Vec::new();
    let mut keys: Vec<u32> = Vec::new();
    let mut spans: Vec<(u32, u32)> = Vec::with_capacity(series.len());
    for s in series.iter() {
        let start = keys.len();
        for l in s.labels.iter() {
            for sym in [&l.name, &l.value] {
                let next = distinct.len() as u32;
                let at = *position.entry(sym.addr()).or_insert(next);
                if at == next {
                    distinct.push(sym);
                }
                keys.push(at);
            }
        }
        spans.push((start as u32, keys.len() as u32));
    }
    let mut by_bytes: Vec<u32> = (0..distinct.len() as u32).collect();
    by_bytes.sort_unstable_by(|&a, &b| {
        distinct[a as usize]
            .as_str()
            .cmp(distinct[b as usize].as_str())
    });
    let mut rank = vec![0u32; distinct.len()];
    let mut symbols: Vec<Symbol> = Vec::new();
    for &d in &by_bytes {
        let sym = distinct[d as usize];
        if symbols
            .last()
            .is_none_or(|last| last.as_str() != sym.as_str())
        {
            symbols.push(sym.clone());
        }
        rank[d as usize] = symbols.len() as u32 - 1;
    }
    for k in &mut keys {
        *k = rank[*k as usize];
    }
    let key = |i: u32| {
        let (a, b) = spans[i as usize];
        &keys[a as usize..b as usize]
    };
    let mut order: Vec<u32> = (0..series.len() as u32).collect();
    order.sort_unstable_by(|&a, &b| key(a).cmp(key(b)));
    let mut slots: Vec<Option<Arc<MemSeries>>> =
        std::mem::take(series).into_iter().map(Some).collect();
    series.extend(
        order
            .iter()
            .map(|&i| slots[i as usize].take().expect("each series once")),
    );
    symbols
}

/// A hasher for addresses: a folded 128-bit multiply, so that both the low bits (the
/// table's index) and the high bits (its tags) depend on every bit of an aligned address.
#[derive(Debug, Default)]
struct AddrHasher(u64);

impl Hasher for AddrHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, x: u64) {
        let m = u128::from(self.0 ^ x) * 0x9e37_79b9_7f4a_7c15;
        self.0 = (m >> 64) as u64 ^ m as u64;
    }

    fn write_usize(&mut self, x: usize) {
        self.write_u64(x as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Iterator over a head range's series in label order; see [`Head::range_series`].
#[derive(Debug)]
pub struct RangeSeries<'a> {
    head: &'a Head,
    series: Vec<Arc<MemSeries>>,
    /// Every distinct label string of `series`, sorted.
    symbols: Vec<Symbol>,
    next: usize,
    mint: i64,
    maxt: i64,
}

impl RangeSeries<'_> {
    /// Every distinct label name and value of the listed series, sorted: the symbol table
    /// a block of this range needs.
    pub fn symbols(&self) -> Vec<Symbol> {
        self.symbols.clone()
    }

    /// How many series were listed (some may turn out empty once tombstones apply).
    pub fn len(&self) -> usize {
        self.series.len()
    }

    /// Whether no series has samples in the range.
    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }

    /// The chunks of `s` within the range, tombstones applied; empty if nothing is left.
    fn chunks_of(&self, s: &MemSeries) -> Result<Vec<RangeChunk>> {
        let deleted = self
            .head
            .tombstones
            .read()
            .get(&s.series_ref)
            .cloned()
            .unwrap_or_default();
        let (mint, last) = (self.mint, self.maxt - 1);
        let mut raw = Vec::new();
        {
            let st = s.state.lock();
            let from = st.sealed.partition_point(|c| c.max_t < mint);
            for c in st.sealed[from..].iter().take_while(|c| c.min_t <= last) {
                raw.push((c.min_t, c.max_t, c.data.clone()));
            }
            if let Some(o) = &st.open
                && o.max_t() >= mint
                && o.min_t <= last
                && o.app.num_samples() > 0
            {
                raw.push((o.min_t, o.max_t(), Bytes::copy_from_slice(o.app.bytes())));
            }
        }
        let mut out = Vec::with_capacity(raw.len());
        for (min_t, max_t, data) in raw {
            let inside = min_t >= mint && max_t <= last;
            let touched = deleted.iter().any(|&(a, b)| a <= max_t && b >= min_t);
            if inside && !touched {
                out.push(RangeChunk { min_t, max_t, data });
            } else if let Some(c) = reencode(&data, mint, last, &deleted)? {
                out.push(c);
            }
        }
        Ok(out)
    }
}

/// One chunk of a head range: its time range and XOR bytes (shared with the head when
/// the chunk was sealed and needed no re-encoding).
#[derive(Debug, Clone)]
pub struct RangeChunk {
    /// Timestamp of the first sample.
    pub min_t: i64,
    /// Timestamp of the last sample (inclusive).
    pub max_t: i64,
    /// The XOR chunk.
    pub data: Bytes,
}

impl RangeChunk {
    /// The chunk as a block writer takes it.
    pub fn as_meta(&self) -> ChunkMeta<'_> {
        ChunkMeta {
            min_t: self.min_t,
            max_t: self.max_t,
            data: &self.data,
        }
    }
}

impl Iterator for RangeSeries<'_> {
    type Item = Result<(Arc<MemSeries>, Vec<RangeChunk>)>;

    fn next(&mut self) -> Option<Self::Item> {
        while let Some(s) = self.series.get(self.next) {
            self.next += 1;
            let s = Arc::clone(s);
            match self.chunks_of(&s) {
                Ok(chunks) if chunks.is_empty() => continue,
                Ok(chunks) => return Some(Ok((s, chunks))),
                Err(e) => return Some(Err(e)),
            }
        }
        None
    }
}

/// The samples of XOR chunk `bytes` within `[mint, last]` and outside `deleted`, as a new
/// chunk; `None` when none is left.
fn reencode(
    bytes: &[u8],
    mint: i64,
    last: i64,
    deleted: &[(i64, i64)],
) -> Result<Option<RangeChunk>> {
    let mut it = XorIterator::new(bytes);
    let mut app = XorAppender::new();
    let (mut lo, mut hi) = (i64::MAX, i64::MIN);
    while it.next() == ValueType::Float {
        let (t, v) = it.at();
        if t < mint || t > last || deleted.iter().any(|&(a, b)| a <= t && t <= b) {
            continue;
        }
        app.append(t, v);
        lo = lo.min(t);
        hi = hi.max(t);
    }
    if let Some(e) = it.err() {
        return Err(Error::decode("head chunk", e.to_string()));
    }
    if app.num_samples() == 0 {
        return Ok(None);
    }
    Ok(Some(RangeChunk {
        min_t: lo,
        max_t: hi,
        data: Bytes::from(app.into_bytes()),
    }))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::labels::{Label, Labels};

    proptest! {
        /// Sorting by ranks orders series as their labels' `Ord` does, and the symbol
        /// table is every distinct string, sorted: with shared symbols, equal strings in
        /// different allocations, label sets that are prefixes of others, and names that
        /// differ where values are equal.
        #[test]
        fn rank_sort_is_the_label_order(
            sets in prop::collection::vec(
                prop::collection::vec((0u8..4, 0u8..5), 0..5),
                1..40,
            ),
        ) {
            let shared: Vec<Symbol> = ["a", "b", "ab", "", "z"].iter().map(|s| Symbol::new(s)).collect();
            let mut series: Vec<Arc<MemSeries>> = sets
                .iter()
                .enumerate()
                .map(|(i, set)| {
                    let labels = set
                        .iter()
                        .map(|&(n, v)| {
                            let name = Symbol::new(["a", "b", "c", "ab"][usize::from(n)]);
                            // Even values share one allocation, odd ones get their own.
                            let value = if v % 2 == 0 {
                                shared[usize::from(v)].clone()
                            } else {
                                Symbol::new(shared[usize::from(v)].as_str())
                            };
                            Label { name, value }
                        })
                        .collect();
                    Arc::new(MemSeries::new(i as u64, Labels::new(labels), true))
                })
                .collect();
            let mut want: Vec<Arc<MemSeries>> = series.clone();
            want.sort_by(|a, b| a.labels.cmp(&b.labels));
            let mut want_symbols: Vec<String> = series
                .iter()
                .flat_map(|s| s.labels.iter())
                .flat_map(|l| [l.name.to_string(), l.value.to_string()])
                .collect();
            want_symbols.sort();
            want_symbols.dedup();
            let symbols = sort_by_labels(&mut series);
            let got: Vec<&Labels> = series.iter().map(|s| &s.labels).collect();
            let want: Vec<&Labels> = want.iter().map(|s| &s.labels).collect();
            prop_assert_eq!(got, want);
            let symbols: Vec<String> = symbols.iter().map(|s| s.to_string()).collect();
            prop_assert_eq!(symbols, want_symbols);
        }
    }
}
