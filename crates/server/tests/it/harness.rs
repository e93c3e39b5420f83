//! `Tsdbd`: the binary on a temporary directory and a free loopback port, killed on drop.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub(crate) use tsdb::testutil::free_port;

/// The path of the built binary.
pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_tsdbd");

/// A running `tsdbd`.
pub(crate) struct Tsdbd {
    child: Option<Child>,
    pub(crate) port: u16,
    log: PathBuf,
    _logdir: tempfile::TempDir,
}

impl Tsdbd {
    /// Starts `tsdbd --storage.tsdb.path DIR --web.listen-address 127.0.0.1:PORT ARGS...`.
    pub(crate) fn start(data: &Path, args: &[&str]) -> Tsdbd {
        let port = free_port();
        let mut all = vec![
            "--storage.tsdb.path".to_owned(),
            data.display().to_string(),
            "--web.listen-address".to_owned(),
            format!("127.0.0.1:{port}"),
        ];
        all.extend(args.iter().map(|s| (*s).to_owned()));
        Self::spawn(Command::new(BIN).args(&all), port)
    }

    /// Starts the binary as `cmd` says; `port` is where it will listen.
    pub(crate) fn spawn(cmd: &mut Command, port: u16) -> Tsdbd {
        let logdir = tempfile::tempdir().unwrap();
        let log = logdir.path().join("stderr.log");
        let child = cmd
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&log).unwrap())
            .spawn()
            .expect("start tsdbd");
        Tsdbd {
            child: Some(child),
            port,
            log,
            _logdir: logdir,
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// What the process wrote to stderr so far.
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Polls `probe` until it returns true (10 s at most).
    pub(crate) fn wait_for(&mut self, what: &str, mut probe: impl FnMut(&Tsdbd) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if probe(self) {
                return;
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("tsdbd exited ({status}) before {what}:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("timed out waiting for {what}:\n{}", self.log());
    }

    /// Waits until `/-/ready` answers 200 over plain HTTP.
    pub(crate) fn wait_ready(&mut self) {
        let url = self.url("/-/ready");
        self.wait_for("readiness", |_| matches!(get(&url, &[]), Ok((200, _, _))));
    }

    /// Sends `signal` (`"TERM"`, `"INT"`) and waits for the exit (10 s at most).
    pub(crate) fn stop(&mut self, signal: &str) -> ExitStatus {
        let pid = self.child.as_ref().unwrap().id().to_string();
        let sent = Command::new("kill")
            .args(["-s", signal, &pid])
            .status()
            .unwrap();
        assert!(sent.success(), "kill -s {signal} {pid}");
        let status = self.wait_exit(Duration::from_secs(10));
        self.child = None;
        status
    }

    /// Waits for the process to exit by itself.
    pub(crate) fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let child = self.child.as_mut().unwrap();
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
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
}

impl Drop for Tsdbd {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into()
}

/// A response: status, headers (lower-case names), body.
pub(crate) type Resp = (u16, Vec<(String, String)>, Vec<u8>);

fn collect(resp: ureq::http::Response<ureq::Body>) -> Result<Resp, ureq::Error> {
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let body = resp.into_body().read_to_vec()?;
    Ok((status, headers, body))
}

/// GET with extra headers.
pub(crate) fn get(url: &str, headers: &[(&str, &str)]) -> Result<Resp, ureq::Error> {
    let mut req = agent().get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    collect(req.call()?)
}

/// POST a body with extra headers.
pub(crate) fn post(url: &str, headers: &[(&str, &str)], body: &[u8]) -> Result<Resp, ureq::Error> {
    let mut req = agent().post(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    collect(req.send(body)?)
}

/// The value of header `name` (lower-case).
pub(crate) fn header<'a>(r: &'a Resp, name: &str) -> Option<&'a str> {
    r.1.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}
