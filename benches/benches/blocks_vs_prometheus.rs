//! Blocks side by side with Prometheus 3.5.3: bytes per sample for the same input, and the
//! dashboard query set as range queries over a day of data that lives in blocks.
//!
//! The data is the Kubernetes-shaped workload of `benches::workload` (`BENCH_SERIES`
//! series, default 10 000, seed 1) scraped every `BENCH_INTERVAL` seconds (default 30) for
//! `BENCH_HOURS` hours (default 24) from 2023-11-14T22:00Z, a multiple of 2 h, so every
//! 2 h block is full. It is generated once, one 2 h range at a time, and written twice:
//!
//! - Prometheus: as one OpenMetrics file per 2 h range (series by series, sorted by labels
//!   so metric families stay together), each turned into one level-1 block by
//!   `promtool tsdb create-blocks-from openmetrics` (one file per range rather than one
//!   for the day, because promtool reads its input whole and parses it once per block).
//!   `prometheus` then serves the directory and compacts the blocks itself, about a minute
//!   after start.
//! - tsdbd: appended into a `tsdb::Db` (no WAL) in time order, one appender per scrape,
//!   with `compact_head()` after each 2 h range; the head's last range is then written as a
//!   block the same way (the head would otherwise keep it), and the blocks are compacted
//!   with `compactor::Planner` (default options: ranges 2 h, 6 h, 18 h) until it plans
//!   nothing more. `tsdbd` then serves the directory.
//!
//! The bench predicts Prometheus's final layout by running the same planner over
//! Prometheus's level-1 blocks and waits (10 minutes at most) until Prometheus's directory
//! holds exactly those blocks; both layouts are printed.
//!
//! **Bytes per sample**: sizes of the block directories (the `index` file and the
//! `chunks/` segments; `meta.json` and `tombstones` are counted only in the total of
//! files) divided by the samples in `meta.json`, for level-1 blocks and after compaction,
//! plus the index broken down into its sections by its table of contents.
//!
//! **Query latency**: every distinct expression of `benches::dashboard` as a range query
//! over the whole period at a 60 s step and over its last 6 hours at a 15 s step, through
//! the HTTP API with one client for both servers, on loopback. Each query first runs once
//! on each side and the two results are compared with `e2e::compare_results` (which also
//! warms both up); then `BENCH_RUNS` (default 5) runs alternate between the servers, and
//! the table shows the medians of the whole round trip (request, evaluation, JSON
//! encoding, reading the body) and the ratio tsdbd / Prometheus (< 1: tsdbd is faster),
//! with the geometric mean of the ratios at the end. `BENCH_QUERIES=text` runs only the
//! expressions containing `text`.
//!
//! `cargo bench -p benches --bench blocks_vs_prometheus` (builds tsdbd in release first).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use benches::blocks::{BlockDir, SECTIONS, Totals, block_infos, blocks_in, totals};
use benches::dashboard::{self, Names, geometric_mean, median};
use benches::server::{Kind, Server, Settings, build_release_tsdbd};
use benches::workload::{Generator, Workload};
use compactor::Planner;
use prometheus_client::registry::Registry;
use serde_json::Value;
use tsdb::Db;
use tsdb::block::{BlockWriter, Compaction, Ulid};
use tsdb::labels::Labels;
use tsdb::testutil::reference_bin_dir;

/// One hour in ms.
const HOUR: i64 = 3_600_000;
/// The block range of both sides (Prometheus's default minimum block duration).
const BLOCK: i64 = 2 * HOUR;
/// Start of the data: 2023-11-14T22:00:00Z (ms), a multiple of [`BLOCK`].
const T0: i64 = 1_699_999_200_000;
/// The shorter query window, at the finer step.
const RECENT: i64 = 6 * HOUR;
/// How long to wait for Prometheus to finish compacting.
const COMPACTION_WAIT: Duration = Duration::from_secs(600);

/// What to run, from the environment.
struct Config {
    series: usize,
    hours: i64,
    interval: i64,
    runs: usize,
    only: Option<String>,
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v} is not a valid number")),
        Err(_) => default,
    }
}

