//! Flags, defaults, readiness, signals, the shutdown order and exit codes.

use std::process::Command;
use std::time::{Duration, Instant};

use prometheus_client::registry::Registry;
use tsdb::chunkenc::SampleIterator as _;
use tsdb::labels::Labels;
use tsdb::storage::Queryable;

use crate::harness::{Tsdbd, free_port, get};

fn write_samples(dir: &std::path::Path, series: usize, t0: i64) {
    let db = tsdb::Db::open(dir, tsdb::Options::default(), &mut Registry::default()).unwrap();
    let mut app = db.appender();
    for i in 0..series {
        let l = Labels::from_pairs(&[("__name__", "up"), ("instance", &format!("i{i}"))]);
        app.add(0, &l, t0, i as f64).unwrap();
    }
    app.commit_batch().unwrap();
    db.close().unwrap();
}

/// Series and samples of `up` in the data directory, read by opening it ourselves (which
/// also proves tsdbd released the lock and left a WAL that replays).
fn read_back(dir: &std::path::Path) -> (usize, usize) {
    let db = tsdb::Db::open(dir, tsdb::Options::default(), &mut Registry::default()).unwrap();
    let q = db.querier(i64::MIN, i64::MAX).unwrap();
    let m = tsdb::labels::Matcher::new(tsdb::labels::MatchType::Equal, "__name__", "up").unwrap();
    let set = q.select(false, None, &[m]).unwrap();
    let (mut series, mut samples) = (0, 0);
    for s in set {
        let s = s.unwrap();
        series += 1;
        let mut it = s.iterator();
        while it.next() != tsdb::chunkenc::ValueType::None {
            samples += 1;
        }
    }
    drop(q);
    db.close().unwrap();
    (series, samples)
}

#[test]
fn exact_flags_replay_serve_and_sigterm_closes_the_wal() {
    let data = tempfile::tempdir().unwrap();
    write_samples(data.path(), 50, 1_000);
    // Exactly the documented form: `--flag value`.
    let mut s = Tsdbd::launch(data.path(), &[]);
    s.wait_ready();
    let (code, _, body) = get(&s.url("/-/healthy"), &[]).unwrap();
    assert_eq!(code, 200);
    assert_eq!(body, b"Prometheus Server is Healthy.\n");
    let (_, _, metrics) = get(&s.url("/metrics"), &[]).unwrap();
    let metrics = String::from_utf8(metrics).unwrap();
    assert!(
        metrics.contains("\ntsdbd_tsdb_head_series 50\n"),
        "replayed:\n{metrics}"
    );

    let started = Instant::now();
    let status = s.signal(libc::SIGTERM);
    assert_eq!(status.code(), Some(0), "log:\n{}", s.log());
    assert!(started.elapsed() < Duration::from_secs(5), "prompt exit");
    let log = s.log();
    assert!(log.contains("WAL flushed and closed"), "{log}");
    assert!(log.contains("level=info"), "logfmt by default: {log}");
    // The lock is released and the WAL replays with everything in it.
    assert_eq!(read_back(data.path()), (50, 50));
}

#[test]
fn sigint_also_exits_cleanly_and_equals_form_works() {
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut s = Tsdbd::spawn(
        Command::new(e2e::tsdbd_bin()).args([
            format!("--storage.tsdb.path={}", data.path().display()),
            format!("--web.listen-address=127.0.0.1:{port}"),
            "--log.format=json".to_owned(),
        ]),
        port,
    );
    s.wait_ready();
    assert_eq!(s.signal(libc::SIGINT).code(), Some(0), "{}", s.log());
    let first = s.log().lines().next().unwrap_or_default().to_owned();
    let v: serde_json::Value = serde_json::from_str(&first).expect("JSON log line");
    assert_eq!(v["level"], "info", "{first}");
    assert!(v["msg"].is_string(), "{first}");
    assert!(data.path().join("wal").is_dir());
}

#[test]
fn no_path_flag_keeps_data_in_cwd_data() {
    let cwd = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut s = Tsdbd::spawn(
        Command::new(e2e::tsdbd_bin())
            .current_dir(cwd.path())
            .args(["--web.listen-address", &format!("127.0.0.1:{port}")]),
        port,
    );
    s.wait_ready();
    assert!(cwd.path().join("data/wal").is_dir(), "default ./data");
    assert_eq!(s.signal(libc::SIGTERM).code(), Some(0));
}

#[test]
fn bad_configuration_exits_2_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad.toml");
    std::fs::write(&cfg, "[storage]\nretension_time = \"30d\"\n").unwrap();
    let out = Command::new(e2e::tsdbd_bin())
        .args(["--config.file", cfg.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown field `retension_time`"), "{err}");
    assert!(err.contains("bad.toml"), "{err}");

    let out = Command::new(e2e::tsdbd_bin())
        .args(["--storage.tsdb.retention.time", "fortnight"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a valid duration"));
}

#[test]
fn address_in_use_exits_1() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let data = tempfile::tempdir().unwrap();
    let mut s = Tsdbd::spawn(
        Command::new(e2e::tsdbd_bin()).args([
            "--storage.tsdb.path",
            data.path().to_str().unwrap(),
            "--web.listen-address",
            &format!("127.0.0.1:{port}"),
        ]),
        port,
    );
    let status = s.wait_exit(Duration::from_secs(10));
    assert_eq!(status.code(), Some(1));
    assert!(s.log().contains("listen on"), "{}", s.log());
}

#[test]
fn locked_data_dir_exits_1() {
    let data = tempfile::tempdir().unwrap();
    let held = tsdb::Db::open(
        data.path(),
        tsdb::Options::default(),
        &mut Registry::default(),
    )
    .unwrap();
    let mut s = Tsdbd::launch(data.path(), &[]);
    let status = s.wait_exit(Duration::from_secs(10));
    assert_eq!(status.code(), Some(1), "{}", s.log());
    assert!(s.log().contains("open storage"), "{}", s.log());
    held.close().unwrap();
}

#[test]
fn idle_and_stalled_connections_do_not_hold_up_shutdown() {
    use std::io::{Read as _, Write as _};
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("tsdbd.toml");
    std::fs::write(&cfg, "[web]\nshutdown_timeout = \"1s\"\n").unwrap();
    let mut s = Tsdbd::launch(
        &dir.path().join("data"),
        &["--config.file", cfg.to_str().unwrap()],
    );
    s.wait_ready();
    // A keep-alive connection left idle after a complete exchange.
    let mut idle = std::net::TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    idle.write_all(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut buf = [0u8; 256];
    assert!(idle.read(&mut buf).unwrap() > 0);
    // A client stuck in the middle of its request headers.
    let mut stalled = std::net::TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    stalled.write_all(b"GET /-/healthy HTTP/1.1\r\nHo").unwrap();
    std::thread::sleep(Duration::from_millis(100));

    let started = Instant::now();
    assert_eq!(s.signal(libc::SIGTERM).code(), Some(0), "{}", s.log());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "shutdown bounded by web.shutdown_timeout, took {:?}",
        started.elapsed()
    );
    // The listener is closed.
    assert!(std::net::TcpStream::connect(("127.0.0.1", s.port)).is_err());
}
