//! Decides which evals are "not applicable" (§6 of the test-suite spec) and are therefore
//! counted as skipped: evals that read or expect native histograms, and evals that need an
//! experimental PromQL feature (experimental functions, duration expressions, delayed
//! `__name__` removal).
//!
//! Delayed name removal is classified statically. Without it, `__name__` (with `__type__` and
//! `__unit__`) disappears as soon as a function or arithmetic operator is applied instead of
//! at the end of the query, which is only observable when a later node still looks at those
//! labels. An eval is counted as needing it when a name-dropping subexpression `D` feeds:
//! 1. `label_replace` / `label_join` reading `__name__` as a source label;
//! 2. an aggregation not grouped by `__name__`, where `D` reads a selector without a fixed
//!    metric name that matches loaded series of several metric names (without delayed removal
//!    `D` yields duplicate label sets, an error);
//! 3. a set operator (`and`, `or`, `unless`), where `D` reads loaded series carrying
//!    `__type__` or `__unit__` (without delayed removal those labels vanish before matching).
//!
//! On the v3.5 corpus this finds exactly the 9 evals that the spec measured.

use promql_parser::label::Matcher;
use promql_parser::parser::token::{T_LAND, T_LOR, T_LUNLESS};
use promql_parser::parser::{Expr, LabelModifier, VectorSelector};
use regex::Regex;
use std::sync::LazyLock;
use tsdb::labels::Labels;

use super::parse::Eval;

/// Experimental functions of Prometheus 3.5 (behind `promql-experimental-functions`).
pub const EXPERIMENTAL_FUNCTIONS: [&str; 8] = [
    "double_exponential_smoothing",
    "info",
    "mad_over_time",
    "sort_by_label",
    "sort_by_label_desc",
    "ts_of_min_over_time",
    "ts_of_max_over_time",
    "ts_of_last_over_time",
];

/// Experimental aggregators of Prometheus 3.5.
pub const EXPERIMENTAL_AGGREGATORS: [&str; 2] = ["limitk", "limit_ratio"];

/// Functions whose output keeps `__name__`.
const KEEP_NAME: [&str; 8] = [
    "label_replace",
    "label_join",
    "sort",
    "sort_desc",
    "sort_by_label",
    "sort_by_label_desc",
    "last_over_time",
    "first_over_time",
];

/// Why an eval needs an experimental feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Experimental {
    /// An experimental function or aggregator.
    Function,
    /// A duration expression (promql-parser cannot parse them).
    DurationExpression,
    /// Delayed `__name__` removal.
    DelayedNameRemoval,
}

/// What the storage holds since the last `clear`, as far as classification needs it.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    /// Every series loaded with float samples.
    pub float_series: Vec<Labels>,
    /// Series loaded with `{{…}}` samples or created by `load_with_nhcb`.
    pub histogram_series: Vec<Labels>,
}

/// How an eval is classified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Classification {
    /// It reads or expects native histograms.
    pub native_histograms: bool,
    /// It needs an experimental feature.
    pub experimental: Option<Experimental>,
}

impl Classification {
    /// Whether the eval is not applicable (skipped).
    pub fn skipped(&self) -> bool {
        self.native_histograms || self.experimental.is_some()
    }
}

/// Classifies an eval against what is loaded.
pub fn classify(ev: &Eval, loaded: &Loaded) -> Classification {
    let mut c = Classification {
        native_histograms: ev.expects_histogram(),
        experimental: None,
    };
    // Duration expressions are experimental in 3.5: promql-parser alone rejects them,
    // the engine accepts them through its fallback.
    if has_duration_expression(&ev.expr) && promql_parser::parser::parse(&ev.expr).is_err() {
        c.experimental = Some(Experimental::DurationExpression);
    }
    if let Ok(ast) = &ev.ast {
        visit(ast, &mut |e| {
            if let Some(vs) = selector(e)
                && loaded.histogram_series.iter().any(|l| selects(vs, l))
            {
                c.native_histograms = true;
            }
            match e {
                Expr::Call(call) if EXPERIMENTAL_FUNCTIONS.contains(&call.func.name) => {
                    c.experimental = Some(Experimental::Function);
                }
                Expr::Aggregate(a)
                    if EXPERIMENTAL_AGGREGATORS.contains(&a.op.to_string().as_str()) =>
                {
                    c.experimental = Some(Experimental::Function);
                }
                _ => {}
            }
        });
        if c.experimental.is_none() && needs_delayed_name_removal(ast, loaded) {
            c.experimental = Some(Experimental::DelayedNameRemoval);
        }
    }
    c
}

/// The direct children of a node.
pub fn children(e: &Expr) -> Vec<&Expr> {
    match e {
        Expr::Aggregate(a) => a.param.iter().map(|p| &**p).chain([&*a.expr]).collect(),
        Expr::Unary(u) => vec![&u.expr],
        Expr::Binary(b) => vec![&b.lhs, &b.rhs],
        Expr::Paren(p) => vec![&p.expr],
        Expr::Subquery(s) => vec![&s.expr],
        Expr::Call(c) => c.args.args.iter().map(|a| &**a).collect(),
        _ => Vec::new(),
    }
}

