//! [`Options`]: block durations and retention, with Prometheus 3.5's defaults and its
//! derivation of the maximum block duration and the compaction ranges.
//!
//! A plain struct (no serde): the server owns the configuration file and converts it.
//! Durations are milliseconds, the unit of block `minTime`/`maxTime`.

use crate::error::{Error, Result};

/// One hour in milliseconds.
const HOUR_MS: i64 = 60 * 60 * 1000;

/// Prometheus's default minimum block duration (`--storage.tsdb.min-block-duration`): 2 h.
pub const DEFAULT_MIN_BLOCK_DURATION_MS: i64 = 2 * HOUR_MS;

/// Prometheus's default time retention (`--storage.tsdb.retention.time`): 15 d.
pub const DEFAULT_RETENTION_TIME_MS: i64 = 15 * 24 * HOUR_MS;

/// The largest derived maximum block duration: 31 d (Prometheus's `cmd/prometheus`).
pub const MAX_BLOCK_DURATION_CAP_MS: i64 = 31 * 24 * HOUR_MS;

/// How many ranges the exponential series has before it is cut at the maximum block
/// duration, and the factor between neighbours (Prometheus's
/// `ExponentialBlockRanges(minBlockDuration, 10, 3)`).
const RANGE_STEPS: usize = 10;
const RANGE_FACTOR: i64 = 3;

/// Options of planning and retention.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The duration of a block cut from the head, in ms, and the first compaction range
    /// (Prometheus's `--storage.tsdb.min-block-duration`, 2 h). Must equal the head's
    /// `tsdb::Options::block_range`.
    pub min_block_duration: i64,
    /// The longest a compacted block may span, in ms; `None` derives it from the
    /// retention as Prometheus does (see [`Options::max_block_duration`]). Prometheus's
    /// hidden `--storage.tsdb.max-block-duration`.
    pub max_block_duration: Option<i64>,
    /// Blocks whose `maxTime` is at least this far (ms) behind the newest block's `maxTime`
    /// are deleted; 0 disables time retention (`--storage.tsdb.retention.time`, 15 d).
    pub retention_time: i64,
    /// The most bytes blocks plus the head's files on disk (WAL, checkpoint) may take;
    /// the oldest blocks are deleted until they fit; 0 disables size retention
    /// (`--storage.tsdb.retention.size`).
    pub retention_size: u64,
    /// Whether overlapping blocks are compacted together first (vertical compaction;
    /// Prometheus's `EnableOverlappingCompaction`, always on in Prometheus).
    pub vertical_compaction: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            min_block_duration: DEFAULT_MIN_BLOCK_DURATION_MS,
            max_block_duration: None,
            retention_time: DEFAULT_RETENTION_TIME_MS,
            retention_size: 0,
            vertical_compaction: true,
        }
    }
}

impl Options {
    /// Checks that every option is in range.
    pub fn validate(&self) -> Result<()> {
        if self.min_block_duration <= 0 {
            return Err(Error::InvalidOptions {
                name: "min_block_duration",
                reason: format!("{} ms must be positive", self.min_block_duration),
            });
        }
        if let Some(max) = self.max_block_duration
            && max <= 0
        {
            return Err(Error::InvalidOptions {
                name: "max_block_duration",
                reason: format!("{max} ms must be positive"),
            });
        }
        if self.retention_time < 0 {
            return Err(Error::InvalidOptions {
                name: "retention_time",
                reason: format!("{} ms must not be negative", self.retention_time),
            });
        }
        Ok(())
    }

    /// The maximum block duration in ms: the configured one, or else 10 % of the time
    /// retention capped at 31 d (31 d without time retention); never below the minimum
    /// block duration. Prometheus derives it in `cmd/prometheus` and raises it to the
    /// minimum in `tsdb.validateOpts`; with the defaults (2 h, 15 d) it is 36 h.
    pub fn max_block_duration(&self) -> i64 {
        let max = self.max_block_duration.unwrap_or_else(|| {
            if self.retention_time > 0 {
                (self.retention_time / 10).min(MAX_BLOCK_DURATION_CAP_MS)
            } else {
                MAX_BLOCK_DURATION_CAP_MS
            }
        });
        max.max(self.min_block_duration)
    }

