//! `tsdbctl analyze` on blocks written by `tsdb::Db` with series that appear and
//! disappear between blocks: the counts equal what was written, churn names the metrics
//! that came and went, `--match` and `--block` focus, and the table has every section.

use serde_json::Value;

use crate::inspect_util::{churn_data, ok, tsdbctl};

/// `(name, count)` rows of a JSON top list.
fn rows(v: &Value, key: &str, count: &str) -> Vec<(String, u64)> {
    v[key]
        .as_array()
        .expect("array")
        .iter()
        .map(|r| {
            let name = match r.get("value") {
                Some(val) => format!(
                    "{}={}",
                    r["name"].as_str().expect("name"),
                    val.as_str().expect("value")
                ),
                None => r["name"].as_str().expect("name").to_owned(),
            };
            (name, r[count].as_u64().expect("count"))
        })
        .collect()
}

fn owned(v: &[(&str, u64)]) -> Vec<(String, u64)> {
    v.iter().map(|(n, c)| ((*n).to_owned(), *c)).collect()
}

#[test]
fn counts_churn_and_match_equal_what_was_written() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("data");
    let (db, _) = churn_data(&dir);
    let d = dir.to_str().expect("utf-8");
    let v: Value = serde_json::from_str(&ok(&["analyze", "--json", d])).expect("json");
    assert_eq!(v["series"], 10);
    assert_eq!(v["labelNames"], 3);
    assert_eq!(v["labelPairs"], 3 + 2 + 5);
    assert_eq!(
        rows(&v, "metricNames", "series"),
        owned(&[("b", 5), ("a", 3), ("c", 2)])
    );
    assert_eq!(
        rows(&v, "labelNamesByValues", "values"),
        owned(&[("s", 5), ("__name__", 3), ("job", 2)])
    );
    assert_eq!(
        rows(&v, "labelNamesBySeries", "series"),
        owned(&[("__name__", 10), ("job", 10), ("s", 10)])
    );
    assert_eq!(
        rows(&v, "labelPairsBySeries", "series"),
        owned(&[
            ("job=y", 7),
            ("__name__=b", 5),
            ("__name__=a", 3),
            ("job=x", 3),
            ("s=0", 3),
            ("s=1", 3),
            ("__name__=c", 2),
            ("s=2", 2),
            ("s=3", 1),
            ("s=4", 1),
        ])
    );
    let blocks = db.blocks();
    let churn: Vec<(String, u64, Value, Value)> = v["churn"]
        .as_array()
        .expect("churn")
        .iter()
        .map(|c| {
            (
                c["block"].as_str().expect("ulid").to_owned(),
                c["series"].as_u64().expect("series"),
                c["new"].clone(),
                c["gone"].clone(),
            )
        })
        .collect();
    let want: Vec<(String, u64, Value, Value)> = vec![
        (blocks[0].ulid().to_string(), 8, Value::Null, Value::Null),
        (blocks[1].ulid().to_string(), 5, 2.into(), 5.into()),
        (blocks[2].ulid().to_string(), 5, 0.into(), 0.into()),
    ];
    assert_eq!(churn, want);
    let by_churn: Vec<(String, u64, u64)> = v["metricNamesByChurn"]
        .as_array()
        .expect("array")
        .iter()
        .map(|r| {
            (
                r["name"].as_str().expect("name").to_owned(),
                r["new"].as_u64().expect("new"),
                r["gone"].as_u64().expect("gone"),
            )
        })
        .collect();
    assert_eq!(by_churn, vec![("b".into(), 0, 5), ("c".into(), 2, 0)]);

    // --match focuses everything on job="y"; --limit cuts the lists.
    let v: Value = serde_json::from_str(&ok(&[
        "analyze",
        "--json",
        "--match",
        r#"{job="y"}"#,
        "--limit",
        "1",
        d,
    ]))
    .expect("json");
    assert_eq!(v["series"], 7);
    assert_eq!(rows(&v, "metricNames", "series"), owned(&[("b", 5)]));
    assert_eq!(v["churn"][0]["series"], 5);
    assert_eq!(v["churn"][1]["series"], 2);
    assert_eq!(v["churn"][1]["new"], 2);
    assert_eq!(v["churn"][1]["gone"], 5);
    let v: Value =
        serde_json::from_str(&ok(&["analyze", "--json", "--match", r#"a{s=~"1|2"}"#, d]))
            .expect("json");
    assert_eq!(v["series"], 2);
    assert_eq!(
        rows(&v, "labelNamesByValues", "values")[0],
        ("s".to_owned(), 2)
    );

    // One block: only its series, no churn.
    let second = blocks[1].ulid().to_string();
    let v: Value =
        serde_json::from_str(&ok(&["analyze", "--json", "--block", &second, d])).expect("json");
    assert_eq!(v["series"], 5);
    assert_eq!(
        rows(&v, "metricNames", "series"),
        owned(&[("a", 3), ("c", 2)])
    );
    assert_eq!(v["churn"].as_array().expect("churn").len(), 1);

    // The tables.
    let text = ok(&["analyze", d]);
    for section in [
        "Series: 10",
        "Metric names by series count:",
        "Label names by distinct values:",
        "Label names by series count:",
        "Label pairs by series count:",
        "Churn between consecutive blocks:",
        "Metric names by churn:",
    ] {
        assert!(text.contains(section), "{section} missing in\n{text}");
    }
    assert!(
        text.contains(&format!(
            "{second}  1970-01-01T00:10:00.000Z  5       2    5"
        )),
        "{text}"
    );

    // Errors: a bad selector, an unknown block.
    let out = tsdbctl(&["analyze", "--match", "{job=", d]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid series selector"));
    let out = tsdbctl(&["analyze", "--block", "01ARZ3NDEKTSV4RRFFQ69G5FAV", d]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not found"));
}
