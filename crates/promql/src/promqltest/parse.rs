//! Reads a `.test` script into [`Command`]s, following `promql/promqltest/test.go` of
//! Prometheus v3.5.3: trimmed lines, whole-line comments, blocks ended by an empty line.

use std::sync::LazyLock;

use promql_parser::parser::Expr;
use regex::Regex;
use tsdb::labels::Labels;

use super::values::{SeqValue, parse_number, parse_series, parse_values};
use tsdb::units::parse_duration_ms as parse_duration;

/// A script error: the line (1-based) and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ScriptError {
    /// The 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// One command of a script.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Command {
    /// `load <interval>` or `load_with_nhcb <interval>`.
    Load(Load),
    /// `clear`: a new, empty storage.
    Clear {
        /// The command's line.
        line: usize,
    },
    /// `eval …`.
    Eval(Box<Eval>),
}

/// A `load` block.
#[derive(Debug, Clone)]
pub struct Load {
    /// The command's line.
    pub line: usize,
    /// Interval between the values, in ms.
    pub interval: i64,
    /// `load_with_nhcb`: classic histograms also become native histograms.
    pub nhcb: bool,
    /// The series in file order; a series listed twice keeps its later values.
    pub series: Vec<(Labels, Vec<SeqValue>)>,
}

/// When an eval runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EvalTime {
    /// `eval instant at <t>`.
    Instant(i64),
    /// `eval range from <start> to <end> step <step>`.
    Range {
        /// First step, in ms.
        start: i64,
        /// Last step, in ms (inclusive).
        end: i64,
        /// Step width, in ms.
        step: i64,
    },
}

/// How an annotation or error text must match.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum TextMatch {
    /// Any text.
    Any,
    /// Exactly this text.
    Exact(String),
    /// A regexp that must match somewhere in the text.
    Regex(Regex),
}

impl TextMatch {
    /// Whether `s` matches.
    pub fn matches(&self, s: &str) -> bool {
        match self {
            TextMatch::Any => true,
            TextMatch::Exact(e) => e == s,
            TextMatch::Regex(r) => r.is_match(s),
        }
    }
}

/// Expectations about one kind of annotation (warnings or infos).
#[derive(Debug, Clone, Default)]
pub struct AnnotationExpect {
    /// Old style `eval_warn` / `eval_info`: at least one must come back.
    pub at_least_one: bool,
    /// `expect warn …` lines: each must match an annotation and every annotation a line.
    pub lines: Vec<TextMatch>,
    /// `expect no_warn` / `expect no_info`.
    pub none: bool,
}

/// The expected value of an eval.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Expected {
    /// A bare number: a scalar.
    Scalar(f64),
    /// Series lines (none: an empty result).
    Series(Vec<ExpectedSeries>),
}

/// One expected series line.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpectedSeries {
    /// The line it was written on.
    pub line: usize,
    /// The exact label set.
    pub labels: Labels,
    /// One value (instant) or one per step (range).
    pub values: Vec<SeqValue>,
}

/// An `eval` command.
#[derive(Debug, Clone)]
pub struct Eval {
    /// The command's line.
    pub line: usize,
    /// The expression as written.
    pub expr: String,
    /// The parsed expression, or the parser's message.
    pub ast: Result<Expr, String>,
    /// Instant or range.
    pub time: EvalTime,
    /// The query must fail; with a message to match if given.
    pub fail: Option<TextMatch>,
    /// Warning expectations.
    pub warn: AnnotationExpect,
    /// Info expectations.
    pub info: AnnotationExpect,
    /// The result must be in the listed order.
    pub ordered: bool,
    /// The expected result.
    pub expected: Expected,
}

impl Eval {
    /// Whether the expected result has a native histogram.
    pub fn expects_histogram(&self) -> bool {
        match &self.expected {
            Expected::Scalar(_) => false,
            Expected::Series(s) => s
                .iter()
                .any(|s| s.values.iter().any(|v| matches!(v, SeqValue::Histogram(_)))),
        }
    }
}

