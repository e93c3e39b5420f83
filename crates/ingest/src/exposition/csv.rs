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
