//! `tsdbctl dump`: the samples of a data directory (blocks and the WAL's head) in a time
//! range, series by series in label order, each series' samples by time, streamed.
//!
//! Formats: `text` as `promtool tsdb dump` (`{labels} value timestamp_ms`, values as Go's
//! `%g`), `openmetrics` as `promtool tsdb dump-openmetrics` (`name{labels} value
//! timestamp_seconds`, ending in `# EOF`, loadable by `promtool tsdb create-blocks-from
//! openmetrics`), `json` one object per series and line.
//!
//! Nothing is written into the directory and no lock is taken: the blocks are read-only
//! maps, and the WAL is replayed into an in-memory head ([`tsdb::Head::open_read_only`]),
//! without repairing damage (a damaged WAL tail is left out). Tombstones are applied.
//! Blocks and head are merged as `tsdbd` serves them: overlapping data yields each
//! timestamp once.

use std::io::{BufWriter, Write};

use anyhow::{Context, Result};
use clap::ValueEnum;
use prometheus_client::registry::Registry;
use tsdb::chunkenc::{SampleIterator, ValueType};
use tsdb::labels::{Labels, Matcher};
use tsdb::storage::{Querier, Series, SeriesSet};
use tsdb::{Head, Options};

use crate::datadir::{Location, open_blocks};
use crate::output::{api_float, go_g};

/// The output format of `dump`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// `{labels} value timestamp_ms`, as `promtool tsdb dump`.
    Text,
    /// OpenMetrics text, as `promtool tsdb dump-openmetrics`.
    Openmetrics,
    /// One JSON object per series and line: `{"labels":{...},"samples":[[ts_ms,"v"],...]}`.
    Json,
}

/// What to dump.
#[derive(Debug)]
pub(crate) struct Args<'a> {
    pub(crate) at: Location<'a>,
    pub(crate) matchers: Vec<Vec<Matcher>>,
    pub(crate) min_time: i64,
    pub(crate) max_time: i64,
    pub(crate) format: Format,
    pub(crate) head: bool,
}

pub(crate) fn run(args: &Args<'_>) -> Result<()> {
    let open = open_blocks(args.at, None)?;
    let blocks = &open.blocks;
    // A bucket has no WAL: only a data directory's head is dumped.
    let head = match args.at {
        Location::Dir(dir) if args.head => {
            let blocks_end = blocks
                .iter()
                .map(|b| b.meta().max_time)
                .max()
                .unwrap_or(i64::MIN);
            let wal = dir.join("wal");
            let h = Head::open_read_only(
                &wal,
                &Options::default(),
                &mut Registry::default(),
                blocks_end,
            )
            .with_context(|| format!("replaying the WAL in {}", wal.display()))?;
            Some(h)
        }
        _ => None,
    };
    let (mint, maxt) = (args.min_time, args.max_time);
    let mut queriers: Vec<Box<dyn Querier + '_>> = Vec::new();
    for b in blocks.iter().filter(|b| b.overlaps(mint, maxt)) {
        queriers.push(Box::new(b.block_querier(mint, maxt)));
    }
    if let Some(h) = &head
        && h.min_time() <= maxt
        && h.max_time() >= mint
    {
        queriers.push(Box::new(h.querier(mint, maxt)));
    }
    let out = std::io::stdout();
    let mut out = BufWriter::new(out.lock());
    if !queriers.is_empty() {
        let querier = tsdb::querier::merge_queriers(queriers);
        let mut sets = Vec::with_capacity(args.matchers.len());
        for ms in &args.matchers {
            sets.push(querier.select(true, None, ms)?.peekable());
        }
        write_union(&mut out, sets, args.format)?;
    }
    if args.format == Format::Openmetrics {
        writeln!(out, "# EOF")?;
    }
    out.flush()?;
    Ok(())
}

type Peekable = std::iter::Peekable<Box<dyn SeriesSet>>;

