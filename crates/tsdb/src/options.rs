//! [`Options`]: every tunable of the storage engine, with Prometheus's defaults.
//!
//! A plain struct (no serde): the server owns the configuration file and converts it.

use std::time::Duration;

use crate::chunkenc::cut::{CutOptions, DEFAULT_SAMPLES_PER_CHUNK};
use crate::error::{Error, Result};
use crate::wal::{DEFAULT_SEGMENT_SIZE, PAGE_SIZE, SyncPolicy};

/// Two hours in milliseconds: Prometheus's default block range and head chunk range.
pub const DEFAULT_BLOCK_RANGE_MS: i64 = 2 * 60 * 60 * 1000;

/// Options of [`crate::db::Db`].
#[derive(Debug, Clone)]
pub struct Options {
    /// Whether to write a WAL. Without it nothing survives a restart (tests, benchmarks).
    pub wal_enabled: bool,
    /// Maximum size of one WAL segment in bytes (Prometheus: 128 MiB).
    pub wal_segment_size: usize,
    /// Whether WAL records are snappy-compressed (Prometheus's default: yes).
    pub wal_compression: bool,
    /// When the WAL is fsynced relative to acknowledging a commit.
    ///
    /// The default, [`SyncPolicy::Always`], fsyncs every group commit before any of its
    /// appenders returns, so an acknowledged sample survives power loss.
    pub wal_sync: SyncPolicy,
    /// The block range in ms (2 h); head chunks never cross a multiple of it.
    pub block_range: i64,
    /// Target number of samples per chunk (120).
    pub samples_per_chunk: u16,
    /// Capacity of the in-memory exemplar ring (Prometheus's
    /// `storage.exemplars.max_exemplars`, 100,000); 0 disables exemplar storage.
    pub max_exemplars: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            wal_enabled: true,
            wal_segment_size: DEFAULT_SEGMENT_SIZE,
            wal_compression: true,
            wal_sync: SyncPolicy::Always,
            block_range: DEFAULT_BLOCK_RANGE_MS,
            samples_per_chunk: DEFAULT_SAMPLES_PER_CHUNK,
            max_exemplars: 100_000,
        }
    }
}

impl Options {
    /// Checks that every option is in range.
    pub fn validate(&self) -> Result<()> {
        if self.wal_segment_size < PAGE_SIZE || !self.wal_segment_size.is_multiple_of(PAGE_SIZE) {
            return Err(Error::InvalidOptions {
                name: "wal_segment_size",
                reason: format!(
                    "{} is not a positive multiple of {PAGE_SIZE}",
                    self.wal_segment_size
                ),
            });
        }
        if self.block_range <= 0 {
            return Err(Error::InvalidOptions {
                name: "block_range",
                reason: format!("{} must be positive", self.block_range),
            });
        }
        if self.samples_per_chunk < 4 {
            return Err(Error::InvalidOptions {
                name: "samples_per_chunk",
                reason: format!("{} is below the minimum of 4", self.samples_per_chunk),
            });
        }
        if let SyncPolicy::Interval(d) = self.wal_sync
            && d == Duration::ZERO
        {
            return Err(Error::InvalidOptions {
                name: "wal_sync",
                reason: "an interval must be positive; use SyncPolicy::Always".into(),
            });
        }
        Ok(())
    }

    /// The chunk-cutting options these options imply.
    pub fn cut_options(&self) -> CutOptions {
        CutOptions {
            chunk_range: self.block_range,
            samples_per_chunk: self.samples_per_chunk,
        }
    }
}
