//! End-to-end tests of the workspace (package `e2e`).
//!
//! Today it holds the workspace-wide tidy checks (`it/tidy.rs`). With issue 4 it gains a
//! `TestServer` harness that runs tsdbd on `127.0.0.1:0` with a temporary data directory,
//! and scenarios: remote write then query, `kill -9` then WAL replay, compaction then query.
