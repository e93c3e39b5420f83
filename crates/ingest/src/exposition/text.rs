//! One line of the Prometheus text format or of OpenMetrics text: a comment, a blank
//! line or a sample.

use super::error::{ParseErrorKind, excerpt};
use super::{Sample, parse_seconds, parse_value};

/// What a line held.
pub(super) enum Line {
    /// A sample, now in the [`Sample`].
    Sample,
    /// OpenMetrics' `# EOF` (in the text format, an ordinary comment).
    Eof,
    /// A comment or a blank line.
    Other,
}

const TEXT_TYPES: &[&str] = &["counter", "gauge", "histogram", "summary", "untyped"];
const OM_TYPES: &[&str] = &[
    "counter",
    "gauge",
    "histogram",
    "gaugehistogram",
    "stateset",
    "info",
    "summary",
    "unknown",
];

fn unexpected(expected: &'static str, rest: &str) -> ParseErrorKind {
    ParseErrorKind::Unexpected {
        expected,
        found: excerpt(rest),
    }
}

fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// Parses `line` (UTF-8, without line ending) into `sample`.
pub(super) fn parse_line(
    line: &str,
    om: bool,
    sample: &mut Sample,
) -> Result<Line, ParseErrorKind> {
    let s = if om {
        line
    } else {
        line.trim_matches(is_blank)
    };
    if s.is_empty() {
        return Ok(Line::Other);
    }
    if let Some(rest) = s.strip_prefix('#') {
        return comment(rest, om);
    }
    parse_sample(s, om, sample)?;
    Ok(Line::Sample)
}

fn comment(rest: &str, om: bool) -> Result<Line, ParseErrorKind> {
    let body = if om {
        match rest.strip_prefix(' ') {
            Some(b) => b,
            None => {
                return Err(ParseErrorKind::InvalidComment {
                    reason: "OpenMetrics comments start with \"# \"",
                });
            }
        }
    } else {
        rest.trim_start_matches(is_blank)
    };
    if body == "EOF" {
        return Ok(Line::Eof);
    }
    let (keyword, rest) = body.split_once(is_blank).unwrap_or((body, ""));
    let keyword_known = matches!(keyword, "HELP" | "TYPE") || (om && keyword == "UNIT");
    if !keyword_known {
        if om {
            return Err(ParseErrorKind::InvalidComment {
                reason: "OpenMetrics allows only # HELP, # TYPE, # UNIT and # EOF",
            });
        }
        return Ok(Line::Other);
    }
    let rest = rest.trim_start_matches(is_blank);
    let (name, text) = match rest.strip_prefix('"') {
        Some(_) => {
            let mut scratch = String::new();
            let after = quoted(rest, &mut scratch)?;
            (scratch, after)
        }
        None => {
            let end = rest.find(is_blank).unwrap_or(rest.len());
            (rest[..end].to_owned(), &rest[end..])
        }
    };
    if name.is_empty() || (!rest.starts_with('"') && !is_metric_name(&name)) {
        return Err(ParseErrorKind::InvalidComment {
            reason: "# HELP, # TYPE and # UNIT need a valid metric name",
        });
    }
    if keyword == "TYPE" {
        let typ = text.trim_matches(is_blank);
        let types = if om { OM_TYPES } else { TEXT_TYPES };
        if !types.contains(&typ) {
            return Err(ParseErrorKind::InvalidType { typ: excerpt(typ) });
        }
    }
    Ok(Line::Other)
}

pub(super) fn is_metric_name(s: &str) -> bool {
    let mut b = s.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_alphabetic() || c == b'_' || c == b':')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b':')
}

pub(super) fn is_label_name(s: &str) -> bool {
    let mut b = s.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_alphabetic() || c == b'_')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

/// Reads the quoted string at the start of `s` (which starts with `"`), unescaping it
/// onto `out`; returns what follows the closing quote.
fn quoted<'a>(s: &'a str, out: &mut String) -> Result<&'a str, ParseErrorKind> {
    let body = &s[1..];
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok(&body[i + 1..]),
            '\\' => match chars.next() {
                Some((_, '\\')) => out.push('\\'),
                Some((_, '"')) => out.push('"'),
                Some((_, 'n')) => out.push('\n'),
                // Prometheus keeps other escapes as they are written.
                Some((_, e)) => {
                    out.push('\\');
                    out.push(e);
                }
                None => return Err(ParseErrorKind::UnterminatedQuote),
            },
            c => out.push(c),
        }
    }
    Err(ParseErrorKind::UnterminatedQuote)
}

