//! Label matchers `=`, `!=`, `=~`, `!~` with Prometheus 3.x regex semantics.
//!
//! (Skeleton: the labels helper replaces this with the full implementation and fast paths.)

use crate::error::{Error, Result};

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

/// A compiled label matcher.
#[derive(Debug, Clone)]
pub struct Matcher {
    /// The operator.
    pub kind: MatchType,
    /// The label name.
    pub name: String,
    /// The value or pattern as written.
    pub value: String,
    re: Option<regex::Regex>,
}

impl Matcher {
    /// Compiles a matcher; fails on an invalid regular expression.
    pub fn new(kind: MatchType, name: &str, value: &str) -> Result<Self> {
        let re = match kind {
            MatchType::RegexMatch | MatchType::RegexNoMatch => Some(
                regex::Regex::new(&format!("^(?s:{value})$")).map_err(|e| Error::InvalidRegex {
                    pattern: value.to_string(),
                    source: Box::new(e),
                })?,
            ),
            _ => None,
        };
        Ok(Self { kind, name: name.to_string(), value: value.to_string(), re })
    }

    /// Whether the label value `v` (empty when the label is absent) matches.
    pub fn matches(&self, v: &str) -> bool {
        match self.kind {
            MatchType::Equal => v == self.value,
            MatchType::NotEqual => v != self.value,
            MatchType::RegexMatch => self.re.as_ref().is_some_and(|r| r.is_match(v)),
            MatchType::RegexNoMatch => !self.re.as_ref().is_some_and(|r| r.is_match(v)),
        }
    }
}
