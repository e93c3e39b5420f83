//! Checks Prometheus's parser makes that `promql-parser` leaves out, run on every parsed
//! query so that such queries fail as `bad_data` before evaluation, as in Prometheus.
//!
//! * Function arguments must have the declared types: `promql-parser` lets a number
//!   literal such as `NaN` or `-Inf` through as the argument of `exp`, `ln`, `log2` and
//!   `log10`; Prometheus rejects it (`checkAST` in `promql/parser/parse.go`).
//! * An `@` timestamp must lie within int64 seconds (`setTimestamp`); `promql-parser`
//!   saturates it to a time instead, so the bound is checked on the query text.
//!
//! [`label_names`] is a check of evaluation, not parsing, but needs the query text: Go decodes `"\xff"`
//! to the single byte 0xff, an invalid label name that `label_replace` and `label_join`
//! reject (`execution`), while `promql-parser` decodes it to the valid `ÿ`. Such literals
//! are found in the text; used as label names there, they fail as Prometheus's evaluation
//! would (it always evaluates these checks, at every step).

use std::collections::HashMap;

use promql_parser::parser::value::ValueType;
use promql_parser::parser::{Expr, StringLiteral};
use promql_parser::util::{ExprVisitor, unquote_string, walk_expr};

use crate::error::{Error, Result};

/// Runs the checks on a query that parsed into `expr`.
pub(crate) fn check(query: &str, expr: &Expr) -> Result<()> {
    let mut calls = CallTypes;
    walk_expr(&mut calls, expr).map_err(|message| Error::Parse { message })?;
    at_timestamps(query)
}

/// Evaluation's check of label names that Go decodes to invalid UTF-8 (an `execution`
/// error, so the engine runs it after parsing, where evaluation starts).
pub(crate) fn label_names(query: &str, expr: &Expr) -> Result<()> {
    let invalid = invalid_utf8_literals(query);
    if !invalid.is_empty() {
        let mut names = LabelNames { invalid: &invalid };
        walk_expr(&mut names, expr).map_err(Error::Execution)?;
    }
    Ok(())
}

/// Prometheus's name for a value type (`parser.DocumentedType`).
fn documented(t: ValueType) -> &'static str {
    match t {
        ValueType::Vector => "instant vector",
        ValueType::Matrix => "range vector",
        ValueType::Scalar => "scalar",
        ValueType::String => "string",
    }
}

/// Checks the type of every function argument against the function's signature.
struct CallTypes;

impl ExprVisitor for CallTypes {
    type Error = String;

    fn pre_visit(&mut self, expr: &Expr) -> Result<bool, String> {
        let Expr::Call(call) = expr else {
            return Ok(true);
        };
        let types = &call.func.arg_types;
        for (i, arg) in call.args.args.iter().enumerate() {
            // Extra arguments of a variadic function have the last declared type; the
            // parser has checked the number of arguments.
            let Some(&want) = types.get(i).or(types.last()) else {
                break;
            };
            let got = arg.value_type();
            if got != want {
                return Err(format!(
                    "expected type {} in call to function {:?}, got {}",
                    documented(want),
                    call.func.name,
                    documented(got)
                ));
            }
        }
        Ok(true)
    }
}

/// Whether a string literal of the query is invalid UTF-8 as Go decodes it (so printing
/// the AST, which holds `promql-parser`'s decoding, does not give back the same query).
pub(crate) fn has_invalid_utf8_literal(query: &str) -> bool {
    !invalid_utf8_literals(query).is_empty()
}

/// String literals of the query that Go decodes to invalid UTF-8, keyed by the value
/// `promql-parser` gives them, with Go's bytes. A value that a valid literal also has is
/// left out, as the AST cannot tell the two apart.
fn invalid_utf8_literals(query: &str) -> HashMap<String, Vec<u8>> {
    let mut invalid = HashMap::new();
    let mut valid = Vec::new();
    let b = query.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            q @ (b'"' | b'\'' | b'`') => {
                let start = i;
                i += 1;
                while i < b.len() && b[i] != q {
                    i += if b[i] == b'\\' && q != b'`' { 2 } else { 1 };
                }
                i = (i + 1).min(b.len());
                let Some(raw) = query.get(start..i) else {
                    continue;
                };
                let (Ok(val), Some(go)) = (unquote_string(raw), go_unquote(raw)) else {
                    continue;
                };
                if std::str::from_utf8(&go).is_ok() {
                    valid.push(val);
                } else {
                    invalid.insert(val, go);
                }
            }
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            _ => i += 1,
        }
    }
    for v in valid {
        invalid.remove(&v);
    }
    invalid
}

