//! `tsdbctl import`, `query` and the writing subcommands against the real binaries:
//! a data directory written by Prometheus 3.5.3 imported into ours answers every query
//! of `prometheus_datadir` exactly as Prometheus did, and lands in `file://` and S3
//! buckets, the source unchanged and refused while Prometheus runs; `tsdbctl query`
//! prints a running tsdbd's answers as tables and as the API's own JSON; `import`,
//! `upload`, `compact` and `delete` refuse a directory a running tsdbd holds.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use e2e::{Tsdbd, api_query, api_query_range, tsdbctl_bin};
use prometheus_client::registry::Registry;
use serde_json::Value;
use tsdb::labels::Labels;
use tsdb::testutil::{S3Server, free_port, reference_bin_dir};
use tsdb::{Db, Options};

use crate::prometheus_datadir::{
    TSDBD_ON_PROM_FLAGS, Workload, answers, assert_same, assert_sample_count, blocks,
    prometheus_writes,
};

fn tsdbctl(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(tsdbctl_bin())
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("run tsdbctl")
}

#[track_caller]
fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).expect("utf-8")
}

#[track_caller]
fn fails_with(out: &Output, needle: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(needle), "expected {needle:?} in: {err}");
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Every file under `dir` but the WAL and the lock, with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for e in std::fs::read_dir(dir).expect("read dir").flatten() {
            let p = e.path();
            let rel = p.strip_prefix(root).expect("under root").to_path_buf();
            if rel == Path::new("wal") || rel == Path::new("lock") {
                continue;
            }
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.insert(rel, std::fs::read(&p).expect("read file"));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// Block directories (with `meta.json`) directly under `dir`.
fn block_dirs(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|es| {
            es.flatten()
                .filter(|e| e.path().join("meta.json").is_file())
                .count()
        })
        .unwrap_or(0)
}

