//! Checks Prometheus's parser makes that `promql-parser` leaves out, run on every parsed
//! query so that such queries fail as `bad_data` before evaluation, as in Prometheus.
//!
//! * Function arguments must have the declared types: `promql-parser` lets a number
//!   literal such as `NaN` or `-Inf` through as the argument of `exp`, `ln`, `log2` and
//!   `log10`; Prometheus rejects it (`checkAST` in `promql/parser/parse.go`).
//! * An `@` timestamp must lie within int64 seconds (`setTimestamp`); `promql-parser`
//!   saturates it to a time instead, so the bound is checked on the query text.

use promql_parser::parser::Expr;
use promql_parser::parser::value::ValueType;
use promql_parser::util::{ExprVisitor, walk_expr};

use crate::error::{Error, Result};

/// Runs the checks on a query that parsed into `expr`.
pub(crate) fn check(query: &str, expr: &Expr) -> Result<()> {
    let mut calls = CallTypes;
    walk_expr(&mut calls, expr).map_err(|message| Error::Parse { message })?;
    at_timestamps(query)
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
        check(q, &expr)
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
