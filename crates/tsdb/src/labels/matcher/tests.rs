//! Tests of matchers: a table of Prometheus behaviours, the chosen strategies, and a
//! property test that every fast path agrees with the plain anchored regex.

use proptest::prelude::*;

use super::*;
use crate::error::ErrorKind;

fn m(kind: MatchType, name: &str, value: &str) -> Matcher {
    Matcher::new(kind, name, value).expect("valid matcher")
}

fn re(value: &str) -> Matcher {
    m(MatchType::RegexMatch, "l", value)
}

#[test]
fn prometheus_behaviour_table() {
    use MatchType::*;
    // (kind, value, input, expected): what Prometheus 3.x's `Matcher.Matches` returns.
    let cases: &[(MatchType, &str, &str, bool)] = &[
        (Equal, "foo", "foo", true),
        (Equal, "foo", "Foo", false),
        (Equal, "", "", true),
        (Equal, "", "x", false),
        (NotEqual, "foo", "", true),
        (NotEqual, "foo", "foo", false),
        (NotEqual, "", "", false),
        // Anchoring: the whole value must match.
        (RegexMatch, "foo", "foo", true),
        (RegexMatch, "foo", "xfoo", false),
        (RegexMatch, "foo", "foox", false),
        (RegexMatch, "foo", "foo\n", false),
        (RegexMatch, "", "", true),
        (RegexMatch, "", "x", false),
        (RegexMatch, "^foo$", "foo", true),
        (RegexMatch, "a|b", "ab", false),
        // `.` matches a newline.
        (RegexMatch, "a.b", "a\nb", true),
        (RegexMatch, ".*", "", true),
        (RegexMatch, ".*", "\n\n", true),
        (RegexMatch, ".+", "", false),
        (RegexMatch, ".+", "\n", true),
        (RegexMatch, "(?-s:.)", "\n", false),
        (RegexMatch, "(?-s:.)", "a", true),
        (RegexMatch, ".", "é", true),
        (RegexMatch, ".", "ab", false),
        // Escapes.
        (RegexMatch, r"a\.b", "a.b", true),
        (RegexMatch, r"a\.b", "axb", false),
        (RegexMatch, r"foo\n", "foo\n", true),
        (RegexMatch, r"\(x\)", "(x)", true),
        // Alternations and sets.
        (RegexMatch, "foo|bar", "bar", true),
        (RegexMatch, "foo|bar", "foobar", false),
        (RegexMatch, "(foo|bar)", "foo", true),
        (RegexMatch, "foo|", "", true),
        (RegexMatch, "foo|", "foo", true),
        (RegexMatch, "foo|", "fo", false),
        (RegexMatch, "a|b|c", "b", true),
        (RegexMatch, "a|b|c", "d", false),
        (RegexMatch, "fo[ox]", "fox", true),
        (RegexMatch, "a?", "", true),
        (RegexMatch, "a{2}", "aa", true),
        (RegexMatch, "a{2}", "a", false),
        (RegexMatch, "x*", "", true),
        (RegexMatch, "x*", "xxx", true),
        (RegexMatch, "x*", "xy", false),
        // Case-insensitive: Go folds simply, so `k` also matches the Kelvin sign.
        (RegexMatch, "(?i)foo", "FoO", true),
        (RegexMatch, "(?i)foo", "fo", false),
        (RegexMatch, "(?i)k", "\u{212A}", true),
        (RegexMatch, "(?i)foo|bar", "BAR", true),
        // Prefix, suffix, contains and their combinations.
        (RegexMatch, "foo.*", "foo", true),
        (RegexMatch, "foo.*", "foo\nbar", true),
        (RegexMatch, "foo.*", "fo", false),
        (RegexMatch, "foo.*", "xfoo", false),
        (RegexMatch, ".*foo", "barfoo", true),
        (RegexMatch, ".*foo", "foobar", false),
        (RegexMatch, ".*foo.*", "\nfoo\n", true),
        (RegexMatch, ".*foo.*", "fo", false),
        (RegexMatch, "foo.*bar", "foobar", true),
        (RegexMatch, "foo.*bar", "foo-bar", true),
        (RegexMatch, "foo.*bar", "fooba", false),
        (RegexMatch, "foo.*oof", "foof", false),
        (RegexMatch, "foo.+bar", "foobar", false),
        (RegexMatch, "foo.+bar", "fooxbar", true),
        (RegexMatch, ".*a.*a.*", "a", false),
        (RegexMatch, ".*a.*a.*", "aa", true),
        (RegexMatch, "é.*", "été", true),
        (RegexMatch, "é.*", "e", false),
        (RegexMatch, ".+é", "é", false),
        (RegexMatch, ".+é", "éé", true),
        // Perl classes and word boundaries are ASCII-only, as in Go.
        (RegexMatch, r"\d+", "123", true),
        (RegexMatch, r"\d", "٣", false),
        (RegexMatch, r"\D", "٣", true),
        (RegexMatch, r"\w+", "abc_1", true),
        (RegexMatch, r"\w", "é", false),
        (RegexMatch, r"[\w.]+", "a.b", true),
        (RegexMatch, r"[^\d]", "a", true),
        (RegexMatch, r"[^\d]", "1", false),
        (RegexMatch, r"\s", " ", true),
        (RegexMatch, r"\s", "\u{0B}", false),
        (RegexMatch, r"\s", "\u{A0}", false),
        (RegexMatch, r"\bfoo\b", "foo", true),
        (RegexMatch, r"a\bé", "aé", true),
        (RegexMatch, r"é\b", "é", false),
        (RegexMatch, "[^a]", "é", true),
        (RegexMatch, "[^a]", "\n", true),
        // Negated regexes.
        (RegexNoMatch, "foo", "", true),
        (RegexNoMatch, "foo", "foo", false),
        (RegexNoMatch, ".*", "", false),
        (RegexNoMatch, ".*", "x", false),
        (RegexNoMatch, ".+", "", true),
        (RegexNoMatch, "foo|", "", false),
    ];
    for &(kind, value, input, want) in cases {
        let matcher = m(kind, "l", value);
        assert_eq!(
            matcher.matches(input),
            want,
            "{matcher} on {input:?} ({})",
            matcher.strategy()
        );
        assert_eq!(
            matcher.inverse().matches(input),
            !want,
            "inverse of {matcher} on {input:?}"
        );
    }
}

