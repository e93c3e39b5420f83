//! Reducing both engines' answers to a common form and comparing them.

use promql::value::Value;
use tsdb::ErrorKind;
use tsdb::labels::Labels;

/// A query result reduced to what both engines can be compared on. Labels are written as
/// `{a="b", ...}` with names sorted.
#[derive(Debug, Clone)]
pub(super) enum Outcome {
    /// A scalar.
    Scalar(i64, f64),
    /// A string.
    Str(i64, String),
    /// An instant vector in result order.
    Vector(Vec<(String, i64, f64)>),
    /// A matrix.
    Matrix(Vec<(String, Vec<(i64, f64)>)>),
    /// A failed query: the API's `errorType` and the message.
    Error(String, String),
}

/// An [`Outcome`] with the query's annotations, sorted and deduplicated.
#[derive(Debug, Clone)]
pub(super) struct Answer {
    /// The result or error.
    pub(super) outcome: Outcome,
    /// `PromQL warning: ...` annotations.
    pub(super) warnings: Vec<String>,
    /// `PromQL info: ...` annotations.
    pub(super) infos: Vec<String>,
}

impl Answer {
    /// Whether the answer has data: a scalar, a string, or at least one sample.
    pub(super) fn has_data(&self) -> bool {
        match &self.outcome {
            Outcome::Scalar(..) | Outcome::Str(..) => true,
            Outcome::Vector(v) => !v.is_empty(),
            Outcome::Matrix(m) => m.iter().any(|s| !s.1.is_empty()),
            Outcome::Error(..) => false,
        }
    }
}

/// Sorted, deduplicated annotations.
pub(super) fn annotations(mut a: Vec<String>) -> Vec<String> {
    a.sort();
    a.dedup();
    a
}

/// Canonical text of a label set.
pub(super) fn canon(mut pairs: Vec<(String, String)>) -> String {
    pairs.sort();
    let inner: Vec<String> = pairs.iter().map(|(n, v)| format!("{n}={v:?}")).collect();
    format!("{{{}}}", inner.join(", "))
}

/// Canonical text of our label set.
pub(super) fn canon_labels(l: &Labels) -> String {
    canon(
        l.iter()
            .map(|l| (l.name.as_str().to_string(), l.value.as_str().to_string()))
            .collect(),
    )
}

/// The API's `errorType` name of an error kind.
pub(super) fn error_type(k: ErrorKind) -> &'static str {
    match k {
        ErrorKind::BadData => "bad_data",
        ErrorKind::Execution => "execution",
        ErrorKind::Timeout => "timeout",
        ErrorKind::Canceled => "canceled",
        ErrorKind::Internal => "internal",
        ErrorKind::Unavailable => "unavailable",
        ErrorKind::NotFound => "not_found",
        _ => "unknown",
    }
}

/// Our engine's result as an [`Answer`].
pub(super) fn ours(r: promql::Result<promql::QueryResult>) -> Answer {
    let (warnings, infos) = match &r {
        Ok(r) => (
            annotations(r.warnings.clone()),
            annotations(r.infos.clone()),
        ),
        Err(_) => (Vec::new(), Vec::new()),
    };
    let outcome = match r {
        Err(e) => Outcome::Error(error_type(e.kind()).into(), e.to_string()),
        Ok(r) => match r.value {
            Value::Scalar { t, v } => Outcome::Scalar(t, v),
            Value::String { t, s } => Outcome::Str(t, s),
            Value::Vector(v) => Outcome::Vector(
                v.into_iter()
                    .map(|s| (canon_labels(&s.labels), s.t, s.v))
                    .collect(),
            ),
            Value::Matrix(m) => Outcome::Matrix(
                m.into_iter()
                    .map(|s| (canon_labels(&s.labels), s.points))
                    .collect(),
            ),
        },
    };
    Answer {
        outcome,
        warnings,
        infos,
    }
}

/// An annotation without the ` (line:column)` suffix Prometheus appends: our parser does not
/// report positions, a known difference checked by [`super::annotation_positions_still_differ`].
pub(super) fn without_position(a: &str) -> &str {
    if let Some(open) = a.rfind(" (")
        && let Some(pos) = a[open + 2..].strip_suffix(')')
        && let Some((line, col)) = pos.split_once(':')
        && !line.is_empty()
        && !col.is_empty()
        && line.bytes().chain(col.bytes()).all(|b| b.is_ascii_digit())
    {
        return &a[..open];
    }
    a
}

/// A JSON `[t, "v"]` pair.
pub(super) fn json_point(p: &serde_json::Value) -> (i64, String) {
    let t = p[0].as_f64().expect("timestamp");
    let v = p[1].as_str().expect("value").to_string();
    ((t * 1000.0).round() as i64, v)
}

