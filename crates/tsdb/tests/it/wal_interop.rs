//! WAL interoperability with the reference Prometheus 3.5: `promtool tsdb dump` reads
//! a WAL we wrote, and we read and decode a WAL a real Prometheus wrote.
//!
//! The binaries come from `$PROMTOOL` (and `prometheus` beside it) or from
//! `scripts/install-reference-prometheus.sh`. Without them the tests skip with a
//! message, except under `CI=true`, where they fail.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tsdb::labels::{Labels, SymbolTable};
use tsdb::record::{self, RecordType, RefSample, RefSeries};
use tsdb::wal::{self, Wal, WalMetrics, WalOptions, WalReader};

/// The directory holding `promtool` and `prometheus`, or `None` (after deciding
/// whether that fails the test).
fn reference_bin_dir() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("PROMTOOL") {
        let p = PathBuf::from(p);
        return Some(p.parent().map(Path::to_path_buf).unwrap_or_default());
    }
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/install-reference-prometheus.sh");
    let found = Command::new("bash")
        .arg(&script)
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
        .filter(|d| d.join("promtool").is_file());
    if found.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "reference promtool not found (set PROMTOOL or run {})",
            script.display()
        );
        eprintln!("skipping: reference promtool not found (set PROMTOOL)");
    }
    found
}

#[test]
fn wal_interop_promtool_dumps_our_wal() {
    let Some(bin) = reference_bin_dir() else {
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

#[test]
fn wal_interop_we_read_a_prometheus_wal() {
    let Some(bin) = reference_bin_dir() else {
        return;
    };
    let prometheus = bin.join("prometheus");
    if !prometheus.is_file() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "no prometheus beside promtool"
        );
        eprintln!("skipping: no prometheus binary in {}", bin.display());
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = data.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: self\n    \
             static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
        ),
    )
    .unwrap();
    let db = data.path().join("db");
    let mut child = Command::new(&prometheus)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", db.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start prometheus");
    let wal_dir = db.join("wal");
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut found = None;
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(300));
        // Prometheus is still writing: a torn tail just means "not yet".
        if let Ok(Some(f)) = decode_wal(&wal_dir)
            && f.up_samples > 0
        {
            found = Some(f);
            break;
        }
    }
    let _ = child.kill(); // SIGKILL: what Prometheus wrote is already in the files.
    let _ = child.wait();
    assert!(
        found.is_some(),
        "no samples of `up` in Prometheus's WAL within 30s"
    );
    // After the kill the whole WAL reads cleanly and every record decodes.
    let f = decode_wal(&wal_dir).expect("a clean WAL").expect("records");
    assert!(f.series > 10 && f.samples > 10 && f.up_samples > 0, "{f:?}");
}

#[derive(Debug)]
struct Found {
    series: usize,
    samples: usize,
    up_samples: usize,
}

/// Reads and decodes every record; `Ok(None)` if there is no WAL yet.
fn decode_wal(dir: &Path) -> tsdb::Result<Option<Found>> {
    if wal::segments(dir)?.is_empty() {
        return Ok(None);
    }
    let syms = SymbolTable::new();
    let mut r = WalReader::open(dir, None, None)?;
    let mut f = Found {
        series: 0,
        samples: 0,
        up_samples: 0,
    };
    let mut up_refs = BTreeSet::new();
    while let Some(rec) = r.next_record()? {
        match record::record_type(rec) {
            RecordType::Series => {
                let mut v = Vec::new();
                record::decode_series(rec, &syms, &mut v)?;
                f.series += v.len();
                up_refs.extend(
                    v.iter()
                        .filter(|s| s.labels.get("__name__") == Some("up"))
                        .map(|s| s.series_ref),
                );
            }
            RecordType::Samples => {
                let mut v = Vec::new();
                record::decode_samples(rec, &mut v)?;
                f.samples += v.len();
                f.up_samples += v.iter().filter(|s| up_refs.contains(&s.series_ref)).count();
            }
            RecordType::Metadata => record::decode_metadata(rec, &mut Vec::new())?,
            RecordType::Exemplars => record::decode_exemplars(rec, &syms, &mut Vec::new())?,
            RecordType::HistogramSamples | RecordType::CustomBucketsHistogramSamples => {
                record::decode_histogram_samples(rec, &mut Vec::new())?
            }
            RecordType::FloatHistogramSamples | RecordType::CustomBucketsFloatHistogramSamples => {
                record::decode_float_histogram_samples(rec, &mut Vec::new())?
            }
            RecordType::Tombstones => record::decode_tombstones(rec, &mut Vec::new())?,
            t => panic!("unexpected record type {t:?} in a Prometheus WAL"),
        }
    }
    Ok(Some(f))
}
