//! Streaming parsers for the text formats samples are backfilled from: the Prometheus
//! text exposition format 0.0.4, OpenMetrics 1.0 text, and CSV with a header row.
//!
//! Sans-I/O and line by line: the caller reads lines (without the `\n`; a trailing `\r`
//! is dropped) and hands each to [`Parser::parse_line`], which returns the line's sample,
//! if any, borrowed from a buffer the parser reuses. Nothing else is kept between lines
//! but the CSV header and whether OpenMetrics' `# EOF` was seen, so input of any size
//! parses in constant memory. Errors carry the 1-based line number ([`ParseError`]).
//!
//! * [`Format::Text`] (`text/plain; version=0.0.4`, Prometheus's `model/textparse`
//!   `PromParser`): `name{label="value",...} value [timestamp_ms]`; `#` lines are
//!   comments, of which `# HELP` and `# TYPE` are checked.
//! * [`Format::OpenMetrics`] (`model/textparse` `OpenMetricsParser`): timestamps are
//!   seconds (a decimal fraction, truncated to milliseconds as Prometheus does), only
//!   `# HELP`, `# TYPE`, `# UNIT` and `# EOF` comments, the input must end with `# EOF`,
//!   and exemplars (` # {...} value [ts]` after a sample) are ignored. Counters' `_created`
//!   lines are ordinary samples of the series `<name>_created`, as
//!   `promtool tsdb create-blocks-from openmetrics` 3.5 stores them.
//! * [`Format::Csv`]: see [`csv`] for the columns and the timestamp rule.
//!
//! In the first two, label values unescape `\\`, `\"` and `\n` (other backslashes stay
//! as written, as in Prometheus); a label with an empty
//! value is absent (as in Prometheus); metric and label names may also be quoted
//! (`{"my.metric", "my.label"="v"}`, Prometheus 3's UTF-8 names). Values are floats,
//! including `NaN`, `+Inf` and `-Inf`; a `NaN` is stored as Prometheus's "normal" NaN
//! (`0x7ff8000000000001`), never as the stale marker.

pub mod csv;
mod error;
#[cfg(test)]
mod tests;
mod text;

use tsdb::labels::{Label, Labels};

pub use error::{ParseError, ParseErrorKind};

/// The bits of Prometheus's `value.NormalNaN`, which every parsed `NaN` becomes.
pub const NORMAL_NAN: u64 = 0x7ff8_0000_0000_0001;

/// An input format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// The Prometheus text exposition format 0.0.4 (timestamps in milliseconds).
    Text,
    /// OpenMetrics 1.0 text (timestamps in seconds, ends with `# EOF`).
    OpenMetrics,
    /// CSV with a header row naming the columns (see [`csv`]).
    Csv,
}

/// One parsed sample: a label set (with `__name__`, sorted by name, unique, no empty
/// values), a value and an optional timestamp in milliseconds.
#[derive(Debug, Clone, Default)]
pub struct Sample {
    /// The label names and values, unescaped, back to back.
    buf: String,
    /// (name start, name end, value start, value end) in `buf`, sorted by name.
    spans: Vec<[usize; 4]>,
    /// The timestamp in milliseconds, when the line has one.
    pub timestamp: Option<i64>,
    /// The value.
    pub value: f64,
}

impl Sample {
    /// The labels, sorted by name, `__name__` included.
    pub fn labels(&self) -> impl ExactSizeIterator<Item = (&str, &str)> + Clone {
        self.spans
            .iter()
            .map(|s| (&self.buf[s[0]..s[1]], &self.buf[s[2]..s[3]]))
    }

    /// The metric name (`__name__`).
    pub fn name(&self) -> &str {
        self.labels()
            .find(|(n, _)| *n == "__name__")
            .map_or("", |(_, v)| v)
    }

    /// The labels as a [`Labels`].
    pub fn to_labels(&self) -> Labels {
        Labels::from_sorted(self.labels().map(|(n, v)| Label::new(n, v)).collect())
    }

    fn clear(&mut self) {
        self.buf.clear();
        self.spans.clear();
        self.timestamp = None;
        self.value = 0.0;
    }

    /// Appends a label; empty values are dropped.
    fn push(&mut self, name: &str, value: &str) {
        if value.is_empty() {
            return;
        }
        let n0 = self.buf.len();
        self.buf.push_str(name);
        let n1 = self.buf.len();
        self.buf.push_str(value);
        let v1 = self.buf.len();
        self.spans.push([n0, n1, n1, v1]);
    }

    /// Ends a label whose name is `buf[name_start..value_start]` and whose value the
    /// caller appended after it; an empty value drops the label.
    fn end_value(&mut self, name_start: usize, value_start: usize) {
        let end = self.buf.len();
        if end == value_start {
            // An empty value: the label is absent.
            self.buf.truncate(name_start);
            return;
        }
        self.spans.push([name_start, value_start, value_start, end]);
    }

    /// Sorts the labels by name; the first duplicate name, if any, is returned.
    fn sort(&mut self) -> Result<(), ParseErrorKind> {
        let buf = &self.buf;
        let name = |s: &[usize; 4]| &buf[s[0]..s[1]];
        self.spans.sort_unstable_by(|a, b| name(a).cmp(name(b)));
        if let Some(w) = self.spans.windows(2).find(|w| name(&w[0]) == name(&w[1])) {
            return Err(ParseErrorKind::DuplicateLabel {
                name: name(&w[0]).to_owned(),
            });
        }
        if !self.spans.iter().any(|s| name(s) == "__name__") {
            return Err(ParseErrorKind::MissingMetricName);
        }
        Ok(())
    }
}