/// Prometheus → tsdbctl import → tsdbd: the directory Prometheus 3.5.3 wrote (blocks, a
/// checkpoint, WAL segments) imported with `--block-duration 10m` answers all of
/// `prometheus_datadir`'s queries as Prometheus did; it also lands in a `file://` bucket
/// and in S3. The import is refused while Prometheus runs; the source never changes.
#[test]
fn tsdbctl_imports_a_prometheus_data_dir_that_then_answers_alike() {
    let Some(bin) = reference_bin_dir() else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let theirs = tmp.path().join("prom");
    let ours = tmp.path().join("ours");
    let w = Workload::generate();
    let (prom, expected, n_blocks) = prometheus_writes(&bin, &theirs, &w);
    fails_with(
        &tsdbctl(&["import", s(&theirs), "--output", s(&ours)], &[]),
        "is locked (is Prometheus running on it?)",
    );
    assert!(!ours.exists(), "nothing written");
    prom.stop();
    let before = snapshot(&theirs);
    let wal_before = snapshot(&theirs.join("wal"));

    let import = |target: &[&str], env: &[(&str, &str)]| -> Vec<Value> {
        let args = [
            &["import", s(&theirs), "--block-duration", "10m", "--json"][..],
            target,
        ]
        .concat();
        let v: Value = serde_json::from_str(&ok(&tsdbctl(&args, env))).expect("JSON");
        v.as_array().expect("rows").clone()
    };
    let rows = import(&["--output", s(&ours)], &[]);
    let from = |kind: &str| rows.iter().filter(|r| r["from"] == kind).count();
    assert_eq!(from("block"), n_blocks, "{rows:?}");
    assert!(from("wal") >= 2, "the head's 13 min: {rows:?}");
    assert_eq!(blocks(&ours).len(), rows.len());
    assert_eq!(snapshot(&theirs), before, "the source is unchanged");
    let again = import(&["--output", s(&ours)], &[]);
    assert!(again.iter().all(|r| r["imported"] == false), "{again:?}");
    assert_eq!(blocks(&ours).len(), rows.len(), "nothing imported twice");
    assert_eq!(snapshot(&theirs.join("wal")), wal_before, "its WAL too");

    let tsdbd = Tsdbd::start_on(&ours, free_port(), TSDBD_ON_PROM_FLAGS);
    assert_sample_count("tsdbd on the imported directory", &tsdbd.url(""), &w);
    let actual = answers(&tsdbd.url(""), &w);
    assert_same("tsdbd on the imported directory", &expected, &actual);
    assert!(tsdbd.stop().success(), "tsdbd exits 0 on SIGTERM");
    eprintln!("compared {} answers", expected.len());

    // A file:// bucket, listed by `tsdbctl list --bucket`.
    let bucket_dir = tmp.path().join("bucket");
    std::fs::create_dir_all(&bucket_dir).expect("bucket dir");
    let url = format!("file://{}", bucket_dir.display());
    let shipped = import(&["--bucket", &url], &[]);
    assert_eq!(shipped.len(), rows.len());
    let empty = tmp.path().join("empty");
    std::fs::create_dir_all(&empty).expect("empty dir");
    let listed: Value = serde_json::from_str(&ok(&tsdbctl(
        &["list", "--json", "--bucket", &url, s(&empty)],
        &[],
    )))
    .expect("JSON");
    let listed = listed.as_array().expect("rows");
    assert_eq!(listed.len(), rows.len());
    assert!(
        listed.iter().all(|r| r["location"] == "bucket"),
        "{listed:?}"
    );

    // The real S3 server.
    if let Some(s3) = S3Server::start() {
        let env = [
            ("AWS_ENDPOINT", s3.endpoint.as_str()),
            ("AWS_ACCESS_KEY_ID", s3.access_key.as_str()),
            ("AWS_SECRET_ACCESS_KEY", s3.secret_key.as_str()),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ALLOW_HTTP", "true"),
        ];
        let url = s3.url("prom");
        let shipped = import(&["--bucket", &url], &env);
        assert_eq!(shipped.len(), rows.len());
        assert_eq!(block_dirs(&s3.bucket_dir().join("prom")), rows.len());
        let listed: Value = serde_json::from_str(&ok(&tsdbctl(
            &["list", "--json", "--bucket", &url, s(&empty)],
            &env,
        )))
        .expect("JSON");
        assert_eq!(listed.as_array().expect("rows").len(), rows.len());
    }
    assert_eq!(snapshot(&theirs), before, "the source is unchanged");
    assert_eq!(snapshot(&theirs.join("wal")), wal_before, "its WAL too");
}

/// Writes `q_metric{i="0".."2"}` every 15 s over the ten minutes before `end_ms` into a
/// new data directory (10 min blocks), closed.
fn write_recent(dir: &Path, end_ms: i64) {
    let opts = Options {
        block_range: 600_000,
        ..Options::default()
    };
    let db = Db::open(dir, opts, &mut Registry::default()).expect("open");
    let labels: Vec<Labels> = (0..3)
        .map(|i| Labels::from_pairs(&[("__name__", "q_metric"), ("i", &i.to_string())]))
        .collect();
    for t in (end_ms - 600_000..=end_ms).step_by(15_000) {
        let mut app = db.appender();
        for (i, l) in labels.iter().enumerate() {
            app.add(0, l, t, (t / 15_000 % 100) as f64 + i as f64)
                .expect("add");
        }
        app.commit_batch().expect("commit");
    }
    db.close().expect("close");
}