impl Config {
    fn from_env() -> Config {
        let c = Config {
            series: env_or("BENCH_SERIES", 10_000),
            hours: env_or("BENCH_HOURS", 24),
            interval: env_or::<i64>("BENCH_INTERVAL", 30) * 1000,
            runs: env_or("BENCH_RUNS", 5),
            only: std::env::var("BENCH_QUERIES").ok(),
        };
        assert!(c.series > 0 && c.hours > 0 && c.runs > 0, "empty benchmark");
        assert!(
            c.interval > 0 && BLOCK % c.interval == 0,
            "BENCH_INTERVAL must divide 2 h"
        );
        c
    }

    /// Number of scrapes.
    fn scrapes(&self) -> i64 {
        self.hours * HOUR / self.interval
    }

    /// Timestamp of the last sample.
    fn last(&self) -> i64 {
        T0 + (self.scrapes() - 1) * self.interval
    }
}

/// `name{a="b",...}` for OpenMetrics, from labels sorted by name (`__name__` among them).
fn series_text(labels: &[(String, String)]) -> String {
    let name = labels
        .iter()
        .find(|(n, _)| n == "__name__")
        .map(|(_, v)| v.as_str())
        .expect("a metric name");
    let rest: Vec<String> = labels
        .iter()
        .filter(|(n, _)| n != "__name__")
        .map(|(n, v)| {
            assert!(!v.contains(['"', '\\', '\n']), "value {v:?} needs escaping");
            format!("{n}=\"{v}\"")
        })
        .collect();
    format!("{name}{{{}}}", rest.join(","))
}

