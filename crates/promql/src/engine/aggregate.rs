//! Aggregation operators: `sum`, `avg`, `min`, `max`, `count`, `group`, `stddev`,
//! `stdvar`, `topk`, `bottomk`, `quantile`, `count_values`, `limitk`, grouped `by` or
//! `without` labels.

use std::collections::HashMap;
use std::sync::Arc;

use promql_parser::parser::token::{
    T_AVG, T_BOTTOMK, T_COUNT, T_COUNT_VALUES, T_GROUP, T_LIMIT_RATIO, T_LIMITK, T_MAX, T_MIN,
    T_QUANTILE, T_STDDEV, T_STDVAR, T_SUM, T_TOPK,
};
use promql_parser::parser::{AggregateExpr, LabelModifier};
use tsdb::labels::{Label, Labels};

use crate::engine::eval::{Evaluator, Smp, Val, set_label};
use crate::engine::hash::{FastMap, labels_hash};
use crate::error::{Error, Result};
use crate::functions::quantile;
use crate::functions::range::kahan_sum_inc;

/// The group keys of one aggregation node, computed once per distinct input series.
///
/// Input samples of one series share one `Arc<Labels>` across steps, so keys are cached
/// by its address (the cache holds a clone, so an address is never reused while cached);
/// equal keys from different series map to one group id through the key's FxHash.
#[derive(Debug, Default)]
struct GroupKeys {
    /// Whether to cache by input address (not worth it for a single step).
    cache: bool,
    /// Input labels address → group id (the `Arc` is kept alive here).
    by_input: FastMap<usize, (Arc<Labels>, usize)>,
    /// Key hash → group ids with that hash.
    by_hash: FastMap<u64, Vec<usize>>,
    /// Group id → the key and whether it holds `__name__`.
    keys: Vec<(Arc<Labels>, bool)>,
}

impl GroupKeys {
    /// The group id of a series with these labels.
    fn id(&mut self, l: &Arc<Labels>, by: bool, names: &[String]) -> usize {
        // No grouping (`topk(5, x)`, `sum(x)`): one group with the empty key, without
        // building, hashing and looking up an empty key per sample.
        if by && names.is_empty() {
            if self.keys.is_empty() {
                self.keys.push((Arc::new(Labels::empty()), false));
            }
            return 0;
        }
        let addr = Arc::as_ptr(l) as usize;
        if self.cache
            && let Some((_, g)) = self.by_input.get(&addr)
        {
            return *g;
        }
        let key = group_labels(l, by, names, false);
        let ids = self.by_hash.entry(key.hash_value()).or_default();
        let g = match ids.iter().find(|&&g| *self.keys[g].0 == key) {
            Some(&g) => g,
            None => {
                let g = self.keys.len();
                ids.push(g);
                let has_name = key.has("__name__");
                self.keys.push((Arc::new(key), has_name));
                g
            }
        };
        if self.cache {
            self.by_input.insert(addr, (Arc::clone(l), g));
        }
        g
    }
}

/// The running value of one group at one step for the aggregations whose state is a few
/// numbers (`sum avg count group min max stddev stdvar`), folded in input order with
/// Prometheus's arithmetic (Kahan-compensated sums, an incremental mean once a sum
/// overflows, Welford's variance). The step-by-step path and the series-major path
/// (`series_major.rs`) both fold through here, so they give bit-identical results.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Acc {
    value: f64,
    c: f64,
    mean: f64,
    /// Samples folded in; 0 means none yet.
    pub(crate) count: f64,
    incremental: bool,
}

impl Acc {
    /// The state after the group's first sample `v`.
    pub(crate) fn first(op: u16, v: f64) -> Acc {
        let value = match op {
            T_STDDEV | T_STDVAR if !v.is_finite() => f64::NAN,
            T_STDDEV | T_STDVAR => 0.0,
            _ => v,
        };
        Acc {
            value,
            c: 0.0,
            mean: v,
            count: 1.0,
            incremental: false,
        }
    }