#[test]
fn strategies_chosen() {
    let cases = [
        ("foo", "literal"),
        (r"a\.b", "literal"),
        ("(foo)", "literal"),
        ("", "literal"),
        ("foo|bar", "small-set"),
        ("(a|b)", "small-set"),
        ("a|b|c", "small-set"),
        ("foo|", "small-set"),
        ("(?i)foo", "small-set"),
        ("fo[ox]", "small-set"),
        (".*", "any"),
        ("(.*)", "any"),
        ("^.*$", "any"),
        (".*.*", "any"),
        (".+", "non-empty"),
        (".*.+", "non-empty"),
        ("foo.*", "prefix"),
        ("(foo).*", "prefix"),
        (".*foo", "suffix"),
        (".*foo.*", "contains"),
        ("foo.*bar", "glob"),
        (".+foo", "glob"),
        (r"\d+", "regex"),
        ("[a-z]+", "regex"),
        ("(?i)kubernetes", "regex"),
        ("(?-s:.*)", "regex"),
        ("(?-s).*foo", "regex"),
    ];
    for (pattern, want) in cases {
        assert_eq!(re(pattern).strategy(), want, "pattern {pattern:?}");
    }
    let big: Vec<String> = (0..20).map(|i| format!("v{i}")).collect();
    assert_eq!(re(&big.join("|")).strategy(), "hash-set");
    assert_eq!(m(MatchType::Equal, "l", "x").strategy(), "equal");

    // A long alternation is a set even beyond 256 values: listing it is proportional to
    // the pattern, and the regex engine would be slower.
    let huge: Vec<String> = (0..5000).map(|i| format!("pod-{i}")).collect();
    let matcher = re(&huge.join("|"));
    assert_eq!(matcher.strategy(), "hash-set");
    assert_eq!(matcher.set_matches().map(<[String]>::len), Some(5000));
    assert!(matcher.matches("pod-4999"));
    assert!(!matcher.matches("pod-5000"));
}

