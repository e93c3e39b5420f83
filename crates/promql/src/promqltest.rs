//! The runner for Prometheus's PromQL `.test` scripts (`promql/promqltest` in Prometheus
//! v3.5.3), as specified in `docs/reference/promql-testsuite.md`.
//!
//! A script is parsed completely ([`parse`]) before it runs; then its commands run in order
//! against an in-memory [`tsdb::Head`] (module `run`). Every instant eval is also re-run with
//! `@` pinned ([`rewrite`]) and checked against a range query; results are compared with a
//! relative tolerance ([`compare`]). Evals that read or expect native histograms, or that need
//! an experimental PromQL feature, are not applicable yet and are counted as skipped
//! ([`classify`]).
//!
//! Entry points: [`run_file`], [`run_script`], [`run_dirs`]; [`Summary::render`] prints the
//! report the `promqltest` binary shows, [`Summary::render_classification`] the per-file
//! classification table.
//!
//! Behaviour worth knowing:
//! * Engine errors never stop a script: the eval fails with the error as its reason.
//!   A script that cannot be read or parsed is an [`Error`].
//! * An eval whose expression `promql-parser` rejects fails with "parse error", except for
//!   duration expressions, which it does not support and which are classified as skipped.
//! * A `load` the storage rejects (out of order, duplicate timestamp, out of bounds) is
//!   recorded in [`FileReport::load_errors`], the whole block is rolled back, and the script
//!   goes on.
//! * Native-histogram samples are not loaded (no histogram storage yet); the series are
//!   remembered so the evals reading them are classified.

pub mod classify;
pub mod compare;
pub mod parse;
pub mod rewrite;
mod run;
pub mod values;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::engine::EngineOptions;
use classify::{Classification, Experimental};

/// Errors that stop a script from running at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A script or directory cannot be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A script is malformed.
    #[error("{path}:{}", .source)]
    Script {
        /// The script.
        path: PathBuf,
        /// What is wrong, and where.
        source: parse::ScriptError,
    },
    /// The in-memory storage could not be created.
    #[error("cannot create the test storage: {0}")]
    Storage(#[from] tsdb::Error),
}

/// How scripts are run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Engine settings; [`test_engine_options`] by default.
    pub engine: EngineOptions,
    /// Also run the evals classified as not applicable, and record their outcome
    /// (they still count as skipped).
    pub attempt_skipped: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            engine: test_engine_options(),
            attempt_skipped: false,
        }
    }
}

/// The engine settings the scripts assume (§5 of the spec): 5m lookback, 10 000 samples,
/// 100 s timeout, 1m default subquery step, experimental functions on.
///
/// Delayed `__name__` removal is left off, as in our server's default: the 9 evals that
/// depend on it are classified as needing an experimental feature (see [`classify`]), and
/// every other eval gives the same result either way (spec §6.4).
#[allow(clippy::needless_update)] // Fields the engine adds later keep their defaults.
pub fn test_engine_options() -> EngineOptions {
    EngineOptions {
        lookback_delta: 5 * 60 * 1000,
        max_samples: 10_000,
        timeout: Duration::from_secs(100),
        default_subquery_step: 60 * 1000,
        experimental_functions: true,
        delayed_name_removal: false,
        duration_expressions: true,
        ..EngineOptions::default()
    }
}

/// What happened to one eval.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum EvalOutcome {
    /// Every query of the eval met its expectations.
    Passed,
    /// The first unmet expectation.
    Failed(String),
    /// Not applicable; with the outcome when [`RunOptions::attempt_skipped`] is set.
    Skipped {
        /// Why it is not applicable.
        class: Classification,
        /// The outcome of running it anyway.
        attempt: Option<Result<(), String>>,
    },
}

/// One eval's result.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalReport {
    /// The eval's line.
    pub line: usize,
    /// The expression.
    pub expr: String,
    /// What happened.
    pub outcome: EvalOutcome,
}

/// The results of one script.
#[derive(Debug, Clone, PartialEq)]
pub struct FileReport {
    /// The script's name (its path as given).
    pub name: String,
    /// Every eval, in file order.
    pub evals: Vec<EvalReport>,
    /// `load` commands the storage rejected: line and reason.
    pub load_errors: Vec<(usize, String)>,
}

impl FileReport {
    /// Evals that passed.
    pub fn passed(&self) -> usize {
        self.count(|o| matches!(o, EvalOutcome::Passed))
    }

    /// Evals that failed.
    pub fn failed(&self) -> usize {
        self.count(|o| matches!(o, EvalOutcome::Failed(_)))
    }

    /// Evals that were skipped as not applicable.
    pub fn skipped(&self) -> usize {
        self.count(|o| matches!(o, EvalOutcome::Skipped { .. }))
    }

    /// Skipped evals that read or expect native histograms.
    pub fn skipped_native_histograms(&self) -> usize {
        self.count(|o| matches!(o, EvalOutcome::Skipped { class, .. } if class.native_histograms))
    }

    /// Skipped float-only evals that need an experimental feature.
    pub fn skipped_experimental(&self) -> usize {
        self.count(
            |o| matches!(o, EvalOutcome::Skipped { class, .. } if !class.native_histograms && class.experimental.is_some()),
        )
    }