    /// Folds in sample `v` (or starts the group with it).
    #[inline]
    pub(crate) fn add(&mut self, op: u16, v: f64) {
        if self.count == 0.0 {
            *self = Acc::first(op, v);
            return;
        }
        self.count += 1.0;
        match op {
            T_SUM => {
                (self.value, self.c) = kahan_sum_inc(v, self.value, self.c);
            }
            T_AVG => {
                if !self.incremental {
                    let (nv, nc) = kahan_sum_inc(v, self.value, self.c);
                    if !nv.is_infinite() {
                        self.value = nv;
                        self.c = nc;
                        return;
                    }
                    self.incremental = true;
                    self.mean = self.value / (self.count - 1.0);
                    self.c /= self.count - 1.0;
                }
                let q = (self.count - 1.0) / self.count;
                (self.mean, self.c) = kahan_sum_inc(v / self.count, q * self.mean, q * self.c);
            }
            T_MAX if self.value < v || self.value.is_nan() => self.value = v,
            T_MIN if self.value > v || self.value.is_nan() => self.value = v,
            T_STDDEV | T_STDVAR => {
                let delta = v - self.mean;
                self.mean += delta / self.count;
                self.value += delta * (v - self.mean);
            }
            _ => {}
        }
    }

    /// The aggregate's value; `None` for operators that are not folded here.
    pub(crate) fn finish(&self, op: u16) -> Option<f64> {
        Some(match op {
            T_SUM => {
                if self.value.is_infinite() {
                    self.value
                } else {
                    self.value + self.c
                }
            }
            T_AVG => {
                if self.incremental {
                    self.mean + self.c
                } else {
                    (self.value + self.c) / self.count
                }
            }
            T_COUNT | T_COUNT_VALUES => self.count,
            T_GROUP => 1.0,
            T_MIN | T_MAX => self.value,
            T_STDVAR => self.value / self.count,
            T_STDDEV => (self.value / self.count).sqrt(),
            _ => return None,
        })
    }
}

/// Running state of one group.
#[derive(Debug, Clone)]
struct Group {
    labels: Arc<Labels>,
    acc: Acc,
    members: Vec<Smp>,
    values: Vec<f64>,
    /// The group keeps a to-be-dropped `__name__` (delayed name removal).
    drop_name: bool,
}

/// Whether a label name is a valid Prometheus label name (UTF-8 names are allowed in 3.x).
fn valid_label_name(n: &str) -> bool {
    !n.is_empty()
}

/// Formats a float as Go's `strconv.FormatFloat(f, 'f', -1, 64)`.
pub(crate) fn format_float(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f == f64::INFINITY {
        "+Inf".into()
    } else if f == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{f}")
    }
}

/// `quantile`'s warnings, once per query as in Prometheus: for NaN if any step's parameter
/// is NaN, otherwise for the largest above 1 and the smallest below 0 (Go's `math.Max` and
/// `math.Min` propagate NaN, which hides the other two).
fn quantile_warnings(params: &[f64], ev: &mut Evaluator<'_>) {
    let bad = if params.iter().any(|q| q.is_nan()) {
        vec![f64::NAN]
    } else {
        let max = params.iter().copied().fold(f64::MIN, f64::max);
        let min = params.iter().copied().fold(f64::MAX, f64::min);
        [(max > 1.0).then_some(max), (min < 0.0).then_some(min)]
            .into_iter()
            .flatten()
            .collect()
    };
    for q in bad {
        ev.annos.warn(format!(
            "quantile value should be between 0 and 1, got {}",
            format_float(q).trim_start_matches('+')
        ));
    }
}

