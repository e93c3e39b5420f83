//! `promql`: the PromQL engine (issue 3).
//!
//! It will parse queries with `promql-parser` and evaluate instant and range queries with
//! Prometheus 3.5 semantics over [`tsdb::storage::Queryable`], never over the head or a
//! block directly; it will also hold the runner for Prometheus's `.test` scripts.
//! Nothing is implemented yet.
