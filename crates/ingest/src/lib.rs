//! `ingest`: remote-write bodies in, validated series and samples appended to the head.
//!
//! Sans-I/O and synchronous (no sockets, no async runtime), so it is unit-tested and
//! fuzzed directly. The path of one request:
//!
//! 1. [`snappy::decompress`]: snappy block format, sizes checked against [`Limits`]
//!    before allocating.
//! 2. [`decode::decode`]: a zero-copy protobuf walk yielding borrowed, UTF-8-checked
//!    labels for Remote Write 1.0 ([`Protocol::V1`]) and 2.0 ([`Protocol::V2`]).
//! 3. [`validate`]: labels sorted and unique, non-empty names, a metric name, limits.
//! 4. [`apply()`]: one head batch for the whole request, committed (durable) at once;
//!    the [`Outcome`] counts what was written and what was refused and why.
//!
//! [`proto`] and [`encode`] build request bodies with `prost` (tests, load generator).
//!
//! [`exposition`] parses the Prometheus text format, OpenMetrics text and CSV line by
//! line, for backfilling (`tsdbctl backfill`).

pub mod apply;
pub mod decode;
pub mod encode;
pub mod error;
pub mod exposition;
pub mod limits;
pub mod proto;
pub mod scratch;
pub mod snappy;
pub mod validate;

pub use apply::{ApplyScratch, Outcome, apply, apply_with};
pub use decode::{Protocol, WriteRequest, decode};
pub use error::{Error, Result};
pub use limits::Limits;
pub use scratch::Scratch;
pub use validate::RejectReason;

/// Decompresses, decodes and applies one request body: the whole write path of one
/// request, minus HTTP.
pub fn ingest(
    head: &tsdb::Head,
    protocol: Protocol,
    body: &[u8],
    limits: &Limits,
    now_ms: i64,
) -> Result<Outcome> {
    let raw = snappy::decompress(body, limits)?;
    let req = decode(protocol, &raw, limits)?;
    apply(head, &req, limits, now_ms)
}
