//! Tests of the three configuration layers and of the example file.

use std::time::Duration;

use clap::Parser;
use tsdb::wal::SyncPolicy;

use super::*;

const EXAMPLE: &str = include_str!("../../../../deploy/config.example.toml");

fn flags(args: &[&str]) -> Flags {
    Flags::try_parse_from(std::iter::once("tsdbd").chain(args.iter().copied())).unwrap()
}

#[test]
fn defaults_are_the_documented_ones() {
    let c = Config::default();
    assert_eq!(c.data_dir, PathBuf::from("data"));
    assert_eq!(c.listen_address, "127.0.0.1:9201");
    assert_eq!(c.retention_time, Duration::from_secs(15 * 86_400));
    assert_eq!(c.retention_size, 0);
    assert_eq!(c.tsdb.block_range, 2 * 3_600_000);
    assert_eq!(c.tsdb.wal_sync, SyncPolicy::Always);
    assert_eq!(c.engine.timeout, Duration::from_secs(120));
    assert_eq!(c.engine.max_samples, 50_000_000);
    assert_eq!(c.engine.lookback_delta, 300_000);
    assert_eq!(c.max_concurrent_queries, 20);
    assert!(!c.web.enable_admin_api);
    assert!(c.web.tls.is_none());
    assert!(c.web.auth.read.is_open() && c.web.auth.write.is_open());
    assert_eq!(c.log.format, LogFormat::Logfmt);
}

#[test]
fn no_flags_and_no_file_give_the_defaults() {
    let c = Config::load(&flags(&[])).unwrap();
    assert_eq!(format!("{c:?}"), format!("{:?}", Config::default()));
}

#[test]
fn example_file_documents_the_defaults() {
    let file = ConfigFile::parse(EXAMPLE).unwrap();
    assert_eq!(file, ConfigFile::default());
    let c = file.into_config().unwrap();
    assert_eq!(format!("{c:?}"), format!("{:?}", Config::default()));
}

#[test]
fn example_file_names_every_key() {
    // Every key of the default file, serialised by path, appears in the example, so a new
    // field cannot be added without documenting it.
    let doc: toml::Table = toml::from_str(EXAMPLE).unwrap();
    fn paths(prefix: &str, t: &toml::Table, out: &mut Vec<String>) {
        for (k, v) in t {
            let p = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            match v {
                toml::Value::Table(t) => paths(&p, t, out),
                _ => out.push(p),
            }
        }
    }
    let mut found = Vec::new();
    paths("", &doc, &mut found);
    for key in [
        "storage.path",
        "storage.retention_time",
        "storage.retention_size",
        "storage.min_block_duration",
        "storage.samples_per_chunk",
        "storage.wal.enabled",
        "storage.wal.sync",
        "storage.wal.segment_size",
        "storage.wal.compression",
        "query.timeout",
        "query.max_samples",
        "query.max_concurrency",
        "query.lookback_delta",
        "query.default_subquery_step",
        "query.experimental_functions",
        "query.delayed_name_removal",
        "query.duration_expressions",
        "web.listen_address",
        "web.enable_admin_api",
        "web.shutdown_timeout",
        "log.level",
        "log.format",
        "runtime.worker_threads",
        "runtime.max_blocking_threads",
        "remote_write.max_body_bytes",
        "remote_write.max_decompressed_bytes",
        "remote_write.max_series_per_request",
        "remote_write.max_labels_per_series",
        "remote_write.max_label_name_length",
        "remote_write.max_label_value_length",
        "remote_write.max_concurrent_requests",
    ] {
        assert!(
            found.iter().any(|f| f == key),
            "{key} missing from the example"
        );
    }
}

