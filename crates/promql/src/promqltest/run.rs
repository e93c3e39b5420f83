//! Executes a parsed script against an in-memory head and the engine (§4 of the
//! test-suite spec): loads, clears, and evals with their @-modifier re-runs and the
//! range-consistency check.

use prometheus_client::registry::Registry;
use tsdb::labels::{Label, Labels};

use super::classify::{Loaded, classify};
use super::compare::{check_sorted, compare_instant, compare_matrix};
use super::parse::{AnnotationExpect, Command, Eval, EvalTime, Load};
use super::rewrite::{pin_at, print};
use super::values::SeqValue;
use super::{EvalOutcome, EvalReport, FileReport, RunOptions};
use crate::engine::{Engine, QueryContext, QueryResult};
use crate::value::{Sample, Value};

/// The two queries the runner needs; implemented by [`Engine`] and, in tests, by a fake.
pub(crate) trait QueryEngine {
    /// An instant query at `t`.
    fn instant(&self, storage: &tsdb::Head, q: &str, t: i64) -> crate::Result<QueryResult>;
    /// A range query.
    fn range(
        &self,
        storage: &tsdb::Head,
        q: &str,
        start: i64,
        end: i64,
        step: i64,
    ) -> crate::Result<QueryResult>;
}

impl QueryEngine for Engine {
    fn instant(&self, storage: &tsdb::Head, q: &str, t: i64) -> crate::Result<QueryResult> {
        self.instant_query(storage, q, t, &QueryContext::default())
    }

    fn range(
        &self,
        storage: &tsdb::Head,
        q: &str,
        start: i64,
        end: i64,
        step: i64,
    ) -> crate::Result<QueryResult> {
        self.range_query(storage, q, start, end, step, &QueryContext::default())
    }
}

fn new_head() -> tsdb::Result<tsdb::Head> {
    tsdb::Head::new(
        &tsdb::Options {
            wal_enabled: false,
            block_range: 24 * 3600 * 1000,
            ..Default::default()
        },
        &mut Registry::default(),
    )
}

/// Runs the commands of one script and reports every eval.
pub(crate) fn run_commands(
    name: &str,
    cmds: &[Command],
    opts: &RunOptions,
) -> Result<FileReport, tsdb::Error> {
    run_commands_with(&Engine::new(opts.engine.clone()), name, cmds, opts)
}

fn run_commands_with(
    engine: &impl QueryEngine,
    name: &str,
    cmds: &[Command],
    opts: &RunOptions,
) -> Result<FileReport, tsdb::Error> {
    let mut head = new_head()?;
    let mut loaded = Loaded::default();
    let mut report = FileReport {
        name: name.to_string(),
        evals: Vec::new(),
        load_errors: Vec::new(),
    };
    for cmd in cmds {
        match cmd {
            Command::Clear { .. } => {
                head = new_head()?;
                loaded = Loaded::default();
            }
            Command::Load(l) => {
                if let Err(e) = load(&head, l, &mut loaded) {
                    report.load_errors.push((l.line, e));
                }
            }
            Command::Eval(ev) => {
                let class = classify(ev, &loaded);
                let outcome = if class.skipped() && !opts.attempt_skipped {
                    EvalOutcome::Skipped {
                        class,
                        attempt: None,
                    }
                } else {
                    let r = run_eval(engine, &head, ev);
                    if class.skipped() {
                        EvalOutcome::Skipped {
                            class,
                            attempt: Some(r),
                        }
                    } else {
                        match r {
                            Ok(()) => EvalOutcome::Passed,
                            Err(reason) => EvalOutcome::Failed(reason),
                        }
                    }
                };
                report.evals.push(EvalReport {
                    line: ev.line,
                    expr: ev.expr.clone(),
                    outcome,
                });
            }
        }
    }
    Ok(report)
}

/// The series `load_with_nhcb` turns a classic-histogram member into: the name without
/// `_bucket`/`_count`/`_sum`, and without `le`.
fn nhcb_family(l: &Labels) -> Option<Labels> {
    let name = l.get("__name__")?;
    let base = name
        .strip_suffix("_bucket")
        .or_else(|| name.strip_suffix("_count"))
        .or_else(|| name.strip_suffix("_sum"))?;
    let labels = l
        .iter()
        .filter(|x| x.name.as_str() != "le")
        .map(|x| {
            if x.name.as_str() == "__name__" {
                Label::new("__name__", base)
            } else {
                x.clone()
            }
        })
        .collect();
    Some(Labels::new(labels))
}

fn load(head: &tsdb::Head, l: &Load, loaded: &mut Loaded) -> Result<(), String> {
    let mut app = head.appender();
    for (labels, values) in &l.series {
        let mut has_float = false;
        for (i, v) in values.iter().enumerate() {
            let t = i as i64 * l.interval;
            match v {
                SeqValue::Float(f) => {
                    has_float = true;
                    if let Err(e) = app.add(0, labels, t, *f) {
                        app.rollback_batch();
                        return Err(format!("error adding sample for {labels:?} at {t}: {e}"));
                    }
                }
                SeqValue::Histogram(_) => {
                    // No histogram storage yet: remembered for classification only.
                    if !loaded.histogram_series.contains(labels) {
                        loaded.histogram_series.push(labels.clone());
                    }
                }
                SeqValue::Omitted => {}
            }
        }
        if has_float && !loaded.float_series.contains(labels) {
            loaded.float_series.push(labels.clone());
        }
        if l.nhcb
            && has_float
            && let Some(fam) = nhcb_family(labels)
            && !loaded.histogram_series.contains(&fam)
        {
            loaded.histogram_series.push(fam);
        }
    }
    app.commit_batch()
        .map_err(|e| format!("error committing samples: {e}"))
}

