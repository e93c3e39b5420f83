//! `GET /api/v1/metadata` and `GET|POST /api/v1/query_exemplars`, backed by the head's
//! metadata (RW1 family metadata and RW2 per-series metadata) and its exemplar ring.
//! Response shapes and parameter handling follow Prometheus 3.5's `web/api/v1/api.go`.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use promql_parser::label::MatchOp;
use promql_parser::parser::Expr;
use tsdb::head::metadata::metric_type_name;
use tsdb::labels::{Labels, MatchType, Matcher};

use crate::state::AppState;

/// The metadata and exemplar routes.
pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v1/metadata", get(metadata))
        .route(
            "/api/v1/query_exemplars",
            get(exemplars_get).post(exemplars_post),
        )
}

type Params = HashMap<String, String>;

/// JSON string literal with Go's `encoding/json` HTML escaping.
fn json_str(s: &str) -> String {
    serde_json::to_string(s)
        .expect("strings serialize")
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

fn json_labels(out: &mut String, labels: &Labels) {
    out.push('{');
    for (i, l) in labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&json_str(&l.name));
        out.push(':');
        out.push_str(&json_str(&l.value));
    }
    out.push('}');
}

/// A float as Prometheus's API writes sample values (a JSON string).
pub fn format_value(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        // Go's 'e' format: at least two exponent digits with a sign.
        let s = format!("{f:e}");
        let (mant, exp) = s.split_once('e').expect("exponent form");
        let exp: i32 = exp.parse().expect("exponent");
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{mant}e{sign}{:02}", exp.abs());
    }
    format!("{f}")
}

/// A millisecond timestamp as Prometheus's API writes it (seconds, up to 3 decimals).
pub fn format_timestamp(out: &mut String, t: i64) {
    let (neg, t) = if t < 0 {
        ("-", t.unsigned_abs())
    } else {
        ("", t as u64)
    };
    let _ = write!(out, "{neg}{}", t / 1000);
    let frac = t % 1000;
    if frac != 0 {
        let _ = write!(out, ".{frac:03}");
    }
}

fn json_response(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn bad_data(msg: &str) -> Response {
    json_response(
        StatusCode::BAD_REQUEST,
        format!(
            r#"{{"status":"error","errorType":"bad_data","error":{}}}"#,
            json_str(msg)
        ),
    )
}

fn unavailable() -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable").into_response()
}

/// A limit parameter (absent = -1, no limit); the error is Prometheus's message.
fn parse_limit(p: &Params, name: &str) -> Result<i64, String> {
    match p.get(name) {
        None => Ok(-1),
        Some(s) if s.is_empty() => Ok(-1),
        Some(s) => s
            .parse::<i64>()
            .map_err(|_| format!("{name} must be a number")),
    }
}

async fn metadata(State(state): State<Arc<AppState>>, Query(p): Query<Params>) -> Response {
    let Some(db) = state.db() else {
        return unavailable();
    };
    let (limit, per_metric) = match (
        parse_limit(&p, "limit"),
        parse_limit(&p, "limit_per_metric"),
    ) {
        (Ok(l), Ok(pm)) => (l, pm),
        (Err(e), _) | (_, Err(e)) => return bad_data(&e),
    };
    let metric = p
        .get("metric")
        .filter(|m| !m.is_empty())
        .map(String::as_str);
    // Prometheus: a negative limit is no limit, 0 an empty answer; limit_per_metric
    // applies only when positive.
    let limit = usize::try_from(limit).ok();
    let per_metric = usize::try_from(per_metric).ok().filter(|&n| n > 0);
    let all = db.head().metadata_by_metric(metric, limit, per_metric);
    let mut out = String::from(r#"{"status":"success","data":{"#);
    for (i, (name, entries)) in all.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&json_str(name));
        out.push_str(":[");
        for (j, e) in entries.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            let _ = write!(
                out,
                r#"{{"type":{},"unit":{},"help":{}}}"#,
                json_str(metric_type_name(e.metric_type)),
                json_str(&e.unit),
                json_str(&e.help)
            );
        }
        out.push(']');
    }
    out.push_str("}}");
    json_response(StatusCode::OK, out)
}

async fn exemplars_get(State(state): State<Arc<AppState>>, Query(p): Query<Params>) -> Response {
    query_exemplars(&state, &p)
}

async fn exemplars_post(
    State(state): State<Arc<AppState>>,
    Query(mut p): Query<Params>,
    Form(form): Form<Params>,
) -> Response {
    // Form values win over URL values, as Go's `r.FormValue`.
    p.extend(form);
    query_exemplars(&state, &p)
}

/// Prometheus's `parseTime`: float seconds (rounded to ms) or RFC 3339.
pub fn parse_time(s: &str) -> Option<i64> {
    if let Ok(f) = s.parse::<f64>()
        && f.is_finite()
    {
        let secs = f.trunc();
        let ms = ((f - secs) * 1000.0).round();
        return Some((secs as i64).saturating_mul(1000).saturating_add(ms as i64));
    }
    parse_rfc3339(s)
}

fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if b[13] != b':' || b[16] != b':' || !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return None;
    }
    let mut rest = &s[19..];
    let mut ms = 0i64;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let f: String = frac[..digits]
            .chars()
            .chain("000".chars())
            .take(3)
            .collect();
        ms = f.parse().ok()?;
        rest = &frac[digits..];
    }
    let offset_min = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            if rest.len() != 6 || &rest[3..4] != ":" {
                return None;
            }
            sign * (rest[1..3].parse::<i64>().ok()? * 60 + rest[4..6].parse::<i64>().ok()?)
        }
    };
    // Days from civil (Howard Hinnant's algorithm).
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + mi * 60 + sec - offset_min * 60;
    Some(secs * 1000 + ms)
}

