//! Prometheus's chunk-cutting rules for head chunks.
//!
//! Which samples share a chunk is not part of the format, but it decides the bytes of
//! every block, so the head reproduces Prometheus 3.5's `memSeries.appendPreprocessor`
//! for float (XOR) samples exactly. Before appending an in-order sample at `t` a new chunk
//! is cut when:
//!
//! 1. the series has no open chunk;
//! 2. the open chunk is longer than [`MAX_BYTES_PER_XOR_CHUNK`] − 19 bytes (19 bytes being
//!    the largest possible encoded sample, so the chunk stays within 1024 bytes);
//! 3. `t` reached the series' `nextAt`: initially the end of the block range holding the
//!    chunk's first sample ([`range_for_timestamp`]); when the chunk reaches a quarter of
//!    `samples_per_chunk`, `nextAt` is moved earlier ([`compute_chunk_end_time`]) so the
//!    rest of the range splits into chunks of equal duration;
//! 4. the chunk already holds `2 × samples_per_chunk` samples (the rate went up).
//!
//! Arithmetic follows Go: integer division truncates toward zero (so ranges of negative
//! timestamps are not floor-aligned) and overflow wraps. Out-of-order detection is the
//! head's job, not this module's.

use crate::error::{Error, Result};

/// Prometheus's default target number of samples per float chunk (`DefaultSamplesPerChunk`).
pub const DEFAULT_SAMPLES_PER_CHUNK: u16 = 120;

/// The size cap of an XOR chunk in bytes (`chunkenc.MaxBytesPerXORChunk`).
pub const MAX_BYTES_PER_XOR_CHUNK: usize = 1024;

/// The largest encoded size of one XOR sample; a chunk longer than
/// [`MAX_BYTES_PER_XOR_CHUNK`] minus this is cut before the next append.
pub const MAX_BYTES_PER_XOR_SAMPLE: usize = 19;

/// The default chunk range: the head's block range, 2 hours in milliseconds.
pub const DEFAULT_CHUNK_RANGE: i64 = 2 * 60 * 60 * 1000;

/// Settings of the cutting rules (Prometheus's `chunkOpts`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CutOptions {
    /// Width in ms of the ranges chunks never straddle; the head's block range
    /// (default [`DEFAULT_CHUNK_RANGE`], 2 h). Must be positive.
    pub chunk_range: i64,
    /// Target number of samples per chunk (default [`DEFAULT_SAMPLES_PER_CHUNK`]). Must be
    /// positive.
    pub samples_per_chunk: u16,
}

impl Default for CutOptions {
    fn default() -> Self {
        Self {
            chunk_range: DEFAULT_CHUNK_RANGE,
            samples_per_chunk: DEFAULT_SAMPLES_PER_CHUNK,
        }
    }
}

impl CutOptions {
    /// Checks that both settings are positive (a zero range would divide by zero).
    pub fn validate(&self) -> Result<()> {
        if self.chunk_range <= 0 {
            return Err(Error::InvalidOptions {
                name: "chunk_range",
                reason: format!("must be positive, got {}", self.chunk_range),
            });
        }
        if self.samples_per_chunk == 0 {
            return Err(Error::InvalidOptions {
                name: "samples_per_chunk",
                reason: "must be positive".into(),
            });
        }
        Ok(())
    }
}

/// What the cutter needs to know about a series' open chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenChunkInfo {
    /// Timestamp of the chunk's first sample.
    pub min_t: i64,
    /// Timestamp of the chunk's last sample.
    pub max_t: i64,
    /// Number of samples in the chunk.
    pub num_samples: usize,
    /// Length of the chunk's bytes (header included).
    pub bytes_len: usize,
}

/// Per-series cutting state: Prometheus's `memSeries.nextAt`, the timestamp from which
/// the next sample goes into a new chunk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChunkCutter {
    next_at: i64,
}

impl ChunkCutter {
    /// A cutter whose next sample will be cut into a new chunk if it is at or after
    /// `next_at`; Prometheus sets this to the open chunk's max time after loading a chunk
    /// snapshot, so the first append starts a new chunk.
    pub fn with_next_at(next_at: i64) -> Self {
        Self { next_at }
    }