impl Evaluator<'_> {
    pub(crate) fn eval_aggregate(&mut self, a: &AggregateExpr) -> Result<Val> {
        let op = a.op.id();
        if (op == T_LIMITK || op == T_LIMIT_RATIO) && !self.opts.experimental_functions {
            return Err(Error::Parse {
                message: "limitk() and limit_ratio() are experimental and must be enabled with --enable-feature=promql-experimental-functions".to_string(),
            });
        }
        if let Some(v) = self.try_series_major(a)? {
            return Ok(v);
        }
        let n = self.steps();
        let mut params: Vec<f64> = vec![f64::NAN; n];
        let mut label_param = String::new();
        if let Some(p) = &a.param {
            match self.eval(p)? {
                Val::Scalar(v) => params = v,
                Val::Str(s) => label_param = s,
                _ => {
                    return Err(Error::Execution(
                        "aggregation parameter must be a scalar or a string".into(),
                    ));
                }
            }
        }
        if op == T_COUNT_VALUES && !valid_label_name(&label_param) {
            return Err(Error::Execution(format!(
                "invalid label name {label_param:?}"
            )));
        }
        let Val::Vector(input) = self.eval(&a.expr)? else {
            return Err(Error::Execution(
                "aggregation expression must be an instant vector".into(),
            ));
        };
        let (by, names): (bool, Vec<String>) = match &a.modifier {
            Some(LabelModifier::Include(l)) => (true, l.labels.clone()),
            Some(LabelModifier::Exclude(l)) => (false, l.labels.clone()),
            None => (true, Vec::new()),
        };
        if op == T_QUANTILE && a.param.is_some() {
            quantile_warnings(&params, self);
        }
        let mut out = Vec::with_capacity(n);
        let mut keys = GroupKeys {
            cache: input.len() > 1,
            ..GroupKeys::default()
        };
        // Group id → index in the current step's groups (usize::MAX: none yet).
        let mut slots: Vec<usize> = Vec::new();
        for (i, vec) in input.into_iter().enumerate() {
            if i % 64 == 0 {
                self.check("expression evaluation")?;
            }
            let p = params.get(i).copied().unwrap_or(f64::NAN);
            let grouping = Grouping {
                label_param: &label_param,
                by,
                names: &names,
            };
            out.push(self.aggregate_step(op, p, &grouping, &mut keys, &mut slots, vec)?);
        }
        Ok(Val::Vector(out))
    }

    fn aggregate_step(
        &mut self,
        op: u16,
        param: f64,
        grouping: &Grouping<'_>,
        keys: &mut GroupKeys,
        slots: &mut Vec<usize>,
        vec: Vec<Smp>,
    ) -> Result<Vec<Smp>> {
        let &Grouping {
            label_param,
            by,
            names,
        } = grouping;
        // Prometheus looks at `k` and the ratio only for a series with a sample.
        if vec.is_empty() && [T_TOPK, T_BOTTOMK, T_LIMITK, T_LIMIT_RATIO].contains(&op) {
            return Ok(Vec::new());
        }
        let k = if op == T_TOPK || op == T_BOTTOMK || op == T_LIMITK {
            if param.is_nan() {
                return Err(Error::Execution("Parameter value is NaN".into()));
            }
            if param > i64::MAX as f64 || param < i64::MIN as f64 {
                return Err(Error::Execution(format!(
                    "Scalar value {} overflows int64",
                    format_float(param)
                )));
            }
            let k = param as i64;
            if k < 1 {
                return Ok(Vec::new());
            }
            k as usize
        } else {
            0
        };
        let mut ratio = 0.0;
        if op == T_LIMIT_RATIO {
            if param.is_nan() {
                return Err(Error::Execution("Ratio value is NaN".into()));
            }
            if param == 0.0 {
                return Ok(Vec::new());
            }
            ratio = param.clamp(-1.0, 1.0);
            if ratio != param {
                self.annos.warn(format!(
                    "ratio value should be between -1 and 1, got {}, capping to {}",
                    format_float(param).trim_start_matches('+'),
                    format_float(ratio)
                ));
            }
        }
        // count_values keys depend on the value, so they are built per sample.
        let mut index: HashMap<Labels, usize> = HashMap::new();
        let mut groups: Vec<Group> = Vec::new();
        // Without grouping, one group gets every member: size it once rather than let a
        // vector of tens of thousands of samples double its way there.
        let one_group = by && names.is_empty();
        let len = vec.len();
        for s in vec {
            if op == T_LIMIT_RATIO && !ratio_keeps(ratio, &s.labels) {
                continue;
            }
            let found = if op == T_COUNT_VALUES {
                let key = set_label(
                    &group_labels(&s.labels, by, names, false),
                    label_param,
                    &format_float(s.v),
                );
                match index.get(&key) {
                    Some(&g) => Ok(g),
                    None => {
                        index.insert(key.clone(), groups.len());
                        let has_name = key.has("__name__");
                        Err((Arc::new(key), has_name))
                    }
                }
            } else {
                let id = keys.id(&s.labels, by, names);
                if slots.len() <= id {
                    slots.resize(id + 1, usize::MAX);
                }
                match slots[id] {
                    usize::MAX => {
                        slots[id] = groups.len();
                        let (key, has_name) = &keys.keys[id];
                        Err((Arc::clone(key), *has_name))
                    }
                    g => Ok(g),
                }
            };
            let gi = match found {
                Ok(g) => g,
                Err((key, has_name)) => {
                    let drop_name = s.drop_name && has_name;
                    let mut grp = Group {
                        drop_name,
                        labels: key,
                        acc: Acc::first(op, s.v),
                        members: match op {
                            T_TOPK | T_BOTTOMK | T_LIMITK | T_LIMIT_RATIO if one_group => {
                                Vec::with_capacity(len)
                            }
                            _ => Vec::new(),
                        },
                        values: Vec::new(),
                    };
                    match op {
                        T_QUANTILE => grp.values.push(s.v),
                        T_TOPK | T_BOTTOMK | T_LIMITK | T_LIMIT_RATIO => grp.members.push(s),
                        _ => {}
                    }
                    groups.push(grp);
                    continue;
                }
            };
            let g = &mut groups[gi];
            g.acc.add(op, s.v);
            match op {
                T_QUANTILE => g.values.push(s.v),
                T_TOPK | T_BOTTOMK | T_LIMITK | T_LIMIT_RATIO => g.members.push(s),
                _ => {}
            }
        }
        slots.iter_mut().for_each(|s| *s = usize::MAX);
        let mut out = Vec::with_capacity(groups.len());
        for mut g in groups {
            let v = match op {
                T_QUANTILE => quantile::quantile(param, &mut g.values),
                T_TOPK | T_BOTTOMK => {
                    out.extend(first_k(g.members, k, op == T_TOPK));
                    continue;
                }
                T_LIMIT_RATIO => {
                    out.extend(g.members);
                    continue;
                }
                T_LIMITK => {
                    g.members.truncate(k);
                    out.extend(g.members);
                    continue;
                }
                _ => g.acc.finish(op).ok_or_else(|| {
                    Error::Execution(format!("unsupported aggregation operator {op}"))
                })?,
            };
            out.push(Smp {
                labels: g.labels,
                v,
                drop_name: g.drop_name,
            });
        }
        Ok(out)
    }
}

