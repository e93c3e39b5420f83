//! Analysis of a matcher's regular expression into a fast matching strategy.
//!
//! The pattern is parsed twice with `regex-syntax`: first to an AST, to rewrite the few
//! constructs whose meaning differs between Go's RE2 and Rust's `regex` (the Perl classes
//! and `\b`, which are ASCII-only in Go); then to an HIR, where the shape of the pattern is
//! read. Working on the HIR rather than on the pattern text means escapes (`a\.b`), groups
//! (`(foo)`), flags and `regex-syntax`'s own simplifications (`a|b|c` becomes the class
//! `[a-c]`, `foo|foobar` becomes `foo(?:|bar)`) are all handled the same way.

use std::borrow::Cow;
use std::collections::HashSet;

use regex_syntax::ast::{self, Ast, ClassPerl, ClassPerlKind, ClassSetItem};
use regex_syntax::hir::{Class, Hir, HirKind, Look};

/// A finite set up to this many values is always listed; larger ones only if the pattern
/// itself is at least that long (a long alternation of literals), so listing stays
/// proportional to the input. Prometheus uses the same bound (`maxSetMatches`).
const MAX_SET_MATCHES: usize = 256;

/// Sets up to this size are matched by a linear scan, larger ones through a hash set
/// (Prometheus's `minEqualMultiStringMatcherMapThreshold`).
const LINEAR_SET_MAX: usize = 16;

/// A regular expression, analysed.
#[derive(Debug)]
pub(super) struct Pattern {
    strategy: Strategy,
    /// The finite language of the pattern, sorted and unique, when it could be listed.
    set: Option<Box<[String]>>,
    /// A literal every match starts with (possibly empty).
    prefix: Box<str>,
}

#[derive(Debug)]
enum Strategy {
    /// Every string (`.*`).
    Any,
    /// Every non-empty string (`.+`).
    NonEmpty,
    /// Exactly one string (`foo`, `a\.b`).
    Literal(Box<str>),
    /// A small finite set, scanned linearly (the set is `Pattern::set`).
    SmallSet,
    /// A large finite set.
    HashSet(HashSet<Box<str>>),
    /// Literal pieces separated by `.*` / `.+` gaps (`foo.*`, `.*foo`, `.*foo.*`, `a.+b`).
    Glob(Glob),
    /// Anything else: the compiled anchored regex.
    Regex(regex::Regex),
}

impl Pattern {
    /// Parses and analyses `pattern`; the error is the one `regex::Regex::new` would report.
    pub(super) fn new(pattern: &str) -> Result<Pattern, regex::Error> {
        let rewritten = go_compatible(pattern)?;
        let hir = regex_syntax::ParserBuilder::new()
            .dot_matches_new_line(true)
            .build()
            .parse(&rewritten)
            .map_err(|e| regex::Error::Syntax(e.to_string()))?;

        let hir = strip_outer_anchors(&hir);
        let limit = MAX_SET_MATCHES.max(pattern.len());
        let set =
            finite_language(&hir, limit, &mut (4 * pattern.len() + 64 * 1024)).map(|mut v| {
                v.sort_unstable();
                v.dedup();
                v.into_boxed_slice()
            });

        let prefix: Box<str> = match &set {
            Some(set) => common_prefix(set).into(),
            None => literal_prefix(&hir).into(),
        };

        let strategy = match &set {
            Some(set) if set.len() == 1 => Strategy::Literal(set[0].as_str().into()),
            Some(set) if set.len() <= LINEAR_SET_MAX => Strategy::SmallSet,
            Some(set) => Strategy::HashSet(set.iter().map(|s| s.as_str().into()).collect()),
            None => match Glob::from_hir(&hir) {
                Some(g) if g.is_any() => Strategy::Any,
                Some(g) if g.is_non_empty() => Strategy::NonEmpty,
                Some(g) => Strategy::Glob(g),
                None => Strategy::Regex(regex::Regex::new(&format!("^(?s:{rewritten})$"))?),
            },
        };
        Ok(Pattern {
            strategy,
            set,
            prefix,
        })
    }

    /// Whether the whole of `v` matches the pattern.
    #[inline]
    pub(super) fn is_match(&self, v: &str) -> bool {
        match &self.strategy {
            Strategy::Any => true,
            Strategy::NonEmpty => !v.is_empty(),
            Strategy::Literal(s) => v == &**s,
            Strategy::SmallSet => self
                .set
                .as_deref()
                .is_some_and(|set| set.iter().any(|s| s == v)),
            Strategy::HashSet(set) => set.contains(v),
            Strategy::Glob(g) => g.is_match(v),
            Strategy::Regex(re) => v.starts_with(&*self.prefix) && re.is_match(v),
        }
    }