    /// The timestamp from which samples go into a new chunk.
    pub fn next_at(&self) -> i64 {
        self.next_at
    }

    /// Called before appending the in-order sample at `t`. `open` describes the series'
    /// current open chunk (`None` if it has none).
    ///
    /// Returns true if the caller must seal `open` (if any) and start a new chunk before
    /// appending `t`; when it returns true it has already reset its state for the new
    /// chunk starting at `t`. When it returns false and `open` has no samples yet (a chunk
    /// restored empty), the caller must also set that chunk's min time to `t`.
    pub fn cut_before(&mut self, open: Option<&OpenChunkInfo>, t: i64, opts: &CutOptions) -> bool {
        const MAX_LEN: usize = MAX_BYTES_PER_XOR_CHUNK - MAX_BYTES_PER_XOR_SAMPLE;
        let mut cut = false;
        // The chunk the sample would go into: (min_t, max_t, num_samples).
        let (min_t, max_t, num_samples) = match open {
            Some(c) if c.bytes_len <= MAX_LEN => (c.min_t, c.max_t, c.num_samples),
            // No chunk, or the open one is too large: start one at `t`.
            _ => {
                cut = true;
                self.next_at = range_for_timestamp(t, opts.chunk_range);
                (t, i64::MIN, 0)
            }
        };
        let min_t = if num_samples == 0 {
            self.next_at = range_for_timestamp(t, opts.chunk_range);
            t
        } else {
            min_t
        };
        let per_chunk = usize::from(opts.samples_per_chunk);
        // At a quarter of the target, predict when this chunk should end so the rest of
        // the range splits into equal chunks; the prediction never moves past `next_at`.
        if num_samples == per_chunk / 4 {
            self.next_at = compute_chunk_end_time(min_t, max_t, self.next_at, 4.0);
        }
        // Past twice the target the prediction was wrong (the rate went up).
        if t >= self.next_at || num_samples >= per_chunk * 2 {
            cut = true;
            self.next_at = range_for_timestamp(t, opts.chunk_range);
        }
        cut
    }
}

/// The end of the `width`-wide range holding `t`: `(t / width) * width + width`, with Go's
/// truncating division and wrapping overflow (so for negative `t` the range is aligned
/// toward zero, as in Prometheus).
///
/// # Panics
///
/// If `width` is 0 ([`CutOptions::validate`] rejects that).
pub fn range_for_timestamp(t: i64, width: i64) -> i64 {
    t.wrapping_div(width)
        .wrapping_mul(width)
        .wrapping_add(width)
}

/// Predicts the end time of a chunk that started at `start`, has its last sample at `cur`
/// and must end by `max_t`, assuming the chunk is `1 / ratio_to_full` full: the rest of
/// `[start, max_t)` is split into `floor(n)` equal chunks, where `n` is how many chunks of
/// the current duration fit. Returns `max_t` when at most one fits.
pub fn compute_chunk_end_time(start: i64, cur: i64, max_t: i64, ratio_to_full: f64) -> i64 {
    let span = max_t.wrapping_sub(start) as f64;
    let n = span / (cur.wrapping_sub(start).wrapping_add(1) as f64 * ratio_to_full);
    if n <= 1.0 {
        return max_t;
    }
    go_f64_to_i64(start as f64 + span / n.floor())
}

