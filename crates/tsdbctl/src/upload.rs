//! `tsdbctl upload`: ships a data directory's blocks to a bucket with
//! `compactor::shipper::Shipper`, exactly as the server's compaction loop does: every file
//! but `meta.json` first, `meta.json` last, and each block recorded in
//! `<dir>/thanos.shipper.json`, so neither a second upload nor a tsdbd started later
//! uploads it again. A block whose `meta.json` is already in the bucket (an upload cut
//! short after it) is recorded without uploading.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::datadir::{local_blocks, lock_for_writing, open_bucket};
use crate::output::{Table, bytes};
use crate::progress;

pub(crate) fn run(dir: &Path, url: &str, json: bool) -> Result<()> {
    if !dir.is_dir() {
        bail!("data directory {} does not exist", dir.display());
    }
    let _lock = lock_for_writing(dir)?;
    let bucket = open_bucket(url)?;
    let shipper = compactor::shipper::Shipper::new(dir, bucket);
    let recorded = shipper.uploaded().context("reading the shipper record")?;
    let pending = local_blocks(dir)?
        .iter()
        .filter(|m| !recorded.contains(&m.ulid.to_string()))
        .count();
    let bar = progress::bar(pending as u64, "uploading", false);
    let stats = shipper
        .sync_with(|_| bar.inc(1))
        .with_context(|| format!("uploading to {url}"))?;
    bar.finish_and_clear();

    let out = std::io::stdout();
    let mut out = out.lock();
    if json {
        let v = serde_json::json!({
            "uploaded": stats.uploaded,
            "adopted": stats.adopted,
            "objects": stats.objects,
            "bytes": stats.bytes,
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
        return Ok(());
    }
    if !stats.uploaded.is_empty() || !stats.adopted.is_empty() {
        let mut t = Table::new(&["BLOCK", "RESULT"]);
        for id in &stats.uploaded {
            t.row(vec![id.clone(), "uploaded".to_owned()]);
        }
        for id in &stats.adopted {
            t.row(vec![id.clone(), "already in the bucket".to_owned()]);
        }
        t.write(&mut out)?;
    }
    writeln!(
        out,
        "uploaded {} blocks ({} objects, {}); {} already in the bucket",
        stats.uploaded.len(),
        stats.objects,
        bytes(stats.bytes),
        stats.adopted.len()
    )?;
    Ok(())
}
