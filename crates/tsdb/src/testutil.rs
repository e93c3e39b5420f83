//! Test support shared with other crates' tests (feature `test-util`): locating the
//! reference Prometheus 3.5.3 binaries and promtool 2.42, running a Prometheus server on
//! loopback, and running an S3-compatible server (s3s-fs) on loopback.
//!
//! Under `CI=true` a missing external program panics, so tests that need it fail rather
//! than skip; elsewhere they print a note and skip.

pub mod alloc;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Whether this run is CI, where a missing external program is a failure.
pub fn is_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// The directory holding `prometheus` and `promtool` 3.5.3, or `None` (outside CI) when it
/// cannot be found or installed. Under `CI=true` a missing binary panics.
pub fn reference_bin_dir() -> Option<PathBuf> {
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
    missing_program("reference Prometheus 3.5.3", why)
}

fn missing_program(what: &str, why: &str) -> Option<PathBuf> {
    if is_ci() {
        panic!("{what} is required under CI=true: {why}");
    }
    eprintln!("NOTE: skipping a check against {what}: {why}");
    None
}

/// The directory holding `promtool` 2.42 (Debian bookworm's build), or `None` (outside CI)
/// when it cannot be found or installed. Under `CI=true` a missing binary panics.
///
/// Looks at `PROMTOOL_2_42_BIN` first (set by `scripts/test.sh`), then runs
/// `scripts/install-promtool-2.42.sh`, which is quick once the binary is cached.
pub fn promtool_2_42_bin_dir() -> Option<PathBuf> {
    const WHAT: &str = "promtool 2.42";
    if let Ok(d) = std::env::var("PROMTOOL_2_42_BIN") {
        let dir = PathBuf::from(d);
        if dir.join("promtool").is_file() {
            return Some(dir);
        }
        return missing_program(
            WHAT,
            &format!("PROMTOOL_2_42_BIN={} lacks promtool", dir.display()),
        );
    }
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/install-promtool-2.42.sh");
    match Command::new("bash")
        .arg(&script)
        .stderr(Stdio::inherit())
        .output()
    {
        Ok(o) if o.status.success() => {
            let dir = PathBuf::from(String::from_utf8_lossy(&o.stdout).trim());
            if dir.join("promtool").is_file() {
                return Some(dir);
            }
            missing_program(
                WHAT,
                &format!("{} printed {dir:?}, which lacks promtool", script.display()),
            )
        }
        Ok(o) => missing_program(
            WHAT,
            &format!("{} failed with {}", script.display(), o.status),
        ),
        Err(e) => missing_program(WHAT, &format!("cannot run {}: {e}", script.display())),
    }
}

/// A free loopback port.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind loopback")
        .local_addr()
        .expect("addr")
        .port()
}

/// A Prometheus server on loopback, killed on drop.
#[derive(Debug)]
pub struct Prometheus {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
}

