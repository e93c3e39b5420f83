//! Integration tests of the compactor (one binary, house style rule 16).

/// The shipper and bucket deletion against `file://` and a real S3 server on loopback.
mod shipper;
/// Fixtures: promtool-made blocks, bucket backends, a recording and crashing bucket.
mod util;
