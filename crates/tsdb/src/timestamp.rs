//! Calendar arithmetic on Unix time and RFC 3339 timestamps, shared by every crate that
//! reads or prints dates (the API's `time` parameters, PromQL's date functions, CSV
//! backfill, tsdbctl's flags). The calendar is the proleptic Gregorian one, computed with
//! Howard Hinnant's days-from-civil algorithms, so negative times and leap years need no
//! table.

/// `(year, month, day)` of the given day number (days since 1970-01-01).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    // Shift the epoch to 0000-03-01 so that the leap day ends each 4-, 100- and 400-year
    // cycle ("era" = 400 years = 146097 days).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365], from March 1st
    let mp = (5 * doy + 2) / 153; // [0, 11], March = 0
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Days since 1970-01-01 of the given date (the inverse of [`civil_from_days`]).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parses RFC 3339 with an optional fraction (Go's `time.RFC3339Nano` layout), returning
/// ms (the fraction truncated to ms, as `timestamp.FromTime`). Years may have more than
/// four digits and a sign, so the renderings of Prometheus's min and max times parse too.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let (neg, rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    let dash = rest.find('-')?;
    let year: i64 = rest[..dash].parse().ok()?;
    if dash < 4 || !rest[..dash].bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let year = if neg { -year } else { year };
    let b = &rest.as_bytes()[dash..];
    // -MM-DDTHH:MM:SS
    if b.len() < 15 || b[0] != b'-' || b[3] != b'-' || b[6] != b'T' || b[9] != b':' || b[12] != b':'
    {
        return None;
    }
    let num = |i: usize| -> Option<u32> {
        let d = &b[i..i + 2];
        d.iter()
            .all(u8::is_ascii_digit)
            .then(|| u32::from(d[0] - b'0') * 10 + u32::from(d[1] - b'0'))
    };
    let (mo, d, h, mi, sec) = (num(1)?, num(4)?, num(7)?, num(10)?, num(13)?);
    if !(1..=12).contains(&mo)
        || d == 0
        || d > days_in_month(year, mo)
        || h > 23
        || mi > 59
        || sec > 59
    {
        return None;
    }
    let mut i = 15;
    let mut nanos: i64 = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let digits = &rest[dash + start..dash + i];
        if digits.is_empty() || digits.len() > 9 {
            return None;
        }
        nanos = format!("{digits:0<9}").parse().ok()?;
    }
    let offset_secs: i64 = match &b[i..] {
        [b'Z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let digits = [h1, h2, m1, m2];
            if !digits.iter().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let oh = i64::from((h1 - b'0') * 10 + (h2 - b'0'));
            let om = i64::from((m1 - b'0') * 10 + (m2 - b'0'));
            if oh > 23 || om > 59 {
                return None;
            }
            let o = oh * 3600 + om * 60;
            if *sign == b'-' { -o } else { o }
        }
        _ => return None,
    };
    let days = days_from_civil(year, mo, d);
    let secs = days
        .checked_mul(86_400)?
        .checked_add(i64::from(h) * 3600 + i64::from(mi) * 60 + i64::from(sec))?
        .checked_sub(offset_secs)?;
    secs.checked_mul(1000)?.checked_add(nanos / 1_000_000)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        4 | 6 | 9 | 11 => 30,
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}
