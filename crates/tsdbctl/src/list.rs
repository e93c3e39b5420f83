//! `tsdbctl list`: one row per block, local and in the bucket, oldest first.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use tsdb::block::{BlockMeta, Ulid};

use crate::datadir::{local_blocks, open_bucket};
use crate::output::{block_cells, block_json, block_table, bytes};

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
    let mut v = block_json(&r.meta);
    v["sizeBytes"] = r.size.into();
    v["location"] = r.place.as_str().into();
    v
}

fn write_table(out: &mut impl Write, rows: &[Row]) -> Result<()> {
    let mut table = block_table(&["SIZE", "LEVEL", "WHERE"]);
    for r in rows {
        let mut cells = block_cells(&r.meta);
        cells.extend([
            bytes(r.size),
            r.meta.compaction.level.to_string(),
            r.place.as_str().to_owned(),
        ]);
        table.row(cells);
    }
    table.write(out)
}
