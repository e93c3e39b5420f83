//! Tests for `label_replace`, `label_join` and Go-style template expansion, with cases from
//! Prometheus 3.5's `functions.test`.

use super::*;

fn anchored(re: &str) -> Regex {
    Regex::new(&format!("^(?s:{re})$")).expect("test regex")
}

fn ls(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs)
}

fn testmetric() -> Labels {
    ls(&[
        ("__name__", "testmetric"),
        ("src", "source-value-10"),
        ("dst", "original-destination-value"),
    ])
}

fn with_dst(dst: &str) -> Labels {
    ls(&[
        ("__name__", "testmetric"),
        ("src", "source-value-10"),
        ("dst", dst),
    ])
}

#[test]
fn label_replace_cases() {
    let m = testmetric();
    let cases: &[(&str, &str, &str, &str, Labels)] = &[
        // Full-string match and replace.
        (
            "dst",
            "destination-value-$1",
            "src",
            "source-value-(.*)",
            with_dst("destination-value-10"),
        ),
        // No sub-string match.
        (
            "dst",
            "destination-value-$1",
            "src",
            "value-(.*)",
            m.clone(),
        ),
        // Several groups.
        (
            "dst",
            "$1-value-$2",
            "src",
            "(.*)-value-(.*)",
            with_dst("source-value-10"),
        ),
        // Absent source is "" and does not match this regex.
        (
            "dst",
            "value-$1",
            "nonexistent-src",
            "source-value-(.*)",
            m.clone(),
        ),
        // Absent source is "" and matches `(.*)`.
        (
            "dst",
            "value-$1",
            "nonexistent-src",
            "(.*)",
            with_dst("value-"),
        ),
        ("dst", "value-$1", "src", "non-matching-regex", m.clone()),
        // An empty result removes the label.
        (
            "dst",
            "",
            "dst",
            ".*",
            ls(&[("__name__", "testmetric"), ("src", "source-value-10")]),
        ),
        // Braced and named references.
        ("dst", "${1}x", "src", "source-value-(.*)", with_dst("10x")),
        (
            "dst",
            "$num",
            "src",
            "source-value-(?P<num>.*)",
            with_dst("10"),
        ),
        (
            "dst",
            "${num}-$0",
            "src",
            "source-value-(?P<num>.*)",
            with_dst("10-source-value-10"),
        ),
        // A new destination label.
        (
            "new",
            "$1",
            "src",
            "source-(.*)",
            ls(&[
                ("__name__", "testmetric"),
                ("src", "source-value-10"),
                ("dst", "original-destination-value"),
                ("new", "value-10"),
            ]),
        ),
        // The metric name itself.
        (
            "__name__",
            "renamed",
            "src",
            ".*",
            ls(&[
                ("__name__", "renamed"),
                ("src", "source-value-10"),
                ("dst", "original-destination-value"),
            ]),
        ),
    ];
    for (dst, repl, src, re, want) in cases {
        let got = label_replace(&m, dst, repl, src, &anchored(re));
        assert_eq!(
            &got, want,
            "label_replace(dst={dst}, repl={repl}, src={src}, re={re})"
        );
        assert!(got.is_valid());
    }
}

#[test]
fn go_expand_semantics() {
    let re = anchored(r"(a)(b)?(?P<name>c)(d)(e)(f)(g)(h)(i)(j)(k)");
    let input = "acdefghijk";
    let caps = re.captures(input).expect("matches");
    let cases = [
        // `$1x` names group "1x", which does not exist: empty.
        ("$1x", ""),
        ("${1}x", "ax"),
        ("$1-x", "a-x"),
        // Group 2 did not participate: empty.
        ("[$2]", "[]"),
        ("$$1", "$1"),
        ("$", "$"),
        ("a$", "a$"),
        ("$-", "$-"),
        ("${1", "${1"),
        ("${}", "${}"),
        ("${name}", "c"),
        ("$name", "c"),
        ("$namex", ""),
        ("$10", "j"),
        ("$11", "k"),
        ("$12", ""),
        // Leading zeros make a name, not a number.
        ("$01", ""),
        ("${01}", ""),
        ("$0", "acdefghijk"),
        ("$99999999999999999999", ""),
        // Non-ASCII letters continue a name; other symbols end it.
        ("$1é", ""),
        ("$1€", "a€"),
        ("no refs", "no refs"),
    ];
    for (template, want) in cases {
        assert_eq!(
            expand_go_template(&re, &caps, template),
            want,
            "template {template:?}"
        );
    }
}

#[test]
fn label_join_cases() {
    let m = ls(&[
        ("__name__", "testmetric"),
        ("src", "a"),
        ("src1", "b"),
        ("src2", "c"),
        ("dst", "original-destination-value"),
    ]);
    let base = |dst: Option<&str>| {
        let mut pairs = vec![
            ("__name__", "testmetric"),
            ("src", "a"),
            ("src1", "b"),
            ("src2", "c"),
        ];
        if let Some(d) = dst {
            pairs.push(("dst", d));
        }
        ls(&pairs)
    };
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert_eq!(
        label_join(&m, "dst", "-", &s(&["src", "src1", "src2"])),
        base(Some("a-b-c"))
    );
    assert_eq!(
        label_join(&m, "dst", "-", &s(&["src", "src3", "src1"])),
        base(Some("a--b"))
    );
    assert_eq!(
        label_join(&m, "dst", "", &s(&["e1", "e2", "e3"])),
        base(None)
    );
    assert_eq!(label_join(&m, "dst", ", ", &[]), base(None));
    let no_dst = base(None);
    assert_eq!(
        label_join(&no_dst, "dst", ", ", &s(&["src", "src1", "src2"])),
        base(Some("a, b, c"))
    );
    // Joining a label into itself.
    assert_eq!(
        label_join(&no_dst, "src", "+", &s(&["src", "src"])).get("src"),
        Some("a+a")
    );
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn expansion_never_panics(template in "[$a-z0-9{}_é€ ]{0,24}", value in "[a-z0-9]{0,8}") {
            let re = anchored("(?P<name>[a-z]*)([0-9]*)");
            if let Some(caps) = re.captures(&value) {
                let _ = expand_go_template(&re, &caps, &template);
            }
        }

        #[test]
        fn templates_without_dollar_are_literal(template in "[^$]{0,24}") {
            let re = anchored("(.*)");
            let caps = re.captures("x").expect("matches");
            prop_assert_eq!(expand_go_template(&re, &caps, &template), template);
        }

        #[test]
        fn copy_src_to_dst(value in "[a-z0-9]{0,8}") {
            let m = ls(&[("__name__", "m"), ("src", value.as_str())]);
            let got = label_replace(&m, "dst", "$1", "src", &anchored("(.*)"));
            prop_assert_eq!(got.get("dst"), (!value.is_empty()).then_some(value.as_str()));
            prop_assert!(got.is_valid());
        }
    }
}