/// A float as Prometheus's API prints it.
pub(super) fn json_float(s: &str) -> f64 {
    match s {
        "NaN" => f64::NAN,
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        _ => s.parse().unwrap_or_else(|_| panic!("bad float {s:?}")),
    }
}

/// A JSON `metric` object as canonical label text.
pub(super) fn json_labels(m: &serde_json::Value) -> String {
    canon(
        m.as_object()
            .expect("metric object")
            .iter()
            .map(|(n, v)| (n.clone(), v.as_str().expect("label value").to_string()))
            .collect(),
    )
}

/// Prometheus's API answer as an [`Answer`].
pub(super) fn theirs(body: &str) -> Answer {
    let j: serde_json::Value = serde_json::from_str(body).expect("API answers JSON");
    if j["status"] != "success" {
        return Answer {
            outcome: Outcome::Error(
                j["errorType"].as_str().expect("errorType").into(),
                j["error"].as_str().unwrap_or_default().into(),
            ),
            warnings: Vec::new(),
            infos: Vec::new(),
        };
    }
    let strings = |key: &str| {
        annotations(
            j[key]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|s| without_position(s.as_str().expect("annotation")).to_string())
                        .collect()
                })
                .unwrap_or_default(),
        )
    };
    let d = &j["data"];
    let result = &d["result"];
    let outcome = match d["resultType"].as_str().expect("resultType") {
        "scalar" => {
            let (t, v) = json_point(result);
            Outcome::Scalar(t, json_float(&v))
        }
        "string" => {
            let (t, s) = json_point(result);
            Outcome::Str(t, s)
        }
        "vector" => Outcome::Vector(
            result
                .as_array()
                .expect("vector")
                .iter()
                .map(|s| {
                    assert!(s.get("histogram").is_none(), "no native histograms here");
                    let (t, v) = json_point(&s["value"]);
                    (json_labels(&s["metric"]), t, json_float(&v))
                })
                .collect(),
        ),
        "matrix" => Outcome::Matrix(
            result
                .as_array()
                .expect("matrix")
                .iter()
                .map(|s| {
                    assert!(s.get("histograms").is_none(), "no native histograms here");
                    let pts = s["values"]
                        .as_array()
                        .expect("values")
                        .iter()
                        .map(|p| {
                            let (t, v) = json_point(p);
                            (t, json_float(&v))
                        })
                        .collect();
                    (json_labels(&s["metric"]), pts)
                })
                .collect(),
        ),
        other => panic!("unknown resultType {other}"),
    };
    Answer {
        outcome,
        warnings: strings("warnings"),
        infos: strings("infos"),
    }
}

/// Equal within a relative 1e-9; zero exactly; NaN equals NaN; infinities by sign.
pub(super) fn same_float(a: f64, b: f64) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    if a == b {
        return true;
    }
    if a == 0.0 || b == 0.0 || a.is_infinite() || b.is_infinite() {
        return false;
    }
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

/// Why two answers differ, or `None` when they agree: first the outcomes, then the
/// annotations. `ordered`: the vector's order counts (only for `sort` and `sort_desc`, whose
/// ties may come in any order).
pub(super) fn difference(ours: &Answer, theirs: &Answer, ordered: bool) -> Option<String> {
    if let Some(d) = outcome_difference(&ours.outcome, &theirs.outcome, ordered) {
        return Some(d);
    }
    if !same_annotations(&ours.warnings, &theirs.warnings) {
        return Some(format!(
            "warnings: ours {:?}, Prometheus {:?}",
            ours.warnings, theirs.warnings
        ));
    }
    (!same_annotations(&ours.infos, &theirs.infos)).then(|| {
        format!(
            "infos: ours {:?}, Prometheus {:?}",
            ours.infos, theirs.infos
        )
    })
}

/// Whether our annotations equal Prometheus's. Its API shows at most 10 of each kind, chosen
/// in map order, followed by `N more warning annotations omitted` (or `info`): then ours
/// must hold the 10 shown and N more.
pub(super) fn same_annotations(ours: &[String], theirs: &[String]) -> bool {
    let omitted = theirs.iter().find_map(|a| {
        let n = a
            .strip_suffix(" more warning annotations omitted")
            .or_else(|| a.strip_suffix(" more info annotations omitted"))?;
        n.parse::<usize>().ok()
    });
    match omitted {
        None => ours == theirs,
        Some(n) => {
            let shown: Vec<&String> = theirs
                .iter()
                .filter(|a| !a.ends_with(" annotations omitted"))
                .collect();
            ours.len() == shown.len() + n && shown.iter().all(|a| ours.contains(a))
        }
    }
}

