//! End-to-end test support (package `e2e`): run the real `tsdbd` binary on loopback and
//! talk to it, and to the reference Prometheus, over HTTP.
//!
//! The scenarios live in `it/`: Prometheus remote-writing into tsdbd then both answering
//! the same queries, each opening a data directory the other wrote, and `kill -9` during
//! sustained remote write then WAL replay.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The `tsdbd` binary of this build profile (built by `cargo nextest run --workspace`).
pub fn tsdbd_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable");
    // target/<profile>/deps/it-<hash> → target/<profile>/tsdbd
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>");
    let bin = profile_dir.join("tsdbd");
    assert!(
        bin.is_file(),
        "{} is missing: build it with `cargo build --bin tsdbd` (the workspace test run builds it)",
        bin.display()
    );
    bin
}

/// The `tsdbctl` binary of this build profile (built by `cargo nextest run --workspace`).
pub fn tsdbctl_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable");
    // target/<profile>/deps/it-<hash> → target/<profile>/tsdbctl
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>");
    let bin = profile_dir.join("tsdbctl");
    assert!(
        bin.is_file(),
        "{} is missing: build it with `cargo build --bin tsdbctl` (the workspace test run builds it)",
        bin.display()
    );
    bin
}

/// A `tsdbd` process on a loopback port; its stderr goes to a temporary log file; killed
/// on drop.
#[derive(Debug)]
pub struct Tsdbd {
    child: Option<Child>,
    /// The port it listens on.
    pub port: u16,
    log: PathBuf,
    _logdir: tempfile::TempDir,
}

impl Tsdbd {
    /// Starts tsdbd on `dir` and a free port and waits until `/-/ready` answers 200.
    pub fn start(dir: &Path) -> Tsdbd {
        Tsdbd::start_on(dir, tsdb::testutil::free_port(), &[])
    }

    /// Starts tsdbd on `dir` and `port` with extra flags and waits until it is ready.
    pub fn start_on(dir: &Path, port: u16, extra: &[&str]) -> Tsdbd {
        let mut t = Tsdbd::launch_on(dir, port, extra);
        t.wait_ready();
        t
    }

    /// Starts `tsdbd --storage.tsdb.path DIR --web.listen-address 127.0.0.1:PORT EXTRA...`
    /// on a free port without waiting.
    pub fn launch(dir: &Path, extra: &[&str]) -> Tsdbd {
        Tsdbd::launch_on(dir, tsdb::testutil::free_port(), extra)
    }

    fn launch_on(dir: &Path, port: u16, extra: &[&str]) -> Tsdbd {
        let mut cmd = Command::new(tsdbd_bin());
        cmd.arg("--storage.tsdb.path")
            .arg(dir)
            .arg("--web.listen-address")
            .arg(format!("127.0.0.1:{port}"))
            .args(extra);
        Tsdbd::spawn(&mut cmd, port)
    }

    /// Starts the binary as `cmd` says (which must make it listen on `port`), without
    /// waiting.
    pub fn spawn(cmd: &mut Command, port: u16) -> Tsdbd {
        let logdir = tempfile::tempdir().expect("tempdir");
        let log = logdir.path().join("stderr.log");
        let child = cmd
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("start tsdbd");
        Tsdbd {
            child: Some(child),
            port,
            log,
            _logdir: logdir,
        }
    }

