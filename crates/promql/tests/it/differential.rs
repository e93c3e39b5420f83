//! Differential test: the same queries over the same samples, evaluated by our engine and by
//! the reference Prometheus 3.5.3, must give the same results.
//!
//! A deterministic, Kubernetes-like data set (counters with resets, gauges with negative and
//! special values, classic histograms, series that stop or pause) is written as OpenMetrics
//! text, turned into blocks with `promtool tsdb create-blocks-from openmetrics`, and served by
//! a Prometheus on loopback. The same samples go into our in-memory [`tsdb::Head`]. Every
//! query of [`QUERIES`], [`generated`] and [`random`] then runs as instant queries at several
//! times and as range queries, and the results (values, and annotations without their
//! positions) are compared.
//!
//! Queries where our engine is known to disagree with Prometheus live in
//! [`KNOWN_DIFFERENCES`], with the reason; the test asserts that they still differ, so a fix
//! in the engine makes the test fail until the entry moves back to [`QUERIES`].

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use promql::{Engine, EngineOptions, QueryContext};

use tsdb::testutil::{Prometheus, reference_bin_dir};

/// Reducing answers to a common form and comparing them.
mod compare;
/// The generated data set.
mod data;
/// The query lists.
mod queries;

use compare::{Answer, Outcome, canon, difference, json_labels, ours, theirs};
use data::{GenSeries, T0, generate, load_head, openmetrics};
use queries::{QUERIES, generated, random};

/// Fixed instant-query evaluation times (ms): 5m into the data (a `[5m]` window reaching
/// back exactly to the first grid sample), on the grid, off the grid, just after the last
/// scrape, and 4m after it (inside the 5m lookback, when only unstopped series remain).
/// [`instant_times`] adds times on the lookback boundary of a series that stops.
const INSTANT_TIMES: [i64; 5] = [
    T0 + 300_000,
    T0 + 1_800_000,
    T0 + 3_667_500,
    T0 + 7_190_000,
    T0 + 7_440_000,
];

/// Range queries `(start, end, step)` in ms: the last hour and a bit past the data's end at
/// 60s, the data's first 20 minutes at an odd 17s step, 15 minutes on the scrape grid, a
/// single step, and 25m steps from before the data's start to after its end.
const RANGES: [(i64, i64, i64); 5] = [
    (T0 + 3_603_000, T0 + 7_500_000, 60_000),
    (T0 + 300_000, T0 + 1_500_000, 17_000),
    (T0 + 3_000_000, T0 + 3_900_000, 15_000),
    (T0 + 1_800_000, T0 + 1_800_000, 60_000),
    (T0 - 600_000, T0 + 9_000_000, 1_500_000),
];

/// Evaluation times of the instant queries: [`INSTANT_TIMES`], then exactly 5m after the
/// last sample of the batch job that stops (out of the left-open lookback window) and 1ms
/// earlier (inside it).
fn instant_times(data: &[GenSeries]) -> Vec<i64> {
    let stopped = data
        .iter()
        .find(|s| s.labels.iter().any(|(n, v)| n == "instance" && v == "b1"))
        .expect("series b1");
    let last = stopped.samples.last().expect("samples").0;
    let mut times = INSTANT_TIMES.to_vec();
    times.extend([last + 300_000, last + 299_999]);
    times
}

/// Milliseconds as the API's seconds.
fn api_seconds(t: i64) -> String {
    format!("{}.{:03}", t.div_euclid(1000), t.rem_euclid(1000))
}

