//! Reading a time range of the head out as chunks, for writing it as a block (Prometheus's
//! `RangeHead` plus the part of `compactHead` that decides the range).
//!
//! The head becomes "compactable" once it spans more than 1.5 block ranges; its oldest
//! block range `[mint, maxt)` is then written as a block and the head truncated at `maxt`.
//! [`Head::range_series`] hands that range out series by series in label order, each with
//! its chunks restricted to the range and with the head's tombstones applied, so the block
//! carries no tombstones of its own.
//!
//! The head's labels are interned, so the block's symbol table is built by allocation
//! first (one map lookup per label string, no string read) and only the distinct strings
//! are sorted. A symbol's position in that table orders like its string, so the series
//! are sorted by their labels' positions: integer compares instead of chasing every
//! series' strings through memory (a third of writing a head block of 1M series before).
//!
//! Head chunks never cross a multiple of the block range (see `chunkenc::cut`), so a
//! chunk is normally copied as it is (sealed chunks are shared, not copied); a chunk is
//! re-encoded only when it sticks out of the range or has deleted samples.

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;

use crate::block::{BlockMeta, BlockWriter, ChunkMeta, Compaction, Ulid};
use crate::chunkenc::cut::range_for_timestamp;
use crate::chunkenc::{SampleIterator, ValueType, XorAppender, XorIterator};
use crate::error::{Error, Result};
use crate::head::Head;
use crate::head::series::{MemSeries, U64Map};
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
        let (symbols, refs) = symbol_table(&series);
        let series = sort_by_symbol_refs(series, &refs);
        RangeSeries {
            head: self,
            series,
            symbols,
            refs,
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
        let mut series = self.range_series(mint, maxt);
        if series.is_empty() {
            return Ok(None);
        }
        let ulid = Ulid::new();
        let mut w = BlockWriter::new(dir, ulid, series.symbols())?;
        while let Some(item) = series.next() {
            let (s, chunks) = item?;
            let metas: Vec<ChunkMeta<'_>> = chunks.iter().map(|c| c.as_meta()).collect();
            w.add_series_refs(series.symbol_refs(&s), &metas)?;
        }
        if w.stats().num_series == 0 {
            return Ok(None);
        }
        w.finish(mint, maxt, Compaction::level1(ulid)).map(Some)
    }
}

/// Iterator over a head range's series in label order; see [`Head::range_series`].
#[derive(Debug)]
pub struct RangeSeries<'a> {
    head: &'a Head,
    series: Vec<Arc<MemSeries>>,
    /// Every distinct label name and value of `series`, sorted.
    symbols: Vec<Symbol>,
    /// Each label symbol's position in `symbols`, by [`symbol_key`].
    refs: U64Map<u32>,
    next: usize,
    mint: i64,
    maxt: i64,
}

