//! The whole-system benchmark: tsdbd against Prometheus 3.5.3, each fed the same
//! remote-write load, one after the other, from start to crash recovery.
//!
//! For one scale (active series), [`run`] generates the Kubernetes-shaped workload
//! ([`crate::workload`], seed 1) over a span that ends before the run starts (back-dated
//! timestamps), encodes it once into remote-write 1.0 bodies ([`crate::loadgen`]), and
//! then, for Prometheus and then tsdbd, on a fresh data directory with the same
//! [`Settings`] (short blocks, so that head blocks are cut and compacted within the run):
//!
//! 1. **ingest**: sends the bodies over [`Scale::shards`] connections, a slice of rounds
//!    at a time (every connection finishes a slice before the next starts, so no sample
//!    is older than the servers' append window); server CPU seconds from `/proc` over the
//!    send plus two seconds of settling, per million samples; then resident memory per
//!    active series.
//! 2. **compaction**: waits until the blocks on disk hold every sample the head must have
//!    cut (the head keeps the last 1.5 block ranges at most) and the compaction planner
//!    (Prometheus's rules, `compactor::Planner`) has nothing left to do; bytes per sample
//!    are the sizes of every file in the block directories over their samples (the WAL,
//!    `chunks_head/` and the head are not counted).
//! 3. **queries**: the dashboard set ([`crate::dashboard`]): instant queries at the last
//!    sample, range queries over the whole span at 15 s and 60 s steps; one warm-up and
//!    [`Scale::runs`] timed runs each (HTTP round trip), the median per query, and per
//!    group the geometric mean of the medians.
//! 4. **restart**: SIGKILL, start again on the same directory, time until `/-/ready`
//!    answers 200 (WAL replay); [`RESTARTS`] times, the median counts.
//! 5. **check**: `count({__name__=~".+"})` and the number of samples
//!    (`sum(count_over_time({__name__=~".+"}[span]))`) must be what was sent, on both
//!    servers, else the run fails: a benchmark of wrong answers is worthless.
//!
//! [`markdown`] renders the results as the `docs/benchmarks.md` section.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, Result, bail, ensure};
use serde_json::Value;

use crate::blocks::{BlockDir, Totals, block_infos, blocks_in, totals};
use crate::dashboard::{self, Names, Query, median};
use crate::loadgen::{self, Payload, Plan, Report, Target};
use crate::process::{cpu_seconds, rss_bytes};
use crate::server::{Kind, Server, Settings, prom_duration};
use crate::workload::{Generator, Workload};

pub mod report;

pub use report::{BEGIN, END, Environment, ROWS, load_average, markdown, replace_section, table};

/// SIGKILL-and-restart cycles per server; the median is reported.
pub const RESTARTS: usize = 3;

/// One scale to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scale {
    /// How the scale was asked for (`100k`).
    pub name: String,
    /// Active series.
    pub series: usize,
    /// Time span of the data.
    pub span: Duration,
    /// Scrape interval.
    pub interval: Duration,
    /// Block range (the largest block is three of them).
    pub block: Duration,
    /// Timed runs per query.
    pub runs: usize,
    /// Remote-write connections.
    pub shards: usize,
}

/// `10k`, `100k`, `1m`, `2k` or a plain number, as a series count.
pub fn parse_series(s: &str) -> Result<usize> {
    let t = s.trim().to_ascii_lowercase();
    let (num, mult) = if let Some(n) = t.strip_suffix('k') {
        (n, 1_000)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 1_000_000)
    } else {
        (t.as_str(), 1)
    };
    let n: usize = num
        .parse()
        .with_context(|| format!("scale {s:?}: want e.g. 10k, 100k, 1m"))?;
    ensure!(n > 0, "scale {s:?} is empty");
    Ok(n * mult)
}

/// A positive Prometheus duration such as `15s`, `10m`, `1h30m`, `500ms` ([`tsdb::units`]).
pub fn parse_duration(s: &str) -> Result<Duration> {
    let d = tsdb::units::parse_duration(s.trim()).map_err(anyhow::Error::msg)?;
    ensure!(!d.is_zero(), "duration {s:?} is zero");
    Ok(d)
}

