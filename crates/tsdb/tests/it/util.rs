//! Shared helpers: locating the reference Prometheus binaries, running a Prometheus
//! server on loopback, and reading every sample of a data directory.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tsdb::chunkenc::{SampleIterator, ValueType};
use tsdb::labels::{MatchType, Matcher};
use tsdb::storage::Queryable;

/// Whether this run is CI, where a missing external program is a failure.
pub(crate) fn is_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// The directory holding `prometheus` and `promtool` 3.5.3, or `None` (outside CI) when it
/// cannot be found or installed. Under `CI=true` a missing binary panics.
pub(crate) fn reference_bin_dir() -> Option<PathBuf> {
    if let Ok(d) = std::env::var("REFERENCE_PROMETHEUS_BIN") {
        let dir = PathBuf::from(d);
        if dir.join("promtool").is_file() && dir.join("prometheus").is_file() {
            return Some(dir);
        }
        return missing(&format!(
            "REFERENCE_PROMETHEUS_BIN={} lacks prometheus or promtool",
            dir.display()
        ));
    }
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/install-reference-prometheus.sh");
    let out = Command::new("bash")
        .arg(&script)
        .stderr(Stdio::inherit())
        .output();
    match out {
        Ok(o) if o.status.success() => {
            let dir = PathBuf::from(String::from_utf8_lossy(&o.stdout).trim());
            if dir.join("promtool").exists() && dir.join("prometheus").exists() {
                return Some(dir);
            }
            missing(&format!(
                "{} printed {dir:?}, which lacks the binaries",
                script.display()
            ))
        }
        Ok(o) => missing(&format!("{} failed with {}", script.display(), o.status)),
        Err(e) => missing(&format!("cannot run {}: {e}", script.display())),
    }
}

fn missing(why: &str) -> Option<PathBuf> {
    if is_ci() {
        panic!("reference Prometheus 3.5.3 is required under CI=true: {why}");
    }
    eprintln!("NOTE: skipping a check against the reference Prometheus: {why}");
    None
}

/// A free loopback port.
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind loopback")
        .local_addr()
        .expect("addr")
        .port()
}

/// A Prometheus server on loopback, killed on drop.
pub(crate) struct Prometheus {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub(crate) url: String,
}

impl Prometheus {
    /// Starts `prometheus` on `data_dir` with the given config text, waits until ready.
    pub(crate) fn start(bin: &Path, data_dir: &Path, config: &str, extra: &[&str]) -> Prometheus {
        let port = free_port();
        let cfg = data_dir.with_extension("yml");
        std::fs::write(&cfg, config.replace("PORT", &port.to_string())).expect("write config");
        let log = std::fs::File::create(data_dir.with_extension("log")).expect("log file");
        let child = Command::new(bin.join("prometheus"))
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!("--storage.tsdb.path={}", data_dir.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .args(extra)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start prometheus");
        let p = Prometheus {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if ureq::get(&format!("{}/-/ready", p.url)).call().is_ok() {
                return p;
            }
            assert!(
                Instant::now() < deadline,
                "prometheus did not become ready; see {}",
                data_dir.with_extension("log").display()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops the server with SIGTERM and waits for it to exit.
    pub(crate) fn stop(mut self) {
        // SAFETY: kill(2) with a pid we own; no memory is involved.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One sample with its value as raw bits, so NaN payloads compare exactly.
pub(crate) type Sample = (String, i64, u64);

/// Every sample of a queryable, as `(labels, t, value bits)` sorted by labels then time.
pub(crate) fn all_samples(q: &dyn Queryable) -> Vec<Sample> {
    let querier = q.querier(i64::MIN, i64::MAX).expect("querier");
    let all = Matcher::new(MatchType::RegexMatch, "__name__", ".+").expect("matcher");
    let mut out = Vec::new();
    for s in querier.select(true, None, &[all]).expect("select") {
        let s = s.expect("series");
        let name = s.labels().to_string();
        let mut it = s.iterator();
        while it.next() == ValueType::Float {
            let (t, v) = it.at();
            out.push((name.clone(), t, v.to_bits()));
        }
        assert!(it.err().is_none(), "iterator error: {:?}", it.err());
    }
    out
}

/// Asserts two sample lists are equal, reporting sizes and the first difference only.
#[track_caller]
pub(crate) fn assert_same_samples(got: &[Sample], want: &[Sample], what: &str) {
    if got == want {
        return;
    }
    let first = got
        .iter()
        .zip(want)
        .position(|(a, b)| a != b)
        .unwrap_or(got.len().min(want.len()));
    panic!(
        "{what}: {} samples vs {} expected; first difference at index {first}: got {:?}, expected {:?}",
        got.len(),
        want.len(),
        got.get(first),
        want.get(first)
    );
}

/// Every sample of a Prometheus data directory as `promtool tsdb dump` prints it.
pub(crate) fn promtool_dump(bin: &Path, data_dir: &Path) -> Vec<Sample> {
    let out = Command::new(bin.join("promtool"))
        .args([
            "tsdb",
            "dump",
            "--min-time=-9223372036854775808",
            "--max-time=9223372036854775807",
        ])
        .arg(data_dir)
        .output()
        .expect("run promtool");
    assert!(
        out.status.success(),
        "promtool tsdb dump failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut samples: Vec<Sample> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(|line| {
            // `{a="b", c="d"} <value> <timestamp>`; label values may contain spaces.
            let close = line.rfind("} ").expect("labels end");
            let labels = &line[..=close];
            let mut rest = line[close + 2..].split(' ');
            let v = parse_go_float(rest.next().expect("value"));
            let t: i64 = rest.next().expect("timestamp").parse().expect("timestamp");
            (labels.to_string(), t, v.to_bits())
        })
        .collect();
    samples.sort();
    samples
}

fn parse_go_float(s: &str) -> f64 {
    match s {
        "NaN" => f64::NAN,
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        _ => s.parse().unwrap_or_else(|_| panic!("bad float {s:?}")),
    }
}