#[test]
fn unknown_keys_are_errors_that_name_the_key() {
    let err = ConfigFile::parse("[storage]\nretention = \"30d\"\n").unwrap_err();
    assert!(err.contains("unknown field `retention`"), "{err}");
    assert!(
        err.contains("retention_time"),
        "lists the valid keys: {err}"
    );
    assert!(err.contains("line 2"), "says where: {err}");
    let err = ConfigFile::parse("[storage.wall]\n").unwrap_err();
    assert!(err.contains("unknown field `wall`"), "{err}");
    let err = ConfigFile::parse("[web.auth.write]\ntoken = \"x\"\n").unwrap_err();
    assert!(err.contains("unknown field `token`"), "{err}");
}

#[test]
fn mistyped_values_are_errors() {
    let err = ConfigFile::parse("[storage]\nretention_time = \"15 days\"\n").unwrap_err();
    assert!(err.contains("not a valid duration"), "{err}");
    let err = ConfigFile::parse("[storage.wal]\nsync = \"sometimes\"\n").unwrap_err();
    assert!(err.contains("always"), "{err}");
    let err = ConfigFile::parse("[log]\nformat = \"xml\"\n").unwrap_err();
    assert!(err.contains("xml"), "{err}");
}

#[test]
fn file_values_reach_the_engine_options() {
    let file = ConfigFile::parse(
        r#"
[storage]
path = "/var/lib/tsdbd"
min_block_duration = "1h"
[storage.wal]
sync = "100ms"
segment_size = "64MB"
compression = false
[query]
timeout = "30s"
lookback_delta = "1m"
max_concurrency = 4
[remote_write]
max_body_bytes = 1024
"#,
    )
    .unwrap();
    let c = file.into_config().unwrap();
    assert_eq!(c.data_dir, PathBuf::from("/var/lib/tsdbd"));
    assert_eq!(c.tsdb.block_range, 3_600_000);
    assert_eq!(
        c.tsdb.wal_sync,
        SyncPolicy::Interval(Duration::from_millis(100))
    );
    assert_eq!(c.tsdb.wal_segment_size, 64 << 20);
    assert!(!c.tsdb.wal_compression);
    assert_eq!(c.engine.timeout, Duration::from_secs(30));
    assert_eq!(c.engine.lookback_delta, 60_000);
    assert_eq!(c.max_concurrent_queries, 4);
    assert_eq!(c.write.limits.max_compressed_bytes, 1024);
}

#[test]
fn flags_override_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tsdbd.toml");
    std::fs::write(
        &path,
        "[storage]\npath = \"from-file\"\nretention_time = \"30d\"\n[web]\nlisten_address = \"127.0.0.1:1\"\n",
    )
    .unwrap();
    let path_s = path.to_str().unwrap();
    let c = Config::load(&flags(&[
        "--config.file",
        path_s,
        "--web.listen-address=127.0.0.1:2",
    ]))
    .unwrap();
    assert_eq!(c.data_dir, PathBuf::from("from-file"), "file value kept");
    assert_eq!(c.retention_time, Duration::from_secs(30 * 86_400));
    assert_eq!(c.listen_address, "127.0.0.1:2", "flag wins");
    assert_eq!(c.config_file.as_deref(), Some(path.as_path()));
}