impl Scale {
    /// The defaults for `series`: an hour at 15 s in 10-minute blocks (five head blocks,
    /// three of them compacted into one), at 30 s from 500k series on so the prepared
    /// bodies stay within a few GiB; 5 timed runs per query; 4 connections.
    pub fn new(name: &str, series: usize) -> Scale {
        Scale {
            name: name.to_owned(),
            series,
            span: Duration::from_secs(3600),
            interval: Duration::from_secs(if series >= 500_000 { 30 } else { 15 }),
            block: Duration::from_secs(600),
            runs: 5,
            shards: 4,
        }
    }

    fn ms(d: Duration) -> i64 {
        i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
    }

    /// Scrape rounds.
    pub fn rounds(&self) -> usize {
        (self.span.as_millis() / self.interval.as_millis().max(1)) as usize
    }

    /// The settings both servers get.
    pub fn settings(&self) -> Settings {
        Settings {
            block_range: Some(self.block),
            max_block: Some(self.block * 3),
            retention: Some(Duration::from_secs(15 * 86_400)),
            query_max_samples: Some(2_000_000_000),
            query_timeout: Some(Duration::from_secs(600)),
        }
    }

    fn check(&self) -> Result<()> {
        let (iv, b) = (Self::ms(self.interval), Self::ms(self.block));
        ensure!(
            self.rounds() >= 2,
            "span {:?} holds fewer than two scrapes",
            self.span
        );
        ensure!(
            b % iv == 0,
            "the interval must divide the block range ({:?} / {:?})",
            self.block,
            self.interval
        );
        ensure!(
            self.runs > 0 && self.shards > 0,
            "runs and shards must be positive"
        );
        Ok(())
    }

    /// Rounds per send slice: at most a quarter of a block range of data, so connections
    /// stay well within the servers' append window (half a block range behind the newest
    /// sample).
    fn slice_rounds(&self) -> usize {
        ((Self::ms(self.block) / 4) / Self::ms(self.interval)).max(1) as usize
    }

    /// One line describing the data.
    pub fn describe(&self) -> String {
        format!(
            "{} series, {} at {} ({} rounds, {} samples), {} blocks compacted up to {}",
            self.series,
            prom_duration(self.span),
            prom_duration(self.interval),
            self.rounds(),
            self.rounds() * self.series,
            prom_duration(self.block),
            prom_duration(self.block * 3)
        )
    }
}

/// The servers to compare.
#[derive(Debug, Clone)]
pub struct Binaries {
    /// The `tsdbd` executable.
    pub tsdbd: PathBuf,
    /// The `prometheus` executable (3.5.3).
    pub prometheus: PathBuf,
}