/// `tsdbctl query` against a running tsdbd: instant and range queries as tables and as
/// JSON equal to the API's own answer; a bad query exits 1 with `bad_data`.
#[test]
fn tsdbctl_query_prints_a_running_tsdbd_answers() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("data");
    let now_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    write_recent(&dir, now_s * 1000 - 30_000);
    let tsdbd = Tsdbd::start(&dir);
    let base = tsdbd.url("");
    let t = now_s - 60;
    let q = "q_metric";

    let json = ok(&tsdbctl(
        &[
            "query",
            "--url",
            &base,
            q,
            "--time",
            &t.to_string(),
            "--json",
        ],
        &[],
    ));
    let got: Value = serde_json::from_str(&json).expect("JSON");
    assert_eq!(got, api_query(&base, q, Some(t as f64)));
    assert_eq!(got["data"]["result"].as_array().map(Vec::len), Some(3));

    let table = ok(&tsdbctl(
        &["query", "--url", &base, q, "--time", &t.to_string()],
        &[],
    ));
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 4, "{table}");
    assert!(
        lines[0].starts_with("SERIES")
            && lines[0].contains("VALUE")
            && lines[0].ends_with("TIMESTAMP"),
        "{table}"
    );
    assert!(lines[1].starts_with("q_metric{i=\"0\"}"), "{table}");

    // A range query: 5 steps of 1 min.
    let (start, end) = (now_s - 360, now_s - 120);
    let (start_arg, end_arg) = (start.to_string(), end.to_string());
    let args = [
        "query",
        "--url",
        &base,
        "sum(q_metric)",
        "--start",
        &start_arg,
        "--end",
        &end_arg,
        "--step",
        "1m",
    ];
    let json = ok(&tsdbctl(&[&args[..], &["--json"]].concat(), &[]));
    let got: Value = serde_json::from_str(&json).expect("JSON");
    assert_eq!(
        got,
        api_query_range(&base, "sum(q_metric)", start as f64, end as f64, 60.0)
    );
    let table = ok(&tsdbctl(&args, &[]));
    assert_eq!(table.lines().count(), 1 + 5, "one row per step: {table}");
    assert!(
        table.lines().nth(1).is_some_and(|l| l.starts_with("{}")),
        "{table}"
    );

    // A bad query.
    let out = tsdbctl(&["query", "--url", &base, "rate(q_metric["], &[]);
    fails_with(&out, "bad_data: ");
    let out = tsdbctl(&["query", "--url", &base, "sum(", "--json"], &[]);
    fails_with(&out, "bad_data: ");
    let body: Value = serde_json::from_slice(&out.stdout).expect("the API's JSON");
    assert_eq!(body["errorType"], "bad_data");
    // Nothing listening.
    let out = tsdbctl(
        &[
            "query",
            "--url",
            &format!("http://127.0.0.1:{}", free_port()),
            q,
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(tsdbd.stop().success());
}

/// With tsdbd running on a directory, `import --output`, `upload`, `compact` and `delete`
/// refuse it with a clear message and exit 1, and nothing changes.
#[test]
fn tsdbctl_refuses_to_write_under_a_running_tsdbd() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (dir, src) = (tmp.path().join("data"), tmp.path().join("src"));
    write_recent(&dir, 3_600_000);
    write_recent(&src, 7_200_000);
    let bucket = tmp.path().join("bucket");
    std::fs::create_dir_all(&bucket).expect("bucket dir");
    let url = format!("file://{}", bucket.display());
    let tsdbd = Tsdbd::start_on(&dir, free_port(), TSDBD_ON_PROM_FLAGS);
    let before = snapshot(&dir);
    let count = || {
        api_query(
            &tsdbd.url(""),
            "count_over_time(q_metric[2h])",
            Some(3600.0),
        )
    };
    let answer = count();
    let d = s(&dir);
    for args in [
        &["import", s(&src), "--output", d][..],
        &["upload", d, "--bucket", &url],
        &["compact", d],
        &["compact", d, "--head"],
        &["delete", d, "--match", "q_metric"],
        &["delete", d, "--match", "q_metric", "--rewrite"],
    ] {
        fails_with(&tsdbctl(args, &[]), "is in use (is tsdbd running on it?)");
        assert_eq!(snapshot(&dir), before, "{args:?} changed nothing");
    }
    assert_eq!(std::fs::read_dir(&bucket).expect("bucket").count(), 0);
    assert_eq!(count(), answer, "tsdbd answers as before");
    assert!(tsdbd.stop().success());
}
