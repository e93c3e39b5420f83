//! The @-modifier rewrite of §4 and a PromQL printer for `promql-parser`'s AST.
//!
//! `promql-parser` 0.11.1's `Display` cannot be used for the rewrite: it prints an `@` before
//! the Unix epoch as `@ 0.000`, and it prints `or` between the groups of `{a="1" or b="2"}`
//! selectors with inconsistent separators. This printer writes every node explicitly, so
//! parse → print → parse gives back the same AST (tested below and over the whole corpus).

use std::fmt::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use promql_parser::label::{MatchOp, Matcher, Matchers};
use promql_parser::parser::{
    AtModifier, Expr, LabelModifier, Offset, VectorMatchCardinality, VectorSelector,
};

/// Functions whose result depends on the evaluation time even when their inputs are pinned
/// with `@` (Prometheus's `AtModifierUnsafeFunctions`).
pub const AT_MODIFIER_UNSAFE_FUNCTIONS: [&str; 11] = [
    "days_in_month",
    "day_of_month",
    "day_of_week",
    "day_of_year",
    "hour",
    "minute",
    "month",
    "year",
    "predict_linear",
    "time",
    "timestamp",
];

/// Sets `@ t_ms` on every selector and subquery without a fixed `@` (outside subqueries), as
/// upstream's `atModifierTestCases` does. Returns `None` when the expression calls a function
/// of [`AT_MODIFIER_UNSAFE_FUNCTIONS`] outside a subquery (then upstream skips the re-runs).
pub fn pin_at(expr: &Expr, t_ms: i64) -> Option<Expr> {
    let mut e = expr.clone();
    let mut unsafe_fn = false;
    pin(&mut e, at_of(t_ms), &mut unsafe_fn);
    (!unsafe_fn).then_some(e)
}

fn at_of(t_ms: i64) -> AtModifier {
    let d = Duration::from_millis(t_ms.unsigned_abs());
    let t = if t_ms >= 0 {
        UNIX_EPOCH.checked_add(d)
    } else {
        UNIX_EPOCH.checked_sub(d)
    };
    AtModifier::At(t.unwrap_or(UNIX_EPOCH))
}

/// Upstream only keeps a numeric `@`; `start()`/`end()` are overwritten like a missing `@`.
fn pinned(at: &Option<AtModifier>) -> bool {
    matches!(at, Some(AtModifier::At(_)))
}

fn pin(e: &mut Expr, at: AtModifier, unsafe_fn: &mut bool) {
    match e {
        Expr::VectorSelector(vs) => {
            if !pinned(&vs.at) {
                vs.at = Some(at);
            }
        }
        Expr::MatrixSelector(ms) => {
            if !pinned(&ms.vs.at) {
                ms.vs.at = Some(at);
            }
        }
        Expr::Subquery(sq) => {
            // Selectors and calls inside a subquery are left alone: the subquery is pinned.
            if !pinned(&sq.at) {
                sq.at = Some(at);
            }
        }
        Expr::Call(c) => {
            if AT_MODIFIER_UNSAFE_FUNCTIONS.contains(&c.func.name) {
                *unsafe_fn = true;
            }
            for a in &mut c.args.args {
                pin(a, at.clone(), unsafe_fn);
            }
        }
        Expr::Aggregate(a) => {
            if let Some(p) = &mut a.param {
                pin(p, at.clone(), unsafe_fn);
            }
            pin(&mut a.expr, at, unsafe_fn);
        }
        Expr::Unary(u) => pin(&mut u.expr, at, unsafe_fn),
        Expr::Binary(b) => {
            pin(&mut b.lhs, at.clone(), unsafe_fn);
            pin(&mut b.rhs, at, unsafe_fn);
        }
        Expr::Paren(p) => pin(&mut p.expr, at, unsafe_fn),
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
    }
}

/// Prints an expression as PromQL that parses back to the same AST.
pub fn print(e: &Expr) -> String {
    let mut s = String::new();
    write_expr(&mut s, e);
    s
}

