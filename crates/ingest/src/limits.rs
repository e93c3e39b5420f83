//! [`Limits`]: the bounds a remote-write request must stay within.

/// Limits on one remote-write request. Defaults are documented in
/// `docs/format/remote-write.md`; the server's config holds one of these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted (snappy-compressed) body, in bytes. Default 16 MiB.
    pub max_compressed_bytes: usize,
    /// Largest accepted decompressed body, checked against the snappy header before
    /// allocating. Default 64 MiB.
    pub max_decompressed_bytes: usize,
    /// Most series in one request. Default 100,000 (Prometheus sends at most 2,000
    /// samples per request by default).
    pub max_series_per_request: usize,
    /// Most labels in one series, `__name__` included. Default 128.
    pub max_labels_per_series: usize,
    /// Longest label name in bytes. Default 1,024.
    pub max_label_name_bytes: usize,
    /// Longest label value in bytes. Default 4,096.
    pub max_label_value_bytes: usize,
    /// How far ahead of the server's clock a sample may be, in ms. Default 10 minutes,
    /// as Prometheus's `maxAheadTime`.
    pub max_ahead_ms: i64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_compressed_bytes: 16 << 20,
            max_decompressed_bytes: 64 << 20,
            max_series_per_request: 100_000,
            max_labels_per_series: 128,
            max_label_name_bytes: 1024,
            max_label_value_bytes: 4096,
            max_ahead_ms: 10 * 60 * 1000,
        }
    }
}
