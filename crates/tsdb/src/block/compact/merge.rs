//! [`SeriesMerger`]: the chunks of one label set from several inputs, merged into the
//! chunks to write.
//!
//! Each input chunk is first classified against its series' hidden intervals (its
//! tombstones, and everything outside the output range): wholly hidden chunks are
//! dropped, partly hidden ones are marked for re-encoding. The rest is sorted by time and
//! cut into runs of chunks that overlap (transitively). A run of one untouched chunk, or
//! of untouched byte-identical copies of one chunk, is copied; any other run is decoded,
//! merged by timestamp (later input wins ties) without its hidden samples, and
//! re-encoded: a single chunk stays one chunk (as Prometheus re-encodes a chunk it only
//! deletes from), merged chunks are cut every [`MAX_SAMPLES_PER_MERGED_CHUNK`] samples.
//! Runs do not overlap, so the chunks come out time-ordered and disjoint.

use std::path::PathBuf;

use super::{CompactStats, MAX_SAMPLES_PER_MERGED_CHUNK};
use crate::block::{Block, ChunkSeries};
use crate::bytes::SharedSlice;
use crate::chunkenc::{Encoding, SampleIterator, ValueType, XorAppender, XorIterator};
use crate::chunks;
use crate::error::{Error, Result};
use crate::querier::ChainSampleIterator;
use crate::tombstones::add_interval;

/// The bytes of a chunk to write.
#[derive(Debug)]
enum OutData {
    /// An input chunk, unchanged.
    Copied(SharedSlice),
    /// A chunk encoded here.
    Encoded(Vec<u8>),
}

/// A chunk to write.
#[derive(Debug)]
pub(super) struct OutChunk {
    /// Timestamp of the first sample.
    pub(super) min_t: i64,
    /// Timestamp of the last sample.
    pub(super) max_t: i64,
    data: OutData,
}

impl OutChunk {
    /// The XOR chunk.
    pub(super) fn bytes(&self) -> &[u8] {
        match &self.data {
            OutData::Copied(s) => s,
            OutData::Encoded(v) => v,
        }
    }
}

/// One input chunk that survived classification.
#[derive(Debug, Clone, Copy)]
struct Item {
    min_t: i64,
    max_t: i64,
    /// Position of its series in the group.
    member: usize,
    /// Position of the chunk in its series.
    chunk: usize,
    /// Whether a hidden interval touches it.
    dirty: bool,
}

/// How much of a chunk's range the hidden intervals cover.
#[derive(Debug, PartialEq, Eq)]
enum Coverage {
    None,
    Partial,
    Whole,
}

fn coverage(hidden: &[(i64, i64)], min_t: i64, max_t: i64) -> Coverage {
    let mut c = Coverage::None;
    for &(a, b) in hidden {
        if a <= min_t && max_t <= b {
            return Coverage::Whole;
        }
        if a <= max_t && min_t <= b {
            c = Coverage::Partial;
        }
    }
    c
}

/// The segment file holding `chunk_ref` in `block`.
fn segment_path(block: &Block, chunk_ref: u64) -> PathBuf {
    let (seg, _) = chunks::split_ref(chunk_ref);
    block
        .dir()
        .join(chunks::DIR_NAME)
        .join(chunks::segment_name(seg as usize))
}

/// Merges the chunks of one label set; keeps its buffers from one series to the next.
#[derive(Debug)]
pub(super) struct SeriesMerger {
    /// The output range, closed.
    mint: i64,
    maxt: i64,
    /// Per group member: its deleted intervals plus everything outside `[mint, maxt]`.
    hidden: Vec<Vec<(i64, i64)>>,
    items: Vec<Item>,
    run: Vec<Item>,
    out: Vec<OutChunk>,
}

impl SeriesMerger {
    /// A merger for a block over `[min_time, max_time)`.
    pub(super) fn new(min_time: i64, max_time: i64) -> Self {
        SeriesMerger {
            mint: min_time,
            maxt: max_time.saturating_sub(1),
            hidden: Vec::new(),
            items: Vec::new(),
            run: Vec::new(),
            out: Vec::new(),
        }
    }

