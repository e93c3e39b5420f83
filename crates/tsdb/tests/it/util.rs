//! Helpers of tsdb's own integration tests: every sample of a queryable, `promtool tsdb
//! dump` output, and sample comparison. The reference binaries and the Prometheus server
//! come from `tsdb::testutil`.

use std::path::Path;
use std::process::Command;

use tsdb::chunkenc::{SampleIterator, ValueType};
use tsdb::labels::{MatchType, Matcher};
use tsdb::storage::Queryable;

pub(crate) use tsdb::testutil::{Prometheus, reference_bin_dir};

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
    promtool_dump_with(bin, data_dir, &[])
}

/// The samples `promtool tsdb dump` prints with extra arguments (such as `--match=...`).
pub(crate) fn promtool_dump_with(bin: &Path, data_dir: &Path, extra: &[&str]) -> Vec<Sample> {
    let out = Command::new(bin.join("promtool"))
        .args([
            "tsdb",
            "dump",
            "--min-time=-9223372036854775808",
            "--max-time=9223372036854775807",
        ])
        .args(extra)
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