/// Runs one eval: instant (with re-runs and range checks) or range.
fn run_eval(engine: &impl QueryEngine, head: &tsdb::Head, ev: &Eval) -> Result<(), String> {
    let ast = ev.ast.as_ref().map_err(|e| format!("parse error: {e}"))?;
    match ev.time {
        EvalTime::Range { start, end, step } => {
            let res = engine.range(head, &ev.expr, start, end, step);
            let Some(res) = check_error(ev, res)? else {
                return Ok(());
            };
            check_annotations(ev, &res)?;
            compare_matrix(&ev.expected, &res.value, start, step)
        }
        EvalTime::Instant(t) => {
            let mut queries = vec![(ev.expr.clone(), t)];
            // The printed AST would hold `ÿ` where the query has Go's byte `\xff`.
            let printable = !crate::engine::has_invalid_utf8_literal(&ev.expr);
            if let Some(pinned) = pin_at(ast, t).filter(|_| printable) {
                let text = print(&pinned);
                let times: Vec<i64> = if t == 0 {
                    vec![-1000, 0, 1000]
                } else {
                    vec![-10 * t, 0, t / 5, t, 10 * t]
                };
                queries.extend(times.into_iter().map(|at| (text.clone(), at)));
            }
            for (i, (q, at)) in queries.iter().enumerate() {
                run_instant(engine, head, ev, q, *at).map_err(|e| {
                    if i == 0 {
                        e
                    } else {
                        format!("{e} [@-rewrite {q:?} at {at}ms]")
                    }
                })?;
            }
            Ok(())
        }
    }
}

/// Applies the failure expectation; `Ok(None)` means an expected failure happened.
fn check_error(ev: &Eval, res: crate::Result<QueryResult>) -> Result<Option<QueryResult>, String> {
    match (res, &ev.fail) {
        (Err(e), Some(m)) => {
            let msg = e.to_string();
            if m.matches(&msg) {
                Ok(None)
            } else {
                Err(format!("expected error matching {m:?}, got {msg:?}"))
            }
        }
        (Err(e), None) => Err(format!("error evaluating query: {e}")),
        (Ok(_), Some(_)) => Err("expected an error evaluating the query but got none".into()),
        (Ok(r), None) => Ok(Some(r)),
    }
}

fn check_kind(kind: &str, exp: &AnnotationExpect, got: &[String]) -> Result<(), String> {
    if exp.at_least_one && got.is_empty() {
        return Err(format!("expected {kind} annotations but got none"));
    }
    if exp.none && !got.is_empty() {
        return Err(format!("unexpected {kind} annotations: {got:?}"));
    }
    if !exp.lines.is_empty() {
        if let Some(line) = exp.lines.iter().find(|m| !got.iter().any(|g| m.matches(g))) {
            return Err(format!("expected {kind} annotation {line:?}, got {got:?}"));
        }
        if let Some(g) = got.iter().find(|g| !exp.lines.iter().any(|m| m.matches(g))) {
            return Err(format!("unexpected {kind} annotation {g:?}"));
        }
    }
    Ok(())
}

fn check_annotations(ev: &Eval, res: &QueryResult) -> Result<(), String> {
    check_kind("warning", &ev.warn, &res.warnings)?;
    check_kind("info", &ev.info, &res.infos)
}

fn run_instant(
    engine: &impl QueryEngine,
    head: &tsdb::Head,
    ev: &Eval,
    q: &str,
    t: i64,
) -> Result<(), String> {
    let Some(res) = check_error(ev, engine.instant(head, q, t))? else {
        return Ok(());
    };
    check_annotations(ev, &res)?;
    compare_instant(&ev.expected, &res.value, ev.ordered)?;

    // Range consistency: the same query from t-1m to t+1m must agree at t.
    let range = engine
        .range(head, q, t - 60_000, t + 60_000, 60_000)
        .map_err(|e| format!("error evaluating query in range mode: {e}"))?;
    if ev.ordered {
        return Ok(());
    }
    let Value::Matrix(m) = range.value else {
        return Err("range mode did not return a matrix".into());
    };
    check_sorted(&m).map_err(|e| format!("range mode: {e}"))?;
    let vec: Vec<Sample> = m
        .iter()
        .filter_map(|s| {
            s.points.iter().find(|p| p.0 == t).map(|&(pt, v)| Sample {
                labels: s.labels.clone(),
                t: pt,
                v,
            })
        })
        .collect();
    let as_value = if matches!(res.value, Value::Scalar { .. }) {
        match vec.first() {
            Some(s) => Value::Scalar { t, v: s.v },
            None => return Err("range mode returned no point for a scalar".into()),
        }
    } else {
        Value::Vector(vec)
    };
    compare_instant(&ev.expected, &as_value, false).map_err(|e| format!("range mode: {e}"))
}

#[cfg(test)]
mod tests;