#[test]
fn set_matches_and_prefix() {
    use MatchType::*;
    let set = |kind, value| m(kind, "l", value).set_matches().map(<[String]>::to_vec);
    let strings = |v: &[&str]| Some(v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    assert_eq!(set(Equal, "x"), strings(&["x"]));
    assert_eq!(set(RegexMatch, "foo|bar"), strings(&["bar", "foo"]));
    assert_eq!(set(RegexMatch, "(b|a|b)"), strings(&["a", "b"]));
    assert_eq!(set(RegexMatch, "fo[ox]"), strings(&["foo", "fox"]));
    assert_eq!(set(RegexMatch, "a?"), strings(&["", "a"]));
    assert_eq!(set(RegexMatch, "foo|"), strings(&["", "foo"]));
    assert_eq!(
        set(RegexMatch, r"\d"),
        strings(&["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"])
    );
    assert_eq!(set(RegexMatch, "(?i)ab").map(|v| v.len()), Some(4));
    assert_eq!(set(RegexMatch, "foo.*"), None);
    assert_eq!(set(RegexMatch, "[^a]"), None);
    assert_eq!(set(RegexMatch, r"\bfoo"), None);
    assert_eq!(set(NotEqual, "x"), None);
    assert_eq!(set(RegexNoMatch, "foo|bar"), None);
    assert_eq!(
        re("foo|bar")
            .inverse()
            .inverse()
            .set_matches()
            .map(<[String]>::len),
        Some(2)
    );

    let prefix = |kind, value| m(kind, "l", value).prefix().map(str::to_string);
    assert_eq!(prefix(Equal, "bar").as_deref(), Some("bar"));
    assert_eq!(prefix(Equal, ""), None);
    assert_eq!(prefix(RegexMatch, "foo.*").as_deref(), Some("foo"));
    assert_eq!(prefix(RegexMatch, "foo.*bar").as_deref(), Some("foo"));
    assert_eq!(prefix(RegexMatch, "foo[0-9]+").as_deref(), Some("foo"));
    assert_eq!(prefix(RegexMatch, "(foo)[0-9]+").as_deref(), Some("foo"));
    assert_eq!(prefix(RegexMatch, "foo|foobar").as_deref(), Some("foo"));
    assert_eq!(prefix(RegexMatch, "éa|éb").as_deref(), Some("é"));
    assert_eq!(prefix(RegexMatch, "^api-.*$").as_deref(), Some("api-"));
    assert_eq!(prefix(RegexMatch, ".*foo"), None);
    assert_eq!(prefix(RegexMatch, "(?i)foo"), None);
    assert_eq!(prefix(RegexMatch, "foo|"), None);
    assert_eq!(prefix(RegexNoMatch, "foo.*"), None);
    assert_eq!(prefix(NotEqual, "foo"), None);
}

#[test]
fn matches_empty_and_inverse() {
    use MatchType::*;
    let cases = [
        (Equal, "", true),
        (Equal, "x", false),
        (NotEqual, "", false),
        (NotEqual, "x", true),
        (RegexMatch, ".*", true),
        (RegexMatch, ".+", false),
        (RegexMatch, "foo|", true),
        (RegexNoMatch, ".+", true),
        (RegexNoMatch, "foo", true),
        (RegexNoMatch, "", false),
    ];
    for (kind, value, want) in cases {
        let matcher = m(kind, "l", value);
        assert_eq!(matcher.matches_empty(), want, "{matcher}");
        assert_eq!(matcher.matches_empty(), matcher.matches(""), "{matcher}");
        let inv = matcher.inverse();
        assert_eq!(inv.kind, kind.inverse());
        assert_eq!((inv.name.as_str(), inv.value.as_str()), ("l", value));
        assert_eq!(inv.matches_empty(), !want);
        assert_eq!(inv.inverse(), matcher);
    }
    assert!(re(".*").is_match_all());
    assert!(re(".*").inverse().is_match_none());
    assert!(!re(".+").is_match_all());
    assert!(re(".+").is_regex_non_empty());
    assert!(re(".+").inverse().is_regex_non_empty());
}

#[test]
fn matches_labels_treats_absent_as_empty() {
    let labels = Labels::from_pairs(&[("job", "node")]);
    assert!(m(MatchType::Equal, "env", "").matches_labels(&labels));
    assert!(m(MatchType::Equal, "job", "node").matches_labels(&labels));
    assert!(!m(MatchType::NotEqual, "env", "").matches_labels(&labels));
}

#[test]
fn display_like_prometheus() {
    use MatchType::*;
    let cases = [
        (Equal, "job", "node", r#"job="node""#),
        (NotEqual, "job", "", r#"job!="""#),
        (RegexMatch, "job", "a|b", r#"job=~"a|b""#),
        (RegexNoMatch, "job", r"a\.b", r#"job!~"a\\.b""#),
        (Equal, "msg", "say \"hi\"\n", r#"msg="say \"hi\"\n""#),
        (Equal, "service.name", "x", r#""service.name"="x""#),
        (Equal, "", "x", r#"""="x""#),
        (Equal, "__name__", "up", r#"__name__="up""#),
        (Equal, "l", "日本", "l=\"日本\""),
    ];
    for (kind, name, value, want) in cases {
        assert_eq!(m(kind, name, value).to_string(), want);
    }
    assert_eq!(format!("{:?}", m(Equal, "a", "b")), r#"Matcher(a="b")"#);
}

#[test]
fn invalid_regexes_are_errors() {
    for pattern in ["(", "a)", "[z-a]", "\\", "a**{", "(?P<>a)", "x{2,1}"] {
        let err = Matcher::new(MatchType::RegexMatch, "l", pattern).expect_err(pattern);
        assert_eq!(err.kind(), ErrorKind::BadData);
        match err {
            Error::InvalidRegex { pattern: p, .. } => assert_eq!(p, pattern),
            other => panic!("unexpected error {other:?}"),
        }
    }
    // A pattern with an unbalanced `)` must not become valid once wrapped in `(?s:...)`.
    assert!(Matcher::new(MatchType::RegexNoMatch, "l", "a)|(b").is_err());
    // `=` and `!=` never parse their value.
    assert!(Matcher::new(MatchType::Equal, "l", "(").is_ok());
}

#[test]
fn equality_ignores_compiled_form() {
    let a = re("a|b");
    assert_eq!(a, a.clone());
    assert_ne!(a, m(MatchType::RegexNoMatch, "l", "a|b"));
    assert_ne!(a, re("b|a"));
}

/// A pattern drawn from pieces that exercise every strategy: literals with escapes,
/// `.*` and `.+` gaps, alternations, classes, optional parts and flags.
fn pattern_strategy() -> impl Strategy<Value = String> {
    let word = proptest::collection::vec(
        prop_oneof![Just("a"), Just("b"), Just(r"\."), Just("é")],
        1..3,
    )
    .prop_map(|v| v.concat());
    let atom = prop_oneof![
        4 => word.clone(),
        3 => Just(".*".to_string()),
        2 => Just(".+".to_string()),
        1 => Just(".".to_string()),
        2 => (word.clone(), word.clone()).prop_map(|(a, b)| format!("({a}|{b})")),
        1 => word.clone().prop_map(|a| format!("({a}|)")),
        1 => Just("[ab]".to_string()),
        1 => Just("a?".to_string()),
        1 => Just("b{1,2}".to_string()),
        1 => Just("(?i:a)".to_string()),
        1 => Just("[^a]".to_string()),
        1 => Just("(a|b)*".to_string()),
        1 => Just(r"\n".to_string()),
    ];
    let concat = proptest::collection::vec(atom, 0..4).prop_map(|v| v.concat());
    // Literal pieces and gaps only: the prefix, suffix, contains and glob paths.
    let gap = prop_oneof![Just(".*"), Just(".+"), Just("")];
    let glob = proptest::collection::vec((gap, proptest::option::of(word)), 1..4).prop_map(|v| {
        v.into_iter()
            .map(|(g, w)| format!("{g}{}", w.unwrap_or_default()))
            .collect::<String>()
    });
    prop_oneof![
        4 => concat.clone(),
        3 => glob,
        1 => (concat.clone(), concat.clone()).prop_map(|(a, b)| format!("{a}|{b}")),
        1 => concat.clone().prop_map(|a| format!("(?i){a}")),
        1 => concat.prop_map(|a| format!("^{a}$")),
    ]
}

fn input_strategy() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just('a'),
            Just('b'),
            Just('A'),
            Just('.'),
            Just('\n'),
            Just('é'),
            Just('É')
        ],
        0..7,
    )
    .prop_map(|v| v.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Whatever strategy was chosen, the matcher agrees with the plain anchored regex.
    #[test]
    fn fast_paths_agree_with_regex(
        pattern in pattern_strategy(),
        inputs in proptest::collection::vec(input_strategy(), 1..24),
    ) {
        let matcher = re(&pattern);
        let plain = regex::Regex::new(&format!("^(?s:{pattern})$")).expect("valid");
        let inverse = matcher.inverse();
        // Also try the listed values themselves, so set paths see hits.
        let listed: Vec<String> = matcher.set_matches().map(<[String]>::to_vec).unwrap_or_default();
        for input in inputs.iter().chain(listed.iter()) {
            let want = plain.is_match(input);
            prop_assert_eq!(matcher.matches(input), want,
                "pattern {:?} ({}) on {:?}", pattern, matcher.strategy(), input);
            prop_assert_eq!(inverse.matches(input), !want);
        }
        prop_assert_eq!(matcher.matches_empty(), plain.is_match(""));
        if let Some(set) = matcher.set_matches() {
            prop_assert!(set.windows(2).all(|w| w[0] < w[1]), "set not sorted/unique");
            for input in &inputs {
                prop_assert_eq!(set.contains(input), plain.is_match(input));
            }
        }
        if let Some(prefix) = matcher.prefix() {
            for input in inputs.iter().filter(|i| plain.is_match(i)) {
                prop_assert!(input.starts_with(prefix), "{:?} lacks prefix {:?}", input, prefix);
            }
        }
    }
}