    /// The chunks to write for `group` (one series per input holding the label set, in
    /// input order); empty when no sample is left.
    pub(super) fn merge(
        &mut self,
        inputs: &[Block],
        group: &[(usize, ChunkSeries)],
        stats: &mut CompactStats,
    ) -> Result<&[OutChunk]> {
        let SeriesMerger {
            mint,
            maxt,
            hidden,
            items,
            run,
            out,
        } = self;
        out.clear();
        items.clear();
        hidden.resize_with(group.len(), Vec::new);
        for (member, (input, s)) in group.iter().enumerate() {
            let h = &mut hidden[member];
            h.clear();
            h.extend_from_slice(&s.deleted);
            if *mint > i64::MIN {
                add_interval(h, i64::MIN, *mint - 1);
            }
            if *maxt < i64::MAX {
                add_interval(h, *maxt + 1, i64::MAX);
            }
            for (chunk, c) in s.chunks.iter().enumerate() {
                if c.encoding != Encoding::Xor as u8 {
                    return Err(Error::UnsupportedChunkEncoding {
                        path: segment_path(&inputs[*input], c.chunk_ref),
                        chunk_ref: c.chunk_ref,
                        encoding: c.encoding,
                    });
                }
                let dirty = match coverage(h, c.min_t, c.max_t) {
                    Coverage::Whole => {
                        stats.chunks_dropped += 1;
                        continue;
                    }
                    Coverage::Partial => true,
                    Coverage::None => false,
                };
                items.push(Item {
                    min_t: c.min_t,
                    max_t: c.max_t,
                    member,
                    chunk,
                    dirty,
                });
            }
        }
        items.sort_unstable_by_key(|i| (i.min_t, i.max_t, i.member, i.chunk));

        let data = |i: &Item| &group[i.member].1.chunks[i.chunk].data;
        let mut start = 0;
        while start < items.len() {
            let mut end = start + 1;
            let mut run_max = items[start].max_t;
            while end < items.len() && items[end].min_t <= run_max {
                run_max = run_max.max(items[end].max_t);
                end += 1;
            }
            let first = items[start];
            let this = &items[start..end];
            start = end;
            // One untouched chunk, or untouched identical copies of it (the same block
            // compacted twice, replicas): copy it.
            let copies = this.iter().all(|i| {
                !i.dirty
                    && (i.min_t, i.max_t) == (first.min_t, first.max_t)
                    && **data(i) == **data(&first)
            });
            if copies {
                out.push(OutChunk {
                    min_t: first.min_t,
                    max_t: first.max_t,
                    data: OutData::Copied(data(&first).clone()),
                });
                stats.chunks_copied += 1;
                continue;
            }
            // Later inputs last, so they win ties in the chain.
            run.clear();
            run.extend_from_slice(this);
            run.sort_unstable_by_key(|i| (i.member, i.chunk));
            let limit = if run.len() == 1 {
                usize::from(u16::MAX)
            } else {
                MAX_SAMPLES_PER_MERGED_CHUNK
            };
            let children: Vec<Box<dyn SampleIterator + Send + '_>> = run
                .iter()
                .map(|i| {
                    let (input, s) = &group[i.member];
                    let c = &s.chunks[i.chunk];
                    Box::new(ChunkSamples::new(
                        c.data.clone(),
                        &hidden[i.member],
                        &inputs[*input],
                        c.chunk_ref,
                    )) as Box<dyn SampleIterator + Send + '_>
                })
                .collect();
            stats.chunks_decoded += run.len() as u64;
            let mut chain = ChainSampleIterator::new(children);
            stats.chunks_reencoded += encode(&mut chain, limit, out)?;
        }
        Ok(out)
    }
}

/// Appends the samples of `it` to `out` as XOR chunks of at most `limit` samples;
/// returns how many chunks it made.
fn encode(it: &mut dyn SampleIterator, limit: usize, out: &mut Vec<OutChunk>) -> Result<u64> {
    let mut made = 0;
    let mut app = XorAppender::new();
    let (mut first, mut last) = (0, 0);
    while it.next() == ValueType::Float {
        let (t, v) = it.at();
        if app.num_samples() == 0 {
            first = t;
        }
        app.append(t, v);
        last = t;
        if app.num_samples() >= limit {
            out.push(OutChunk {
                min_t: first,
                max_t: last,
                data: OutData::Encoded(std::mem::take(&mut app).into_bytes()),
            });
            made += 1;
        }
    }
    if let Some(e) = it.err() {
        return Err(match e {
            Error::Corruption {
                path,
                offset,
                reason,
            } => Error::corruption(path, *offset, reason.clone()),
            other => Error::decode("xor chunk", other.to_string()),
        });
    }
    if app.num_samples() > 0 {
        out.push(OutChunk {
            min_t: first,
            max_t: last,
            data: OutData::Encoded(app.into_bytes()),
        });
        made += 1;
    }
    Ok(made)
}