    /// The values the pattern accepts, when finite and listable.
    pub(super) fn set(&self) -> Option<&[String]> {
        self.set.as_deref()
    }

    /// A literal prefix of every match (possibly empty).
    pub(super) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Whether the pattern accepts every string.
    pub(super) fn is_match_all(&self) -> bool {
        matches!(self.strategy, Strategy::Any)
    }

    /// Whether the pattern accepts exactly the non-empty strings.
    pub(super) fn is_non_empty(&self) -> bool {
        matches!(self.strategy, Strategy::NonEmpty)
    }

    /// A short name of the strategy, for tests.
    #[cfg(test)]
    pub(super) fn strategy_name(&self) -> &'static str {
        match &self.strategy {
            Strategy::Any => "any",
            Strategy::NonEmpty => "non-empty",
            Strategy::Literal(_) => "literal",
            Strategy::SmallSet => "small-set",
            Strategy::HashSet(_) => "hash-set",
            Strategy::Glob(g) => g.kind_name(),
            Strategy::Regex(_) => "regex",
        }
    }
}

/// Rewrites the constructs Go and Rust read differently so the Rust regex means what
/// Prometheus means: `\d`, `\s`, `\w` (and negations) become ASCII classes and `\b`, `\B`
/// become ASCII word boundaries. Fails on a syntax error.
fn go_compatible(pattern: &str) -> Result<Cow<'_, str>, regex::Error> {
    struct Collect(Vec<(usize, usize, &'static str)>);

    fn perl(c: &ClassPerl) -> &'static str {
        match (&c.kind, c.negated) {
            (ClassPerlKind::Digit, false) => "[0-9]",
            (ClassPerlKind::Digit, true) => "[^0-9]",
            // Go's \s is [\t\n\f\r ]: no \v, unlike Rust's ASCII \s. `\x20` rather than a
            // space keeps the class intact under the `x` flag.
            (ClassPerlKind::Space, false) => r"[\t\n\x0C\r\x20]",
            (ClassPerlKind::Space, true) => r"[^\t\n\x0C\r\x20]",
            (ClassPerlKind::Word, false) => "[0-9A-Za-z_]",
            (ClassPerlKind::Word, true) => "[^0-9A-Za-z_]",
        }
    }

    impl ast::Visitor for Collect {
        type Output = Vec<(usize, usize, &'static str)>;
        type Err = std::convert::Infallible;

        fn finish(self) -> Result<Self::Output, Self::Err> {
            Ok(self.0)
        }

        fn visit_pre(&mut self, ast: &Ast) -> Result<(), Self::Err> {
            match ast {
                Ast::ClassPerl(c) => self
                    .0
                    .push((c.span.start.offset, c.span.end.offset, perl(c))),
                Ast::Assertion(a) => {
                    let with = match a.kind {
                        ast::AssertionKind::WordBoundary => r"(?-u:\b)",
                        ast::AssertionKind::NotWordBoundary => r"(?-u:\B)",
                        _ => return Ok(()),
                    };
                    self.0.push((a.span.start.offset, a.span.end.offset, with));
                }
                _ => {}
            }
            Ok(())
        }

        fn visit_class_set_item_pre(&mut self, item: &ClassSetItem) -> Result<(), Self::Err> {
            if let ClassSetItem::Perl(c) = item {
                // Rust allows nested classes, so `[a\d]` becomes `[a[0-9]]`.
                self.0
                    .push((c.span.start.offset, c.span.end.offset, perl(c)));
            }
            Ok(())
        }
    }

    let parsed = ast::parse::Parser::new()
        .parse(pattern)
        .map_err(|e| regex::Error::Syntax(regex_syntax::Error::from(e).to_string()))?;
    let Ok(mut edits) = ast::visit(&parsed, Collect(Vec::new()));
    if edits.is_empty() {
        return Ok(Cow::Borrowed(pattern));
    }
    edits.sort_unstable_by_key(|e| e.0);
    let mut out = String::with_capacity(pattern.len() + 8 * edits.len());
    let mut at = 0;
    for (start, end, with) in edits {
        out.push_str(&pattern[at..start]);
        out.push_str(with);
        at = end;
    }
    out.push_str(&pattern[at..]);
    Ok(Cow::Owned(out))
}

/// Drops a leading `^` / `\A` and a trailing `$` / `\z` of the whole pattern: the pattern is
/// anchored anyway, so they change nothing.
fn strip_outer_anchors(hir: &Hir) -> Cow<'_, Hir> {
    if let HirKind::Concat(subs) = hir.kind() {
        let mut subs = subs.as_slice();
        if let Some((first, rest)) = subs.split_first()
            && *first.kind() == HirKind::Look(Look::Start)
        {
            subs = rest;
        }
        if let Some((last, rest)) = subs.split_last()
            && *last.kind() == HirKind::Look(Look::End)
        {
            subs = rest;
        }
        if subs.len() != hir.kind().subs().len() {
            return Cow::Owned(Hir::concat(subs.to_vec()));
        }
    }
    Cow::Borrowed(hir)
}

