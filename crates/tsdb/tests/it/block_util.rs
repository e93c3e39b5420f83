//! Helpers of the block tests: generated series, XOR chunks cut like the head cuts them,
//! and writing a block from them.

use std::collections::BTreeSet;
use std::path::Path;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tsdb::block::{BlockMeta, BlockWriter, ChunkMeta, Compaction};
use tsdb::chunkenc::XorAppender;
use tsdb::labels::Labels;
use ulid::Ulid;

use crate::util::Sample;

/// The bits Go's `math.NaN()` has (what Prometheus writes for a parsed `NaN`).
pub(crate) const GO_NAN: u64 = 0x7ff8_0000_0000_0001;
/// Prometheus's staleness marker.
pub(crate) const STALE_NAN: u64 = 0x7ff0_0000_0000_0002;

/// A series to write: labels and strictly increasing samples.
#[derive(Debug, Clone)]
pub(crate) struct TestSeries {
    pub(crate) labels: Labels,
    pub(crate) samples: Vec<(i64, f64)>,
}

/// One encoded chunk: min time, max time, XOR bytes.
pub(crate) type EncodedChunk = (i64, i64, Vec<u8>);

/// Encodes samples into XOR chunks of at most `per_chunk` samples.
pub(crate) fn encode_chunks(samples: &[(i64, f64)], per_chunk: usize) -> Vec<EncodedChunk> {
    samples
        .chunks(per_chunk.max(1))
        .map(|part| {
            let mut app = XorAppender::new();
            for &(t, v) in part {
                app.append(t, v);
            }
            (part[0].0, part[part.len() - 1].0, app.into_bytes())
        })
        .collect()
}

/// Every label name and value, sorted and unique.
pub(crate) fn symbols_of<'a>(labels: impl IntoIterator<Item = &'a Labels>) -> Vec<String> {
    let mut set = BTreeSet::new();
    for ls in labels {
        for l in ls {
            set.insert(l.name.to_string());
            set.insert(l.value.to_string());
        }
    }
    set.into_iter().collect()
}

/// Writes `series` (sorted here) as a level-1 block in `parent`, chunks of 120 samples;
/// the block covers the samples' range, `maxTime` one past the last sample.
pub(crate) fn write_block(parent: &Path, series: &[TestSeries]) -> BlockMeta {
    let mut series: Vec<&TestSeries> = series.iter().filter(|s| !s.samples.is_empty()).collect();
    series.sort_by(|a, b| a.labels.cmp(&b.labels));
    let ulid = Ulid::new();
    let mut w = BlockWriter::new(parent, ulid, symbols_of(series.iter().map(|s| &s.labels)))
        .expect("block writer");
    let (mut lo, mut hi) = (i64::MAX, i64::MIN);
    for s in &series {
        let chunks = encode_chunks(&s.samples, 120);
        let metas: Vec<ChunkMeta<'_>> = chunks
            .iter()
            .map(|(a, b, d)| ChunkMeta {
                min_t: *a,
                max_t: *b,
                data: d,
            })
            .collect();
        w.add_series(&s.labels, &metas).expect("add series");
        lo = lo.min(s.samples[0].0);
        hi = hi.max(s.samples[s.samples.len() - 1].0);
    }
    if series.is_empty() {
        (lo, hi) = (0, 0);
    }
    w.finish(lo, hi + 1, Compaction::level1(ulid))
        .expect("finish block")
}

/// The samples of `series` as `(labels, t, value bits)`, sorted.
pub(crate) fn expected_samples(series: &[TestSeries]) -> Vec<Sample> {
    let mut out: Vec<Sample> = series
        .iter()
        .flat_map(|s| {
            let name = s.labels.to_string();
            s.samples
                .iter()
                .map(move |&(t, v)| (name.clone(), t, v.to_bits()))
        })
        .collect();
    out.sort();
    out
}

/// NaN payloads print as plain `NaN` in Prometheus's tools: compare NaNs as one value.
pub(crate) fn nan_normalized(mut s: Vec<Sample>) -> Vec<Sample> {
    for x in &mut s {
        if f64::from_bits(x.2).is_nan() {
            x.2 = f64::NAN.to_bits();
        }
    }
    s
}

/// Kubernetes-shaped series: several metrics and label sets, 15 s samples from `start`
/// for `minutes`, with special values (NaN, stale markers, ±Inf, -0) in one series.
pub(crate) fn generate(seed: u64, start: i64, minutes: i64) -> Vec<TestSeries> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut out = Vec::new();
    let n = minutes * 4;
    for job in ["node", "kube-state-metrics", "api"] {
        for inst in 0..4 {
            for (metric, mode) in [
                ("http_requests_total", None),
                ("node_cpu_seconds_total", Some("idle")),
                ("node_cpu_seconds_total", Some("user")),
                ("up", None),
            ] {
                let mut pairs = vec![
                    ("__name__", metric.to_string()),
                    ("job", job.to_string()),
                    ("instance", format!("10.0.0.{inst}:9100")),
                ];
                if let Some(m) = mode {
                    pairs.push(("mode", m.to_string()));
                }
                if inst == 3 {
                    pairs.push(("namespace", "kube-system".into()));
                }
                let mut v = 0.0;
                // Series start at different times, some end early (churn).
                let first = rng.random_range(0..n / 4);
                let last = if inst == 2 { n / 2 } else { n };
                let samples = (first..last)
                    .map(|i| {
                        v += f64::from(rng.random_range(0u32..50));
                        (start + i * 15_000 + rng.random_range(0..3), v)
                    })
                    .collect();
                out.push(TestSeries {
                    labels: Labels::from_pairs(&pairs),
                    samples,
                });
            }
        }
    }
    let specials = [
        f64::from_bits(GO_NAN),
        f64::from_bits(STALE_NAN),
        f64::INFINITY,
        f64::NEG_INFINITY,
        -0.0,
        1e300,
        5e-324,
        0.1,
    ];
    out.push(TestSeries {
        labels: Labels::from_pairs(&[("__name__", "special_values"), ("job", "api")]),
        samples: (0..n)
            .map(|i| (start + i * 15_000, specials[i as usize % specials.len()]))
            .collect(),
    });
    out
}
