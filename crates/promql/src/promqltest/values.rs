//! The value notation of `.test` scripts (`1 _ 3 stale 0+10x5 {{…}}`) and the series
//! descriptions (`name{label="value"}`) they follow.

use tsdb::labels::{Label, Labels};

/// The bit pattern of Prometheus's staleness marker.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// The staleness marker as a float.
pub fn stale_nan() -> f64 {
    f64::from_bits(STALE_NAN_BITS)
}

/// Whether `v` is the staleness marker.
pub fn is_stale(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

/// One position of a value sequence.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum SeqValue {
    /// A float (the staleness marker included).
    Float(f64),
    /// A native histogram, kept as its literal text: we only recognise them.
    Histogram(String),
    /// No sample at this position (`_`).
    Omitted,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Blank,
    Num { v: f64, signed: bool },
    Times(u64),
    Histogram(String),
    HistOp,
}

fn lex(s: &str) -> Result<Vec<(Tok, bool)>, String> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut space = true;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            space = true;
            i += 1;
            continue;
        }
        let tok = if c == b'_' {
            i += 1;
            Tok::Blank
        } else if s[i..].starts_with("{{") {
            let end = s[i..]
                .find("}}")
                .ok_or_else(|| format!("unterminated histogram in {s:?}"))?;
            let body = s[i + 2..i + end].to_string();
            i += end + 2;
            Tok::Histogram(body)
        } else if (c == b'+' || c == b'-') && s[i + 1..].starts_with("{{") {
            i += 1;
            Tok::HistOp
        } else if c == b'x' {
            let start = i + 1;
            let mut j = start;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            let n = s[start..j]
                .parse::<u64>()
                .map_err(|_| format!("bad repetition count after 'x' in {s:?}"))?;
            i = j;
            Tok::Times(n)
        } else if c == b'+' || c == b'-' || c == b'.' || c.is_ascii_alphanumeric() {
            let signed = c == b'+' || c == b'-';
            let neg = c == b'-';
            let mut j = if signed { i + 1 } else { i };
            let rest = &s[j..];
            let lower = rest.to_ascii_lowercase();
            let v = if lower.starts_with("stale") && !signed {
                j += 5;
                stale_nan()
            } else if lower.starts_with("inf") {
                j += 3;
                f64::INFINITY
            } else if lower.starts_with("nan") {
                j += 3;
                f64::NAN
            } else {
                let start = j;
                while j < b.len() && (b[j].is_ascii_digit() || b[j] == b'.') {
                    j += 1;
                }
                if j < b.len() && (b[j] == b'e' || b[j] == b'E') {
                    let mut k = j + 1;
                    if k < b.len() && (b[k] == b'+' || b[k] == b'-') {
                        k += 1;
                    }
                    if k < b.len() && b[k].is_ascii_digit() {
                        while k < b.len() && b[k].is_ascii_digit() {
                            k += 1;
                        }
                        j = k;
                    }
                }
                s[start..j]
                    .parse::<f64>()
                    .map_err(|_| format!("bad number {:?} in {s:?}", &s[i..j.max(i + 1)]))?
            };
            i = j;
            Tok::Num {
                v: if neg { -v } else { v },
                signed,
            }
        } else {
            return Err(format!("unexpected character {:?} in {s:?}", c as char));
        };
        out.push((tok, space));
        space = false;
    }
    Ok(out)
}

/// Parses a list of values in the notation of §2 of the test-suite spec.
pub fn parse_values(s: &str) -> Result<Vec<SeqValue>, String> {
    let toks = lex(s)?;
    let mut out = Vec::new();
    let mut i = 0;
    let glued = |k: usize| toks.get(k).filter(|(_, space)| !space).map(|(t, _)| t);
    while i < toks.len() {
        let (tok, _) = &toks[i];
        match tok {
            Tok::Blank => {
                if let Some(Tok::Times(n)) = glued(i + 1) {
                    out.extend((0..*n).map(|_| SeqValue::Omitted));
                    i += 2;
                } else {
                    out.push(SeqValue::Omitted);
                    i += 1;
                }
            }
            Tok::Num { v, .. } => match (glued(i + 1), glued(i + 2)) {
                (Some(Tok::Times(n)), _) => {
                    out.extend((0..=*n).map(|_| SeqValue::Float(*v)));
                    i += 2;
                }
                (Some(Tok::Num { v: d, signed: true }), Some(Tok::Times(n))) => {
                    let mut cur = *v;
                    for _ in 0..=*n {
                        out.push(SeqValue::Float(cur));
                        cur += d;
                    }
                    i += 3;
                }
                (Some(Tok::Num { .. }), _) => {
                    return Err(format!("expected 'x' after an increment in {s:?}"));
                }
                _ => {
                    out.push(SeqValue::Float(*v));
                    i += 1;
                }
            },
            Tok::Histogram(h) => {
                // `{{A}}xN`, `{{A}}+{{B}}xN`, `{{A}}-{{B}}xN`: the copies are recognised, not computed.
                let mut n = 0;
                let mut step = 1;
                if let Some(Tok::Times(k)) = glued(i + 1) {
                    n = *k;
                    step = 2;
                } else if let Some(Tok::HistOp) = glued(i + 1) {
                    match (glued(i + 2), glued(i + 3)) {
                        (Some(Tok::Histogram(_)), Some(Tok::Times(k))) => {
                            n = *k;
                            step = 4;
                        }
                        _ => {
                            return Err(format!(
                                "expected 'x' after a histogram increment in {s:?}"
                            ));
                        }
                    }
                }
                out.extend((0..=n).map(|_| SeqValue::Histogram(h.clone())));
                i += step;
            }
            Tok::Times(_) => return Err(format!("unexpected 'x' in {s:?}")),
            Tok::HistOp => return Err(format!("unexpected histogram operator in {s:?}")),
        }
    }
    Ok(out)
}