fn write_expr(s: &mut String, e: &Expr) {
    match e {
        Expr::Aggregate(a) => {
            s.push_str(&a.op.to_string());
            match &a.modifier {
                Some(LabelModifier::Include(l)) => {
                    s.push_str(" by ");
                    write_label_list(s, &l.labels);
                }
                Some(LabelModifier::Exclude(l)) => {
                    s.push_str(" without ");
                    write_label_list(s, &l.labels);
                }
                None => {}
            }
            s.push_str(" (");
            if let Some(p) = &a.param {
                write_expr(s, p);
                s.push_str(", ");
            }
            write_expr(s, &a.expr);
            s.push(')');
        }
        Expr::Unary(u) => {
            s.push('-');
            write_expr(s, &u.expr);
        }
        Expr::Binary(b) => {
            write_expr(s, &b.lhs);
            let _ = write!(s, " {}", b.op);
            if let Some(m) = &b.modifier {
                if m.return_bool {
                    s.push_str(" bool");
                }
                match &m.matching {
                    Some(LabelModifier::Include(l)) => {
                        s.push_str(" on ");
                        write_label_list(s, &l.labels);
                    }
                    Some(LabelModifier::Exclude(l)) => {
                        s.push_str(" ignoring ");
                        write_label_list(s, &l.labels);
                    }
                    None => {}
                }
                match &m.card {
                    VectorMatchCardinality::ManyToOne(l) => {
                        s.push_str(" group_left ");
                        write_label_list(s, &l.labels);
                    }
                    VectorMatchCardinality::OneToMany(l) => {
                        s.push_str(" group_right ");
                        write_label_list(s, &l.labels);
                    }
                    _ => {}
                }
            }
            s.push(' ');
            write_expr(s, &b.rhs);
        }
        Expr::Paren(p) => {
            s.push('(');
            write_expr(s, &p.expr);
            s.push(')');
        }
        Expr::Subquery(sq) => {
            write_expr(s, &sq.expr);
            let _ = write!(s, "[{}:", fmt_duration(sq.range));
            if let Some(step) = sq.step {
                s.push_str(&fmt_duration(step));
            }
            s.push(']');
            write_at_offset(s, &sq.at, &sq.offset);
        }
        Expr::NumberLiteral(n) => write_number(s, n.val),
        Expr::StringLiteral(l) => write_string(s, &l.val),
        Expr::VectorSelector(vs) => {
            write_selector(s, vs);
            write_at_offset(s, &vs.at, &vs.offset);
        }
        Expr::MatrixSelector(ms) => {
            write_selector(s, &ms.vs);
            let _ = write!(s, "[{}]", fmt_duration(ms.range));
            write_at_offset(s, &ms.vs.at, &ms.vs.offset);
        }
        Expr::Call(c) => {
            s.push_str(c.func.name);
            s.push('(');
            for (i, a) in c.args.args.iter().enumerate() {
                if i > 0 {
                    s.push_str(", ");
                }
                write_expr(s, a);
            }
            s.push(')');
        }
        Expr::Extension(x) => {
            let _ = write!(s, "{x:?}");
        }
    }
}

fn write_number(s: &mut String, v: f64) {
    if v.is_nan() {
        s.push_str("NaN");
    } else if v == f64::INFINITY {
        s.push_str("Inf");
    } else if v == f64::NEG_INFINITY {
        s.push_str("-Inf");
    } else {
        let _ = write!(s, "{v:?}");
    }
}

fn write_string(s: &mut String, v: &str) {
    s.push('"');
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            '\r' => s.push_str("\\r"),
            '\t' => s.push_str("\\t"),
            c => s.push(c),
        }
    }
    s.push('"');
}

