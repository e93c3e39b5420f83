//! Go-compatible quoting, so matchers print exactly as Prometheus prints them.

use std::fmt::{self, Write};
use std::sync::LazyLock;

use regex_syntax::hir::{Class, HirKind};

/// Whether `name` is a legacy Prometheus label name (`[a-zA-Z_][a-zA-Z0-9_]*`), which
/// Prometheus prints unquoted.
pub(super) fn is_legacy_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .char_indices()
            .all(|(i, c)| c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit()))
}

/// Code points Go's `strconv.IsPrint` rejects: Unicode categories `C` (control, format,
/// surrogate, private use, unassigned) and `Z` (separators), except the ASCII space.
///
/// Built from `regex-syntax`'s Unicode tables, so no table is kept here by hand.
static NOT_PRINTABLE: LazyLock<Vec<(char, char)>> = LazyLock::new(|| {
    let hir =
        regex_syntax::parse(r"[\p{C}\p{Z}&&[^\x20]]").expect("a fixed, valid character class");
    match hir.kind() {
        HirKind::Class(Class::Unicode(c)) => {
            c.ranges().iter().map(|r| (r.start(), r.end())).collect()
        }
        _ => Vec::new(),
    }
});

fn is_printable(c: char) -> bool {
    if c.is_ascii() {
        return (' '..='~').contains(&c);
    }
    let ranges = &*NOT_PRINTABLE;
    let i = ranges.partition_point(|&(_, end)| end < c);
    ranges.get(i).is_none_or(|&(start, _)| start > c)
}

/// Writes `s` as Go's `strconv.Quote` would: in double quotes, with `\a \b \f \n \r \t \v
/// \\ \"` escapes, `\xNN` for other ASCII controls, and `\uNNNN` / `\UNNNNNNNN` for other
/// non-printable code points.
pub(super) fn write_go_quoted(f: &mut impl Write, s: &str) -> fmt::Result {
    f.write_char('"')?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\u{07}' => f.write_str("\\a")?,
            '\u{08}' => f.write_str("\\b")?,
            '\u{0C}' => f.write_str("\\f")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            '\u{0B}' => f.write_str("\\v")?,
            c if is_printable(c) => f.write_char(c)?,
            c if (c as u32) < 0x80 => write!(f, "\\x{:02x}", c as u32)?,
            c if (c as u32) < 0x1_0000 => write!(f, "\\u{:04x}", c as u32)?,
            c => write!(f, "\\U{:08x}", c as u32)?,
        }
    }
    f.write_char('"')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quoted(s: &str) -> String {
        let mut out = String::new();
        write_go_quoted(&mut out, s).expect("writing to a String");
        out
    }

    #[test]
    fn quotes_like_go_strconv() {
        // Expected values are what Go's strconv.Quote returns.
        let cases = [
            ("", r#""""#),
            ("node", r#""node""#),
            ("a\"b\\c", r#""a\"b\\c""#),
            ("\u{7}\u{8}\u{c}\n\r\t\u{b}", r#""\a\b\f\n\r\t\v""#),
            ("\0\u{1f}\u{7f}", r#""\x00\x1f\x7f""#),
            ("héllo 世界 🙂", "\"héllo 世界 🙂\""),
            (
                "\u{a0}\u{200b}\u{feff}\u{2028}",
                r#""\u00a0\u200b\ufeff\u2028""#,
            ),
            ("\u{e0001}\u{10ffff}", r#""\U000e0001\U0010ffff""#),
            ("\u{85}", r#""\u0085""#),
        ];
        for (input, want) in cases {
            assert_eq!(quoted(input), want, "input {input:?}");
        }
    }

    #[test]
    fn legacy_names() {
        assert!(is_legacy_name("__name__"));
        assert!(is_legacy_name("a1"));
        assert!(!is_legacy_name("1a"));
        assert!(!is_legacy_name(""));
        assert!(!is_legacy_name("service.name"));
        assert!(!is_legacy_name("é"));
    }
}
