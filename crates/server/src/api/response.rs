//! The response envelope, errors and value formatting of Prometheus's API
//! (`web/api/v1/api.go`, `json_codec.go`, `util/jsonutil`).
//!
//! Success: `{"status":"success","data":...,"warnings":[...],"infos":[...]}`, the last two
//! only when non-empty. Errors: `{"status":"error","errorType":"...","error":"..."}` with
//! Prometheus 3.5's status codes. Values in vectors and matrices are strings formatted like
//! Go's `strconv.FormatFloat(v, 'f'|'e', -1, 64)`, timestamps seconds with millisecond
//! precision.

use std::fmt::Write as _;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tsdb::ErrorKind;
use tsdb::labels::Labels;

/// Prometheus keeps at most this many warnings and infos per response, then adds a line
/// saying how many were omitted.
const MAX_ANNOTATIONS: usize = 10;

/// Prometheus's `statusClientClosedConnection` (nginx's 499), used for `canceled`.
const CLIENT_CLOSED: u16 = 499;

/// An API error: its type, HTTP status and message.
#[derive(Debug)]
pub(crate) struct ApiError {
    kind: ErrorKind,
    status: StatusCode,
    message: String,
}

impl ApiError {
    /// An error of `kind` with the status Prometheus 3.5 gives that type.
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        let status = match kind {
            ErrorKind::BadData => StatusCode::BAD_REQUEST,
            ErrorKind::Execution => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorKind::Canceled => {
                StatusCode::from_u16(CLIENT_CLOSED).expect("499 is a valid status code")
            }
            ErrorKind::Timeout => StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            // Prometheus has no case for `unavailable` and falls to its default, 500.
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Self {
            kind,
            status,
            message: message.into(),
        }
    }

    /// `bad_data`.
    pub(crate) fn bad_data(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::BadData, message)
    }

    /// `bad_data` for a parameter: `invalid parameter "<name>": <cause>`.
    pub(crate) fn invalid_param(name: &str, cause: impl std::fmt::Display) -> Self {
        Self::bad_data(format!("invalid parameter {name:?}: {cause}"))
    }

    /// The storage is not open yet: 503 (what Prometheus answers before it is ready,
    /// there as plain text), with the `unavailable` envelope.
    pub(crate) fn not_ready() -> Self {
        Self {
            kind: ErrorKind::Unavailable,
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: "Service Unavailable: the TSDB is not ready (WAL replay in progress)".into(),
        }
    }

    /// A storage error, classified by its kind.
    pub(crate) fn storage(e: &tsdb::Error) -> Self {
        Self::new(e.kind(), e.to_string())
    }

    /// The error's status code.
    #[cfg(test)]
    pub(crate) fn status(&self) -> StatusCode {
        self.status
    }
}

/// Prometheus's `errorType` string of a kind.
pub(crate) fn error_type(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::BadData => "bad_data",
        ErrorKind::Execution => "execution",
        ErrorKind::Timeout => "timeout",
        ErrorKind::Canceled => "canceled",
        ErrorKind::Unavailable => "unavailable",
        ErrorKind::NotFound => "not_found",
        _ => "internal",
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // Prometheus's member order: status, errorType, error.
        let mut body = String::from(r#"{"status":"error","errorType":""#);
        body.push_str(error_type(self.kind));
        body.push_str(r#"","error":"#);
        write_str(&mut body, &self.message);
        body.push('}');
        json_response(self.status, body)
    }
}

/// A successful answer: the `data` member, already encoded, plus annotations.
#[derive(Debug, Default)]
pub(crate) struct Success {
    /// The encoded `data` value.
    pub(crate) data: String,
    /// Warning annotations.
    pub(crate) warnings: Vec<String>,
    /// Info annotations.
    pub(crate) infos: Vec<String>,
}

impl Success {
    /// A success whose data is any serialisable value.
    pub(crate) fn json(data: &impl serde::Serialize) -> Self {
        Self::raw(serde_json::to_string(data).expect("API values serialise"))
    }

    /// A success whose data is already encoded.
    pub(crate) fn raw(data: String) -> Self {
        Self {
            data,
            ..Default::default()
        }
    }
}

/// Deduplicates annotations (Prometheus keeps them in a map) and caps them at
/// [`MAX_ANNOTATIONS`] with a trailing count of the omitted ones.
fn cap_annotations(list: Vec<String>, what: &str) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    let mut out: Vec<String> = list
        .into_iter()
        .filter(|a| seen.insert(a.clone()))
        .collect();
    if out.len() > MAX_ANNOTATIONS {
        let omitted = out.len() - MAX_ANNOTATIONS;
        out.truncate(MAX_ANNOTATIONS);
        out.push(format!("{omitted} more {what} annotations omitted"));
    }
    out
}

