//! Integration tests of `tsdbctl`, running the binary on real data (one binary, house
//! style rule 16).

/// `tsdbctl analyze`: cardinality and churn equal what was written; `--match` focuses.
mod analyze;
/// `tsdbctl dump`: every format parses back to the written samples; promtool loads it.
mod dump;
/// Shared helpers of the `analyze`, `dump` and `verify` tests.
mod inspect_util;
/// `tsdbctl list` on a data directory written by `tsdb::Db` and on a bucket.
mod list;
/// `tsdbctl verify`: healthy blocks pass; each kind of damage is named.
mod verify;
