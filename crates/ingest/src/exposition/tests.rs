//! The exposition parsers: examples of each format and of each error, a round trip of
//! random samples through a formatter and the parser, and random bytes that never panic.

use proptest::prelude::*;

use super::*;
use tsdb::timestamp::parse_rfc3339;

type Parsed = (Vec<(String, String)>, Option<i64>, u64);

fn parse_all(format: Format, input: &str) -> Result<Vec<Parsed>, ParseError> {
    let mut p = Parser::new(format);
    let mut out = Vec::new();
    for line in input.split('\n') {
        if let Some(s) = p.parse_line(line.as_bytes())? {
            let labels = s
                .labels()
                .map(|(n, v)| (n.to_owned(), v.to_owned()))
                .collect();
            out.push((labels, s.timestamp, s.value.to_bits()));
        }
    }
    p.finish()?;
    Ok(out)
}

fn err(format: Format, input: &str) -> ParseError {
    parse_all(format, input).expect_err("must fail")
}

fn l(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

#[test]
fn text_format() {
    let input = "# HELP http_requests_total The total.\n\
                 # TYPE http_requests_total counter\n\
                 # any other comment\n\
                 \n\
                 http_requests_total{method=\"post\",code=\"200\",} 1027 1395066363000\n\
                 \thttp_requests_total{code=\"400\", method=\"post\"} 3 1395066363000 \n\
                 msdos_file_access_time_seconds{path=\"C:\\\\DIR\\\\FILE.TXT\",error=\"Cannot find file:\\n\\\"FILE.TXT\\\"\"} 1.458255915e9\n\
                 metric_without_labels -Inf -5\n\
                 nan_metric{empty=\"\"} NaN 7\n\
                 up +Inf 8\n";
    let got = parse_all(Format::Text, input).expect("parse");
    assert_eq!(got.len(), 6);
    assert_eq!(
        got[0],
        (
            l(&[
                ("__name__", "http_requests_total"),
                ("code", "200"),
                ("method", "post")
            ]),
            Some(1_395_066_363_000),
            1027f64.to_bits()
        )
    );
    assert_eq!(got[1].0[1], ("code".into(), "400".into()));
    assert_eq!(
        got[2].0,
        l(&[
            ("__name__", "msdos_file_access_time_seconds"),
            ("error", "Cannot find file:\n\"FILE.TXT\""),
            ("path", "C:\\DIR\\FILE.TXT"),
        ])
    );
    assert_eq!(got[2].1, None);
    assert_eq!(got[3].1, Some(-5));
    assert_eq!(got[3].2, f64::NEG_INFINITY.to_bits());
    assert_eq!(
        got[4].0,
        l(&[("__name__", "nan_metric")]),
        "empty value: absent"
    );
    assert_eq!(got[4].2, NORMAL_NAN);
    assert_eq!(got[5].2, f64::INFINITY.to_bits());
    // Other escapes stay as written, as in Prometheus.
    let other = parse_all(Format::Text, r#"a{x="\t\\"} 1"#).expect("parse");
    assert_eq!(other[0].0[1].1, r"\t\");
}

#[test]
fn openmetrics() {
    let input = "# TYPE foo counter\n\
                 # HELP foo A counter.\n\
                 # UNIT foo seconds\n\
                 foo_total{a=\"x\"} 1.5 1700000000.123 # {trace_id=\"1\"} 1 1700000000\n\
                 foo_created{a=\"x\"} 1699999000 1700000000.123\n\
                 {\"my.metric\",\"my.label\"=\"v\"} 2 -1.5\n\
                 bar 3 17 # {} 1\n\
                 # EOF\n";
    let got = parse_all(Format::OpenMetrics, input).expect("parse");
    assert_eq!(got.len(), 4);
    assert_eq!(got[0].1, Some(1_700_000_000_123));
    assert_eq!(
        got[1].0,
        l(&[("__name__", "foo_created"), ("a", "x")]),
        "_created is an ordinary series, as promtool 3.5 stores it"
    );
    assert_eq!(
        got[2],
        (
            l(&[("__name__", "my.metric"), ("my.label", "v")]),
            Some(-1500),
            2f64.to_bits()
        )
    );
    assert_eq!(got[3].1, Some(17_000));
}

#[test]
fn errors_name_the_line_and_the_reason() {
    let e = err(Format::Text, "a 1 1\nb{x=\"1} 2 3\n");
    assert_eq!(e.line, 2);
    assert_eq!(e.kind, ParseErrorKind::UnterminatedQuote);
    assert_eq!(e.to_string(), "line 2: unterminated quoted string");
    let cases: &[(Format, &str, u64, ParseErrorKind)] = &[
        (
            Format::Text,
            "a 1 1.5",
            1,
            ParseErrorKind::InvalidTimestamp {
                token: "1.5".into(),
            },
        ),
        (
            Format::Text,
            "\n\na one",
            3,
            ParseErrorKind::InvalidValue {
                token: "one".into(),
            },
        ),
        (
            Format::Text,
            "a{x=\"1\",x=\"2\"} 1",
            1,
            ParseErrorKind::DuplicateLabel { name: "x".into() },
        ),
        (
            Format::Text,
            "# TYPE a countr",
            1,
            ParseErrorKind::InvalidType {
                typ: "countr".into(),
            },
        ),
        (
            Format::Text,
            "{x=\"1\"} 1",
            1,
            ParseErrorKind::MissingMetricName,
        ),
        (
            Format::OpenMetrics,
            "a 1 1\n",
            2,
            ParseErrorKind::MissingEof,
        ),
        (
            Format::OpenMetrics,
            "# EOF\na 1 1",
            2,
            ParseErrorKind::DataAfterEof,
        ),
        (
            Format::OpenMetrics,
            "# random comment\n# EOF",
            1,
            ParseErrorKind::InvalidComment {
                reason: "OpenMetrics allows only # HELP, # TYPE, # UNIT and # EOF",
            },
        ),
        (
            Format::Csv,
            "metric,value\n",
            1,
            ParseErrorKind::CsvMissingColumn {
                column: "timestamp",
            },
        ),
        (
            Format::Csv,
            "metric,timestamp,value\nup,1,2,3",
            2,
            ParseErrorKind::CsvFieldCount {
                expected: 3,
                found: 4,
            },
        ),
        (
            Format::Csv,
            "metric,__name__,timestamp,value",
            1,
            ParseErrorKind::CsvDuplicateColumn {
                column: "__name__".into(),
            },
        ),
        (
            Format::Csv,
            "metric,timestamp,value\nup,yesterday,1",
            2,
            ParseErrorKind::InvalidTimestamp {
                token: "yesterday".into(),
            },
        ),
    ];
    for (format, input, line, kind) in cases {
        let e = err(*format, input);
        assert_eq!((e.line, &e.kind), (*line, kind), "{input:?}");
    }
    let mut p = Parser::new(Format::Text).require_timestamps(true);
    let e = p.parse_line(b"a 1").expect_err("no timestamp");
    assert_eq!(e.kind, ParseErrorKind::MissingTimestamp);
    let e = Parser::new(Format::Text)
        .parse_line(b"a \xff 1")
        .expect_err("not UTF-8");
    assert_eq!(e.kind, ParseErrorKind::InvalidUtf8 { column: 3 });
}

#[test]
fn csv() {
    let input = "metric, instance ,job,timestamp,value\r\n\
                 up,host:9100,node,2026-11-21T10:00:00Z,1\r\n\
                 up,\"a,\"\"b\"\"\",,1763719230.5,NaN\r\n\
                 \r\n\
                 up,x,,2026-11-21T11:00:00.25+01:00,-Inf\r\n";
    let got = parse_all(Format::Csv, input).expect("parse");
    assert_eq!(got.len(), 3);
    assert_eq!(
        got[0],
        (
            l(&[
                ("__name__", "up"),
                ("instance", "host:9100"),
                ("job", "node")
            ]),
            Some(1_795_255_200_000),
            1f64.to_bits()
        )
    );
    assert_eq!(
        got[1],
        (
            l(&[("__name__", "up"), ("instance", "a,\"b\"")]),
            Some(1_763_719_230_500),
            NORMAL_NAN
        )
    );
    assert_eq!(got[2].1, Some(1_795_255_200_250));
    // A byte order mark before the header is skipped.
    let bom = parse_all(Format::Csv, "\u{feff}metric,timestamp,value\nup,1,2").expect("parse");
    assert_eq!(bom[0].1, Some(1000));
}

#[test]
fn timestamps() {
    assert_eq!(parse_seconds("1700000000.123"), Some(1_700_000_000_123));
    assert_eq!(parse_seconds("1700000000.1239"), Some(1_700_000_000_123));
    assert_eq!(parse_seconds("-0.5"), Some(-500));
    assert_eq!(parse_seconds("1.7e9"), Some(1_700_000_000_000));
    assert_eq!(parse_seconds("NaN"), None);
    assert_eq!(parse_seconds("1e300"), None);
    assert_eq!(parse_seconds(""), None);
    assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
    assert_eq!(
        parse_rfc3339("2000-03-01T00:00:00.5Z"),
        Some(951_868_800_500)
    );
    assert_eq!(parse_rfc3339("1969-12-31T23:00:00-01:00"), Some(0));
    assert_eq!(parse_rfc3339("2026-13-01T00:00:00Z"), None);
    assert_eq!(parse_rfc3339("2026-01-01T00:00:00"), None);
}

/// Formats a label value or quoted name for the text formats.
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn fmt_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v:?}")
    }
}

