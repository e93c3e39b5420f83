//! `tsdbctl compact`: offline compaction of a data directory with the server's own loop,
//! `compactor::Runner::compact_levels_until_done` (plan, merge, plan again until the
//! planner has nothing left), and with `--head` first the head's compactable ranges cut
//! into blocks (`tsdb::Db::compact_head`). No retention and no upload run.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use tsdb::block::{BlockMeta, Ulid};

use crate::datadir::open_db;
use crate::output::{block_cells, block_json, block_table};

pub(crate) fn run(
    dir: &Path,
    min_block_duration: i64,
    max_block_duration: Option<i64>,
    head: bool,
    json: bool,
) -> Result<()> {
    let compaction = compactor::Options {
        min_block_duration,
        // The server's default maximum (10 % of the default retention), not the 31 d a
        // retention of 0 would give.
        max_block_duration: Some(
            max_block_duration
                .unwrap_or_else(|| compactor::Options::default().max_block_duration()),
        ),
        retention_time: 0,
        retention_size: 0,
        vertical_compaction: true,
    };
    compaction.validate()?;
    let opts = tsdb::Options {
        block_range: min_block_duration,
        ..tsdb::Options::default()
    };
    let db = Arc::new(open_db(dir, opts)?);
    let before: Vec<BlockMeta> = db.blocks().iter().map(tsdb::Block::meta).collect();
    if head {
        db.compact_head().context("writing the head's blocks")?;
    }
    let runner = compactor::Runner::new(
        Arc::clone(&db),
        compactor::RunnerOptions {
            compaction,
            ..compactor::RunnerOptions::default()
        },
        None,
    )?;
    let merged = runner.compact_levels_until_done();
    drop(runner);
    let after: Vec<BlockMeta> = db.blocks().iter().map(tsdb::Block::meta).collect();
    let db = Arc::into_inner(db).context("the database is still shared")?;
    db.close().context("closing the data directory")?;
    merged.context("compacting blocks")?;

    let old: BTreeSet<Ulid> = before.iter().map(|m| m.ulid).collect();
    let written: Vec<&BlockMeta> = after.iter().filter(|m| !old.contains(&m.ulid)).collect();
    let out = std::io::stdout();
    let mut out = out.lock();
    if json {
        let v = serde_json::json!({
            "blocksBefore": before.len(),
            "blocksAfter": after.len(),
            "written": written.iter().map(|m| {
                let mut v = block_json(m);
                v["sources"] = m.compaction.sources.iter().map(Ulid::to_string).collect();
                v
            }).collect::<Vec<_>>(),
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
        return Ok(());
    }
    if written.is_empty() {
        writeln!(out, "nothing to compact: {} blocks", before.len())?;
        return Ok(());
    }
    let mut t = block_table(&["LEVEL", "SOURCES"]);
    for m in &written {
        let mut cells = block_cells(m);
        cells.extend([
            m.compaction.level.to_string(),
            m.compaction.sources.len().to_string(),
        ]);
        t.row(cells);
    }
    t.write(&mut out)?;
    writeln!(out, "{} blocks before, {} after", before.len(), after.len())?;
    Ok(())
}