/// Converts like Go's `int64(f)` on amd64 (Prometheus's release platform): truncation
/// toward zero, and `i64::MIN` for NaN or values out of range (where Rust's `as` would
/// saturate instead). NaN is not in any range, so it takes the `i64::MIN` branch.
fn go_f64_to_i64(f: f64) -> i64 {
    // 2^63 is exactly representable; everything in [-2^63, 2^63) converts exactly.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    if !(-LIMIT..LIMIT).contains(&f) {
        i64::MIN
    } else {
        f as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H2: i64 = DEFAULT_CHUNK_RANGE;

    /// Feeds `ts` through a cutter the way the head does and returns the chunks as
    /// (first, last, count), using a fixed per-sample byte size.
    fn chunks(ts: &[i64], opts: &CutOptions, bytes_per_sample: usize) -> Vec<(i64, i64, usize)> {
        let mut cutter = ChunkCutter::default();
        let mut out: Vec<(i64, i64, usize)> = Vec::new();
        let mut open: Option<OpenChunkInfo> = None;
        for &t in ts {
            if cutter.cut_before(open.as_ref(), t, opts) {
                if let Some(c) = open.take() {
                    out.push((c.min_t, c.max_t, c.num_samples));
                }
                open = Some(OpenChunkInfo {
                    min_t: t,
                    max_t: i64::MIN,
                    num_samples: 0,
                    bytes_len: 2,
                });
            }
            let c = open.as_mut().expect("a chunk is open after cut_before");
            if c.num_samples == 0 {
                c.min_t = t;
            }
            c.max_t = t;
            c.num_samples += 1;
            c.bytes_len += bytes_per_sample;
        }
        if let Some(c) = open {
            out.push((c.min_t, c.max_t, c.num_samples));
        }
        out
    }

    #[test]
    fn range_for_timestamp_truncates_like_go() {
        assert_eq!(range_for_timestamp(0, H2), H2);
        assert_eq!(range_for_timestamp(H2 - 1, H2), H2);
        assert_eq!(range_for_timestamp(H2, H2), 2 * H2);
        // Go's division truncates toward zero: -1 / w == 0.
        assert_eq!(range_for_timestamp(-1, H2), H2);
        assert_eq!(range_for_timestamp(-H2, H2), 0);
        assert_eq!(range_for_timestamp(-H2 - 1, H2), 0);
        assert_eq!(range_for_timestamp(-2 * H2, H2), -H2);
        // Wraps instead of panicking at the edges.
        assert_eq!(range_for_timestamp(i64::MAX, 1), i64::MIN);
        assert_eq!(range_for_timestamp(i64::MIN, -1), i64::MIN.wrapping_sub(1));
    }

    #[test]
    fn compute_chunk_end_time_examples() {
        // 30 samples at 15 s from 0: 450 s of a 7200 s range used → n = 7200000 / (435001 * 4)
        // = 4.13 → 4 chunks of 1800 s.
        assert_eq!(compute_chunk_end_time(0, 435_000, H2, 4.0), 1_800_000);
        // Nearly the whole range used: at most one chunk fits.
        assert_eq!(compute_chunk_end_time(0, H2 - 10, H2, 4.0), H2);
        assert_eq!(compute_chunk_end_time(100, 100, 100, 4.0), 100);
        // NaN (0/0) converts like Go on amd64.
        assert_eq!(compute_chunk_end_time(5, 4, 5, 4.0), i64::MIN);
        // +Inf chunks fit: the end is the start.
        assert_eq!(compute_chunk_end_time(5, 4, 6, 4.0), 5);
    }

    #[test]
    fn go_conversion_edges() {
        assert_eq!(go_f64_to_i64(-1.9), -1);
        assert_eq!(go_f64_to_i64(1e300), i64::MIN);
        assert_eq!(go_f64_to_i64(-9_223_372_036_854_775_808.0), i64::MIN);
        assert_eq!(
            go_f64_to_i64(9_223_372_036_854_774_784.0),
            9_223_372_036_854_774_784
        );
    }

    #[test]
    fn regular_15s_scrapes_split_the_range_evenly() {
        // 2 h of 15 s samples = 480 samples: the prediction at 30 samples gives 4 chunks
        // of 30 min, i.e. 120 samples each.
        let ts: Vec<i64> = (0..480).map(|i| i * 15_000).collect();
        let got = chunks(&ts, &CutOptions::default(), 2);
        assert_eq!(
            got.iter().map(|c| c.2).collect::<Vec<_>>(),
            [120, 120, 120, 120]
        );
        assert_eq!(got[1].0, 1_800_000);
        // The next range starts a new chunk at its boundary.
        let ts: Vec<i64> = (0..500).map(|i| i * 15_000).collect();
        let got = chunks(&ts, &CutOptions::default(), 2);
        assert_eq!(got.last().map(|c| (c.0, c.2)), Some((H2, 20)));
    }

    #[test]
    fn samples_faster_than_predicted_are_cut_at_twice_the_target() {
        // 30 samples at 60 s predict one chunk for the whole range; then 1 s samples arrive.
        let mut ts: Vec<i64> = (0..30).map(|i| i * 60_000).collect();
        let last = ts[29];
        ts.extend((1..=600).map(|i| last + i * 1000));
        let got = chunks(&ts, &CutOptions::default(), 2);
        assert_eq!(got[0].2, 240);
        assert_eq!(got[1].0, ts[240]);
    }

    #[test]
    fn byte_cap_cuts_before_the_append_that_could_overflow() {
        // 10 bytes per sample: the chunk is cut once it is longer than 1005 bytes.
        let ts: Vec<i64> = (0..300).map(|i| i * 1000).collect();
        let opts = CutOptions {
            chunk_range: i64::MAX / 4,
            samples_per_chunk: 1000,
        };
        let got = chunks(&ts, &opts, 10);
        // 2 + 10 * 100 = 1002 <= 1005 → append the 101st; 1012 > 1005 → cut.
        assert_eq!(got[0].2, 101);
    }

    #[test]
    fn the_first_sample_and_a_missing_chunk_cut() {
        let mut c = ChunkCutter::default();
        let opts = CutOptions::default();
        assert!(c.cut_before(None, 10, &opts));
        assert_eq!(c.next_at(), H2);
        // An empty restored chunk is reused, with the range of the new sample.
        let empty = OpenChunkInfo {
            min_t: 0,
            max_t: i64::MIN,
            num_samples: 0,
            bytes_len: 2,
        };
        let mut c = ChunkCutter::with_next_at(-5);
        assert!(!c.cut_before(Some(&empty), 3 * H2 + 1, &opts));
        assert_eq!(c.next_at(), 4 * H2);
        // After a snapshot, next_at = max time forces a cut on the next sample.
        let full = OpenChunkInfo {
            min_t: 0,
            max_t: 100,
            num_samples: 7,
            bytes_len: 50,
        };
        let mut c = ChunkCutter::with_next_at(100);
        assert!(c.cut_before(Some(&full), 101, &opts));
        assert_eq!(c.next_at(), H2);
    }

    #[test]
    fn chunks_end_before_the_range_end_of_their_first_sample() {
        let ts: Vec<i64> = (-400..400).map(|i| i * 30_000).collect();
        let got = chunks(&ts, &CutOptions::default(), 2);
        for &(min_t, max_t, _) in &got {
            assert!(max_t < range_for_timestamp(min_t, H2), "{min_t}..{max_t}");
        }
        // With truncating division a chunk starting in (-4h, -2h] gets the bound 0, so it
        // may run past -2h: Prometheus does not floor-align negative ranges.
        assert!(
            got.iter()
                .any(|&(min_t, max_t, _)| min_t <= -H2 && max_t > -H2),
            "{got:?}"
        );
        // (-2h, 2h) is a single range, so chunks may cross 0 too, but none crosses 2 h.
        assert!(
            got.iter().any(|&(min_t, max_t, _)| min_t < 0 && max_t >= 0),
            "{got:?}"
        );
        assert!(
            got.iter()
                .all(|&(min_t, max_t, _)| !(min_t < H2 && max_t >= H2)),
            "{got:?}"
        );
    }

    #[test]
    fn options_validate() {
        assert!(CutOptions::default().validate().is_ok());
        assert!(
            CutOptions {
                chunk_range: 0,
                ..CutOptions::default()
            }
            .validate()
            .is_err()
        );
        assert!(
            CutOptions {
                samples_per_chunk: 0,
                ..CutOptions::default()
            }
            .validate()
            .is_err()
        );
    }

    #[test]
    fn cutter_is_eight_bytes() {
        assert_eq!(std::mem::size_of::<ChunkCutter>(), 8);
    }
}
