//! Request parameters parsed the way Prometheus's API parses them: form values from a
//! `application/x-www-form-urlencoded` body and the URL (the body first, as Go's
//! `Request.FormValue`), times as float seconds or RFC 3339, durations as float seconds or
//! Prometheus durations (`5m`, `1h30m`), `match[]` series selectors and `limit`.

use axum::http::{HeaderMap, Uri, header};
use tsdb::labels::Matcher;

use super::response::ApiError;
use tsdb::timestamp::{civil_from_days, parse_rfc3339};
use tsdb::units::parse_duration_ms;

/// Prometheus's `MinTime` (the default `start`) in ms: `math.MinInt64/1000 + 62135596801` s.
pub(crate) const MIN_TIME: i64 = (i64::MIN / 1000 + 62_135_596_801) * 1000;
/// Prometheus's `MaxTime` (the default `end`) in ms: `math.MaxInt64/1000 - 62135596801` s
/// plus 999 ms.
pub(crate) const MAX_TIME: i64 = (i64::MAX / 1000 - 62_135_596_801) * 1000 + 999;

/// A request's parameters, in Go's `Request.Form` order (body values, then URL values).
#[derive(Debug, Default)]
pub(crate) struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// Collects the parameters of a request: the form body (when the content type says so)
    /// and the URL query.
    pub(crate) fn new(uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Params {
        let mut pairs = Vec::new();
        let is_form = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| {
                ct.split(';').next().is_some_and(|m| {
                    m.trim()
                        .eq_ignore_ascii_case("application/x-www-form-urlencoded")
                })
            });
        if is_form {
            pairs.extend(form_urlencoded::parse(body).into_owned());
        }
        if let Some(q) = uri.query() {
            pairs.extend(form_urlencoded::parse(q.as_bytes()).into_owned());
        }
        Params { pairs }
    }

    /// The first value of `name`, or `""` (Go's `FormValue`).
    pub(crate) fn get(&self, name: &str) -> &str {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// Every value of `name`, in order.
    pub(crate) fn all(&self, name: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// A time parameter in ms, or `default` when absent.
    pub(crate) fn time_or(&self, name: &str, default: i64) -> Result<i64, ApiError> {
        let v = self.get(name);
        if v.is_empty() {
            return Ok(default);
        }
        parse_time(v).map_err(|e| {
            ApiError::invalid_param(name, format!("invalid time value for '{name}': {e}"))
        })
    }

    /// A required time parameter in ms (`query_range`'s `start` and `end`).
    pub(crate) fn time(&self, name: &str) -> Result<i64, ApiError> {
        parse_time(self.get(name)).map_err(|e| ApiError::invalid_param(name, e))
    }

    /// An optional duration parameter, in ns.
    pub(crate) fn duration(&self, name: &str) -> Result<Option<i64>, ApiError> {
        let v = self.get(name);
        if v.is_empty() {
            return Ok(None);
        }
        parse_duration(v)
            .map(Some)
            .map_err(|e| ApiError::invalid_param(name, e))
    }

    /// The `limit` parameter: 0 (no limit) when absent.
    pub(crate) fn limit(&self) -> Result<usize, ApiError> {
        parse_limit(self.get("limit")).map_err(|e| ApiError::invalid_param("limit", e))
    }
}

/// Parses a time: float seconds (the fraction rounded to ms) or RFC 3339 (also the
/// renderings of [`MIN_TIME`] and [`MAX_TIME`]). Returns ms.
pub(crate) fn parse_time(s: &str) -> Result<i64, String> {
    if let Some(f) = parse_go_float(s) {
        let secs = f.trunc();
        let ms = ((f - secs) * 1000.0).round();
        // Saturating float-to-int conversions; Go wraps, but no real client sends such times.
        return Ok((secs as i64).saturating_mul(1000).saturating_add(ms as i64));
    }
    if let Some(t) = parse_rfc3339(s) {
        return Ok(t);
    }
    Err(format!("cannot parse {s:?} to a valid timestamp"))
}

/// `strconv.ParseFloat`'s syntax, near enough: decimal and exponent forms, `Inf`, `NaN`.
/// Rust's parser also accepts those; reject the few spellings Go does not (`infinity` is
/// accepted by both).
fn parse_go_float(s: &str) -> Option<f64> {
    if s.is_empty() || s.starts_with('.') && s.len() == 1 {
        return None;
    }
    s.parse::<f64>().ok()
}

/// Formats a time in ns since the epoch as RFC 3339 with nanoseconds, in UTC (Go's
/// `time.RFC3339Nano`: trailing zeros of the fraction dropped).
pub(crate) fn format_rfc3339_nanos(ns: i128) -> String {
    let secs = ns.div_euclid(1_000_000_000) as i64;
    let nanos = ns.rem_euclid(1_000_000_000) as u32;
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    let mut s = format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        sod / 3600,
        sod / 60 % 60,
        sod % 60
    );
    if nanos > 0 {
        let frac = format!("{nanos:09}");
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    s.push('Z');
    s
}

/// Parses a duration: float seconds or a Prometheus duration (`1h30m`, units `ms s m h d w
/// y` in that order of size, each at most once). Returns ns.
pub(crate) fn parse_duration(s: &str) -> Result<i64, String> {
    if let Some(f) = parse_go_float(s) {
        let ns = f * 1e9;
        if ns.is_nan() || ns >= i64::MAX as f64 || ns < i64::MIN as f64 {
            return Err(format!(
                "cannot parse {s:?} to a valid duration. It overflows int64"
            ));
        }
        return Ok(ns as i64);
    }
    prometheus_duration(s)
        .map(|ms| ms * 1_000_000)
        .ok_or_else(|| format!("cannot parse {s:?} to a valid duration"))
}

/// `model.ParseDuration` (the syntax of flags and the config file, [`tsdb::units`]) in ms,
/// `None` when invalid or when it overflows Go's int64 nanoseconds.
pub(crate) fn prometheus_duration(s: &str) -> Option<i64> {
    let ms = parse_duration_ms(s).ok()?;
    ms.checked_mul(1_000_000)?;
    Some(ms)
}

/// `parseLimitParam`: an integer ≥ 0 (0 = no limit), `""` = 0.
fn parse_limit(s: &str) -> Result<usize, String> {
    if s.is_empty() {
        return Ok(0);
    }
    let n: i64 = s
        .parse()
        .map_err(|_| format!("strconv.Atoi: parsing {s:?}: invalid syntax"))?;
    usize::try_from(n).map_err(|_| "limit must be non-negative".to_string())
}

/// Parses one series selector (`up`, `{job="x"}`, `up{job=~"a|b"}`) into matchers.
pub(crate) fn parse_selector(s: &str) -> Result<Vec<Matcher>, String> {
    promql::engine::parse_selector(s).map_err(|e| e.to_string())
}

/// `parseMatchersParam`: every selector must have a matcher that does not match the empty
/// string.
pub(crate) fn parse_match_sets(values: &[&str]) -> Result<Vec<Vec<Matcher>>, String> {
    const EMPTY: &str = "match[] must contain at least one non-empty matcher";
    let mut sets = Vec::with_capacity(values.len());
    for v in values {
        // promql-parser itself rejects selectors whose matchers all match the empty string,
        // which Prometheus's selector parser accepts and this check then refuses.
        sets.push(parse_selector(v).map_err(|e| {
            if e.contains("at least one non-empty matcher") {
                EMPTY.to_string()
            } else {
                e
            }
        })?);
    }
    if sets.iter().any(|ms| ms.iter().all(Matcher::matches_empty)) {
        return Err(EMPTY.into());
    }
    Ok(sets)
}

/// Undoes Prometheus's `U__` label-name escaping (`model.UnescapeName` with value
/// encoding): `__` is `_`, `_<hex>_` a code point, anything else itself. Returns the name
/// unchanged when it is not a valid escape.
pub(crate) fn unescape_label_name(name: &str) -> String {
    let Some(body) = name.strip_prefix("U__") else {
        return name.to_string();
    };
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '_' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'_') {
            chars.next();
            out.push('_');
            continue;
        }
        let mut hex = String::new();
        loop {
            match chars.next() {
                Some('_') => break,
                Some(h) if h.is_ascii_hexdigit() => hex.push(h),
                _ => return name.to_string(),
            }
        }
        match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
            Some(ch) => out.push(ch),
            None => return name.to_string(),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_as_float_seconds_or_rfc3339() {
        assert_eq!(parse_time("4"), Ok(4000));
        assert_eq!(parse_time("1435781451.781"), Ok(1_435_781_451_781));
        assert_eq!(parse_time("1.0015"), Ok(1002));
        assert_eq!(parse_time("-1.5"), Ok(-1500));
        assert_eq!(parse_time("1e3"), Ok(1_000_000));
        assert_eq!(
            parse_time("2015-07-01T20:10:51.781Z"),
            Ok(1_435_781_451_781)
        );
        assert_eq!(
            parse_time("2015-07-01T22:10:51+02:00"),
            Ok(1_435_781_451_000)
        );
        assert_eq!(parse_time("1970-01-01T00:00:00.0009Z"), Ok(0));
        assert!(parse_time("abc").is_err());
        assert!(parse_time("").is_err());
        assert!(parse_time("2015-13-01T00:00:00Z").is_err());
        assert!(parse_time("2015-02-29T00:00:00Z").is_err());
        assert_eq!(
            parse_time("abc").unwrap_err(),
            "cannot parse \"abc\" to a valid timestamp"
        );
    }

    #[test]
    fn min_and_max_time_round_trip_through_their_rendering() {
        let min = format_rfc3339_nanos(i128::from(MIN_TIME) * 1_000_000);
        let max = format_rfc3339_nanos(i128::from(MAX_TIME / 1000) * 1_000_000_000 + 999_999_999);
        assert_eq!(parse_time(&min), Ok(MIN_TIME));
        assert_eq!(parse_time(&max), Ok(MAX_TIME));
        assert_eq!(
            format_rfc3339_nanos(1_435_781_451_781_000_000),
            "2015-07-01T20:10:51.781Z"
        );
        assert_eq!(format_rfc3339_nanos(0), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn durations_parse_as_seconds_or_prometheus_units() {
        assert_eq!(parse_duration("15"), Ok(15_000_000_000));
        assert_eq!(parse_duration("0.5"), Ok(500_000_000));
        assert_eq!(parse_duration("5m"), Ok(300_000_000_000));
        assert_eq!(parse_duration("1h30m"), Ok(5_400_000_000_000));
        assert_eq!(parse_duration("250ms"), Ok(250_000_000));
        assert_eq!(parse_duration("1d"), Ok(86_400_000_000_000));
        assert!(parse_duration("5ns").is_err());
        assert!(parse_duration("30m1h").is_err());
        assert!(parse_duration("1h1h").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("1e300").unwrap_err().contains("overflows"));
    }

    #[test]
    fn limits_and_matchers() {
        assert_eq!(parse_limit(""), Ok(0));
        assert_eq!(parse_limit("5"), Ok(5));
        assert_eq!(parse_limit("-1").unwrap_err(), "limit must be non-negative");
        assert!(parse_limit("x").is_err());
        let sets = parse_match_sets(&["up", r#"{__name__="up",job=~"a|b"}"#]).expect("valid");
        assert_eq!(sets.len(), 2);
        assert_eq!(sets[0].len(), 1);
        assert!(parse_match_sets(&[r#"{job=~".*"}"#]).is_err());
        assert!(parse_match_sets(&["rate(up[5m])"]).is_err());
        assert!(parse_match_sets(&["up{"]).is_err());
    }

    #[test]
    fn params_take_the_body_first_then_the_url() {
        let uri: Uri = "/api/v1/series?match[]=a&time=1".parse().expect("uri");
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            "application/x-www-form-urlencoded; charset=utf-8"
                .parse()
                .expect("header"),
        );
        let p = Params::new(&uri, &h, b"match%5B%5D=b&time=2");
        assert_eq!(p.all("match[]"), ["b", "a"]);
        assert_eq!(p.get("time"), "2");
        assert_eq!(p.get("absent"), "");
        let p = Params::new(&uri, &HeaderMap::new(), b"time=2");
        assert_eq!(p.get("time"), "1");
    }

    #[test]
    fn escaped_label_names() {
        assert_eq!(
            unescape_label_name("U__http_2e_status__code"),
            "http.status_code"
        );
        assert_eq!(unescape_label_name("job"), "job");
        assert_eq!(unescape_label_name("U__bad_zz_"), "U__bad_zz_");
    }
}
