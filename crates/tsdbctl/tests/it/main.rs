//! Integration tests of `tsdbctl`, running the binary on real data (one binary, house
//! style rule 16).

/// `tsdbctl compact`: many small blocks merged into fewer, every sample kept.
mod compact;
/// `tsdbctl delete`: tombstones for the matched series in the range, and `--rewrite`.
mod delete;
/// Running the binary, writing data directories, reading every sample back.
mod fixtures;
/// `tsdbctl import` of a data directory (blocks and WAL) into a directory and buckets.
mod import;
/// `tsdbctl list` on a data directory written by `tsdb::Db` and on a bucket.
mod list;
/// `tsdbctl upload`: blocks shipped with the shipper's record, once.
mod upload;