/// Vector selectors of `expr` as matcher sets (Prometheus's `parser.ExtractSelectors`).
fn selectors(expr: &Expr, out: &mut Vec<Vec<Matcher>>) -> Result<(), String> {
    match expr {
        Expr::Aggregate(a) => {
            selectors(&a.expr, out)?;
            if let Some(p) = &a.param {
                selectors(p, out)?;
            }
        }
        Expr::Unary(u) => selectors(&u.expr, out)?,
        Expr::Binary(b) => {
            selectors(&b.lhs, out)?;
            selectors(&b.rhs, out)?;
        }
        Expr::Paren(p) => selectors(&p.expr, out)?,
        Expr::Subquery(s) => selectors(&s.expr, out)?,
        Expr::Call(c) => {
            for a in &c.args.args {
                selectors(a, out)?;
            }
        }
        Expr::VectorSelector(vs) => out.push(vector_matchers(vs)?),
        Expr::MatrixSelector(ms) => out.push(vector_matchers(&ms.vs)?),
        _ => {}
    }
    Ok(())
}

fn vector_matchers(vs: &promql_parser::parser::VectorSelector) -> Result<Vec<Matcher>, String> {
    let mut ms = Vec::new();
    let mut has_name = false;
    for m in &vs.matchers.matchers {
        let kind = match m.op {
            MatchOp::Equal => MatchType::Equal,
            MatchOp::NotEqual => MatchType::NotEqual,
            MatchOp::Re(_) => MatchType::RegexMatch,
            MatchOp::NotRe(_) => MatchType::RegexNoMatch,
        };
        has_name |= m.name == "__name__";
        ms.push(Matcher::new(kind, &m.name, &m.value).map_err(|e| e.to_string())?);
    }
    if let Some(name) = &vs.name
        && !has_name
    {
        ms.push(Matcher::new(MatchType::Equal, "__name__", name).map_err(|e| e.to_string())?);
    }
    Ok(ms)
}

fn query_exemplars(state: &AppState, p: &Params) -> Response {
    let Some(db) = state.db() else {
        return unavailable();
    };
    let mut range = [i64::MIN, i64::MAX];
    for (i, name) in ["start", "end"].into_iter().enumerate() {
        if let Some(s) = p.get(name).filter(|s| !s.is_empty()) {
            match parse_time(s) {
                Some(t) => range[i] = t,
                None => {
                    return bad_data(&format!(
                        "invalid parameter \"{name}\": invalid time value for '{name}': cannot parse \"{s}\" to a valid timestamp"
                    ));
                }
            }
        }
    }
    let [start, end] = range;
    if end < start {
        return bad_data("end timestamp must not be before start timestamp");
    }
    let query = p.get("query").map(String::as_str).unwrap_or("");
    let expr = match promql_parser::parser::parse(query) {
        Ok(e) => e,
        Err(e) => return bad_data(&e),
    };
    let mut sets = Vec::new();
    if let Err(e) = selectors(&expr, &mut sets) {
        return bad_data(&e);
    }
    if sets.is_empty() {
        // Prometheus answers a query without selectors with an empty 204.
        return StatusCode::NO_CONTENT.into_response();
    }
    let found = match db.head().select_exemplars(start, end, &sets) {
        Ok(f) => f,
        Err(e) => {
            return json_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!(
                    r#"{{"status":"error","errorType":"internal","error":{}}}"#,
                    json_str(&e.to_string())
                ),
            );
        }
    };
    let mut out = String::from(r#"{"status":"success","data":["#);
    for (i, s) in found.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(r#"{"seriesLabels":"#);
        json_labels(&mut out, &s.series_labels);
        out.push_str(r#","exemplars":["#);
        for (j, e) in s.exemplars.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            out.push_str(r#"{"labels":"#);
            json_labels(&mut out, &e.labels);
            let _ = write!(out, r#","value":"{}","timestamp":"#, format_value(e.v));
            format_timestamp(&mut out, e.t);
            out.push('}');
        }
        out.push_str("]}");
    }
    out.push_str("]}");
    json_response(StatusCode::OK, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_prometheus() {
        assert_eq!(format_value(6.0), "6");
        assert_eq!(format_value(0.25), "0.25");
        assert_eq!(format_value(1e21), "1e+21");
        assert_eq!(format_value(1.5e-7), "1.5e-07");
        assert_eq!(format_value(f64::NEG_INFINITY), "-Inf");
        let mut s = String::new();
        format_timestamp(&mut s, 1_600_096_945_479);
        assert_eq!(s, "1600096945.479");
        s.clear();
        format_timestamp(&mut s, 1_600_096_945_070);
        assert_eq!(s, "1600096945.070");
        s.clear();
        format_timestamp(&mut s, 5000);
        assert_eq!(s, "5");
    }

    #[test]
    fn parses_times_like_prometheus() {
        assert_eq!(parse_time("1600096945.4791"), Some(1_600_096_945_479));
        assert_eq!(
            parse_time("2020-09-14T15:22:25.479Z"),
            Some(1_600_096_945_479)
        );
        assert_eq!(
            parse_time("2020-09-14T17:22:25+02:00"),
            Some(1_600_096_945_000)
        );
        assert_eq!(parse_time("abc"), None);
    }
}
