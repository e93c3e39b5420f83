//! Each endpoint over loopback: shapes, parameters, errors and status codes (expected
//! values taken from Prometheus 3.5.3's answers where they are fixed strings).

use std::sync::Arc;

use serde_json::json;
use server::state::AppState;

use crate::harness::{T0, call, get, open_db, post_form, query_string, secs, serve, serve_data};

fn server() -> (crate::harness::TestServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    (serve_data(server::Config::default(), dir.path()), dir)
}

fn error_of(a: &crate::harness::Answer) -> (u16, String, String) {
    let j = a.json();
    assert_eq!(j["status"], "error", "{}", a.body);
    assert_eq!(a.content_type, "application/json");
    (
        a.status,
        j["errorType"].as_str().expect("errorType").to_string(),
        j["error"].as_str().expect("error").to_string(),
    )
}

#[test]
fn grafana_health_check_is_byte_identical_to_prometheus() {
    let (s, _d) = server();
    let a = get(&s.url, "/api/v1/query?query=1%2B1&time=4");
    assert_eq!(a.status, 200);
    assert_eq!(a.content_type, "application/json");
    assert_eq!(
        a.body,
        r#"{"status":"success","data":{"resultType":"scalar","result":[4,"2"]}}"#
    );
    let a = post_form(
        &s.url,
        "/api/v1/query",
        &[("query", "\"x\""), ("time", "1.5")],
    );
    assert_eq!(
        a.body,
        r#"{"status":"success","data":{"resultType":"string","result":[1.5,"x"]}}"#
    );
}

#[test]
fn instant_and_range_queries_have_prometheus_shapes() {
    let (s, _d) = server();
    let t = secs(T0 + 600_000);
    let a = post_form(
        &s.url,
        "/api/v1/query",
        &[("query", "up{job=\"api\"}"), ("time", &t)],
    );
    assert_eq!(a.status, 200, "{}", a.body);
    let j = a.json();
    assert_eq!(j["data"]["resultType"], "vector");
    let r = j["data"]["result"].as_array().expect("result");
    assert_eq!(r.len(), 2);
    assert_eq!(r[0]["value"], json!([(T0 + 600_000) / 1000, "1"]));
    assert_eq!(r[0]["metric"]["__name__"], "up");

    // Values below 1e-6 use Go's exponent format.
    let a = get(
        &s.url,
        &format!(
            "/api/v1/query?{}",
            query_string(&[("query", "kube_pod_info"), ("time", &secs(T0 + 15_000))])
        ),
    );
    assert_eq!(
        a.json()["data"]["result"][0]["value"][1],
        "1e-07",
        "{}",
        a.body
    );
    assert_eq!(
        a.json()["data"]["result"][0]["metric"]["pod"],
        "coredns-\"x\"-ü"
    );

    let (start, end) = (secs(T0), secs(T0 + 300_000));
    let a = post_form(
        &s.url,
        "/api/v1/query_range",
        &[
            ("query", "up"),
            ("start", &start),
            ("end", &end),
            ("step", "1m"),
        ],
    );
    assert_eq!(a.status, 200, "{}", a.body);
    let j = a.json();
    assert_eq!(j["data"]["resultType"], "matrix");
    let r = j["data"]["result"].as_array().expect("result");
    assert_eq!(r.len(), 3);
    assert_eq!(r[0]["values"].as_array().expect("values").len(), 6);
    assert!(j.get("warnings").is_none(), "{}", a.body);

    // limit truncates with Prometheus's warning.
    let a = post_form(
        &s.url,
        "/api/v1/query_range",
        &[
            ("query", "up"),
            ("start", &start),
            ("end", &end),
            ("step", "60"),
            ("limit", "1"),
        ],
    );
    let j = a.json();
    assert_eq!(j["data"]["result"].as_array().expect("result").len(), 1);
    assert_eq!(j["warnings"], json!(["results truncated due to limit"]));

    // Engine annotations come through as infos.
    let a = post_form(
        &s.url,
        "/api/v1/query",
        &[
            ("query", "rate(node_temperature_celsius[5m])"),
            ("time", &t),
        ],
    );
    let infos = a.json()["infos"].clone();
    assert!(
        infos[0]
            .as_str()
            .expect("info")
            .starts_with("PromQL info: metric might not be a counter"),
        "{}",
        a.body
    );
}

