//! Compares query results with a script's expectations (§3 of the test-suite spec):
//! floats with `almost.Equal`'s relative tolerance, label sets exactly, order when asked.

use std::cmp::Ordering;

use tsdb::labels::Labels;

use super::parse::{Expected, ExpectedSeries};
use super::values::{SeqValue, is_stale};
use crate::value::{Sample, Series, Value};

/// The relative tolerance of float comparisons.
pub const EPSILON: f64 = 1e-6;

/// Prometheus's `almost.Equal(a, b, 1e-6)`, with a staleness marker equal only to another.
pub fn almost_equal(a: f64, b: f64) -> bool {
    if is_stale(a) || is_stale(b) {
        return is_stale(a) && is_stale(b);
    }
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || diff < f64::MIN_POSITIVE {
        return diff < EPSILON * f64::MIN_POSITIVE;
    }
    diff / (a.abs() + b.abs()).min(f64::MAX) < EPSILON
}

/// Prometheus's label-set order: label by label (name, then value); a prefix sorts first.
pub fn compare_labels(a: &Labels, b: &Labels) -> Ordering {
    for (x, y) in a.iter().zip(b.iter()) {
        let o = x
            .name
            .as_str()
            .cmp(y.name.as_str())
            .then_with(|| x.value.as_str().cmp(y.value.as_str()));
        if o != Ordering::Equal {
            return o;
        }
    }
    a.len().cmp(&b.len())
}

/// Checks that a matrix is sorted by labels, as range queries must return it.
pub fn check_sorted(m: &[Series]) -> Result<(), String> {
    for w in m.windows(2) {
        if compare_labels(&w[0].labels, &w[1].labels) == Ordering::Greater {
            return Err(format!(
                "matrix results should always be sorted by labels, but {:?} comes before {:?}",
                w[0].labels, w[1].labels
            ));
        }
    }
    Ok(())
}

fn fmt_f(v: f64) -> String {
    if is_stale(v) {
        "stale".into()
    } else {
        v.to_string()
    }
}

fn expected_float(e: &ExpectedSeries) -> Result<Option<f64>, String> {
    match e.values.first() {
        Some(SeqValue::Float(v)) => Ok(Some(*v)),
        Some(SeqValue::Histogram(_)) => Err(format!(
            "expected histogram value for {:?} (line {}), but got a float",
            e.labels, e.line
        )),
        Some(SeqValue::Omitted) | None => Ok(None),
    }
}

/// Compares an instant query's result (vector or scalar) with the expectation.
pub fn compare_instant(expected: &Expected, got: &Value, ordered: bool) -> Result<(), String> {
    match (expected, got) {
        (Expected::Scalar(e), Value::Scalar { v, .. }) => {
            if almost_equal(*e, *v) {
                Ok(())
            } else {
                Err(format!(
                    "expected scalar {} but got {}",
                    fmt_f(*e),
                    fmt_f(*v)
                ))
            }
        }
        (Expected::Scalar(_), other) => {
            Err(format!("expected scalar result, but got {}", kind(other)))
        }
        (Expected::Series(_), Value::Scalar { v, .. }) => Err(format!(
            "expected vector or matrix result, but got scalar {}",
            fmt_f(*v)
        )),
        (Expected::Series(exp), Value::Vector(vec)) => compare_vector(exp, vec, ordered),
        (Expected::Series(_), other) => Err(format!("unexpected result type {}", kind(other))),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Scalar { .. } => "scalar",
        Value::String { .. } => "string",
        Value::Vector(_) => "vector",
        Value::Matrix(_) => "matrix",
    }
}

