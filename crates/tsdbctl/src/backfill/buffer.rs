//! The memory-bounded sample buffer of `backfill`: samples of any series and any time,
//! in input order, until the buffer's byte budget is reached; then [`Buffer::spill`]
//! writes one block per block-duration window present and empties it.
//!
//! Memory: the samples live in one `Vec` allocated once (24 bytes a sample, at most
//! three quarters of the budget) and sorted in place at spill time; series are a map from
//! an encoded label set to a number, charged at an estimate of everything they cost up to
//! and including the block writer's symbol table and postings (see [`series_cost`]).
//! The buffer counts the samples `Vec`'s high-water mark, not its length: its pages stay
//! resident after a spill.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, Result};
use ingest::exposition::Sample;
use tsdb::block::{BlockMeta, BlockWriter, ChunkMeta, Compaction, Ulid};
use tsdb::chunkenc::XorAppender;
use tsdb::labels::{Label, Labels};

/// Samples per chunk, as Prometheus cuts head chunks.
const SAMPLES_PER_CHUNK: usize = 120;

/// One buffered sample.
#[derive(Debug, Clone, Copy)]
struct Entry {
    t: i64,
    v: f64,
    /// The series' number in `Buffer::series`.
    series: u32,
    /// The position in input order, so that the last of duplicate samples wins.
    seq: u32,
}

const ENTRY_BYTES: usize = std::mem::size_of::<Entry>();

/// What a buffered series costs, estimated: its map entry and key, its place in the
/// spill-time sort, and what a block writer holds for it (a copy of each label string in
/// the symbol table and one postings entry per label).
fn series_cost(key_len: usize, labels: usize) -> usize {
    96 + 3 * key_len + 200 * labels
}

/// Samples of many series, bounded in bytes.
#[derive(Debug)]
pub(crate) struct Buffer {
    series: HashMap<Box<[u8]>, u32>,
    series_bytes: usize,
    samples: Vec<Entry>,
    samples_hwm: usize,
    budget: usize,
    block_ms: i64,
    key: Vec<u8>,
}

/// Appends the label set's encoding: per label, name and value each as a little-endian
/// u32 length and the bytes.
fn encode_key<'a>(labels: impl Iterator<Item = (&'a str, &'a str)>, out: &mut Vec<u8>) {
    out.clear();
    for (n, v) in labels {
        for s in [n, v] {
            out.extend_from_slice(&(s.len() as u32).to_le_bytes());
            out.extend_from_slice(s.as_bytes());
        }
    }
}

/// The (name, value) pairs of a key made by [`encode_key`].
fn decode_key(mut key: &[u8]) -> impl Iterator<Item = (&str, &str)> {
    let mut next_str = move || -> Option<&str> {
        let (len, rest) = key.split_first_chunk::<4>()?;
        let len = u32::from_le_bytes(*len) as usize;
        let (s, rest) = rest.split_at(len);
        key = rest;
        // The key was encoded from `&str`s.
        Some(std::str::from_utf8(s).expect("keys hold UTF-8"))
    };
    std::iter::from_fn(move || Some((next_str()?, next_str()?)))
}

/// Prometheus's label set order: pairwise by name, then value; a prefix first.
fn cmp_keys(a: &[u8], b: &[u8]) -> Ordering {
    decode_key(a).cmp(decode_key(b))
}

impl Buffer {
    /// A buffer of at most `budget` bytes for windows of `block_ms`.
    pub(crate) fn new(budget: usize, block_ms: i64) -> Buffer {
        let cap = (budget / 4 * 3 / ENTRY_BYTES).max(1024);
        Buffer {
            series: HashMap::new(),
            series_bytes: 0,
            samples: Vec::with_capacity(cap),
            samples_hwm: 0,
            budget,
            block_ms,
            key: Vec::new(),
        }
    }

    /// The bytes charged so far.
    pub(crate) fn used(&self) -> usize {
        self.samples_hwm.max(self.samples.len()) * ENTRY_BYTES + self.series_bytes
    }

    /// Whether the buffer must be spilled before the next sample.
    pub(crate) fn is_full(&self) -> bool {
        self.samples.len() == self.samples.capacity() || self.used() >= self.budget
    }

    /// Whether nothing is buffered.
    pub(crate) fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// Buffers a sample (which has a timestamp). Call [`Buffer::spill`] first when
    /// [`Buffer::is_full`].
    pub(crate) fn push(&mut self, s: &Sample, t: i64) {
        encode_key(s.labels(), &mut self.key);
        let id = match self.series.get(self.key.as_slice()) {
            Some(&id) => id,
            None => {
                let id = self.series.len() as u32;
                self.series_bytes += series_cost(self.key.len(), s.labels().len());
                self.series.insert(self.key.as_slice().into(), id);
                id
            }
        };
        let seq = self.samples.len() as u32;
        self.samples.push(Entry {
            t,
            v: s.value,
            series: id,
            seq,
        });
    }

