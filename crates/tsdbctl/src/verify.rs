//! `tsdbctl verify`: checks every block of a data directory (or one) with
//! [`tsdb::block::verify`] and the blocks' time ranges against each other; prints every
//! finding and fails when one is an error (or, with `--strict`, a warning).
//!
//! Overlapping blocks are legal (out-of-order ingestion and backfill write them, and
//! compaction merges them), so they are warnings, as Prometheus logs them; `--strict`
//! makes warnings fail the run.

use std::io::Write;
use std::path::Path;

use anyhow::{Result, bail};
use tsdb::block::verify::{self, Finding, Report, Severity};
use tsdb::block::{BlockMeta, Ulid};

use crate::datadir::block_dirs;
use crate::progress;

pub(crate) fn run(dir: &Path, block: Option<&str>, json: bool, strict: bool) -> Result<()> {
    let dirs = match block {
        Some(b) => {
            let ulid: Ulid = b
                .parse()
                .map_err(|e| anyhow::anyhow!("invalid block ULID {b:?}: {e}"))?;
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
        let name = d
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let bar = progress::bar(0, &format!("verifying {name}"), false);
        let r = verify::verify_block(d, &mut |done, total| {
            bar.set_length(total);
            bar.set_position(done);
        });
        bar.finish_and_clear();
        report.merge(r);
        if let Ok(m) = BlockMeta::read(d) {
            metas.push(m);
        }
    }
    if block.is_none() {
        report
            .findings
            .extend(verify::overlapping_blocks(dir, &metas));
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
