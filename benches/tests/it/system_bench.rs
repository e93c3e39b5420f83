//! The whole-system benchmark (`benches/src/bin/system_bench.rs`) runs end to end at a
//! tiny scale against this build's tsdbd (the debug one in `cargo nextest run
//! --workspace`) and Prometheus 3.5.3, and writes its section, with every row a finite
//! positive number, into a Markdown file between the markers. Without Prometheus it
//! skips with a note, except under `CI=true`, where it fails.

use std::process::Command;
use std::time::Instant;

/// The first words of each table row (`benches::system::ROWS`).
const ROWS: [&str; 9] = [
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

/// The number at the start of a cell: `1.23 s`, `**0.45×**`.
fn number(cell: &str) -> f64 {
    let t = cell.trim().trim_matches('*');
    let t = t.split_whitespace().next().unwrap_or("");
    t.trim_end_matches('×')
        .parse()
        .unwrap_or_else(|_| panic!("not a number: {cell:?}"))
}

#[test]
fn system_bench_writes_every_row_between_the_markers() {
    let Some(prom) = tsdb::testutil::reference_bin_dir() else {
        return;
    };
    let tmp = tempfile::tempdir().expect("temp dir");
    let doc = tmp.path().join("benchmarks.md");
    std::fs::write(
        &doc,
        "# Benchmarks\n\nBefore.\n\n<!-- system-bench:begin -->\nstale numbers\n<!-- system-bench:end -->\n\n## After\n\nAfter.\n",
    )
    .expect("write doc");
    let started = Instant::now();
    // 2000 series, 8 minutes at 15 s in 2-minute blocks: the heads cut three blocks.
    let out = Command::new(env!("CARGO_BIN_EXE_system-bench"))
        .args([
            "--scale", "2k", "--span", "8m", "--block", "2m", "--runs", "1",
        ])
        .arg("--prometheus-bin")
        .arg(&prom)
        .arg("--tsdbd-bin")
        .arg(e2e::tsdbd_bin())
        .arg("--work-dir")
        .arg(tmp.path())
        .arg("--out")
        .arg(&doc)
        .output()
        .expect("run system-bench");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "system-bench failed:\n{stderr}");
    eprintln!("system-bench took {:?}:\n{stderr}", started.elapsed());

    let text = std::fs::read_to_string(&doc).expect("read doc");
    assert!(!text.contains("stale numbers"), "{text}");
    assert!(text.starts_with("# Benchmarks\n\nBefore.\n\n<!-- system-bench:begin -->\n"));
    assert!(
        text.ends_with("<!-- system-bench:end -->\n\n## After\n\nAfter.\n"),
        "{text}"
    );
    assert_eq!(text.matches("<!-- system-bench:begin -->").count(), 1);
    assert_eq!(text.matches("<!-- system-bench:end -->").count(), 1);
    for want in [
        "Machine: ",
        "Versions: tsdbd commit",
        "version 3.5.3",
        "Command: `",
        "--scale 2k",
    ] {
        assert!(text.contains(want), "no {want:?} in:\n{text}");
    }
    for name in ROWS {
        let rows: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with(&format!("| {name}")))
            .collect();
        assert_eq!(rows.len(), 1, "row {name:?} in:\n{text}");
        let cells: Vec<&str> = rows[0].split('|').map(str::trim).collect();
        // "", metric, tsdbd, Prometheus, ratio, "".
        assert_eq!(cells.len(), 6, "{}", rows[0]);
        for cell in &cells[2..5] {
            let v = number(cell);
            assert!(v.is_finite() && v > 0.0, "{name}: {cell:?} in {}", rows[0]);
        }
    }
}