static PAT_INSTANT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^eval(?:_(fail|warn|ordered|info))?\s+instant\s+(?:at\s+(.+?))?\s+(.+)$")
        .expect("a valid regex")
});
static PAT_RANGE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^eval(?:_(fail|warn|info))?\s+range\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+?)\s+(.+)$",
    )
    .expect("a valid regex")
});
static PAT_LOAD: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^load(?:_(with_nhcb))?\s+(.+?)$").expect("a valid regex"));

fn err(line: usize, message: impl Into<String>) -> ScriptError {
    ScriptError {
        line,
        message: message.into(),
    }
}

/// Parses a whole script.
pub fn parse_script(text: &str) -> Result<Vec<Command>, ScriptError> {
    let lines: Vec<&str> = text
        .lines()
        .map(|l| {
            let l = l.trim();
            if l.starts_with('#') { "" } else { l }
        })
        .collect();
    let mut cmds = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].is_empty() {
            i += 1;
            continue;
        }
        let start = i;
        let mut end = i + 1;
        while end < lines.len() && !lines[end].is_empty() {
            end += 1;
        }
        let block: Vec<(usize, &str)> = (start..end).map(|k| (k + 1, lines[k])).collect();
        let word = lines[i]
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        if word == "clear" {
            cmds.push(Command::Clear { line: start + 1 });
            i = start + 1;
            continue;
        } else if word.starts_with("load") {
            cmds.push(Command::Load(parse_load(&block)?));
        } else if word.starts_with("eval") {
            cmds.push(Command::Eval(Box::new(parse_eval(&block)?)));
        } else {
            return Err(err(start + 1, format!("invalid command {:?}", lines[i])));
        }
        i = end;
    }
    Ok(cmds)
}

fn parse_load(block: &[(usize, &str)]) -> Result<Load, ScriptError> {
    let (line, head) = block[0];
    let caps = PAT_LOAD.captures(head).ok_or_else(|| {
        err(
            line,
            "invalid load command (load[_with_nhcb] <step:duration>)",
        )
    })?;
    let interval = parse_duration(&caps[2]).map_err(|e| err(line, e))?;
    let mut series: Vec<(Labels, Vec<SeqValue>)> = Vec::new();
    for &(l, text) in &block[1..] {
        let (labels, rest) = parse_series(text).map_err(|e| err(l, e))?;
        let values = parse_values(rest).map_err(|e| err(l, e))?;
        if let Some(existing) = series.iter_mut().find(|(s, _)| *s == labels) {
            existing.1 = values;
        } else {
            series.push((labels, values));
        }
    }
    Ok(Load {
        line,
        interval,
        nhcb: caps.get(1).is_some(),
        series,
    })
}