fn fmt_seconds(ms: i64) -> String {
    let sign = if ms < 0 { "-" } else { "" };
    let a = ms.unsigned_abs();
    format!("{sign}{}.{:03}", a / 1000, a % 1000)
}

fn csv_field(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// A random sample: a metric name, up to three labels named `l0..l2` (values may be
/// empty: absent), a value and a timestamp.
fn sample() -> impl Strategy<Value = (String, Vec<String>, f64, i64)> {
    let value = prop_oneof![
        any::<f64>(),
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        (-1000i64..1000).prop_map(|i| i as f64),
    ];
    (
        "[a-zA-Z_:][a-zA-Z0-9_:]{0,10}",
        prop::collection::vec("(\\PC|[\"\\\\\n,])*", 3),
        value,
        -(1i64 << 50)..(1i64 << 50),
    )
}

fn check_round_trip(format: Format, samples: &[(String, Vec<String>, f64, i64)]) {
    let mut input = String::new();
    if format == Format::Csv {
        input.push_str("metric,l0,l1,l2,timestamp,value\n");
    }
    for (name, values, v, t) in samples {
        match format {
            Format::Csv => {
                input.push_str(&csv_field(name));
                for val in values {
                    input.push(',');
                    // Newlines cannot be in a CSV field here: one row per line.
                    input.push_str(&csv_field(&val.replace('\n', " ")));
                }
                input.push_str(&format!(",{},{}\n", fmt_seconds(*t), fmt_value(*v)));
            }
            _ => {
                let labels: Vec<String> = values
                    .iter()
                    .enumerate()
                    .map(|(i, val)| format!("l{i}=\"{}\"", escape(val)))
                    .collect();
                let ts = if format == Format::Text {
                    t.to_string()
                } else {
                    fmt_seconds(*t)
                };
                input.push_str(&format!(
                    "{name}{{{}}} {} {ts}\n",
                    labels.join(","),
                    fmt_value(*v)
                ));
            }
        }
    }
    if format == Format::OpenMetrics {
        input.push_str("# EOF\n");
    }
    let got = parse_all(format, &input).unwrap_or_else(|e| panic!("{e}\n{input}"));
    assert_eq!(got.len(), samples.len());
    for ((labels, t, v), (name, values, want_v, want_t)) in got.iter().zip(samples) {
        let mut want = vec![("__name__".to_owned(), name.clone())];
        for (i, val) in values.iter().enumerate() {
            let val = if format == Format::Csv {
                val.replace('\n', " ")
            } else {
                val.clone()
            };
            if !val.is_empty() {
                want.push((format!("l{i}"), val));
            }
        }
        assert_eq!(labels, &want);
        assert_eq!(*t, Some(*want_t));
        if want_v.is_nan() {
            assert_eq!(*v, NORMAL_NAN);
        } else {
            assert_eq!(*v, want_v.to_bits(), "{want_v}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn formatted_samples_parse_back(samples in prop::collection::vec(sample(), 0..8)) {
        for format in [Format::Text, Format::OpenMetrics, Format::Csv] {
            check_round_trip(format, &samples);
        }
    }

    #[test]
    fn random_bytes_never_panic(lines in prop::collection::vec(
        prop::collection::vec(any::<u8>(), 0..60), 0..8)
    ) {
        for format in [Format::Text, Format::OpenMetrics, Format::Csv] {
            let mut p = Parser::new(format);
            for line in &lines {
                let _ = p.parse_line(line);
            }
            let _ = p.finish();
        }
    }

    #[test]
    fn mutated_lines_never_panic(
        line in "[a-z{}=\",# .0-9\\\\TZ:+-]{0,40}",
    ) {
        for format in [Format::Text, Format::OpenMetrics, Format::Csv] {
            let mut p = Parser::new(format);
            let _ = p.parse_line(b"metric,timestamp,value");
            let _ = p.parse_line(line.as_bytes());
        }
    }
}
