//! Memory per active series, measured from the process (resident set size).
//!
//! Creates `HEAD_MEMORY_SERIES` (default 1 000 000) Kubernetes-shaped series and appends
//! 120 samples to each (a full open chunk), then prints the RSS growth per series.
//! Run with `cargo bench -p tsdb --bench head_memory`.

use prometheus_client::registry::Registry;
use tsdb::labels::Labels;
use tsdb::{Head, Options};

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("statm");
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .expect("rss field")
        .parse()
        .expect("number");
    pages * 4096
}

fn main() {
    // `cargo bench` passes `--bench`; ignore arguments.
    let n: usize = std::env::var("HEAD_MEMORY_SERIES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let labels: Vec<Labels> = (0..n)
        .map(|i| {
            let pod = i / 10;
            Labels::from_pairs(&[
                (
                    "__name__",
                    format!("container_metric_{}_total", i % 10).as_str(),
                ),
                ("container", "app"),
                (
                    "instance",
                    &format!("10.0.{}.{}:10250", (pod / 30) % 256, pod % 30),
                ),
                ("job", "kubelet"),
                ("namespace", &format!("ns-{}", pod % 50)),
                ("node", &format!("node-{}", pod % 100)),
                ("pod", &format!("app-{pod}-5f7c9d-xk2p9")),
            ])
        })
        .collect();
    let base = rss_bytes();
    let head = Head::new(&Options::default(), &mut Registry::default()).expect("head");
    let mut refs = vec![0u64; n];
    let mut counter = vec![0f64; n];
    for step in 0..120i64 {
        let mut app = head.appender();
        for (i, l) in labels.iter().enumerate() {
            counter[i] += ((i as i64 + step) % 5) as f64;
            let t = step * 15_000 + (i % 1000) as i64;
            refs[i] = app.add(refs[i], l, t, counter[i]).expect("append");
        }
        app.commit_batch().expect("commit");
    }
    let grown = rss_bytes().saturating_sub(base);
    // The label sets built above are input, not head memory: they existed before `base`.
    println!(
        "series={n} samples_per_series=120 rss_growth={} MiB bytes_per_series={}",
        grown >> 20,
        grown / n as u64
    );
    drop(head);
}
