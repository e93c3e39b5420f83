//! What the tests share: running the binary, writing data directories with `tsdb::Db`,
//! reading every sample back, and snapshots of a directory's bytes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use prometheus_client::registry::Registry;
use tsdb::chunkenc::{SampleIterator, ValueType};
use tsdb::labels::{Labels, MatchType, Matcher};
use tsdb::storage::Queryable;
use tsdb::{Db, Options};

/// Runs `tsdbctl ARGS` with extra environment variables.
pub(crate) fn tsdbctl_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tsdbctl"))
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("run tsdbctl")
}

/// Runs `tsdbctl ARGS`.
pub(crate) fn tsdbctl(args: &[&str]) -> Output {
    tsdbctl_env(args, &[])
}

/// The stdout of a successful run, panicking with stderr otherwise.
#[track_caller]
pub(crate) fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}: {}{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stdout.clone()).expect("utf-8")
}

/// The stdout of a successful run, as JSON.
#[track_caller]
pub(crate) fn ok_json(out: &Output) -> serde_json::Value {
    serde_json::from_str(&ok(out)).expect("JSON output")
}

/// Asserts the run failed with exit code 1 and a message containing `needle`.
#[track_caller]
pub(crate) fn fails_with(out: &Output, needle: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(needle), "expected {needle:?} in: {err}");
}

/// The environment that points `tsdbctl` at the S3 test server.
pub(crate) fn s3_env(s3: &tsdb::testutil::S3Server) -> [(&'static str, &str); 5] {
    [
        ("AWS_ENDPOINT", s3.endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", s3.access_key.as_str()),
        ("AWS_SECRET_ACCESS_KEY", s3.secret_key.as_str()),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ALLOW_HTTP", "true"),
    ]
}

/// A path as `&str`.
pub(crate) fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Opens (creating) a data directory with block range `range_ms`.
pub(crate) fn open(dir: &Path, range_ms: i64) -> Db {
    let opts = Options {
        block_range: range_ms,
        ..Options::default()
    };
    Db::open(dir, opts, &mut Registry::default()).expect("open db")
}

/// Appends, every `step` ms in `[from, to)`, one sample to each series `m{s="0".."n"}`
/// and to `other{s="0"}`, committing per timestamp; with `compact`, cuts the head into
/// blocks after each commit as the server would.
pub(crate) fn fill(db: &Db, n: usize, from: i64, to: i64, step: i64, compact: bool) {
    let mut labels: Vec<Labels> = (0..n)
        .map(|s| Labels::from_pairs(&[("__name__", "m"), ("s", &s.to_string())]))
        .collect();
    labels.push(Labels::from_pairs(&[("__name__", "other"), ("s", "0")]));
    for t in (from..to).step_by(step as usize) {
        let mut app = db.appender();
        for (i, l) in labels.iter().enumerate() {
            app.add(0, l, t, (t / 1000) as f64 + i as f64 / 8.0)
                .expect("add");
        }
        app.commit_batch().expect("commit");
        if compact {
            db.compact_head().expect("compact head");
        }
    }
}

/// One sample: labels, timestamp, value bits.
pub(crate) type Sample = (String, i64, u64);

/// Every sample of a queryable, sorted by labels then time.
pub(crate) fn all_samples(q: &dyn Queryable) -> Vec<Sample> {
    let querier = q.querier(i64::MIN, i64::MAX).expect("querier");
    let all = Matcher::new(MatchType::RegexMatch, "__name__", ".+").expect("matcher");
    let mut out = Vec::new();
    for series in querier.select(true, None, &[all]).expect("select") {
        let series = series.expect("series");
        let name = series.labels().to_string();
        let mut it = series.iterator();
        while it.next() == ValueType::Float {
            let (t, v) = it.at();
            out.push((name.clone(), t, v.to_bits()));
        }
    }
    out
}

/// Every sample of the data directory `dir` (opened, then closed).
pub(crate) fn samples_in(dir: &Path, range_ms: i64) -> Vec<Sample> {
    let db = open(dir, range_ms);
    let out = all_samples(&db);
    db.close().expect("close");
    out
}

/// Every file under `dir` with its bytes, by relative path.
pub(crate) fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for e in std::fs::read_dir(dir).expect("read dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).expect("under root").to_path_buf();
                out.insert(rel, std::fs::read(&p).expect("read file"));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// The ULIDs of the block directories in `dir`, sorted.
pub(crate) fn block_ids(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .expect("read dir")
        .flatten()
        .filter(|e| e.path().join("meta.json").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    out.sort();
    out
}
