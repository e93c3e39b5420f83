//! Per-sample float functions, defined as in Prometheus 3.5's `promql/functions.go`.
//!
//! Each maps one float to one float and never fails: out-of-domain inputs give NaN or
//! ±Inf by IEEE 754 rules (e.g. `ln(-1)` is NaN, `ln(0)` is -Inf), as Go's `math` package
//! does.

use std::f64::consts::PI;

/// The one-argument float function called `name` (`abs`, `ceil`, `exp`, `ln`, `sqrt`,
/// trig and hyperbolic functions, `deg`, `rad`, `sgn`, ...), if there is one.
///
/// `sgn` gives -1, 1, or the input itself for zero (keeping the sign of -0) and NaN.
/// `deg(v)` is `v * 180 / pi` and `rad(v)` is `v * pi / 180`, in that evaluation order.
pub fn simple(name: &str) -> Option<fn(f64) -> f64> {
    let f: fn(f64) -> f64 = match name {
        "abs" => f64::abs,
        "ceil" => f64::ceil,
        "floor" => f64::floor,
        "exp" => f64::exp,
        "sqrt" => f64::sqrt,
        "ln" => f64::ln,
        "log2" => f64::log2,
        "log10" => f64::log10,
        "sgn" => sgn,
        "sin" => f64::sin,
        "cos" => f64::cos,
        "tan" => f64::tan,
        "asin" => f64::asin,
        "acos" => f64::acos,
        "atan" => f64::atan,
        "sinh" => f64::sinh,
        "cosh" => f64::cosh,
        "tanh" => f64::tanh,
        "asinh" => f64::asinh,
        "acosh" => f64::acosh,
        "atanh" => f64::atanh,
        "deg" => |v| v * 180.0 / PI,
        "rad" => |v| v * PI / 180.0,
        _ => return None,
    };
    Some(f)
}

fn sgn(v: f64) -> f64 {
    if v < 0.0 {
        -1.0
    } else if v > 0.0 {
        1.0
    } else {
        v
    }
}

