//! `tsdbctl verify`: checks every block of a data directory or a bucket (or one) with
//! [`tsdb::block::verify`] and the blocks' time ranges against each other; prints every
//! finding and fails when one is an error (or, with `--strict`, a warning).
//!
//! Overlapping blocks are legal (out-of-order ingestion and backfill write them, and
//! compaction merges them), so they are warnings, as Prometheus logs them; `--strict`
//! makes warnings fail the run.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result, bail};
use tsdb::block::verify::{self, Finding, Report, Severity};
use tsdb::block::{BlockMeta, Ulid};

use crate::datadir::{Location, TempDir, block_dirs, download_block, open_bucket};
use crate::progress;

pub(crate) fn run(at: Location<'_>, block: Option<Ulid>, json: bool, strict: bool) -> Result<()> {
    let (mut report, metas) = match at {
        Location::Dir(dir) => verify_dir(dir, block)?,
        Location::Bucket(url) => verify_bucket(url, block)?,
    };
    if block.is_none() {
        report
            .findings
            .extend(verify::overlapping_blocks(Path::new(&at.name()), &metas));
    }
    let errors = report
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count() as u64
        + report.suppressed;
    let warnings = report
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Warning)
        .count() as u64;
    let failed = errors > 0 || (strict && warnings > 0);
    let out = std::io::stdout();
    let mut out = out.lock();
    if json {
        let v = serde_json::json!({
            "ok": !failed,
            "blocks": report.blocks,
            "series": report.series,
            "chunks": report.chunks,
            "samples": report.samples,
            "errors": errors,
            "warnings": warnings,
            "suppressed": report.suppressed,
            "findings": report.findings.iter().map(finding_json).collect::<Vec<_>>(),
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
    } else {
        for f in &report.findings {
            writeln!(out, "{f}")?;
        }
        if report.suppressed > 0 {
            writeln!(out, "... and {} more errors", report.suppressed)?;
        }
        writeln!(
            out,
            "{} blocks, {} series, {} chunks, {} samples verified: {errors} errors, {warnings} warnings",
            report.blocks, report.series, report.chunks, report.samples
        )?;
    }
    out.flush()?;
    if failed {
        if errors > 0 {
            bail!("verification failed: {errors} errors");
        }
        bail!("verification failed: {warnings} warnings (--strict)");
    }
    Ok(())
}

/// The `<ulid>/` directories of `dir`, whether or not their meta.json parses.
/// Verifies the blocks of a data directory (or one); returns the report and the metas that
/// parse.
fn verify_dir(dir: &Path, block: Option<Ulid>) -> Result<(Report, Vec<BlockMeta>)> {
    let dirs = match block {
        Some(ulid) => {
            let d = dir.join(ulid.to_string());
            if !d.is_dir() {
                bail!("block {ulid} not found in {}", dir.display());
            }
            vec![d]
        }
        None => block_dirs(dir)?,
    };
    let mut report = Report::default();
    let mut metas = Vec::new();
    for d in &dirs {
        report.merge(verify_one(d));
        if let Ok(m) = BlockMeta::read(d) {
            metas.push(m);
        }
    }
    Ok((report, metas))
}

/// Verifies a bucket's blocks (or one), not those marked for deletion: each is downloaded
/// into a temporary directory, checked, and removed before the next, so the disk holds
/// one block at a time. Findings name the bucket's objects.
fn verify_bucket(url: &str, block: Option<Ulid>) -> Result<(Report, Vec<BlockMeta>)> {
    let bucket = open_bucket(url)?;
    let listing = compactor::shipper::list_blocks(bucket.as_ref())
        .with_context(|| format!("listing bucket {url}"))?;
    let blocks: Vec<_> = listing
        .blocks
        .iter()
        .filter(|b| b.deletion_mark.is_none() && block.is_none_or(|u| u == b.meta.ulid))
        .collect();
    if let Some(u) = block
        && blocks.is_empty()
    {
        bail!("block {u} not found in {url}");
    }
    let mut report = Report::default();
    let mut metas = Vec::new();
    for b in blocks {
        let tmp = TempDir::new("verify")?;
        let dir = download_block(bucket.as_ref(), b, tmp.path())?;
        let mut r = verify_one(&dir);
        for f in &mut r.findings {
            if let Ok(rel) = f.file.strip_prefix(tmp.path()) {
                f.file = Path::new(url).join(rel);
            }
        }
        report.merge(r);
        metas.push(b.meta.clone());
    }
    Ok((report, metas))
}

/// Verifies one block directory with a progress bar.
fn verify_one(dir: &Path) -> Report {
    let name = dir
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let bar = progress::bar(0, &format!("verifying {name}"), false);
    let r = verify::verify_block(dir, &mut |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    });
    bar.finish_and_clear();
    r
}

fn finding_json(f: &Finding) -> serde_json::Value {
    serde_json::json!({
        "severity": f.severity.as_str(),
        "block": f.block.map(|u| u.to_string()),
        "file": f.file.display().to_string(),
        "offset": f.offset,
        "series": f.series,
        "problem": f.problem,
    })
}
