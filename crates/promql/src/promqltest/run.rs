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
    let engine = Engine::new(opts.engine.clone());
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
                    let r = run_eval(&engine, &head, ev);
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
fn run_eval(engine: &Engine, head: &tsdb::Head, ev: &Eval) -> Result<(), String> {
    let ast = ev.ast.as_ref().map_err(|e| format!("parse error: {e}"))?;
    match ev.time {
        EvalTime::Range { start, end, step } => {
            let res =
                engine.range_query(head, &ev.expr, start, end, step, &QueryContext::default());
            let Some(res) = check_error(ev, res)? else {
                return Ok(());
            };
            check_annotations(ev, &res)?;
            compare_matrix(&ev.expected, &res.value, start, step)
        }
        EvalTime::Instant(t) => {
            let mut queries = vec![(ev.expr.clone(), t)];
            if let Some(pinned) = pin_at(ast, t) {
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
    engine: &Engine,
    head: &tsdb::Head,
    ev: &Eval,
    q: &str,
    t: i64,
) -> Result<(), String> {
    let ctx = QueryContext::default();
    let Some(res) = check_error(ev, engine.instant_query(head, q, t, &ctx))? else {
        return Ok(());
    };
    check_annotations(ev, &res)?;
    compare_instant(&ev.expected, &res.value, ev.ordered)?;

    // Range consistency: the same query from t-1m to t+1m must agree at t.
    let range = engine
        .range_query(head, q, t - 60_000, t + 60_000, 60_000, &ctx)
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
mod tests {
    use super::*;
    use crate::promqltest::parse::{TextMatch, parse_script};
    use crate::promqltest::values::stale_nan;
    use tsdb::chunkenc::{SampleIterator, ValueType};
    use tsdb::labels::{MatchType, Matcher};
    use tsdb::storage::Queryable;

    fn load_cmd(text: &str) -> Load {
        match parse_script(text).unwrap().pop() {
            Some(Command::Load(l)) => l,
            _ => unreachable!("a load"),
        }
    }

    fn samples(head: &tsdb::Head, name: &str) -> Vec<(i64, u64)> {
        let m = Matcher::new(MatchType::Equal, "__name__", name).unwrap();
        let q = Queryable::querier(head, i64::MIN, i64::MAX).unwrap();
        let mut out = Vec::new();
        for s in q.select(false, None, &[m]).unwrap() {
            let s = s.unwrap();
            let mut it = s.iterator();
            while it.next() != ValueType::None {
                let (t, v) = it.at();
                out.push((t, v.to_bits()));
            }
        }
        out
    }

    #[test]
    fn loads_floats_blanks_and_stale_markers() {
        let head = new_head().unwrap();
        let mut loaded = Loaded::default();
        load(&head, &load_cmd("load 1m\n  a 1 _ stale 4\n"), &mut loaded).unwrap();
        assert_eq!(
            samples(&head, "a"),
            vec![
                (0, 1f64.to_bits()),
                (120_000, stale_nan().to_bits()),
                (180_000, 4f64.to_bits())
            ]
        );
        assert_eq!(loaded.float_series.len(), 1);
        assert!(loaded.histogram_series.is_empty());
    }

    #[test]
    fn a_second_load_cannot_go_back_in_time() {
        let head = new_head().unwrap();
        let mut loaded = Loaded::default();
        load(&head, &load_cmd("load 1m\n  a 1 2 3\n"), &mut loaded).unwrap();
        // The same value at the newest timestamp is accepted; later samples append.
        load(&head, &load_cmd("load 1m\n  a _ _ 3 4\n"), &mut loaded).unwrap();
        assert!(load(&head, &load_cmd("load 1m\n  a 9\n"), &mut loaded).is_err());
        assert!(load(&head, &load_cmd("load 1m\n  a _ _ _ 5\n"), &mut loaded).is_err());
        assert_eq!(samples(&head, "a").len(), 4);
    }

    #[test]
    fn histograms_are_remembered_not_loaded() {
        let head = new_head().unwrap();
        let mut loaded = Loaded::default();
        load(
            &head,
            &load_cmd("load 1m\n  h {{count:1}} {{count:2}}\n"),
            &mut loaded,
        )
        .unwrap();
        assert!(samples(&head, "h").is_empty());
        assert_eq!(
            loaded.histogram_series,
            vec![Labels::from_pairs(&[("__name__", "h")])]
        );
        let l = load_cmd(
            "load_with_nhcb 1m\n  x_bucket{le=\"1\",a=\"b\"} 1\n  x_bucket{le=\"+Inf\",a=\"b\"} 2\n  x_count{a=\"b\"} 2\n  y 1\n",
        );
        load(&head, &l, &mut loaded).unwrap();
        assert_eq!(loaded.histogram_series.len(), 2);
        assert_eq!(
            loaded.histogram_series[1],
            Labels::from_pairs(&[("__name__", "x"), ("a", "b")])
        );
        assert_eq!(
            samples(&head, "x_bucket").len(),
            2,
            "the classic series stay"
        );
    }

    #[test]
    fn annotation_expectations() {
        let any = AnnotationExpect {
            at_least_one: true,
            ..Default::default()
        };
        assert!(check_kind("warning", &any, &[]).is_err());
        assert!(check_kind("warning", &any, &["w".into()]).is_ok());
        assert!(check_kind("warning", &AnnotationExpect::default(), &["w".into()]).is_ok());
        let none = AnnotationExpect {
            none: true,
            ..Default::default()
        };
        assert!(check_kind("info", &none, &["i".into()]).is_err());
        let lines = AnnotationExpect {
            lines: vec![TextMatch::Exact("a".into())],
            ..Default::default()
        };
        assert!(check_kind("info", &lines, &["a".into()]).is_ok());
        assert!(check_kind("info", &lines, &["a".into(), "b".into()]).is_err());
        assert!(check_kind("info", &lines, &[]).is_err());
    }

    #[test]
    fn engine_errors_fail_evals_without_stopping_the_script() {
        let script = "load 1m\n  a 1\n\neval instant at 1m a\n  a 1\n\neval_fail instant at 1m a\n\neval range from 0 to 1m step 1m a\n  a 1 1\n\neval instant at 1m limitk(1, a)\n  a 1\n";
        let cmds = parse_script(script).unwrap();
        let r = run_commands("x.test", &cmds, &RunOptions::default()).unwrap();
        assert_eq!(r.evals.len(), 4);
        if r.passed() == 1 {
            // The stub engine fails every query: only `eval_fail` passes.
            assert_eq!((r.failed(), r.skipped()), (2, 1));
        }
        assert_eq!(r.skipped(), 1);
        assert!(r.render().starts_with("x.test: "));
    }
}