/// Writes the union of sorted series sets in label order, each series once.
fn write_union(out: &mut impl Write, mut sets: Vec<Peekable>, format: Format) -> Result<()> {
    loop {
        // The smallest labels among the sets' next series; errors surface here.
        let mut min: Option<Labels> = None;
        for s in &mut sets {
            match s.peek() {
                Some(Ok(series)) if min.as_ref().is_none_or(|m| series.labels() < m) => {
                    min = Some(series.labels().clone());
                }
                Some(Ok(_)) => {}
                Some(Err(_)) => {
                    if let Some(Err(e)) = s.next() {
                        return Err(e.into());
                    }
                }
                None => {}
            }
        }
        let Some(min) = min else { return Ok(()) };
        let mut chosen: Option<Box<dyn Series>> = None;
        for s in &mut sets {
            if matches!(s.peek(), Some(Ok(series)) if *series.labels() == min)
                && let Some(Ok(series)) = s.next()
            {
                chosen.get_or_insert(series);
            }
        }
        if let Some(series) = chosen {
            write_series(out, series.as_ref(), format)?;
        }
    }
}

fn write_series(out: &mut impl Write, series: &dyn Series, format: Format) -> Result<()> {
    let labels = series.labels();
    let mut it = series.iterator();
    match format {
        Format::Text => {
            let l = text_labels(labels);
            while let Some((t, v)) = next_sample(&mut *it)? {
                writeln!(out, "{l} {} {t}", go_g(v))?;
            }
        }
        Format::Openmetrics => {
            let l = openmetrics_series(labels);
            while let Some((t, v)) = next_sample(&mut *it)? {
                writeln!(out, "{l} {} {}", go_g(v), seconds(t))?;
            }
        }
        Format::Json => {
            let mut map = serde_json::Map::new();
            for l in labels.iter() {
                map.insert(l.name.to_string(), l.value.as_str().into());
            }
            write!(
                out,
                "{{\"labels\":{},\"samples\":[",
                serde_json::Value::Object(map)
            )?;
            let mut first = true;
            while let Some((t, v)) = next_sample(&mut *it)? {
                if !first {
                    out.write_all(b",")?;
                }
                first = false;
                write!(out, "[{t},\"{}\"]", api_float(v))?;
            }
            writeln!(out, "]}}")?;
        }
    }
    Ok(())
}

/// The next float sample; other sample kinds are skipped (this build stores floats only).
fn next_sample(it: &mut (dyn SampleIterator + Send + '_)) -> Result<Option<(i64, f64)>> {
    loop {
        match it.next() {
            ValueType::Float => return Ok(Some(it.at())),
            ValueType::None => {
                if let Some(e) = it.err() {
                    anyhow::bail!("reading samples: {e}");
                }
                return Ok(None);
            }
            _ => {}
        }
    }
}

/// `{__name__="m", a="b"}`, as Prometheus's `Labels.String`.
fn text_labels(labels: &Labels) -> String {
    let parts: Vec<String> = labels
        .iter()
        .map(|l| format!("{}=\"{}\"", l.name, escape(&l.value)))
        .collect();
    format!("{{{}}}", parts.join(", "))
}

/// `name{a="b",c="d"}` (the name alone without other labels), as OpenMetrics writes a
/// sample's series.
fn openmetrics_series(labels: &Labels) -> String {
    let name = labels.get("__name__").unwrap_or("");
    let parts: Vec<String> = labels
        .iter()
        .filter(|l| &*l.name != "__name__")
        .map(|l| format!("{}=\"{}\"", l.name, escape(&l.value)))
        .collect();
    if parts.is_empty() {
        name.to_owned()
    } else {
        format!("{name}{{{}}}", parts.join(","))
    }
}

/// Escapes a label value: backslash, double quote, newline.
fn escape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// Milliseconds as seconds with three decimals (`1.500`, `-0.001`).
fn seconds(ms: i64) -> String {
    let sign = if ms < 0 { "-" } else { "" };
    let a = ms.unsigned_abs();
    format!("{sign}{}.{:03}", a / 1000, a % 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_series_like_promtool() {
        let l = Labels::from_pairs(&[("__name__", "m"), ("a", "x\"y\\z\n")]);
        assert_eq!(text_labels(&l), r#"{__name__="m", a="x\"y\\z\n"}"#);
        assert_eq!(openmetrics_series(&l), r#"m{a="x\"y\\z\n"}"#);
        assert_eq!(
            openmetrics_series(&Labels::from_pairs(&[("__name__", "up")])),
            "up"
        );
        assert_eq!(seconds(1500), "1.500");
        assert_eq!(seconds(-1), "-0.001");
        assert_eq!(seconds(0), "0.000");
    }
}