/// Asks Prometheus, retrying only transport errors.
fn ask(agent: &ureq::Agent, url: &str, form: &[(&str, String)]) -> String {
    let mut last = None;
    for _ in 0..3 {
        match agent
            .post(url)
            .send_form(form.iter().map(|(k, v)| (*k, v.as_str())))
        {
            Ok(mut r) => return r.body_mut().read_to_string().expect("response body"),
            Err(e) => last = Some(e),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("POST {url} failed: {last:?}");
}

/// Waits until Prometheus serves exactly the generated series (it opens the blocks at start;
/// this also checks promtool kept every label as written).
fn wait_for_series(agent: &ureq::Agent, prom: &Prometheus, data: &[GenSeries]) {
    let mut want: Vec<String> = data.iter().map(|s| canon(s.labels.clone())).collect();
    want.sort();
    let url = format!("{}/api/v1/series", prom.url);
    let form = [
        ("match[]", "{__name__=~\".+\"}".to_string()),
        ("start", api_seconds(T0 - 3_600_000)),
        ("end", api_seconds(T0 + 4 * 3_600_000)),
    ];
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let j: serde_json::Value =
            serde_json::from_str(&ask(agent, &url, &form)).expect("series JSON");
        let mut got: Vec<String> = j["data"]
            .as_array()
            .map(|a| a.iter().map(json_labels).collect())
            .unwrap_or_default();
        got.sort();
        if got == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus serves {} series, want {}; first differences: {:?}",
            got.len(),
            want.len(),
            got.iter()
                .zip(&want)
                .filter(|(a, b)| a != b)
                .take(3)
                .collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// What comparing one query in every mode found.
#[derive(Debug, Default)]
struct QueryReport {
    /// `(is a range query, mode, difference)` for every mode that differs.
    diffs: Vec<(bool, String, String)>,
    /// Modes where both engines returned data (not an error, not an empty result).
    with_data: usize,
    /// Modes where both engines failed.
    errors: usize,
}

impl QueryReport {
    /// Records one mode's answers.
    fn add(&mut self, mode: String, a: &Answer, b: &Answer, ordered: bool) {
        if a.has_data() && b.has_data() {
            self.with_data += 1;
        }
        if matches!(
            (&a.outcome, &b.outcome),
            (Outcome::Error(..), Outcome::Error(..))
        ) {
            self.errors += 1;
        }
        if let Some(d) = difference(a, b, ordered) {
            self.diffs.push((mode.starts_with("range"), mode, d));
        }
    }
}

/// The two engines and the evaluation times.
struct Setup<'a> {
    /// Our engine.
    engine: Engine,
    /// Our storage.
    head: &'a tsdb::Head,
    /// HTTP client that keeps error statuses as answers.
    agent: ureq::Agent,
    /// The reference server.
    prom: &'a Prometheus,
    /// Instant-query times, from [`instant_times`].
    times: Vec<i64>,
}

/// Evaluates one query in every mode: instant at each of the setup's times, then each of
/// [`RANGES`].
fn compare_query(setup: &Setup<'_>, query: &str) -> QueryReport {
    let Setup {
        engine,
        head,
        agent,
        prom,
        times,
    } = setup;
    let ctx = QueryContext::default();
    let ordered = query.starts_with("sort(") || query.starts_with("sort_desc(");
    let mut report = QueryReport::default();
    for &t in times {
        let a = ours(engine.instant_query(*head, query, t, &ctx));
        let b = theirs(&ask(
            agent,
            &format!("{}/api/v1/query", prom.url),
            &[("query", query.to_string()), ("time", api_seconds(t))],
        ));
        report.add(format!("instant at {}", api_seconds(t)), &a, &b, ordered);
    }
    for (start, end, step) in RANGES {
        let a = ours(engine.range_query(*head, query, start, end, step, &ctx));
        let b = theirs(&ask(
            agent,
            &format!("{}/api/v1/query_range", prom.url),
            &[
                ("query", query.to_string()),
                ("start", api_seconds(start)),
                ("end", api_seconds(end)),
                ("step", api_seconds(step)),
            ],
        ));
        let mode = format!(
            "range {}..{} step {}s",
            api_seconds(start),
            api_seconds(end),
            step / 1000
        );
        report.add(mode, &a, &b, false);
    }
    report
}

/// Which evaluation modes of a known difference differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Modes {
    /// Only range queries; instant queries must agree.
    Range,
    /// Any mode.
    All,
}

/// A query our engine answers differently from Prometheus 3.5.3 today.
struct KnownDifference {
    /// The query.
    query: &'static str,
    /// The modes that differ: at least one of them must still differ, and with
    /// [`Modes::Range`] every instant query must agree.
    modes: Modes,
    /// What differs and why.
    reason: &'static str,
}

/// Queries where our engine and Prometheus 3.5.3 disagree today. Each must still differ in
/// its [`Modes`]; once fixed, move it to [`QUERIES`].
const KNOWN_DIFFERENCES: &[KnownDifference] = &[
    KnownDifference {
        query: "label_replace(up, \"\\xc3\\xbf\", \"$1\", \"instance\", \"(.*)\")",
        modes: Modes::All,
        reason: "`\\x` escapes forming a multi-byte UTF-8 character: Go decodes `\\xc3\\xbf` \
            to the bytes of `ÿ`; promql-parser decodes each escape to a character (`Ã¿`), so \
            the label is named differently",
    },
    KnownDifference {
        query: "up offset -0s",
        modes: Modes::All,
        reason: "as `up offset 0s`",
    },
    KnownDifference {
        query: "1_000",
        modes: Modes::All,
        reason: "underscores in a number literal: Prometheus 3.5's lexer accepts `1_000` \
            (1000); ours fails to parse (`bad_data`: bad number or duration syntax: 1_)",
    },
    KnownDifference {
        query: "up offset 0s",
        modes: Modes::All,
        reason: "a zero offset: Prometheus accepts `offset 0s` (no offset); ours fails to \
            parse (`bad_data`: duration must be greater than 0)",
    },
];

/// Annotations are compared without Prometheus's ` (line:column)` suffix, because our parser
/// does not record positions. This checks that the difference is still there (so the
/// normalisation in [`compare::without_position`] cannot outlive it) and is the only one.
fn annotation_positions_still_differ(setup: &Setup<'_>, failures: &mut String) {
    let q = "rate(temperature[5m])";
    let t = INSTANT_TIMES[1];
    let ours = setup
        .engine
        .instant_query(setup.head, q, t, &QueryContext::default())
        .expect("our answer");
    let body = ask(
        &setup.agent,
        &format!("{}/api/v1/query", setup.prom.url),
        &[("query", q.to_string()), ("time", api_seconds(t))],
    );
    let j: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    let theirs: Vec<&str> = j["infos"]
        .as_array()
        .map(|a| a.iter().filter_map(|s| s.as_str()).collect())
        .unwrap_or_default();
    let want = "PromQL info: metric might not be a counter, name does not end in \
        _total/_sum/_count/_bucket: \"temperature\"";
    if ours.infos != [want] || theirs != [format!("{want} (1:6)")] {
        writeln!(
            failures,
            "{q}\n    annotation positions: expected ours without and Prometheus with \
             \" (1:6)\"; ours {:?}, Prometheus {theirs:?}",
            ours.infos
        )
        .expect("write to string");
    }
}

/// Number of random expressions compared, from [`random`].
const RANDOM_QUERIES: usize = 600;

/// Runs every query against both engines and compares the results.
#[test]
fn engine_agrees_with_reference_prometheus() {
    let Some(bin) = reference_bin_dir() else {
        return;
    };
    let started = Instant::now();
    let data = generate();
    let dir = tempfile::tempdir().expect("temp dir");
    let om = dir.path().join("data.om");
    std::fs::write(&om, openmetrics(&data)).expect("write OpenMetrics");
    let prom_dir = dir.path().join("prom");
    tsdb::testutil::create_blocks_from_openmetrics(&bin, &om, &prom_dir);
    let prom = Prometheus::start(
        &bin,
        &prom_dir,
        "global:\n  scrape_interval: 15s\n",
        &["--storage.tsdb.retention.time=100y"],
    );
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    wait_for_series(&agent, &prom, &data);
    let head = load_head(&data);
    let setup = Setup {
        engine: Engine::new(EngineOptions::default()),
        head: &head,
        agent,
        prom: &prom,
        times: instant_times(&data),
    };
    let modes = setup.times.len() + RANGES.len();
    let setup_time = started.elapsed();

    let mut failures = String::new();
    let (mut with_data, mut errors) = (0, 0);
    let mut generated = generated();
    generated.extend(random(RANDOM_QUERIES, 0x5eed_0003));
    let queries: Vec<&str> = QUERIES
        .iter()
        .copied()
        .chain(
            generated
                .iter()
                .map(String::as_str)
                .filter(|q| KNOWN_DIFFERENCES.iter().all(|k| k.query != *q)),
        )
        .collect();
    for q in &queries {
        let report = compare_query(&setup, q);
        with_data += report.with_data;
        errors += report.errors;
        for (_, mode, d) in report.diffs {
            writeln!(failures, "{q}\n    {mode}: {d}").expect("write to string");
        }
    }
    for known in KNOWN_DIFFERENCES {
        let q = known.query;
        assert!(
            !QUERIES.contains(&q),
            "{q} is in QUERIES and KNOWN_DIFFERENCES"
        );
        let report = compare_query(&setup, q);
        for (range, mode, d) in &report.diffs {
            if known.modes == Modes::Range && !range {
                writeln!(
                    failures,
                    "{q}\n    {mode}: {d} (KNOWN_DIFFERENCES lists only range queries)"
                )
                .expect("write to string");
            }
        }
        if report.diffs.is_empty() {
            writeln!(
                failures,
                "{q}\n    listed in KNOWN_DIFFERENCES ({}) but now agrees in all modes: \
                 move it to QUERIES",
                known.reason
            )
            .expect("write to string");
        }
    }
    annotation_positions_still_differ(&setup, &mut failures);
    let total = queries.len() + KNOWN_DIFFERENCES.len();
    eprintln!(
        "differential: {} series; {total} queries x {modes} modes = {} comparisons \
         ({} known differences); agreeing answers: {with_data} with data, {errors} errors; \
         setup {:.1?}, total {:.1?}",
        data.len(),
        total * modes,
        KNOWN_DIFFERENCES.len(),
        setup_time,
        started.elapsed()
    );
    // Guards against a vacuous comparison (both engines seeing no data).
    assert!(
        with_data * 4 >= queries.len() * modes * 3,
        "only {with_data} of {} comparisons had data on both sides",
        queries.len() * modes
    );
    assert!(
        failures.is_empty(),
        "our engine and Prometheus 3.5.3 disagree:\n{failures}"
    );
}