fn parse_sample(s: &str, om: bool, sample: &mut Sample) -> Result<(), ParseErrorKind> {
    let name_end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(s.len());
    let name = &s[..name_end];
    let mut rest = &s[name_end..];
    let mut have_name = false;
    if !name.is_empty() {
        if !is_metric_name(name) {
            return Err(unexpected("a metric name", s));
        }
        sample.push("__name__", name);
        have_name = true;
    } else if !rest.starts_with('{') {
        return Err(unexpected("a metric name", s));
    }
    if !om && rest.trim_start_matches(is_blank).starts_with('{') {
        rest = rest.trim_start_matches(is_blank);
    }
    if let Some(r) = rest.strip_prefix('{') {
        rest = label_set(r, om, have_name, sample)?;
    }
    // The value, after at least one blank.
    let r = rest.trim_start_matches(is_blank);
    if r.len() == rest.len() {
        return Err(unexpected("a blank before the value", rest));
    }
    let end = r.find(is_blank).unwrap_or(r.len());
    let token = &r[..end];
    if token.is_empty() {
        return Err(unexpected("a value", r));
    }
    sample.value = parse_value(token).ok_or_else(|| ParseErrorKind::InvalidValue {
        token: excerpt(token),
    })?;
    let r = r[end..].trim_start_matches(is_blank);
    if r.is_empty() {
        return Ok(());
    }
    if om && r.starts_with('#') {
        return exemplar(r);
    }
    let end = r.find(is_blank).unwrap_or(r.len());
    let token = &r[..end];
    let ts = if om {
        parse_seconds(token)
    } else {
        token.parse::<i64>().ok()
    };
    sample.timestamp = Some(ts.ok_or_else(|| ParseErrorKind::InvalidTimestamp {
        token: excerpt(token),
    })?);
    let r = r[end..].trim_start_matches(is_blank);
    if r.is_empty() {
        return Ok(());
    }
    if om && r.starts_with('#') {
        return exemplar(r);
    }
    Err(unexpected("the end of the line", r))
}

/// An OpenMetrics exemplar, `# {labels} value [timestamp]`: checked for its shape only,
/// then ignored.
fn exemplar(r: &str) -> Result<(), ParseErrorKind> {
    let r = r[1..].trim_start_matches(is_blank);
    let Some(r) = r.strip_prefix('{') else {
        return Err(unexpected("an exemplar's label set", r));
    };
    let mut scratch = Sample::default();
    let r = label_set(r, true, true, &mut scratch)?;
    if r.trim_matches(is_blank).is_empty() {
        return Err(unexpected("an exemplar's value", r));
    }
    Ok(())
}

/// Parses the labels after `{` up to and including `}`; returns what follows.
fn label_set<'a>(
    mut r: &'a str,
    om: bool,
    mut have_name: bool,
    sample: &mut Sample,
) -> Result<&'a str, ParseErrorKind> {
    let trim = |x: &'a str| {
        if om {
            x
        } else {
            x.trim_start_matches(is_blank)
        }
    };
    loop {
        r = trim(r);
        if let Some(after) = r.strip_prefix('}') {
            return Ok(after);
        }
        let name_start = sample.buf.len();
        let quoted_name = r.starts_with('"');
        if quoted_name {
            r = quoted(r, &mut sample.buf)?;
        } else {
            let end = r
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(r.len());
            if end == 0 {
                return Err(unexpected("a label name", r));
            }
            sample.buf.push_str(&r[..end]);
            r = &r[end..];
        }
        r = trim(r);
        if let Some(after) = r.strip_prefix('=') {
            let value_start = sample.buf.len();
            let name = &sample.buf[name_start..value_start];
            if name.is_empty() || (!quoted_name && !is_label_name(name)) {
                return Err(ParseErrorKind::InvalidLabelName {
                    name: excerpt(name),
                });
            }
            r = trim(after);
            if !r.starts_with('"') {
                return Err(unexpected("a quoted label value", r));
            }
            r = quoted(r, &mut sample.buf)?;
            sample.end_value(name_start, value_start);
        } else if quoted_name && !have_name {
            // `{"metric.name", ...}`: the metric name inside the braces.
            let name = sample.buf[name_start..].to_owned();
            sample.buf.truncate(name_start);
            if name.is_empty() {
                return Err(ParseErrorKind::MissingMetricName);
            }
            sample.push("__name__", &name);
            have_name = true;
        } else {
            return Err(unexpected("= after a label name", r));
        }
        r = trim(r);
        if let Some(after) = r.strip_prefix(',') {
            r = after;
        } else if !r.starts_with('}') {
            return Err(unexpected(", or } after a label", r));
        }
    }
}