/// How an aggregation groups its input.
#[derive(Debug)]
struct Grouping<'g> {
    /// The string parameter (`count_values`'s label).
    label_param: &'g str,
    /// `by` (true) or `without`.
    by: bool,
    /// The labels listed.
    names: &'g [String],
}

/// Whether `limit_ratio(ratio, ...)` keeps the series with these labels: its hash, as a
/// fraction of the hash space, is below `ratio` (or, for negative ratios, at or above
/// `1 + ratio`), as Prometheus's `HashRatioSampler`.
fn ratio_keeps(ratio: f64, labels: &Labels) -> bool {
    let offset = labels_hash(labels) as f64 / u64::MAX as f64;
    (ratio >= 0.0 && offset < ratio) || (ratio < 0.0 && offset >= 1.0 + ratio)
}

/// The labels of the group a series belongs to; `name_dropped`: of the series once
/// `__name__` (and `__type__`, `__unit__`) are dropped.
pub(crate) fn group_labels(l: &Labels, by: bool, names: &[String], name_dropped: bool) -> Labels {
    let v: Vec<Label> = l
        .iter()
        .filter(|x| in_group_key(x.name.as_str(), by, names, name_dropped))
        .cloned()
        .collect();
    Labels::from_sorted(v)
}

/// Whether label `n` is part of the group key (see [`group_labels`]).
pub(crate) fn in_group_key(n: &str, by: bool, names: &[String], name_dropped: bool) -> bool {
    let name_label = n == "__name__" || n == "__type__" || n == "__unit__";
    let listed = names.iter().any(|k| k == n);
    if by {
        listed && !(name_dropped && name_label)
    } else {
        !listed && !name_label
    }
}