/// One phase's name and wall time.
pub type Phase = (&'static str, Duration);

/// What one server measured.
#[derive(Debug, Clone)]
pub struct Side {
    /// Which server.
    pub kind: Kind,
    /// Server CPU seconds per million ingested samples.
    pub cpu_per_million: f64,
    /// Resident bytes per active series after ingest.
    pub rss_per_series: f64,
    /// Resident bytes per active series two seconds after the blocks settled.
    pub rss_settled_per_series: f64,
    /// The blocks after compaction.
    pub blocks: Vec<BlockDir>,
    /// Their totals.
    pub totals: Totals,
    /// Median round trip per dashboard query, ms, in [`queries`] order.
    pub query_ms: Vec<f64>,
    /// Result series per dashboard query (from the warm-up).
    pub query_series: Vec<usize>,
    /// Spawn to `/-/ready` after SIGKILL, the median of [`RESTARTS`].
    pub restart: Duration,
    /// The remote-write sends.
    pub ingest: Report,
    /// Elapsed time per phase.
    pub phases: Vec<Phase>,
}

impl Side {
    /// Bytes of every file of every block over the blocks' samples.
    pub fn bytes_per_sample(&self) -> f64 {
        self.totals.all_bytes as f64 / self.totals.samples.max(1) as f64
    }

    /// The block layout, e.g. `L2 30m, L1 10m, L1 10m`.
    pub fn layout(&self) -> String {
        self.blocks
            .iter()
            .map(|b| {
                format!(
                    "L{} {}",
                    b.level,
                    prom_duration(Duration::from_millis(
                        u64::try_from(b.max_time - b.min_time).unwrap_or(0)
                    ))
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The results of one scale.
#[derive(Debug, Clone)]
pub struct ScaleResult {
    /// What ran.
    pub scale: Scale,
    /// Samples sent to each server.
    pub samples: u64,
    /// Size of the prepared bodies.
    pub body_bytes: u64,
    /// tsdbd's measurements.
    pub tsdbd: Side,
    /// Prometheus's.
    pub prometheus: Side,
    /// Generating and encoding the workload.
    pub prepare: Duration,
    /// The whole scale.
    pub total: Duration,
}

/// The dashboard queries run, with the workload's names.
pub fn queries() -> Vec<Query> {
    dashboard::queries(&Names {
        histogram_bucket: "http_request_duration_seconds_bucket",
        pod_regex: "svc-1.*",
    })
}

/// The timestamps of the data: first and last sample (ms). The first is a multiple of
/// three block ranges (so compaction windows line up the same way on every run) and the
/// last is before `now_ms`.
fn time_range(scale: &Scale, now_ms: i64) -> (i64, i64) {
    let window = Scale::ms(scale.block) * 3;
    let iv = Scale::ms(scale.interval);
    let span = iv * scale.rounds() as i64;
    let t0 = (now_ms - span - window).div_euclid(window) * window;
    (t0, t0 + span - iv)
}

/// Samples per series that the head must have cut into blocks by itself once every
/// sample from `t0` to `tend` is in: both heads cut their oldest block range while they
/// span more than 1.5 block ranges (Prometheus's `Head.compactable`).
fn samples_cut_per_series(t0: i64, tend: i64, interval: i64, block: i64) -> u64 {
    let mut mint = t0;
    let mut end = t0;
    while tend - mint > block / 2 * 3 {
        end = (mint.div_euclid(block) + 1) * block;
        // The first sample at or after the block's end.
        mint = t0 + (end - t0 + interval - 1).div_euclid(interval) * interval;
    }
    ((end - t0 + interval - 1).div_euclid(interval)).max(0) as u64
}

/// Encodes the workload's rounds into slices of [`Scale::slice_rounds`] rounds, each
/// split into per-connection bodies, on all cores (each worker walks the same
/// deterministic generator and encodes every other slice).
fn prepare(scale: &Scale, t0: i64) -> Vec<Vec<Vec<Payload>>> {
    let rounds = scale.rounds();
    let per = scale.slice_rounds();
    let slices = rounds.div_ceil(per);
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 8)
        .min(slices);
    let iv = Scale::ms(scale.interval);
    let mut out: Vec<Option<Vec<Vec<Payload>>>> = vec![None; slices];
    let done: Vec<Vec<(usize, Vec<Vec<Payload>>)>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|w| {
                s.spawn(move || {
                    let mut g = Generator::new(&Workload {
                        seed: 1,
                        series: scale.series,
                    });
                    let mut mine = Vec::new();
                    for i in 0..slices {
                        let n = per.min(rounds - i * per);
                        if i > 0 {
                            g.scrape();
                        }
                        if i % workers == w {
                            let plan = Plan {
                                scrapes: n,
                                start_ms: t0 + (i * per) as i64 * iv,
                                interval_ms: iv,
                                shards: scale.shards,
                                max_samples_per_send: 2000,
                            };
                            mine.push((i, loadgen::prepare(&mut g, &plan, loadgen::encode_v1)));
                        } else {
                            for _ in 1..n {
                                g.scrape();
                            }
                        }
                    }
                    mine
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("an encoding thread panicked"))
            .collect()
    });
    for (i, p) in done.into_iter().flatten() {
        out[i] = Some(p);
    }
    out.into_iter()
        .map(|p| p.expect("every slice encoded"))
        .collect()
}

/// An HTTP client for queries, with room for slow ones.
fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(900)))
        .build()
        .into()
}

/// Milliseconds as the API's seconds.
fn api_seconds(t: i64) -> String {
    format!("{}.{:03}", t.div_euclid(1000), t.rem_euclid(1000))
}

/// Runs `q` (instant at `tend`, or range over `[t0, tend]`): round trip in ms and the
/// `data.result` of a successful answer.
fn run_query(
    agent: &ureq::Agent,
    base: &str,
    q: &Query,
    t0: i64,
    tend: i64,
) -> Result<(f64, Value)> {
    let req = if q.step > 0 {
        agent
            .get(format!("{base}/api/v1/query_range"))
            .query("query", &q.expr)
            .query("start", api_seconds(t0))
            .query("end", api_seconds(tend))
            .query("step", api_seconds(q.step))
    } else {
        agent
            .get(format!("{base}/api/v1/query"))
            .query("query", &q.expr)
            .query("time", api_seconds(tend))
    };
    let started = Instant::now();
    let mut resp = req.call().with_context(|| format!("{base}: {}", q.expr))?;
    let body = resp
        .body_mut()
        .with_config()
        .limit(u64::MAX)
        .read_to_string()
        .with_context(|| format!("{base}: {}: body", q.expr))?;
    let ms = started.elapsed().as_secs_f64() * 1e3;
    let j: Value =
        serde_json::from_str(&body).with_context(|| format!("{base}: {}: {body}", q.expr))?;
    ensure!(j["status"] == "success", "{base}: {}: {body}", q.expr);
    Ok((ms, j["data"]["result"].clone()))
}

/// The single value of an instant query that returns one sample.
fn scalar_query(agent: &ureq::Agent, base: &str, expr: &str, t: i64) -> Result<f64> {
    let q = Query {
        expr: expr.to_owned(),
        step: 0,
    };
    let (_, r) = run_query(agent, base, &q, t, t)?;
    r[0]["value"][1]
        .as_str()
        .and_then(|v| v.parse().ok())
        .with_context(|| format!("{base}: {expr}: no single value in {r}"))
}

/// `(series, samples)` as the server counts them. Samples are counted per metric name
/// (`count_over_time` drops the name, so over all names at once the series would
/// collide).
fn counts(agent: &ureq::Agent, base: &str, scale: &Scale, tend: i64) -> Result<(f64, f64)> {
    let series = scalar_query(agent, base, r#"count({__name__=~".+"})"#, tend)?;
    let window = prom_duration(scale.span + scale.block);
    let url = format!("{base}/api/v1/label/__name__/values");
    let body = agent
        .get(&url)
        .call()
        .with_context(|| url.clone())?
        .body_mut()
        .read_to_string()
        .with_context(|| url.clone())?;
    let j: Value = serde_json::from_str(&body).with_context(|| format!("{url}: {body}"))?;
    let names = j["data"]
        .as_array()
        .with_context(|| format!("{url}: {body}"))?;
    let mut samples = 0.0;
    for name in names.iter().filter_map(Value::as_str) {
        samples += scalar_query(
            agent,
            base,
            &format!("sum(count_over_time({name}[{window}]))"),
            tend,
        )?;
    }
    Ok((series, samples))
}

/// What [`run_side`] needs to know about the data.
#[derive(Debug, Clone, Copy)]
struct Data {
    t0: i64,
    tend: i64,
    samples: u64,
    block_samples: u64,
}

/// Waits until the blocks in `dir` hold `want` samples and the planner has nothing to do.
fn wait_for_compaction(server: &Server, scale: &Scale, want: u64) -> Result<Vec<BlockDir>> {
    let opts = compactor::Options {
        min_block_duration: Scale::ms(scale.block),
        max_block_duration: Some(Scale::ms(scale.block * 3)),
        ..compactor::Options::default()
    };
    let planner = compactor::Planner::new(&opts).context("planner")?;
    let limit = Duration::from_secs(300) + Duration::from_millis(scale.series as u64 / 2);
    let deadline = Instant::now() + limit;
    loop {
        let blocks = blocks_in(server.dir());
        let t = totals(&blocks);
        if t.samples == want && planner.plan(&block_infos(&blocks)).is_none() {
            return Ok(blocks);
        }
        if Instant::now() >= deadline {
            bail!(
                "{}: blocks did not settle within {limit:?}: {} samples in {} blocks, want {want}; log:\n{}",
                server.kind().name(),
                t.samples,
                t.blocks,
                server.log_tail(20)
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Runs every phase on one server; returns its measurements and its final counts.
fn run_side(
    kind: Kind,
    exe: &Path,
    dir: &Path,
    scale: &Scale,
    data: Data,
    payloads: &[Vec<Vec<Payload>>],
) -> Result<(Side, (f64, f64))> {
    let name = kind.name();
    let mut phases: Vec<Phase> = Vec::new();
    let mut clock = Instant::now();
    let mut lap = |phases: &mut Vec<Phase>, what: &'static str| {
        let d = clock.elapsed();
        eprintln!("  {name}: {what} {:.1}s", d.as_secs_f64());
        phases.push((what, d));
        clock = Instant::now();
    };
    let ready = Duration::from_secs(120);
    let mut server = Server::start(kind, exe, dir, &scale.settings(), ready)
        .with_context(|| format!("start {name}"))?;
    lap(&mut phases, "start");

    // 1. Ingest.
    let target = Target {
        url: format!("{}/api/v1/write", server.url()),
        headers: loadgen::headers(false),
        rate: None,
    };
    let pid = server.pid();
    let cpu0 = cpu_seconds(pid)?;
    let mut ingest = Report::default();
    for slice in payloads {
        let r = loadgen::send(slice, &target);
        ensure!(r.all_ok(), "{name}: remote write failed: {}", r.summary());
        ingest.merge(r);
    }
    // Let background work settle (WAL writes, Go's GC) before reading CPU and memory.
    std::thread::sleep(Duration::from_secs(2));
    let cpu = cpu_seconds(pid)? - cpu0;
    let rss = rss_bytes(pid)?;
    lap(&mut phases, "ingest");
    eprintln!("  {name}: {}", ingest.summary());

    // 2. Compaction.
    let blocks = wait_for_compaction(&server, scale, data.block_samples)?;
    std::thread::sleep(Duration::from_secs(2));
    let rss_settled = rss_bytes(pid)?;
    lap(&mut phases, "compaction");

    // 3. Queries.
    let agent = agent();
    let series = scalar_query(
        &agent,
        &server.url(),
        r#"count({__name__=~".+"})"#,
        data.tend,
    )?;
    ensure!(
        series == scale.series as f64,
        "{name} counts {series} series after ingest, want {}",
        scale.series
    );
    let mut query_ms = Vec::new();
    let mut query_series = Vec::new();
    for q in &queries() {
        let (_, warm) = run_query(&agent, &server.url(), q, data.t0, data.tend)?;
        query_series.push(warm.as_array().map_or(0, Vec::len));
        let mut times = Vec::with_capacity(scale.runs);
        for _ in 0..scale.runs {
            times.push(run_query(&agent, &server.url(), q, data.t0, data.tend)?.0);
        }
        query_ms.push(median(times));
    }
    lap(&mut phases, "queries");

    // 4. Crash and restart, `RESTARTS` times (one restart is a single short
    // measurement that the machine's other load moves a lot); the median counts.
    let limit = Duration::from_secs(600) + Duration::from_millis(scale.series as u64);
    let mut restarts = Vec::with_capacity(RESTARTS);
    for _ in 0..RESTARTS {
        server.kill()?;
        server.relaunch()?;
        let took = server
            .wait_ready(limit)
            .with_context(|| format!("{name} after SIGKILL"))?;
        restarts.push(took.as_secs_f64());
    }
    let restart = Duration::from_secs_f64(median(restarts));
    lap(&mut phases, "restarts");

    // 5. Check.
    let counted = counts(&agent, &server.url(), scale, data.tend)?;
    ensure!(
        counted == (scale.series as f64, data.samples as f64),
        "{name} after the restart counts {} series and {} samples; {} and {} were sent",
        counted.0,
        counted.1,
        scale.series,
        data.samples
    );
    server.stop()?;
    lap(&mut phases, "check");

    let totals = totals(&blocks);
    Ok((
        Side {
            kind,
            cpu_per_million: cpu / (data.samples as f64 / 1e6),
            rss_per_series: rss / scale.series as f64,
            rss_settled_per_series: rss_settled / scale.series as f64,
            blocks,
            totals,
            query_ms,
            query_series,
            restart,
            ingest,
            phases,
        },
        counted,
    ))
}

/// Runs one scale: Prometheus first, then tsdbd, each on a fresh directory under `work`.
pub fn run(scale: &Scale, bins: &Binaries, work: &Path) -> Result<ScaleResult> {
    scale.check()?;
    let started = Instant::now();
    let now_ms = i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .context("clock")?
            .as_millis(),
    )
    .context("clock")?;
    let (t0, tend) = time_range(scale, now_ms);
    eprintln!("{}: {}", scale.name, scale.describe());
    let payloads = prepare(scale, t0);
    let samples: u64 = payloads
        .iter()
        .flatten()
        .flatten()
        .map(|p| p.samples as u64)
        .sum();
    let body_bytes: u64 = payloads
        .iter()
        .flatten()
        .flatten()
        .map(|p| p.body.len() as u64)
        .sum();
    ensure!(
        samples == (scale.series * scale.rounds()) as u64,
        "prepared {samples} samples"
    );
    let prepare = started.elapsed();
    eprintln!(
        "  prepared {samples} samples in {:.1} MiB of remote-write bodies in {:.1}s",
        body_bytes as f64 / (1 << 20) as f64,
        prepare.as_secs_f64()
    );
    let iv = Scale::ms(scale.interval);
    let data = Data {
        t0,
        tend,
        samples,
        block_samples: samples_cut_per_series(t0, tend, iv, Scale::ms(scale.block))
            * scale.series as u64,
    };
    let dir = tempfile::Builder::new()
        .prefix("system-bench-")
        .tempdir_in(work)
        .context("temp dir")?;
    let (prometheus, pc) = run_side(
        Kind::Prometheus,
        &bins.prometheus,
        &dir.path().join("prometheus"),
        scale,
        data,
        &payloads,
    )?;
    // Free the first server's disk before the second runs.
    let _ = std::fs::remove_dir_all(dir.path().join("prometheus"));
    let (tsdbd, tc) = run_side(
        Kind::Tsdbd,
        &bins.tsdbd,
        &dir.path().join("tsdbd"),
        scale,
        data,
        &payloads,
    )?;
    ensure!(
        pc == tc,
        "the servers disagree: Prometheus counts {pc:?}, tsdbd {tc:?} (series, samples)"
    );
    for (i, q) in queries().iter().enumerate() {
        if tsdbd.query_series[i] != prometheus.query_series[i] {
            eprintln!(
                "  note: {} (step {} ms) returns {} series on tsdbd, {} on Prometheus",
                q.expr, q.step, tsdbd.query_series[i], prometheus.query_series[i]
            );
        }
    }
    Ok(ScaleResult {
        scale: scale.clone(),
        samples,
        body_bytes,
        tsdbd,
        prometheus,
        prepare,
        total: started.elapsed(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_and_durations_parse() {
        assert_eq!(parse_series("10k").expect("10k"), 10_000);
        assert_eq!(parse_series("1M").expect("1m"), 1_000_000);
        assert_eq!(parse_series("2500").expect("2500"), 2_500);
        assert!(parse_series("lots").is_err());
        assert_eq!(parse_duration("15s").expect("15s"), Duration::from_secs(15));
        assert_eq!(
            parse_duration("10m").expect("10m"),
            Duration::from_secs(600)
        );
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("0s").is_err());
    }

    #[test]
    fn the_head_cuts_all_but_the_last_one_and_a_half_block_ranges() {
        let m = 60_000;
        // An hour at 15 s from an aligned start in 10 m blocks: five blocks are cut, the
        // head keeps [50m, 60m).
        assert_eq!(
            samples_cut_per_series(0, 60 * m - 15_000, 15_000, 10 * m),
            200
        );
        // Nothing is cut while the head spans at most 1.5 ranges.
        assert_eq!(samples_cut_per_series(0, 15 * m, 15_000, 10 * m), 0);
        // 8 minutes in 2 m blocks: [0, 2m), [2m, 4m), [4m, 6m).
        assert_eq!(samples_cut_per_series(0, 8 * m - 15_000, 15_000, 2 * m), 24);
        let s = Scale::new("x", 10);
        let (t0, tend) = time_range(&s, 1_700_000_123_456);
        assert_eq!(t0 % (30 * m), 0);
        assert!(tend < 1_700_000_123_456);
        assert_eq!((tend - t0) / 15_000 + 1, s.rounds() as i64);
    }
}
