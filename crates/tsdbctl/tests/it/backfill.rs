//! `tsdbctl backfill` on OpenMetrics, text-format and CSV files: the blocks it writes
//! are aligned to the block duration, hold exactly the input's samples (NaN and ±Inf
//! included, out-of-order input sorted, duplicates resolved to the last) and pass
//! `promtool tsdb analyze` (3.5.3 and 2.42); malformed input and a locked directory
//! fail cleanly; a large input stays within `--max-memory`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use tsdb::block::{Block, BlockMeta, Ulid};
use tsdb::chunkenc::{SampleIterator, ValueType, XorIterator};

use crate::fixtures::{ok, tsdbctl};

const NORMAL_NAN: u64 = 0x7ff8_0000_0000_0001;
const HOUR: i64 = 3_600_000;

/// Series (as `{a="b", ...}` text) → samples (t, value bits), time-ordered.
type Samples = BTreeMap<String, Vec<(i64, u64)>>;

/// One input sample: the label pairs (with `__name__`), t in ms, the value.
type Input = (Vec<(String, String)>, i64, f64);

fn key(labels: &[(String, String)]) -> String {
    let mut l = labels.to_vec();
    l.sort();
    let parts: Vec<String> = l.iter().map(|(n, v)| format!("{n}={v:?}")).collect();
    format!("{{{}}}", parts.join(", "))
}

/// Samples over seven hours for four series, with NaN, ±Inf, out-of-order samples and a
/// duplicate timestamp (whose last value wins), in input order.
fn input() -> Vec<Input> {
    let series: Vec<Vec<(String, String)>> = vec![
        vec![
            ("__name__".into(), "http_requests_total".into()),
            ("code".into(), "200".into()),
        ],
        vec![
            ("__name__".into(), "http_requests_total".into()),
            ("code".into(), "500".into()),
            ("path".into(), "/a \"quoted\", back\\slash\nnewline".into()),
        ],
        vec![("__name__".into(), "temperature".into())],
        vec![
            ("__name__".into(), "up".into()),
            ("job".into(), "node".into()),
        ],
    ];
    let base = 1_700_000_000_000 - 1_700_000_000_000 % (2 * HOUR) + 1_234;
    let mut out = Vec::new();
    for (i, t) in (base..base + 7 * HOUR).step_by(60_000).enumerate() {
        for (s, labels) in series.iter().enumerate() {
            let v = match (i + s) % 50 {
                7 => f64::NAN,
                8 => f64::INFINITY,
                9 => f64::NEG_INFINITY,
                _ => (i * 10 + s) as f64 * 0.5,
            };
            out.push((labels.clone(), t, v));
        }
    }
    // Out of order: an old sample at the end, and a duplicate whose last value wins.
    out.push((series[2].clone(), base - 30_000, 42.0));
    out.push((series[0].clone(), base + 60_000, -7.25));
    out
}

fn expected(input: &[Input]) -> Samples {
    let mut m: BTreeMap<String, BTreeMap<i64, u64>> = BTreeMap::new();
    for (labels, t, v) in input {
        let bits = if v.is_nan() { NORMAL_NAN } else { v.to_bits() };
        m.entry(key(labels)).or_default().insert(*t, bits);
    }
    m.into_iter()
        .map(|(k, s)| (k, s.into_iter().collect()))
        .collect()
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn fmt_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else {
        format!("{v:?}")
    }
}

fn labels_text(labels: &[(String, String)]) -> String {
    let inner: Vec<String> = labels[1..]
        .iter()
        .map(|(n, v)| format!("{n}=\"{}\"", escape(v)))
        .collect();
    format!("{}{{{}}}", labels[0].1, inner.join(","))
}

fn openmetrics(input: &[Input]) -> String {
    let mut s =
        String::from("# HELP http_requests_total Requests.\n# TYPE http_requests_total counter\n");
    for (labels, t, v) in input {
        s.push_str(&format!(
            "{} {} {}.{:03}\n",
            labels_text(labels),
            fmt_value(*v),
            t / 1000,
            t % 1000
        ));
    }
    s.push_str("# EOF\n");
    s
}

