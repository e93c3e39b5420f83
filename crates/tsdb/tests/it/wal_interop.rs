//! WAL segments written record by record (no head) are read by `promtool tsdb dump`:
//! an uncompressed record and a compressed record spanning pages, across two segments.
//! The head-level interop tests, both directions, are in `prometheus_interop.rs`.

use std::collections::BTreeSet;
use std::process::Command;

use tsdb::labels::Labels;
use tsdb::record::{self, RefSample, RefSeries};
use tsdb::wal::{self, Wal, WalMetrics, WalOptions};

#[test]
fn wal_interop_promtool_dumps_our_wal() {
    let Some(bin) = crate::util::reference_bin_dir() else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let opts = WalOptions {
        segment_size: 4 * wal::PAGE_SIZE,
        compression: true,
    };
    let mut w = Wal::open(&data.path().join("wal"), opts, WalMetrics::unregistered()).unwrap();
    let series: Vec<RefSeries> = ["a", "b"]
        .iter()
        .enumerate()
        .map(|(i, job)| RefSeries {
            series_ref: i as u64 + 1,
            labels: Labels::from_pairs(&[("__name__", "tsdbd_test"), ("job", job)]),
        })
        .collect();
    let t0 = 1_700_000_000_000i64;
    let mut buf = Vec::new();
    record::encode_series(&series, &mut buf);
    // A small record (stored uncompressed) and a big one (compressed, several pages),
    // with refs and timestamps going down as well as up (negative deltas).
    let small = vec![
        RefSample {
            series_ref: 2,
            t: t0 + 15_000,
            v: -2.5,
        },
        RefSample {
            series_ref: 1,
            t: t0,
            v: 1.0,
        },
    ];
    let big: Vec<RefSample> = (1..2000)
        .map(|i| RefSample {
            series_ref: 1 + (i % 2) as u64,
            t: t0 + 15_000 * (i + 1),
            v: i as f64,
        })
        .collect();
    let (mut s1, mut s2) = (Vec::new(), Vec::new());
    record::encode_samples(&small, &mut s1);
    record::encode_samples(&big, &mut s2);
    w.log(&[&buf, &s1]).unwrap();
    w.next_segment().unwrap();
    w.log(&[&s2]).unwrap();
    w.close().unwrap();

    let out = Command::new(bin.join("promtool"))
        .args(["tsdb", "dump"])
        .arg(data.path())
        .output()
        .expect("run promtool");
    assert!(
        out.status.success(),
        "promtool failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let got: BTreeSet<String> = stdout.lines().map(str::to_string).collect();
    let want: BTreeSet<String> = small
        .iter()
        .chain(&big)
        .map(|s| {
            let job = if s.series_ref == 1 { "a" } else { "b" };
            format!("{{__name__=\"tsdbd_test\", job=\"{job}\"}} {} {}", s.v, s.t)
        })
        .collect();
    assert_eq!(got.len(), want.len(), "promtool printed:\n{stdout}");
    assert_eq!(got, want);
}