    /// The compaction ranges in ms: the minimum block duration times 1, 3, 9, ... (ten
    /// steps), cut before the first one longer than [`Options::max_block_duration`].
    /// With the defaults: 2 h, 6 h, 18 h. The first range is the head's block range; the
    /// planner compacts into the others.
    pub fn block_ranges(&self) -> Vec<i64> {
        let max = self.max_block_duration();
        let mut ranges = Vec::with_capacity(RANGE_STEPS);
        let mut r = self.min_block_duration;
        for _ in 0..RANGE_STEPS {
            if r > max {
                break;
            }
            ranges.push(r);
            match r.checked_mul(RANGE_FACTOR) {
                Some(next) => r = next,
                None => break,
            }
        }
        ranges
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY_MS: i64 = 24 * HOUR_MS;

    #[test]
    fn defaults_are_prometheus_defaults() {
        let o = Options::default();
        o.validate().expect("defaults are valid");
        // 10 % of 15 d.
        assert_eq!(o.max_block_duration(), 36 * HOUR_MS);
        assert_eq!(o.block_ranges(), [2 * HOUR_MS, 6 * HOUR_MS, 18 * HOUR_MS]);
    }

    #[test]
    fn max_block_duration_is_capped_at_31_days() {
        let o = Options {
            retention_time: 365 * DAY_MS,
            ..Options::default()
        };
        assert_eq!(o.max_block_duration(), 31 * DAY_MS);
        // 2h·3^k for k = 0..=5 is at most 486 h < 31 d = 744 h; 1458 h is over.
        let hours: Vec<i64> = o.block_ranges().iter().map(|r| r / HOUR_MS).collect();
        assert_eq!(hours, [2, 6, 18, 54, 162, 486]);
        let no_retention = Options {
            retention_time: 0,
            retention_size: 1 << 30,
            ..Options::default()
        };
        assert_eq!(no_retention.max_block_duration(), 31 * DAY_MS);
    }

    #[test]
    fn max_block_duration_is_at_least_the_minimum() {
        // 10 % of 1 d is 2.4 h: only one range fits, so nothing is ever compacted by level.
        let o = Options {
            retention_time: DAY_MS,
            ..Options::default()
        };
        assert_eq!(o.max_block_duration(), DAY_MS / 10);
        assert_eq!(o.block_ranges(), [2 * HOUR_MS]);
        let short = Options {
            retention_time: HOUR_MS,
            ..Options::default()
        };
        assert_eq!(short.max_block_duration(), 2 * HOUR_MS);
        assert_eq!(short.block_ranges(), [2 * HOUR_MS]);
    }

    #[test]
    fn explicit_max_block_duration_wins() {
        let o = Options {
            max_block_duration: Some(54 * HOUR_MS),
            ..Options::default()
        };
        assert_eq!(
            o.block_ranges(),
            [2 * HOUR_MS, 6 * HOUR_MS, 18 * HOUR_MS, 54 * HOUR_MS]
        );
    }

    #[test]
    fn ranges_stop_at_ten_steps_and_on_overflow() {
        let o = Options {
            min_block_duration: 1,
            max_block_duration: Some(i64::MAX),
            ..Options::default()
        };
        assert_eq!(
            o.block_ranges(),
            [1, 3, 9, 27, 81, 243, 729, 2187, 6561, 19683]
        );
        let huge = Options {
            min_block_duration: i64::MAX / 2,
            max_block_duration: Some(i64::MAX),
            ..Options::default()
        };
        assert_eq!(huge.block_ranges(), [i64::MAX / 2]);
    }

    #[test]
    fn validate_rejects_out_of_range_values() {
        for (o, name) in [
            (
                Options {
                    min_block_duration: 0,
                    ..Options::default()
                },
                "min_block_duration",
            ),
            (
                Options {
                    max_block_duration: Some(-1),
                    ..Options::default()
                },
                "max_block_duration",
            ),
            (
                Options {
                    retention_time: -1,
                    ..Options::default()
                },
                "retention_time",
            ),
        ] {
            match o.validate() {
                Err(Error::InvalidOptions { name: n, .. }) => assert_eq!(n, name),
                other => panic!("{name}: {other:?}"),
            }
        }
    }
}