/// Parses a series description `name{a="b",…}` (or `{__name__="n",…}`, or `{}`) at the start
/// of `s`. Returns the labels and the rest of the line.
pub fn parse_series(s: &str) -> Result<(Labels, &str), String> {
    let s = s.trim_start();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b':') {
        i += 1;
    }
    let mut labels = Vec::new();
    if i > 0 {
        labels.push(Label::new("__name__", &s[..i]));
    }
    if i < b.len() && b[i] == b'{' {
        i += 1;
        loop {
            while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b',') {
                i += 1;
            }
            if i >= b.len() {
                return Err(format!("unterminated label set in {s:?}"));
            }
            if b[i] == b'}' {
                i += 1;
                break;
            }
            let (name, ni) = if matches!(b[i], b'"' | b'\'' | b'`') {
                unquote(s, i)?
            } else {
                let st = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                if st == i {
                    return Err(format!("expected a label name at {:?}", &s[st..]));
                }
                (s[st..i].to_string(), i)
            };
            i = ni;
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
            if i < b.len() && b[i] == b'=' {
                i += 1;
            } else if i < b.len() && matches!(b[i], b',' | b'}') && labels.is_empty() {
                // `{"metric.name"}`: a quoted metric name.
                labels.push(Label::new("__name__", &name));
                continue;
            } else {
                return Err(format!("expected '=' after label {name:?} in {s:?}"));
            }
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
            if i >= b.len() || !matches!(b[i], b'"' | b'\'' | b'`') {
                return Err(format!("expected a quoted label value in {s:?}"));
            }
            let (value, ni) = unquote(s, i)?;
            i = ni;
            labels.push(Label::new(&name, &value));
        }
    } else if i == 0 {
        return Err(format!("expected a series description at {s:?}"));
    }
    Ok((Labels::new(labels), &s[i..]))
}

/// Reads a Go-quoted string starting at byte `i` (a quote); returns it and the index after it.
fn unquote(s: &str, i: usize) -> Result<(String, usize), String> {
    let b = s.as_bytes();
    let q = b[i];
    let mut out = String::new();
    let mut chars = s[i + 1..].char_indices();
    while let Some((k, c)) = chars.next() {
        if c as u32 == q as u32 {
            return Ok((out, i + 1 + k + 1));
        }
        if c == '\\' && q != b'`' {
            match chars.next() {
                Some((_, 'n')) => out.push('\n'),
                Some((_, 't')) => out.push('\t'),
                Some((_, 'r')) => out.push('\r'),
                Some((_, '\\')) => out.push('\\'),
                Some((_, '"')) => out.push('"'),
                Some((_, '\'')) => out.push('\''),
                Some((_, 'u')) => {
                    let hex: String = (0..4)
                        .filter_map(|_| chars.next().map(|(_, c)| c))
                        .collect();
                    let c = u32::from_str_radix(&hex, 16)
                        .ok()
                        .and_then(char::from_u32)
                        .ok_or_else(|| format!("bad \\u escape in {s:?}"))?;
                    out.push(c);
                }
                Some((_, c)) => {
                    out.push('\\');
                    out.push(c);
                }
                None => break,
            }
        } else {
            out.push(c);
        }
    }
    Err(format!("unterminated string in {s:?}"))
}

