//! PromQL engine query benchmarks over Kubernetes-shaped data in the head (issue 3).
//!
//! Data, built once outside the measurement (15 s scrape interval, 2 h = 480 samples per
//! series):
//! - 10 000 `http_requests_total` counters (20 jobs, 50 namespaces, one pod each);
//! - 200 classic histograms `request_duration_seconds_bucket` × 12 buckets (10 jobs);
//! - in a second head, 100 000 `up` series with 3 samples each.
//!
//! Group `query` holds the issue's four queries; throughput is the number of stored
//! samples the query has to read (series for the regex selector). Group `query_phases`
//! splits the first query into its phases over 1 000 of the counters, to see where time
//! goes: a raw storage scan (selection + chunk decoding, no engine), the plain selector,
//! the selector summed by job, `count_over_time` and `rate` (range selection + function),
//! each with and without `sum by (job)`.

use std::time::Duration;

use criterion::{BenchmarkGroup, Criterion, Throughput, measurement::WallTime};
use prometheus_client::registry::Registry;
use promql::value::Value;
use promql::{Engine, EngineOptions, QueryContext};
use tsdb::Head;
use tsdb::chunkenc::{SampleIterator, ValueType};
use tsdb::labels::{Labels, MatchType, Matcher};
use tsdb::storage::Queryable;

/// Start of the data: a realistic, scrape-aligned timestamp (ms).
const T0: i64 = 1_700_000_000_000;
/// Scrape interval (ms).
const SCRAPE: i64 = 15_000;
/// Samples per series: 2 h at 15 s.
const STEPS: i64 = 480;
/// Timestamp of the last sample.
const TEND: i64 = T0 + (STEPS - 1) * SCRAPE;

const COUNTERS: usize = 10_000;
const JOBS: usize = 20;
const HISTOGRAMS: usize = 200;
const BUCKETS: [&str; 12] = [
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf",
];
/// Share of observations at or below each bucket bound (the last is `+Inf`).
const CDF: [f64; 12] = [
    0.02, 0.05, 0.12, 0.25, 0.45, 0.70, 0.85, 0.93, 0.97, 0.99, 0.998, 1.0,
];
/// Counters in the `query_phases` group.
const PHASE_COUNTERS: usize = 1_000;
const UP_SERIES: usize = 100_000;
const UP_STEPS: i64 = 3;

/// A deterministic pseudo-random sequence (64-bit LCG), so runs are comparable.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
}

fn new_head() -> Head {
    let opts = tsdb::Options {
        wal_enabled: false,
        block_range: 24 * 3600 * 1000,
        ..Default::default()
    };
    Head::new(&opts, &mut Registry::default()).expect("head")
}

/// Appends `value(series, step)` for every series at every step, one batch per step.
fn fill(head: &Head, labels: &[Labels], steps: i64, mut value: impl FnMut(usize, i64) -> f64) {
    let mut refs = vec![0u64; labels.len()];
    for k in 0..steps {
        let t = T0 + k * SCRAPE;
        let mut app = head.appender();
        for (i, l) in labels.iter().enumerate() {
            refs[i] = app.add(refs[i], l, t, value(i, k)).expect("append");
        }
        app.commit_batch().expect("commit");
    }
}