/// `round(v, to_nearest)`, rounding half up like Prometheus:
/// `floor(v / to_nearest + 0.5) * to_nearest`, computed through the inverse
/// `1 / to_nearest` (multiply, then divide) because that loses less precision for
/// `to_nearest` like 0.1. `to_nearest` 0 gives NaN or ±Inf, as in Prometheus.
pub fn round(v: f64, to_nearest: f64) -> f64 {
    let inverse = 1.0 / to_nearest;
    (v * inverse + 0.5).floor() / inverse
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAMES: [&str; 23] = [
        "abs", "ceil", "floor", "exp", "sqrt", "ln", "log2", "log10", "sgn", "sin", "cos", "tan",
        "asin", "acos", "atan", "sinh", "cosh", "tanh", "asinh", "acosh", "atanh", "deg", "rad",
    ];

    fn f(name: &str) -> fn(f64) -> f64 {
        simple(name).unwrap_or_else(|| panic!("{name} missing"))
    }

    #[track_caller]
    fn assert_same(got: f64, want: f64) {
        let ok = if want.is_nan() {
            got.is_nan()
        } else if want.is_infinite() || want == 0.0 {
            got == want && got.is_sign_negative() == want.is_sign_negative()
        } else {
            (got - want).abs() <= 1e-12 * want.abs()
        };
        assert!(ok, "want {want:?}, got {got:?}");
    }

    #[test]
    fn all_names_exist_and_unknown_is_none() {
        for name in NAMES {
            assert!(simple(name).is_some(), "{name}");
        }
        for name in ["", "round", "pi", "Abs", "log", "clamp"] {
            assert!(simple(name).is_none(), "{name}");
        }
    }

    #[test]
    fn table() {
        let inf = f64::INFINITY;
        let nan = f64::NAN;
        let cases: &[(&str, f64, f64)] = &[
            ("abs", -2.5, 2.5),
            ("abs", -inf, inf),
            ("ceil", 1.2, 2.0),
            ("ceil", -1.2, -1.0),
            ("floor", 1.8, 1.0),
            ("floor", -1.2, -2.0),
            ("exp", 0.0, 1.0),
            ("exp", -inf, 0.0),
            ("exp", 1000.0, inf),
            ("sqrt", 16.0, 4.0),
            ("sqrt", -1.0, nan),
            ("ln", std::f64::consts::E, 1.0),
            ("ln", 0.0, -inf),
            ("ln", -1.0, nan),
            ("log2", 8.0, 3.0),
            ("log2", 0.0, -inf),
            ("log10", 1000.0, 3.0),
            ("log10", -1.0, nan),
            ("sgn", -inf, -1.0),
            ("sgn", inf, 1.0),
            ("sgn", nan, nan),
            ("sgn", -50.0, -1.0),
            ("sgn", 0.0, 0.0),
            ("sgn", -0.0, -0.0),
            ("sgn", 100.0, 1.0),
            ("sin", 0.0, 0.0),
            ("sin", PI / 2.0, 1.0),
            ("cos", 0.0, 1.0),
            ("tan", PI / 4.0, 1.0),
            ("asin", 1.0, PI / 2.0),
            ("asin", 2.0, nan),
            ("acos", 1.0, 0.0),
            ("acos", -2.0, nan),
            ("atan", inf, PI / 2.0),
            ("sinh", 0.0, 0.0),
            ("cosh", 0.0, 1.0),
            ("tanh", inf, 1.0),
            ("asinh", 0.0, 0.0),
            ("acosh", 1.0, 0.0),
            ("acosh", 0.5, nan),
            ("atanh", 0.0, 0.0),
            ("atanh", 1.0, inf),
            ("atanh", 2.0, nan),
            ("deg", PI, 180.0),
            ("deg", 1.0, 57.29577951308232),
            ("rad", 180.0, PI),
            ("rad", 90.0, PI / 2.0),
            ("deg", nan, nan),
            ("rad", -inf, -inf),
        ];
        for &(name, x, want) in cases {
            assert_same(f(name)(x), want);
        }
    }

    /// `trig_functions.test`: each function at 10 and 20 (asin, acos and atanh at 10 - 10.1
    /// and 20 - 10.1).
    #[test]
    fn trig_functions_test_values() {
        let nan = f64::NAN;
        let cases: &[(&str, f64, f64, f64)] = &[
            ("sin", 0.0, -0.5440211108893699, 0.9129452507276277),
            ("cos", 0.0, -0.8390715290764524, 0.40808206181339196),
            ("tan", 0.0, 0.6483608274590867, 2.2371609442247427),
            ("asin", 10.1, -0.10016742116155944, nan),
            ("acos", 10.1, 1.670963747956456, nan),
            ("atan", 0.0, 1.4711276743037345, 1.5208379310729538),
            // The upstream file lists cosh(10) for sinh(10), within its 1e-6 tolerance.
            ("sinh", 0.0, 11013.232874703393, 2.4258259770489514e+08),
            ("cosh", 0.0, 11013.232920103324, 2.4258259770489514e+08),
            ("tanh", 0.0, 0.9999999958776927, 1.0),
            ("asinh", 0.0, 2.99822295029797, 3.6895038689889055),
            ("acosh", 0.0, 2.993222846126381, 3.6882538673612966),
            ("atanh", 10.1, -0.10033534773107522, nan),
            ("rad", 0.0, 0.17453292519943295, 0.3490658503988659),
            ("deg", 0.0, 572.9577951308232, 1145.9155902616465),
        ];
        for &(name, shift, at10, at20) in cases {
            assert_same(f(name)(10.0 - shift), at10);
            assert_same(f(name)(20.0 - shift), at20);
        }
        assert_same(f("rad")(-10.0), -0.17453292519943295);
        assert_same(f("deg")(-10.0), -572.9577951308232);
    }

    #[test]
    fn nan_propagates_through_every_function() {
        for name in NAMES {
            assert!(f(name)(f64::NAN).is_nan(), "{name}");
        }
    }

    #[test]
    fn round_cases() {
        let cases: &[(f64, f64, f64)] = &[
            (1.5, 1.0, 2.0),
            (2.5, 1.0, 3.0),
            (-1.5, 1.0, -1.0),
            (-2.5, 1.0, -2.0),
            (1.2345, 0.01, 1.23),
            (1.235, 0.01, 1.24),
            (12345.0, 100.0, 12300.0),
            (12350.0, 100.0, 12400.0),
            (0.3, 0.1, 0.3),
            (5.0, 2.0, 6.0),
            (-0.4, 1.0, 0.0),
            (f64::INFINITY, 1.0, f64::INFINITY),
        ];
        for &(v, to, want) in cases {
            let got = round(v, to);
            assert!(
                got == want || (got - want).abs() <= 1e-12 * want.abs().max(1.0),
                "round({v}, {to}) = {got}, want {want}"
            );
        }
        assert!(round(f64::NAN, 1.0).is_nan());
        assert!(round(1.0, 0.0).is_nan());
    }
}