#[test]
fn parameter_errors_are_bad_data() {
    let (s, _d) = server();
    /// Form, path, expected start of the error message.
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
    let cases: &[Case<'_>] = &[
        (
            &[("query", "foo(")],
            "/api/v1/query",
            "invalid parameter \"query\": ",
        ),
        (
            &[("query", "1"), ("time", "abc")],
            "/api/v1/query",
            "invalid parameter \"time\": invalid time value for 'time': cannot parse \"abc\" to a valid timestamp",
        ),
        (
            &[("query", "1"), ("timeout", "abc")],
            "/api/v1/query",
            "invalid parameter \"timeout\": cannot parse \"abc\" to a valid duration",
        ),
        (
            &[("query", "1"), ("limit", "-1")],
            "/api/v1/query",
            "invalid parameter \"limit\": limit must be non-negative",
        ),
        (
            &[("query", "1"), ("start", "10"), ("end", "0"), ("step", "1")],
            "/api/v1/query_range",
            "invalid parameter \"end\": end timestamp must not be before start time",
        ),
        (
            &[("query", "1"), ("start", "0"), ("end", "10"), ("step", "0")],
            "/api/v1/query_range",
            "invalid parameter \"step\": zero or negative query resolution step widths are not accepted. Try a positive integer",
        ),
        (
            &[("query", "1"), ("start", "0"), ("end", "10")],
            "/api/v1/query_range",
            "invalid parameter \"step\": cannot parse \"\" to a valid duration",
        ),
        (
            &[
                ("query", "1"),
                ("start", "0"),
                ("end", "100000000"),
                ("step", "1"),
            ],
            "/api/v1/query_range",
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)",
        ),
        (&[], "/api/v1/series", "no match[] parameter provided"),
        (
            &[("match[]", "{a=~\".*\"}")],
            "/api/v1/series",
            "invalid parameter \"match[]\": match[] must contain at least one non-empty matcher",
        ),
        (
            &[("match[]", "{a=~\".*\"}")],
            "/api/v1/labels",
            "match[] must contain at least one non-empty matcher",
        ),
        (
            &[("query", "sum(")],
            "/api/v1/format_query",
            "invalid parameter \"query\": ",
        ),
    ];
    for (form, path, want) in cases {
        let a = post_form(&s.url, path, form);
        let (status, typ, msg) = error_of(&a);
        assert_eq!((status, typ.as_str()), (400, "bad_data"), "{path} {form:?}");
        assert!(msg.starts_with(want), "{path} {form:?}: {msg}");
    }
    // Exactly at 11,000 points per series is allowed.
    let a = post_form(
        &s.url,
        "/api/v1/query_range",
        &[
            ("query", "1"),
            ("start", "0"),
            ("end", "11000"),
            ("step", "1"),
        ],
    );
    assert_eq!(a.status, 200);
}

#[test]
fn execution_errors_are_422_and_unknown_paths_404() {
    let (s, _d) = server();
    let t = secs(T0 + 600_000);
    let a = post_form(
        &s.url,
        "/api/v1/query",
        &[
            ("query", "http_requests_total + on() http_requests_total"),
            ("time", &t),
        ],
    );
    let (status, typ, _) = error_of(&a);
    assert_eq!((status, typ.as_str()), (422, "execution"));

    let a = get(&s.url, "/api/v1/nope");
    assert_eq!((a.status, a.body.as_str()), (404, "404 page not found\n"));
    let a = call(&s.url, "POST", "/api/v1/label/job/values");
    assert_eq!((a.status, a.body.as_str()), (405, "Method Not Allowed\n"));
    let a = call(&s.url, "DELETE", "/api/v1/query");
    assert_eq!(a.status, 405);
}

#[test]
fn not_ready_answers_503_but_walreplay_answers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = server::Config {
        data_dir: dir.path().to_path_buf(),
        ..Default::default()
    };
    let s = serve(Arc::new(AppState::new(config)));
    for path in [
        "/api/v1/query?query=1",
        "/api/v1/series?match[]=up",
        "/api/v1/labels",
        "/api/v1/status/tsdb",
        "/api/v1/query?query=1&time=bad",
        "/api/v1/label/job/values?limit=-1",
    ] {
        let (status, typ, _) = error_of(&get(&s.url, path));
        assert_eq!((status, typ.as_str()), (503, "unavailable"), "{path}");
    }
    let a = get(&s.url, "/api/v1/status/walreplay");
    assert_eq!(a.json()["data"], json!({"min": 0, "max": 0, "current": 0}));
}