fn parse_eval(block: &[(usize, &str)]) -> Result<Eval, ScriptError> {
    let (line, head) = block[0];
    let dur = |s: &str| parse_duration(s.trim()).map_err(|e| err(line, e));
    let (modifier, time, expr) = if let Some(c) = PAT_INSTANT.captures(head) {
        let at = c
            .get(2)
            .ok_or_else(|| err(line, "instant eval without 'at <time>'"))?;
        (
            c.get(1).map(|m| m.as_str()),
            EvalTime::Instant(dur(at.as_str())?),
            c[3].to_string(),
        )
    } else if let Some(c) = PAT_RANGE.captures(head) {
        let (start, end, step) = (dur(&c[2])?, dur(&c[3])?, dur(&c[4])?);
        if end < start {
            return Err(err(
                line,
                "invalid test definition, end timestamp is before start timestamp",
            ));
        }
        if step <= 0 {
            return Err(err(line, "range eval with a zero step"));
        }
        (
            c.get(1).map(|m| m.as_str()),
            EvalTime::Range { start, end, step },
            c[5].to_string(),
        )
    } else {
        return Err(err(line, format!("invalid eval command {head:?}")));
    };
    // The engine's parser: promql-parser plus the duration-expression fallback.
    let ast = crate::engine::parse(&expr).map_err(|e| e.to_string());
    let mut ev = Eval {
        line,
        expr,
        ast,
        time,
        fail: (modifier == Some("fail")).then_some(TextMatch::Any),
        warn: AnnotationExpect {
            at_least_one: modifier == Some("warn"),
            ..Default::default()
        },
        info: AnnotationExpect {
            at_least_one: modifier == Some("info"),
            ..Default::default()
        },
        ordered: modifier == Some("ordered"),
        expected: Expected::Series(Vec::new()),
    };
    let mut series = Vec::new();
    let mut scalar = None;
    for (k, &(l, text)) in block.iter().enumerate().skip(1) {
        if let Some(rest) = text.strip_prefix("expected_fail_message") {
            ev.fail = Some(TextMatch::Exact(rest.trim().to_string()));
            continue;
        }
        if let Some(rest) = text.strip_prefix("expected_fail_regexp") {
            let re = Regex::new(rest.trim()).map_err(|e| err(l, e.to_string()))?;
            ev.fail = Some(TextMatch::Regex(re));
            continue;
        }
        if let Some(rest) = text.strip_prefix("expect ") {
            parse_expect(&mut ev, l, rest.trim())?;
            continue;
        }
        if let Some(v) = parse_number(text) {
            if k + 1 != block.len() {
                return Err(err(
                    l,
                    "a scalar expectation must be the last line of its block",
                ));
            }
            scalar = Some(v);
            continue;
        }
        let (labels, rest) = parse_series(text).map_err(|e| err(l, e))?;
        let values = parse_values(rest).map_err(|e| err(l, e))?;
        match ev.time {
            EvalTime::Instant(_) if values.len() > 1 => {
                return Err(err(
                    l,
                    "expecting multiple values in instant evaluation not allowed",
                ));
            }
            EvalTime::Range { start, end, step }
                if values.len() as i64 > (end - start) / step + 1 =>
            {
                return Err(err(l, "more values than the range has steps"));
            }
            _ => {}
        }
        series.push(ExpectedSeries {
            line: l,
            labels,
            values,
        });
    }
    if ev.warn.none && !ev.warn.lines.is_empty() || ev.info.none && !ev.info.lines.is_empty() {
        return Err(err(
            line,
            "'expect no_…' cannot be combined with expectations of the same kind",
        ));
    }
    if matches!(ev.time, EvalTime::Range { .. }) && ev.ordered {
        return Err(err(
            line,
            "expect ordered on a range eval: the query returns a matrix",
        ));
    }
    ev.expected = match scalar {
        Some(v) => Expected::Scalar(v),
        None => Expected::Series(series),
    };
    Ok(ev)
}