impl Prometheus {
    /// Starts `prometheus` on `data_dir` with the given config text, waits until ready.
    pub fn start(bin: &Path, data_dir: &Path, config: &str, extra: &[&str]) -> Prometheus {
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

    /// The process id (for CPU and memory measurements).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops the server with SIGTERM and waits for it to exit.
    pub fn stop(mut self) {
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

/// Runs `promtool tsdb create-blocks-from openmetrics INPUT OUT_DIR` from `bin` and panics
/// with promtool's message if it fails.
pub fn create_blocks_from_openmetrics(bin: &Path, input: &Path, out_dir: &Path) {
    let out = Command::new(bin.join("promtool"))
        .args(["tsdb", "create-blocks-from", "openmetrics", "--quiet"])
        .arg(input)
        .arg(out_dir)
        .output()
        .expect("run promtool");
    assert!(
        out.status.success(),
        "promtool tsdb create-blocks-from openmetrics failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The directory holding the `s3s-fs` binary (`scripts/install-s3s-fs.sh` installs it):
/// `$S3S_FS_BIN` when set, else the script's default cache folder. `None` (outside CI)
/// when it is missing; under `CI=true` a missing binary panics.
pub fn s3s_fs_bin_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("S3S_FS_BIN") {
        Some(d) => PathBuf::from(d),
        None => match std::env::var_os("S3S_FS_DIR") {
            Some(d) => PathBuf::from(d).join("bin"),
            None => match std::env::var_os("HOME") {
                Some(h) => PathBuf::from(h).join(".cache/s3s-fs/bin"),
                None => PathBuf::from("/nonexistent"),
            },
        },
    };
    if dir.join("s3s-fs").is_file() {
        return Some(dir);
    }
    let why = format!(
        "no s3s-fs in {} (run scripts/install-s3s-fs.sh, or set S3S_FS_BIN)",
        dir.display()
    );
    if is_ci() {
        panic!("the S3 test server s3s-fs is required under CI=true: {why}");
    }
    eprintln!("NOTE: skipping a test against the S3 server: {why}");
    None
}

/// An S3-compatible server (s3s-fs) on a free loopback port, with a fresh root directory
/// holding one empty bucket; killed and its directory removed on drop.
///
/// s3s-fs checks SigV4 signatures, so a wrong secret fails like it would on S3, and stores
/// each object as a plain file under [`S3Server::bucket_dir`], where tests can inspect or
/// damage it.
///
/// Known quirk: a GET on a reused keep-alive connection stalls 25 to 40 ms. Clients that
/// issue many GETs should not keep idle connections (`object_store`'s
/// `ClientOptions::with_pool_max_idle_per_host(0)`).
#[derive(Debug)]
pub struct S3Server {
    child: Child,
    dir: PathBuf,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// The bucket's name.
    pub bucket: String,
    /// The access key id the server accepts.
    pub access_key: String,
    /// The secret access key the server accepts.
    pub secret_key: String,
}

impl S3Server {
    /// Starts s3s-fs and waits until it accepts connections; `None` when the binary is
    /// missing outside CI (see [`s3s_fs_bin_dir`]).
    pub fn start() -> Option<S3Server> {
        let bin = s3s_fs_bin_dir()?.join("s3s-fs");
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("s3s-fs-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let bucket = "test-bucket".to_string();
        std::fs::create_dir_all(dir.join("root").join(&bucket)).expect("create s3s-fs root");
        let (access_key, secret_key) = ("testkey".to_string(), "testsecret".to_string());
        // A port found free can be taken before s3s-fs binds it: try a few.
        for _ in 0..5 {
            let port = free_port();
            let log = std::fs::File::create(dir.join("log")).expect("s3s-fs log file");
            let child = Command::new(&bin)
                .args(["--host", "127.0.0.1", "--port", &port.to_string()])
                .args(["--access-key", &access_key, "--secret-key", &secret_key])
                .arg(dir.join("root"))
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("log file"))
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("start {}: {e}", bin.display()));
            let mut server = S3Server {
                child,
                dir: dir.clone(),
                endpoint: format!("http://127.0.0.1:{port}"),
                bucket: bucket.clone(),
                access_key: access_key.clone(),
                secret_key: secret_key.clone(),
            };
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                if let Ok(Some(_)) = server.child.try_wait() {
                    break; // exited, probably the port: try another one
                }
                let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
                if std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                    return Some(server);
                }
                assert!(
                    Instant::now() < deadline,
                    "s3s-fs did not accept connections; see {}",
                    dir.join("log").display()
                );
                std::thread::sleep(Duration::from_millis(10));
            }
            // Keep the directory for the next attempt.
            server.dir = PathBuf::new();
        }
        panic!(
            "s3s-fs exited at start five times; see {}",
            dir.join("log").display()
        );
    }

    /// The directory holding the bucket's objects as plain files (`<dir>/<key>`).
    pub fn bucket_dir(&self) -> PathBuf {
        self.dir.join("root").join(&self.bucket)
    }

    /// `s3://BUCKET` followed by `/prefix` when `prefix` is not empty.
    pub fn url(&self, prefix: &str) -> String {
        if prefix.is_empty() {
            format!("s3://{}", self.bucket)
        } else {
            format!("s3://{}/{prefix}", self.bucket)
        }
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !self.dir.as_os_str().is_empty() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
