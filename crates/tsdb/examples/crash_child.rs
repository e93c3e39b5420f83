//! Child process of the crash test (`tests/it/crash.rs`): appends batches to a database
//! in a loop and prints `ack <batch>` after each commit returned. The parent kills it with
//! SIGKILL at a random moment and checks that every acknowledged batch survived.
//!
//! Usage: `crash_child DIR FIRST_BATCH SERIES`. Batch `i` appends, for every series `s`,
//! the sample `(t = i * 1000, v = i)`.

use std::io::Write;

use prometheus_client::registry::Registry;
use tsdb::labels::Labels;
use tsdb::{Db, Options};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, dir, first, series] = &args[..] else {
        eprintln!("usage: crash_child DIR FIRST_BATCH SERIES");
        std::process::exit(2);
    };
    let first: i64 = first.parse().expect("FIRST_BATCH is a number");
    let series: usize = series.parse().expect("SERIES is a number");
    let opts = Options {
        wal_segment_size: 256 * 1024,
        ..Options::default()
    };
    let db = Db::open(std::path::Path::new(dir), opts, &mut Registry::default()).expect("open db");
    let labels: Vec<Labels> = (0..series)
        .map(|s| Labels::from_pairs(&[("__name__", "crash_test"), ("series", &s.to_string())]))
        .collect();
    let mut refs = vec![0u64; series];
    let mut out = std::io::stdout().lock();
    for i in first.. {
        let mut app = db.appender();
        for (s, l) in labels.iter().enumerate() {
            refs[s] = app.add(refs[s], l, i * 1000, i as f64).expect("append");
        }
        app.commit_batch().expect("commit");
        writeln!(out, "ack {i}").expect("stdout");
        out.flush().expect("stdout");
    }
}