#[test]
fn queries_time_out_waiting_for_a_slot() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = server::Config {
        max_concurrent_queries: 0,
        ..Default::default()
    };
    let s = serve_data(config, dir.path());
    let a = get(&s.url, "/api/v1/query?query=1&timeout=50ms");
    let (status, typ, msg) = error_of(&a);
    assert_eq!((status, typ.as_str()), (503, "timeout"), "{msg}");
}

#[test]
fn queries_time_out_during_evaluation() {
    let (s, _d) = server();
    // A 1 ns timeout has passed by the time the engine checks its deadline.
    let a = post_form(
        &s.url,
        "/api/v1/query_range",
        &[
            ("query", "rate(http_requests_total[5m])"),
            ("start", &secs(T0)),
            ("end", &secs(T0 + 3_600_000)),
            ("step", "1"),
            ("timeout", "0.000000001"),
        ],
    );
    let (status, typ, _) = error_of(&a);
    assert_eq!((status, typ.as_str()), (503, "timeout"));
}

#[test]
fn series_labels_and_values_honour_match_range_and_limit() {
    let (s, _d) = server();
    let (start, end) = (secs(T0), secs(T0 + 3_600_000));
    let a = post_form(
        &s.url,
        "/api/v1/series",
        &[
            ("match[]", "up"),
            ("match[]", "{__name__=\"up\",job=\"db\"}"),
            ("start", &start),
            ("end", &end),
        ],
    );
    let j = a.json();
    let list = j["data"].as_array().expect("data");
    assert_eq!(
        list.len(),
        3,
        "duplicates across match[] are merged: {}",
        a.body
    );
    assert_eq!(
        list[0],
        json!({"__name__":"up","instance":"10.0.0.1:8080","job":"api"})
    );

    let a = post_form(
        &s.url,
        "/api/v1/series",
        &[("match[]", "up"), ("limit", "2")],
    );
    let j = a.json();
    assert_eq!(j["data"].as_array().expect("data").len(), 2);
    assert_eq!(j["warnings"], json!(["results truncated due to limit"]));

    // Outside the data's time range there is nothing.
    let a = get(
        &s.url,
        &format!(
            "/api/v1/series?{}",
            query_string(&[("match[]", "up"), ("end", &secs(T0 - 1))])
        ),
    );
    assert_eq!(a.json()["data"], json!([]));

    let a = get(
        &s.url,
        &format!(
            "/api/v1/labels?{}",
            query_string(&[("match[]", "up"), ("start", &start), ("end", &end)])
        ),
    );
    assert_eq!(a.json()["data"], json!(["__name__", "instance", "job"]));

    let a = get(&s.url, "/api/v1/label/__name__/values");
    assert_eq!(
        a.json()["data"],
        json!([
            "batch_last_success_seconds",
            "http_requests_total",
            "kube_pod_info",
            "node_temperature_celsius",
            "up"
        ])
    );
    let a = get(
        &s.url,
        &format!(
            "/api/v1/label/instance/values?{}",
            query_string(&[
                ("match[]", "{__name__=\"up\",job=\"api\"}"),
                ("start", &start)
            ])
        ),
    );
    assert_eq!(a.json()["data"], json!(["10.0.0.1:8080", "10.0.0.2:8080"]));
    let a = get(&s.url, "/api/v1/label/job/values?limit=2");
    let j = a.json();
    assert_eq!(j["data"], json!(["api", "batch"]));
    assert_eq!(j["warnings"], json!(["results truncated due to limit"]));
    let a = get(&s.url, "/api/v1/label/U__sen_73_or/values");
    assert_eq!(a.json()["data"], json!(["cpu"]), "U__ escaped name");
    let a = get(&s.url, "/api/v1/label/nonexistent/values");
    assert_eq!(a.json()["data"], json!([]));
}