/// Why two outcomes differ, or `None` when they agree.
pub(super) fn outcome_difference(
    ours: &Outcome,
    theirs: &Outcome,
    ordered: bool,
) -> Option<String> {
    match (ours, theirs) {
        (Outcome::Error(a, m), Outcome::Error(b, n)) => {
            (a != b).then(|| format!("error kinds differ: ours {a} ({m}), Prometheus {b} ({n})"))
        }
        (Outcome::Scalar(t1, v1), Outcome::Scalar(t2, v2)) => (t1 != t2 || !same_float(*v1, *v2))
            .then(|| format!("scalar: ours {v1}@{t1}, Prometheus {v2}@{t2}")),
        (Outcome::Str(t1, s1), Outcome::Str(t2, s2)) => (t1 != t2 || s1 != s2)
            .then(|| format!("string: ours {s1:?}@{t1}, Prometheus {s2:?}@{t2}")),
        (Outcome::Vector(a), Outcome::Vector(b)) => {
            if a.len() != b.len() {
                return Some(format!(
                    "vector sizes: ours {}, Prometheus {}; ours {}; Prometheus {}",
                    a.len(),
                    b.len(),
                    brief_vector(a),
                    brief_vector(b)
                ));
            }
            if ordered && let Some(i) = (0..a.len()).find(|&i| !same_float(a[i].2, b[i].2)) {
                return Some(format!(
                    "order differs at {i}: ours {} {}, Prometheus {} {}",
                    a[i].0, a[i].2, b[i].0, b[i].2
                ));
            }
            let (mut a, mut b) = (a.clone(), b.clone());
            a.sort_by(|x, y| x.0.cmp(&y.0));
            b.sort_by(|x, y| x.0.cmp(&y.0));
            a.iter().zip(&b).find_map(|(x, y)| {
                (x.0 != y.0 || x.1 != y.1 || !same_float(x.2, y.2)).then(|| {
                    format!(
                        "sample: ours {} {}@{}, Prometheus {} {}@{}",
                        x.0, x.2, x.1, y.0, y.2, y.1
                    )
                })
            })
        }
        (Outcome::Matrix(a), Outcome::Matrix(b)) => {
            let (mut a, mut b) = (a.clone(), b.clone());
            a.sort_by(|x, y| x.0.cmp(&y.0));
            b.sort_by(|x, y| x.0.cmp(&y.0));
            if a.len() != b.len() {
                let names = |m: &[(String, Vec<(i64, f64)>)]| {
                    m.iter().map(|s| s.0.clone()).take(4).collect::<Vec<_>>()
                };
                return Some(format!(
                    "matrix sizes: ours {} {:?}, Prometheus {} {:?}",
                    a.len(),
                    names(&a),
                    b.len(),
                    names(&b)
                ));
            }
            a.iter().zip(&b).find_map(|(x, y)| {
                if x.0 != y.0 {
                    return Some(format!("series: ours {}, Prometheus {}", x.0, y.0));
                }
                if x.1.len() != y.1.len() {
                    return Some(format!(
                        "points of {}: ours {}, Prometheus {}",
                        x.0,
                        x.1.len(),
                        y.1.len()
                    ));
                }
                x.1.iter().zip(&y.1).find_map(|(p, q)| {
                    (p.0 != q.0 || !same_float(p.1, q.1)).then(|| {
                        format!(
                            "point of {}: ours {}@{}, Prometheus {}@{}",
                            x.0, p.1, p.0, q.1, q.0
                        )
                    })
                })
            })
        }
        (a, b) => Some(format!(
            "kinds differ: ours {}, Prometheus {}",
            brief(a),
            brief(b)
        )),
    }
}

/// A few samples of a vector, for messages.
pub(super) fn brief_vector(v: &[(String, i64, f64)]) -> String {
    let mut v = v.to_vec();
    v.sort_by(|x, y| x.0.cmp(&y.0));
    let shown: Vec<String> = v
        .iter()
        .take(3)
        .map(|s| format!("{} {}", s.0, s.2))
        .collect();
    shown.join("; ")
}

/// A short description of an outcome, for messages.
pub(super) fn brief(o: &Outcome) -> String {
    match o {
        Outcome::Error(k, m) => format!("error {k}: {m}"),
        Outcome::Scalar(t, v) => format!("scalar {v}@{t}"),
        Outcome::Str(t, s) => format!("string {s:?}@{t}"),
        Outcome::Vector(v) => format!("vector of {} [{}]", v.len(), brief_vector(v)),
        Outcome::Matrix(m) => format!("matrix of {}", m.len()),
    }
}