    /// `http://127.0.0.1:PORT` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// What the process wrote to stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The process id (for CPU and memory measurements).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Polls `probe` until it returns true (two minutes at most, so that a WAL replay on
    /// a loaded machine fits); panics with the log if the process exits first.
    pub fn wait_for(&mut self, what: &str, mut probe: impl FnMut(&Tsdbd) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(120);
        while Instant::now() < deadline {
            if probe(self) {
                return;
            }
            if let Some(status) = self
                .child
                .as_mut()
                .expect("running")
                .try_wait()
                .expect("wait")
            {
                panic!("tsdbd exited ({status}) before {what}:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("timed out waiting for {what}:\n{}", self.log());
    }

    /// Waits until `/-/ready` answers 200 over plain HTTP.
    pub fn wait_ready(&mut self) {
        let url = self.url("/-/ready");
        self.wait_for("readiness", |_| {
            ureq::get(&url).call().is_ok_and(|r| r.status() == 200)
        });
    }

    /// Sends `signal` and waits for the exit (30 s at most).
    pub fn signal(&mut self, signal: i32) -> ExitStatus {
        let pid = self.pid();
        // SAFETY: kill(2) on a child we own; no memory is involved.
        let sent = unsafe { libc::kill(pid as i32, signal) };
        assert_eq!(sent, 0, "kill({pid}, {signal})");
        let status = self.wait_exit(Duration::from_secs(30));
        self.child = None;
        status
    }

    /// Stops it with SIGTERM (graceful shutdown) and returns the exit status.
    pub fn stop(mut self) -> ExitStatus {
        self.signal(libc::SIGTERM)
    }

    /// Kills it with SIGKILL: no shutdown code runs.
    pub fn kill(mut self) {
        self.signal(libc::SIGKILL);
    }

    /// Waits for the process to exit by itself, at most `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .expect("running")
                .try_wait()
                .expect("wait")
            {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "tsdbd did not exit within {limit:?}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// An instant query at `t` (seconds); returns the whole JSON response.
    pub fn query(&self, q: &str, t: f64) -> Value {
        api_query(&self.url(""), q, Some(t))
    }
}

impl Drop for Tsdbd {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn get_json(url: &str, params: &[(&str, String)]) -> Value {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into();
    let mut req = agent.get(url);
    for (k, v) in params {
        req = req.query(*k, v);
    }
    let mut resp = req.call().unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let body = resp.body_mut().read_to_string().expect("body");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {url}: {e}: {body}"))
}

/// `GET base/api/v1/query` (at `t` seconds when given); returns the whole JSON response.
pub fn api_query(base: &str, q: &str, t: Option<f64>) -> Value {
    let mut p = vec![("query", q.to_owned())];
    if let Some(t) = t {
        p.push(("time", format!("{t:.3}")));
    }
    get_json(&format!("{base}/api/v1/query"), &p)
}

/// `GET base/api/v1/query_range`; returns the whole JSON response.
pub fn api_query_range(base: &str, q: &str, start: f64, end: f64, step: f64) -> Value {
    let p = [
        ("query", q.to_owned()),
        ("start", format!("{start:.3}")),
        ("end", format!("{end:.3}")),
        ("step", format!("{step}")),
    ];
    get_json(&format!("{base}/api/v1/query_range"), &p)
}

/// The `data.result` of a successful response, panicking with the response otherwise.
pub fn result(resp: &Value) -> &Value {
    assert_eq!(resp["status"], "success", "{resp}");
    &resp["data"]["result"]
}

/// Compares two `data.result` values (vector or matrix) of the same query: the same label
/// sets, the same timestamps, values equal within a relative 1e-9 (NaN equals NaN).
/// Matrices are compared in order (both sort them by labels); instant vectors as sets,
/// because Prometheus returns them in storage order, which is unspecified. Returns a
/// description of the first difference.
pub fn compare_results(a: &Value, b: &Value) -> Result<(), String> {
    let (Some(xs), Some(ys)) = (a.as_array(), b.as_array()) else {
        return compare_point(a, b);
    };
    let sorted = |v: &[Value]| {
        let mut v = v.to_vec();
        if v.iter().all(|s| s.get("value").is_some()) {
            v.sort_by_key(|s| s["metric"].to_string());
        }
        v
    };
    let (xs, ys) = (sorted(xs), sorted(ys));
    if xs.len() != ys.len() {
        return Err(format!("{} vs {} series", xs.len(), ys.len()));
    }
    for (x, y) in xs.iter().zip(&ys) {
        if x["metric"] != y["metric"] {
            return Err(format!("labels {} vs {}", x["metric"], y["metric"]));
        }
        if let (Some(px), Some(py)) = (x["values"].as_array(), y["values"].as_array()) {
            if px.len() != py.len() {
                return Err(format!(
                    "{}: {} vs {} points",
                    x["metric"],
                    px.len(),
                    py.len()
                ));
            }
            for (p, q) in px.iter().zip(py) {
                compare_point(p, q).map_err(|e| format!("{}: {e}", x["metric"]))?;
            }
        } else {
            compare_point(&x["value"], &y["value"]).map_err(|e| format!("{}: {e}", x["metric"]))?;
        }
    }
    Ok(())
}

/// Compares `[t, "v"]` pairs.
fn compare_point(p: &Value, q: &Value) -> Result<(), String> {
    if p[0] != q[0] {
        return Err(format!("timestamp {} vs {}", p[0], q[0]));
    }
    let parse = |v: &Value| -> f64 {
        v.as_str()
            .and_then(|s| match s {
                "+Inf" => Some(f64::INFINITY),
                "-Inf" => Some(f64::NEG_INFINITY),
                _ => s.parse().ok(),
            })
            .unwrap_or(f64::NAN)
    };
    let (x, y) = (parse(&p[1]), parse(&q[1]));
    let same = (x.is_nan() && y.is_nan()) || x == y || (x - y).abs() <= 1e-9 * x.abs().max(y.abs());
    if same {
        Ok(())
    } else {
        Err(format!("at {}: {} vs {}", p[0], p[1], q[1]))
    }
}
