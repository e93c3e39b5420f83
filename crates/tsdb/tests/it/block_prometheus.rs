//! Blocks written by Prometheus 3.5.3 (`promtool tsdb create-blocks-from openmetrics`) read
//! by us: every sample equals the input, and for a list of selectors covering `=`, `!=`,
//! `=~`, `!~`, empty-value matchers and `__name__` regexes, our selects return exactly the
//! series and samples `promtool tsdb dump --match=<selector>` prints.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tsdb::block::Block;
use tsdb::chunkenc::{SampleIterator, ValueType};
use tsdb::labels::{MatchType, Matcher};
use tsdb::storage::{LabelHints, Queryable};

use crate::util::{self, Sample, assert_same_samples, reference_bin_dir};

const START_S: i64 = 1_700_000_000;

/// Writes an OpenMetrics file of several metrics and label sets over ~5 h (so promtool
/// cuts three 2 h blocks); returns the samples promtool stores.
fn write_input(path: &Path) -> Vec<Sample> {
    let mut rng = StdRng::seed_from_u64(42);
    let mut families: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let mut add =
        |name: &'static str, labels: String| families.entry(name).or_default().push(labels);
    for job in ["api", "node", "db"] {
        for inst in 0..3 {
            add(
                "up",
                format!(r#"instance="10.0.0.{inst}:9100",job="{job}""#),
            );
            for code in ["200", "500"] {
                for method in ["GET", "POST"] {
                    add(
                        "http_requests_total",
                        format!(
                            r#"code="{code}",instance="10.0.0.{inst}:9100",job="{job}",method="{method}""#
                        ),
                    );
                }
            }
        }
    }
    for inst in 0..3 {
        // No job label at all.
        add("node_load1", format!(r#"instance="10.0.0.{inst}:9100""#));
    }
    for (ns, pods) in [("kube-system", 3), ("default", 2), ("monitoring", 2)] {
        for p in 0..pods {
            let env = if p == 0 { r#",env="prod""# } else { "" };
            add(
                "kube_pod_info",
                format!(r#"namespace="{ns}",pod="app-{p}-x"{env}"#),
            );
        }
    }
    let mut text = String::new();
    let mut want = Vec::new();
    for (name, series) in &families {
        writeln!(text, "# TYPE {name} gauge").expect("write");
        for labels in series {
            let key = util_key(name, labels);
            let first = rng.random_range(0..200i64);
            let mut v = 0.0f64;
            for i in first..1200 {
                // 15 s steps, whole seconds: exact in OpenMetrics.
                let t = START_S + i * 15;
                v += f64::from(rng.random_range(0u32..20)) * 0.5;
                writeln!(text, "{name}{{{labels}}} {v} {t}").expect("write");
                want.push((key.clone(), t * 1000, v.to_bits()));
            }
        }
    }
    text.push_str("# EOF\n");
    std::fs::write(path, text).expect("write input");
    want.sort();
    want
}

/// `{__name__="n", a="b"}` as `Labels` prints it, from OpenMetrics label text.
fn util_key(name: &str, labels: &str) -> String {
    let mut pairs: Vec<(String, String)> = vec![("__name__".into(), name.into())];
    for p in labels.split(',') {
        let (k, v) = p.split_once('=').expect("pair");
        pairs.push((k.into(), v.trim_matches('"').into()));
    }
    tsdb::labels::Labels::from_pairs(&pairs).to_string()
}

/// The samples our blocks return for `matchers`, over all blocks.
fn our_select(blocks: &[Block], matchers: &[Matcher]) -> Vec<Sample> {
    let mut out = Vec::new();
    for b in blocks {
        let q = b.querier(i64::MIN, i64::MAX).expect("querier");
        for s in q.select(true, None, matchers).expect("select") {
            let s = s.expect("series");
            let name = s.labels().to_string();
            let mut it = s.iterator();
            while it.next() == ValueType::Float {
                let (t, v) = it.at();
                out.push((name.clone(), t, v.to_bits()));
            }
            assert!(it.err().is_none(), "{:?}", it.err());
        }
    }
    out.sort();
    out
}

fn selector(ms: &[(MatchType, &str, &str)]) -> String {
    let parts: Vec<String> = ms
        .iter()
        .map(|(t, n, v)| {
            format!(
                "{n}{}\"{}\"",
                t.as_str(),
                v.replace('\\', "\\\\").replace('"', "\\\"")
            )
        })
        .collect();
    format!("{{{}}}", parts.join(","))
}

#[test]
fn we_read_prometheus_blocks_with_identical_samples_and_matcher_answers() {
    let Some(bin) = reference_bin_dir() else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let input = tmp.path().join("input.om");
    let data = tmp.path().join("data");
    let want = write_input(&input);
    tsdb::testutil::create_blocks_from_openmetrics(&bin, &input, &data);
    std::fs::create_dir_all(data.join("wal")).expect("wal dir");

    let mut blocks = Vec::new();
    for e in std::fs::read_dir(&data).expect("read dir") {
        let p = e.expect("entry").path();
        if p.join("meta.json").exists() {
            blocks.push(Block::open(&p).expect("open a Prometheus block"));
        }
    }
    assert!(
        blocks.len() >= 3,
        "expected several 2 h blocks, got {}",
        blocks.len()
    );

    let all = Matcher::new(MatchType::RegexMatch, "__name__", ".+").expect("matcher");
    assert_same_samples(
        &our_select(&blocks, &[all]),
        &want,
        "samples of Prometheus's blocks",
    );
    for b in &blocks {
        let m = b.meta();
        // Our meta.json writer reproduces Prometheus's file byte for byte.
        let raw = std::fs::read(b.dir().join("meta.json")).expect("read meta.json");
        assert_eq!(
            String::from_utf8_lossy(&m.to_json()),
            String::from_utf8_lossy(&raw),
            "meta.json of {}",
            m.ulid
        );
        let n: u64 = b
            .chunk_series()
            .expect("reader")
            .map(|s| s.expect("series").chunks.len() as u64)
            .sum();
        assert_eq!(n, m.stats.num_chunks, "chunks of {}", m.ulid);
        // Label names and values agree with a select of everything.
        let q = b.querier(i64::MIN, i64::MAX).expect("querier");
        let names = q.label_names(&LabelHints::default(), &[]).expect("names");
        assert!(names.iter().any(|n| n.as_str() == "__name__"));
        assert!(names.iter().all(|n| !n.is_empty()));
        let jobs = q
            .label_values("job", &LabelHints::default(), &[])
            .expect("values");
        assert_eq!(
            jobs.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
            ["api", "db", "node"]
        );
    }

    use MatchType::{Equal as Eq, NotEqual as Ne, RegexMatch as Re, RegexNoMatch as Nre};
    let selectors: &[&[(MatchType, &str, &str)]] = &[
        &[(Eq, "job", "api")],
        &[(Eq, "__name__", "http_requests_total"), (Ne, "code", "200")],
        &[(Re, "__name__", "http_.*|up")],
        &[(Re, "__name__", ".+"), (Nre, "job", "api|node")],
        &[(Re, "__name__", ".+"), (Eq, "job", "")],
        &[(Re, "__name__", ".+"), (Ne, "env", "")],
        &[
            (Eq, "__name__", "up"),
            (Re, "instance", r"10\.0\.0\.[12]:.*"),
        ],
        &[(Re, "__name__", "kube_.*"), (Re, "pod", ".*-[0-9]-x")],
        &[(Re, "__name__", ".+"), (Re, "namespace", "kube-.*|")],
        &[
            (Ne, "method", "GET"),
            (Eq, "__name__", "http_requests_total"),
        ],
        &[(Re, "job", "a.*"), (Nre, "method", "")],
        &[
            (Re, "__name__", "node_.*|kube_pod_info"),
            (Nre, "env", "prod"),
        ],
        &[(Eq, "__name__", "missing_metric")],
        &[(Re, "__name__", "(?i)UP")],
    ];
    for ms in selectors {
        let sel = selector(ms);
        let matchers: Vec<Matcher> = ms
            .iter()
            .map(|(t, n, v)| Matcher::new(*t, n, v).expect("matcher"))
            .collect();
        let theirs = util::promtool_dump_with(&bin, &data, &[&format!("--match={sel}")]);
        let ours = our_select(&blocks, &matchers);
        assert_same_samples(&ours, &theirs, &format!("select {sel}"));
        if ms.len() > 1 || ms[0].2 != "missing_metric" {
            assert!(
                !theirs.is_empty() || sel.contains("missing"),
                "{sel} selects something"
            );
        }
    }
}
