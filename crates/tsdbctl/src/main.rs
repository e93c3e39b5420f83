//! `tsdbctl`: the operator CLI (issue 6).
//!
//! It will hold `promtool tsdb`-style subcommands: `list`, `analyze` (cardinality, churn),
//! `dump`, `verify` (CRCs, index/chunk consistency), `wal inspect|repair`,
//! `create-blocks-from openmetrics` (backfill), offline `compact`, `bench write`, and
//! `query instant|range`. Nothing is implemented yet.

fn main() {}