#[test]
fn status_endpoints() {
    let (s, _d) = server();
    let j = get(&s.url, "/api/v1/status/buildinfo").json();
    let mut keys: Vec<&str> = j["data"]
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "branch",
            "buildDate",
            "buildUser",
            "goVersion",
            "revision",
            "version"
        ]
    );

    let j = get(&s.url, "/api/v1/status/tsdb?limit=2").json();
    let d = &j["data"];
    assert_eq!(d["headStats"]["numSeries"], 14);
    assert_eq!(d["headStats"]["minTime"], T0);
    assert_eq!(
        d["seriesCountByMetricName"][0],
        json!({"name": "http_requests_total", "value": 8})
    );
    assert_eq!(
        d["seriesCountByMetricName"].as_array().expect("list").len(),
        2
    );
    assert_eq!(
        d["labelValueCountByLabelName"]
            .as_array()
            .expect("list")
            .len(),
        2
    );
    let (status, typ, msg) = error_of(&get(&s.url, "/api/v1/status/tsdb?limit=0"));
    assert_eq!(
        (status, typ.as_str(), msg.as_str()),
        (400, "bad_data", "limit must be a positive number")
    );

    let j = get(&s.url, "/api/v1/status/flags").json();
    assert_eq!(j["data"]["query.timeout"], "2m");
    assert_eq!(j["data"]["query.lookback-delta"], "5m");
    let j = get(&s.url, "/api/v1/status/config").json();
    assert!(
        j["data"]["yaml"]
            .as_str()
            .expect("yaml")
            .contains("query.max-samples: \"50000000\"")
    );
    let j = get(&s.url, "/api/v1/status/runtimeinfo").json();
    for k in [
        "startTime",
        "CWD",
        "hostname",
        "serverTime",
        "reloadConfigSuccess",
        "lastConfigTime",
        "corruptionCount",
        "goroutineCount",
        "GOMAXPROCS",
        "GOMEMLIMIT",
        "GOGC",
        "GODEBUG",
        "storageRetention",
    ] {
        assert!(j["data"].get(k).is_some(), "runtimeinfo lacks {k}");
    }
    assert_eq!(
        get(&s.url, "/api/v1/rules").body,
        r#"{"status":"success","data":{"groups":[]}}"#
    );
    assert_eq!(
        get(&s.url, "/api/v1/alerts").body,
        r#"{"status":"success","data":{"alerts":[]}}"#
    );

    let j = post_form(
        &s.url,
        "/api/v1/format_query",
        &[("query", "sum(rate(foo{a=\"b\"}[5m]))by(job)")],
    )
    .json();
    assert_eq!(j["data"], "sum by (job) (rate(foo{a=\"b\"}[5m]))");
    let j = get(&s.url, "/api/v1/parse_query?query=up").json();
    assert_eq!(j["data"]["type"], "vectorSelector");
}

#[test]
fn admin_endpoints_delete_and_clean() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Disabled by default, as in Prometheus.
    let s = serve_data(server::Config::default(), dir.path());
    let (status, typ, msg) = error_of(&post_form(
        &s.url,
        "/api/v1/admin/tsdb/delete_series",
        &[("match[]", "up")],
    ));
    assert_eq!(
        (status, typ.as_str(), msg.as_str()),
        (503, "unavailable", "admin APIs disabled")
    );
    drop(s);

    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = server::Config::default();
    config.web.enable_admin_api = true;
    let state = Arc::new(AppState::new(config));
    state.set_db(open_db(dir.path(), true, &crate::harness::data()));
    let s = serve(state);
    let (status, typ, _) = error_of(&call(&s.url, "PUT", "/api/v1/admin/tsdb/delete_series"));
    assert_eq!((status, typ.as_str()), (400, "bad_data"));

    let count = |t: i64| {
        let a = post_form(
            &s.url,
            "/api/v1/query",
            &[
                ("query", "count_over_time(up{job=\"db\"}[10m])"),
                ("time", &secs(t)),
            ],
        );
        a.json()["data"]["result"][0]["value"][1].clone()
    };
    assert_eq!(count(T0 + 600_000), "40");
    let a = post_form(
        &s.url,
        "/api/v1/admin/tsdb/delete_series",
        &[
            ("match[]", "up{job=\"db\"}"),
            ("start", &secs(T0 + 300_000)),
            ("end", &secs(T0 + 600_000)),
        ],
    );
    assert_eq!((a.status, a.body.as_str()), (204, ""));
    // (0, 300s) kept: 19 samples; [300s, 600s] deleted.
    assert_eq!(count(T0 + 600_000), "19");
    let other = post_form(
        &s.url,
        "/api/v1/query",
        &[
            (
                "query",
                "count(count_over_time(up{job=\"api\"}[10m]) == 40)",
            ),
            ("time", &secs(T0 + 600_000)),
        ],
    );
    assert_eq!(other.json()["data"]["result"][0]["value"][1], "2");
    let a = call(&s.url, "PUT", "/api/v1/admin/tsdb/clean_tombstones");
    assert_eq!(a.status, 204);
    assert_eq!(
        count(T0 + 600_000),
        "19",
        "the head keeps tombstones until compaction"
    );
}
