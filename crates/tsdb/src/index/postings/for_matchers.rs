//! Selecting series by label matchers: Prometheus's `PostingsForMatchers`.
//!
//! The work is split in two: [`plan`] applies Prometheus's rules to decide, per matcher,
//! which label values select series and whether those series are intersected or
//! subtracted; [`execute`] turns the plan into bitmap operations against an
//! [`IndexReader`]. The split lets [`super::MemPostings`] test label values against a
//! regex before taking its read lock.
//!
//! The rules are documented on [`postings_for_matchers`].

use std::borrow::Cow;
use std::collections::HashSet;

use roaring::RoaringBitmap;

use super::{IndexReader, intersect_cow};
use crate::error::Result;
use crate::labels::{MatchType, Matcher, Symbol};

/// The series whose label `name` has one of some values.
#[derive(Debug)]
pub(super) enum Term<'m> {
    /// `name="value"`.
    Equal {
        /// The label name.
        name: &'m str,
        /// The one value.
        value: &'m str,
    },
    /// A value listed by the matcher.
    Set {
        /// The label name.
        name: &'m str,
        /// The values, sorted.
        values: &'m [String],
    },
    /// A value from a list computed ahead of time.
    Values {
        /// The label name.
        name: &'m str,
        /// The values, sorted.
        values: Vec<Symbol>,
    },
    /// A value starting with `prefix` for which `matcher.matches(value) == want`.
    Scan {
        /// The label name.
        name: &'m str,
        /// A prefix every selected value has (possibly empty).
        prefix: &'m str,
        /// The matcher to test values with.
        matcher: &'m Matcher,
        /// The result of `matcher.matches` that selects a value.
        want: bool,
    },
    /// Any value: the series that have the label.
    AllValues {
        /// The label name.
        name: &'m str,
    },
}

impl Term<'_> {
    /// A rough order of cost, to evaluate cheap terms first and stop early on an empty one.
    fn cost(&self) -> u8 {
        match self {
            Term::Equal { .. } => 0,
            Term::Set { .. } | Term::Values { .. } => 1,
            Term::AllValues { .. } => 2,
            Term::Scan { .. } => 3,
        }
    }
}

/// What to intersect and what to subtract.
#[derive(Debug, Default)]
pub(super) struct Plan<'m> {
    /// Nothing can match.
    empty: bool,
    /// Terms whose series are intersected; all series when there is none.
    intersect: Vec<Term<'m>>,
    /// Terms whose series are then removed.
    subtract: Vec<Term<'m>>,
}

impl<'m> Plan<'m> {
    /// Whether some subtracted term tests values one by one.
    pub(super) fn subtracts_scan(&self) -> bool {
        self.subtract.iter().any(|t| matches!(t, Term::Scan { .. }))
    }

    /// Every term, for resolving some ahead of execution.
    pub(super) fn terms_mut(&mut self) -> impl Iterator<Item = &mut Term<'m>> {
        self.intersect.iter_mut().chain(self.subtract.iter_mut())
    }
}

/// The term selecting the series that have label `m.name` with a value `v` for which
/// `m.matches(v) == want`.
fn values_where(m: &Matcher, want: bool) -> Term<'_> {
    let name = m.name.as_str();
    // Whether the selected values are the ones the matcher's pattern (or value) accepts.
    let accepted = m.kind.is_negative() != want;
    let set = m.positive_set();
    if accepted {
        match set {
            Some([value]) => Term::Equal { name, value },
            Some(values) => Term::Set { name, values },
            None => Term::Scan {
                name,
                prefix: m.positive_prefix(),
                matcher: m,
                want,
            },
        }
    } else if set.is_some_and(|s| s.iter().all(String::is_empty)) {
        // The pattern accepts no value a series can have (label values are never empty),
        // so every value is selected.
        Term::AllValues { name }
    } else {
        Term::Scan {
            name,
            prefix: "",
            matcher: m,
            want,
        }
    }
}

/// Applies the rules documented on [`postings_for_matchers`] to `matchers`.
pub(super) fn plan(matchers: &[Matcher]) -> Plan<'_> {
    let mut plan = Plan::default();
    if matchers.is_empty() {
        plan.empty = true;
        return plan;
    }
    let must_be_set: HashSet<&str> = matchers
        .iter()
        .filter(|m| !m.matches_empty())
        .map(|m| m.name.as_str())
        .collect();
    for m in matchers {
        let name = m.name.as_str();
        if m.is_match_all() {
            continue;
        }
        if m.is_match_none() {
            plan.empty = true;
            return plan;
        }
        if m.is_regex_non_empty() {
            // `l=~".+"` is "has l"; `l!~".+"` is "lacks l".
            let term = Term::AllValues { name };
            match m.kind {
                MatchType::RegexMatch => plan.intersect.push(term),
                _ => plan.subtract.push(term),
            }
            continue;
        }
        if !must_be_set.contains(name) {
            // `l=""`, `l!="x"`, `l=~"x|"`: keep series lacking l, drop the values m rejects.
            plan.subtract.push(values_where(m, false));
        } else if m.kind.is_negative() && m.matches_empty() {
            // `l!="x"` next to something requiring l: subtract `l="x"`.
            plan.subtract.push(values_where(m, false));
        } else {
            // `l="x"`, `l=~"x.*"`, `l!=""`: intersect the values m accepts.
            plan.intersect.push(values_where(m, true));
        }
    }
    plan
}

