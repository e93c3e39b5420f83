//! Head append throughput for existing series (samples/s on one core), with and without
//! the WAL. Each iteration appends one sample to each of 10 000 series and commits.

use criterion::{BatchSize, Criterion, Throughput};
use prometheus_client::registry::Registry;
use tsdb::labels::Labels;
use tsdb::wal::SyncPolicy;
use tsdb::{Db, Options};

const SERIES: usize = 10_000;

fn labels() -> Vec<Labels> {
    (0..SERIES)
        .map(|i| {
            Labels::from_pairs(&[
                ("__name__", format!("metric_{}", i % 100).as_str()),
                ("instance", &format!("10.0.{}.{}:9100", i / 250, i % 250)),
                ("job", "node"),
                ("namespace", &format!("ns-{}", i % 20)),
            ])
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("head_append");
    g.throughput(Throughput::Elements(SERIES as u64));
    for (name, wal) in [("no_wal", false), ("wal_sync_never", true)] {
        let dir = tempfile::tempdir().expect("tempdir");
        let opts = Options {
            wal_enabled: wal,
            wal_sync: SyncPolicy::Never,
            ..Options::default()
        };
        let db = Db::open(dir.path(), opts, &mut Registry::default()).expect("open");
        let ls = labels();
        let mut refs = vec![0u64; SERIES];
        let mut t = 0i64;
        let mut app = db.appender();
        for (i, l) in ls.iter().enumerate() {
            refs[i] = app.add(0, l, t, 0.0).expect("create");
        }
        app.commit_batch().expect("commit");
        let mut v = 0.0;
        g.bench_function(name, |b| {
            b.iter_batched(
                || {
                    t += 15_000;
                    v += 1.0;
                    (t, v)
                },
                |(t, v)| {
                    let mut app = db.appender();
                    for (i, l) in ls.iter().enumerate() {
                        app.add(refs[i], l, t, v + (i % 7) as f64).expect("append");
                    }
                    app.commit_batch().expect("commit");
                },
                BatchSize::SmallInput,
            )
        });
        db.close().expect("close");
    }
    g.finish();
}

// Written out instead of `criterion_group!`, whose generated `pub fn` has no doc comment.
fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
}