/// The samples of one block chunk outside its series' hidden intervals; a decode error
/// names the block's segment file and the chunk's offset.
struct ChunkSamples<'a> {
    it: XorIterator<SharedSlice>,
    /// Sorted, disjoint, closed.
    hidden: &'a [(i64, i64)],
    /// The first hidden interval that does not end before the current sample.
    at: usize,
    positioned: bool,
    block: &'a Block,
    chunk_ref: u64,
    err: Option<Error>,
}

impl<'a> ChunkSamples<'a> {
    fn new(data: SharedSlice, hidden: &'a [(i64, i64)], block: &'a Block, chunk_ref: u64) -> Self {
        ChunkSamples {
            it: XorIterator::new(data),
            hidden,
            at: 0,
            positioned: false,
            block,
            chunk_ref,
            err: None,
        }
    }

    fn is_hidden(&mut self, t: i64) -> bool {
        while self.at < self.hidden.len() && self.hidden[self.at].1 < t {
            self.at += 1;
        }
        self.hidden.get(self.at).is_some_and(|&(a, _)| a <= t)
    }
}

impl SampleIterator for ChunkSamples<'_> {
    fn next(&mut self) -> ValueType {
        loop {
            let vt = self.it.next();
            if vt == ValueType::None {
                self.positioned = false;
                if self.err.is_none()
                    && let Some(e) = self.it.err()
                {
                    let (_, offset) = chunks::split_ref(self.chunk_ref);
                    self.err = Some(Error::corruption(
                        segment_path(self.block, self.chunk_ref),
                        u64::from(offset),
                        format!("chunk {:#x}: {e}", self.chunk_ref),
                    ));
                }
                return vt;
            }
            let t = self.it.at_t();
            if !self.is_hidden(t) {
                self.positioned = true;
                return vt;
            }
        }
    }

    fn seek(&mut self, t: i64) -> ValueType {
        if self.positioned && self.it.at_t() >= t {
            return ValueType::Float;
        }
        loop {
            let vt = self.next();
            if vt == ValueType::None || self.it.at_t() >= t {
                return vt;
            }
        }
    }

    fn at(&self) -> (i64, f64) {
        self.it.at()
    }

    fn at_t(&self) -> i64 {
        self.it.at_t()
    }

    fn err(&self) -> Option<&Error> {
        self.err.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coverage_of_a_chunk() {
        let h = [(0, 9), (20, 29)];
        assert_eq!(coverage(&h, 10, 19), Coverage::None);
        assert_eq!(coverage(&h, 2, 5), Coverage::Whole);
        assert_eq!(coverage(&h, 5, 15), Coverage::Partial);
        assert_eq!(coverage(&h, 15, 25), Coverage::Partial);
        assert_eq!(coverage(&h, -5, 40), Coverage::Partial);
        assert_eq!(coverage(&[], 0, 1), Coverage::None);
    }

    #[test]
    fn encode_cuts_at_the_limit() {
        struct Ts(std::vec::IntoIter<i64>, i64);
        impl SampleIterator for Ts {
            fn next(&mut self) -> ValueType {
                match self.0.next() {
                    Some(t) => {
                        self.1 = t;
                        ValueType::Float
                    }
                    None => ValueType::None,
                }
            }
            fn seek(&mut self, _: i64) -> ValueType {
                unreachable!()
            }
            fn at(&self) -> (i64, f64) {
                (self.1, self.1 as f64)
            }
            fn at_t(&self) -> i64 {
                self.1
            }
            fn err(&self) -> Option<&Error> {
                None
            }
        }
        let mut out = Vec::new();
        let n = encode(
            &mut Ts((0..250).collect::<Vec<_>>().into_iter(), 0),
            120,
            &mut out,
        )
        .expect("encode");
        assert_eq!(n, 3);
        let got: Vec<(i64, i64, usize)> = out
            .iter()
            .map(|c| {
                (
                    c.min_t,
                    c.max_t,
                    crate::chunkenc::xor::xor_num_samples(c.bytes()),
                )
            })
            .collect();
        assert_eq!(got, [(0, 119, 120), (120, 239, 120), (240, 249, 10)]);
        out.clear();
        assert_eq!(
            encode(&mut Ts(Vec::new().into_iter(), 0), 120, &mut out).expect("encode"),
            0
        );
        assert!(out.is_empty());
    }
}
