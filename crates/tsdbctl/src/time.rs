//! Times and durations on the command line, one rule for every subcommand.
//!
//! * A **time** (`--min-time`, `--max-time`, `--time`, `--start`, `--end`) is either Unix
//!   seconds, optionally with a fraction (`1700000000`, `1700000000.5`, `-1`), or RFC 3339
//!   (`2026-11-21T10:00:00Z`, `2026-11-21T10:00:00.250+01:00`), as Prometheus's HTTP API
//!   accepts them. The result is in ms; a fraction below 1 ms is dropped (toward zero).
//! * A **duration** (`--block-duration`, `--step`, ...) is a Prometheus duration: units
//!   `y w d h m s ms`, largest first, each at most once (`2h`, `1h30m`, `90s`, `500ms`).

use anyhow::{Result, bail};

/// Parses a time (see the module documentation) into ms since the epoch, with the rule
/// backfill's CSV timestamps follow ([`ingest::exposition::parse_timestamp`]).
pub(crate) fn parse_time(s: &str) -> Result<i64> {
    ingest::exposition::parse_timestamp(s.trim()).ok_or_else(|| {
        anyhow::anyhow!(
            "cannot parse time {s:?}: expected Unix seconds (1700000000) or RFC 3339 \
             (2026-11-21T10:00:00Z)"
        )
    })
}

/// Parses a Prometheus duration (see the module documentation, [`tsdb::units`]) into ms;
/// it must be positive.
pub(crate) fn parse_duration(s: &str) -> Result<i64> {
    let ms = tsdb::units::parse_duration_ms(s.trim()).map_err(|_| {
        anyhow::anyhow!("cannot parse duration {s:?}: expected a duration such as 2h, 1h30m, 15s")
    })?;
    if ms <= 0 {
        bail!("duration {s:?} must be positive");
    }
    Ok(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(parse_time("0").expect("0"), 0);
        assert_eq!(parse_time("1700000000").expect("secs"), 1_700_000_000_000);
        assert_eq!(
            parse_time("1700000000.123").expect("frac"),
            1_700_000_000_123
        );
        assert_eq!(parse_time("-1.5").expect("negative"), -1500);
        assert_eq!(
            parse_time("2023-11-14T22:13:20Z").expect("rfc3339"),
            1_700_000_000_000
        );
        assert_eq!(
            parse_time("2023-11-14T22:13:20.123456Z").expect("nanos"),
            1_700_000_000_123
        );
        assert_eq!(
            parse_time("2023-11-14T23:13:20.5+01:00").expect("offset"),
            1_700_000_000_500
        );
        assert_eq!(parse_time("1969-12-31T23:59:59Z").expect("before"), -1000);
        for bad in [
            "",
            "now",
            "2023-11-14",
            "2023-02-30T00:00:00Z",
            "1e3x",
            "2023-11-14T22:13:20",
        ] {
            assert!(parse_time(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("2h").expect("2h"), 7_200_000);
        assert_eq!(parse_duration("1h30m").expect("1h30m"), 5_400_000);
        assert_eq!(parse_duration("500ms").expect("ms"), 500);
        assert_eq!(parse_duration("1m500ms").expect("m ms"), 60_500);
        assert_eq!(parse_duration("1d").expect("1d"), 86_400_000);
        for bad in ["", "2", "h", "30m1h", "1h1h", "0s", "-1h", "1.5h"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
