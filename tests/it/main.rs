//! End-to-end and workspace-wide tests (one binary, house style rule 16).

/// `kill -9` during remote write loses no acknowledged sample.
mod crash;
/// Prometheus 3.5.3 opens our data directory and tsdbd opens Prometheus's; both answer alike.
mod prometheus_datadir;
/// Prometheus remote-writes into tsdbd; both answer the same queries.
mod prometheus_remote_write;
/// Workspace hygiene rules that CI enforces (house style rules 11 and 23).
mod tidy;
/// `tsdbctl backfill` writes blocks that a tsdbd started on them answers queries from.
mod tsdbctl_backfill;
/// tsdbctl import from Prometheus 3.5.3, query against tsdbd, refusals under a running tsdbd.
mod tsdbctl_ops;
