//! `tsdbctl list`: one row per block, local and in the bucket, oldest first.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use tsdb::block::{BlockMeta, Ulid};

use crate::datadir::{local_blocks, open_bucket};
use crate::output::{Table, bytes, duration, rfc3339};

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
        let b = open_bucket(url)?;
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
    let mut table = Table::new(&[
        "ULID", "MIN TIME", "MAX TIME", "DURATION", "SERIES", "SAMPLES", "CHUNKS", "SIZE", "LEVEL",
        "WHERE",
    ]);
    for r in rows {
        let m = &r.meta;
        table.row(vec![
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
        ]);
    }
    table.write(out)
}