    /// Writes the buffered samples into `dir` (one level-1 block per window holding
    /// samples; on equal timestamps of a series the later sample wins) and empties the
    /// buffer. Returns the blocks' metas.
    pub(crate) fn spill(&mut self, dir: &Path) -> Result<Vec<BlockMeta>> {
        self.samples_hwm = self.samples_hwm.max(self.samples.len());
        // Series in label order: rank[id] is the position.
        let mut keys: Vec<(Box<[u8]>, u32)> =
            std::mem::take(&mut self.series).into_iter().collect();
        keys.sort_unstable_by(|a, b| cmp_keys(&a.0, &b.0));
        let mut rank = vec![0u32; keys.len()];
        for (pos, (_, id)) in keys.iter().enumerate() {
            rank[*id as usize] = pos as u32;
        }
        let block_ms = self.block_ms;
        self.samples.sort_unstable_by(|a, b| {
            (
                a.t.div_euclid(block_ms),
                rank[a.series as usize],
                a.t,
                a.seq,
            )
                .cmp(&(
                    b.t.div_euclid(block_ms),
                    rank[b.series as usize],
                    b.t,
                    b.seq,
                ))
        });
        let mut metas = Vec::new();
        let mut rest = &self.samples[..];
        while let Some(first) = rest.first() {
            let w = first.t.div_euclid(block_ms);
            let n = rest.partition_point(|e| e.t.div_euclid(block_ms) == w);
            let (window, tail) = rest.split_at(n);
            rest = tail;
            metas.push(write_block(dir, window, &keys, &rank)?);
        }
        self.samples.clear();
        self.series_bytes = 0;
        Ok(metas)
    }
}

/// Writes the samples of one window (sorted by series rank, time, input order) as a
/// block.
fn write_block(
    dir: &Path,
    window: &[Entry],
    keys: &[(Box<[u8]>, u32)],
    rank: &[u32],
) -> Result<BlockMeta> {
    let key_of = |e: &Entry| &keys[rank[e.series as usize] as usize].0;
    // Every label string of the window's series, sorted and unique.
    let mut symbols: Vec<&str> = Vec::new();
    let mut last = None;
    for e in window {
        if last != Some(e.series) {
            last = Some(e.series);
            for (n, v) in decode_key(key_of(e)) {
                symbols.push(n);
                symbols.push(v);
            }
        }
    }
    symbols.sort_unstable();
    symbols.dedup();
    let ulid = Ulid::new();
    let mut writer =
        BlockWriter::new(dir, ulid, &symbols).with_context(|| format!("starting block {ulid}"))?;
    drop(symbols);
    let (mut min_t, mut max_t) = (i64::MAX, i64::MIN);
    let mut chunks: Vec<(i64, i64, Vec<u8>)> = Vec::new();
    let mut rest = window;
    while let Some(first) = rest.first() {
        let n = rest.partition_point(|e| e.series == first.series);
        let (series, tail) = rest.split_at(n);
        rest = tail;
        chunks.clear();
        let mut app = XorAppender::new();
        let mut chunk_min = 0;
        let mut prev_t = None;
        for (i, e) in series.iter().enumerate() {
            // Of equal timestamps only the last (in input order) is kept.
            if series.get(i + 1).is_some_and(|next| next.t == e.t) {
                continue;
            }
            if app.num_samples() == SAMPLES_PER_CHUNK {
                let full = std::mem::take(&mut app);
                chunks.push((chunk_min, prev_t.unwrap_or(chunk_min), full.into_bytes()));
            }
            if app.num_samples() == 0 {
                chunk_min = e.t;
            }
            app.append(e.t, e.v);
            prev_t = Some(e.t);
        }
        if app.num_samples() > 0 {
            chunks.push((chunk_min, prev_t.unwrap_or(chunk_min), app.into_bytes()));
        }
        min_t = min_t.min(series[0].t);
        max_t = max_t.max(series[series.len() - 1].t);
        let labels = Labels::from_sorted(
            decode_key(key_of(first))
                .map(|(n, v)| Label::new(n, v))
                .collect(),
        );
        let metas: Vec<ChunkMeta<'_>> = chunks
            .iter()
            .map(|(min_t, max_t, data)| ChunkMeta {
                min_t: *min_t,
                max_t: *max_t,
                data,
            })
            .collect();
        writer
            .add_series(&labels, &metas)
            .with_context(|| format!("writing series {labels} to block {ulid}"))?;
    }
    writer
        .finish(min_t, max_t.saturating_add(1), Compaction::level1(ulid))
        .with_context(|| format!("finishing block {ulid}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_as_label_sets() {
        let key = |pairs: &[(&str, &str)]| {
            let mut k = Vec::new();
            encode_key(pairs.iter().copied(), &mut k);
            k
        };
        let sets: &[&[(&str, &str)]] = &[
            &[("__name__", "a")],
            &[("__name__", "a"), ("x", "1")],
            &[("__name__", "ab")],
            &[("__name__", "b"), ("a", "z")],
        ];
        for w in sets.windows(2) {
            let (a, b) = (key(w[0]), key(w[1]));
            assert_eq!(cmp_keys(&a, &b), Ordering::Less, "{:?} < {:?}", w[0], w[1]);
            let la = Labels::from_pairs(w[0]);
            let lb = Labels::from_pairs(w[1]);
            assert!(la < lb);
        }
        let k = key(&[("__name__", "a"), ("x", "é")]);
        assert_eq!(
            decode_key(&k).collect::<Vec<_>>(),
            vec![("__name__", "a"), ("x", "é")]
        );
    }
}
