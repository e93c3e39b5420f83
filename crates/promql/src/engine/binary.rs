//! Binary operators: arithmetic, comparison and set operators over scalars and vectors,
//! with `on`/`ignoring` and `group_left`/`group_right` matching.

use std::cell::RefCell;
use std::sync::Arc;

use promql_parser::parser::token::{
    T_ADD, T_ATAN2, T_DIV, T_EQLC, T_GTE, T_GTR, T_LAND, T_LOR, T_LSS, T_LTE, T_LUNLESS, T_MOD,
    T_MUL, T_NEQ, T_POW, T_SUB, TokenType,
};
use promql_parser::parser::{BinaryExpr, LabelModifier, VectorMatchCardinality};
use tsdb::labels::{Label, Labels};

use crate::engine::eval::{Evaluator, NameDropper, Smp, Val, is_comparison};
use crate::engine::hash::{FastMap, FastSet, labels_hash, xxhash64};
use crate::error::{Error, Result};

/// Applies `op` to two floats: the value and whether to keep it (comparisons).
pub(crate) fn apply_op(op: TokenType, l: f64, r: f64) -> Result<(f64, bool)> {
    Ok(match op.id() {
        T_ADD => (l + r, true),
        T_SUB => (l - r, true),
        T_MUL => (l * r, true),
        T_DIV => (l / r, true),
        T_POW => (l.powf(r), true),
        T_MOD => (l % r, true),
        T_ATAN2 => (l.atan2(r), true),
        T_EQLC => (l, l == r),
        T_NEQ => (l, l != r),
        T_GTR => (l, l > r),
        T_LSS => (l, l < r),
        T_GTE => (l, l >= r),
        T_LTE => (l, l <= r),
        _ => {
            return Err(Error::Execution(format!(
                "operator {op} not allowed for this operand types"
            )));
        }
    })
}

/// Whether `op` drops the metric name (arithmetic operators).
fn drops_name(op: TokenType) -> bool {
    !is_comparison(op)
}

/// How vectors are matched: the signature labels.
struct Matching<'m> {
    on: bool,
    names: &'m [String],
    /// Per-node caches by the labels' `Arc` addresses (the `Arc`s are kept, so an
    /// address is not reused): the same series meet at every step.
    cache: RefCell<MatchCache>,
}

/// Signatures and result labels already computed for this node.
#[derive(Debug, Default)]
struct MatchCache {
    /// Labels address → (labels, signature hash).
    sigs: FastMap<usize, (Arc<Labels>, u64)>,
    /// (many-side, one-side) addresses → (both inputs, result labels, their hash).
    metrics: FastMap<(usize, usize), MetricEntry>,
}

/// A cached result label set of a vector-vector operation.
#[derive(Debug)]
struct MetricEntry {
    _inputs: (Arc<Labels>, Arc<Labels>),
    metric: Arc<Labels>,
    hash: u64,
}

impl Matching<'_> {
    /// Whether label `n` takes part in the signature.
    fn includes(&self, n: &str) -> bool {
        if self.on {
            self.names.iter().any(|k| k == n)
        } else {
            n != "__name__" && !self.names.iter().any(|k| k == n)
        }
    }

    /// The labels that identify a match group.
    fn signature(&self, l: &Labels) -> Labels {
        Labels::from_sorted(
            l.iter()
                .filter(|x| self.includes(x.name.as_str()))
                .cloned()
                .collect(),
        )
    }

    /// The hash of the signature labels (Prometheus matches by this hash too).
    fn sig(&self, l: &Arc<Labels>, buf: &mut Vec<u8>) -> u64 {
        let addr = Arc::as_ptr(l) as usize;
        if let Some((_, h)) = self.cache.borrow().sigs.get(&addr) {
            return *h;
        }
        let h = self.sig_uncached(l, buf);
        self.cache
            .borrow_mut()
            .sigs
            .insert(addr, (Arc::clone(l), h));
        h
    }

    fn sig_uncached(&self, l: &Labels, buf: &mut Vec<u8>) -> u64 {
        buf.clear();
        for x in l.iter() {
            if self.includes(x.name.as_str()) {
                buf.extend_from_slice(x.name.as_bytes());
                buf.push(0xff);
                buf.extend_from_slice(x.value.as_bytes());
                buf.push(0xff);
            }
        }
        xxhash64(buf)
    }
}