/// Parses a number the way Go's test runner does for scalar result lines: an integer
/// (with `0x`/`0o`/`0b` prefixes), else a float (`NaN`, `Inf` included).
pub fn parse_number(s: &str) -> Option<f64> {
    let s = s.trim();
    let (neg, body) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let lower = body.to_ascii_lowercase();
    let int = if let Some(h) = lower.strip_prefix("0x") {
        i64::from_str_radix(h, 16).ok()
    } else if let Some(o) = lower.strip_prefix("0o") {
        i64::from_str_radix(o, 8).ok()
    } else if let Some(bi) = lower.strip_prefix("0b") {
        i64::from_str_radix(bi, 2).ok()
    } else if lower.len() > 1 && lower.starts_with('0') && lower.bytes().all(|c| c.is_ascii_digit())
    {
        i64::from_str_radix(&lower[1..], 8).ok()
    } else if !lower.is_empty() && lower.bytes().all(|c| c.is_ascii_digit()) {
        lower.parse::<i64>().ok()
    } else {
        None
    };
    if let Some(v) = int {
        let v = v as f64;
        return Some(if neg { -v } else { v });
    }
    if lower.is_empty()
        || !lower
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b".+-_".contains(&c))
    {
        return None;
    }
    let v = match lower.as_str() {
        "inf" | "infinity" => f64::INFINITY,
        "nan" => f64::NAN,
        _ if lower
            .bytes()
            .next()
            .is_some_and(|c| c.is_ascii_digit() || c == b'.') =>
        {
            lower.parse::<f64>().ok()?
        }
        _ => return None,
    };
    Some(if neg { -v } else { v })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn floats(s: &str) -> Vec<Option<f64>> {
        parse_values(s)
            .unwrap()
            .into_iter()
            .map(|v| match v {
                SeqValue::Float(f) => Some(f),
                SeqValue::Omitted => None,
                SeqValue::Histogram(_) => panic!("histogram"),
            })
            .collect()
    }

    #[test]
    fn plain_numbers() {
        assert_eq!(
            floats("1 -2.5 .8 1e-3 9.9e+307 Inf -Inf"),
            vec![
                Some(1.0),
                Some(-2.5),
                Some(0.8),
                Some(1e-3),
                Some(9.9e307),
                Some(f64::INFINITY),
                Some(f64::NEG_INFINITY)
            ]
        );
        let v = floats("NaN nan INF");
        assert!(v[0].unwrap().is_nan() && v[1].unwrap().is_nan());
        assert_eq!(v[2], Some(f64::INFINITY));
    }

    #[test]
    fn stale_and_blanks() {
        let v = floats("1 _x2 stale _");
        assert_eq!(v.len(), 5);
        assert_eq!(v[1], None);
        assert_eq!(v[2], None);
        assert!(is_stale(v[3].unwrap()));
        assert_eq!(v[4], None);
        let v = floats("stalex2");
        assert_eq!(v.len(), 3);
        assert!(v.iter().all(|x| is_stale(x.unwrap())));
    }

    #[test]
    fn repetitions_and_series() {
        assert_eq!(floats("5x2"), vec![Some(5.0); 3]);
        assert_eq!(
            floats("0+10x3"),
            vec![Some(0.0), Some(10.0), Some(20.0), Some(30.0)]
        );
        assert_eq!(floats("10-2x2"), vec![Some(10.0), Some(8.0), Some(6.0)]);
        assert_eq!(floats("-1+1x2"), vec![Some(-1.0), Some(0.0), Some(1.0)]);
        assert_eq!(floats("1 -2"), vec![Some(1.0), Some(-2.0)]);
        assert_eq!(floats("1e3x1"), vec![Some(1000.0); 2]);
        assert_eq!(floats("_x0"), Vec::<Option<f64>>::new());
        assert!(parse_values("1+2").is_err());
        assert!(parse_values("x3").is_err());
    }

    #[test]
    fn histograms_are_recognised() {
        let v = parse_values(
            "1 {{schema:0 sum:5 count:4 buckets:[1 2 1]}} {{}}x2 {{count:1}}+{{count:2}}x1",
        )
        .unwrap();
        assert_eq!(v.len(), 1 + 1 + 3 + 2);
        assert_eq!(
            v[1],
            SeqValue::Histogram("schema:0 sum:5 count:4 buckets:[1 2 1]".into())
        );
        assert!(v[2..].iter().all(|x| matches!(x, SeqValue::Histogram(_))));
    }

    #[test]
    fn series_descriptions() {
        let (l, rest) = parse_series(r#"http_requests{job="api", instance="0"}  0+10x10"#).unwrap();
        assert_eq!(
            l,
            Labels::from_pairs(&[
                ("__name__", "http_requests"),
                ("instance", "0"),
                ("job", "api")
            ])
        );
        assert_eq!(rest.trim(), "0+10x10");
        let (l, _) = parse_series(r#"{__name__="a",b="c\"d"} 1"#).unwrap();
        assert_eq!(l, Labels::from_pairs(&[("__name__", "a"), ("b", "c\"d")]));
        let (l, rest) = parse_series("{} 5").unwrap();
        assert!(l.is_empty());
        assert_eq!(rest.trim(), "5");
        let (l, _) = parse_series(r#"x{a=""} 1"#).unwrap();
        assert_eq!(l, Labels::from_pairs(&[("__name__", "x")]));
        let (l, _) = parse_series(r#"{"some.metric", "a.b"='c'} 1"#).unwrap();
        assert_eq!(
            l,
            Labels::from_pairs(&[("__name__", "some.metric"), ("a.b", "c")])
        );
        assert!(parse_series("{a=b} 1").is_err());
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_number("5"), Some(5.0));
        assert_eq!(parse_number("-0x10"), Some(-16.0));
        assert_eq!(parse_number("1.5e3"), Some(1500.0));
        assert!(parse_number("NaN").unwrap().is_nan());
        assert_eq!(parse_number("-Inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_number("{} 5"), None);
        assert_eq!(parse_number("foo"), None);
    }
}
