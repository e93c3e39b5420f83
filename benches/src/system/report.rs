//! The whole-system benchmark's output: one Markdown table per scale, and the
//! `docs/benchmarks.md` section between [`BEGIN`] and [`END`] with the machine, the
//! versions and the exact command.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use super::{ScaleResult, Side, queries};
use crate::dashboard::geometric_mean;

/// The line before the generated section.
pub const BEGIN: &str = "<!-- system-bench:begin -->";
/// The line after it.
pub const END: &str = "<!-- system-bench:end -->";

/// The first words of every table row, in order (the tests look for each).
pub const ROWS: [&str; 9] = [
    "server CPU per million ingested samples",
    "resident memory per active series after ingest",
    "resident memory per active series once compaction settled",
    "bytes per sample on disk, blocks after compaction",
    "dashboard queries, all",
    "dashboard queries, instant",
    "dashboard queries, range at 15 s step",
    "dashboard queries, range at 60 s step",
    "start-up after SIGKILL until ready (WAL replay)",
];

/// A row of query latencies: its name and which steps it takes (0: instant).
type QueryGroup = (&'static str, fn(i64) -> bool);

/// A number with about three significant digits.
fn num(v: f64) -> String {
    let a = v.abs();
    if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// The geometric mean of `side`'s medians over the queries `keep` selects, and how many.
fn query_group(side: &Side, keep: impl Fn(i64) -> bool) -> (f64, usize) {
    let ms: Vec<f64> = queries()
        .iter()
        .zip(&side.query_ms)
        .filter(|(q, _)| keep(q.step))
        .map(|(_, &m)| m)
        .collect();
    (geometric_mean(&ms), ms.len())
}

/// The table of one scale: metric | tsdbd | Prometheus 3.5.3 | tsdbd / Prometheus.
pub fn table(r: &ScaleResult) -> String {
    let (t, p) = (&r.tsdbd, &r.prometheus);
    let mut out = String::new();
    out.push_str("| metric | tsdbd | Prometheus 3.5.3 | tsdbd / Prometheus |\n");
    out.push_str("| --- | ---: | ---: | ---: |\n");
    let mut row = |name: String, a: f64, b: f64, unit: &str| {
        let _ = writeln!(
            out,
            "| {name} | {} {unit} | {} {unit} | **{:.2}×** |",
            num(a),
            num(b),
            a / b
        );
    };
    row(
        ROWS[0].to_owned(),
        t.cpu_per_million,
        p.cpu_per_million,
        "s",
    );
    row(ROWS[1].to_owned(), t.rss_per_series, p.rss_per_series, "B");
    row(
        ROWS[2].to_owned(),
        t.rss_settled_per_series,
        p.rss_settled_per_series,
        "B",
    );
    row(
        ROWS[3].to_owned(),
        t.bytes_per_sample(),
        p.bytes_per_sample(),
        "B",
    );
    let groups: [QueryGroup; 4] = [
        (ROWS[4], |_| true),
        (ROWS[5], |s| s == 0),
        (ROWS[6], |s| s == 15_000),
        (ROWS[7], |s| s == 60_000),
    ];
    for (name, keep) in groups {
        let (a, n) = query_group(t, keep);
        let (b, _) = query_group(p, keep);
        row(
            format!("{name} ({n}), geometric mean of medians"),
            a,
            b,
            "ms",
        );
    }
    row(
        ROWS[8].to_owned(),
        t.restart.as_secs_f64(),
        p.restart.as_secs_f64(),
        "s",
    );
    out
}

/// `1m 5s` or `4.2s`.
fn elapsed(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 60.0 {
        format!("{}m {:02}s", (s / 60.0) as u64, (s % 60.0) as u64)
    } else {
        format!("{s:.1}s")
    }
}

fn phases(side: &Side) -> String {
    side.phases
        .iter()
        .map(|(what, d)| format!("{what} {}", elapsed(*d)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The subsection of one scale: what ran, the table, the block layouts, the checks and
/// the elapsed time per phase.
pub fn scale_section(r: &ScaleResult) -> String {
    let s = &r.scale;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "### {} active series (`--scale {}`)\n",
        s.series, s.name
    );
    let _ = writeln!(
        out,
        "{}; {} remote-write 1.0 requests of up to 2000 samples ({:.1} MiB) over {} connections.\n",
        s.describe(),
        r.prometheus.ingest.requests,
        r.body_bytes as f64 / (1 << 20) as f64,
        s.shards
    );
    out.push_str(&table(r));
    let tp = |side: &Side| side.ingest.samples_per_second() / 1e3;
    let _ = writeln!(
        out,
        "\nBlocks after compaction: tsdbd {} ({}), Prometheus {} ({}); {} samples in blocks on each.",
        r.tsdbd.totals.blocks,
        r.tsdbd.layout(),
        r.prometheus.totals.blocks,
        r.prometheus.layout(),
        r.tsdbd.totals.samples
    );
    let _ = writeln!(
        out,
        "Ingest throughput (for reference; the sender shares the cores): tsdbd {:.0} k samples/s, Prometheus {:.0} k samples/s.",
        tp(&r.tsdbd),
        tp(&r.prometheus)
    );
    let _ = writeln!(
        out,
        "Check: after the restart both count {} series and {} samples, as sent.",
        s.series, r.samples
    );
    out.push_str(&per_query(r));
    let _ = writeln!(
        out,
        "Elapsed: {} in all; preparing the bodies {}; Prometheus: {}; tsdbd: {}.",
        elapsed(r.total),
        elapsed(r.prepare),
        phases(&r.prometheus),
        phases(&r.tsdbd)
    );
    out
}

/// Every dashboard query's medians, folded away.
fn per_query(r: &ScaleResult) -> String {
    let mut out = String::from(
        "\n<details><summary>Per query (median ms)</summary>\n\n| query | kind | tsdbd | Prometheus | tsdbd / Prometheus |\n| --- | --- | ---: | ---: | ---: |\n",
    );
    for (i, q) in queries().iter().enumerate() {
        let kind = if q.step > 0 {
            format!("range, {} s step", q.step / 1000)
        } else {
            "instant".to_owned()
        };
        let (a, b) = (r.tsdbd.query_ms[i], r.prometheus.query_ms[i]);
        let _ = writeln!(
            out,
            "| `{}` | {kind} | {} | {} | {:.2}× |",
            q.expr,
            num(a),
            num(b),
            a / b
        );
    }
    out.push_str("\n</details>\n\n");
    out
}

/// Where and with what the benchmark ran.
#[derive(Debug, Clone, Default)]
pub struct Environment {
    /// UTC date and time of the start.
    pub date: String,
    /// CPU model, cores and memory.
    pub machine: String,
    /// Load averages (1, 5, 15 min) before the run.
    pub load_before: String,
    /// Load averages after the run.
    pub load_after: String,
    /// tsdbd's git commit.
    pub tsdbd: String,
    /// The tsdbd binary as given.
    pub tsdbd_bin: String,
    /// `prometheus --version`'s first line.
    pub prometheus: String,
    /// The command as typed.
    pub command: String,
    /// A remark on the conditions (optional).
    pub note: String,
}

fn command_output(cmd: &mut Command) -> String {
    cmd.output()
        .map(|o| {
            let mut s = String::from_utf8_lossy(&o.stdout).into_owned();
            s.push_str(&String::from_utf8_lossy(&o.stderr));
            s
        })
        .unwrap_or_default()
}

/// The first three fields of `/proc/loadavg`.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(", ")
}

impl Environment {
    /// Reads the machine from `/proc`, the commit of the workspace at `repo` and the
    /// version of `prometheus`.
    pub fn gather(
        repo: &Path,
        tsdbd: &Path,
        prometheus: &Path,
        command: &str,
        note: &str,
    ) -> Environment {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let model = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .and_then(|l| l.split_once(':'))
            .map_or("unknown CPU", |(_, m)| m.trim())
            .to_owned();
        let cores = cpuinfo
            .lines()
            .filter(|l| l.starts_with("processor"))
            .count();
        let mem_kib: f64 = std::fs::read_to_string("/proc/meminfo")
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0.0);
        let git = |args: &[&str]| {
            command_output(Command::new("git").arg("-C").arg(repo).args(args))
                .trim()
                .to_owned()
        };
        let mut commit = git(&["rev-parse", "--short=12", "HEAD"]);
        if !git(&["status", "--porcelain", "--untracked-files=no"]).is_empty() {
            commit.push_str(" with uncommitted changes");
        }
        let prometheus = command_output(Command::new(prometheus).arg("--version"))
            .lines()
            .next()
            .unwrap_or("unknown")
            .trim()
            .to_owned();
        Environment {
            date: command_output(Command::new("date").args(["-u", "+%Y-%m-%d %H:%M UTC"]))
                .trim()
                .to_owned(),
            machine: format!(
                "{model}, {cores} cores, {:.1} GiB RAM",
                mem_kib / (1024.0 * 1024.0)
            ),
            load_before: load_average(),
            load_after: String::new(),
            tsdbd: commit,
            tsdbd_bin: tsdbd.display().to_string(),
            prometheus,
            command: command.to_owned(),
            note: note.to_owned(),
        }
    }
}

/// The whole `docs/benchmarks.md` section, markers included.
pub fn markdown(env: &Environment, results: &[ScaleResult]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{BEGIN}");
    out.push_str("## Whole system vs Prometheus 3.5.3 (issue 6)\n\n");
    out.push_str(
        "Generated by `scripts/bench-system.sh` (`benches/src/bin/system_bench.rs`); the last column is tsdbd / Prometheus (below 1: tsdbd uses less or is faster).\n\n",
    );
    let _ = writeln!(out, "- Command: `{}`", env.command);
    let _ = writeln!(out, "- Date: {}", env.date);
    let _ = writeln!(out, "- Machine: {}", env.machine);
    let _ = writeln!(
        out,
        "- Load average (1, 5, 15 min): {} before the run, {} after",
        env.load_before, env.load_after
    );
    if !env.note.is_empty() {
        let _ = writeln!(out, "- Conditions: {}", env.note);
    }
    let _ = writeln!(
        out,
        "- Versions: tsdbd commit `{}` (binary `{}`); `{}`",
        env.tsdbd, env.tsdbd_bin, env.prometheus
    );
    let flags = results
        .first()
        .map(|r| r.scale.settings().flags().join(" "))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "\nHow to reproduce: `scripts/bench-system.sh --scale 10k,100k --out docs/benchmarks.md` (installs Prometheus 3.5.3 if missing, builds tsdbd in release, then runs every scale; `--scale 1m` takes longer, `--help` lists the knobs).\n"
    );
    let _ = writeln!(
        out,
        "How it measures: the servers run one at a time, Prometheus first, each on a fresh data directory with the same flags (`{flags}`; Prometheus also `--web.enable-remote-write-receiver`), and receive the same prepared bodies of the Kubernetes-shaped workload (`benches::workload`, seed 1) with timestamps back-dated so the span ends before the run, a few rounds at a time over every connection so the heads cut and compact blocks as they go."
    );
    for line in [
        "CPU is the server's user + system time from `/proc/<pid>/stat` over the sends plus two seconds, per million samples; memory is `VmRSS` after that, per active series, and again two seconds after the blocks settled (below): a server that ingests faster than real time may be compacting its head when the sends end, and the second reading shows it without that backlog.",
        "Bytes per sample are every file of the block directories (index, chunks, `meta.json`, tombstones; not the WAL, `chunks_head/` or the head) over the samples in them, once the blocks hold every sample the head must cut and the compaction planner has nothing left to do.",
        "Queries are the 15 dashboard queries of `benches::dashboard` (instant at the last sample; range over the whole span at 15 s and 60 s steps), HTTP round trip on loopback, one warm-up then the median of the timed runs; a group's value is the geometric mean of its medians, so its ratio is the geometric mean of the per-query ratios.",
        "Start-up is from spawning the server again after SIGKILL until `/-/ready` answers 200 (WAL replay and block loading), the median of three kill-and-restart cycles.",
        "The run fails unless both servers then count every series and sample sent.",
    ] {
        let _ = writeln!(out, "{line}");
    }
    out.push('\n');
    for r in results {
        out.push_str(&scale_section(r));
        out.push('\n');
    }
    let _ = writeln!(out, "{END}");
    out
}

/// `doc` with the text from [`BEGIN`] to [`END`] (inclusive) replaced by `section`, or
/// with `section` appended when the markers are missing.
pub fn replace_section(doc: &str, section: &str) -> String {
    if let Some(b) = doc.find(BEGIN)
        && let Some(e) = doc[b..].find(END)
    {
        let mut end = b + e + END.len();
        if doc[end..].starts_with('\n') {
            end += 1;
        }
        let mut out = String::with_capacity(doc.len() + section.len());
        out.push_str(&doc[..b]);
        out.push_str(section);
        out.push_str(&doc[end..]);
        return out;
    }
    let mut out = doc.to_owned();
    if !out.is_empty() && !out.ends_with("\n\n") {
        out.push_str(if out.ends_with('\n') { "\n" } else { "\n\n" });
    }
    out.push_str(section);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_section_is_replaced_or_appended() {
        let sec = format!("{BEGIN}\nnew\n{END}\n");
        let doc = format!("# T\n\nintro\n\n{BEGIN}\nold\n{END}\n\n## After\n");
        assert_eq!(
            replace_section(&doc, &sec),
            format!("# T\n\nintro\n\n{BEGIN}\nnew\n{END}\n\n## After\n")
        );
        assert_eq!(
            replace_section("# T\n", &sec),
            format!("# T\n\n{BEGIN}\nnew\n{END}\n")
        );
        assert_eq!(num(1234.5), "1234");
        assert_eq!(num(0.12345), "0.123");
    }
}