impl Evaluator<'_> {
    pub(crate) fn eval_binary(&mut self, b: &BinaryExpr) -> Result<Val> {
        let lhs = self.eval(&b.lhs)?;
        let rhs = self.eval(&b.rhs)?;
        let return_bool = b.return_bool();
        let op = b.op;
        let delayed = self.opts.delayed_name_removal;
        match (lhs, rhs) {
            (Val::Scalar(l), Val::Scalar(r)) => {
                let mut out = Vec::with_capacity(l.len());
                for (a, c) in l.into_iter().zip(r) {
                    let (v, keep) = apply_op(op, a, c)?;
                    out.push(if is_comparison(op) {
                        if keep { 1.0 } else { 0.0 }
                    } else {
                        v
                    });
                }
                Ok(Val::Scalar(out))
            }
            (Val::Vector(l), Val::Scalar(r)) => {
                self.vector_scalar(op, l, &r, false, return_bool, delayed)
            }
            (Val::Scalar(l), Val::Vector(r)) => {
                self.vector_scalar(op, r, &l, true, return_bool, delayed)
            }
            (Val::Vector(l), Val::Vector(r)) => {
                let empty: &[String] = &[];
                let (on, names) = match b.modifier.as_ref().and_then(|m| m.matching.as_ref()) {
                    Some(LabelModifier::Include(ls)) => (true, ls.labels.as_slice()),
                    Some(LabelModifier::Exclude(ls)) => (false, ls.labels.as_slice()),
                    None => (false, empty),
                };
                let matching = Matching {
                    on,
                    names,
                    cache: RefCell::default(),
                };
                let card = b
                    .modifier
                    .as_ref()
                    .map(|m| m.card.clone())
                    .unwrap_or(VectorMatchCardinality::OneToOne);
                let mut out = Vec::with_capacity(l.len());
                for (i, (lv, rv)) in l.into_iter().zip(r).enumerate() {
                    if i % 64 == 0 {
                        self.check("expression evaluation")?;
                    }
                    let v = match op.id() {
                        T_LAND => set_and(lv, &rv, &matching),
                        T_LOR => set_or(lv, rv, &matching),
                        T_LUNLESS => set_unless(lv, &rv, &matching),
                        _ => {
                            let v =
                                vector_binop(op, lv, rv, &matching, &card, return_bool, delayed)?;
                            Evaluator::check_duplicates(&v)?;
                            v
                        }
                    };
                    out.push(v);
                }
                Ok(Val::Vector(out))
            }
            _ => Err(Error::Execution(format!(
                "binary expression must contain only scalar and instant vector types, got {op}"
            ))),
        }
    }

    fn vector_scalar(
        &mut self,
        op: TokenType,
        v: Vec<Vec<Smp>>,
        s: &[f64],
        swap: bool,
        return_bool: bool,
        delayed: bool,
    ) -> Result<Val> {
        let drop = drops_name(op) || return_bool;
        let mut names = NameDropper::default();
        let mut out = Vec::with_capacity(v.len());
        for (i, vec) in v.into_iter().enumerate() {
            let sv = s.get(i).copied().unwrap_or(f64::NAN);
            let mut res = Vec::with_capacity(vec.len());
            for mut smp in vec {
                let (l, r) = if swap { (sv, smp.v) } else { (smp.v, sv) };
                let (mut val, mut keep) = apply_op(op, l, r)?;
                if is_comparison(op) && swap {
                    val = r;
                }
                if return_bool {
                    val = if keep { 1.0 } else { 0.0 };
                    keep = true;
                }
                if !keep {
                    continue;
                }
                smp.v = val;
                if drop {
                    if delayed {
                        smp.drop_name = true;
                    } else {
                        smp.labels = names.drop_name(&smp.labels);
                    }
                }
                res.push(smp);
            }
            if drop && !delayed {
                Evaluator::check_duplicates(&res)?;
            }
            out.push(res);
        }
        Ok(Val::Vector(out))
    }
}

fn set_and(l: Vec<Smp>, r: &[Smp], m: &Matching<'_>) -> Vec<Smp> {
    let mut buf = Vec::new();
    let sigs: FastSet<u64> = r.iter().map(|s| m.sig(&s.labels, &mut buf)).collect();
    l.into_iter()
        .filter(|s| sigs.contains(&m.sig(&s.labels, &mut buf)))
        .collect()
}

fn set_unless(l: Vec<Smp>, r: &[Smp], m: &Matching<'_>) -> Vec<Smp> {
    let mut buf = Vec::new();
    let sigs: FastSet<u64> = r.iter().map(|s| m.sig(&s.labels, &mut buf)).collect();
    l.into_iter()
        .filter(|s| !sigs.contains(&m.sig(&s.labels, &mut buf)))
        .collect()
}

fn set_or(mut l: Vec<Smp>, r: Vec<Smp>, m: &Matching<'_>) -> Vec<Smp> {
    let mut buf = Vec::new();
    let sigs: FastSet<u64> = l.iter().map(|s| m.sig(&s.labels, &mut buf)).collect();
    for s in r {
        if !sigs.contains(&m.sig(&s.labels, &mut buf)) {
            l.push(s);
        }
    }
    l
}

