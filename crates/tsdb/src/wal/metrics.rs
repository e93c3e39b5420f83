//! Self-metrics of the WAL, named like Prometheus's (`prometheus_tsdb_wal_*`) so
//! existing dashboards work.
//!
//! Differences from Prometheus: `fsync_duration_seconds` is a histogram (the client
//! library has no summaries); `corruptions_total` lives here rather than in the head's
//! metrics; `fsyncs_total` and the `group_commit_*` metrics are ours.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Counters, gauges and histograms of one WAL. Cloning shares the underlying values.
#[derive(Debug, Clone)]
pub struct WalMetrics {
    /// `prometheus_tsdb_wal_corruptions_total`: corruptions found (and repaired) on replay.
    pub corruptions_total: Counter,
    /// `prometheus_tsdb_wal_fsync_duration_seconds`: duration of segment fsyncs.
    pub fsync_duration_seconds: Histogram,
    /// `prometheus_tsdb_wal_fsyncs_total`: number of segment fsyncs (ours).
    pub fsyncs_total: Counter,
    /// `prometheus_tsdb_wal_page_flushes_total`: page writes to the OS.
    pub page_flushes_total: Counter,
    /// `prometheus_tsdb_wal_completed_pages_total`: pages written in full.
    pub completed_pages_total: Counter,
    /// `prometheus_tsdb_wal_truncations_total`: truncations attempted.
    pub truncations_total: Counter,
    /// `prometheus_tsdb_wal_truncations_failed_total`: truncations that failed.
    pub truncations_failed_total: Counter,
    /// `prometheus_tsdb_wal_writes_failed_total`: `log` calls that failed.
    pub writes_failed_total: Counter,
    /// `prometheus_tsdb_wal_segment_current`: the segment being written.
    pub segment_current: Gauge,
    /// `prometheus_tsdb_wal_record_part_writes_total`: fragments written.
    pub record_part_writes_total: Counter,
    /// `prometheus_tsdb_wal_record_parts_bytes_written_total`: fragment bytes, headers included.
    pub record_parts_bytes_written_total: Counter,
    /// `prometheus_tsdb_wal_record_bytes_saved_total`: bytes saved by compression.
    pub record_bytes_saved_total: Counter,
    /// `prometheus_tsdb_wal_group_commits_total`: groups written by the commit thread.
    pub group_commits_total: Counter,
    /// `prometheus_tsdb_wal_group_commit_requests_total`: `WalWriter::commit` calls served.
    pub group_commit_requests_total: Counter,
    /// `prometheus_tsdb_wal_group_commit_records_total`: records written by the commit thread.
    pub group_commit_records_total: Counter,
    /// `prometheus_tsdb_wal_group_commit_size`: commit calls per group.
    pub group_commit_size: Histogram,
}

impl Default for WalMetrics {
    fn default() -> Self {
        Self::unregistered()
    }
}

impl WalMetrics {
    /// Metrics not registered anywhere (tests, checkpoints, tools).
    pub fn unregistered() -> Self {
        WalMetrics {
            corruptions_total: Counter::default(),
            // 100µs .. ~6.5s.
            fsync_duration_seconds: Histogram::new(exponential_buckets(0.0001, 2.0, 17)),
            fsyncs_total: Counter::default(),
            page_flushes_total: Counter::default(),
            completed_pages_total: Counter::default(),
            truncations_total: Counter::default(),
            truncations_failed_total: Counter::default(),
            writes_failed_total: Counter::default(),
            segment_current: Gauge::default(),
            record_part_writes_total: Counter::default(),
            record_parts_bytes_written_total: Counter::default(),
            record_bytes_saved_total: Counter::default(),
            group_commits_total: Counter::default(),
            group_commit_requests_total: Counter::default(),
            group_commit_records_total: Counter::default(),
            group_commit_size: Histogram::new(exponential_buckets(1.0, 2.0, 12)),
        }
    }

    /// Creates the metrics and registers them in `registry`. Counter names are given
    /// without `_total`, which the client library appends.
    pub fn new(registry: &mut Registry) -> Self {
        let m = Self::unregistered();
        let r = registry;
        let p = "prometheus_tsdb_wal_";
        let name = |n: &str| format!("{p}{n}");
        r.register(
            name("corruptions"),
            "Total number of WAL corruptions",
            m.corruptions_total.clone(),
        );
        r.register(
            name("fsync_duration_seconds"),
            "Duration of write log fsync",
            m.fsync_duration_seconds.clone(),
        );
        r.register(
            name("fsyncs"),
            "Total number of write log fsyncs",
            m.fsyncs_total.clone(),
        );
        r.register(
            name("page_flushes"),
            "Total number of page flushes",
            m.page_flushes_total.clone(),
        );
        r.register(
            name("completed_pages"),
            "Total number of completed pages",
            m.completed_pages_total.clone(),
        );
        r.register(
            name("truncations"),
            "Total number of write log truncations attempted",
            m.truncations_total.clone(),
        );
        r.register(
            name("truncations_failed"),
            "Total number of write log truncations that failed",
            m.truncations_failed_total.clone(),
        );
        r.register(
            name("writes_failed"),
            "Total number of write log writes that failed",
            m.writes_failed_total.clone(),
        );
        r.register(
            name("segment_current"),
            "Write log segment index that TSDB is currently writing to",
            m.segment_current.clone(),
        );
        r.register(
            name("record_part_writes"),
            "Total number of record parts written before flushing",
            m.record_part_writes_total.clone(),
        );
        r.register(
            name("record_parts_bytes_written"),
            "Total number of record part bytes written before flushing, including CRC and compression headers",
            m.record_parts_bytes_written_total.clone(),
        );
        r.register(
            name("record_bytes_saved"),
            "Total number of bytes saved by the optional record compression",
            m.record_bytes_saved_total.clone(),
        );
        r.register(
            name("group_commits"),
            "Total number of groups of commits written by the WAL writer thread",
            m.group_commits_total.clone(),
        );
        r.register(
            name("group_commit_requests"),
            "Total number of commit calls served by the WAL writer thread",
            m.group_commit_requests_total.clone(),
        );
        r.register(
            name("group_commit_records"),
            "Total number of records written by the WAL writer thread",
            m.group_commit_records_total.clone(),
        );
        r.register(
            name("group_commit_size"),
            "Number of commit calls written and synced together",
            m.group_commit_size.clone(),
        );
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_prometheus() {
        let mut registry = Registry::default();
        let m = WalMetrics::new(&mut registry);
        m.corruptions_total.inc();
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        for want in [
            "prometheus_tsdb_wal_corruptions_total 1",
            "prometheus_tsdb_wal_fsync_duration_seconds_count 0",
            "prometheus_tsdb_wal_page_flushes_total 0",
            "prometheus_tsdb_wal_completed_pages_total 0",
            "prometheus_tsdb_wal_truncations_total 0",
            "prometheus_tsdb_wal_truncations_failed_total 0",
            "prometheus_tsdb_wal_writes_failed_total 0",
            "prometheus_tsdb_wal_segment_current 0",
            "prometheus_tsdb_wal_record_part_writes_total 0",
            "prometheus_tsdb_wal_group_commit_size_count 0",
        ] {
            assert!(
                text.lines().any(|l| l == want),
                "missing {want:?} in\n{text}"
            );
        }
    }
}
