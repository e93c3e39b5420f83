//! Integration tests of `tsdbctl`, running the binary on real data (one binary, house
//! style rule 16).

/// `tsdbctl analyze`: cardinality and churn equal what was written; `--match` focuses.
mod analyze;
/// `tsdbctl backfill` from OpenMetrics, text and CSV: aligned blocks with exactly the
/// input's samples, clean failures, bounded memory.
mod backfill;
/// `analyze`, `dump` and `verify` on a bucket answer as on the directory it came from.
mod bucket_read;
/// `tsdbctl compact`: many small blocks merged into fewer, every sample kept.
mod compact;
/// `tsdbctl delete`: tombstones for the matched series in the range, and `--rewrite`.
mod delete;
/// `tsdbctl dump`: every format parses back to the written samples; promtool loads it.
mod dump;
/// Running the binary, writing data directories, reading every sample back.
mod fixtures;
/// `tsdbctl import` of a data directory (blocks and WAL) into a directory and buckets.
mod import;
/// Shared helpers of the `analyze`, `dump` and `verify` tests.
mod inspect_util;
/// `tsdbctl list` on a data directory written by `tsdb::Db` and on a bucket.
mod list;
/// `tsdbctl upload`: blocks shipped with the shipper's record, once.
mod upload;
/// `tsdbctl verify`: healthy blocks pass; each kind of damage is named.
mod verify;
