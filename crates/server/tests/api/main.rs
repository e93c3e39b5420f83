//! Integration tests of the HTTP API over loopback with a real HTTP client.
//!
//! - `api`: each endpoint's shapes, parameters, errors and status codes.
//! - `grafana`: Grafana's requests sent to us and to Prometheus 3.5.3 over the same data,
//!   answers compared structurally.

mod api;
mod grafana;
mod harness;