/// Compares an instant vector with the expected series lines.
pub fn compare_vector(exp: &[ExpectedSeries], got: &[Sample], ordered: bool) -> Result<(), String> {
    let mut seen = vec![false; exp.len()];
    for (pos, s) in got.iter().enumerate() {
        let Some(k) = exp.iter().position(|e| e.labels == s.labels) else {
            return Err(format!(
                "unexpected metric {:?} in result, has value {}",
                s.labels,
                fmt_f(s.v)
            ));
        };
        if ordered && k != pos {
            return Err(format!(
                "expected metric {:?} with {} at position {} but was at {}",
                s.labels,
                fmt_f(s.v),
                k + 1,
                pos + 1
            ));
        }
        seen[k] = true;
        match expected_float(&exp[k])? {
            Some(v) if almost_equal(v, s.v) => {}
            Some(v) => {
                return Err(format!(
                    "expected {} for {:?} but got {}",
                    fmt_f(v),
                    s.labels,
                    fmt_f(s.v)
                ));
            }
            None => {
                return Err(format!(
                    "no value expected for {:?} but got {}",
                    s.labels,
                    fmt_f(s.v)
                ));
            }
        }
    }
    if let Some(k) = seen.iter().position(|s| !s) {
        return Err(format!("expected metric {:?} not found", exp[k].labels));
    }
    Ok(())
}