    /// Evals (float or histogram) that need this experimental feature.
    pub fn needing(&self, feature: Experimental) -> usize {
        self.count(|o| matches!(o, EvalOutcome::Skipped { class, .. } if class.experimental == Some(feature)))
    }

    fn count(&self, f: impl Fn(&EvalOutcome) -> bool) -> usize {
        self.evals.iter().filter(|e| f(&e.outcome)).count()
    }

    /// The per-file summary line followed by one line per failure.
    pub fn render(&self) -> String {
        let mut s = format!(
            "{}: {} passed, {} failed, {} skipped\n",
            self.name,
            self.passed(),
            self.failed(),
            self.skipped()
        );
        let attempts: Vec<bool> = self
            .evals
            .iter()
            .filter_map(|e| match &e.outcome {
                EvalOutcome::Skipped {
                    attempt: Some(r), ..
                } => Some(r.is_ok()),
                _ => None,
            })
            .collect();
        if !attempts.is_empty() {
            let ok = attempts.iter().filter(|&&ok| ok).count();
            let _ = writeln!(
                s,
                "  (skipped evals run anyway: {ok} would pass, {} would fail)",
                attempts.len() - ok
            );
        }
        for (line, e) in &self.load_errors {
            let _ = writeln!(s, "  {}:{line}: load failed: {e}", self.name);
        }
        for e in &self.evals {
            if let EvalOutcome::Failed(reason) = &e.outcome {
                let reason = reason.replace('\n', " ");
                let _ = writeln!(s, "  {}:{}: {}: {reason}", self.name, e.line, e.expr);
            }
        }
        s
    }
}

/// The results of a run over several scripts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    /// One report per script, in the order they ran.
    pub files: Vec<FileReport>,
}

impl Summary {
    /// Evals that passed.
    pub fn passed(&self) -> usize {
        self.files.iter().map(FileReport::passed).sum()
    }

    /// Evals that failed.
    pub fn failed(&self) -> usize {
        self.files.iter().map(FileReport::failed).sum()
    }

    /// Evals that were skipped.
    pub fn skipped(&self) -> usize {
        self.files.iter().map(FileReport::skipped).sum()
    }

    /// Every eval.
    pub fn total(&self) -> usize {
        self.files.iter().map(|f| f.evals.len()).sum()
    }

    /// The report: each file's block, then `N passed, M failed, K skipped` as the last line.
    pub fn render(&self) -> String {
        let mut s: String = self.files.iter().map(FileReport::render).collect();
        let _ = writeln!(
            s,
            "{} passed, {} failed, {} skipped",
            self.passed(),
            self.failed(),
            self.skipped()
        );
        s
    }
}

impl Summary {
    /// A table of how the evals were classified: per file the evals, the skipped ones that
    /// read native histograms, the float-only ones that need an experimental feature, and
    /// all that need each experimental feature.
    pub fn render_classification(&self) -> String {
        let mut s = String::from(
            "file                            evals   NH  float-exp  | exp-fn  dur-expr  delayed-name\n",
        );
        let mut tot = [0usize; 6];
        for f in &self.files {
            let row = [
                f.evals.len(),
                f.skipped_native_histograms(),
                f.skipped_experimental(),
                f.needing(Experimental::Function),
                f.needing(Experimental::DurationExpression),
                f.needing(Experimental::DelayedNameRemoval),
            ];
            for (t, r) in tot.iter_mut().zip(row) {
                *t += r;
            }
            let name = Path::new(&f.name)
                .file_name()
                .map_or(f.name.clone(), |n| n.to_string_lossy().into_owned());
            let _ = writeln!(
                s,
                "{name:<30} {:>6} {:>4} {:>10}  | {:>6} {:>9} {:>13}",
                row[0], row[1], row[2], row[3], row[4], row[5]
            );
        }
        let _ = writeln!(
            s,
            "{:<30} {:>6} {:>4} {:>10}  | {:>6} {:>9} {:>13}",
            "total", tot[0], tot[1], tot[2], tot[3], tot[4], tot[5]
        );
        s
    }
}

/// Runs a script given as text; `name` is used in the report.
pub fn run_script(name: &str, text: &str, opts: &RunOptions) -> Result<FileReport, Error> {
    let cmds = parse::parse_script(text).map_err(|source| Error::Script {
        path: PathBuf::from(name),
        source,
    })?;
    Ok(run::run_commands(name, &cmds, opts)?)
}

/// Reads and runs one script.
pub fn run_file(path: &Path, opts: &RunOptions) -> Result<FileReport, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    run_script(&path.display().to_string(), &text, opts)
}

/// The `*.test` files among `paths`: files as given, directories' `*.test` files sorted by name.
pub fn test_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, Error> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let rd = std::fs::read_dir(p).map_err(|source| Error::Io {
                path: p.clone(),
                source,
            })?;
            let mut files: Vec<PathBuf> = rd
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.extension().is_some_and(|x| x == "test") && f.is_file())
                .collect();
            files.sort();
            out.extend(files);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

/// Runs every script in `paths` (files, or directories of `*.test` files).
pub fn run_dirs(paths: &[PathBuf], opts: &RunOptions) -> Result<Summary, Error> {
    let mut summary = Summary::default();
    for f in test_files(paths)? {
        summary.files.push(run_file(&f, opts)?);
    }
    Ok(summary)
}