/// Skips capture groups, which do not change what matches.
fn uncapture(mut hir: &Hir) -> &Hir {
    while let HirKind::Capture(c) = hir.kind() {
        hir = &c.sub;
    }
    hir
}

/// Lists every string `hir` matches, if there are at most `limit` and their total length
/// stays within `bytes`; otherwise `None`. The result may contain duplicates.
fn finite_language(hir: &Hir, limit: usize, bytes: &mut usize) -> Option<Vec<String>> {
    let out = match hir.kind() {
        HirKind::Empty => vec![String::new()],
        HirKind::Literal(lit) => vec![std::str::from_utf8(&lit.0).ok()?.to_string()],
        HirKind::Class(Class::Unicode(class)) => {
            let n: usize = class.ranges().iter().map(|r| r.len()).sum();
            if n > limit {
                return None;
            }
            class
                .iter()
                .flat_map(|r| r.start()..=r.end())
                .map(String::from)
                .collect()
        }
        HirKind::Class(Class::Bytes(class)) => {
            if !class.is_ascii() || class.ranges().iter().map(|r| r.len()).sum::<usize>() > limit {
                return None;
            }
            class
                .iter()
                .flat_map(|r| r.start()..=r.end())
                .map(|b| char::from(b).to_string())
                .collect()
        }
        HirKind::Look(_) => return None,
        HirKind::Capture(c) => return finite_language(&c.sub, limit, bytes),
        HirKind::Repetition(rep) => {
            let max = rep.max? as usize;
            if max > limit {
                return None;
            }
            let sub = finite_language(&rep.sub, limit, bytes)?;
            let mut out = Vec::new();
            let mut power = vec![String::new()];
            for k in 0..=max {
                if k >= rep.min as usize {
                    out.extend(power.iter().cloned());
                    if out.len() > limit {
                        return None;
                    }
                }
                if k < max {
                    power = product(&power, &sub, limit, bytes)?;
                }
            }
            out
        }
        HirKind::Concat(subs) => {
            let mut acc = vec![String::new()];
            for sub in subs {
                let next = finite_language(sub, limit, bytes)?;
                acc = product(&acc, &next, limit, bytes)?;
            }
            acc
        }
        HirKind::Alternation(subs) => {
            let mut acc = Vec::new();
            for sub in subs {
                acc.extend(finite_language(sub, limit, bytes)?);
                if acc.len() > limit {
                    return None;
                }
            }
            acc
        }
    };
    Some(out)
}

/// All concatenations `a + b`, within the limits.
fn product(
    left: &[String],
    right: &[String],
    limit: usize,
    bytes: &mut usize,
) -> Option<Vec<String>> {
    if left.len().saturating_mul(right.len()) > limit {
        return None;
    }
    let mut out = Vec::with_capacity(left.len() * right.len());
    for a in left {
        for b in right {
            *bytes = bytes.checked_sub(a.len() + b.len())?;
            out.push(format!("{a}{b}"));
        }
    }
    Some(out)
}

/// The longest common prefix of sorted strings, cut at a character boundary.
fn common_prefix(sorted: &[String]) -> &str {
    let (Some(first), Some(last)) = (sorted.first(), sorted.last()) else {
        return "";
    };
    // In a sorted list the first and last strings differ the most.
    let mut end = first
        .bytes()
        .zip(last.bytes())
        .take_while(|(a, b)| a == b)
        .count();
    while !first.is_char_boundary(end) {
        end -= 1;
    }
    &first[..end]
}

/// The literal at the start of a concatenation, if any.
fn literal_prefix(hir: &Hir) -> &str {
    let hir = uncapture(hir);
    match hir.kind() {
        HirKind::Literal(lit) => std::str::from_utf8(&lit.0).unwrap_or(""),
        HirKind::Concat(subs) => subs.first().map_or("", literal_prefix),
        _ => "",
    }
}

/// Whether `hir` matches any single character (`.` under the `s` flag).
fn is_any_char(hir: &Hir) -> bool {
    match hir.kind() {
        HirKind::Class(Class::Unicode(c)) => {
            matches!(c.ranges(), [r] if r.start() == '\0' && r.end() == char::MAX)
        }
        _ => false,
    }
}