/// Calls `f` on every node, parents first.
pub fn visit<'a>(e: &'a Expr, f: &mut impl FnMut(&'a Expr)) {
    f(e);
    for c in children(e) {
        visit(c, f);
    }
}

fn selector(e: &Expr) -> Option<&VectorSelector> {
    match e {
        Expr::VectorSelector(vs) => Some(vs),
        Expr::MatrixSelector(ms) => Some(&ms.vs),
        _ => None,
    }
}

fn matcher_ok(m: &Matcher, l: &Labels) -> bool {
    m.is_match(l.get(&m.name).unwrap_or(""))
}

/// Whether a selector's matchers select the series `l`.
pub fn selects(vs: &VectorSelector, l: &Labels) -> bool {
    if let Some(n) = &vs.name
        && l.get("__name__") != Some(n.as_str())
    {
        return false;
    }
    let m = &vs.matchers;
    if m.or_matchers.is_empty() {
        m.matchers.iter().all(|x| matcher_ok(x, l))
    } else {
        m.or_matchers
            .iter()
            .any(|g| g.iter().all(|x| matcher_ok(x, l)))
    }
}

fn is_vector_valued(e: &Expr) -> bool {
    !matches!(e, Expr::NumberLiteral(_) | Expr::StringLiteral(_))
        && !matches!(e, Expr::Call(c) if matches!(c.func.name, "time" | "scalar" | "pi"))
        && !matches!(e, Expr::Paren(p) if !is_vector_valued(&p.expr))
        && !matches!(e, Expr::Unary(u) if !is_vector_valued(&u.expr))
        && !matches!(e, Expr::Binary(b) if !is_vector_valued(&b.lhs) && !is_vector_valued(&b.rhs))
}

/// Whether this node removes `__name__` from its vector output.
fn drops_name(e: &Expr) -> bool {
    match e {
        Expr::Call(c) => {
            !KEEP_NAME.contains(&c.func.name) && c.args.args.iter().any(|a| is_vector_valued(a))
        }
        Expr::Unary(u) => is_vector_valued(&u.expr),
        Expr::Binary(b) => {
            let set = [T_LAND, T_LOR, T_LUNLESS].contains(&b.op.id());
            let filter = b.op.is_comparison_operator() && !b.return_bool();
            !set && !filter && (is_vector_valued(&b.lhs) || is_vector_valued(&b.rhs))
        }
        _ => false,
    }
}

/// The name-dropping nodes in `e`'s subtree.
fn name_droppers(e: &Expr) -> Vec<&Expr> {
    let mut out = Vec::new();
    visit(e, &mut |n| {
        if drops_name(n) {
            out.push(n);
        }
    });
    out
}

fn selectors_in(e: &Expr) -> Vec<&VectorSelector> {
    let mut out = Vec::new();
    visit(e, &mut |n| out.extend(selector(n)));
    out
}

fn string_arg(e: &Expr) -> Option<&str> {
    match e {
        Expr::StringLiteral(s) => Some(&s.val),
        Expr::Paren(p) => string_arg(&p.expr),
        _ => None,
    }
}

fn needs_delayed_name_removal(ast: &Expr, loaded: &Loaded) -> bool {
    let mut found = false;
    visit(ast, &mut |e| match e {
        Expr::Call(c) if matches!(c.func.name, "label_replace" | "label_join") => {
            let args = &c.args.args;
            let sources: Vec<&Expr> = if c.func.name == "label_replace" {
                args.get(3).map(|a| &**a).into_iter().collect()
            } else {
                args.iter().skip(3).map(|a| &**a).collect()
            };
            let reads_name = sources.iter().any(|a| string_arg(a) == Some("__name__"));
            if reads_name && args.first().is_some_and(|a| !name_droppers(a).is_empty()) {
                found = true;
            }
        }
        Expr::Aggregate(a) => {
            let by_name = matches!(&a.modifier, Some(LabelModifier::Include(l)) if l.labels.iter().any(|n| n == "__name__"));
            if by_name {
                return;
            }
            for d in name_droppers(&a.expr) {
                for vs in selectors_in(d) {
                    let fixed = vs.name.is_some()
                        || vs.matchers.matchers.iter().any(|m| {
                            m.name == "__name__"
                                && matches!(m.op, promql_parser::label::MatchOp::Equal)
                        });
                    if fixed {
                        continue;
                    }
                    let mut names: Vec<&str> = loaded
                        .float_series
                        .iter()
                        .filter(|l| selects(vs, l))
                        .filter_map(|l| l.get("__name__"))
                        .collect();
                    names.sort_unstable();
                    names.dedup();
                    if names.len() > 1 {
                        found = true;
                    }
                }
            }
        }
        Expr::Binary(b) if [T_LAND, T_LOR, T_LUNLESS].contains(&b.op.id()) => {
            for side in [&*b.lhs, &*b.rhs] {
                for d in name_droppers(side) {
                    for vs in selectors_in(d) {
                        if loaded
                            .float_series
                            .iter()
                            .any(|l| selects(vs, l) && (l.has("__type__") || l.has("__unit__")))
                        {
                            found = true;
                        }
                    }
                }
            }
        }
        _ => {}
    });
    found
}

