//! The head's metrics, named like Prometheus's so existing dashboards carry over.
//!
//! Registered into a registry passed in by the caller (no globals); tests read them back.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// Counters and gauges of the head.
#[derive(Debug, Clone, Default)]
pub struct HeadMetrics {
    /// `prometheus_tsdb_head_series`: series in the head.
    pub series: Gauge,
    /// `prometheus_tsdb_head_series_created_total`.
    pub series_created: Counter,
    /// `prometheus_tsdb_head_series_removed_total`.
    pub series_removed: Counter,
    /// `prometheus_tsdb_head_samples_appended_total` (float samples).
    pub samples_appended: Counter,
    /// `prometheus_tsdb_out_of_order_samples_total`.
    pub out_of_order_samples: Counter,
    /// `prometheus_tsdb_out_of_bound_samples_total`.
    pub out_of_bound_samples: Counter,
    /// `prometheus_tsdb_head_chunks`: chunks (open and sealed) in the head.
    pub chunks: Gauge,
    /// `prometheus_tsdb_head_chunks_created_total`.
    pub chunks_created: Counter,
    /// `prometheus_tsdb_head_chunks_removed_total`.
    pub chunks_removed: Counter,
    /// `prometheus_tsdb_head_truncations_total`.
    pub truncations: Counter,
    /// `prometheus_tsdb_wal_replay_unknown_refs_total`: WAL samples for series never seen.
    pub wal_replay_unknown_refs: Counter,
    /// `prometheus_tsdb_head_min_time` in ms.
    pub min_time: Gauge,
    /// `prometheus_tsdb_head_max_time` in ms.
    pub max_time: Gauge,
}

impl HeadMetrics {
    /// Creates the metrics and registers them into `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let m = Self::default();
        let r = registry;
        r.register(
            "prometheus_tsdb_head_series",
            "Total number of series in the head block",
            m.series.clone(),
        );
        r.register(
            "prometheus_tsdb_head_series_created",
            "Total number of series created in the head",
            m.series_created.clone(),
        );
        r.register(
            "prometheus_tsdb_head_series_removed",
            "Total number of series removed from the head",
            m.series_removed.clone(),
        );
        r.register(
            "prometheus_tsdb_head_samples_appended",
            "Total number of appended float samples",
            m.samples_appended.clone(),
        );
        r.register(
            "prometheus_tsdb_out_of_order_samples",
            "Total number of out of order samples ingestion failed attempts",
            m.out_of_order_samples.clone(),
        );
        r.register(
            "prometheus_tsdb_out_of_bound_samples",
            "Total number of out of bound samples ingestion failed attempts",
            m.out_of_bound_samples.clone(),
        );
        r.register(
            "prometheus_tsdb_head_chunks",
            "Total number of chunks in the head block",
            m.chunks.clone(),
        );
        r.register(
            "prometheus_tsdb_head_chunks_created",
            "Total number of chunks created in the head",
            m.chunks_created.clone(),
        );
        r.register(
            "prometheus_tsdb_head_chunks_removed",
            "Total number of chunks removed from the head",
            m.chunks_removed.clone(),
        );
        r.register(
            "prometheus_tsdb_head_truncations",
            "Total number of head truncations attempted",
            m.truncations.clone(),
        );
        r.register(
            "prometheus_tsdb_wal_replay_unknown_refs",
            "Total number of WAL samples referencing unknown series",
            m.wal_replay_unknown_refs.clone(),
        );
        r.register(
            "prometheus_tsdb_head_min_time",
            "Minimum time bound of the head block, in ms",
            m.min_time.clone(),
        );
        r.register(
            "prometheus_tsdb_head_max_time",
            "Maximum timestamp of the head block, in ms",
            m.max_time.clone(),
        );
        m
    }
}