/// A head with `counters` counters and `histograms` classic histograms.
fn k8s_head(counters: usize, histograms: usize) -> Head {
    let head = new_head();
    let mut labels: Vec<Labels> = (0..counters)
        .map(|i| {
            Labels::from_pairs(&[
                ("__name__", "http_requests_total"),
                ("instance", &format!("10.1.{}.{}:8080", i / 250, i % 250)),
                ("job", &format!("job-{}", i % JOBS)),
                ("namespace", &format!("ns-{}", i % 50)),
                ("pod", &format!("app-{i}-7d9f8b")),
            ])
        })
        .collect();
    for h in 0..histograms {
        for le in BUCKETS {
            labels.push(Labels::from_pairs(&[
                ("__name__", "request_duration_seconds_bucket"),
                ("instance", &format!("10.2.0.{h}:8080")),
                ("job", &format!("job-{}", h % 10)),
                ("le", le),
                ("pod", &format!("api-{h}-5c6d7e")),
            ]));
        }
    }
    let mut rng = Lcg(42);
    let mut totals = vec![0.0f64; counters];
    let mut observations = vec![0.0f64; histograms];
    fill(&head, &labels, STEPS, |i, k| {
        if i < counters {
            // Integer increments around a per-series rate; one series in 97 restarts
            // (counter reset) half way through.
            if k == STEPS / 2 && i % 97 == 0 {
                totals[i] = 0.0;
            }
            totals[i] += (1 + i % 10) as f64 * 15.0 + (rng.next() % 7) as f64;
            totals[i]
        } else {
            let h = (i - counters) / BUCKETS.len();
            let b = (i - counters) % BUCKETS.len();
            if b == 0 {
                observations[h] += (50 + rng.next() % 50) as f64;
            }
            (observations[h] * CDF[b]).floor()
        }
    });
    head
}

/// The head with 100 000 `up` series.
fn up_head() -> Head {
    let head = new_head();
    let labels: Vec<Labels> = (0..UP_SERIES)
        .map(|i| {
            Labels::from_pairs(&[
                ("__name__", "up"),
                (
                    "instance",
                    &format!("10.{}.{}.{}:9100", i / 65536, (i / 256) % 256, i % 256),
                ),
                ("job", &format!("job-{}", i % 50)),
                ("namespace", &format!("ns-{}", i % 200)),
                ("pod", &format!("app-{i}")),
            ])
        })
        .collect();
    fill(&head, &labels, UP_STEPS, |_, _| 1.0);
    head
}

/// Runs `query` once (range query if `step > 0`), failing loudly if the engine rejects it,
/// and returns the number of series and points in the result.
fn check(engine: &Engine, head: &Head, query: &str, start: i64, end: i64, step: i64) -> String {
    let ctx = QueryContext::default();
    let res = if step > 0 {
        engine.range_query(head, query, start, end, step, &ctx)
    } else {
        engine.instant_query(head, query, end, &ctx)
    };
    let res = res.unwrap_or_else(|e| panic!("{query}: {e}"));
    match &res.value {
        Value::Matrix(m) => format!(
            "{} series, {} points",
            m.len(),
            m.iter().map(|s| s.points.len()).sum::<usize>()
        ),
        Value::Vector(v) => format!("{} samples, first {:?}", v.len(), v.first().map(|s| s.v)),
        other => format!("{other:?}"),
    }
}

/// Adds one benchmark of `query` over `head` to `g`.
fn bench_query(
    g: &mut BenchmarkGroup<'_, WallTime>,
    engine: &Engine,
    head: &Head,
    name: &str,
    query: &str,
    (start, end, step): (i64, i64, i64),
    elements: u64,
) {
    g.throughput(Throughput::Elements(elements));
    let ctx = QueryContext::default();
    let mut checked = false;
    g.bench_function(name, |b| {
        // Here rather than before `bench_function`, so that benchmarks filtered out on the
        // command line (and profiles of one benchmark) do not run the query.
        if !checked {
            let res = check(engine, head, query, start, end, step);
            eprintln!("{name}: {query} -> {res}");
            checked = true;
        }
        b.iter(|| {
            if step > 0 {
                engine.range_query(head, query, start, end, step, &ctx)
            } else {
                engine.instant_query(head, query, end, &ctx)
            }
            .expect("query")
        })
    });
}

/// Reads every sample of every `http_requests_total` series straight from storage.
fn scan(head: &Head) -> (usize, f64) {
    let q = Queryable::querier(head, T0 - 300_000, TEND).expect("querier");
    let m = Matcher::new(MatchType::Equal, "__name__", "http_requests_total").expect("matcher");
    let set = q.select(false, None, &[m]).expect("select");
    let (mut n, mut sum) = (0, 0.0);
    for s in set {
        let s = s.expect("series");
        let mut it = s.iterator();
        while it.next() == ValueType::Float {
            sum += it.at().1;
            n += 1;
        }
    }
    (n, sum)
}

