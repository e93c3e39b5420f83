//! `server`: the tsdbd process.
//!
//! The HTTP listener starts first and answers `/-/healthy` at once; the storage opens
//! (replaying the WAL) on a blocking thread, and until it has, `/-/ready`, remote write and
//! the query API answer 503. Module map:
//!
//! - [`config`]: flags (Prometheus's names) and the TOML configuration file.
//! - [`state`]: [`state::AppState`], shared by every handler (storage once open, engine,
//!   limits, metrics).
//! - [`http`]: the listener (TLS, auth, gzip, HTTP metrics), readiness, `/metrics`,
//!   graceful shutdown.
//! - [`api`]: the Prometheus HTTP API v1 (query, metadata, status, admin).
//! - [`write`]: remote write at `/api/v1/write` (decoding and validation live in `ingest`).

pub mod api;
pub mod config;
pub mod http;
pub mod state;
pub mod write;

pub use config::Config;