/// The bytes Go's `strconv.Unquote` makes of a quoted literal (`None` if it fails).
fn go_unquote(raw: &str) -> Option<Vec<u8>> {
    let b = raw.as_bytes();
    let (&q, inner) = b.split_first()?;
    let inner = inner.strip_suffix(&[q])?;
    if q == b'`' {
        return Some(inner.to_vec());
    }
    let mut out = Vec::with_capacity(inner.len());
    let mut i = 0;
    let hex = |s: &[u8]| u32::from_str_radix(std::str::from_utf8(s).ok()?, 16).ok();
    while i < inner.len() {
        if inner[i] != b'\\' {
            out.push(inner[i]);
            i += 1;
            continue;
        }
        let c = *inner.get(i + 1)?;
        i += 2;
        match c {
            b'a' => out.push(7),
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'v' => out.push(11),
            b'\\' | b'\'' | b'"' => out.push(c),
            b'x' => {
                out.push(u8::try_from(hex(inner.get(i..i + 2)?)?).ok()?);
                i += 2;
            }
            b'0'..=b'7' => {
                let s = std::str::from_utf8(inner.get(i - 1..i + 2)?).ok()?;
                out.push(u8::try_from(u32::from_str_radix(s, 8).ok()?).ok()?);
                i += 2;
            }
            b'u' | b'U' => {
                let n = if c == b'u' { 4 } else { 8 };
                let ch = char::from_u32(hex(inner.get(i..i + n)?)?)?;
                out.extend_from_slice(ch.encode_utf8(&mut [0; 4]).as_bytes());
                i += n;
            }
            _ => return None,
        }
    }
    Some(out)
}

/// Rejects label names of `label_replace` and `label_join` written as literals that Go
/// decodes to invalid UTF-8, with Prometheus's messages and in its order of checks.
struct LabelNames<'a> {
    /// From [`invalid_utf8_literals`].
    invalid: &'a HashMap<String, Vec<u8>>,
}

impl LabelNames<'_> {
    /// Go's bytes of argument `i` when it is such a literal.
    fn bad(&self, args: &[Box<Expr>], i: usize) -> Option<String> {
        let mut e = args.get(i)?.as_ref();
        while let Expr::Paren(p) = e {
            e = &p.expr;
        }
        let Expr::StringLiteral(StringLiteral { val }) = e else {
            return None;
        };
        let go = self.invalid.get(val)?;
        Some(String::from_utf8_lossy(go).into_owned())
    }
}

impl ExprVisitor for LabelNames<'_> {
    type Error = String;

    fn pre_visit(&mut self, expr: &Expr) -> Result<bool, String> {
        let Expr::Call(call) = expr else {
            return Ok(true);
        };
        let args = &call.args.args;
        match call.func.name {
            // The regular expression is checked first; the evaluator reports it.
            "label_replace" => {
                let regex_ok = match args.get(4).map(|a| a.as_ref()) {
                    Some(Expr::StringLiteral(StringLiteral { val })) => {
                        regex::Regex::new(&format!("^(?s:{val})$")).is_ok()
                    }
                    _ => false,
                };
                if let Some(dst) = self.bad(args, 1).filter(|_| regex_ok) {
                    return Err(format!(
                        "invalid destination label name in label_replace(): {dst}"
                    ));
                }
            }
            "label_join" => {
                if let Some(src) = (3..args.len()).find_map(|i| self.bad(args, i)) {
                    return Err(format!("invalid source label name in label_join(): {src}"));
                }
                if let Some(dst) = self.bad(args, 1) {
                    return Err(format!(
                        "invalid destination label name in label_join(): {dst}"
                    ));
                }
            }
            _ => {}
        }
        Ok(true)
    }
}

/// Rejects `@` timestamps that are not finite or not within int64 seconds.
fn at_timestamps(query: &str) -> Result<()> {
    let b = query.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            q @ (b'"' | b'\'' | b'`') => {
                i += 1;
                while i < b.len() && b[i] != q {
                    i += if b[i] == b'\\' && q != b'`' { 2 } else { 1 };
                }
                i += 1;
            }
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'@' => {
                i += 1;
                let (ts, end) = at_number(b, i);
                i = end;
                if let Some(ts) = ts
                    && !(ts.is_finite() && ts < i64::MAX as f64 && ts > i64::MIN as f64)
                {
                    return Err(Error::Parse {
                        message: format!("timestamp out of bounds for @ modifier: {ts:.6}"),
                    });
                }
            }
            _ => i += 1,
        }
    }
    Ok(())
}