impl RangeSeries<'_> {
    /// Every distinct label name and value of the listed series, sorted: the symbol table
    /// a block of this range needs.
    pub fn symbols(&self) -> &[Symbol] {
        &self.symbols
    }

    /// The positions in [`RangeSeries::symbols`] of each label name and value of `s`, one
    /// of the listed series, as [`BlockWriter::add_series_refs`] takes them.
    pub fn symbol_refs(&self, s: &MemSeries) -> Vec<(u32, u32)> {
        let at = |sym: &Symbol| self.refs[&symbol_key(sym)];
        s.labels
            .iter()
            .map(|l| (at(&l.name), at(&l.value)))
            .collect()
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
                raw.push((c.min_t, c.max_t, Bytes::from_owner(c.data.clone())));
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

/// The distinct label strings of `series`, sorted, and each label symbol's position in
/// that table by its [`Symbol::addr`]. Equal strings in different allocations (possible,
/// if rare, in the head) share one position.
fn symbol_table(series: &[Arc<MemSeries>]) -> (Vec<Symbol>, U64Map<u32>) {
    let mut refs: U64Map<u32> = U64Map::default();
    let mut distinct: Vec<Symbol> = Vec::new();
    for s in series {
        for l in s.labels.iter() {
            for sym in [&l.name, &l.value] {
                refs.entry(symbol_key(sym)).or_insert_with(|| {
                    distinct.push(sym.clone());
                    (distinct.len() - 1) as u32
                });
            }
        }
    }
    let mut order: Vec<u32> = (0..distinct.len() as u32).collect();
    order.sort_unstable_by(|&a, &b| {
        distinct[a as usize]
            .as_str()
            .cmp(distinct[b as usize].as_str())
    });
    let mut position = vec![0u32; distinct.len()];
    let mut table: Vec<Symbol> = Vec::with_capacity(distinct.len());
    for &i in &order {
        let sym = &distinct[i as usize];
        if table
            .last()
            .is_none_or(|last| last.as_str() != sym.as_str())
        {
            table.push(sym.clone());
        }
        position[i as usize] = (table.len() - 1) as u32;
    }
    for r in refs.values_mut() {
        *r = position[*r as usize];
    }
    (table, refs)
}

/// `series` in label order. Positions in a sorted symbol table order like their strings,
/// so comparing the sequences of name and value positions compares the label sets as
/// `Labels`' order does (pairwise, a prefix first).
///
/// The positions are the sort's working memory (two `u32` per label); the series are put
/// in order in place, so a head compaction's peak holds no second list of them.
fn sort_by_symbol_refs(mut series: Vec<Arc<MemSeries>>, refs: &U64Map<u32>) -> Vec<Arc<MemSeries>> {
    // Sized exactly: doubling would briefly hold up to three times the keys.
    let mut keys: Vec<u32> = Vec::with_capacity(series.iter().map(|s| 2 * s.labels.len()).sum());
    let mut ends: Vec<usize> = Vec::with_capacity(series.len());
    for s in &series {
        for l in s.labels.iter() {
            for sym in [&l.name, &l.value] {
                keys.push(refs[&symbol_key(sym)]);
            }
        }
        ends.push(keys.len());
    }
    let key = |i: u32| {
        let i = i as usize;
        &keys[if i == 0 { 0 } else { ends[i - 1] }..ends[i]]
    };
    // Head series have 32-bit postings ids, so their count fits; `DONE` is never an index.
    const DONE: u32 = u32::MAX;
    let mut order: Vec<u32> = (0..series.len() as u32).collect();
    order.sort_unstable_by(|&a, &b| key(a).cmp(key(b)));
    drop((keys, ends));
    // Position `i` takes the series at `order[i]`: follow each cycle of the permutation.
    for start in 0..order.len() {
        let mut at = start;
        while order[at] != DONE {
            let from = order[at] as usize;
            order[at] = DONE;
            if from == start {
                break;
            }
            series.swap(at, from);
            at = from;
        }
    }
    series
}

/// A symbol's identity as a [`U64Map`] key: its address without the low bits, which
/// allocations of a 16-byte header leave zero (the map's hash multiplies, and would keep
/// them zero too).
fn symbol_key(s: &Symbol) -> u64 {
    (s.addr() >> 4) as u64
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
    use crate::labels::Labels;

    fn series(pairs: &[Vec<(String, String)>]) -> Vec<Arc<MemSeries>> {
        pairs
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let p: Vec<(&str, &str)> =
                    p.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
                // Not interned: every label string is its own allocation, so equal strings
                // come in different allocations.
                Arc::new(MemSeries::new(i as u64 + 1, Labels::from_pairs(&p), true))
            })
            .collect()
    }

    proptest! {
        /// The table holds each string once, sorted; the order by positions is `Labels`'
        /// order, with prefixes first.
        #[test]
        fn positions_order_like_labels(
            sets in prop::collection::vec(
                prop::collection::btree_map("[a-c]{1,2}", "[a-c\\x00]{0,2}", 1..4), 0..40)
        ) {
            let pairs: Vec<Vec<(String, String)>> =
                sets.into_iter().map(|m| m.into_iter().collect()).collect();
            let list = series(&pairs);
            let (table, refs) = symbol_table(&list);
            let strings: Vec<&str> = table.iter().map(Symbol::as_str).collect();
            prop_assert!(strings.windows(2).all(|w| w[0] < w[1]), "{strings:?}");
            let mut want: Vec<&str> = list
                .iter()
                .flat_map(|s| s.labels.pairs())
                .flat_map(|(n, v)| [n, v])
                .collect();
            want.sort_unstable();
            want.dedup();
            prop_assert_eq!(&strings, &want);

            let mut expected: Vec<Labels> = list.iter().map(|s| s.labels.clone()).collect();
            expected.sort();
            let sorted: Vec<Labels> = sort_by_symbol_refs(list, &refs)
                .iter()
                .map(|s| s.labels.clone())
                .collect();
            prop_assert_eq!(sorted, expected);
        }
    }
}
