//! Tests of the real `tsdbd` binary: flags, the config file, readiness, signals and the
//! shutdown order, TLS, access control, `/metrics` and gzip.

mod harness;

mod auth;
mod lifecycle;
mod metrics;
mod tls;