/// Starts `promtool tsdb create-blocks-from openmetrics` on `input`.
fn spawn_promtool(bin: &Path, input: &Path, out_dir: &Path) -> Child {
    Command::new(bin.join("promtool"))
        .args(["tsdb", "create-blocks-from", "openmetrics", "--quiet"])
        .arg(input)
        .arg(out_dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool")
}

/// Waits for a promtool run and deletes its input.
fn finish_promtool(child: Child, input: &Path) {
    let out = child.wait_with_output().expect("wait for promtool");
    assert!(
        out.status.success(),
        "promtool tsdb create-blocks-from openmetrics {} failed: {}",
        input.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_file(input).expect("remove OpenMetrics file");
}

/// Generates the data one 2 h range at a time, appends it to `db` and has promtool write
/// it into `prom_dir`. Returns the number of samples.
fn write_data(cfg: &Config, bin: &Path, db: &Db, om_dir: &Path, prom_dir: &Path) -> u64 {
    let mut g = Generator::new(&Workload {
        seed: 1,
        series: cfg.series,
    });
    let n = g.series().len();
    let labels: Vec<Labels> = g
        .series()
        .iter()
        .map(|s| Labels::from_pairs(&s.labels))
        .collect();
    let text: Vec<String> = g.series().iter().map(|s| series_text(&s.labels)).collect();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| g.series()[a].labels.cmp(&g.series()[b].labels));
    let mut refs = vec![0u64; n];
    let mut pending: Option<(Child, PathBuf)> = None;
    let mut samples = 0u64;
    let mut k = 0i64;
    let mut slice = T0;
    while k < cfg.scrapes() {
        // Scrape-major values of this 2 h range.
        let mut values: Vec<f64> = Vec::with_capacity(n * (BLOCK / cfg.interval) as usize);
        let mut times = Vec::new();
        while k < cfg.scrapes() && T0 + k * cfg.interval < slice + BLOCK {
            if k > 0 {
                g.scrape();
            }
            let t = T0 + k * cfg.interval;
            let mut app = db.appender();
            for (i, s) in g.series().iter().enumerate() {
                refs[i] = app.add(refs[i], &labels[i], t, s.value).expect("append");
                values.push(s.value);
            }
            app.commit_batch().expect("commit");
            times.push(t);
            k += 1;
        }
        db.compact_head().expect("compact the head");
        samples += (times.len() * n) as u64;

        let path = om_dir.join(format!("{slice}.om"));
        let mut w = BufWriter::with_capacity(1 << 20, File::create(&path).expect("create file"));
        for &i in &order {
            for (j, t) in times.iter().enumerate() {
                writeln!(
                    w,
                    "{} {:?} {}.{:03}",
                    text[i],
                    values[j * n + i],
                    t / 1000,
                    t % 1000
                )
                .expect("write");
            }
        }
        writeln!(w, "# EOF").expect("write");
        w.flush().expect("flush");
        drop(w);
        // promtool converts this range while the next one is generated.
        if let Some((child, input)) = pending.take() {
            finish_promtool(child, &input);
        }
        pending = Some((spawn_promtool(bin, &path, prom_dir), path));
        slice += BLOCK;
    }
    if let Some((child, input)) = pending.take() {
        finish_promtool(child, &input);
    }
    samples
}

/// Writes what is left in the head as level-1 blocks, one per block range, the way
/// `Db::compact_head` writes the ranges it is allowed to, and serves them.
fn flush_head(db: &Db) {
    let head = db.head();
    // Each round truncates the head past one block range; a day holds 12.
    for _ in 0..10_000 {
        let Some((mint, maxt)) = head.oldest_block_range() else {
            break;
        };
        let series = head.range_series(mint, maxt);
        if !series.is_empty() {
            let ulid = Ulid::new();
            let mut w = BlockWriter::new(db.dir(), ulid, series.symbols()).expect("block writer");
            for item in series {
                let (s, chunks) = item.expect("head series");
                let metas: Vec<_> = chunks.iter().map(|c| c.as_meta()).collect();
                w.add_series(s.labels(), &metas).expect("add series");
            }
            w.finish(mint, maxt, Compaction::level1(ulid))
                .expect("finish block");
        }
        head.truncate(maxt).expect("truncate the head");
    }
    db.reload_blocks().expect("reload blocks");
}

/// The layout the planner leads to from `blocks`, as Prometheus's compaction loop reaches
/// it: each planned compaction replaced by one block spanning its inputs.
fn planned_layout(planner: &Planner, blocks: &[BlockDir]) -> Vec<(i64, i64)> {
    let mut layout: Vec<(i64, i64)> = planner
        .planned_blocks(&block_infos(blocks))
        .iter()
        .map(|b| (b.min_time, b.max_time))
        .collect();
    layout.sort_unstable();
    layout
}

fn layout(blocks: &[BlockDir]) -> Vec<(i64, i64)> {
    blocks.iter().map(|b| (b.min_time, b.max_time)).collect()
}

/// Compacts `db`'s blocks as the planner says until it plans nothing; returns the
/// number of compactions.
fn compact_with_planner(db: &Db, planner: &Planner) -> usize {
    for done in 0..1000 {
        let Some(c) = planner.plan(&block_infos(&blocks_in(db.dir()))) else {
            return done;
        };
        let ulids: Vec<Ulid> = c
            .blocks
            .iter()
            .map(|u| u.parse().expect("a ULID"))
            .collect();
        db.compact_blocks(&ulids).expect("compact blocks");
    }
    panic!("the planner did not converge in 1000 compactions");
}

/// A layout as `[start, end) level` items relative to [`T0`], in hours.
fn describe(blocks: &[BlockDir]) -> String {
    let h = |t: i64| (t - T0) as f64 / HOUR as f64;
    blocks
        .iter()
        .map(|b| {
            format!(
                "[{:.2}h, {:.2}h) L{}",
                h(b.min_time),
                h(b.max_time),
                b.level
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Prints the bytes-per-sample rows of one level.
fn print_sizes(what: &str, prom: &Totals, ours: &Totals) {
    let per = |b: u64, t: &Totals| b as f64 / t.samples as f64;
    for (side, t) in [("Prometheus 3.5.3", prom), ("tsdbd", ours)] {
        println!(
            "| {what} | {side} | {} | {} | {} | {} | {:.3} | {} | {:.3} | {:.3} | {:.3} |",
            t.blocks,
            t.samples,
            t.chunks,
            t.chunk_bytes,
            per(t.chunk_bytes, t),
            t.index_bytes,
            per(t.index_bytes, t),
            per(t.chunk_bytes + t.index_bytes, t),
            per(t.all_bytes, t),
        );
    }
    let r = |a: u64, b: u64| a as f64 / b as f64;
    println!(
        "| {what} | **tsdbd / Prometheus** | | | {:.3}× | {:.3}× | | {:.3}× | | **{:.3}×** | {:.3}× |",
        r(ours.chunks, prom.chunks),
        r(ours.chunk_bytes, prom.chunk_bytes),
        r(ours.index_bytes, prom.index_bytes),
        r(
            ours.chunk_bytes + ours.index_bytes,
            prom.chunk_bytes + prom.index_bytes
        ),
        r(ours.all_bytes, prom.all_bytes),
    );
}

/// Milliseconds as the API's seconds.
fn api_seconds(t: i64) -> String {
    format!("{}.{:03}", t / 1000, t % 1000)
}

/// One range query window.
#[derive(Debug, Clone, Copy)]
struct Window {
    name: &'static str,
    start: i64,
    end: i64,
    step: i64,
}

/// `GET {base}/api/v1/query_range`: (round trip in ms, body).
fn query_range(agent: &ureq::Agent, base: &str, expr: &str, w: &Window) -> (f64, String) {
    let started = Instant::now();
    let mut resp = agent
        .get(format!("{base}/api/v1/query_range"))
        .query("query", expr)
        .query("start", api_seconds(w.start))
        .query("end", api_seconds(w.end))
        .query("step", api_seconds(w.step))
        .call()
        .unwrap_or_else(|e| panic!("{base}: {expr}: {e}"));
    let body = resp
        .body_mut()
        .with_config()
        .limit(u64::MAX)
        .read_to_string()
        .expect("response body");
    (started.elapsed().as_secs_f64() * 1e3, body)
}

/// `data.result` of a successful response.
fn result_of(body: &str, who: &str, expr: &str) -> Value {
    let j: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{who}: {expr}: {e}"));
    assert_eq!(j["status"], "success", "{who}: {expr}: {body}");
    j["data"]["result"].clone()
}

/// Whether two matrices hold the same multiset of values at every timestamp, whichever
/// series they belong to: what `topk` returns when it breaks ties between equal values
/// differently (the workload's counters grow by whole numbers, so rates tie).
fn same_values_per_step(a: &Value, b: &Value) -> bool {
    let by_step = |m: &Value| {
        let mut steps: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        for s in m.as_array().into_iter().flatten() {
            for p in s["values"].as_array().into_iter().flatten() {
                let v = p[1]
                    .as_str()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(f64::NAN);
                steps.entry(p[0].to_string()).or_default().push(v);
            }
        }
        for v in steps.values_mut() {
            v.sort_by(f64::total_cmp);
        }
        steps
    };
    let (x, y) = (by_step(a), by_step(b));
    x.len() == y.len()
        && x.iter().zip(&y).all(|((tx, vx), (ty, vy))| {
            tx == ty
                && vx.len() == vy.len()
                && vx
                    .iter()
                    .zip(vy)
                    .all(|(p, q)| p == q || (p - q).abs() <= 1e-9 * p.abs().max(q.abs()))
        })
}

/// Waits until Prometheus's directory holds exactly the `want` layout.
fn wait_for_layout(dir: &Path, want: &[(i64, i64)]) -> Vec<BlockDir> {
    let deadline = Instant::now() + COMPACTION_WAIT;
    loop {
        let blocks = blocks_in(dir);
        if layout(&blocks) == want {
            return blocks;
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus did not reach the planned layout in {COMPACTION_WAIT:?}: has {}",
            describe(&blocks)
        );
        std::thread::sleep(Duration::from_secs(1));
    }
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument other than ours skips the run.
    if std::env::args()
        .skip(1)
        .any(|a| !a.starts_with("--") && a != "blocks")
    {
        return;
    }
    let Some(bin) = reference_bin_dir() else {
        return;
    };
    let tsdbd = build_release_tsdbd();

    let cfg = Config::from_env();
    let started = Instant::now();
    let tmp = tempfile::tempdir().expect("temp dir");
    let (om_dir, prom_dir, our_dir) = (
        tmp.path().join("om"),
        tmp.path().join("prom"),
        tmp.path().join("tsdbd"),
    );
    for d in [&om_dir, &prom_dir] {
        std::fs::create_dir_all(d).expect("mkdir");
    }

    // The same data into both.
    let db = Db::open(
        &our_dir,
        tsdb::Options {
            wal_enabled: false,
            ..tsdb::Options::default()
        },
        &mut Registry::default(),
    )
    .expect("open db");
    let samples = write_data(&cfg, &bin, &db, &om_dir, &prom_dir);
    flush_head(&db);
    eprintln!(
        "{samples} samples written to both in {:.1?}",
        started.elapsed()
    );

    // Level 1 on both sides.
    let prom_l1 = blocks_in(&prom_dir);
    let ours_l1 = blocks_in(&our_dir);
    assert_eq!(totals(&prom_l1).samples, samples, "Prometheus's samples");
    assert_eq!(totals(&ours_l1).samples, samples, "our samples");

    // Prometheus compacts by itself after its first block reload (a minute after start);
    // ours are compacted meanwhile.
    let settings = Settings {
        retention: Some(Duration::from_secs(15 * 86_400)),
        query_max_samples: Some(500_000_000),
        query_timeout: Some(Duration::from_secs(600)),
        ..Settings::default()
    };
    let ready = Duration::from_secs(120);
    let prom = Server::start(
        Kind::Prometheus,
        &bin.join("prometheus"),
        &prom_dir,
        &settings,
        ready,
    )
    .expect("start Prometheus");
    let prom_url = prom.url();
    let planner = Planner::new(&compactor::Options::default()).expect("planner");
    let compactions = compact_with_planner(&db, &planner);
    db.close().expect("close db");
    let ours_c = blocks_in(&our_dir);
    let want = planned_layout(&planner, &prom_l1);
    let prom_c = wait_for_layout(&prom_dir, &want);
    eprintln!(
        "compacted ({compactions} compactions of ours) in {:.1?}",
        started.elapsed()
    );

    let ours_srv =
        Server::start(Kind::Tsdbd, &tsdbd, &our_dir, &settings, ready).expect("start tsdbd");
    let ours_url = ours_srv.url();

    println!(
        "\n{} series (`benches::workload`, seed 1), {} h at {} s from 2023-11-14T22:00Z: {samples} samples\n",
        cfg.series,
        cfg.hours,
        cfg.interval / 1000
    );
    println!("Prometheus level 1: {}", describe(&prom_l1));
    println!("tsdbd level 1:      {}", describe(&ours_l1));
    println!("Prometheus compacted: {}", describe(&prom_c));
    println!("tsdbd compacted:      {}", describe(&ours_c));
    // promtool ends a block at its last sample + 1 ms, the head at the range's end, so
    // the layouts are compared by start and level.
    let starts = |b: &[BlockDir]| b.iter().map(|b| (b.min_time, b.level)).collect::<Vec<_>>();
    if starts(&prom_c) == starts(&ours_c) {
        println!("(the same blocks by start and level on both sides)");
    } else {
        println!("(**the compacted layouts differ**)");
    }

    // Bytes per sample.
    println!(
        "\n| blocks | side | blocks | samples | chunks | chunk bytes | chunks B/sample | index bytes | index B/sample | **index + chunks B/sample** | all files B/sample |"
    );
    println!("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    let (p1, o1, pc, oc) = (
        totals(&prom_l1),
        totals(&ours_l1),
        totals(&prom_c),
        totals(&ours_c),
    );
    print_sizes("level 1", &p1, &o1);
    print_sizes("compacted", &pc, &oc);
    println!(
        "\n| index section (bytes) | Prometheus level 1 | tsdbd level 1 | Prometheus compacted | tsdbd compacted |"
    );
    println!("| --- | ---: | ---: | ---: | ---: |");
    for (i, name) in SECTIONS.iter().enumerate() {
        println!(
            "| {name} | {} | {} | {} | {} |",
            p1.sections[i], o1.sections[i], pc.sections[i], oc.sections[i]
        );
    }

    // Query latency.
    let last = cfg.last();
    let windows = [
        Window {
            name: "whole period",
            start: T0,
            end: last,
            step: 60_000,
        },
        Window {
            name: "last 6 h",
            start: (last - RECENT).max(T0),
            end: last,
            step: 15_000,
        },
    ];
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(600)))
        .build()
        .into();
    let exprs = dashboard::expressions(&Names {
        histogram_bucket: "http_request_duration_seconds_bucket",
        pod_regex: "svc-1.*",
    });
    println!(
        "\nRange queries over HTTP on loopback, median of {} runs after 1 warm-up (the result check), round trip in ms; ratio < 1: tsdbd is faster\n",
        cfg.runs
    );
    println!(
        "| query | range, step | series | Prometheus ms | tsdbd ms | tsdbd / Prometheus | same result |"
    );
    println!("| --- | --- | ---: | ---: | ---: | ---: | --- |");
    let mut ratios: Vec<(usize, f64)> = Vec::new();
    let mut mismatches = 0;
    for (wi, w) in windows.iter().enumerate() {
        for expr in &exprs {
            if let Some(only) = &cfg.only
                && !expr.contains(only.as_str())
            {
                continue;
            }
            let (_, pb) = query_range(&agent, &prom_url, expr, w);
            let (_, ob) = query_range(&agent, &ours_url, expr, w);
            let (pr, or) = (
                result_of(&pb, "Prometheus", expr),
                result_of(&ob, "tsdbd", expr),
            );
            let same = match e2e::compare_results(&pr, &or) {
                Ok(()) => "yes".to_string(),
                Err(e) if same_values_per_step(&pr, &or) => {
                    eprintln!(
                        "{expr} ({}): series differ ({e}) among equal values",
                        w.name
                    );
                    "same values per step; ties broken differently".to_string()
                }
                Err(e) => {
                    mismatches += 1;
                    eprintln!("{expr} ({}): results differ: {e}", w.name);
                    let short: String = e.chars().take(80).collect();
                    format!("**no**: {short}")
                }
            };
            let series = pr.as_array().map_or(0, Vec::len);
            let (mut pt, mut ot) = (Vec::new(), Vec::new());
            for run in 0..cfg.runs {
                // Alternate which server goes first, so drift in the machine's load falls
                // on both.
                if run % 2 == 0 {
                    pt.push(query_range(&agent, &prom_url, expr, w).0);
                    ot.push(query_range(&agent, &ours_url, expr, w).0);
                } else {
                    ot.push(query_range(&agent, &ours_url, expr, w).0);
                    pt.push(query_range(&agent, &prom_url, expr, w).0);
                }
            }
            let (p, o) = (median(pt), median(ot));
            ratios.push((wi, o / p));
            println!(
                "| `{expr}` | {}, {} s | {series} | {p:.1} | {o:.1} | {:.2} | {same} |",
                w.name,
                w.step / 1000,
                o / p
            );
        }
    }
    println!();
    for (wi, w) in windows.iter().enumerate() {
        let r: Vec<f64> = ratios
            .iter()
            .filter(|(i, _)| *i == wi)
            .map(|(_, r)| *r)
            .collect();
        println!(
            "geometric mean tsdbd / Prometheus, {} at {} s ({} queries): {:.2}",
            w.name,
            w.step / 1000,
            r.len(),
            geometric_mean(&r)
        );
    }
    let all: Vec<f64> = ratios.iter().map(|(_, r)| *r).collect();
    println!(
        "geometric mean tsdbd / Prometheus, all ({} queries): {:.2}",
        all.len(),
        geometric_mean(&all)
    );
    if mismatches > 0 {
        println!("{mismatches} queries returned different results (see stderr)");
    }
    drop(ours_srv);
    drop(prom);
    eprintln!("done in {:.1?}", started.elapsed());
}