/// The number after an `@` starting at `i` (with an optional sign), and where it ends;
/// `None` for `start()`, `end()` or anything else that is not a plain number.
fn at_number(b: &[u8], mut i: usize) -> (Option<f64>, usize) {
    let skip_space = |mut i: usize| {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        i
    };
    i = skip_space(i);
    let mut sign = 1.0;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        if b[i] == b'-' {
            sign = -1.0;
        }
        i = skip_space(i + 1);
    }
    let start = i;
    while i < b.len() {
        let c = b[i];
        let exponent_sign =
            (c == b'+' || c == b'-') && i > start && matches!(b[i - 1], b'e' | b'E');
        if c.is_ascii_alphanumeric() || c == b'.' || c == b'_' || exponent_sign {
            i += 1;
        } else {
            break;
        }
    }
    let text = std::str::from_utf8(&b[start..i]).unwrap_or("");
    let lower = text.to_ascii_lowercase();
    let v = if let Some(hex) = lower.strip_prefix("0x") {
        i64::from_str_radix(hex, 16).ok().map(|v| v as f64)
    } else if lower.starts_with("0x") || lower.contains('x') {
        None
    } else {
        lower.parse::<f64>().ok()
    };
    (v.map(|v| sign * v), i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_query(q: &str) -> Result<()> {
        let expr = promql_parser::parser::parse(q).map_err(|message| Error::Parse { message })?;
        check(q, &expr)?;
        label_names(q, &expr)
    }

    #[test]
    fn rejects_scalar_arguments_where_vectors_are_expected() {
        for q in ["exp(-Inf)", "exp(NaN)", "ln(-1)", "log2(Inf) + 1"] {
            let e = check_query(q).expect_err(q);
            assert!(matches!(e, Error::Parse { .. }), "{q}: {e}");
        }
        let e = check_query("exp(-Inf)").expect_err("exp");
        assert_eq!(
            e.to_string(),
            "expected type instant vector in call to function \"exp\", got scalar"
        );
        for q in [
            "exp(up)",
            "label_join(up, \"a\", \",\", \"b\", \"c\")",
            "time()",
        ] {
            check_query(q).expect(q);
        }
    }

    #[test]
    fn rejects_label_names_go_decodes_to_invalid_utf8() {
        let e = check_query(r#"label_replace(up, "\xff", "", "src", "(.*)")"#).expect_err("xff");
        assert!(matches!(e, Error::Execution(_)), "{e}");
        assert_eq!(
            e.to_string(),
            "invalid destination label name in label_replace(): \u{fffd}"
        );
        for q in [
            r#"label_join(up, "a", ",", "b", '\377')"#,
            r#"label_join(up, "\xc3", ",", "b")"#,
        ] {
            assert!(matches!(check_query(q), Err(Error::Execution(_))), "{q}");
        }
        for q in [
            // Valid UTF-8 in Go: `\xc3\xbf` is ÿ, and so is `\u00ff`.
            r#"label_replace(up, "\xc3\xbf", "", "src", "(.*)")"#,
            r#"label_replace(up, "\u00ff", "", "src", "(.*)")"#,
            // Not a label name.
            r#"label_replace(up, "dst", "\xff", "src", "(.*)")"#,
            // The invalid regular expression is reported by the evaluator.
            r#"label_replace(up, "\xff", "", "src", "(")"#,
            // `ÿ` written as such elsewhere: the AST cannot tell the two apart.
            r#"label_replace(up, "\xff", "", "src", "(.*)") or up{a="ÿ"}"#,
        ] {
            check_query(q).expect(q);
        }
    }

    #[test]
    fn rejects_at_timestamps_beyond_int64_seconds() {
        for q in [
            "up @ 1e20",
            "up @ -1e20",
            "rate(up[5m] @ 1e19)",
            "up[5m:] @ +1e300",
        ] {
            let e = check_query(q).expect_err(q);
            assert!(
                e.to_string()
                    .starts_with("timestamp out of bounds for @ modifier"),
                "{q}: {e}"
            );
        }
        for q in [
            "up @ 1e15",
            "up @ -100",
            "up @ start()",
            "up @ 0x10",
            "up{a=\"@ 1e20\"}",
            "up @ 1.5e3",
        ] {
            check_query(q).expect(q);
        }
    }
}
