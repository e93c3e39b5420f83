//! Tests for the date functions: `functions.test` cases, dates around leap days and
//! before 1970, and an exhaustive day-by-day walk against a naive calendar.

use super::*;
use proptest::prelude::*;

const NAMES: [&str; 8] = [
    "minute",
    "hour",
    "day_of_month",
    "day_of_week",
    "day_of_year",
    "days_in_month",
    "month",
    "year",
];

fn f(name: &str) -> fn(f64) -> f64 {
    date_function(name).unwrap_or_else(|| panic!("{name} missing"))
}

/// All eight functions at `secs`, in the order of `NAMES`.
fn all(secs: f64) -> [f64; 8] {
    NAMES.map(|n| f(n)(secs))
}

#[test]
fn names() {
    for n in NAMES {
        assert!(date_function(n).is_some());
    }
    assert!(date_function("second").is_none());
    assert!(date_function("time").is_none());
}

#[test]
fn known_instants() {
    // [minute, hour, day_of_month, day_of_week, day_of_year, days_in_month, month, year]
    let cases: &[(f64, [f64; 8])] = &[
        (0.0, [0., 0., 1., 4., 1., 31., 1., 1970.]),
        // 2006-01-02 22:04:05, a Monday.
        (1136239445.0, [4., 22., 2., 1., 2., 31., 1., 2006.]),
        (1230767999.0, [59., 23., 31., 3., 366., 31., 12., 2008.]),
        (1230768000.0, [0., 0., 1., 4., 1., 31., 1., 2009.]),
        // 2016-02-29 23:59:59 and 2016-03-01 00:00:00.
        (1456790399.0, [59., 23., 29., 1., 60., 29., 2., 2016.]),
        (1456790400.0, [0., 0., 1., 2., 61., 31., 3., 2016.]),
        (1483191420.0, [37., 13., 31., 6., 366., 31., 12., 2016.]),
        (1672493820.0, [37., 13., 31., 6., 365., 31., 12., 2022.]),
        (1454284800.0, [0., 0., 1., 1., 32., 29., 2., 2016.]),
        (1485907200.0, [0., 0., 1., 3., 32., 28., 2., 2017.]),
        // 2000 is a leap year (divisible by 400), 2100 is not.
        (951782400.0, [0., 0., 29., 2., 60., 29., 2., 2000.]),
        (4107542400.0, [0., 0., 1., 1., 60., 31., 3., 2100.]),
        (1709164800.0, [0., 0., 29., 4., 60., 29., 2., 2024.]),
        // Before 1970.
        (-1.0, [59., 23., 31., 3., 365., 31., 12., 1969.]),
        (-86400.0, [0., 0., 31., 3., 365., 31., 12., 1969.]),
        (-86401.0, [59., 23., 30., 2., 364., 31., 12., 1969.]),
        (-2208988800.0, [0., 0., 1., 1., 1., 31., 1., 1900.]),
        (-62135596800.0, [0., 0., 1., 1., 1., 31., 1., 1.]),
        // Year 0 (1 BC) is a leap year in the proleptic Gregorian calendar.
        (-62167219200.0, [0., 0., 1., 6., 1., 31., 1., 0.]),
        (-62167219201.0, [59., 23., 31., 5., 365., 31., 12., -1.]),
        (253402300799.0, [59., 23., 31., 5., 365., 31., 12., 9999.]),
    ];
    for &(secs, want) in cases {
        assert_eq!(all(secs), want, "at {secs}");
    }
}

#[test]
fn fractions_truncate_toward_zero() {
    // Go's int64(v): -0.5 is second 0, -1.5 is second -1.
    assert_eq!(all(-0.5), all(0.0));
    assert_eq!(all(-1.5), all(-1.0));
    assert_eq!(all(59.999), all(59.0));
}

/// Prometheus 3.5.3 (Go on amd64) answers these for NaN, ±Inf and finite values beyond the
/// `i64` range: the fields of `time.Unix(math.MinInt64, 0).UTC()`.
#[test]
fn non_finite_and_out_of_range_give_the_date_of_i64_min() {
    let want = [
        ("minute", 30.0),
        ("hour", 15.0),
        ("day_of_month", 4.0),
        ("day_of_week", 0.0),
        ("day_of_year", 339.0),
        ("days_in_month", 31.0),
        ("month", 12.0),
        ("year", 292_277_026_596.0),
    ];
    for (n, w) in want {
        for v in [
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            9.3e18,
            -9.3e18,
            f64::MAX,
        ] {
            assert_eq!(f(n)(v), w, "{n}({v})");
        }
    }
    for n in NAMES {
        for v in [f64::MIN, i64::MAX as f64, -9.2233e18] {
            assert!(f(n)(v).is_finite(), "{n}({v})");
        }
    }
}

/// In-range extremes, as Prometheus 3.5.3 answers them (no wrap-around yet).
#[test]
fn extremes_within_i64_match_prometheus() {
    let cases = [
        ("year", -9.2e18, -291_536_392_293.0),
        ("month", -9.2e18, 5.0),
        ("hour", -9.2e18, 12.0),
        ("year", 9.2e18, 291_536_396_232.0),
        ("month", 9.2e18, 8.0),
        ("hour", 9.2e18, 11.0),
        ("year", -9.2233e18, -292_274_739_900.0),
        ("month", -9.2233e18, 2.0),
        ("hour", -9.2233e18, 14.0),
    ];
    for (n, v, w) in cases {
        assert_eq!(f(n)(v), w, "{n}({v})");
    }
}

/// Walks 1600-01-01 to 2400-12-31 one day at a time with a naive calendar and checks every
/// day against the closed-form conversion.
#[test]
fn day_by_day_walk_matches_naive_calendar() {
    let naive_days_in_month = |y: i64, m: u32| match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    let start = days_from_civil(1600, 1, 1);
    assert_eq!(start, -135_140);
    let (mut y, mut m, mut d, mut doy, mut dow) = (1600i64, 1u32, 1u32, 1i64, 6i64);
    let mut days = start;
    while y <= 2400 {
        let secs = (days * SECS_PER_DAY + 12 * 3600) as f64;
        let dim = naive_days_in_month(y, m);
        let want = [
            0.,
            12.,
            f64::from(d),
            dow as f64,
            doy as f64,
            f64::from(dim),
            f64::from(m),
            y as f64,
        ];
        assert_eq!(all(secs), want, "day {days}");
        assert_eq!(days_from_civil(y, m, d), days);
        days += 1;
        dow = (dow + 1) % 7;
        doy += 1;
        d += 1;
        if d > dim {
            d = 1;
            m += 1;
            if m > 12 {
                m = 1;
                y += 1;
                doy = 1;
            }
        }
    }
}

proptest! {
    #[test]
    fn civil_round_trip(days in -1_000_000_000i64..1_000_000_000) {
        let (y, m, d) = civil_from_days(days);
        prop_assert!((1..=12).contains(&m));
        prop_assert!(d >= 1 && d <= days_in_month(y, m));
        prop_assert_eq!(days_from_civil(y, m, d), days);
    }

    #[test]
    fn time_of_day_fields(secs in -1e12f64..1e12) {
        let s = secs as i64;
        let sod = s.rem_euclid(86_400);
        prop_assert_eq!(f("hour")(secs), (sod / 3600) as f64);
        prop_assert_eq!(f("minute")(secs), (sod / 60 % 60) as f64);
    }
}
