//! `promqltest [--fail-on-error] [--attempt-skipped] [--classify] PATH...`: runs Prometheus
//! `.test` scripts (files, or directories of `*.test` files) and prints, per file,
//! `file: P passed, F failed, S skipped` with the failing evals, then the totals as the last
//! line. Exits 0 when the run completes, 1 with `--fail-on-error` if an eval failed, and 2
//! when a script cannot be read or parsed.

use std::path::PathBuf;
use std::process::ExitCode;

use promql::promqltest::{RunOptions, run_file, test_files};

const USAGE: &str = "usage: promqltest [--fail-on-error] [--attempt-skipped] [--classify] PATH...";

fn main() -> ExitCode {
    let mut fail_on_error = false;
    let mut classify = false;
    let mut opts = RunOptions::default();
    let mut paths = Vec::new();
    for a in std::env::args().skip(1) {
        match a.as_str() {
            "--fail-on-error" => fail_on_error = true,
            "--attempt-skipped" => opts.attempt_skipped = true,
            "--classify" => classify = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            _ if a.starts_with("--") => {
                eprintln!("unknown flag {a}\n{USAGE}");
                return ExitCode::from(2);
            }
            _ => paths.push(PathBuf::from(a)),
        }
    }
    if paths.is_empty() {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    }
    let files = match test_files(&paths) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("promqltest: {e}");
            return ExitCode::from(2);
        }
    };
    let mut summary = promql::promqltest::Summary::default();
    for f in files {
        match run_file(&f, &opts) {
            Ok(r) => {
                print!("{}", r.render());
                summary.files.push(r);
            }
            Err(e) => {
                eprintln!("promqltest: {e}");
                return ExitCode::from(2);
            }
        }
    }
    if classify {
        print!("{}", summary.render_classification());
    }
    println!(
        "{} passed, {} failed, {} skipped",
        summary.passed(),
        summary.failed(),
        summary.skipped()
    );
    if fail_on_error && summary.failed() > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
