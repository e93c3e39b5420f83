//! Integration tests of the storage engine (one binary, house style rule 16).

/// Blocks compacted into one against a model: copies, vertical merges, tombstones, promtool.
mod block_compact;
/// Compacted blocks read by promtool; Prometheus-made blocks compacted without loss.
mod block_compact_interop;
/// Damaged blocks give errors naming block and file; intact blocks beside them still read.
mod block_corruption;
/// Blocks written by Prometheus 3.5.3 read by us: samples and matcher answers.
mod block_prometheus;
/// Our blocks read by promtool 3.5.3 and 2.42 (`tsdb analyze`, `tsdb dump`).
mod block_promtool;
/// Blocks round-trip against a model (proptest); writer refusals; meta.json; deletes.
mod block_roundtrip;
/// Shared helpers of the block tests: generated series, chunks, writing a block.
mod block_util;
/// `block::verify`: a healthy block, random flips and cuts (proptest), read-only WAL replay.
mod block_verify;
/// XOR chunks bit-exact with chunks written by Prometheus 3.5.3's promtool.
mod chunk_compat;
/// SIGKILL a writing child process and check every acknowledged sample survives.
mod crash;
/// A Db with blocks: head compaction, restarts, crashes in between, damaged blocks, deletes.
mod db_blocks;
/// Exemplar storage and metadata: validation, queries, WAL replay.
mod exemplars;
/// Head behaviour across restarts, truncation and the storage traits.
mod head;
/// A head range read out for a block equals a select of the range; reopening skips it.
mod head_range;
/// Narrow-range selects equal a full-range select filtered to the range (proptest).
mod head_select;
/// The merge querier over random splits of one data set across heads (proptest).
mod merge_querier;
/// Whole data directories exchanged with the reference Prometheus, both directions.
mod prometheus_interop;
/// Shared helpers: reference binaries, Prometheus on loopback, sample dumps.
mod util;
/// WAL segments read by promtool, and a Prometheus-written WAL decoded record by record.
mod wal_interop;
/// Torn and corrupted WAL tails at every offset of the last page.
mod wal_torn;
