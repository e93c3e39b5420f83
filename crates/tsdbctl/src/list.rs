//! `tsdbctl list`: one row per block, local and in the bucket, oldest first.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use tsdb::block::{BlockMeta, Ulid};

/// Where a block lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Local,
    Bucket,
    Both,
}

impl Place {
    fn as_str(self) -> &'static str {
        match self {
            Place::Local => "local",
            Place::Bucket => "bucket",
            Place::Both => "local+bucket",
        }
    }
}

/// One listed block.
struct Row {
    meta: BlockMeta,
    size: u64,
    place: Place,
}

pub(crate) fn run(dir: &Path, bucket: Option<&str>, json: bool) -> Result<()> {
    let mut rows: BTreeMap<Ulid, Row> = BTreeMap::new();
    for meta in local_blocks(dir)? {
        let size = tsdb::fileutil::dir_size(&dir.join(meta.ulid.to_string()));
        rows.insert(
            meta.ulid,
            Row {
                meta,
                size,
                place: Place::Local,
            },
        );
    }
    if let Some(url) = bucket {
        let b = objstore::open(url, &objstore::Options::default())
            .with_context(|| format!("opening bucket {url}"))?;
        let listing = compactor::shipper::list_blocks(b.as_ref())
            .with_context(|| format!("listing bucket {url}"))?;
        for bb in listing
            .blocks
            .into_iter()
            .filter(|b| b.deletion_mark.is_none())
        {
            let size = bb.size();
            rows.entry(bb.meta.ulid)
                .and_modify(|r| r.place = Place::Both)
                .or_insert(Row {
                    meta: bb.meta,
                    size,
                    place: Place::Bucket,
                });
        }
    }
    let mut rows: Vec<Row> = rows.into_values().collect();
    rows.sort_by_key(|r| (r.meta.min_time, r.meta.ulid));
    let out = std::io::stdout();
    let mut out = out.lock();
    if json {
        let v: Vec<serde_json::Value> = rows.iter().map(row_json).collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
    } else {
        write_table(&mut out, &rows)?;
    }
    Ok(())
}

/// The metas of the `<ulid>/` directories of `dir` (unfinished `.tmp-*` ones are skipped).
fn local_blocks(dir: &Path) -> Result<Vec<BlockMeta>> {
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("reading data directory {}", dir.display()))?;
    let mut metas = Vec::new();
    for e in entries {
        let e = e.with_context(|| format!("reading data directory {}", dir.display()))?;
        let is_block = e
            .file_name()
            .to_str()
            .is_some_and(|n| n.parse::<Ulid>().is_ok());
        if is_block && e.path().is_dir() {
            metas.push(BlockMeta::read(&e.path())?);
        }
    }
    Ok(metas)
}

fn row_json(r: &Row) -> serde_json::Value {
    let m = &r.meta;
    serde_json::json!({
        "ulid": m.ulid.to_string(),
        "minTime": m.min_time,
        "maxTime": m.max_time,
        "durationMs": m.max_time - m.min_time,
        "numSeries": m.stats.num_series,
        "numSamples": m.stats.num_samples,
        "numChunks": m.stats.num_chunks,
        "numTombstones": m.stats.num_tombstones,
        "sizeBytes": r.size,
        "level": m.compaction.level,
        "location": r.place.as_str(),
    })
}

fn write_table(out: &mut impl Write, rows: &[Row]) -> Result<()> {
    let header = [
        "ULID", "MIN TIME", "MAX TIME", "DURATION", "SERIES", "SAMPLES", "CHUNKS", "SIZE", "LEVEL",
        "WHERE",
    ];
    let cells: Vec<[String; 10]> = rows
        .iter()
        .map(|r| {
            let m = &r.meta;
            [
                m.ulid.to_string(),
                rfc3339(m.min_time),
                rfc3339(m.max_time),
                duration(m.max_time - m.min_time),
                m.stats.num_series.to_string(),
                m.stats.num_samples.to_string(),
                m.stats.num_chunks.to_string(),
                bytes(r.size),
                m.compaction.level.to_string(),
                r.place.as_str().to_owned(),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.len());
        }
    }
    let line = |cols: &[&str]| {
        cols.iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_owned()
    };
    writeln!(out, "{}", line(&header))?;
    for row in &cells {
        let cols: Vec<&str> = row.iter().map(String::as_str).collect();
        writeln!(out, "{}", line(&cols))?;
    }
    Ok(())
}

/// `2026-11-21T10:00:00.000Z` for a timestamp in ms.
fn rfc3339(ms: i64) -> String {
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
fn duration(ms: i64) -> String {
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
fn bytes(n: u64) -> String {
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
}