fn vector_binop(
    op: TokenType,
    lhs: Vec<Smp>,
    rhs: Vec<Smp>,
    m: &Matching<'_>,
    card: &VectorMatchCardinality,
    return_bool: bool,
    delayed: bool,
) -> Result<Vec<Smp>> {
    if lhs.is_empty() || rhs.is_empty() {
        return Ok(Vec::new());
    }
    let (one_to_many, include): (bool, &[String]) = match card {
        VectorMatchCardinality::OneToMany(ls) => (true, ls.labels.as_slice()),
        VectorMatchCardinality::ManyToOne(ls) => (false, ls.labels.as_slice()),
        _ => (false, &[]),
    };
    let one_to_one = matches!(card, VectorMatchCardinality::OneToOne);
    let (many, one) = if one_to_many { (rhs, lhs) } else { (lhs, rhs) };
    let one_side = if one_to_many { "left" } else { "right" };
    let mut buf = Vec::new();
    let mut one_sigs: FastMap<u64, usize> =
        FastMap::with_capacity_and_hasher(one.len(), Default::default());
    for (i, s) in one.iter().enumerate() {
        let sig = m.sig(&s.labels, &mut buf);
        if let Some(&j) = one_sigs.get(&sig) {
            let matched = match_labels(&s.labels, m);
            return Err(Error::Execution(format!(
                "found duplicate series for the match group {} on the {} hand-side of the operation: [{}, {}];many-to-many matching not allowed: matching labels must be unique on one side",
                matched, one_side, s.labels, one[j].labels
            )));
        }
        one_sigs.insert(sig, i);
    }
    let drop = drops_name(op) || return_bool;
    let mut matched_sigs: FastMap<u64, FastSet<u64>> = FastMap::default();
    let mut out = Vec::with_capacity(many.len());
    for ls in many {
        let sig = m.sig(&ls.labels, &mut buf);
        let Some(&ri) = one_sigs.get(&sig) else {
            continue;
        };
        let rs = &one[ri];
        let (fl, fr) = if one_to_many {
            (rs.v, ls.v)
        } else {
            (ls.v, rs.v)
        };
        let (mut val, keep) = apply_op(op, fl, fr)?;
        if return_bool {
            val = if keep { 1.0 } else { 0.0 };
        } else if !keep {
            continue;
        }
        let key = (
            Arc::as_ptr(&ls.labels) as usize,
            Arc::as_ptr(&rs.labels) as usize,
        );
        let cached = m
            .cache
            .borrow()
            .metrics
            .get(&key)
            .map(|e| (Arc::clone(&e.metric), e.hash));
        let (metric, metric_hash) = match cached {
            Some(c) => c,
            None => {
                let metric = Arc::new(result_metric(
                    &ls.labels,
                    &rs.labels,
                    drop && !delayed,
                    m,
                    one_to_one,
                    include,
                ));
                let hash = labels_hash(&metric);
                m.cache.borrow_mut().metrics.insert(
                    key,
                    MetricEntry {
                        _inputs: (Arc::clone(&ls.labels), Arc::clone(&rs.labels)),
                        metric: Arc::clone(&metric),
                        hash,
                    },
                );
                (metric, hash)
            }
        };
        match matched_sigs.get_mut(&sig) {
            Some(inserted) => {
                if one_to_one {
                    return Err(Error::Execution(
                        "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)".into(),
                    ));
                }
                if !inserted.insert(metric_hash) {
                    return Err(Error::Execution(
                        "multiple matches for labels: grouping labels must ensure unique matches"
                            .into(),
                    ));
                }
            }
            None => {
                let mut set = FastSet::default();
                if !one_to_one {
                    set.insert(metric_hash);
                }
                matched_sigs.insert(sig, set);
            }
        }
        out.push(Smp {
            labels: metric,
            v: val,
            drop_name: (drop && delayed) || ls.drop_name,
        });
    }
    Ok(out)
}

/// The labels a match group is identified by, for error messages.
fn match_labels(l: &Labels, m: &Matching<'_>) -> Labels {
    m.signature(l)
}

fn result_metric(
    lhs: &Labels,
    rhs: &Labels,
    drop_name: bool,
    m: &Matching<'_>,
    one_to_one: bool,
    include: &[String],
) -> Labels {
    let mut v: Vec<Label> = lhs
        .iter()
        .filter(|x| {
            let n = x.name.as_str();
            if drop_name && (n == "__name__" || n == "__type__" || n == "__unit__") {
                return false;
            }
            if one_to_one {
                let listed = m.names.iter().any(|k| k == n);
                if m.on { listed } else { !listed }
            } else {
                true
            }
        })
        .cloned()
        .collect();
    if include.is_empty() {
        return Labels::from_sorted(v);
    }
    for n in include {
        v.retain(|x| x.name.as_str() != n);
        if let Some(val) = rhs.get(n) {
            v.push(Label::new(n, val));
        }
    }
    Labels::new(v)
}
