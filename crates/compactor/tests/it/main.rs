//! Integration tests of the compactor (one binary, house style rule 16).

/// Blocks that live only in the bucket, read through `BucketBlocks`, on `file://` and S3.
mod bucket_blocks;
/// The planner against Prometheus 3.5's own planner cases, restated.
mod plan;
/// Planner invariants over random block sets (proptest).
mod plan_props;
/// Time and size retention: Prometheus's cases, restated, and invariants (proptest).
mod retention;
/// The compaction loop over a real Db and bucket: compaction, shipping, marks, retention.
mod runner;
/// The shipper and bucket deletion against `file://` and a real S3 server on loopback.
mod shipper;
/// Fixtures: promtool-made blocks, bucket backends, recording, counting and crashing buckets.
mod util;