#[test]
fn flags_take_prometheus_names_and_syntax() {
    let space = flags(&[
        "--storage.tsdb.path",
        "/d",
        "--web.listen-address",
        "127.0.0.1:9999",
        "--storage.tsdb.retention.time",
        "1h30m",
        "--storage.tsdb.retention.size",
        "512MB",
        "--storage.tsdb.min-block-duration",
        "30m",
        "--query.timeout",
        "10s",
        "--query.max-samples",
        "1000",
        "--query.max-concurrency",
        "3",
        "--query.lookback-delta",
        "2m",
        "--log.level",
        "debug",
        "--log.format",
        "json",
        "--web.enable-admin-api",
    ]);
    let equals = flags(&[
        "--storage.tsdb.path=/d",
        "--web.listen-address=127.0.0.1:9999",
        "--storage.tsdb.retention.time=1h30m",
        "--storage.tsdb.retention.size=512MB",
        "--storage.tsdb.min-block-duration=30m",
        "--query.timeout=10s",
        "--query.max-samples=1000",
        "--query.max-concurrency=3",
        "--query.lookback-delta=2m",
        "--log.level=debug",
        "--log.format=json",
        "--web.enable-admin-api",
    ]);
    for f in [space, equals] {
        let c = Config::load(&f).unwrap();
        assert_eq!(c.data_dir, PathBuf::from("/d"));
        assert_eq!(c.listen_address, "127.0.0.1:9999");
        assert_eq!(c.retention_time, Duration::from_secs(5400));
        assert_eq!(c.retention_size, 512 << 20);
        assert_eq!(c.tsdb.block_range, 1_800_000);
        assert_eq!(c.engine.timeout, Duration::from_secs(10));
        assert_eq!(c.engine.max_samples, 1000);
        assert_eq!(c.max_concurrent_queries, 3);
        assert_eq!(c.engine.lookback_delta, 120_000);
        assert_eq!(c.log.level, "debug");
        assert_eq!(c.log.format, LogFormat::Json);
        assert!(c.web.enable_admin_api);
    }
}

#[test]
fn bad_flags_are_rejected() {
    let parse =
        |args: &[&str]| Flags::try_parse_from(std::iter::once("tsdbd").chain(args.iter().copied()));
    assert!(parse(&["--storage.tsdb.retention.time", "15 days"]).is_err());
    assert!(parse(&["--storage.tsdb.retention.size", "lots"]).is_err());
    assert!(parse(&["--log.format", "xml"]).is_err());
    assert!(parse(&["--no-such-flag"]).is_err());
    assert!(Config::load(&flags(&["--query.max-concurrency", "0"])).is_err());
    assert!(Config::load(&flags(&["--storage.tsdb.min-block-duration", "0"])).is_err());
}

#[test]
fn flags_map_has_every_flag_with_its_effective_value() {
    let c = Config::load(&flags(&["--storage.tsdb.retention.size", "1GB"])).unwrap();
    let m = c.flags();
    assert_eq!(m["storage.tsdb.path"], "data");
    assert_eq!(m["web.listen-address"], "127.0.0.1:9201");
    assert_eq!(m["storage.tsdb.retention.time"], "15d");
    assert_eq!(m["storage.tsdb.retention.size"], "1GiB");
    assert_eq!(m["storage.tsdb.min-block-duration"], "2h");
    // Prometheus's derived value: 10 % of the 15 d retention.
    assert_eq!(m["storage.tsdb.max-block-duration"], "1d12h");
    assert_eq!(m["query.timeout"], "2m");
    assert_eq!(m["query.max-samples"], "50000000");
    assert_eq!(m["query.max-concurrency"], "20");
    assert_eq!(m["query.lookback-delta"], "5m");
    assert_eq!(m["web.enable-admin-api"], "false");
    assert_eq!(m["log.level"], "info");
    assert_eq!(m["log.format"], "logfmt");
    assert_eq!(m["config.file"], "");
    assert_eq!(m.len(), 14);
}

#[test]
fn tls_needs_both_files_and_auth_needs_valid_hashes() {
    let err = ConfigFile::parse("[web.tls]\ncert_file = \"c.pem\"\n")
        .unwrap()
        .into_config()
        .unwrap_err();
    assert!(err.to_string().contains("both"), "{err}");
    let mut c = ConfigFile::parse(
        "[[web.auth.read.basic_users]]\nusername = \"a\"\npassword_sha256 = \"abc\"\n",
    )
    .unwrap()
    .into_config()
    .unwrap();
    let err = c.validate().unwrap_err();
    assert!(err.to_string().contains("64 hex digits"), "{err}");
    c.web.auth.read.basic_users[0].password_sha256 = "a".repeat(64);
    c.validate().unwrap();
    assert!(
        !format!("{c:?}").contains(&"a".repeat(64)),
        "no secrets in Debug"
    );
}
