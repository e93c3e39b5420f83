//! Label matchers `=`, `!=`, `=~`, `!~` with Prometheus 3.x semantics.
//!
//! A [`Matcher`] tests one label value. An absent label is tested as the empty string, so
//! `{env=""}` selects the series without an `env` label and `{env!=""}` those with one.
//!
//! Regular expressions follow Prometheus (which uses Go's RE2 syntax): they are fully
//! anchored and `.` also matches a newline, as if written `^(?s:<pattern>)$`. Rust's
//! `regex` crate accepts nearly the same syntax; where the two disagree on meaning we
//! follow Go: the Perl classes `\d`, `\s`, `\w` and the word boundary `\b` are ASCII-only.
//!
//! When a matcher is built, its pattern is parsed to `regex-syntax`'s HIR and analysed
//! (see `matcher/analyze.rs`) so that common shapes skip the regex engine:
//!
//! | pattern                         | strategy                                      |
//! |---------------------------------|-----------------------------------------------|
//! | `foo`, `a\.b`, `(foo)`          | string equality                               |
//! | `a\|b\|c`, `(a\|b)`, `fo[ox]`   | set lookup (linear when small, hashed if big) |
//! | `.*`                            | always true                                   |
//! | `.+`                            | non-empty                                     |
//! | `foo.*`, `.*foo`, `.*foo.*`     | prefix, suffix, contains                      |
//! | `foo.*bar.+baz`                 | the same, with several literal pieces         |
//! | anything else                   | the compiled regex, after a literal-prefix check |
//!
//! The postings layer also asks a matcher for the finite set of values it accepts
//! ([`Matcher::set_matches`]) and for a literal prefix ([`Matcher::prefix`]) so it can look
//! values up instead of scanning all of them.

mod analyze;
mod quote;

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::labels::Labels;

use self::analyze::Pattern;

/// The operator of a [`Matcher`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatchType {
    /// `=`
    Equal,
    /// `!=`
    NotEqual,
    /// `=~`
    RegexMatch,
    /// `!~`
    RegexNoMatch,
}

impl MatchType {
    /// Whether this is `!=` or `!~`.
    pub fn is_negative(self) -> bool {
        matches!(self, MatchType::NotEqual | MatchType::RegexNoMatch)
    }

    /// Whether this is `=~` or `!~`.
    pub fn is_regex(self) -> bool {
        matches!(self, MatchType::RegexMatch | MatchType::RegexNoMatch)
    }

    /// The operator with the opposite meaning: `=`↔`!=`, `=~`↔`!~`.
    pub fn inverse(self) -> MatchType {
        match self {
            MatchType::Equal => MatchType::NotEqual,
            MatchType::NotEqual => MatchType::Equal,
            MatchType::RegexMatch => MatchType::RegexNoMatch,
            MatchType::RegexNoMatch => MatchType::RegexMatch,
        }
    }

    /// The operator as written in PromQL.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchType::Equal => "=",
            MatchType::NotEqual => "!=",
            MatchType::RegexMatch => "=~",
            MatchType::RegexNoMatch => "!~",
        }
    }
}

impl fmt::Display for MatchType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A compiled label matcher.
///
/// Cloning is cheap: the compiled form is shared. Equality and hashing look only at
/// `kind`, `name` and `value`, from which the compiled form is derived.
#[derive(Clone)]
pub struct Matcher {
    /// The operator.
    pub kind: MatchType,
    /// The label name.
    pub name: String,
    /// The value or pattern as written.
    pub value: String,
    /// The analysed regular expression, shared by clones and inverses; `None` for `=` and `!=`.
    pattern: Option<Arc<Pattern>>,
    /// Whether the matcher accepts the empty string (an absent label).
    matches_empty: bool,
}

impl Matcher {
    /// Compiles a matcher; fails on an invalid regular expression.
    pub fn new(kind: MatchType, name: &str, value: &str) -> Result<Self> {
        let pattern = if kind.is_regex() {
            Some(Arc::new(Pattern::new(value).map_err(|source| {
                Error::InvalidRegex {
                    pattern: value.to_string(),
                    source: Box::new(source),
                }
            })?))
        } else {
            None
        };
        let raw_matches_empty = match &pattern {
            Some(p) => p.is_match(""),
            None => value.is_empty(),
        };
        Ok(Self {
            kind,
            name: name.to_string(),
            value: value.to_string(),
            pattern,
            matches_empty: raw_matches_empty != kind.is_negative(),
        })
    }

