//! `tsdbctl delete`: tombstones for the series matching selectors in a time range, with
//! the semantics of Prometheus's `/api/v1/admin/tsdb/delete_series` (`tsdb::Db::delete`:
//! the head's WAL and each overlapping block's `tombstones` file), and with `--rewrite`
//! the affected blocks rewritten without the deleted samples (`Db::clean_tombstones`,
//! Prometheus's `clean_tombstones`).

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use tsdb::block::BlockMeta;
use tsdb::labels::Matcher;

use crate::datadir::open_db;
use crate::output::{Table, rfc3339};

/// One block rewritten by `--rewrite`: the old one and its replacement (none when every
/// sample was deleted).
#[derive(Debug)]
struct Rewrite {
    from: BlockMeta,
    to: Option<BlockMeta>,
}

pub(crate) fn run(
    dir: &Path,
    selectors: &[String],
    mint: i64,
    maxt: i64,
    rewrite: bool,
    json: bool,
) -> Result<()> {
    let sets: Vec<Vec<Matcher>> = selectors
        .iter()
        .map(|s| crate::parse_selector(s))
        .collect::<Result<_>>()?;
    if mint > maxt {
        anyhow::bail!("--min-time is after --max-time");
    }
    let db = open_db(dir, tsdb::Options::default())?;
    let mut tombstoned = 0;
    for set in &sets {
        tombstoned += db.delete(mint, maxt, set).context("writing tombstones")?;
    }
    let mut rewrites = Vec::new();
    if rewrite {
        let before: Vec<BlockMeta> = db.blocks().iter().map(tsdb::Block::meta).collect();
        db.clean_tombstones().context("rewriting blocks")?;
        let after: Vec<BlockMeta> = db.blocks().iter().map(tsdb::Block::meta).collect();
        for old in before {
            if after.iter().any(|m| m.ulid == old.ulid) {
                continue;
            }
            // A rewrite keeps the block's level and sources.
            let to = after
                .iter()
                .find(|m| m.compaction.sources == old.compaction.sources)
                .cloned();
            rewrites.push(Rewrite { from: old, to });
        }
    }
    db.close().context("closing the data directory")?;

    let out = std::io::stdout();
    let mut out = out.lock();
    if json {
        let v = serde_json::json!({
            "tombstonedSeries": tombstoned,
            "minTime": mint,
            "maxTime": maxt,
            "rewritten": rewrites.iter().map(|r| serde_json::json!({
                "from": r.from.ulid.to_string(),
                "to": r.to.as_ref().map(|m| m.ulid.to_string()),
                "samplesBefore": r.from.stats.num_samples,
                "samplesAfter": r.to.as_ref().map_or(0, |m| m.stats.num_samples),
            })).collect::<Vec<_>>(),
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
        return Ok(());
    }
    writeln!(
        out,
        "tombstoned {tombstoned} series (counted once per block and once for the head) in [{}, {}]",
        time_or_open(mint),
        time_or_open(maxt)
    )?;
    if rewrite {
        if rewrites.is_empty() {
            writeln!(out, "no block had tombstones to rewrite")?;
        } else {
            let mut t = Table::new(&["REWRITTEN", "INTO", "SAMPLES BEFORE", "SAMPLES AFTER"]);
            for r in &rewrites {
                t.row(vec![
                    r.from.ulid.to_string(),
                    r.to.as_ref()
                        .map_or("(nothing left)".to_owned(), |m| m.ulid.to_string()),
                    r.from.stats.num_samples.to_string(),
                    r.to.as_ref().map_or(0, |m| m.stats.num_samples).to_string(),
                ]);
            }
            t.write(&mut out)?;
        }
    }
    Ok(())
}

/// A bound for messages: `-inf`/`+inf` for the defaults.
fn time_or_open(t: i64) -> String {
    match t {
        i64::MIN => "-inf".to_owned(),
        i64::MAX => "+inf".to_owned(),
        t => rfc3339(t),
    }
}
