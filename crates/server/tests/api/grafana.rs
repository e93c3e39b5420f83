//! The Grafana differential test: the requests Grafana's Prometheus data source sends
//! (`../shared/docs/reference/protocols.md` §2) go to tsdbd and to Prometheus 3.5.3 over the
//! same data, and the answers must agree: same status code, same JSON structure (keys and
//! shapes), same values (floats to 1e-9 relative), except for the fields listed in
//! [`differs_legitimately`].
//!
//! The data set goes into our head directly and, as OpenMetrics text, through
//! `promtool tsdb create-blocks-from openmetrics` into blocks Prometheus serves.

use std::time::{Duration, Instant};

use serde_json::Value;
use tsdb::testutil::{Prometheus, create_blocks_from_openmetrics, reference_bin_dir};

use crate::harness::{
    Answer, T0, data, get, openmetrics, post_form, query_string, secs, serve_data,
};

/// One request, sent the same way to both servers.
struct Request {
    /// What it stands for in Grafana.
    what: &'static str,
    /// `GET` or `POST` (form).
    method: &'static str,
    /// The path under the server's URL.
    path: &'static str,
    /// Parameters (query string for GET, form body for POST).
    params: Vec<(&'static str, String)>,
}

fn req(
    what: &'static str,
    method: &'static str,
    path: &'static str,
    params: &[(&'static str, String)],
) -> Request {
    Request {
        what,
        method,
        path,
        params: params.to_vec(),
    }
}

fn send(base: &str, r: &Request) -> Answer {
    let pairs: Vec<(&str, &str)> = r.params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    match r.method {
        "POST" => post_form(base, r.path, &pairs),
        _ if pairs.is_empty() => get(base, r.path),
        _ => get(base, &format!("{}?{}", r.path, query_string(&pairs))),
    }
}

/// Grafana's requests over the data set.
fn requests() -> Vec<Request> {
    let s = |t: i64| secs(t);
    // Grafana aligns range start/end down to a multiple of the step.
    let (start, end) = (s(T0 + 600_000), s(T0 + 3_600_000));
    let t = s(T0 + 1_800_000 + 123);
    let mut v = vec![
        req("health check", "GET", "/api/v1/query", &[("query", "1+1".into()), ("time", "4".into())]),
        req("buildinfo", "GET", "/api/v1/status/buildinfo", &[]),
        req("runtimeinfo", "GET", "/api/v1/status/runtimeinfo", &[]),
        req("config", "GET", "/api/v1/status/config", &[]),
        req("tsdb status", "GET", "/api/v1/status/tsdb", &[("limit", "3".into())]),
        req("walreplay", "GET", "/api/v1/status/walreplay", &[]),
        req("tsdb status, bad limit", "GET", "/api/v1/status/tsdb", &[("limit", "0".into())]),
        req("rules on datasource init", "GET", "/api/v1/rules", &[]),
        req("alerts", "GET", "/api/v1/alerts", &[]),
        req("metric names (code editor)", "GET", "/api/v1/label/__name__/values", &[("start", s(T0)), ("end", s(T0 + 3_600_000))]),
        req("metric names, no range", "GET", "/api/v1/label/__name__/values", &[]),
        req("metric names before the data", "GET", "/api/v1/label/__name__/values", &[("start", s(T0 - 7_200_000)), ("end", s(T0 - 3_600_000))]),
        req("label values with match[]", "GET", "/api/v1/label/instance/values", &[("match[]", "up{job=\"api\"}".into()), ("start", start.clone()), ("end", end.clone())]),
        req("label values, {__name__=...} form", "GET", "/api/v1/label/job/values", &[("match[]", "{__name__=\"http_requests_total\",code=\"500\"}".into()), ("start", start.clone()), ("end", end.clone())]),
        req("label values, two match[]", "GET", "/api/v1/label/job/values", &[("match[]", "up".into()), ("match[]", "node_temperature_celsius".into())]),
        req("label values with limit", "GET", "/api/v1/label/__name__/values", &[("limit", "2".into())]),
        req("label values of a UTF-8 value", "GET", "/api/v1/label/pod/values", &[]),
        req("labels with match[]", "POST", "/api/v1/labels", &[("match[]", "http_requests_total".into()), ("start", start.clone()), ("end", end.clone())]),
        req("labels, all", "GET", "/api/v1/labels", &[]),
        req("labels with limit", "GET", "/api/v1/labels", &[("limit", "3".into())]),
        req("series (bare selector)", "POST", "/api/v1/series", &[("match[]", "up".into()), ("start", start.clone()), ("end", end.clone()), ("limit", "40000".into())]),
        req("series, two match[]", "POST", "/api/v1/series", &[("match[]", "up".into()), ("match[]", "http_requests_total{code=\"500\",method=\"GET\"}".into())]),
        req("series with limit", "GET", "/api/v1/series", &[("match[]", "http_requests_total".into()), ("limit", "3".into())]),
        req("instant query (POST)", "POST", "/api/v1/query", &[("query", "sum by (job, code) (rate(http_requests_total[5m]))".into()), ("time", t.clone())]),
        req("instant query, vector", "POST", "/api/v1/query", &[("query", "up".into()), ("time", t.clone()), ("timeout", "30s".into())]),
        req("instant query, NaN and negatives", "POST", "/api/v1/query", &[("query", "node_temperature_celsius".into()), ("time", s(T0 + 77 * 15_000))]),
        req("instant query, tiny values", "POST", "/api/v1/query", &[("query", "kube_pod_info".into()), ("time", s(T0 + 15_000))]),
        req("instant query, RFC 3339 time", "POST", "/api/v1/query", &[("query", "up{job=\"db\"}".into()), ("time", "2025-01-01T00:45:00.5Z".into())]),
        req("instant query with limit", "POST", "/api/v1/query", &[("query", "up".into()), ("time", t.clone()), ("limit", "1".into())]),
        req("instant query, info annotation", "POST", "/api/v1/query", &[("query", "rate(node_temperature_celsius[5m])".into()), ("time", t.clone())]),
        req("instant query, matrix (query_result)", "POST", "/api/v1/query", &[("query", "up{job=\"db\"}[1m]".into()), ("time", t.clone())]),
        req("range query (panel)", "POST", "/api/v1/query_range", &[("query", "rate(http_requests_total{job=\"api\"}[5m])".into()), ("start", start.clone()), ("end", end.clone()), ("step", "60".into()), ("timeout", "30s".into())]),
        req("range query, $__rate_interval shape", "POST", "/api/v1/query_range", &[("query", "sum(increase(http_requests_total[1m0s])) by (code)".into()), ("start", start.clone()), ("end", end.clone()), ("step", "15".into())]),
        req("range query, stopping series", "POST", "/api/v1/query_range", &[("query", "batch_last_success_seconds".into()), ("start", s(T0)), ("end", s(T0 + 3_600_000)), ("step", "300".into())]),
        req("range query, scalar", "POST", "/api/v1/query_range", &[("query", "scalar(sum(up))".into()), ("start", start.clone()), ("end", end.clone()), ("step", "600".into())]),
        req("range query, GET", "GET", "/api/v1/query_range", &[("query", "up == 0".into()), ("start", start.clone()), ("end", end.clone()), ("step", "5m".into())]),
        req("annotations query (60s step)", "POST", "/api/v1/query_range", &[("query", "changes(up[5m]) > 0".into()), ("start", start.clone()), ("end", end.clone()), ("step", "60".into())]),
        req("range query with limit", "POST", "/api/v1/query_range", &[("query", "up".into()), ("start", start.clone()), ("end", end.clone()), ("step", "600".into()), ("limit", "2".into())]),
        req("format_query", "POST", "/api/v1/format_query", &[("query", "sum(rate(http_requests_total{job=\"api\"}[5m]))by(code)".into())]),
        req("format_query, long", "POST", "/api/v1/format_query", &[("query", "histogram_quantile(0.99, sum by (le, job, instance) (rate(http_request_duration_seconds_bucket{job=\"api\",code=~\"5..\"}[5m]))) > on(job) group_left() max by (job) (up{job=\"api\"}) * 100".into())]),
        req("parse_query", "POST", "/api/v1/parse_query", &[("query", "sum by (code) (rate(http_requests_total{job=\"api\"}[5m] offset 1m)) / on(code) group_left() up > bool 0".into())]),
        req("parse_query, unary operators", "GET", "/api/v1/parse_query", &[("query", "-1 + -foo".into())]),
        req("parse_query, subquery and @", "GET", "/api/v1/parse_query", &[("query", "max_over_time(deriv(x[5m])[1h:1m] @ 1700000000) and -y".into())]),
    ];
    // Errors.
    v.extend([
        req(
            "bad query",
            "POST",
            "/api/v1/query",
            &[("query", "sum(rate(up[5m])".into()), ("time", t.clone())],
        ),
        req(
            "bad time",
            "POST",
            "/api/v1/query",
            &[("query", "up".into()), ("time", "yesterday".into())],
        ),
        req(
            "bad timeout",
            "POST",
            "/api/v1/query",
            &[("query", "up".into()), ("timeout", "soon".into())],
        ),
        req(
            "execution error",
            "POST",
            "/api/v1/query",
            &[
                (
                    "query",
                    "http_requests_total + on() http_requests_total".into(),
                ),
                ("time", t.clone()),
            ],
        ),
        req(
            "range without step",
            "POST",
            "/api/v1/query_range",
            &[
                ("query", "up".into()),
                ("start", start.clone()),
                ("end", end.clone()),
            ],
        ),
        req(
            "range end before start",
            "POST",
            "/api/v1/query_range",
            &[
                ("query", "up".into()),
                ("start", end.clone()),
                ("end", start.clone()),
                ("step", "15".into()),
            ],
        ),
        req(
            "range too many points",
            "POST",
            "/api/v1/query_range",
            &[
                ("query", "up".into()),
                ("start", "0".into()),
                ("end", end.clone()),
                ("step", "15".into()),
            ],
        ),
        req(
            "range of a range vector",
            "POST",
            "/api/v1/query_range",
            &[
                ("query", "up[5m]".into()),
                ("start", start.clone()),
                ("end", end.clone()),
                ("step", "15".into()),
            ],
        ),
        req("series without match[]", "POST", "/api/v1/series", &[]),
        req(
            "series with an empty matcher",
            "POST",
            "/api/v1/series",
            &[("match[]", "{job=~\".*\"}".into())],
        ),
        req(
            "series with a bad selector",
            "POST",
            "/api/v1/series",
            &[("match[]", "up{".into())],
        ),
        req(
            "labels with a bad limit",
            "GET",
            "/api/v1/labels",
            &[("limit", "-1".into())],
        ),
        req("unknown endpoint", "GET", "/api/v1/nope", &[]),
        req(
            "label values by POST",
            "POST",
            "/api/v1/label/job/values",
            &[],
        ),
    ]);
    v
}

/// Requests whose bodies must be byte-for-byte Prometheus's (the others differ in the
/// order of vector elements, in wording of parser errors, or in values that legitimately
/// differ).
const BYTE_IDENTICAL: &[&str] = &[
    "health check",
    "rules on datasource init",
    "alerts",
    "walreplay",
    "metric names (code editor)",
    "metric names, no range",
    "metric names before the data",
    "label values with match[]",
    "label values, {__name__=...} form",
    "label values, two match[]",
    "label values with limit",
    "label values of a UTF-8 value",
    "labels with match[]",
    "labels, all",
    "labels with limit",
    "series (bare selector)",
    "series, two match[]",
    "series with limit",
    "instant query, matrix (query_result)",
    "range query (panel)",
    "range query, $__rate_interval shape",
    "range query, stopping series",
    "range query, scalar",
    "range query, GET",
    "annotations query (60s step)",
    "range query with limit",
    "format_query",
    "format_query, long",
    "parse_query",
    "parse_query, unary operators",
    "parse_query, subquery and @",
    "bad time",
    "bad timeout",
    "range without step",
    "range end before start",
    "range too many points",
    "series without match[]",
    "series with an empty matcher",
    "labels with a bad limit",
    "unknown endpoint",
    "label values by POST",
    "tsdb status, bad limit",
];

/// Requests where we knowingly differ from Prometheus 3.5.3, with the reason. Each must
/// still differ (so a fix shows up and the entry moves to [`requests`]).
fn known_differences() -> Vec<(Request, &'static str)> {
    vec![(
        req(
            "parse_query, unary plus",
            "GET",
            "/api/v1/parse_query",
            &[("query", "+bar".into())],
        ),
        "promql-parser drops a unary `+` from the AST; Prometheus keeps a `unaryExpr` with op `+`",
    )]
}

/// Requests whose values legitimately differ, so only the keys of `data` (and of its
/// objects) are compared: version strings, runtime facts, our own configuration, and
/// cardinality (Prometheus serves the data from blocks, so its head is empty).
const SHAPE_ONLY: &[&str] = &["buildinfo", "runtimeinfo", "config", "tsdb status"];

/// Whether the value at `path` is outside what is compared for request `what`.
fn differs_legitimately(what: &str, path: &[String], ours: &Value, theirs: &Value) -> bool {
    let objects = ours.is_object() && theirs.is_object();
    SHAPE_ONLY.contains(&what) && path.len() >= 2 && !objects
}

/// Floats as the API writes them, compared to 1e-9 relative.
fn close(a: &str, b: &str) -> bool {
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => {
            (x.is_nan() && y.is_nan()) || x == y || (x - y).abs() <= 1e-9 * x.abs().max(y.abs())
        }
        _ => false,
    }
}

/// Instant vectors have no defined order: sort them by their labels.
fn canonical(mut v: Value) -> Value {
    if v["data"]["resultType"] == "vector"
        && let Some(list) = v["data"]["result"].as_array_mut()
    {
        list.sort_by_key(|s| s["metric"].to_string());
    }
    for key in ["warnings", "infos"] {
        if let Some(list) = v.get_mut(key).and_then(Value::as_array_mut) {
            // Prometheus appends the position of the expression (` (1:6)`); ours has none.
            for s in list.iter_mut() {
                if let Some(text) = s.as_str()
                    && let Some(i) = text.rfind(" (")
                    && text.ends_with(')')
                {
                    *s = Value::from(&text[..i]);
                }
            }
            list.sort_by_key(Value::to_string);
        }
    }
    v
}

/// Structural differences between `ours` and `theirs`, with their JSON paths.
fn diff(what: &str, path: &mut Vec<String>, ours: &Value, theirs: &Value, out: &mut Vec<String>) {
    if differs_legitimately(what, path, ours, theirs) {
        return;
    }
    let here = format!("/{}", path.join("/"));
    match (ours, theirs) {
        (Value::Object(a), Value::Object(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                match (a.get(k), b.get(k)) {
                    (Some(x), Some(y)) => {
                        path.push(k.clone());
                        diff(what, path, x, y, out);
                        path.pop();
                    }
                    (x, y) => out.push(format!("{}/{k}: ours {x:?}, theirs {y:?}", here)),
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            if a.len() != b.len() {
                out.push(format!(
                    "{}: ours {} items, theirs {}",
                    here,
                    a.len(),
                    b.len()
                ));
                return;
            }
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                path.push(i.to_string());
                diff(what, path, x, y, out);
                path.pop();
            }
        }
        (Value::String(a), Value::String(b)) if a == b || close(a, b) => {}
        (Value::Number(a), Value::Number(b)) if close(&a.to_string(), &b.to_string()) => {}
        (a, b) if a == b => {}
        (a, b) => out.push(format!("{}: ours {a}, theirs {b}", here)),
    }
}

/// Compares one request's answers; error messages are compared only up to the parameter
/// they name (`invalid parameter "query"`), since parser messages are worded differently.
fn compare(r: &Request, ours: &Answer, theirs: &Answer) -> Vec<String> {
    let mut out = Vec::new();
    if ours.status != theirs.status {
        out.push(format!(
            "status: ours {}, theirs {}",
            ours.status, theirs.status
        ));
    }
    let (o, t) = match (
        serde_json::from_str::<Value>(&ours.body),
        serde_json::from_str::<Value>(&theirs.body),
    ) {
        (Ok(o), Ok(t)) => (canonical(o), canonical(t)),
        (Err(_), Err(_)) => {
            if ours.body != theirs.body {
                out.push(format!(
                    "body: ours {:?}, theirs {:?}",
                    ours.body, theirs.body
                ));
            }
            return out;
        }
        _ => {
            out.push(format!(
                "body: ours {:?}, theirs {:?}",
                ours.body, theirs.body
            ));
            return out;
        }
    };
    if ours.content_type != theirs.content_type {
        out.push(format!(
            "content type: ours {:?}, theirs {:?}",
            ours.content_type, theirs.content_type
        ));
    }
    if t["status"] == "error" {
        let prefix = |v: &Value| {
            let e = v["error"].as_str().unwrap_or("").to_string();
            match e.strip_prefix("invalid parameter ") {
                Some(rest) => rest.split(':').next().unwrap_or("").to_string(),
                None if theirs_is_parser_error(&e) => String::new(),
                None => e,
            }
        };
        if o["status"] != t["status"]
            || o["errorType"] != t["errorType"]
            || prefix(&o) != prefix(&t)
        {
            out.push(format!("error: ours {o}, theirs {t}"));
        }
        return out;
    }
    diff(r.what, &mut Vec::new(), &o, &t, &mut out);
    out
}

/// Selector parse errors are reported without a parameter name by some endpoints.
fn theirs_is_parser_error(e: &str) -> bool {
    e.contains("parse error")
}

/// Whether a successful answer carries a non-empty result.
fn has_data(a: &Answer) -> bool {
    let Ok(v) = serde_json::from_str::<Value>(&a.body) else {
        return false;
    };
    let d = &v["data"];
    match d.get("result") {
        Some(Value::Array(r)) => !r.is_empty(),
        Some(r) => !r.is_null(),
        None => match d {
            Value::Array(r) => !r.is_empty(),
            Value::Object(o) => !o.is_empty(),
            Value::String(s) => !s.is_empty(),
            _ => false,
        },
    }
}

/// Waits until Prometheus has loaded the blocks.
fn wait_for_blocks(prom: &Prometheus) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let a = get(&prom.url, "/api/v1/label/__name__/values");
        if a.status == 200 && a.json()["data"].as_array().is_some_and(|v| v.len() == 5) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus did not load the blocks: {}",
            a.body
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn grafana_requests_agree_with_prometheus() {
    let Some(bin) = reference_bin_dir() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let om = dir.path().join("data.om");
    std::fs::write(&om, openmetrics(&data())).expect("write OpenMetrics");
    let prom_dir = dir.path().join("prom");
    create_blocks_from_openmetrics(&bin, &om, &prom_dir);
    let prom = Prometheus::start(
        &bin,
        &prom_dir,
        "global:\n  scrape_interval: 15s\n",
        &["--storage.tsdb.retention.time=100y"],
    );
    wait_for_blocks(&prom);
    let ours = serve_data(server::Config::default(), &dir.path().join("ours"));

    let mut failures = Vec::new();
    let reqs = requests();
    let mut with_data = 0;
    for r in &reqs {
        let a = send(&ours.url, r);
        let b = send(&prom.url, r);
        if has_data(&a) && has_data(&b) {
            with_data += 1;
        }
        for d in compare(r, &a, &b) {
            failures.push(format!("{} ({} {}): {d}", r.what, r.method, r.path));
        }
        if BYTE_IDENTICAL.contains(&r.what) && a.body != b.body {
            failures.push(format!(
                "{} ({} {}): bytes differ:\n    ours   {}\n    theirs {}",
                r.what, r.method, r.path, a.body, b.body
            ));
        }
    }
    for (r, why) in known_differences() {
        let (a, b) = (send(&ours.url, &r), send(&prom.url, &r));
        if compare(&r, &a, &b).is_empty() {
            failures.push(format!(
                "{} ({} {}): listed as a known difference ({why}) but now agrees: move it to requests()",
                r.what, r.method, r.path
            ));
        }
    }
    eprintln!(
        "grafana differential: {} requests ({with_data} with data on both sides), {} differences",
        reqs.len(),
        failures.len()
    );
    // Guards against a vacuous comparison (both sides answering empty results).
    assert!(with_data >= 25, "only {with_data} requests returned data");
    assert!(
        failures.is_empty(),
        "answers differ:\n{}",
        failures.join("\n")
    );
}

#[test]
fn the_comparison_notices_differences() {
    let r = req("x", "GET", "/", &[]);
    let ok = |body: &str| Answer {
        status: 200,
        content_type: "application/json".into(),
        body: body.into(),
    };
    let a = ok(
        r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":"1"},"value":[1,"1.0000000001"]}]}}"#,
    );
    let b = ok(
        r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":"1"},"value":[1,"1"]}]}}"#,
    );
    assert!(compare(&r, &a, &b).is_empty(), "within 1e-9");
    let c = ok(
        r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":"1"},"value":[1,"1.01"]}]}}"#,
    );
    assert_eq!(compare(&r, &a, &c).len(), 1);
    let d =
        ok(r#"{"status":"success","data":{"resultType":"vector","result":[]},"warnings":["w"]}"#);
    assert!(!compare(&r, &a, &d).is_empty());
    let e = Answer {
        status: 400,
        ..ok(
            r#"{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": x"}"#,
        )
    };
    let f = Answer {
        status: 400,
        ..ok(r#"{"status":"error","errorType":"bad_data","error":"invalid parameter \"time\": x"}"#)
    };
    assert_eq!(compare(&r, &e, &f).len(), 1);
}
