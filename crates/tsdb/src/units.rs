//! Prometheus's duration (`15d`, `1h30m`) and byte-size (`512MB`) syntax, one parser of
//! each for tsdbd's flags, its configuration file and HTTP API, `tsdbctl` and the PromQL
//! test scripts.
//!
//! Durations follow Prometheus's `model.ParseDuration`: one or more `<integer><unit>` pairs
//! with units `y` (365d), `w`, `d`, `h`, `m`, `s`, `ms`, each at most once and from the
//! largest down; `0` alone is zero. Sizes follow `units.ParseBase2Bytes`: `<integer><unit>`
//! pairs with `B`, `KB`/`KiB`, `MB`/`MiB`, `GB`/`GiB`, `TB`/`TiB`, `PB`/`PiB`, `EB`/`EiB`,
//! all powers of 1024; `0` alone is zero.

use std::time::Duration;

const DURATION_UNITS: [(&str, u64); 7] = [
    ("y", 365 * 24 * 3_600_000),
    ("w", 7 * 24 * 3_600_000),
    ("d", 24 * 3_600_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1_000),
    ("ms", 1),
];

/// Parses a Prometheus duration such as `15d`, `1h30m` or `250ms`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let err = || format!("not a valid duration string: {s:?} (use e.g. 15d, 1h30m, 250ms)");
    // Index into DURATION_UNITS of the next unit allowed: units go from large to small.
    let mut next_unit = 0;
    let total = sum_of_pairs(s, |unit| {
        let pos = DURATION_UNITS[next_unit..]
            .iter()
            .position(|(u, _)| *u == unit)?;
        next_unit += pos + 1;
        Some(DURATION_UNITS[next_unit - 1].1)
    })
    .ok_or_else(err)?;
    Ok(Duration::from_millis(total))
}

/// [`parse_duration`] in milliseconds, for callers that count time in `i64` ms.
pub fn parse_duration_ms(s: &str) -> Result<i64, String> {
    let d = parse_duration(s)?;
    i64::try_from(d.as_millis()).map_err(|_| format!("duration overflows: {s:?}"))
}

/// Formats a duration the way Prometheus prints one (`15d`, `1h30m`, `0s`): years and
/// weeks only when exact, then days down to milliseconds.
pub fn format_duration(d: Duration) -> String {
    let mut ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    if ms == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    for (unit, mult) in DURATION_UNITS {
        let exact_only = unit == "y" || unit == "w";
        if exact_only && !ms.is_multiple_of(mult) {
            continue;
        }
        let v = ms / mult;
        if v > 0 {
            out.push_str(&format!("{v}{unit}"));
            ms -= v * mult;
        }
    }
    out
}

const SIZE_UNITS: [(&str, &str, u64); 7] = [
    ("EB", "EiB", 1 << 60),
    ("PB", "PiB", 1 << 50),
    ("TB", "TiB", 1 << 40),
    ("GB", "GiB", 1 << 30),
    ("MB", "MiB", 1 << 20),
    ("KB", "KiB", 1 << 10),
    ("B", "B", 1),
];

/// Parses a byte size such as `512MB`, `1GiB` or `1GB512MB` (powers of 1024).
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let err = || format!("not a valid size: {s:?} (use e.g. 512MB, 10GB, 0)");
    sum_of_pairs(s, |unit| {
        SIZE_UNITS
            .iter()
            .find(|(a, b, _)| *a == unit || *b == unit)
            .map(|(_, _, m)| *m)
    })
    .ok_or_else(err)
}

/// The sum of the `<integer><unit>` pairs that make up `s` (`0` alone is zero), each
/// integer times what `multiplier` gives for its unit; `None` when `s` is empty, a pair
/// lacks its integer, `multiplier` refuses a unit, or the sum overflows.
fn sum_of_pairs(s: &str, mut multiplier: impl FnMut(&str) -> Option<u64>) -> Option<u64> {
    if s == "0" {
        return Some(0);
    }
    if s.is_empty() {
        return None;
    }
    let mut rest = s;
    let mut total: u64 = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let n: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let mult = multiplier(&rest[..unit_len])?;
        rest = &rest[unit_len..];
        total = total.checked_add(n.checked_mul(mult)?)?;
    }
    Some(total)
}

/// Formats a byte size as Prometheus prints one (`512MiB`, `1GiB512MiB`, `0B`).
pub fn format_bytes(mut n: u64) -> String {
    if n == 0 {
        return "0B".to_owned();
    }
    let mut out = String::new();
    for (_, unit, mult) in SIZE_UNITS {
        let v = n / mult;
        if v > 0 {
            out.push_str(&format!("{v}{unit}"));
            n -= v * mult;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_like_prometheus() {
        let ms = |s| parse_duration(s).map(|d| d.as_millis());
        assert_eq!(ms("15d"), Ok(15 * 86_400_000));
        assert_eq!(ms("1h30m"), Ok(5_400_000));
        assert_eq!(ms("2m"), Ok(120_000));
        assert_eq!(ms("250ms"), Ok(250));
        assert_eq!(ms("10s53ms"), Ok(10_053));
        assert_eq!(ms("1y"), Ok(365 * 86_400_000));
        assert_eq!(ms("1w2d"), Ok(9 * 86_400_000));
        assert_eq!(ms("0"), Ok(0));
        assert_eq!(ms("0s"), Ok(0));
        for bad in ["", "15", "1.5h", "30m1h", "1h1h", "1x", "-1h", "h", "1d "] {
            assert!(parse_duration(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn durations_print_like_prometheus() {
        let f = |s| format_duration(parse_duration(s).unwrap());
        assert_eq!(f("15d"), "15d");
        assert_eq!(f("14d"), "2w");
        assert_eq!(f("90m"), "1h30m");
        assert_eq!(f("0"), "0s");
        assert_eq!(f("1500ms"), "1s500ms");
        assert_eq!(f("365d"), "1y");
    }

    #[test]
    fn sizes_are_powers_of_1024() {
        assert_eq!(parse_bytes("512MB"), Ok(512 << 20));
        assert_eq!(parse_bytes("512MiB"), Ok(512 << 20));
        assert_eq!(parse_bytes("1GB512MB"), Ok((1 << 30) + (512 << 20)));
        assert_eq!(parse_bytes("10B"), Ok(10));
        assert_eq!(parse_bytes("0"), Ok(0));
        for bad in ["", "512", "1.5GB", "5XB", "MB"] {
            assert!(parse_bytes(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(format_bytes(0), "0B");
        assert_eq!(format_bytes(512 << 20), "512MiB");
        assert_eq!(format_bytes((1 << 30) + (512 << 20) + 3), "1GiB512MiB3B");
    }
}
