//! CSV input: a header row naming the columns, then one sample per row.
//!
//! ```text
//! metric,instance,job,timestamp,value
//! up,host:9100,node,2026-11-21T10:00:00Z,1
//! up,host:9100,node,1763719230.5,0
//! http_requests_total,"a,b",,1763719230,NaN
//! ```
//!
//! * The header names every column: `timestamp` and `value` are required, the metric
//!   name is the `__name__` or `metric` column (exactly one of them), and every other
//!   column is a label of that name (a valid Prometheus label name).
//! * Fields are separated by `,`; a field may be double-quoted, with `""` for a quote
//!   inside (RFC 4180), but may not span lines. Blanks around unquoted fields are kept
//!   as part of the field, except in the header.
//! * An empty label cell means the label is absent; the name and value cells must not be
//!   empty. Values are floats as in the text formats (`NaN`, `+Inf`, `-Inf`).
//! * **Timestamps**: a cell containing `T` or `t` is an RFC 3339 date-time
//!   (`2026-11-21T10:00:00Z`, `2026-11-21T11:00:00.250+01:00`); anything else is Unix
//!   time in **seconds**, possibly with a decimal fraction (`1763719200`,
//!   `1763719200.25`), exactly as OpenMetrics timestamps. Both are truncated to
//!   milliseconds. An empty cell is a sample without a timestamp.
//! * Blank lines are skipped, and so is a UTF-8 byte order mark before the header.

use super::error::{ParseErrorKind, excerpt};
use super::text::is_label_name;
use super::{Sample, parse_timestamp, parse_value};

/// What the header said, and scratch space for the fields of a row.
#[derive(Debug, Default)]
pub(super) struct State {
    /// The columns, once the header was read.
    columns: Option<Vec<Column>>,
    /// The unquoted fields of the current row, back to back.
    fields: String,
    /// The end of each field in `fields`.
    ends: Vec<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Column {
    Name,
    Timestamp,
    Value,
    Label(String),
}

impl State {
    /// Parses one line; true when it produced a sample.
    pub(super) fn parse_line(
        &mut self,
        line: &str,
        sample: &mut Sample,
    ) -> Result<bool, ParseErrorKind> {
        if line.trim().is_empty() {
            return Ok(false);
        }
        self.split(line)?;
        let Some(columns) = &self.columns else {
            self.columns = Some(self.header()?);
            return Ok(false);
        };
        if self.ends.len() != columns.len() {
            return Err(ParseErrorKind::CsvFieldCount {
                expected: columns.len(),
                found: self.ends.len(),
            });
        }
        let mut start = 0;
        for (col, &end) in columns.iter().zip(&self.ends) {
            let f = &self.fields[start..end];
            start = end;
            match col {
                Column::Name => {
                    if f.is_empty() {
                        return Err(ParseErrorKind::MissingMetricName);
                    }
                    sample.push("__name__", f);
                }
                Column::Label(name) => sample.push(name, f),
                Column::Value => {
                    sample.value = parse_value(f)
                        .ok_or_else(|| ParseErrorKind::InvalidValue { token: excerpt(f) })?;
                }
                Column::Timestamp => {
                    if !f.is_empty() {
                        sample.timestamp = Some(parse_timestamp(f).ok_or_else(|| {
                            ParseErrorKind::InvalidTimestamp { token: excerpt(f) }
                        })?);
                    }
                }
            }
        }
        Ok(true)
    }

    fn header(&self) -> Result<Vec<Column>, ParseErrorKind> {
        let mut columns = Vec::with_capacity(self.ends.len());
        let mut start = 0;
        for &end in &self.ends {
            let name = self.fields[start..end].trim();
            start = end;
            let col = match name {
                "__name__" | "metric" => Column::Name,
                "timestamp" => Column::Timestamp,
                "value" => Column::Value,
                n if is_label_name(n) => Column::Label(n.to_owned()),
                n => {
                    return Err(ParseErrorKind::InvalidLabelName { name: excerpt(n) });
                }
            };
            if columns.contains(&col) {
                return Err(ParseErrorKind::CsvDuplicateColumn {
                    column: excerpt(name),
                });
            }
            columns.push(col);
        }
        for (col, what) in [
            (Column::Name, "metric"),
            (Column::Timestamp, "timestamp"),
            (Column::Value, "value"),
        ] {
            if !columns.contains(&col) {
                return Err(ParseErrorKind::CsvMissingColumn { column: what });
            }
        }
        Ok(columns)
    }

    /// Splits a row into `fields`/`ends`, unquoting quoted fields.
    fn split(&mut self, line: &str) -> Result<(), ParseErrorKind> {
        self.fields.clear();
        self.ends.clear();
        let mut rest = line;
        loop {
            if let Some(q) = rest.strip_prefix('"') {
                let mut chars = q.char_indices();
                let after = loop {
                    match chars.next() {
                        Some((i, '"')) => {
                            if q[i + 1..].starts_with('"') {
                                self.fields.push('"');
                                chars.next();
                            } else {
                                break &q[i + 1..];
                            }
                        }
                        Some((_, c)) => self.fields.push(c),
                        None => return Err(ParseErrorKind::UnterminatedQuote),
                    }
                };
                self.ends.push(self.fields.len());
                match after.strip_prefix(',') {
                    Some(r) => rest = r,
                    None if after.is_empty() => return Ok(()),
                    None => {
                        return Err(ParseErrorKind::Unexpected {
                            expected: ", after a quoted field",
                            found: excerpt(after),
                        });
                    }
                }
            } else {
                let end = rest.find(',').unwrap_or(rest.len());
                self.fields.push_str(&rest[..end]);
                self.ends.push(self.fields.len());
                if end == rest.len() {
                    return Ok(());
                }
                rest = &rest[end + 1..];
            }
        }
    }
}

/// Parses an RFC 3339 date-time (`2026-11-21T10:00:00Z`, `...T10:00:00.123456+05:30`)
/// into milliseconds since the epoch, truncating sub-millisecond digits.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let d = b.get(r)?;
        if !d.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(d).ok()?.parse().ok()
    };
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let month_days = match mo {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if !(1..=month_days).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut i = 19;
    let mut ms = 0;
    if b[i] == b'.' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            if i - start < 3 {
                ms = ms * 10 + i64::from(b[i] - b'0');
            }
            i += 1;
        }
        if i == start {
            return None;
        }
        for _ in (i - start)..3 {
            ms *= 10;
        }
    }
    let offset_min = match b.get(i)? {
        b'Z' | b'z' if i + 1 == b.len() => 0,
        sign @ (b'+' | b'-') if i + 6 == b.len() && b[i + 3] == b':' => {
            let (oh, om) = (num(i + 1..i + 3)?, num(i + 4..i + 6)?);
            if oh > 23 || om > 59 {
                return None;
            }
            let m = oh * 60 + om;
            if *sign == b'-' { -m } else { m }
        }
        _ => return None,
    };
    let days = days_from_civil(y, mo, d);
    let secs = days * 86_400 + h * 3600 + mi * 60 + sec - offset_min * 60;
    Some(secs * 1000 + ms)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}
