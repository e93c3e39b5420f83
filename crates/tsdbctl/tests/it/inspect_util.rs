//! Helpers of the `analyze`, `dump` and `verify` tests: running `tsdbctl`, a data
//! directory with churn between its blocks, special values, tombstones and a WAL, and the
//! model of what it holds.

use std::collections::BTreeMap;
use std::path::Path;

use prometheus_client::registry::Registry;
use tsdb::labels::{Labels, MatchType, Matcher};
use tsdb::{Db, Options};

pub(crate) use crate::fixtures::tsdbctl;

/// Stdout of a run that must succeed.
#[track_caller]
pub(crate) fn ok(args: &[&str]) -> String {
    crate::fixtures::ok(&tsdbctl(args))
}

/// Prometheus's staleness marker.
pub(crate) const STALE_NAN: u64 = 0x7ff0_0000_0000_0002;

/// Samples by series (labels as `{a="b", c="d"}`), each `(t, value bits)`, NaNs as one.
pub(crate) type Model = BTreeMap<String, Vec<(i64, u64)>>;

/// The bits a sample is compared by: every NaN (stale markers too) is one value, as the
/// text formats print it.
pub(crate) fn bits(v: f64) -> u64 {
    if v.is_nan() {
        f64::NAN.to_bits()
    } else {
        v.to_bits()
    }
}

/// Writes, with 10-minute blocks, samples every 30 s over `[0, 2_400_000)`:
/// `a{job="x",s="0..2"}` throughout, `b{job="y",s="0..4"}` only in the first block
/// (gone after it), `c{job="y",s="0..1"}` from the second block on (new in it). Head
/// compaction cuts three blocks; the rest stays in the WAL. `a{s="0"}` holds NaN, ±Inf
/// and a stale marker. Then deletes `b{s="1"}` in `[120000, 240000]` (block tombstones)
/// and `a{s="1"}` in `[1900000, 1950000]` (head tombstones). Returns the open database
/// and the model of what a dump must show.
pub(crate) fn churn_data(dir: &Path) -> (Db, Model) {
    let opts = Options {
        block_range: 600_000,
        ..Options::default()
    };
    let db = Db::open(dir, opts, &mut Registry::default()).expect("open");
    let mut series: Vec<(Labels, i64, i64)> = Vec::new();
    for s in 0..3 {
        let l = Labels::from_pairs(&[("__name__", "a"), ("job", "x"), ("s", &s.to_string())]);
        series.push((l, 0, 2_400_000));
    }
    for s in 0..5 {
        let l = Labels::from_pairs(&[("__name__", "b"), ("job", "y"), ("s", &s.to_string())]);
        series.push((l, 0, 600_000));
    }
    for s in 0..2 {
        let l = Labels::from_pairs(&[("__name__", "c"), ("job", "y"), ("s", &s.to_string())]);
        series.push((l, 600_000, 2_400_000));
    }
    let mut model = Model::new();
    for t in (0..2_400_000).step_by(30_000) {
        let mut app = db.appender();
        for (i, (l, from, to)) in series.iter().enumerate() {
            if t < *from || t >= *to {
                continue;
            }
            let v = value(i, t);
            app.add(0, l, t, v).expect("add");
            model.entry(l.to_string()).or_default().push((t, bits(v)));
        }
        app.commit_batch().expect("commit");
    }
    assert_eq!(db.compact_head().expect("compact").len(), 3);
    for (sel, mint, maxt) in [("b", 120_000, 240_000), ("a", 1_900_000, 1_950_000)] {
        let ms = [
            Matcher::new(MatchType::Equal, "__name__", sel).expect("matcher"),
            Matcher::new(MatchType::Equal, "s", "1").expect("matcher"),
        ];
        db.delete(mint, maxt, &ms).expect("delete");
        let key = Labels::from_pairs(&[
            ("__name__", sel),
            ("job", if sel == "a" { "x" } else { "y" }),
            ("s", "1"),
        ])
        .to_string();
        model
            .get_mut(&key)
            .expect("series")
            .retain(|&(t, _)| t < mint || t > maxt);
    }
    (db, model)
}

/// The value of series `i` at `t`: fractions, large and tiny numbers, and in series 0 the
/// special values.
fn value(i: usize, t: i64) -> f64 {
    if i == 0 {
        match t {
            60_000 => return f64::NAN,
            90_000 => return f64::INFINITY,
            120_000 => return f64::NEG_INFINITY,
            150_000 => return f64::from_bits(STALE_NAN),
            _ => {}
        }
    }
    match i % 3 {
        0 => t as f64 / 7.0,
        1 => (t as f64 + 1.0) * 1e6,
        _ => 1.5e-7 * (i as f64) - t as f64,
    }
}

/// A float as the dumps print it (`NaN`, `+Inf`, `-Inf`, Go `%g` or plain digits).
pub(crate) fn parse_value(s: &str) -> f64 {
    match s {
        "NaN" => f64::NAN,
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        s => s.parse().unwrap_or_else(|e| panic!("value {s:?}: {e}")),
    }
}

/// Parses `tsdbctl dump` text output (`{labels} value ts_ms` per line) into a model,
/// checking series come in label order and samples in time order.
pub(crate) fn parse_text(text: &str) -> Model {
    let mut m = Model::new();
    let mut last_key = String::new();
    for line in text.lines() {
        let mut parts = line.rsplitn(3, ' ');
        let t: i64 = parts
            .next()
            .and_then(|t| t.parse().ok())
            .expect("timestamp");
        let v = parse_value(parts.next().expect("value"));
        let key = parts.next().expect("labels").to_owned();
        assert!(
            key >= last_key,
            "series out of order: {key} after {last_key}"
        );
        let samples = m.entry(key.clone()).or_default();
        assert!(
            samples.last().is_none_or(|&(p, _)| p < t),
            "time order at {line}"
        );
        samples.push((t, bits(v)));
        last_key = key;
    }
    m
}

/// Restricts a model to `[mint, maxt]` and the series `keep` accepts.
pub(crate) fn filter(m: &Model, mint: i64, maxt: i64, keep: impl Fn(&str) -> bool) -> Model {
    m.iter()
        .filter(|(k, _)| keep(k))
        .map(|(k, v)| {
            let v: Vec<_> = v
                .iter()
                .copied()
                .filter(|&(t, _)| t >= mint && t <= maxt)
                .collect();
            (k.clone(), v)
        })
        .filter(|(_, v)| !v.is_empty())
        .collect()
}
