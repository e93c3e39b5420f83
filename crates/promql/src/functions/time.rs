//! Date functions over Unix seconds, in UTC, as Prometheus 3.5's `minute()`, `hour()`,
//! `day_of_week()` and friends.
//!
//! Prometheus converts the sample value with Go's `time.Unix(int64(v), 0).UTC()`, so the
//! value is truncated toward zero to whole seconds (`-0.5` is 1970-01-01 00:00:00 and
//! `-1.5` is 1969-12-31 23:59:59). The calendar is the proleptic Gregorian one, computed
//! here with Howard Hinnant's days-from-civil algorithms, so negative times and leap years
//! need no table. Leap seconds do not exist in Unix time.
//!
//! Non-finite input (NaN, ±Inf) and values beyond the `i64` range become `i64::MIN`, as
//! Go's `int64(v)` does on amd64 (the platform Prometheus is released for), and Go's
//! calendar arithmetic on unsigned "absolute" seconds wraps around for times near
//! `i64::MIN`: `time.Unix(math.MinInt64, 0).UTC()` is 292277026596-12-04 15:30:08, a
//! Sunday. `go_unix_seconds` reproduces both.

const SECS_PER_DAY: i64 = 86_400;

/// The date function called `name` (`minute`, `hour`, `day_of_month`, `day_of_week`,
/// `day_of_year`, `days_in_month`, `month`, `year`), mapping Unix seconds to its value.
///
/// `day_of_week` is 0 for Sunday to 6 for Saturday; `month` and `day_of_month` start at 1.
/// The evaluator supplies the evaluation time (in seconds) for the no-argument form.
pub fn date_function(name: &str) -> Option<fn(f64) -> f64> {
    let f: fn(f64) -> f64 = match name {
        "minute" => |v| with_time(v, |t| (t.second_of_day / 60 % 60) as f64),
        "hour" => |v| with_time(v, |t| (t.second_of_day / 3600) as f64),
        "day_of_month" => |v| with_time(v, |t| f64::from(t.day)),
        // 1970-01-01 was a Thursday (4).
        "day_of_week" => |v| with_time(v, |t| (t.days + 4).rem_euclid(7) as f64),
        "day_of_year" => |v| with_time(v, |t| t.day_of_year() as f64),
        "days_in_month" => |v| with_time(v, |t| f64::from(days_in_month(t.year, t.month))),
        "month" => |v| with_time(v, |t| f64::from(t.month)),
        "year" => |v| with_time(v, |t| t.year as f64),
        _ => return None,
    };
    Some(f)
}

/// A UTC instant broken down into calendar fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct CivilTime {
    /// Days since 1970-01-01.
    days: i64,
    /// Seconds since midnight, 0..86400.
    second_of_day: i64,
    year: i64,
    /// 1..=12.
    month: u32,
    /// 1..=31.
    day: u32,
}

impl CivilTime {
    /// The fields of `secs` seconds since 1970-01-01 (|secs| < 2^64).
    fn from_unix_seconds(secs: i128) -> Self {
        let days = i64::try_from(secs.div_euclid(i128::from(SECS_PER_DAY)))
            .expect("|secs| < 2^64, so the day number fits in i64");
        let (year, month, day) = civil_from_days(days);
        CivilTime {
            days,
            second_of_day: secs.rem_euclid(i128::from(SECS_PER_DAY)) as i64,
            year,
            month,
            day,
        }
    }

    /// 1..=366.
    fn day_of_year(&self) -> i64 {
        self.days - days_from_civil(self.year, 1, 1) + 1
    }
}

fn with_time(v: f64, f: impl Fn(&CivilTime) -> f64) -> f64 {
    f(&CivilTime::from_unix_seconds(go_unix_seconds(v)))
}

/// Seconds from Go's `time.Unix(int64(v), 0)` to the instant whose proleptic Gregorian
/// fields Go's `Time.Date`/`Clock` report.
///
/// `int64(v)` truncates toward zero; out of range or non-finite it is `i64::MIN` on amd64
/// (`CVTTSD2SQ`'s "integer indefinite"). Go then computes the date from
/// `uint64(sec + unixToAbsolute)`, so times before `-unixToAbsolute` (within about 260
/// years of `i64::MIN`) wrap around by 2^64 seconds.
fn go_unix_seconds(v: f64) -> i128 {
    // 2^63: `as` would saturate instead.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    let secs = if (-LIMIT..LIMIT).contains(&v) {
        v as i64
    } else {
        i64::MIN
    };
    // Go 1.24's `unixToInternal + internalToAbsolute`: 1969 years of days to year 1, plus
    // `absoluteYears` (292277022399) years of 365.2425 days and March to December (306
    // days) back to the absolute epoch.
    const UNIX_TO_ABSOLUTE: i128 =
        62_135_596_800 + 292_277_022_399 * 31_556_952 + 306 * SECS_PER_DAY as i128;
    (i128::from(secs) + UNIX_TO_ABSOLUTE).rem_euclid(1 << 64) - UNIX_TO_ABSOLUTE
}

pub use tsdb::timestamp::{civil_from_days, days_from_civil};

fn is_leap_year(year: i64) -> bool {
    year.rem_euclid(4) == 0 && (year.rem_euclid(100) != 0 || year.rem_euclid(400) == 0)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests;