fn text(input: &[Input]) -> String {
    let mut s = String::from("# TYPE temperature gauge\n");
    for (labels, t, v) in input {
        s.push_str(&format!("{} {} {t}\n", labels_text(labels), fmt_value(*v)));
    }
    s
}

fn csv(input: &[Input]) -> String {
    let mut s = String::from("metric,code,path,job,timestamp,value\n");
    for (labels, t, v) in input {
        let get = |n: &str| {
            labels
                .iter()
                .find(|(k, _)| k == n)
                .map_or(String::new(), |(_, v)| {
                    format!("\"{}\"", v.replace('"', "\"\""))
                })
        };
        // CSV rows are single lines: newlines in values become spaces.
        let path = get("path").replace('\n', " ");
        // Timestamps alternate between Unix seconds and RFC 3339.
        let ts = if t % 120_000 < 60_000 {
            format!("{}.{:03}", t / 1000, t % 1000)
        } else {
            rfc3339(*t)
        };
        s.push_str(&format!(
            "{},{},{path},{},{ts},{}\n",
            labels[0].1,
            get("code"),
            get("job"),
            fmt_value(*v)
        ));
    }
    s
}

fn rfc3339(ms: i64) -> String {
    let out = Command::new("date")
        .args(["-u", "-d", &format!("@{}", ms / 1000), "+%Y-%m-%dT%H:%M:%S"])
        .output()
        .expect("date");
    format!(
        "{}.{:03}Z",
        String::from_utf8_lossy(&out.stdout).trim(),
        ms % 1000
    )
}

/// The blocks of a data directory.
fn blocks(dir: &Path) -> Vec<BlockMeta> {
    let mut metas: Vec<BlockMeta> = std::fs::read_dir(dir)
        .expect("read dir")
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.parse::<Ulid>().is_ok())
        })
        .map(|e| BlockMeta::read(&e.path()).expect("meta"))
        .collect();
    metas.sort_by_key(|m| m.min_time);
    metas
}

/// Every sample of every block of `dir`.
fn read_back(dir: &Path) -> Samples {
    let mut m: Samples = BTreeMap::new();
    for meta in blocks(dir) {
        let block = Block::open(&dir.join(meta.ulid.to_string())).expect("open block");
        for s in block.chunk_series().expect("series") {
            let s = s.expect("series");
            let pairs: Vec<(String, String)> = s
                .labels
                .pairs()
                .map(|(n, v)| (n.to_owned(), v.to_owned()))
                .collect();
            let out = m.entry(key(&pairs)).or_default();
            for c in &s.chunks {
                let mut it = XorIterator::new(&c.data[..]);
                while it.next() == ValueType::Float {
                    let (t, v) = it.at();
                    out.push((t, v.to_bits()));
                }
                assert!(it.err().is_none(), "{:?}", it.err());
            }
        }
    }
    for s in m.values_mut() {
        s.sort_by_key(|x| x.0);
    }
    m
}

/// Checks alignment, level and content of a backfilled directory, and runs promtool.
fn check_dir(dir: &Path, want: &Samples, block_ms: i64) {
    let metas = blocks(dir);
    assert!(metas.len() >= 4, "seven hours make at least four 2h blocks");
    for m in &metas {
        assert_eq!(
            m.min_time.div_euclid(block_ms),
            (m.max_time - 1).div_euclid(block_ms),
            "block {} [{}, {}) crosses a multiple of {block_ms}",
            m.ulid,
            m.min_time,
            m.max_time
        );
        assert_eq!(m.compaction.level, 1);
        assert_eq!(m.compaction.sources, vec![m.ulid]);
    }
    let windows: Vec<i64> = metas
        .iter()
        .map(|m| m.min_time.div_euclid(block_ms))
        .collect();
    let mut unique = windows.clone();
    unique.dedup();
    assert_eq!(windows, unique, "one block per window");
    let got = read_back(dir);
    assert_eq!(got.len(), want.len());
    for (k, w) in want {
        assert_eq!(got.get(k), Some(w), "series {k}");
    }
    promtool_analyze(dir);
}

