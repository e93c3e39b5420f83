//! `tsdbctl query`: an instant or range query against a running server (tsdbd or
//! Prometheus) through its HTTP API (`/api/v1/query`, `/api/v1/query_range`).
//!
//! Output: a table, one row per series and sample (`SERIES VALUE TIMESTAMP`; a range
//! query gives one row per series per step, series by series, so `grep` and `sort` work
//! on it), or with `--json` the API's response body exactly as received. An API error is
//! printed as `errorType: error` and exits 1; warnings and infos go to stderr.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine as _;
use serde_json::Value;

use crate::output::{Table, rfc3339};

/// What to ask.
#[derive(Debug)]
pub(crate) enum Kind {
    /// An instant query at a time (ms), or the server's now.
    Instant(Option<i64>),
    /// A range query `[start, end]` (ms) every `step` ms.
    Range { start: i64, end: i64, step: i64 },
}

/// How to authenticate.
#[derive(Debug)]
pub(crate) enum Auth<'a> {
    None,
    Bearer(&'a Path),
    Basic { user: &'a str, password: &'a Path },
}

pub(crate) fn run(base: &str, expr: &str, kind: &Kind, auth: &Auth<'_>, json: bool) -> Result<()> {
    let base = base.trim_end_matches('/');
    let secs = |ms: i64| format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000));
    let (path, params) = match kind {
        Kind::Instant(t) => {
            let mut p = vec![("query", expr.to_owned())];
            if let Some(t) = t {
                p.push(("time", secs(*t)));
            }
            ("/api/v1/query", p)
        }
        Kind::Range { start, end, step } => (
            "/api/v1/query_range",
            vec![
                ("query", expr.to_owned()),
                ("start", secs(*start)),
                ("end", secs(*end)),
                ("step", secs(*step)),
            ],
        ),
    };
    let url = format!("{base}{path}");
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(300)))
        .build()
        .into();
    let mut req = agent.get(&url);
    for (k, v) in &params {
        req = req.query(*k, v);
    }
    match auth {
        Auth::None => {}
        Auth::Bearer(file) => {
            let token = read_secret(file)?;
            req = req.header("Authorization", &format!("Bearer {token}"));
        }
        Auth::Basic { user, password } => {
            let password = read_secret(password)?;
            let creds =
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            req = req.header("Authorization", &format!("Basic {creds}"));
        }
    }
    let mut resp = req.call().with_context(|| format!("GET {url}"))?;
    let status = resp.status();
    let body = resp
        .body_mut()
        .read_to_string()
        .with_context(|| format!("reading the answer of {url}"))?;
    let v: Value = serde_json::from_str(&body).map_err(|_| {
        anyhow!(
            "{url} answered HTTP {status} without Prometheus API JSON: {}",
            body.chars().take(200).collect::<String>().trim()
        )
    })?;
    let mut err = std::io::stderr().lock();
    for (key, what) in [("warnings", "warning"), ("infos", "info")] {
        for w in v[key].as_array().into_iter().flatten() {
            writeln!(err, "{what}: {}", w.as_str().unwrap_or_default())?;
        }
    }
    drop(err);
    let out = std::io::stdout();
    let mut out = out.lock();
    if json {
        writeln!(out, "{}", body.trim_end())?;
    }
    if v["status"] != "success" {
        bail!(
            "{}: {}",
            v["errorType"].as_str().unwrap_or("error"),
            v["error"]
                .as_str()
                .unwrap_or("the server answered without an error message")
        );
    }
    if !json {
        write_table(&mut out, &v["data"])?;
    }
    Ok(())
}

/// A secret from a file, without its trailing newline.
fn read_secret(path: &Path) -> Result<String> {
    let s = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(s.trim_end_matches(['\n', '\r']).to_owned())
}

/// `name{a="x", b="y"}` from a result's `metric` object.
fn series_name(metric: &Value) -> String {
    let Some(m) = metric.as_object() else {
        return String::new();
    };
    let name = m.get("__name__").and_then(Value::as_str).unwrap_or("");
    let labels: Vec<String> = m
        .iter()
        .filter(|(k, _)| *k != "__name__")
        .map(|(k, v)| format!("{k}={}", Value::String(v.as_str().unwrap_or("").to_owned())))
        .collect();
    if labels.is_empty() && !name.is_empty() {
        name.to_owned()
    } else {
        format!("{name}{{{}}}", labels.join(", "))
    }
}

/// `[t, "v"]` → (value, RFC 3339 time).
fn point(p: &Value) -> (String, String) {
    let t = p[0]
        .as_f64()
        .map_or(String::new(), |t| rfc3339((t * 1000.0).round() as i64));
    (p[1].as_str().unwrap_or("").to_owned(), t)
}

fn write_table(out: &mut impl Write, data: &Value) -> Result<()> {
    let result = &data["result"];
    let mut t = Table::new(&["SERIES", "VALUE", "TIMESTAMP"]);
    match data["resultType"].as_str() {
        Some("vector") => {
            for s in result.as_array().into_iter().flatten() {
                let (v, ts) = point(&s["value"]);
                t.row(vec![series_name(&s["metric"]), v, ts]);
            }
        }
        Some("matrix") => {
            for s in result.as_array().into_iter().flatten() {
                let name = series_name(&s["metric"]);
                for p in s["values"].as_array().into_iter().flatten() {
                    let (v, ts) = point(p);
                    t.row(vec![name.clone(), v, ts]);
                }
            }
        }
        Some("scalar" | "string") => {
            let (v, ts) = point(result);
            t.row(vec![String::new(), v, ts]);
        }
        other => bail!("unexpected resultType {other:?}"),
    }
    t.write(out)
}
