//! Starting tsdbd and Prometheus 3.5.3 the same way: one launcher for both, with the
//! same settings spelled as each server's flags, on a loopback port and a given data
//! directory.
//!
//! [`Server::launch`] spawns without waiting; [`Server::wait_ready`] polls `/-/ready`
//! until it answers 200 and returns the time since the spawn, which is the start-up time
//! (WAL replay included: both servers answer 503 until the head is loaded). [`Server::kill`]
//! sends SIGKILL (a crash: no shutdown code runs) and [`Server::relaunch`] starts the same
//! server again on the same directory. The process is killed on drop.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};

/// Which server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Our `tsdbd`.
    Tsdbd,
    /// The reference Prometheus (3.5.3).
    Prometheus,
}

impl Kind {
    /// The name used in tables.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Tsdbd => "tsdbd",
            Kind::Prometheus => "Prometheus",
        }
    }
}

/// Settings given to both servers; `None` leaves the server's default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    /// Block range: the span of a block cut from the head
    /// (`--storage.tsdb.min-block-duration`, hidden in Prometheus).
    pub block_range: Option<Duration>,
    /// Largest block compaction makes (`--storage.tsdb.max-block-duration`, hidden in
    /// Prometheus).
    pub max_block: Option<Duration>,
    /// `--storage.tsdb.retention.time`.
    pub retention: Option<Duration>,
    /// `--query.max-samples`.
    pub query_max_samples: Option<u64>,
    /// `--query.timeout`.
    pub query_timeout: Option<Duration>,
}

/// A duration in Prometheus's notation, in the largest unit that divides it.
pub fn prom_duration(d: Duration) -> String {
    let s = d.as_secs();
    if d.subsec_millis() != 0 || s == 0 {
        return format!("{}ms", d.as_millis());
    }
    for (unit, secs) in [("d", 86_400), ("h", 3_600), ("m", 60)] {
        if s.is_multiple_of(secs) {
            return format!("{}{unit}", s / secs);
        }
    }
    format!("{s}s")
}

impl Settings {
    /// The flags that say these settings, the same for both servers (both use
    /// Prometheus's flag names).
    pub fn flags(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut push = |name: &str, v: Option<String>| {
            if let Some(v) = v {
                out.push(format!("--{name}={v}"));
            }
        };
        push(
            "storage.tsdb.min-block-duration",
            self.block_range.map(prom_duration),
        );
        push(
            "storage.tsdb.max-block-duration",
            self.max_block.map(prom_duration),
        );
        push(
            "storage.tsdb.retention.time",
            self.retention.map(prom_duration),
        );
        push(
            "query.max-samples",
            self.query_max_samples.map(|n| n.to_string()),
        );
        push("query.timeout", self.query_timeout.map(prom_duration));
        out
    }
}

/// Builds `tsdbd` in release (`cargo build --release -p server --bin tsdbd`) and returns
/// its path, for the benches that run it side by side with Prometheus.
pub fn build_release_tsdbd() -> PathBuf {
    let status = std::process::Command::new(env!("CARGO"))
        .args([
            "build",
            "--release",
            "--quiet",
            "-p",
            "server",
            "--bin",
            "tsdbd",
        ])
        .status()
        .expect("cargo build tsdbd");
    assert!(status.success(), "building tsdbd failed");
    workspace_tsdbd("release")
}

/// `target/<profile>/tsdbd` of this workspace (what `cargo build [--release] --bin tsdbd`
/// writes).
pub fn workspace_tsdbd(profile: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target")
        .join(profile)
        .join("tsdbd")
}

/// A running (or killed) server on a data directory, killed on drop.
#[derive(Debug)]
pub struct Server {
    kind: Kind,
    exe: PathBuf,
    dir: PathBuf,
    settings: Settings,
    port: u16,
    log: PathBuf,
    child: Option<Child>,
    spawned: Instant,
}

impl Server {
    /// Spawns `kind` on `dir` (created if missing) without waiting. `exe` is the `tsdbd`
    /// binary or the `prometheus` binary. Prometheus gets the remote-write receiver and a
    /// configuration without scrape jobs; its log goes to `DIR.log`, tsdbd's too.
    pub fn launch(kind: Kind, exe: &Path, dir: &Path, settings: &Settings) -> Result<Server> {
        std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
        let mut s = Server {
            kind,
            exe: exe.to_path_buf(),
            dir: dir.to_path_buf(),
            settings: settings.clone(),
            port: 0,
            log: dir.with_extension("log"),
            child: None,
            spawned: Instant::now(),
        };
        s.spawn()?;
        Ok(s)
    }

