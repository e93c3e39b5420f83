//! `server`: the tsdbd process.
//!
//! The HTTP listener starts first and answers `/-/healthy` at once; the storage opens
//! (replaying the WAL) on a blocking thread, and until it has, `/-/ready`, remote write and
//! the query API answer 503. Module map:
//!
//! - [`config`]: defaults, the TOML file ([`config::ConfigFile`]) and the flags
//!   ([`config::Flags`], Prometheus's names), resolved into one [`Config`].
//! - [`run`]: the lifecycle: runtime, listener, storage opening, signals, the shutdown
//!   order.
//! - [`state`]: [`state::AppState`], shared by every handler (storage once open, engine,
//!   limits, metrics, flags).
//! - [`http`]: routes and middleware (TLS, auth, gzip, HTTP metrics, access log),
//!   readiness, `/metrics`.
//! - [`metrics`]: the HTTP and query metric families and the `/metrics` encoding.
//! - [`logging`]: logfmt and JSON log lines.
//! - [`api`]: the Prometheus HTTP API v1 (query, metadata, status, admin).
//! - [`write`](mod@write): remote write at `/api/v1/write` (decoding and validation live in `ingest`).

pub mod api;
pub mod config;
pub mod http;
pub mod logging;
pub mod malloc;
pub mod metrics;
pub mod run;
pub mod state;
pub mod write;

pub use config::Config;