impl IntoResponse for Success {
    fn into_response(self) -> Response {
        let mut body = String::with_capacity(self.data.len() + 64);
        body.push_str(r#"{"status":"success","data":"#);
        body.push_str(&self.data);
        for (key, list, what) in [
            ("warnings", self.warnings, "warning"),
            ("infos", self.infos, "info"),
        ] {
            if !list.is_empty() {
                let list = cap_annotations(list, what);
                let _ = write!(body, ",\"{key}\":{}", serde_json::Value::from(list));
            }
        }
        body.push('}');
        json_response(StatusCode::OK, body)
    }
}

/// Escapes `<`, `>`, `&`, U+2028 and U+2029 as Go's JSON encoder does (`\u003c`, ...).
/// They can only occur inside JSON strings, so the whole body can be rewritten.
fn go_escape(body: String) -> String {
    if !body.contains(['<', '>', '&', '\u{2028}', '\u{2029}']) {
        return body;
    }
    let mut out = String::with_capacity(body.len() + 16);
    for c in body.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

fn json_response(status: StatusCode, body: String) -> Response {
    let mut r = (status, go_escape(body)).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// Appends `v` like Go's `strconv.FormatFloat(v, 'f', -1, 64)`: the shortest decimal that
/// round-trips, never with an exponent; `NaN`, `+Inf`, `-Inf` for the special values.
pub(crate) fn write_float_f(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else {
        // Rust's Display prints the shortest round-trip digits without an exponent, as 'f'.
        let _ = write!(out, "{v}");
    }
}

/// Appends `v` as Prometheus's API writes sample values (`jsonutil.MarshalFloat`): 'f'
/// format, switching to Go's 'e' format (`1e-07`, `1.5e+22`) when `|v| < 1e-6` or
/// `|v| >= 1e21`.
pub(crate) fn write_sample_value(out: &mut String, v: f64) {
    let abs = v.abs();
    if abs == 0.0 || !abs.is_finite() || (1e-6..1e21).contains(&abs) {
        return write_float_f(out, v);
    }
    let e = format!("{v:e}");
    let (mantissa, exp) = e.split_once('e').expect("{:e} writes an exponent");
    let exp: i32 = exp.parse().expect("{:e} writes an integer exponent");
    let sign = if exp < 0 { '-' } else { '+' };
    let _ = write!(out, "{mantissa}e{sign}{:02}", exp.unsigned_abs());
}

/// Appends a millisecond timestamp as seconds: `<int>[.<3 digits>]`, the fraction only
/// when non-zero (`jsonutil.MarshalTimestamp`).
pub(crate) fn write_timestamp(out: &mut String, t: i64) {
    if t < 0 {
        out.push('-');
    }
    let abs = t.unsigned_abs();
    let _ = write!(out, "{}", abs / 1000);
    let frac = abs % 1000;
    if frac != 0 {
        let _ = write!(out, ".{frac:03}");
    }
}

/// Appends `s` as a JSON string.
pub(crate) fn write_str(out: &mut String, s: &str) {
    out.push_str(&serde_json::Value::from(s).to_string());
}

/// Appends a label set as a JSON object.
pub(crate) fn write_labels(out: &mut String, labels: &Labels) {
    out.push('{');
    for (i, l) in labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_str(out, &l.name);
        out.push(':');
        write_str(out, &l.value);
    }
    out.push('}');
}

/// Appends a `[<t>, "<v>"]` pair of a vector or matrix.
fn write_point(out: &mut String, t: i64, v: f64) {
    out.push('[');
    write_timestamp(out, t);
    out.push_str(",\"");
    write_sample_value(out, v);
    out.push_str("\"]");
}

/// Encodes a query result as Prometheus's `QueryData` (`{"resultType":..,"result":..}`).
pub(crate) fn query_data(value: &promql::value::Value) -> String {
    use promql::value::Value;
    let mut out = String::with_capacity(256);
    match value {
        Value::Scalar { t, v } => {
            // `Scalar.MarshalJSON`: a JSON number for the time, 'f' for the value.
            let _ = write!(
                out,
                r#"{{"resultType":"scalar","result":[{}"#,
                *t as f64 / 1000.0
            );
            out.push_str(",\"");
            write_float_f(&mut out, *v);
            out.push_str("\"]}");
        }
        Value::String { t, s } => {
            let _ = write!(
                out,
                r#"{{"resultType":"string","result":[{},"#,
                *t as f64 / 1000.0
            );
            write_str(&mut out, s);
            out.push_str("]}");
        }
        Value::Vector(samples) => {
            out.push_str(r#"{"resultType":"vector","result":["#);
            for (i, s) in samples.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(r#"{"metric":"#);
                write_labels(&mut out, &s.labels);
                out.push_str(r#","value":"#);
                write_point(&mut out, s.t, s.v);
                out.push('}');
            }
            out.push_str("]}");
        }
        Value::Matrix(series) => {
            out.push_str(r#"{"resultType":"matrix","result":["#);
            for (i, s) in series.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(r#"{"metric":"#);
                write_labels(&mut out, &s.labels);
                if !s.points.is_empty() {
                    out.push_str(r#","values":["#);
                    for (j, &(t, v)) in s.points.iter().enumerate() {
                        if j > 0 {
                            out.push(',');
                        }
                        write_point(&mut out, t, v);
                    }
                    out.push(']');
                }
                out.push('}');
            }
            out.push_str("]}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(v: f64) -> String {
        let mut s = String::new();
        write_sample_value(&mut s, v);
        s
    }

    fn scalar(v: f64) -> String {
        let mut s = String::new();
        write_float_f(&mut s, v);
        s
    }

    fn ts(t: i64) -> String {
        let mut s = String::new();
        write_timestamp(&mut s, t);
        s
    }

    #[test]
    fn sample_values_format_like_go() {
        assert_eq!(sample(1.5), "1.5");
        assert_eq!(sample(1.0), "1");
        assert_eq!(sample(0.0), "0");
        assert_eq!(sample(-0.0), "-0");
        assert_eq!(sample(f64::NAN), "NaN");
        assert_eq!(sample(f64::INFINITY), "+Inf");
        assert_eq!(sample(f64::NEG_INFINITY), "-Inf");
        assert_eq!(sample(1e-7), "1e-07");
        assert_eq!(sample(-2.5e-10), "-2.5e-10");
        assert_eq!(sample(1.5e22), "1.5e+22");
        assert_eq!(sample(1e21), "1e+21");
        assert_eq!(sample(1e-6), "0.000001");
        assert_eq!(sample(123456789012345680000.0), "123456789012345680000");
        assert_eq!(sample(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(sample(5e-324), "5e-324");
        assert_eq!(sample(1.7976931348623157e308), "1.7976931348623157e+308");
    }

    #[test]
    fn scalar_values_never_use_exponents() {
        assert_eq!(scalar(1e-7), "0.0000001");
        assert_eq!(scalar(1.2345678901234569e23), "123456789012345690000000");
        assert_eq!(scalar(f64::NAN), "NaN");
        assert_eq!(scalar(f64::NEG_INFINITY), "-Inf");
    }

    #[test]
    fn timestamps_are_seconds_with_milliseconds() {
        assert_eq!(ts(1_435_781_451_781), "1435781451.781");
        assert_eq!(ts(1200), "1.200");
        assert_eq!(ts(1005), "1.005");
        assert_eq!(ts(4000), "4");
        assert_eq!(ts(0), "0");
        assert_eq!(ts(-1500), "-1.500");
        assert_eq!(ts(-1), "-0.001");
    }

    #[test]
    fn annotations_are_deduplicated_and_capped() {
        let list: Vec<String> = (0..13)
            .map(|i| format!("w{i}"))
            .chain(["w0".into()])
            .collect();
        let capped = cap_annotations(list, "warning");
        assert_eq!(capped.len(), 11);
        assert_eq!(capped[10], "3 more warning annotations omitted");
    }

    #[test]
    fn html_characters_are_escaped_like_go() {
        assert_eq!(
            go_escape(r#"{"a":"x>1 && y<2"}"#.into()),
            r#"{"a":"x\u003e1 \u0026\u0026 y\u003c2"}"#
        );
        assert_eq!(go_escape("\u{2028}".into()), "\\u2028");
        assert_eq!(go_escape("plain".into()), "plain");
    }

    #[test]
    fn error_statuses_follow_prometheus() {
        let cases = [
            (ErrorKind::BadData, 400),
            (ErrorKind::Execution, 422),
            (ErrorKind::Canceled, 499),
            (ErrorKind::Timeout, 503),
            (ErrorKind::Internal, 500),
            (ErrorKind::Unavailable, 500),
            (ErrorKind::NotFound, 404),
        ];
        for (kind, code) in cases {
            assert_eq!(ApiError::new(kind, "x").status().as_u16(), code, "{kind:?}");
        }
        assert_eq!(ApiError::not_ready().status().as_u16(), 503);
    }

    #[test]
    fn query_data_shapes() {
        use promql::value::{Sample, Series, Value};
        let l = Labels::from_pairs(&[("__name__", "up"), ("job", "a\"b")]);
        assert_eq!(
            query_data(&Value::Scalar { t: 4000, v: 2.0 }),
            r#"{"resultType":"scalar","result":[4,"2"]}"#
        );
        assert_eq!(
            query_data(&Value::String {
                t: 1500,
                s: "x".into()
            }),
            r#"{"resultType":"string","result":[1.5,"x"]}"#
        );
        assert_eq!(
            query_data(&Value::Vector(vec![Sample {
                labels: l.clone(),
                t: 1001,
                v: 1.0
            }])),
            r#"{"resultType":"vector","result":[{"metric":{"__name__":"up","job":"a\"b"},"value":[1.001,"1"]}]}"#
        );
        assert_eq!(
            query_data(&Value::Matrix(vec![Series {
                labels: l,
                points: vec![(0, 1.0), (15_000, f64::NAN)]
            }])),
            r#"{"resultType":"matrix","result":[{"metric":{"__name__":"up","job":"a\"b"},"values":[[0,"1"],[15,"NaN"]]}]}"#
        );
        assert_eq!(
            query_data(&Value::Vector(vec![])),
            r#"{"resultType":"vector","result":[]}"#
        );
    }
}
