//! Tests of loading and running scripts, with a fake engine for the eval flow.

use super::*;
use crate::promqltest::EvalOutcome;
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

/// A tiny engine for numbers and plain selectors, with switchable bugs, to test the flow of
/// an eval (re-runs with `@`, range checks) without the real engine.
#[derive(Default)]
struct Fake {
    ignore_at: bool,
    unsorted: bool,
}

impl Fake {
    fn eval(
        &self,
        head: &tsdb::Head,
        e: &promql_parser::parser::Expr,
        t: i64,
    ) -> crate::Result<Value> {
        use promql_parser::parser::{AtModifier, Expr, Offset};
        match e {
            Expr::NumberLiteral(n) => Ok(Value::Scalar { t, v: n.val }),
            Expr::VectorSelector(vs) => {
                let mut te = match &vs.at {
                    Some(AtModifier::At(at)) if !self.ignore_at => {
                        crate::promqltest::rewrite::at_millis(*at)
                    }
                    _ => t,
                };
                match &vs.offset {
                    Some(Offset::Pos(d)) => te -= d.as_millis() as i64,
                    Some(Offset::Neg(d)) => te += d.as_millis() as i64,
                    None => {}
                }
                let mut ms = vec![];
                for m in &vs.matchers.matchers {
                    ms.push(
                        Matcher::new(MatchType::Equal, &m.name, &m.value)
                            .map_err(crate::Error::Storage)?,
                    );
                }
                if let Some(n) = &vs.name {
                    ms.push(
                        Matcher::new(MatchType::Equal, "__name__", n)
                            .map_err(crate::Error::Storage)?,
                    );
                }
                let q = Queryable::querier(head, i64::MIN, i64::MAX)?;
                let mut out = vec![];
                for s in q.select(true, None, &ms)? {
                    let s = s?;
                    let mut it = s.iterator();
                    let mut last = None;
                    while it.next() != ValueType::None {
                        let (st, v) = it.at();
                        if st > te - 300_000 && st <= te {
                            last = Some(v);
                        }
                    }
                    if let Some(v) = last.filter(|v| !crate::promqltest::values::is_stale(*v)) {
                        out.push(Sample {
                            labels: s.labels().clone(),
                            t,
                            v,
                        });
                    }
                }
                Ok(Value::Vector(out))
            }
            _ => Err(crate::Error::Execution(
                "unsupported by the fake engine".into(),
            )),
        }
    }
}

impl QueryEngine for Fake {
    fn instant(&self, head: &tsdb::Head, q: &str, t: i64) -> crate::Result<QueryResult> {
        let e =
            promql_parser::parser::parse(q).map_err(|message| crate::Error::Parse { message })?;
        Ok(QueryResult {
            value: self.eval(head, &e, t)?,
            warnings: vec![],
            infos: vec![],
        })
    }

    fn range(
        &self,
        head: &tsdb::Head,
        q: &str,
        start: i64,
        end: i64,
        step: i64,
    ) -> crate::Result<QueryResult> {
        let e =
            promql_parser::parser::parse(q).map_err(|message| crate::Error::Parse { message })?;
        let mut series: Vec<crate::value::Series> = vec![];
        let mut t = start;
        while t <= end {
            let samples = match self.eval(head, &e, t)? {
                Value::Scalar { v, .. } => vec![Sample {
                    labels: Labels::empty(),
                    t,
                    v,
                }],
                Value::Vector(v) => v,
                _ => vec![],
            };
            for s in samples {
                match series.iter_mut().find(|x| x.labels == s.labels) {
                    Some(x) => x.points.push((t, s.v)),
                    None => series.push(crate::value::Series {
                        labels: s.labels,
                        points: vec![(t, s.v)],
                    }),
                }
            }
            t += step;
        }
        series.sort_by(|a, b| crate::promqltest::compare::compare_labels(&a.labels, &b.labels));
        if self.unsorted {
            series.reverse();
        }
        Ok(QueryResult {
            value: Value::Matrix(series),
            warnings: vec![],
            infos: vec![],
        })
    }
}

const FLOW: &str = r#"
load 1m
    a{x="1"} 1 2 3 stale
    a{x="2"} 5x10

eval instant at 2m a
    a{x="1"} 3
    a{x="2"} 5

eval instant at 3m a
    a{x="2"} 5

eval instant at 0 a
    a{x="1"} 1
    a{x="2"} 5

eval instant at 3m a offset 1m
    a{x="1"} 3
    a{x="2"} 5

eval instant at 1m 42
    42

eval range from 0 to 3m step 1m a
    a{x="1"} 1 2 3 _
    a{x="2"} 5 5 5 5

eval_fail instant at 1m sum(a)
    expected_fail_message unsupported by the fake engine
"#;

fn run_fake(fake: &Fake, script: &str) -> FileReport {
    let cmds = parse_script(script).unwrap();
    run_commands_with(fake, "flow.test", &cmds, &RunOptions::default()).unwrap()
}

#[test]
fn a_correct_engine_passes_every_eval() {
    let r = run_fake(&Fake::default(), FLOW);
    assert_eq!(
        (r.passed(), r.failed(), r.skipped()),
        (7, 0, 0),
        "{}",
        r.render()
    );
}

#[test]
fn wrong_expectations_fail() {
    let script = FLOW.replace(
        "    a{x=\"1\"} 3\n    a{x=\"2\"} 5\n\neval instant at 3m",
        "    a{x=\"1\"} 4\n    a{x=\"2\"} 5\n\neval instant at 3m",
    );
    let r = run_fake(&Fake::default(), &script);
    assert_eq!(r.failed(), 1, "{}", r.render());
    let script = FLOW.replace(
        "expected_fail_message unsupported",
        "expected_fail_message other",
    );
    assert_eq!(run_fake(&Fake::default(), &script).failed(), 1);
}

#[test]
fn at_rewrites_catch_an_engine_that_ignores_at() {
    let r = run_fake(
        &Fake {
            ignore_at: true,
            ..Fake::default()
        },
        FLOW,
    );
    let failed: Vec<_> = r
        .evals
        .iter()
        .filter_map(|e| match &e.outcome {
            EvalOutcome::Failed(why) => Some(why.clone()),
            _ => None,
        })
        .collect();
    assert!(!failed.is_empty(), "{}", r.render());
    assert!(failed.iter().all(|f| f.contains("@-rewrite")), "{failed:?}");
}

#[test]
fn range_checks_catch_unsorted_matrices() {
    let r = run_fake(
        &Fake {
            unsorted: true,
            ..Fake::default()
        },
        FLOW,
    );
    // Every eval over both series (at some step) fails in range mode or as a range eval.
    assert_eq!(r.failed(), 5, "{}", r.render());
    assert!(r.render().contains("sorted"));
}
