//! Runs the `.test` scripts: ours in `crates/promql/testdata`, and Prometheus v3.5.3's
//! corpus in `../shared/promql-testdata/v3.5` (relative to the project root).

use std::path::{Path, PathBuf};

use promql::promqltest::parse::{Command, parse_script};
use promql::promqltest::rewrite::{pin_at, print};
use promql::promqltest::{RunOptions, Summary, run_dirs, test_files};

/// Evals of the corpus that must pass: a ratchet, raised as the engine improves.
/// All 800 applicable evals pass.
const MIN_PASSED: usize = 800;
/// Evals in the v3.5 corpus (spec §6).
const CORPUS_EVALS: usize = 1479;
/// Not-applicable evals: 630 native-histogram + 49 float-only experimental (spec §6.2).
const CORPUS_SKIPPED: usize = 679;

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The upstream corpus: `$PROMQL_CORPUS_DIR`, else `shared/promql-testdata/v3.5` in the
/// nearest ancestor of this crate that has it (the project root's `../shared`).
fn corpus_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("PROMQL_CORPUS_DIR") {
        return PathBuf::from(d);
    }
    let found = manifest_dir()
        .ancestors()
        .map(|a| a.join("shared/promql-testdata/v3.5"))
        .find(|d| d.is_dir());
    found.unwrap_or_else(|| {
        panic!(
            "the Prometheus v3.5 PromQL test corpus is missing: no shared/promql-testdata/v3.5 \
             above {} and PROMQL_CORPUS_DIR is unset (see docs/reference/promql-testsuite.md)",
            manifest_dir().display()
        )
    })
}

fn run(dir: &Path) -> Summary {
    let summary = run_dirs(&[dir.to_path_buf()], &RunOptions::default())
        .unwrap_or_else(|e| panic!("running {}: {e}", dir.display()));
    println!("{}", summary.render());
    summary
}

#[test]
fn own_scripts() {
    let s = run(&manifest_dir().join("testdata"));
    assert_eq!(s.files.len(), 3);
    assert_eq!(s.skipped(), 0);
    assert!(s.files.iter().all(|f| f.load_errors.is_empty()));
    assert!(s.passed() > 0, "{}", s.render());
    assert_eq!(s.failed(), 0, "{}", s.render());
}

#[test]
fn corpus_counts() {
    let s = run(&corpus_dir());
    assert_eq!(s.files.len(), 17);
    assert_eq!(s.total(), CORPUS_EVALS);
    assert_eq!(s.passed() + s.failed() + s.skipped(), CORPUS_EVALS);
    assert_eq!(s.skipped(), CORPUS_SKIPPED, "{}", s.render_classification());
    let nh: usize = s.files.iter().map(|f| f.skipped_native_histograms()).sum();
    let exp: usize = s.files.iter().map(|f| f.skipped_experimental()).sum();
    assert_eq!((nh, exp), (630, 49), "{}", s.render_classification());
    assert!(
        s.files.iter().all(|f| f.load_errors.is_empty()),
        "{}",
        s.render()
    );
    assert!(
        s.passed() >= MIN_PASSED,
        "{} evals passed, fewer than MIN_PASSED = {MIN_PASSED}",
        s.passed()
    );
}

/// Every corpus expression that promql-parser accepts prints back to the same AST, with and
/// without the @-rewrite.
#[test]
fn corpus_expressions_round_trip_through_the_printer() {
    let mut checked = 0;
    for f in test_files(&[corpus_dir()]).expect("corpus listing") {
        let text = std::fs::read_to_string(&f).expect("corpus file");
        for cmd in parse_script(&text).unwrap_or_else(|e| panic!("{}: {e}", f.display())) {
            let Command::Eval(ev) = cmd else { continue };
            let Ok(ast) = &ev.ast else { continue };
            let printed = print(ast);
            let again = promql_parser::parser::parse(&printed)
                .unwrap_or_else(|e| panic!("{}:{}: {printed}: {e}", f.display(), ev.line));
            assert_eq!(&again, ast, "{}:{}: {printed}", f.display(), ev.line);
            for t in [0, 1_000, -7_000] {
                if let Some(pinned) = pin_at(ast, t) {
                    let printed = print(&pinned);
                    let again = promql_parser::parser::parse(&printed)
                        .unwrap_or_else(|e| panic!("{}:{}: {printed}: {e}", f.display(), ev.line));
                    assert_eq!(again, pinned, "{}:{}: {printed}", f.display(), ev.line);
                }
            }
            checked += 1;
        }
    }
    assert_eq!(
        checked, CORPUS_EVALS,
        "every expression parses (duration expressions through the engine's fallback)"
    );
}