/// Literal pieces separated by gaps of any characters, each gap at least `n` characters
/// long: `head .{n1,} mid1 .{n2,} mid2 ... .{nk,} tail`.
///
/// Matching places each middle piece at its leftmost position after the previous one; for
/// this kind of pattern the leftmost placement is always a valid one if any is.
#[derive(Debug)]
struct Glob {
    head: Box<str>,
    /// Middle pieces, each with the minimum length (in characters) of the gap before it.
    middle: Box<[(usize, Box<str>)]>,
    /// Minimum length (in characters) of the gap before `tail`.
    tail_gap: usize,
    tail: Box<str>,
}

enum Piece<'a> {
    Lit(&'a str),
    Gap(usize),
}

impl Glob {
    fn from_hir(hir: &Hir) -> Option<Glob> {
        fn flatten<'a>(hir: &'a Hir, out: &mut Vec<Piece<'a>>) -> Option<()> {
            let hir = uncapture(hir);
            match hir.kind() {
                HirKind::Literal(lit) => out.push(Piece::Lit(std::str::from_utf8(&lit.0).ok()?)),
                HirKind::Concat(subs) => {
                    for sub in subs {
                        flatten(sub, out)?;
                    }
                }
                HirKind::Repetition(rep)
                    if rep.max.is_none() && is_any_char(uncapture(&rep.sub)) =>
                {
                    out.push(Piece::Gap(rep.min as usize));
                }
                HirKind::Empty => {}
                _ => return None,
            }
            Some(())
        }

        let mut pieces = Vec::new();
        flatten(hir, &mut pieces)?;
        // Merge neighbours: adjacent gaps add up, adjacent literals concatenate.
        let mut merged: Vec<(Option<usize>, String)> = Vec::new(); // (gap before, literal)
        let mut head = String::new();
        let mut pending_gap: Option<usize> = None;
        for p in pieces {
            match p {
                Piece::Gap(n) => pending_gap = Some(pending_gap.unwrap_or(0) + n),
                Piece::Lit(s) => match pending_gap.take() {
                    Some(gap) => merged.push((Some(gap), s.to_string())),
                    None => match merged.last_mut() {
                        Some((_, last)) => last.push_str(s),
                        None => head.push_str(s),
                    },
                },
            }
        }
        // At least one gap, or this is a literal (handled as a finite set).
        let (tail_gap, tail) = match pending_gap {
            Some(gap) => (gap, String::new()),
            None => {
                let (gap, tail) = merged.pop()?;
                (gap.unwrap_or(0), tail)
            }
        };
        Some(Glob {
            head: head.into(),
            middle: merged
                .into_iter()
                .map(|(gap, s)| (gap.unwrap_or(0), s.into()))
                .collect(),
            tail_gap,
            tail: tail.into(),
        })
    }

    fn is_any(&self) -> bool {
        self.head.is_empty() && self.middle.is_empty() && self.tail.is_empty() && self.tail_gap == 0
    }

    fn is_non_empty(&self) -> bool {
        self.head.is_empty() && self.middle.is_empty() && self.tail.is_empty() && self.tail_gap == 1
    }

    #[cfg(test)]
    fn kind_name(&self) -> &'static str {
        let zero_gaps = self.tail_gap == 0 && self.middle.iter().all(|(gap, _)| *gap == 0);
        match (
            zero_gaps,
            self.head.is_empty(),
            self.middle.len(),
            self.tail.is_empty(),
        ) {
            (true, false, 0, true) => "prefix",
            (true, true, 0, false) => "suffix",
            (true, true, 1, true) => "contains",
            _ => "glob",
        }
    }

    #[inline]
    fn is_match(&self, v: &str) -> bool {
        let Some(rest) = v.strip_prefix(&*self.head) else {
            return false;
        };
        let Some(mut rest) = rest.strip_suffix(&*self.tail) else {
            return false;
        };
        for (gap, piece) in self.middle.iter() {
            let Some(after_gap) = skip_chars(rest, *gap) else {
                return false;
            };
            match after_gap.find(&**piece) {
                Some(i) => rest = &after_gap[i + piece.len()..],
                None => return false,
            }
        }
        skip_chars(rest, self.tail_gap).is_some()
    }
}

/// `s` without its first `n` characters, or `None` if it is shorter.
#[inline]
fn skip_chars(s: &str, n: usize) -> Option<&str> {
    if n == 0 {
        return Some(s);
    }
    let mut it = s.char_indices();
    it.nth(n - 1)?;
    Some(it.as_str())
}
