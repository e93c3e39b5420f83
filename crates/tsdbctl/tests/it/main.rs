//! Integration tests of `tsdbctl`, running the binary on real data (one binary, house
//! style rule 16).

/// `tsdbctl list` on a data directory written by `tsdb::Db` and on a bucket.
mod list;