/// Parses one format line by line (see the module docs).
#[derive(Debug)]
pub struct Parser {
    format: Format,
    require_timestamps: bool,
    /// Lines seen so far (the number of the line being parsed, 1-based, once started).
    line: u64,
    /// OpenMetrics: `# EOF` was seen.
    eof: bool,
    csv: csv::State,
    sample: Sample,
}

impl Parser {
    /// A parser for `format` that accepts samples without a timestamp.
    pub fn new(format: Format) -> Parser {
        Parser {
            format,
            require_timestamps: false,
            line: 0,
            eof: false,
            csv: csv::State::default(),
            sample: Sample::default(),
        }
    }

    /// Makes a sample without a timestamp an error ([`ParseErrorKind::MissingTimestamp`]),
    /// as backfilling needs.
    pub fn require_timestamps(mut self, yes: bool) -> Parser {
        self.require_timestamps = yes;
        self
    }

    /// The format parsed.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The number of lines parsed so far (the last line's number).
    pub fn line_number(&self) -> u64 {
        self.line
    }

    /// Parses the next line (without its `\n`): its sample, or `None` for a comment, a
    /// blank line or the CSV header.
    pub fn parse_line(&mut self, line: &[u8]) -> Result<Option<&Sample>, ParseError> {
        self.line += 1;
        let at = self.line;
        let err = |kind| ParseError { line: at, kind };
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        // A byte order mark, as spreadsheets write before a CSV header.
        let line = match line.strip_prefix(b"\xef\xbb\xbf") {
            Some(rest) if at == 1 => rest,
            _ => line,
        };
        let line = std::str::from_utf8(line).map_err(|e| {
            err(ParseErrorKind::InvalidUtf8 {
                column: e.valid_up_to() + 1,
            })
        })?;
        self.sample.clear();
        let got = match self.format {
            Format::Text | Format::OpenMetrics => {
                let om = self.format == Format::OpenMetrics;
                if self.eof {
                    if line.trim().is_empty() {
                        return Ok(None);
                    }
                    return Err(err(ParseErrorKind::DataAfterEof));
                }
                match text::parse_line(line, om, &mut self.sample).map_err(err)? {
                    text::Line::Sample => true,
                    text::Line::Eof => {
                        self.eof = om;
                        false
                    }
                    text::Line::Other => false,
                }
            }
            Format::Csv => self.csv.parse_line(line, &mut self.sample).map_err(err)?,
        };
        if !got {
            return Ok(None);
        }
        self.sample.sort().map_err(err)?;
        if self.require_timestamps && self.sample.timestamp.is_none() {
            return Err(err(ParseErrorKind::MissingTimestamp));
        }
        Ok(Some(&self.sample))
    }

    /// Checks the end of the input: OpenMetrics must have ended with `# EOF`.
    pub fn finish(&self) -> Result<(), ParseError> {
        if self.format == Format::OpenMetrics && !self.eof {
            return Err(ParseError {
                line: self.line,
                kind: ParseErrorKind::MissingEof,
            });
        }
        Ok(())
    }
}

/// Parses a float value: Go's `ParseFloat` spellings Rust shares (`1`, `-1.5e3`, `NaN`,
/// `+Inf`, `-Inf`, `Inf`); every NaN becomes [`NORMAL_NAN`].
pub(crate) fn parse_value(s: &str) -> Option<f64> {
    // Rust accepts "infinity" and "nan" in any case, as Go does; it rejects "0x..." and
    // "_" separators, which Prometheus's text formats do not use for values either.
    let v: f64 = s.parse().ok()?;
    Some(if v.is_nan() {
        f64::from_bits(NORMAL_NAN)
    } else {
        v
    })
}

/// Parses a timestamp as people write one (CSV cells, command lines): RFC 3339 when it
/// contains a `T` (`2026-11-21T10:00:00.5Z`), else Unix seconds with an optional fraction
/// (`1700000000`, `-1.5`), into milliseconds (sub-millisecond digits truncated).
pub fn parse_timestamp(s: &str) -> Option<i64> {
    if s.contains(['T', 't']) {
        tsdb::timestamp::parse_rfc3339(s)
    } else {
        parse_seconds(s)
    }
}

/// Parses a timestamp in seconds (OpenMetrics and CSV) into milliseconds, truncated
/// toward zero. Plain decimals (`-12.3456`) are converted exactly from their digits;
/// other float spellings (`1.7e9`) through `f64`, as Prometheus does (`int64(ts*1000)`).
pub(crate) fn parse_seconds(s: &str) -> Option<i64> {
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let plain = !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit());
    if plain {
        let mut ms: i64 = int.parse::<i64>().ok()?.checked_mul(1000)?;
        let mut scale = 100;
        for b in frac.bytes().take(3) {
            ms = ms.checked_add(i64::from(b - b'0') * scale)?;
            scale /= 10;
        }
        return Some(if neg { -ms } else { ms });
    }
    let v: f64 = s.parse().ok()?;
    let ms = v * 1000.0;
    if !ms.is_finite() || ms.abs() >= 9.2e18 {
        return None;
    }
    Some(ms as i64)
}
