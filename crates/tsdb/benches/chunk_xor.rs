//! Criterion benchmark of XOR chunk encoding and decoding.
//!
//! One 120-sample chunk (a full head chunk at the default target) of realistic data: a
//! 15 s scrape interval with a few milliseconds of jitter, for a counter (small integer
//! increments) and a gauge (random floats with two decimals). Throughput is reported in
//! samples, so criterion's "elem/s" reads directly as ns/sample.

use criterion::{BatchSize, Criterion, Throughput};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::hint::black_box;
use tsdb::chunkenc::{SampleIterator, ValueType, XorAppender, XorIterator};

const SAMPLES: usize = 120;

fn timestamps(rng: &mut StdRng) -> Vec<i64> {
    let start = 1_700_000_000_000i64;
    (0..SAMPLES as i64)
        .map(|i| start + i * 15_000 + rng.random_range(-5..=5))
        .collect()
}

fn counter(rng: &mut StdRng) -> Vec<(i64, f64)> {
    let mut v = 1_000.0;
    timestamps(rng)
        .into_iter()
        .map(|t| {
            v += f64::from(rng.random_range(0u32..20));
            (t, v)
        })
        .collect()
}

fn gauge(rng: &mut StdRng) -> Vec<(i64, f64)> {
    timestamps(rng)
        .into_iter()
        .map(|t| (t, (rng.random_range(0.0..100.0f64) * 100.0).round() / 100.0))
        .collect()
}

fn encode(samples: &[(i64, f64)]) -> XorAppender {
    let mut app = XorAppender::new();
    for &(t, v) in samples {
        app.append(t, v);
    }
    app
}

fn bench(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(15);
    let data = [("counter", counter(&mut rng)), ("gauge", gauge(&mut rng))];
    let mut g = c.benchmark_group("xor_chunk");
    g.throughput(Throughput::Elements(SAMPLES as u64));
    for (name, samples) in &data {
        g.bench_function(format!("encode/{name}"), |b| {
            b.iter(|| encode(black_box(samples)));
        });
        let chunk = encode(samples).into_bytes();
        g.bench_function(format!("decode/{name}"), |b| {
            b.iter(|| {
                let mut it = XorIterator::new(black_box(chunk.as_slice()));
                let mut sum = 0.0;
                while it.next() == ValueType::Float {
                    sum += it.at().1;
                }
                sum
            });
        });
        g.bench_function(format!("reopen/{name}"), |b| {
            b.iter_batched(
                || chunk.clone(),
                |bytes| XorAppender::from_bytes(bytes).expect("valid chunk"),
                BatchSize::SmallInput,
            );
        });
    }
    g.finish();
}

// Written out instead of `criterion_group!`, whose generated `pub fn` has no doc comment.
fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
}
