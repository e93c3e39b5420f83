//! Integration tests of `tsdbctl`, running the binary on real data (one binary, house
//! style rule 16).

/// `tsdbctl backfill` from OpenMetrics, text and CSV: aligned blocks with exactly the
/// input's samples, clean failures, bounded memory.
mod backfill;
/// `tsdbctl list` on a data directory written by `tsdb::Db` and on a bucket.
mod list;
