//! `/metrics` through the binary: the text parses, the HTTP, query and storage families are
//! there, and gzip is used when accepted.

use std::io::Read as _;

use crate::harness::{Tsdbd, get, header};

/// Checks every line is a comment or `name{labels} value`, and returns the sample names.
fn parse(text: &str) -> Vec<String> {
    assert!(text.ends_with("# EOF\n"), "OpenMetrics ends with # EOF");
    let mut names = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') {
            let kind = line.split(' ').nth(1).unwrap();
            assert!(["HELP", "TYPE", "UNIT", "EOF"].contains(&kind), "{line}");
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("{line}"));
        value
            .parse::<f64>()
            .unwrap_or_else(|_| panic!("value of {line:?}"));
        let name = series.split('{').next().unwrap();
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "{line}"
        );
        if let Some(labels) = series.strip_prefix(name) {
            assert!(
                labels.is_empty() || (labels.starts_with('{') && labels.ends_with('}')),
                "{line}"
            );
        }
        names.push(name.to_owned());
    }
    names
}

#[test]
fn families_parse_and_gzip_is_used_when_accepted() {
    let data = tempfile::tempdir().unwrap();
    let mut s = Tsdbd::launch(data.path(), &[]);
    s.wait_ready();
    let url = s.url("/metrics");
    let (code, _, _) = get(&url, &[]).unwrap();
    assert_eq!(code, 200);
    let r = get(&url, &[]).unwrap();
    assert!(header(&r, "content-encoding").is_none());
    let text = String::from_utf8(r.2).unwrap();
    let names = parse(&text);
    for family in [
        "tsdbd_http_requests_total",
        "tsdbd_http_request_duration_seconds_bucket",
        "tsdbd_engine_query_duration_seconds_count",
        "tsdbd_engine_queries",
        "tsdbd_engine_queries_concurrent_max",
        "tsdbd_tsdb_head_series",
        "tsdbd_tsdb_head_chunks",
        "tsdbd_tsdb_head_min_time",
        "tsdbd_tsdb_head_max_time",
        "tsdbd_tsdb_wal_corruptions_total",
        "tsdbd_tsdb_wal_segment_current",
        "tsdbd_tsdb_wal_fsync_duration_seconds_count",
    ] {
        assert!(
            names.iter().any(|n| n == family),
            "{family} missing:\n{text}"
        );
    }
    assert!(!text.contains("prometheus_"), "{text}");
    assert!(
        !text.contains(".."),
        "help texts end in one period:\n{text}"
    );
    assert!(
        text.contains(r#"tsdbd_http_requests_total{handler="/metrics",code="200"} 1"#),
        "{text}"
    );

    let r = get(&url, &[("accept-encoding", "gzip")]).unwrap();
    assert_eq!(header(&r, "content-encoding"), Some("gzip"));
    let mut unzipped = String::new();
    flate2::read::GzDecoder::new(&r.2[..])
        .read_to_string(&mut unzipped)
        .unwrap();
    parse(&unzipped);
    assert!(r.2.len() < unzipped.len() / 2, "compressed");
    assert_eq!(s.signal(libc::SIGTERM).code(), Some(0));
}