/// The first `k` of `members` in `topk` (`top`) or `bottomk` order, NaN last, ties in
/// input order: what a stable sort and a truncation give, found by partial selection
/// (ties broken by input position make the order total, so the result is the same).
///
/// The selection runs over `(value, position)` pairs, not the samples, and only the `k`
/// chosen samples are moved out.
fn first_k(members: Vec<Smp>, k: usize, top: bool) -> Vec<Smp> {
    use std::cmp::Ordering;
    let order = |a: &(f64, usize), b: &(f64, usize)| {
        let (x, y) = (a.0, b.0);
        let by_value = match (x.is_nan(), y.is_nan()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            _ if top => y.partial_cmp(&x).unwrap_or(Ordering::Equal),
            _ => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
        };
        by_value.then(a.1.cmp(&b.1))
    };
    let mut v: Vec<(f64, usize)> = members.iter().map(|s| s.v).zip(0..).collect();
    if k < v.len() {
        v.select_nth_unstable_by(k, order);
        v.truncate(k);
    }
    v.sort_unstable_by(order);
    // The chosen samples' (position, rank) pairs, in position order.
    let mut rank: Vec<(usize, usize)> = v.iter().enumerate().map(|(r, &(_, i))| (i, r)).collect();
    rank.sort_unstable();
    let mut out: Vec<Option<Smp>> = (0..rank.len()).map(|_| None).collect();
    let mut want = rank.iter().peekable();
    for (i, s) in members.into_iter().enumerate() {
        if let Some(&(_, r)) = want.next_if(|&&(j, _)| j == i) {
            out[r] = Some(s);
        }
    }
    out.into_iter()
        .map(|s| s.expect("every chosen position is in the input"))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use proptest::prelude::*;
    use tsdb::labels::Labels;

    use super::first_k;
    use crate::engine::eval::Smp;

    proptest! {
        /// Partial selection gives what a stable sort and a truncation give, ties and
        /// NaNs included.
        #[test]
        fn first_k_is_a_stable_sort_prefix(
            values in prop::collection::vec(prop_oneof![
                4 => (0u8..6).prop_map(f64::from),
                1 => Just(f64::NAN),
                1 => Just(f64::INFINITY),
            ], 0..40),
            k in 1usize..45,
            top in any::<bool>(),
        ) {
            let members: Vec<Smp> = values
                .iter()
                .enumerate()
                .map(|(i, &v)| Smp {
                    labels: Arc::new(Labels::from_pairs(&[("i", i.to_string())])),
                    v,
                    drop_name: false,
                })
                .collect();
            let mut want = members.clone();
            want.sort_by(|a, b| {
                use std::cmp::Ordering;
                match (a.v.is_nan(), b.v.is_nan()) {
                    (true, true) => Ordering::Equal,
                    (true, false) => Ordering::Greater,
                    (false, true) => Ordering::Less,
                    _ if top => b.v.partial_cmp(&a.v).unwrap_or(Ordering::Equal),
                    _ => a.v.partial_cmp(&b.v).unwrap_or(Ordering::Equal),
                }
            });
            want.truncate(k);
            let got = first_k(members, k, top);
            let ids = |v: &[Smp]| v.iter().map(|s| s.labels.to_string()).collect::<Vec<_>>();
            prop_assert_eq!(ids(&got), ids(&want));
        }
    }
}