/// The series of one term.
fn resolve<'r, R: IndexReader + ?Sized>(
    ix: &'r R,
    term: &Term<'_>,
) -> Result<Cow<'r, RoaringBitmap>> {
    Ok(match term {
        Term::Equal { name, value } => ix.postings(name, value)?,
        Term::Set { name, values } => {
            Cow::Owned(ix.postings_for_values(name, &mut values.iter().map(String::as_str))?)
        }
        Term::Values { name, values } => {
            Cow::Owned(ix.postings_for_values(name, &mut values.iter().map(Symbol::as_str))?)
        }
        Term::Scan {
            name,
            prefix,
            matcher,
            want,
        } => Cow::Owned(
            ix.postings_for_label_matching(name, prefix, &mut |v| matcher.matches(v) == *want)?,
        ),
        Term::AllValues { name } => Cow::Owned(ix.postings_for_all_label_values(name)?),
    })
}

/// Runs `plan` against `ix`.
pub(super) fn execute<R: IndexReader + ?Sized>(ix: &R, plan: &Plan<'_>) -> Result<RoaringBitmap> {
    if plan.empty {
        return Ok(RoaringBitmap::new());
    }
    let mut lists = Vec::with_capacity(plan.intersect.len().max(1));
    if plan.intersect.is_empty() {
        lists.push(ix.all_postings()?);
    }
    let mut terms: Vec<&Term<'_>> = plan.intersect.iter().collect();
    terms.sort_by_key(|t| t.cost());
    for term in terms {
        let list = resolve(ix, term)?;
        if list.is_empty() {
            return Ok(RoaringBitmap::new());
        }
        lists.push(list);
    }
    let mut selected = intersect_cow(lists);
    for term in &plan.subtract {
        if selected.is_empty() {
            break;
        }
        selected -= &*resolve(ix, term)?;
    }
    Ok(selected)
}

/// The series selected by `matchers`, with the semantics of Prometheus's
/// `PostingsForMatchers`: a series matches if every matcher accepts its value of the
/// matcher's label, an absent label counting as `""`.
///
/// The rules, for a label `l`:
///
/// * A matcher that accepts `""` also selects series without `l`. So `l=""`, `l!="x"`,
///   `l!~"x.*"` or `l=~"x|"` are applied by subtracting the series whose value of `l` it
///   rejects.
/// * If some matcher on `l` rejects `""`, every selected series has `l`; then a negative
///   matcher on `l` (`l!="x"`) subtracts the values its inverse accepts, and the others
///   intersect the values they accept (`l!=""` and `l=~".+"` become "has `l`").
/// * If nothing is intersected, the subtractions start from all series.
/// * `l=~".*"` constrains nothing; `l!~".*"` selects nothing.
///
/// An empty list of matchers selects nothing, as in Prometheus. Unlike Prometheus, a
/// matcher with an empty name and value is not special (Prometheus reads it as "all
/// postings"); it is evaluated like any other matcher, and `""=""` does select everything.
pub fn postings_for_matchers<R: IndexReader + ?Sized>(
    ix: &R,
    matchers: &[Matcher],
) -> Result<RoaringBitmap> {
    execute(ix, &plan(matchers))
}

/// The values of label `name`, sorted, among the series selected by `matchers`
/// (Prometheus's `labelValuesWithMatchers`); all values of `name` when `matchers` is empty.
///
/// Matchers on `name` itself filter the value list directly; only if others remain are
/// postings consulted.
pub fn label_values_for_matchers<R: IndexReader + ?Sized>(
    ix: &R,
    name: &str,
    matchers: &[Matcher],
) -> Result<Vec<Symbol>> {
    let mut values = ix.label_values(name)?;
    let mut others = false;
    for m in matchers {
        if m.name == name {
            values.retain(|v| m.matches(v));
        } else {
            others = true;
        }
    }
    if values.is_empty() || !others {
        return Ok(values);
    }
    let selected = postings_for_matchers(ix, matchers)?;
    let mut out = Vec::with_capacity(values.len());
    for value in values {
        if !ix.postings(name, &value)?.is_disjoint(&selected) {
            out.push(value);
        }
    }
    Ok(out)
}

/// The names of the labels carried by the series selected by `matchers`, sorted
/// (Prometheus's `labelNamesWithMatchers`); all label names when `matchers` is empty.
pub fn label_names_for_matchers<R: IndexReader + ?Sized>(
    ix: &R,
    matchers: &[Matcher],
) -> Result<Vec<Symbol>> {
    if matchers.is_empty() {
        return ix.label_names();
    }
    let selected = postings_for_matchers(ix, matchers)?;
    ix.label_names_for(&selected)
}
