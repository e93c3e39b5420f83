//! Hand-written `prost` message types for remote write: [`v1`] is `prometheus.WriteRequest`
//! (`prompb/remote.proto`, `prompb/types.proto`), [`v2`] is `io.prometheus.write.v2.Request`.
//!
//! They are used to *build* requests (tests, the load generator, fuzz seeds); the server
//! decodes with the zero-copy walker in [`mod@crate::decode`]. Field numbers follow Prometheus
//! 3.5; gogoproto options do not change the wire format and are left out.

pub mod v1;
pub mod v2;