fn is_identifier(n: &str) -> bool {
    let mut chars = n.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn is_metric_name(n: &str) -> bool {
    let mut chars = n.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn write_label_name(s: &mut String, n: &str) {
    if is_identifier(n) {
        s.push_str(n);
    } else {
        write_string(s, n);
    }
}

fn write_label_list(s: &mut String, names: &[String]) {
    s.push('(');
    for (i, n) in names.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        write_label_name(s, n);
    }
    s.push(')');
}

fn write_matcher(s: &mut String, m: &Matcher) {
    write_label_name(s, &m.name);
    s.push_str(match m.op {
        MatchOp::Equal => "=",
        MatchOp::NotEqual => "!=",
        MatchOp::Re(_) => "=~",
        MatchOp::NotRe(_) => "!~",
    });
    write_string(s, &m.value);
}

fn write_selector(s: &mut String, vs: &VectorSelector) {
    let name = vs.name.as_deref().filter(|n| is_metric_name(n));
    let is_name_matcher = |m: &Matcher| {
        name.is_some_and(|n| m.name == "__name__" && matches!(m.op, MatchOp::Equal) && m.value == n)
    };
    if let Some(n) = name {
        s.push_str(n);
    }
    let Matchers {
        matchers,
        or_matchers,
    } = &vs.matchers;
    let rest: Vec<&Matcher> = matchers.iter().filter(|m| !is_name_matcher(m)).collect();
    let quoted_name = vs.name.as_deref().filter(|n| !is_metric_name(n));
    if rest.is_empty() && or_matchers.is_empty() && quoted_name.is_none() {
        if name.is_none() {
            s.push_str("{}");
        }
        return;
    }
    s.push('{');
    let mut first = true;
    if let Some(n) = quoted_name {
        write_string(s, n);
        first = false;
    }
    if or_matchers.is_empty() {
        for m in rest {
            if !first {
                s.push_str(", ");
            }
            first = false;
            write_matcher(s, m);
        }
    } else {
        for (g, group) in or_matchers.iter().enumerate() {
            if g > 0 {
                s.push_str(" or ");
            }
            for (i, m) in group.iter().filter(|m| !is_name_matcher(m)).enumerate() {
                if i > 0 {
                    s.push_str(", ");
                }
                write_matcher(s, m);
            }
        }
    }
    s.push('}');
}

fn write_at_offset(s: &mut String, at: &Option<AtModifier>, offset: &Option<Offset>) {
    match at {
        Some(AtModifier::Start) => s.push_str(" @ start()"),
        Some(AtModifier::End) => s.push_str(" @ end()"),
        Some(AtModifier::At(t)) => {
            let ms = at_millis(*t);
            let sign = if ms < 0 { "-" } else { "" };
            let a = ms.unsigned_abs();
            let _ = write!(s, " @ {sign}{}.{:03}", a / 1000, a % 1000);
        }
        None => {}
    }
    match offset {
        Some(Offset::Pos(d)) => {
            let _ = write!(s, " offset {}", fmt_duration(*d));
        }
        Some(Offset::Neg(d)) => {
            let _ = write!(s, " offset -{}", fmt_duration(*d));
        }
        None => {}
    }
}

/// Milliseconds since the epoch of an `@` time (negative before it).
pub fn at_millis(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_millis() as i64,
        Err(e) => -(e.duration().as_millis() as i64),
    }
}