fn bench(c: &mut Criterion) {
    let engine = Engine::new(EngineOptions::default());
    let head = k8s_head(COUNTERS, HISTOGRAMS);
    let range15 = (T0, TEND, SCRAPE);
    let range60 = (T0, TEND, 60_000);
    let counter_samples = COUNTERS as u64 * STEPS as u64;

    let mut g = c.benchmark_group("query");
    g.sample_size(10);
    g.warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(5));
    bench_query(
        &mut g,
        &engine,
        &head,
        "sum_by_job_rate_10k_2h_step15s",
        "sum by (job) (rate(http_requests_total[5m]))",
        range15,
        counter_samples,
    );
    bench_query(
        &mut g,
        &engine,
        &head,
        "histogram_quantile_200x12_2h_step60s",
        "histogram_quantile(0.99, sum by (le, job) (rate(request_duration_seconds_bucket[5m])))",
        range60,
        (HISTOGRAMS * BUCKETS.len()) as u64 * STEPS as u64,
    );
    // `rate(x[5m])` at the last sample reads the 20 samples in (TEND - 5m, TEND].
    bench_query(
        &mut g,
        &engine,
        &head,
        "topk_rate_10k_instant",
        "topk(10, rate(http_requests_total[5m]))",
        (TEND, TEND, 0),
        COUNTERS as u64 * 20,
    );
    // The gauge shapes of the dashboard: every pod its own group (the whole-system
    // benchmark's `topk(5, max by (pod) (container_memory_working_set_bytes))`), and
    // one group per job over the range.
    bench_query(
        &mut g,
        &engine,
        &head,
        "topk_max_by_pod_10k_instant",
        "topk(5, max by (pod) (http_requests_total))",
        (TEND, TEND, 0),
        COUNTERS as u64,
    );
    bench_query(
        &mut g,
        &engine,
        &head,
        "max_by_job_10k_2h_step15s",
        "max by (job) (http_requests_total)",
        range15,
        counter_samples,
    );
    let up = up_head();
    // `app-1.*` matches app-1, app-10…19, app-100…199, …: 11 111 of the 100 000 pods.
    bench_query(
        &mut g,
        &engine,
        &up,
        "count_regex_100k_instant",
        r#"count(up{pod=~"app-1.*"})"#,
        (0, T0 + (UP_STEPS - 1) * SCRAPE, 0),
        UP_SERIES as u64,
    );
    g.finish();
    drop((up, head));

    // The phases on a tenth of the counters, so that each takes well under a second.
    let head = k8s_head(PHASE_COUNTERS, 0);
    let mut g = c.benchmark_group("query_phases");
    g.sample_size(10);
    g.warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(5));
    g.throughput(Throughput::Elements(PHASE_COUNTERS as u64 * STEPS as u64));
    let mut checked = false;
    g.bench_function("storage_scan", |b| {
        if !checked {
            eprintln!("storage_scan: (samples, sum) = {:?}", scan(&head));
            checked = true;
        }
        b.iter(|| scan(&head))
    });
    for (name, query) in [
        ("selector", "http_requests_total"),
        ("sum_by_job_selector", "sum by (job) (http_requests_total)"),
        (
            "count_over_time",
            "count_over_time(http_requests_total[5m])",
        ),
        (
            "sum_by_job_count_over_time",
            "sum by (job) (count_over_time(http_requests_total[5m]))",
        ),
        ("rate", "rate(http_requests_total[5m])"),
        (
            "sum_by_job_rate",
            "sum by (job) (rate(http_requests_total[5m]))",
        ),
    ] {
        bench_query(
            &mut g,
            &engine,
            &head,
            name,
            query,
            range15,
            PHASE_COUNTERS as u64 * STEPS as u64,
        );
    }
    g.finish();
}

// Written out instead of `criterion_group!`, whose generated `pub fn` has no doc comment.
fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
}
