//! Human-readable output shared by the subcommands: aligned tables and the formats of
//! timestamps, durations and sizes. `--json` output is built with `serde_json` by each
//! subcommand.

use std::io::Write;

use anyhow::Result;
use tsdb::block::BlockMeta;

/// A table with a header row, printed with columns padded to their widest cell.
#[derive(Debug)]
pub(crate) struct Table {
    header: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub(crate) fn new(header: &[&'static str]) -> Table {
        Table {
            header: header.to_vec(),
            rows: Vec::new(),
        }
    }

    /// Adds a row; it must have one cell per header column.
    pub(crate) fn row(&mut self, cells: Vec<String>) {
        debug_assert_eq!(cells.len(), self.header.len(), "one cell per column");
        self.rows.push(cells);
    }

    pub(crate) fn write(&self, out: &mut impl Write) -> Result<()> {
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.len()).collect();
        for row in &self.rows {
            for (w, c) in widths.iter_mut().zip(row) {
                *w = (*w).max(c.chars().count());
            }
        }
        let line = |cols: &mut dyn Iterator<Item = &str>| {
            cols.zip(&widths)
                .map(|(c, &w)| format!("{c:<w$}"))
                .collect::<Vec<_>>()
                .join("  ")
                .trim_end()
                .to_owned()
        };
        writeln!(out, "{}", line(&mut self.header.iter().copied()))?;
        for row in &self.rows {
            writeln!(out, "{}", line(&mut row.iter().map(String::as_str)))?;
        }
        Ok(())
    }
}

/// The columns every table of blocks starts with ([`block_cells`]).
pub(crate) const BLOCK_COLUMNS: [&str; 7] = [
    "ULID", "MIN TIME", "MAX TIME", "DURATION", "SERIES", "SAMPLES", "CHUNKS",
];

/// A table whose rows are blocks: [`BLOCK_COLUMNS`] then `extra`.
pub(crate) fn block_table(extra: &[&'static str]) -> Table {
    Table::new(&[&BLOCK_COLUMNS[..], extra].concat())
}

/// The [`BLOCK_COLUMNS`] cells of a block.
pub(crate) fn block_cells(m: &BlockMeta) -> Vec<String> {
    vec![
        m.ulid.to_string(),
        rfc3339(m.min_time),
        rfc3339(m.max_time),
        duration(m.max_time - m.min_time),
        m.stats.num_series.to_string(),
        m.stats.num_samples.to_string(),
        m.stats.num_chunks.to_string(),
    ]
}

/// A block as every `--json` output shows it (keys as in `meta.json`); callers add their
/// own keys.
pub(crate) fn block_json(m: &BlockMeta) -> serde_json::Value {
    serde_json::json!({
        "ulid": m.ulid.to_string(),
        "minTime": m.min_time,
        "maxTime": m.max_time,
        "durationMs": m.max_time - m.min_time,
        "numSeries": m.stats.num_series,
        "numSamples": m.stats.num_samples,
        "numChunks": m.stats.num_chunks,
        "numTombstones": m.stats.num_tombstones,
        "level": m.compaction.level,
    })
}

/// `2026-11-21T10:00:00.000Z` for a timestamp in ms.
pub(crate) fn rfc3339(ms: i64) -> String {
    let (days, rem) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let (y, mo, d) = promql::functions::time::civil_from_days(days);
    let (h, mi, s, frac) = (
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000,
    );
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{frac:03}Z")
}

/// `2h`, `1d12h`, `10m30s`, `500ms`.
pub(crate) fn duration(ms: i64) -> String {
    if ms <= 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    let mut rest = ms;
    for (unit, size) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
    ] {
        if rest >= size {
            out.push_str(&format!("{}{unit}", rest / size));
            rest %= size;
        }
    }
    if rest > 0 {
        out.push_str(&format!("{rest}ms"));
    }
    out
}

/// `1.5MiB`.
pub(crate) fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n}B")
    } else {
        format!("{v:.1}{}", UNITS[unit])
    }
}

/// A float as Go's `%g` prints it (`promtool tsdb dump`): shortest round-trip digits,
/// exponent form when the decimal exponent is below -4 or at least 6 (`1e+06`,
/// `1.2e-05`), `NaN`, `+Inf`, `-Inf`.
pub(crate) fn go_g(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    if v == 0.0 {
        return if v.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    // Shortest digits and exponent from Rust's `{:e}`: `-1.2345e-5`.
    let e = format!("{v:e}");
    let (mant, exp) = e.split_once('e').expect("{:e} has an exponent");
    let exp: i32 = exp.parse().expect("{:e} exponent is an integer");
    let (sign, mant) = match mant.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mant),
    };
    let digits: String = mant.chars().filter(|c| *c != '.').collect();
    if !(-4..6).contains(&exp) {
        let (first, rest) = digits.split_at(1);
        let dot = if rest.is_empty() { "" } else { "." };
        let esign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{first}{dot}{rest}e{esign}{:02}", exp.abs());
    }
    let n = digits.len() as i32;
    if exp < 0 {
        let zeros = "0".repeat((-exp - 1) as usize);
        format!("{sign}0.{zeros}{digits}")
    } else if exp + 1 >= n {
        let zeros = "0".repeat((exp + 1 - n) as usize);
        format!("{sign}{digits}{zeros}")
    } else {
        let (int, frac) = digits.split_at((exp + 1) as usize);
        format!("{sign}{int}.{frac}")
    }
}

/// A float as Prometheus's HTTP API prints it (`strconv.FormatFloat(v, 'f', -1, 64)`):
/// no exponent, `NaN`, `+Inf`, `-Inf`.
pub(crate) fn api_float(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(duration(7_200_000), "2h");
        assert_eq!(duration(129_600_000), "1d12h");
        assert_eq!(duration(630_500), "10m30s500ms");
        assert_eq!(bytes(1000), "1000B");
        assert_eq!(bytes(1536 * 1024), "1.5MiB");
    }

    #[test]
    fn formats_floats_like_go() {
        for (v, s) in [
            (1.0, "1"),
            (1e6, "1e+06"),
            (123456.0, "123456"),
            (1234567.0, "1.234567e+06"),
            (1.2e-5, "1.2e-05"),
            (0.0001, "0.0001"),
            (0.5, "0.5"),
            (-2.25, "-2.25"),
            (1e21, "1e+21"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (0.1 + 0.2, "0.30000000000000004"),
        ] {
            assert_eq!(go_g(v), s, "{v}");
        }
        assert_eq!(api_float(1e6), "1000000");
        assert_eq!(api_float(f64::NEG_INFINITY), "-Inf");
    }

    #[test]
    fn table_pads_columns_to_the_widest_cell() {
        let mut t = Table::new(&["A", "LONG HEADER"]);
        t.row(vec!["wide cell".into(), "x".into()]);
        let mut out = Vec::new();
        t.write(&mut out).expect("write");
        assert_eq!(
            String::from_utf8(out).expect("utf-8"),
            "A          LONG HEADER\nwide cell  x\n"
        );
    }
}
