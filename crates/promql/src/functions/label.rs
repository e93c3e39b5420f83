//! `label_replace` and `label_join` on one label set, as Prometheus 3.5's
//! `evalLabelReplace` and `evalLabelJoin`.
//!
//! Checks that need the whole vector or the query text stay with the evaluator: compiling
//! the regex (an invalid one is an error), validating label names, and failing when two
//! output series end up with the same label set.

use std::sync::LazyLock;

use regex::Regex;
use tsdb::labels::{Label, Labels};

/// `label_replace(v, dst, replacement, src, regex)` on one label set. `regex` is already
/// anchored (`^(?s:...)$`). Returns the labels unchanged when the regex does not match.
///
/// An absent `src` label matches as the empty string. On a match, `replacement` is
/// expanded with Go's `Regexp.Expand` rules (see [`expand_go_template`]) and stored in
/// `dst`; an empty result removes `dst`.
pub fn label_replace(
    labels: &Labels,
    dst: &str,
    replacement: &str,
    src: &str,
    regex: &Regex,
) -> Labels {
    let src_value = labels.get(src).unwrap_or("");
    match regex.captures(src_value) {
        Some(caps) => {
            let value = expand_go_template(regex, &caps, replacement);
            with_label(labels, dst, &value)
        }
        None => labels.clone(),
    }
}

/// `label_join(v, dst, separator, src...)` on one label set: the `srcs` values (absent is
/// the empty string) joined with `separator` go into `dst`; an empty result removes `dst`.
pub fn label_join(labels: &Labels, dst: &str, separator: &str, srcs: &[String]) -> Labels {
    let value = srcs
        .iter()
        .map(|s| labels.get(s).unwrap_or(""))
        .collect::<Vec<_>>()
        .join(separator);
    with_label(labels, dst, &value)
}

/// `labels` with `name` set to `value`, or removed when `value` is empty.
fn with_label(labels: &Labels, name: &str, value: &str) -> Labels {
    let mut out: Vec<Label> = labels
        .iter()
        .filter(|l| l.name.as_str() != name)
        .cloned()
        .collect();
    if !value.is_empty() {
        out.push(Label::new(name, value));
    }
    Labels::new(out)
}

/// A reference name after `$`: `{name}` or a bare run of Unicode letters, decimal digits
/// and `_` (Go's `unicode.IsLetter`, `unicode.IsDigit`).
static TEMPLATE_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:\{([\p{L}\p{Nd}_]+)\}|([\p{L}\p{Nd}_]+))")
        .expect("the template-name pattern is a valid regex")
});

/// Expands `template` for one match the way Go's `Regexp.Expand` does, which differs from
/// the `regex` crate's `Captures::expand`:
///
/// * `$$` is a literal `$`; a `$` not followed by a well-formed name is kept literally.
/// * `$name` takes the longest run of letters, digits and `_`, so `$1x` refers to the
///   group named `1x` (absent, hence empty), not to group 1 followed by `x`. Use `${1}x`.
/// * A name of ASCII digits without a leading zero is a group number; anything else
///   (including `01`) is a group name.
/// * References to missing or non-participating groups expand to nothing.
pub fn expand_go_template(regex: &Regex, caps: &regex::Captures<'_>, template: &str) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        rest = &rest[pos + 1..];
        if let Some(after) = rest.strip_prefix('$') {
            out.push('$');
            rest = after;
            continue;
        }
        let Some(m) = TEMPLATE_NAME.captures(rest) else {
            // Malformed reference: keep the `$` as text.
            out.push('$');
            continue;
        };
        let whole_len = m.get(0).map_or(0, |w| w.len());
        let name = m.get(1).or_else(|| m.get(2)).map_or("", |n| n.as_str());
        rest = &rest[whole_len..];
        let group = match group_number(name) {
            Some(n) => caps.get(n),
            None => regex
                .capture_names()
                .position(|n| n == Some(name))
                .and_then(|i| caps.get(i)),
        };
        if let Some(g) = group {
            out.push_str(g.as_str());
        }
    }
    out.push_str(rest);
    out
}

/// Go's rule for numeric references: ASCII digits, no leading zero (except `0` itself),
/// and small enough (Go stops at 1e8; such groups cannot exist anyway).
fn group_number(name: &str) -> Option<usize> {
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if name.len() > 1 && name.starts_with('0') {
        return None;
    }
    // Too long to be a group index: treated as a (non-existent) name, expanding to "".
    name.parse::<usize>().ok().filter(|&n| n < 1_000_000_000)
}

#[cfg(test)]
mod tests;