fn promtool_analyze(dir: &Path) {
    let dirs: Vec<PathBuf> = [
        tsdb::testutil::reference_bin_dir(),
        tsdb::testutil::promtool_2_42_bin_dir(),
    ]
    .into_iter()
    .flatten()
    .collect();
    for bin in dirs {
        let out = Command::new(bin.join("promtool"))
            .args(["tsdb", "analyze"])
            .arg(dir)
            .output()
            .expect("run promtool");
        assert!(
            out.status.success(),
            "{} tsdb analyze: {}{}",
            bin.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn backfill_openmetrics_text_and_csv() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let input = input();
    let want = expected(&input);
    let mut csv_want: Samples = BTreeMap::new();
    for (k, v) in &want {
        csv_want.insert(k.replace("\\n", " "), v.clone());
    }
    let cases = [
        ("in.om", openmetrics(&input), &want, vec![]),
        ("in.prom", text(&input), &want, vec![]),
        ("in.csv", csv(&input), &csv_want, vec![]),
        // A small budget: many spills, merged per window.
        (
            "small.om",
            openmetrics(&input),
            &want,
            vec!["--max-memory", "4MiB"],
        ),
    ];
    for (name, content, want, extra) in cases {
        let file = tmp.path().join(name);
        std::fs::write(&file, content).expect("write input");
        let dir = tmp.path().join(format!("data-{name}"));
        let mut args = vec![
            "backfill",
            "--json",
            "--output",
            dir.to_str().expect("utf-8"),
        ];
        args.extend(extra);
        args.push(file.to_str().expect("utf-8"));
        let out = ok(&tsdbctl(&args));
        let summary: serde_json::Value = serde_json::from_str(&out).expect("json");
        assert_eq!(summary["samplesRead"], input.len() as u64, "{name}");
        let n: usize = want.values().map(Vec::len).sum();
        assert_eq!(summary["samplesWritten"], n as u64, "{name}");
        check_dir(&dir, want, 2 * HOUR);
        let leftovers: Vec<_> = std::fs::read_dir(&dir)
            .expect("dir")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    // The table summary, from stdin, one-hour blocks.
    let dir = tmp.path().join("data-stdin");
    let mut child = Command::new(env!("CARGO_BIN_EXE_tsdbctl"))
        .args(["backfill", "--block-duration", "1h", "--output"])
        .arg(&dir)
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(openmetrics(&input).as_bytes())
        .expect("write stdin");
    let out = ok(&child.wait_with_output().expect("wait"));
    assert!(out.starts_with("ULID"), "{out}");
    assert!(out.contains("wrote 8 blocks"), "{out}");
    let metas = blocks(&dir);
    assert_eq!(metas.len(), 8);
    for m in &metas {
        assert_eq!(m.min_time / HOUR, (m.max_time - 1) / HOUR);
    }
    assert_eq!(read_back(&dir), want);
}

#[test]
fn backfill_malformed_input_fails_with_the_line_and_leaves_no_block() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // Enough samples for several spills under 4MiB before the bad line.
    let mut s = String::new();
    for i in 0..200_000 {
        s.push_str(&format!(
            "m{{s=\"{}\"}} {i} {}\n",
            i % 1000,
            1_000_000 + i * 1000
        ));
    }
    s.push_str("m{s=\"1\"} 1 oops\n");
    let file = tmp.path().join("bad.prom");
    std::fs::write(&file, &s).expect("write");
    let dir = tmp.path().join("data");
    let out = tsdbctl(&[
        "backfill",
        "--max-memory",
        "4MiB",
        "--output",
        dir.to_str().expect("utf-8"),
        file.to_str().expect("utf-8"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.prom")
            && err.contains("line 200001")
            && err.contains("invalid timestamp"),
        "{err}"
    );
    let left: Vec<_> = std::fs::read_dir(&dir)
        .expect("dir")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");

    // Missing timestamps and a missing # EOF are errors too.
    std::fs::write(&file, "a 1 5\nb 2\n").expect("write");
    let out = tsdbctl(&[
        "backfill",
        "--output",
        dir.to_str().expect("utf-8"),
        file.to_str().expect("utf-8"),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 2: sample without a timestamp"), "{err}");
    let om = tmp.path().join("x.om");
    std::fs::write(&om, "a 1 5\n").expect("write");
    let out = tsdbctl(&[
        "backfill",
        "--output",
        dir.to_str().expect("utf-8"),
        om.to_str().expect("utf-8"),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("does not end with # EOF"), "{err}");
    assert!(blocks(&dir).is_empty());
}

#[test]
fn backfill_refuses_a_locked_directory() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("data");
    std::fs::create_dir(&dir).expect("mkdir");
    let lock = tsdb::fileutil::DirLock::acquire(&dir).expect("lock");
    let file = tmp.path().join("in.om");
    std::fs::write(&file, "a 1 5\n# EOF\n").expect("write");
    let out = tsdbctl(&[
        "backfill",
        "--output",
        dir.to_str().expect("utf-8"),
        file.to_str().expect("utf-8"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("is in use") && err.contains("tsdbd running"),
        "{err}"
    );
    drop(lock);
    ok(&tsdbctl(&[
        "backfill",
        "--output",
        dir.to_str().expect("utf-8"),
        file.to_str().expect("utf-8"),
    ]));
    assert_eq!(blocks(&dir).len(), 1);
}

/// Peak memory of a child process, in bytes.
#[derive(Debug, Clone, Copy, Default)]
struct Peak {
    /// `VmHWM` (polled from `/proc/<pid>/status` while it runs) and `ru_maxrss` of the
    /// waited-for children (`getrusage(RUSAGE_CHILDREN)`), whichever is larger: the
    /// whole resident set, including the binary's and the mmapped blocks' file pages.
    rss: u64,
    /// The largest `RssAnon` polled: the heap and stacks, what `--max-memory` governs.
    anon: u64,
}

fn status_kb(status: &str, field: &str) -> u64 {
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Runs tsdbctl and returns its stdout and its peak memory.
fn run_measured(args: &[&str]) -> (String, Peak) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tsdbctl"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let status = format!("/proc/{}/status", child.id());
    let mut peak = Peak::default();
    let stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut { stdout }, &mut s).expect("read stdout");
        s
    });
    loop {
        if let Ok(s) = std::fs::read_to_string(&status) {
            peak.rss = peak.rss.max(status_kb(&s, "VmHWM:") * 1024);
            peak.anon = peak.anon.max(status_kb(&s, "RssAnon:") * 1024);
        }
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let out = child.wait_with_output().expect("wait");
    // SAFETY: getrusage writes only into the struct it is given.
    let maxrss_kb = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru);
        ru.ru_maxrss as u64
    };
    peak.rss = peak.rss.max(maxrss_kb * 1024);
    let stdout = reader.join().expect("reader");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (stdout, peak)
}

fn mib(b: u64) -> f64 {
    b as f64 / 1_048_576.0
}

/// The limit of the bounded-memory test.
const LIMIT: u64 = 16 << 20;
/// Its block duration: 20 minutes.
const BLOCK_20M: i64 = 20 * 60_000;

#[test]
fn backfill_memory_stays_bounded_for_input_larger_than_the_limit() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // Part A, many windows: 1,000 series every 30s for about 4h40m (14 twenty-minute
    // windows), time-major as a scrape would write them, 48MiB. Part B, many series:
    // 120,000 series (a unique `request` label each) with one sample in each of the two
    // windows after part A, 16MiB. 64MiB in all, four times the limit.
    let file = tmp.path().join("big.prom");
    let mut w = std::io::BufWriter::new(std::fs::File::create(&file).expect("create"));
    let base: i64 = 1_700_000_400_000; // a multiple of 20 minutes
    let mut n = 0u64;
    let mut t = base;
    let mut size = 0u64;
    while size < 48 << 20 {
        for s in 0..1000 {
            let line = format!(
                "backfill_bench_metric{{instance=\"host-{:04}.example.internal:9100\",job=\"node\",shard=\"{}\"}} {} {t}\n",
                s,
                s % 17,
                (n % 1000) as f64 * 0.25
            );
            size += line.len() as u64;
            w.write_all(line.as_bytes()).expect("write");
            n += 1;
        }
        t += 30_000;
    }
    let part_a_windows = (t - base + BLOCK_20M - 1) / BLOCK_20M;
    assert!(part_a_windows >= 10, "{part_a_windows}");
    let part_b = base + part_a_windows * BLOCK_20M;
    let mut series_b = 0u64;
    while size < 64 << 20 {
        let t1 = part_b + (series_b % 1_200) as i64 * 1000;
        for ts in [t1, t1 + BLOCK_20M] {
            let line = format!(
                "backfill_bench_requests{{request=\"req-{series_b:08}\"}} {} {ts}\n",
                series_b % 97
            );
            size += line.len() as u64;
            w.write_all(line.as_bytes()).expect("write");
            n += 1;
        }
        series_b += 1;
    }
    drop(w);

    let tiny = tmp.path().join("tiny.prom");
    std::fs::write(&tiny, "a 1 1000\n").expect("write");
    let limit = "16MiB";
    let baseline_dir = tmp.path().join("baseline");
    let (_, baseline) = run_measured(&[
        "backfill",
        "--max-memory",
        limit,
        "--block-duration",
        "20m",
        "--output",
        baseline_dir.to_str().expect("utf-8"),
        tiny.to_str().expect("utf-8"),
    ]);

    let dir = tmp.path().join("data");
    let started = std::time::Instant::now();
    let (out, peak) = run_measured(&[
        "backfill",
        "--json",
        "--max-memory",
        limit,
        "--block-duration",
        "20m",
        "--output",
        dir.to_str().expect("utf-8"),
        file.to_str().expect("utf-8"),
    ]);
    let summary: serde_json::Value = serde_json::from_str(&out).expect("json");
    let metas = blocks(&dir);
    eprintln!(
        "input {:.1} MiB, {n} samples, {} series, limit {} MiB, baseline RSS {:.1} MiB \
         (anonymous {:.1} MiB), peak RSS {:.1} MiB (anonymous {:.1} MiB), {} spills, {} blocks \
         ({} left overlapping), {:?}",
        size as f64 / 1048576.0,
        1000 + series_b,
        LIMIT >> 20,
        mib(baseline.rss),
        mib(baseline.anon),
        mib(peak.rss),
        mib(peak.anon),
        summary["spills"],
        metas.len(),
        summary["blocksLeftOverlapping"],
        started.elapsed()
    );
    assert_eq!(summary["samplesRead"], n);
    assert_eq!(summary["samplesWritten"], n, "every sample arrived");
    assert!(
        summary["spills"].as_u64().expect("spills") >= 4,
        "{summary}"
    );
    let total: u64 = metas.iter().map(|m| m.stats.num_samples).sum();
    assert_eq!(total, n);
    for m in &metas {
        assert_eq!(m.min_time / BLOCK_20M, (m.max_time - 1) / BLOCK_20M);
    }
    // Part A's windows were merged into one block each; part B's blocks are all there.
    let part_a: Vec<&BlockMeta> = metas.iter().filter(|m| m.min_time < part_b).collect();
    assert_eq!(part_a.len() as i64, part_a_windows);
    assert!(part_a.iter().all(|m| m.stats.num_series == 1000));
    let part_b_series: u64 = metas
        .iter()
        .filter(|m| m.min_time >= part_b)
        .map(|m| m.stats.num_series)
        .sum();
    assert!(part_b_series >= 2 * series_b, "{part_b_series}");
    assert!(
        peak.rss <= LIMIT + baseline.rss,
        "peak RSS {peak:?} exceeds the limit {LIMIT} plus the baseline {baseline:?}"
    );
    assert!(
        peak.anon <= LIMIT,
        "peak anonymous memory {peak:?} exceeds the limit {LIMIT}"
    );
    promtool_analyze(&dir);
}

#[test]
fn backfill_merges_spills_and_the_last_duplicate_wins_across_them() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // Three passes over the same 60,000 (series, time) pairs, more than one 4MiB buffer
    // holds: each pass's value must replace the previous one, across spills.
    let file = tmp.path().join("passes.prom");
    let mut w = std::io::BufWriter::new(std::fs::File::create(&file).expect("create"));
    let base: i64 = 1_700_000_400_000;
    for pass in 0..3 {
        for i in 0..600 {
            for s in 0..100 {
                writeln!(
                    w,
                    "m{{s=\"{s}\"}} {} {}",
                    pass * 1000 + s,
                    base + i * 10_000
                )
                .expect("write");
            }
        }
    }
    drop(w);
    let dir = tmp.path().join("data");
    let out = ok(&tsdbctl(&[
        "backfill",
        "--json",
        "--max-memory",
        "4MiB",
        "--block-duration",
        "20m",
        "--output",
        dir.to_str().expect("utf-8"),
        file.to_str().expect("utf-8"),
    ]));
    let summary: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert!(
        summary["spills"].as_u64().expect("spills") >= 2,
        "{summary}"
    );
    assert_eq!(summary["samplesRead"], 180_000);
    assert_eq!(summary["samplesWritten"], 60_000);
    let metas = blocks(&dir);
    assert_eq!(metas.len(), 5, "100 minutes from a 20-minute boundary");
    let got = read_back(&dir);
    assert_eq!(got.len(), 100);
    for (k, samples) in &got {
        assert_eq!(samples.len(), 600, "{k}");
        let s: f64 = k
            .trim_end_matches("\"}")
            .rsplit('"')
            .next()
            .and_then(|v| v.parse().ok())
            .expect("s label");
        for (i, (t, v)) in samples.iter().enumerate() {
            assert_eq!(*t, base + i as i64 * 10_000);
            assert_eq!(f64::from_bits(*v), 2000.0 + s, "{k} at {t}");
        }
    }
    promtool_analyze(&dir);
}

#[test]
fn backfill_stores_what_promtool_create_blocks_from_openmetrics_stores() {
    let Some(bin) = tsdb::testutil::reference_bin_dir() else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    // promtool appends in file order per window, so the input is in order here; it has
    // exemplars, a counter's `_created` line, escapes, NaN and ±Inf, fractional seconds.
    let mut input: Vec<Input> = input();
    input.truncate(input.len() - 2);
    let mut om = openmetrics(&input);
    om = om.replace(
        "# EOF\n",
        "# TYPE jobs counter\n\
         jobs_total{q=\"a\"} 3 1700000000.5 # {trace_id=\"abc\"} 1.0 1700000000.0\n\
         jobs_created{q=\"a\"} 1699990000 1700000000.5\n\
         jobs_total{q=\"a\"} 4 1700000001.25\n\
         # EOF\n",
    );
    let file = tmp.path().join("in.om");
    std::fs::write(&file, om).expect("write");
    let ours = tmp.path().join("ours");
    ok(&tsdbctl(&[
        "backfill",
        "--output",
        ours.to_str().expect("utf-8"),
        file.to_str().expect("utf-8"),
    ]));
    let theirs = tmp.path().join("theirs");
    let out = Command::new(bin.join("promtool"))
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(&file)
        .arg(&theirs)
        .output()
        .expect("run promtool");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (a, b) = (read_back(&ours), read_back(&theirs));
    assert!(
        a.contains_key("{__name__=\"jobs_created\", q=\"a\"}"),
        "{:?}",
        a.keys()
    );
    assert_eq!(a, b);
    let ranges = |d: &Path| -> Vec<(i64, i64, u64)> {
        blocks(d)
            .iter()
            .map(|m| (m.min_time, m.max_time, m.stats.num_samples))
            .collect()
    };
    assert_eq!(ranges(&ours), ranges(&theirs), "the same blocks");
}