/// Compares a range query's matrix with the expected series (one value per step from `start`).
pub fn compare_matrix(exp: &Expected, got: &Value, start: i64, step: i64) -> Result<(), String> {
    let exp = match exp {
        Expected::Series(s) => s,
        Expected::Scalar(_) => {
            return Err("a range query cannot be expected to return a scalar".into());
        }
    };
    let m = match got {
        Value::Matrix(m) => m,
        other => return Err(format!("range query returned a {}", kind(other))),
    };
    check_sorted(m)?;
    let mut seen = vec![false; exp.len()];
    for s in m {
        let Some(k) = exp.iter().position(|e| e.labels == s.labels) else {
            return Err(format!(
                "unexpected metric {:?} in result, has {} points",
                s.labels,
                s.points.len()
            ));
        };
        seen[k] = true;
        let mut want = Vec::new();
        for (i, v) in exp[k].values.iter().enumerate() {
            let t = start + i as i64 * step;
            match v {
                SeqValue::Float(f) => want.push((t, *f)),
                SeqValue::Histogram(_) => {
                    return Err(format!(
                        "expected histogram values for {:?} (line {}), but the result has only floats",
                        s.labels, exp[k].line
                    ));
                }
                SeqValue::Omitted => {}
            }
        }
        if want.len() != s.points.len() {
            return Err(format!(
                "expected {} float points for {:?}, but got {}: {:?}",
                want.len(),
                s.labels,
                s.points.len(),
                s.points
            ));
        }
        for (&(wt, wv), &(gt, gv)) in want.iter().zip(&s.points) {
            if wt != gt {
                return Err(format!(
                    "expected a point at {wt} for {:?}, but got one at {gt}",
                    s.labels
                ));
            }
            if !almost_equal(wv, gv) {
                return Err(format!(
                    "expected {} at {wt} for {:?}, but got {}",
                    fmt_f(wv),
                    s.labels,
                    fmt_f(gv)
                ));
            }
        }
    }
    if let Some(k) = seen.iter().position(|s| !s) {
        return Err(format!("expected metric {:?} not found", exp[k].labels));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::promqltest::values::stale_nan;

    fn ls(pairs: &[(&str, &str)]) -> Labels {
        Labels::from_pairs(pairs)
    }

    fn exp(pairs: &[(&str, &str)], vals: &[SeqValue]) -> ExpectedSeries {
        ExpectedSeries {
            line: 1,
            labels: ls(pairs),
            values: vals.to_vec(),
        }
    }

    fn sample(pairs: &[(&str, &str)], v: f64) -> Sample {
        Sample {
            labels: ls(pairs),
            t: 0,
            v,
        }
    }

    #[test]
    fn tolerance() {
        assert!(almost_equal(1.0, 1.0 + 1e-7));
        assert!(!almost_equal(1.0, 1.0 + 1e-5));
        assert!(almost_equal(1e300, 1e300 * (1.0 + 1e-7)));
        assert!(almost_equal(f64::INFINITY, f64::INFINITY));
        assert!(!almost_equal(f64::INFINITY, f64::NEG_INFINITY));
        assert!(!almost_equal(0.0, 1e-300));
        assert!(almost_equal(0.0, -0.0));
        assert!(almost_equal(f64::MAX, f64::MAX));
    }

    #[test]
    fn nan_and_stale() {
        assert!(almost_equal(f64::NAN, -f64::NAN));
        assert!(almost_equal(stale_nan(), stale_nan()));
        assert!(!almost_equal(stale_nan(), f64::NAN));
        assert!(!almost_equal(f64::NAN, stale_nan()));
        assert!(!almost_equal(f64::NAN, 1.0));
    }

    #[test]
    fn vectors() {
        let e = vec![
            exp(&[("a", "1")], &[SeqValue::Float(1.0)]),
            exp(&[("a", "2")], &[SeqValue::Float(2.0)]),
        ];
        let got = vec![sample(&[("a", "2")], 2.0), sample(&[("a", "1")], 1.0000001)];
        assert!(compare_vector(&e, &got, false).is_ok());
        assert!(
            compare_vector(&e, &got, true)
                .unwrap_err()
                .contains("position")
        );
        assert!(
            compare_vector(&e, &got[..1], false)
                .unwrap_err()
                .contains("not found")
        );
        let extra = vec![got[0].clone(), got[1].clone(), sample(&[("a", "3")], 3.0)];
        assert!(
            compare_vector(&e, &extra, false)
                .unwrap_err()
                .contains("unexpected metric")
        );
        let wrong = vec![sample(&[("a", "2")], 2.1), got[1].clone()];
        assert!(compare_vector(&e, &wrong, false).is_err());
        let h = vec![exp(&[("a", "1")], &[SeqValue::Histogram("count:1".into())])];
        assert!(
            compare_vector(&h, &got[1..], false)
                .unwrap_err()
                .contains("histogram")
        );
    }

    #[test]
    fn scalars_and_types() {
        let s = Value::Scalar { t: 0, v: 5.0 };
        assert!(compare_instant(&Expected::Scalar(5.0), &s, false).is_ok());
        assert!(compare_instant(&Expected::Scalar(6.0), &s, false).is_err());
        assert!(compare_instant(&Expected::Series(vec![]), &s, false).is_err());
        assert!(compare_instant(&Expected::Scalar(5.0), &Value::Vector(vec![]), false).is_err());
        assert!(compare_instant(&Expected::Series(vec![]), &Value::Vector(vec![]), false).is_ok());
        let str_v = Value::String {
            t: 0,
            s: "x".into(),
        };
        assert!(compare_instant(&Expected::Series(vec![]), &str_v, false).is_err());
    }

    #[test]
    fn matrices() {
        let e = Expected::Series(vec![
            exp(
                &[("a", "1")],
                &[
                    SeqValue::Float(1.0),
                    SeqValue::Omitted,
                    SeqValue::Float(3.0),
                ],
            ),
            exp(&[("a", "2")], &[SeqValue::Float(stale_nan())]),
        ]);
        let s1 = Series {
            labels: ls(&[("a", "1")]),
            points: vec![(0, 1.0), (120, 3.0)],
        };
        let s2 = Series {
            labels: ls(&[("a", "2")]),
            points: vec![(0, stale_nan())],
        };
        let ok = Value::Matrix(vec![s1.clone(), s2.clone()]);
        assert!(compare_matrix(&e, &ok, 0, 60).is_ok());
        let unsorted = Value::Matrix(vec![s2.clone(), s1.clone()]);
        assert!(
            compare_matrix(&e, &unsorted, 0, 60)
                .unwrap_err()
                .contains("sorted")
        );
        let mut extra = s1.clone();
        extra.points.push((180, 4.0));
        assert!(compare_matrix(&e, &Value::Matrix(vec![extra, s2.clone()]), 0, 60).is_err());
        let mut moved = s1.clone();
        moved.points[1].0 = 60;
        assert!(compare_matrix(&e, &Value::Matrix(vec![moved, s2]), 0, 60).is_err());
    }

    #[test]
    fn label_order() {
        assert_eq!(
            compare_labels(&ls(&[("a", "1")]), &ls(&[("a", "1"), ("b", "1")])),
            Ordering::Less
        );
        assert_eq!(
            compare_labels(&ls(&[("a", "2")]), &ls(&[("a", "10")])),
            Ordering::Greater
        );
        assert_eq!(
            compare_labels(&ls(&[("b", "1")]), &ls(&[("a", "1"), ("c", "1")])),
            Ordering::Greater
        );
    }
}