fn parse_expect(ev: &mut Eval, l: usize, rest: &str) -> Result<(), ScriptError> {
    let (kind, tail) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    let tail = tail.trim();
    let text = if tail.is_empty() {
        TextMatch::Any
    } else if let Some(m) = tail.strip_prefix("msg:") {
        TextMatch::Exact(m.trim().to_string())
    } else if let Some(r) = tail.strip_prefix("regex:") {
        TextMatch::Regex(Regex::new(r.trim()).map_err(|e| err(l, e.to_string()))?)
    } else {
        return Err(err(l, format!("invalid expect line {rest:?}")));
    };
    match kind {
        "fail" => {
            if ev.fail.is_some()
                && matches!(ev.fail, Some(TextMatch::Exact(_) | TextMatch::Regex(_)))
            {
                return Err(err(l, "more than one 'expect fail' line"));
            }
            ev.fail = Some(text);
        }
        "warn" => ev.warn.lines.push(text),
        "info" => ev.info.lines.push(text),
        "no_warn" => ev.warn.none = true,
        "no_info" => ev.info.none = true,
        "ordered" => ev.ordered = true,
        _ => return Err(err(l, format!("invalid expect line {rest:?}"))),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one_eval(s: &str) -> Eval {
        match parse_script(s).unwrap().pop() {
            Some(Command::Eval(e)) => *e,
            other => panic!("not an eval: {other:?}"),
        }
    }

    #[test]
    fn commands_and_blocks() {
        let s = "# comment\nload 5m\n  a{x=\"1\"} 0+1x3\n  a{x=\"1\"} 7\n  b 1\n\nclear\nload_with_nhcb 1m\n  h_bucket{le=\"1\"} 1\n\neval instant at 1m a\n  a{x=\"1\"} 7\n";
        let cmds = parse_script(s).unwrap();
        assert_eq!(cmds.len(), 4);
        let Command::Load(l) = &cmds[0] else { panic!() };
        assert_eq!(l.interval, 300_000);
        assert!(!l.nhcb);
        assert_eq!(l.series.len(), 2);
        assert_eq!(
            l.series[0].1,
            vec![SeqValue::Float(7.0)],
            "a later line wins"
        );
        assert!(matches!(cmds[1], Command::Clear { line: 7 }));
        let Command::Load(l) = &cmds[2] else { panic!() };
        assert!(l.nhcb);
        let Command::Eval(e) = &cmds[3] else { panic!() };
        assert_eq!(e.time, EvalTime::Instant(60_000));
        assert_eq!(e.line, 11);
    }

    #[test]
    fn a_comment_cuts_a_block() {
        let s = "load 1m\n  a 1\n# c\n  b 2\n";
        let e = parse_script(s).unwrap_err();
        assert_eq!(e.line, 4);
        assert!(parse_script("foo bar\n").is_err());
    }

    #[test]
    fn eval_forms() {
        let e = one_eval("eval_fail instant at 0 foo(\n  expected_fail_message bad thing\n");
        assert!(matches!(e.fail, Some(TextMatch::Exact(ref m)) if m == "bad thing"));
        assert!(e.ast.is_err());
        let e = one_eval("eval_fail instant at 0 a\n  expected_fail_regexp ba+d\n");
        assert!(e.fail.unwrap().matches("xbaad"));
        let e = one_eval("eval_warn instant at 10s a\n");
        assert!(e.warn.at_least_one && !e.info.at_least_one);
        let e = one_eval("eval_info range from 0 to 2m step 1m a\n  a 1 2 3\n");
        assert!(e.info.at_least_one);
        assert_eq!(
            e.time,
            EvalTime::Range {
                start: 0,
                end: 120_000,
                step: 60_000
            }
        );
        let e = one_eval("eval_ordered instant at 1m sort(a)\n  a{b=\"1\"} 1\n  a{b=\"2\"} 2\n");
        assert!(e.ordered);
        let Expected::Series(s) = &e.expected else {
            panic!()
        };
        assert_eq!(s.len(), 2);
        let e = one_eval("eval instant at 1m 5\n  5\n");
        assert_eq!(e.expected, Expected::Scalar(5.0));
        let e = one_eval("eval instant at 1m vector(1)\n  {} 1\n");
        assert!(matches!(e.expected, Expected::Series(ref s) if s[0].labels.is_empty()));
        let e = one_eval("eval instant at 1m a\n  {} {{count:1}}\n");
        assert!(e.expects_histogram());
        assert!(parse_script("eval instant at 1m a\n  a 1 2\n").is_err());
        assert!(parse_script("eval range from 0 to 1m step 1m a\n  a 1 2 3\n").is_err());
        assert!(parse_script("eval range from 2m to 1m step 1m a\n").is_err());
        assert!(parse_script("eval instant at 1m 5\n  5\n  a 1\n").is_err());
        assert!(parse_script("eval_ordered range from 0 to 1m step 1m a\n").is_err());
    }

    #[test]
    fn expect_lines() {
        let e =
            one_eval("eval instant at 1m a\n  expect warn msg: PromQL warning: x\n  expect info\n");
        assert_eq!(e.warn.lines.len(), 1);
        assert!(matches!(e.info.lines[..], [TextMatch::Any]));
        assert!(
            parse_script("eval instant at 1m a\n  expect warn msg: x\n  expect no_warn\n").is_err()
        );
        let e = one_eval(
            "eval instant at 1m a\n  expect fail regex: ab?c\n  expect ordered\n  expect no_info\n",
        );
        assert!(e.fail.unwrap().matches("ac"));
        assert!(e.ordered && e.info.none);
        assert!(parse_script("eval instant at 1m a\n  expect bogus\n").is_err());
    }
}