    /// [`Server::launch`], then [`Server::wait_ready`] with `limit`.
    pub fn start(
        kind: Kind,
        exe: &Path,
        dir: &Path,
        settings: &Settings,
        limit: Duration,
    ) -> Result<Server> {
        let mut s = Server::launch(kind, exe, dir, settings)?;
        s.wait_ready(limit)?;
        Ok(s)
    }

    fn spawn(&mut self) -> Result<()> {
        self.port = tsdb::testutil::free_port();
        let listen = format!("--web.listen-address=127.0.0.1:{}", self.port);
        let mut cmd = Command::new(&self.exe);
        cmd.arg(format!("--storage.tsdb.path={}", self.dir.display()))
            .arg(listen);
        if self.kind == Kind::Prometheus {
            let cfg = self.dir.with_extension("yml");
            std::fs::write(&cfg, "global:\n  scrape_interval: 1h\n")
                .with_context(|| format!("write {}", cfg.display()))?;
            cmd.arg(format!("--config.file={}", cfg.display()))
                .arg("--web.enable-remote-write-receiver");
        }
        cmd.args(self.settings.flags());
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .with_context(|| format!("open {}", self.log.display()))?;
        self.spawned = Instant::now();
        let child = cmd
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| format!("start {}", self.exe.display()))?;
        self.child = Some(child);
        Ok(())
    }

    /// Which server this is.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The process id (for [`crate::process`]); 0 when not running.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// The last `n` lines of the server's log (for error messages).
    pub fn log_tail(&self, n: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// Polls `/-/ready` every 10 ms until it answers 200, at most `limit`; returns the
    /// time since the process was spawned. Fails if the process exits first.
    pub fn wait_ready(&mut self, limit: Duration) -> Result<Duration> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(2)))
            .build()
            .into();
        let url = format!("{}/-/ready", self.url());
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if agent.get(&url).call().is_ok_and(|r| r.status() == 200) {
                return Ok(self.spawned.elapsed());
            }
            let child = self.child.as_mut().context("not running")?;
            if let Some(status) = child.try_wait().context("wait")? {
                bail!(
                    "{} exited ({status}) before it was ready:\n{}",
                    self.kind.name(),
                    self.log_tail(20)
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        bail!(
            "{} was not ready within {limit:?}:\n{}",
            self.kind.name(),
            self.log_tail(20)
        )
    }

    fn signal(&mut self, signal: i32) -> Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        // SAFETY: kill(2) on a child we own; no memory is involved.
        let sent = unsafe { libc::kill(child.id() as i32, signal) };
        anyhow::ensure!(sent == 0, "kill({}, {signal}) failed", child.id());
        // Bounded: SIGKILL cannot be ignored; after SIGTERM the servers stop within
        // their shutdown timeouts, and a minute later they get SIGKILL.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if child.try_wait().context("wait")?.is_some() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                bail!("{} did not exit within a minute", self.kind.name());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// SIGKILL: a crash, no shutdown code runs. Waits for the exit.
    pub fn kill(&mut self) -> Result<()> {
        self.signal(libc::SIGKILL)
    }

    /// SIGTERM: a graceful shutdown. Waits for the exit.
    pub fn stop(&mut self) -> Result<()> {
        self.signal(libc::SIGTERM)
    }

    /// Starts the same server again on the same directory (after [`Server::kill`] or
    /// [`Server::stop`]), without waiting.
    pub fn relaunch(&mut self) -> Result<()> {
        anyhow::ensure!(self.child.is_none(), "still running");
        self.spawn()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_flags_in_prometheus_notation() {
        assert_eq!(prom_duration(Duration::from_secs(600)), "10m");
        assert_eq!(prom_duration(Duration::from_secs(7200)), "2h");
        assert_eq!(prom_duration(Duration::from_secs(15 * 86_400)), "15d");
        assert_eq!(prom_duration(Duration::from_secs(90)), "90s");
        assert_eq!(prom_duration(Duration::from_millis(1500)), "1500ms");
        let s = Settings {
            block_range: Some(Duration::from_secs(600)),
            query_max_samples: Some(5),
            ..Settings::default()
        };
        assert_eq!(
            s.flags(),
            [
                "--storage.tsdb.min-block-duration=10m",
                "--query.max-samples=5"
            ]
        );
        assert!(Settings::default().flags().is_empty());
    }
}