/// Formats a duration the way Prometheus writes them (`1h30m`, `5m`, `10ms`, `0s`).
pub fn fmt_duration(d: Duration) -> String {
    let mut ms = d.as_millis();
    if ms == 0 {
        return "0s".into();
    }
    const UNITS: [(&str, u128); 7] = [
        ("y", 365 * 24 * 3600 * 1000),
        ("w", 7 * 24 * 3600 * 1000),
        ("d", 24 * 3600 * 1000),
        ("h", 3600 * 1000),
        ("m", 60 * 1000),
        ("s", 1000),
        ("ms", 1),
    ];
    let mut out = String::new();
    for (u, size) in UNITS {
        if ms >= size {
            let _ = write!(out, "{}{u}", ms / size);
            ms %= size;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use promql_parser::parser::parse;

    /// Expressions exercising every node kind and modifier.
    pub(crate) const EXPRS: &[&str] = &[
        "foo",
        r#"foo{a="b", c!="d", e=~"f.*", g!~"h\"i"}"#,
        r#"{__name__="foo", a="1"}"#,
        r#"{__name__=~"foo|bar"}"#,
        r#"{"some.metric", "a.b"="c"}"#,
        "foo offset 5m",
        "foo offset -1h30m",
        "foo @ 100",
        "foo @ -100.5 offset 1m",
        "foo[5m] @ 1 offset 10s",
        "rate(foo[5m])",
        "sum by (a, b) (rate(foo[1m]))",
        "sum without (a) (foo)",
        "sum(foo) by ()",
        "topk(3, foo)",
        r#"count_values("v", foo)"#,
        "quantile(0.9, foo)",
        "-foo",
        "-(foo + 1)",
        "foo + on (a) group_left (b) bar",
        "foo * ignoring (a) group_right () bar",
        "foo == bool 1",
        "foo > on () bar",
        "foo and bar or baz unless qux",
        "(foo + bar) * 2 ^ -1",
        "2 ^ 3 ^ 2",
        "1e300 + -Inf + NaN + 0.1",
        "max_over_time(rate(foo[5m])[30m:1m] @ 50 offset 1m)",
        "min_over_time(foo[10m:])",
        "foo @ start()",
        "foo[1m] @ end()",
        r#"label_replace(foo, "dst", "$1", "src", "(.*)\n\\")"#,
        "time() - timestamp(foo)",
        "vector(1) + scalar(foo)",
        r#"{a="1" or b="2"}"#,
    ];

    #[test]
    fn print_round_trips() {
        for src in EXPRS {
            let ast = parse(src).unwrap_or_else(|e| panic!("{src}: {e}"));
            let printed = print(&ast);
            let again = parse(&printed).unwrap_or_else(|e| panic!("{src} → {printed}: {e}"));
            assert_eq!(ast, again, "{src} → {printed}");
        }
    }

    #[test]
    fn pin_round_trips_modulo_at() {
        for src in EXPRS {
            let ast = parse(src).unwrap();
            let Some(pinned) = pin_at(&ast, -2500) else {
                continue;
            };
            let printed = print(&pinned);
            let again = parse(&printed).unwrap_or_else(|e| panic!("{src} → {printed}: {e}"));
            assert_eq!(pinned, again, "{src} → {printed}");
        }
    }

    #[test]
    fn pin_sets_at_where_upstream_does() {
        let p = |s: &str, t| pin_at(&parse(s).unwrap(), t).map(|e| print(&e));
        assert_eq!(p("foo", 60_000).unwrap(), "foo @ 60.000");
        assert_eq!(
            p("foo @ 5 + rate(bar[1m])", 60_000).unwrap(),
            "foo @ 5.000 + rate(bar[1m] @ 60.000)"
        );
        assert_eq!(p("foo @ start()", 1_000).unwrap(), "foo @ 1.000");
        assert_eq!(
            p("max_over_time(rate(foo[1m])[5m:1m])", 0).unwrap(),
            "max_over_time(rate(foo[1m])[5m:1m] @ 0.000)"
        );
        assert_eq!(
            p("sum_over_time(foo[5m:] @ 10 offset 1m)", 7).unwrap(),
            "sum_over_time(foo[5m:] @ 10.000 offset 1m)"
        );
        assert_eq!(p("time()", 1_000), None);
        assert_eq!(p("timestamp(foo)", 1_000), None);
        // Calls inside a subquery are not looked at, as upstream.
        assert!(p("max_over_time(vector(time())[5m:1m])", 1_000).is_some());
    }

    #[test]
    fn durations() {
        assert_eq!(fmt_duration(Duration::from_millis(5_400_000)), "1h30m");
        assert_eq!(fmt_duration(Duration::from_millis(10_053)), "10s53ms");
        assert_eq!(fmt_duration(Duration::ZERO), "0s");
    }
}