static STRINGS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#""(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`"#).expect("a valid regex")
});
static BRACKETS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\[([^\]]*)\]").expect("a valid regex"));
static PLAIN_DURATION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:(?:\d+(?:ms|[smhdwy]))+|\d+(?:\.\d+)?)?$").expect("a valid regex")
});
static OFFSET_EXPR: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"offset\s*-?\s*\(").expect("a valid regex"));

/// Whether the text uses a duration expression: arithmetic in `[…]` or in a subquery step,
/// or a parenthesised `offset (…)`. Used only for expressions promql-parser rejects.
pub fn has_duration_expression(expr: &str) -> bool {
    let text = STRINGS.replace_all(expr, "\"\"");
    if OFFSET_EXPR.is_match(&text) {
        return true;
    }
    BRACKETS.captures_iter(&text).any(|c| {
        c[1].split(':')
            .any(|part| !PLAIN_DURATION.is_match(part.trim()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::promqltest::parse::{Command, parse_script};

    fn eval(expr: &str) -> Eval {
        match parse_script(&format!("eval instant at 1m {expr}\n"))
            .unwrap()
            .pop()
        {
            Some(Command::Eval(e)) => *e,
            _ => unreachable!("one eval"),
        }
    }

    fn ls(p: &[(&str, &str)]) -> Labels {
        Labels::from_pairs(p)
    }

    #[test]
    fn native_histograms() {
        let loaded = Loaded {
            float_series: vec![ls(&[("__name__", "a")])],
            histogram_series: vec![ls(&[("__name__", "h"), ("x", "1")])],
        };
        assert!(classify(&eval("rate(h[5m])"), &loaded).native_histograms);
        assert!(classify(&eval(r#"{x="1"}"#), &loaded).native_histograms);
        assert!(!classify(&eval(r#"h{x="2"}"#), &loaded).native_histograms);
        assert!(!classify(&eval("a"), &loaded).skipped());
        let mut e = eval("a");
        e.expected = crate::promqltest::parse::Expected::Series(vec![
            crate::promqltest::parse::ExpectedSeries {
                line: 2,
                labels: Labels::empty(),
                values: vec![crate::promqltest::values::SeqValue::Histogram(String::new())],
            },
        ]);
        assert!(classify(&e, &loaded).native_histograms);
    }

    #[test]
    fn experimental_functions_and_durations() {
        let l = Loaded::default();
        assert_eq!(
            classify(&eval("limitk(1, a)"), &l).experimental,
            Some(Experimental::Function)
        );
        assert_eq!(
            classify(&eval(r#"sort_by_label(a, "x")"#), &l).experimental,
            Some(Experimental::Function)
        );
        assert_eq!(
            classify(&eval("changes(a[26m+4m])"), &l).experimental,
            Some(Experimental::DurationExpression)
        );
        assert_eq!(
            classify(&eval("a offset (1 + 2)"), &l).experimental,
            Some(Experimental::DurationExpression)
        );
        assert!(has_duration_expression("a[5m:2*1s]"));
        assert!(!has_duration_expression(r#"a{b=~"[x+y]"}[5m:1m]"#));
        assert!(!has_duration_expression("a[1800]"));
        assert_eq!(classify(&eval("changes(a[30m])"), &l).experimental, None);
    }

    #[test]
    fn delayed_name_removal() {
        let l = Loaded {
            float_series: vec![
                ls(&[("__name__", "m1"), ("env", "1")]),
                ls(&[("__name__", "m2"), ("env", "1")]),
                ls(&[("__name__", "t"), ("__type__", "counter"), ("g", "1")]),
            ],
            histogram_series: vec![],
        };
        let dnr =
            |s: &str| classify(&eval(s), &l).experimental == Some(Experimental::DelayedNameRemoval);
        assert!(dnr(
            r#"label_replace(rate({env="1"}[10m]), "n", "$1", "__name__", "(.+)")"#
        ));
        assert!(!dnr(r#"label_replace(m1, "n", "$1", "__name__", "(.+)")"#));
        assert!(dnr(r#"sum(rate({env="1"}[10m])) by (env)"#));
        assert!(!dnr(r#"sum by (__name__) (rate({env="1"}[10m]))"#));
        assert!(!dnr(r#"sum(rate(m1[10m]))"#));
        assert!(dnr("(t + 1) and t"));
        assert!(!dnr("(m1 + 1) and m2"));
        assert!(!dnr("t and t"));
    }
}
