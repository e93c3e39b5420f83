//! The metrics of a [`super::Db`] beyond the head's: blocks, compactions, retention,
//! named like Prometheus's `prometheus_tsdb_*` so existing dashboards carry over.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// Counters and gauges of blocks and compaction.
#[derive(Debug, Clone, Default)]
pub struct DbMetrics {
    /// `prometheus_tsdb_blocks_loaded`: local blocks served.
    pub blocks_loaded: Gauge,
    /// `prometheus_tsdb_remote_blocks_loaded`: bucket-only blocks served (ours).
    pub remote_blocks: Gauge,
    /// `prometheus_tsdb_storage_blocks_bytes`: bytes of the local blocks.
    pub blocks_bytes: Gauge,
    /// `prometheus_tsdb_lowest_timestamp`: the oldest timestamp stored locally, in ms.
    pub lowest_timestamp: Gauge,
    /// `prometheus_tsdb_block_corruptions_total`: block directories that failed to open
    /// or to read (ours; Prometheus refuses to start instead).
    pub block_corruptions: Counter,
    /// `prometheus_tsdb_compactions_total`: blocks written by merging blocks.
    pub compactions: Counter,
    /// `prometheus_tsdb_compactions_failed_total`.
    pub compactions_failed: Counter,
    /// `prometheus_tsdb_head_compactions_total` (ours): blocks written from the head.
    pub head_compactions: Counter,
    /// `prometheus_tsdb_vertical_compactions_total`: merges of overlapping blocks.
    pub vertical_compactions: Counter,
    /// `prometheus_tsdb_time_retentions_total`: retention runs that deleted by age.
    pub time_retentions: Counter,
    /// `prometheus_tsdb_size_retentions_total`: retention runs that deleted by size.
    pub size_retentions: Counter,
    /// `prometheus_tsdb_blocks_deleted_total` (ours): local blocks removed.
    pub blocks_deleted: Counter,
}

impl DbMetrics {
    /// Creates the metrics and registers them into `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let m = Self::default();
        let r = registry;
        r.register(
            "prometheus_tsdb_blocks_loaded",
            "Number of currently loaded data blocks",
            m.blocks_loaded.clone(),
        );
        r.register(
            "prometheus_tsdb_remote_blocks_loaded",
            "Number of blocks served from the bucket only",
            m.remote_blocks.clone(),
        );
        r.register(
            "prometheus_tsdb_storage_blocks_bytes",
            "The number of bytes that are currently used for local storage by all blocks",
            m.blocks_bytes.clone(),
        );
        r.register(
            "prometheus_tsdb_lowest_timestamp",
            "Lowest timestamp value stored in the database, in ms",
            m.lowest_timestamp.clone(),
        );
        r.register(
            "prometheus_tsdb_block_corruptions",
            "Block directories that could not be opened or read",
            m.block_corruptions.clone(),
        );
        r.register(
            "prometheus_tsdb_compactions",
            "Total number of compactions that were executed for the partition",
            m.compactions.clone(),
        );
        r.register(
            "prometheus_tsdb_compactions_failed",
            "Total number of compactions that failed for the partition",
            m.compactions_failed.clone(),
        );
        r.register(
            "prometheus_tsdb_head_compactions",
            "Total number of blocks written from the head",
            m.head_compactions.clone(),
        );
        r.register(
            "prometheus_tsdb_vertical_compactions",
            "Total number of compactions done on overlapping blocks",
            m.vertical_compactions.clone(),
        );
        r.register(
            "prometheus_tsdb_time_retentions",
            "The number of times that blocks were deleted because the maximum time limit was exceeded",
            m.time_retentions.clone(),
        );
        r.register(
            "prometheus_tsdb_size_retentions",
            "The number of times that blocks were deleted because the maximum number of bytes was exceeded",
            m.size_retentions.clone(),
        );
        r.register(
            "prometheus_tsdb_blocks_deleted",
            "Total number of local blocks deleted",
            m.blocks_deleted.clone(),
        );
        m
    }
}