    /// Whether the label value `v` (empty when the label is absent) matches.
    #[inline]
    pub fn matches(&self, v: &str) -> bool {
        let hit = match &self.pattern {
            Some(p) => p.is_match(v),
            None => v == self.value,
        };
        hit != self.kind.is_negative()
    }

    /// Whether the series with label set `labels` matches (an absent label tests as `""`).
    pub fn matches_labels(&self, labels: &Labels) -> bool {
        self.matches(labels.get(&self.name).unwrap_or(""))
    }

    /// Whether the matcher accepts the empty string, i.e. also selects series without the label.
    #[inline]
    pub fn matches_empty(&self) -> bool {
        self.matches_empty
    }

    /// The exact values an `=` or `=~` matcher accepts, sorted and unique, when that set is
    /// finite and small enough to list (up to 256 values, or more for a long alternation).
    ///
    /// May contain `""` (for example for `=~"foo|"`). `None` for `!=` and `!~`, and for
    /// regular expressions that accept too many or infinitely many values.
    pub fn set_matches(&self) -> Option<&[String]> {
        if self.kind.is_negative() {
            return None;
        }
        self.positive_set()
    }

    /// A non-empty literal prefix every value accepted by an `=` or `=~` matcher starts
    /// with, for seeking in a sorted list of values. `None` for `!=` and `!~`, or when
    /// there is no such prefix.
    pub fn prefix(&self) -> Option<&str> {
        if self.kind.is_negative() {
            return None;
        }
        let prefix = self.positive_prefix();
        (!prefix.is_empty()).then_some(prefix)
    }

    /// [`Matcher::set_matches`] of the matcher or, for `!=` and `!~`, of its inverse.
    pub(crate) fn positive_set(&self) -> Option<&[String]> {
        match &self.pattern {
            Some(p) => p.set(),
            None => Some(std::slice::from_ref(&self.value)),
        }
    }

    /// The literal prefix (possibly empty) of the matcher or, for `!=` and `!~`, of its inverse.
    pub(crate) fn positive_prefix(&self) -> &str {
        match &self.pattern {
            Some(p) => p.prefix(),
            None => &self.value,
        }
    }

    /// The matcher with the opposite meaning (`=`↔`!=`, `=~`↔`!~`); shares the compiled form.
    pub fn inverse(&self) -> Matcher {
        Matcher {
            kind: self.kind.inverse(),
            name: self.name.clone(),
            value: self.value.clone(),
            pattern: self.pattern.clone(),
            matches_empty: !self.matches_empty,
        }
    }

    /// Whether this is `=~` with a pattern that accepts every string (such as `.*`).
    pub(crate) fn is_match_all(&self) -> bool {
        self.kind == MatchType::RegexMatch
            && self.pattern.as_ref().is_some_and(|p| p.is_match_all())
    }

    /// Whether this is `!~` with a pattern that accepts every string: it matches nothing.
    pub(crate) fn is_match_none(&self) -> bool {
        self.kind == MatchType::RegexNoMatch
            && self.pattern.as_ref().is_some_and(|p| p.is_match_all())
    }

    /// Whether the pattern of this `=~` or `!~` matcher accepts exactly the non-empty strings
    /// (such as `.+`).
    pub(crate) fn is_regex_non_empty(&self) -> bool {
        self.pattern.as_ref().is_some_and(|p| p.is_non_empty())
    }

    /// A short name of the strategy chosen for the pattern, for tests.
    #[cfg(test)]
    fn strategy(&self) -> &'static str {
        self.pattern.as_ref().map_or("equal", |p| p.strategy_name())
    }
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind && self.name == other.name && self.value == other.value
    }
}

impl Eq for Matcher {}

impl Hash for Matcher {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.kind.hash(state);
        self.name.hash(state);
        self.value.hash(state);
    }
}

impl fmt::Debug for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Matcher({self})")
    }
}

impl fmt::Display for Matcher {
    /// Formats like Prometheus's `Matcher.String()`: `job="node"`, `env!~"dev|test"`.
    ///
    /// The name is quoted only when it is not a legacy identifier (for UTF-8 names);
    /// the value is always quoted the way Go's `strconv.Quote` does.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if quote::is_legacy_name(&self.name) {
            f.write_str(&self.name)?;
        } else {
            quote::write_go_quoted(f, &self.name)?;
        }
        f.write_str(self.kind.as_str())?;
        quote::write_go_quoted(f, &self.value)
    }
}

#[cfg(test)]
mod tests;
