//! `tsdbctl dump` on blocks and a WAL written by `tsdb::Db`, with tombstones in both and
//! NaN, ±Inf and stale markers among the values: each format parses back to exactly the
//! written samples, the time range and matchers are honoured, nothing is written into the
//! directory (the database stays open, holding its lock), and the OpenMetrics output is
//! loaded by promtool 3.5.3 into a block that dumps back to the same samples.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use tsdb::labels::Labels;

use crate::inspect_util::{Model, bits, churn_data, filter, ok, parse_text, parse_value, tsdbctl};

/// Parses OpenMetrics output (`name{a="b"} value seconds`, `# EOF` last).
fn parse_openmetrics(text: &str) -> Model {
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.last(), Some(&"# EOF"), "ends in # EOF");
    let mut m = Model::new();
    for line in &lines[..lines.len() - 1] {
        let mut parts = line.rsplitn(3, ' ');
        let secs = parts.next().expect("timestamp");
        let (s, ms) = secs.split_once('.').expect("seconds with decimals");
        assert_eq!(ms.len(), 3, "{line}");
        let t = s.parse::<i64>().expect("s") * 1000 + ms.parse::<i64>().expect("ms");
        let v = parse_value(parts.next().expect("value"));
        let series = parts.next().expect("series");
        let (name, rest) = series.split_once('{').unwrap_or((series, "}"));
        let mut pairs = vec![("__name__".to_owned(), name.to_owned())];
        let body = rest.strip_suffix('}').expect("closing brace");
        for kv in body.split(',').filter(|kv| !kv.is_empty()) {
            let (k, v) = kv.split_once('=').expect("pair");
            pairs.push((k.to_owned(), v.trim_matches('"').to_owned()));
        }
        let key = Labels::from_pairs(&pairs).to_string();
        m.entry(key).or_default().push((t, bits(v)));
    }
    m
}

/// Parses JSON lines output.
fn parse_json(text: &str) -> Model {
    let mut m = Model::new();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("json line");
        let pairs: Vec<(String, String)> = v["labels"]
            .as_object()
            .expect("labels")
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().expect("string").to_owned()))
            .collect();
        let key = Labels::from_pairs(&pairs).to_string();
        let samples = v["samples"]
            .as_array()
            .expect("samples")
            .iter()
            .map(|s| {
                let t = s[0].as_i64().expect("ts");
                (t, bits(parse_value(s[1].as_str().expect("value string"))))
            })
            .collect();
        assert!(m.insert(key, samples).is_none(), "one line per series");
    }
    m
}

/// Every file under `dir` with its size and modification time.
fn listing(dir: &Path) -> BTreeMap<PathBuf, (u64, std::time::SystemTime)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read dir") {
            let e = e.expect("entry");
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let md = e.metadata().expect("metadata");
                out.insert(p, (md.len(), md.modified().expect("mtime")));
            }
        }
    }
    out
}

#[test]
fn every_format_parses_back_to_the_written_samples() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("data");
    let (db, model) = churn_data(&dir);
    let d = dir.to_str().expect("utf-8");
    assert!(db.head().num_series() > 0, "the WAL has data");
    let before = listing(&dir);

    let text = ok(&["dump", d]);
    assert_eq!(parse_text(&text), model);
    // Values print like Prometheus's.
    assert!(
        text.contains(r#"{__name__="a", job="x", s="0"} NaN 60000"#),
        "NaN"
    );
    assert!(
        text.contains(r#"{__name__="a", job="x", s="0"} +Inf 90000"#),
        "+Inf"
    );
    assert!(
        text.contains(r#"{__name__="a", job="x", s="0"} -Inf 120000"#),
        "-Inf"
    );
    assert!(
        text.contains(r#"{__name__="a", job="x", s="0"} NaN 150000"#),
        "stale"
    );
    assert!(
        text.contains(r#"{__name__="b", job="y", s="1"} 3.0001e+10 30000"#),
        "{text}"
    );
    // Tombstoned samples are absent; head samples present.
    assert!(!text.contains(r#"{__name__="b", job="y", s="1"} 1.50001e+11 150000"#));
    assert!(text.contains(" 2370000\n"), "head samples");

    let om = ok(&["dump", "--format", "openmetrics", d]);
    assert_eq!(parse_openmetrics(&om), model);
    assert!(om.contains("a{job=\"x\",s=\"0\"} +Inf 90.000\n"), "{om}");
    let json = ok(&["dump", "--format", "json", d]);
    assert_eq!(parse_json(&json), model);

    // Time range (Unix seconds and RFC 3339, inclusive) and matchers (a union).
    let text = ok(&[
        "dump",
        "--min-time",
        "300",
        "--max-time",
        "1970-01-01T00:15:00Z",
        "--match",
        r#"{job="y"}"#,
        "--match",
        r#"a{s=~"0|2"}"#,
        d,
    ]);
    let want = filter(&model, 300_000, 900_000, |k| {
        k.contains(r#"job="y""#)
            || k.contains(r#"s="0""#) && k.contains("\"a\"")
            || k.contains(r#"s="2""#) && k.contains("\"a\"")
    });
    assert_eq!(parse_text(&text), want);
    // --no-head leaves the WAL out.
    let blocks_end = db.blocks().last().expect("blocks").max_time();
    let text = ok(&["dump", "--no-head", d]);
    assert_eq!(
        parse_text(&text),
        filter(&model, i64::MIN, blocks_end - 1, |_| true)
    );

    assert_eq!(
        listing(&dir),
        before,
        "dump wrote nothing into the directory"
    );

    // Bad input.
    let out = tsdbctl(&["dump", "--min-time", "yesterday", d]);
    assert_eq!(out.status.code(), Some(2));
    let out = tsdbctl(&["dump", "--match", "rate(x[5m])", d]);
    assert_eq!(out.status.code(), Some(1));
    drop(db);
}

#[test]
fn openmetrics_output_loads_into_promtool_and_dumps_back_the_same() {
    let Some(bin) = tsdb::testutil::reference_bin_dir() else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("data");
    let (db, model) = churn_data(&dir);
    let om = ok(&[
        "dump",
        "--format",
        "openmetrics",
        dir.to_str().expect("utf-8"),
    ]);
    drop(db);
    let input = tmp.path().join("dump.om");
    std::fs::write(&input, &om).expect("write");
    let out_dir = tmp.path().join("promtool");
    tsdb::testutil::create_blocks_from_openmetrics(&bin, &input, &out_dir);
    let back = ok(&["dump", out_dir.to_str().expect("utf-8")]);
    assert_eq!(parse_text(&back), model);
    // promtool's own dump of its block agrees with ours, line for line.
    std::fs::create_dir_all(out_dir.join("wal")).expect("wal dir for promtool");
    let out = std::process::Command::new(bin.join("promtool"))
        .args(["tsdb", "dump"])
        .arg(&out_dir)
        .output()
        .expect("promtool");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), back);
}
