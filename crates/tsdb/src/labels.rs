//! Label sets: sorted, unique-named `name="value"` pairs whose strings are interned.
//!
//! [`Symbol`] is a cheaply clonable, reference-counted string. The head interns every
//! label name and value through a [`SymbolTable`], so a value such as `namespace="kube-system"`
//! is stored once however many series carry it. [`Labels`] is a sorted boxed slice of
//! [`Label`]s and orders like Prometheus's `labels.Compare`.

use std::collections::HashSet;
use std::fmt;
use std::hash::{BuildHasher, Hasher};

use parking_lot::Mutex;

pub mod matcher;
mod symbol;

pub use matcher::{MatchType, Matcher};
pub use symbol::Symbol;

/// The name of the label that holds the metric name.
pub const METRIC_NAME: &str = "__name__";

const SYMBOL_SHARDS: usize = 64;

/// A concurrent string interner. Symbols no longer used outside the table are dropped
/// by [`SymbolTable::purge`], which the head calls after garbage-collecting series.
#[derive(Debug)]
pub struct SymbolTable {
    shards: Box<[Mutex<HashSet<Symbol>>]>,
    hasher: std::collections::hash_map::RandomState,
}

impl Default for SymbolTable {
    fn default() -> Self {
        Self::new()
    }
}

impl SymbolTable {
    /// An empty table.
    pub fn new() -> Self {
        Self {
            shards: (0..SYMBOL_SHARDS)
                .map(|_| Mutex::new(HashSet::new()))
                .collect(),
            hasher: Default::default(),
        }
    }

    fn shard(&self, s: &str) -> &Mutex<HashSet<Symbol>> {
        &self.shards[(self.hasher.hash_one(s) as usize) % SYMBOL_SHARDS]
    }

    /// Returns the table's symbol for `s`, adding it if new.
    pub fn intern(&self, s: &str) -> Symbol {
        let mut shard = self.shard(s).lock();
        if let Some(sym) = shard.get(s) {
            return sym.clone();
        }
        let sym = Symbol::new(s);
        shard.insert(sym.clone());
        sym
    }

    /// Returns the table's copy of `sym`, adding `sym` itself if new (no new allocation).
    pub fn intern_symbol(&self, sym: &Symbol) -> Symbol {
        let mut shard = self.shard(sym).lock();
        if let Some(s) = shard.get(sym.as_str()) {
            return s.clone();
        }
        shard.insert(sym.clone());
        sym.clone()
    }

    /// Number of distinct strings held.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().len()).sum()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops the strings nobody else references; returns how many were dropped.
    pub fn purge(&self) -> usize {
        let mut dropped = 0;
        for shard in self.shards.iter() {
            let mut shard = shard.lock();
            let before = shard.len();
            shard.retain(|s| s.ref_count() > 1);
            dropped += before - shard.len();
        }
        dropped
    }
}

/// One `name="value"` pair.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Label {
    /// The label name.
    pub name: Symbol,
    /// The label value; never empty inside a [`Labels`].
    pub value: Symbol,
}

impl Label {
    /// A label from two strings (not interned).
    pub fn new(name: &str, value: &str) -> Self {
        Label {
            name: Symbol::new(name),
            value: Symbol::new(value),
        }
    }
}

impl fmt::Debug for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={:?}", self.name, self.value.as_str())
    }
}

/// A label set sorted by name, with unique names and no empty values.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Labels(Box<[Label]>);

impl Labels {
    /// The empty label set.
    pub fn empty() -> Self {
        Labels(Box::new([]))
    }

    /// Builds a label set: sorts by name, drops empty values, keeps the last of duplicate names.
    pub fn new(mut labels: Vec<Label>) -> Self {
        labels.retain(|l| !l.value.is_empty());
        labels.sort_by(|a, b| a.name.cmp(&b.name));
        // Keep the last occurrence of a repeated name, as a builder's `set` would.
        let mut out: Vec<Label> = Vec::with_capacity(labels.len());
        for l in labels {
            match out.last_mut() {
                Some(last) if last.name == l.name => *last = l,
                _ => out.push(l),
            }
        }
        Labels(out.into_boxed_slice())
    }

    /// Builds a label set from string pairs.
    pub fn from_pairs<N: AsRef<str>, V: AsRef<str>>(pairs: &[(N, V)]) -> Self {
        Labels::new(
            pairs
                .iter()
                .map(|(n, v)| Label::new(n.as_ref(), v.as_ref()))
                .collect(),
        )
    }

    /// Wraps labels the caller guarantees to be sorted by name, unique and non-empty.
    pub fn from_sorted(labels: Vec<Label>) -> Self {
        debug_assert!(labels.windows(2).all(|w| w[0].name < w[1].name));
        Labels(labels.into_boxed_slice())
    }

    /// Whether the set is sorted by name with unique names and non-empty values.
    pub fn is_valid(&self) -> bool {
        self.0.windows(2).all(|w| w[0].name < w[1].name)
            && self.0.iter().all(|l| !l.value.is_empty())
    }

    /// The value of label `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .binary_search_by(|l| l.name.as_str().cmp(name))
            .ok()
            .map(|i| self.0[i].value.as_str())
    }

    /// The value of `__name__`. It sorts before every lower-case name, so it is usually
    /// the first label and found without a search.
    pub fn metric_name(&self) -> Option<&str> {
        match self.0.first() {
            Some(l) if l.name.as_str() == METRIC_NAME => Some(l.value.as_str()),
            _ => self.get(METRIC_NAME),
        }
    }

    /// Whether the set has label `name`.
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The labels in name order.
    pub fn iter(&self) -> std::slice::Iter<'_, Label> {
        self.0.iter()
    }

    /// The labels as a slice.
    pub fn as_slice(&self) -> &[Label] {
        &self.0
    }

    /// Number of labels.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no labels.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// A copy whose strings all come from `table`.
    pub fn interned(&self, table: &SymbolTable) -> Labels {
        Labels(
            self.0
                .iter()
                .map(|l| Label {
                    name: table.intern_symbol(&l.name),
                    value: table.intern_symbol(&l.value),
                })
                .collect(),
        )
    }

    /// The `(name, value)` pairs as borrowed strings.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> + Clone {
        self.0.iter().map(|l| (l.name.as_str(), l.value.as_str()))
    }

    /// A 64-bit hash of the names and values, stable within one process.
    pub fn hash_value(&self) -> u64 {
        hash_pairs(self.pairs())
    }

    /// Whether the set equals the borrowed `(name, value)` pairs, in order.
    pub fn eq_pairs<'a>(&self, pairs: impl Iterator<Item = (&'a str, &'a str)>) -> bool {
        let mut mine = self.0.iter();
        for (n, v) in pairs {
            match mine.next() {
                Some(l) if bytes_eq(l.name.as_str(), n) && bytes_eq(l.value.as_str(), v) => {}
                _ => return false,
            }
        }
        mine.next().is_none()
    }
}

/// `a == b`, with strings of up to 16 bytes (most label names and values) compared by
/// two loads each from both ends (overlapping when shorter) instead of a call to the C
/// library's `bcmp`, whose call and dispatch cost more than the comparison itself.
#[inline]
fn bytes_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let word = |s: &[u8], at: usize| u64::from_le_bytes(s[at..at + 8].try_into().expect("8"));
    let half = |s: &[u8], at: usize| u32::from_le_bytes(s[at..at + 4].try_into().expect("4"));
    match n {
        0 => true,
        1..=3 => a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1],
        4..=7 => half(a, 0) == half(b, 0) && half(a, n - 4) == half(b, n - 4),
        8..=16 => word(a, 0) == word(b, 0) && word(a, n - 8) == word(b, n - 8),
        _ => a == b,
    }
}

/// Whether borrowed `(name, value)` pairs form a valid label set (what
/// [`Labels::is_valid`] checks, plus at least one label): sorted by name, unique names,
/// no empty value.
pub fn pairs_are_valid<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> bool {
    let mut prev: Option<&str> = None;
    let mut any = false;
    for (n, v) in pairs {
        if v.is_empty() || prev.is_some_and(|p| p >= n) {
            return false;
        }
        prev = Some(n);
        any = true;
    }
    any
}

/// The hash [`Labels::hash_value`] gives the same pairs, computed from borrowed strings
/// (lets a writer find an existing series without building its label set).
pub fn hash_pairs<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> u64 {
    let mut h = FxHasher64::default();
    for (n, v) in pairs {
        h.write_str_part(n.as_bytes());
        h.write_str_part(v.as_bytes());
    }
    h.finish()
}

impl PartialOrd for Labels {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Labels {
    /// Prometheus's `labels.Compare`: pairwise by name, then value; a prefix sorts first.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        for (a, b) in self.0.iter().zip(other.0.iter()) {
            // Interned labels share their strings: equal pointers need no byte compare.
            if Symbol::ptr_eq(&a.name, &b.name) && Symbol::ptr_eq(&a.value, &b.value) {
                continue;
            }
            let c = a.name.as_str().cmp(b.name.as_str());
            if c.is_ne() {
                return c;
            }
            let c = a.value.as_str().cmp(b.value.as_str());
            if c.is_ne() {
                return c;
            }
        }
        self.0.len().cmp(&other.0.len())
    }
}

impl<'a> IntoIterator for &'a Labels {
    type Item = &'a Label;
    type IntoIter = std::slice::Iter<'a, Label>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl fmt::Debug for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Labels {
    /// Formats as Prometheus does: `{__name__="up", job="node"}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, l) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{}={:?}", l.name, l.value.as_str())?;
        }
        f.write_str("}")
    }
}

/// A small, fast, non-cryptographic hasher (the Fx hash used by rustc) for label hashing.
#[derive(Debug, Default, Clone, Copy)]
struct FxHasher64 {
    hash: u64,
}

impl FxHasher64 {
    const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;

    #[inline]
    fn add_word(&mut self, w: u64) {
        self.hash = (self.hash.rotate_left(5) ^ w).wrapping_mul(Self::K);
    }

    /// Hashes one string of a label set: its 8-byte words, then the remaining 0 to 7
    /// bytes and the length packed into one last word. The length delimits the string,
    /// so `("ab", "c")` and `("a", "bc")` hash differently (no separator byte needed), and
    /// a label's tail costs one multiply instead of one per byte.
    #[inline]
    fn write_str_part(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add_word(u64::from_le_bytes(c.try_into().expect("chunk of 8")));
        }
        // `rest` has at most 7 bytes, so the top byte is free for the length's low bits.
        let tail = tail_word(chunks.remainder()) | (bytes.len() as u64) << 56;
        self.add_word(tail);
    }
}

/// The 0 to 7 bytes of `rest` as a little-endian word, read with at most two loads
/// (overlapping when fewer than 8 bytes remain). Assembling the word in registers
/// matters: copying the bytes into a stack buffer and loading it as one word stalls on
/// store forwarding, and that stall was most of the hash's cost.
#[inline]
fn tail_word(rest: &[u8]) -> u64 {
    let n = rest.len();
    match n {
        0 => 0,
        1..=3 => {
            u64::from(rest[0])
                | u64::from(rest[n / 2]) << (8 * (n / 2))
                | u64::from(rest[n - 1]) << (8 * (n - 1))
        }
        _ => {
            let lo = u32::from_le_bytes(rest[..4].try_into().expect("4 bytes"));
            let hi = u32::from_le_bytes(rest[n - 4..].try_into().expect("4 bytes"));
            u64::from(lo) | u64::from(hi) << (8 * (n - 4))
        }
    }
}

impl Hasher for FxHasher64 {
    fn write(&mut self, bytes: &[u8]) {
        self.write_str_part(bytes);
    }
    fn finish(&self) -> u64 {
        self.hash
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_name_is_the_name_label_wherever_it_sorts() {
        let l = Labels::from_pairs(&[("__name__", "up"), ("job", "a")]);
        assert_eq!(l.metric_name(), Some("up"));
        let l = Labels::from_pairs(&[("A", "x"), ("__name__", "up")]);
        assert_eq!(l.metric_name(), Some("up"));
        assert_eq!(Labels::from_pairs(&[("job", "a")]).metric_name(), None);
    }

    #[test]
    fn bytes_eq_is_equality() {
        let words = [
            "",
            "a",
            "ab",
            "abc",
            "abcd",
            "abcdefg",
            "abcdefgh",
            "abcdefghijklmnop",
        ];
        let long = "x".repeat(40);
        for a in words.iter().copied().chain([long.as_str()]) {
            for n in 0..a.len() {
                // Every single-byte change at every position is seen.
                let mut b = a.as_bytes().to_vec();
                b[n] = b'Z';
                let b = String::from_utf8(b).expect("ASCII");
                assert!(!bytes_eq(a, &b), "{a:?} {b:?}");
            }
            for b in words.iter().copied().chain([long.as_str()]) {
                assert_eq!(bytes_eq(a, b), a == b, "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn tail_word_is_the_bytes_little_endian() {
        let bytes = [1u8, 2, 3, 4, 5, 6, 7];
        for n in 0..=7 {
            let mut buf = [0u8; 8];
            buf[..n].copy_from_slice(&bytes[..n]);
            assert_eq!(tail_word(&bytes[..n]), u64::from_le_bytes(buf), "{n} bytes");
        }
    }

    #[test]
    fn hash_delimits_strings() {
        let h = |p: &[(&str, &str)]| hash_pairs(p.iter().copied());
        assert_ne!(h(&[("ab", "c")]), h(&[("a", "bc")]));
        assert_ne!(h(&[("a", "")]), h(&[("a", "\0")]));
        assert_ne!(h(&[("abcdefgh", "i")]), h(&[("abcdefghi", "")]));
        assert_eq!(
            h(&[("__name__", "up"), ("job", "node")]),
            Labels::from_pairs(&[("job", "node"), ("__name__", "up")]).hash_value()
        );
    }

    #[test]
    fn new_sorts_dedups_and_drops_empty() {
        let l = Labels::from_pairs(&[("b", "2"), ("a", "1"), ("c", ""), ("a", "3")]);
        assert_eq!(l.to_string(), r#"{a="3", b="2"}"#);
        assert!(l.is_valid());
        assert_eq!(l.get("b"), Some("2"));
        assert_eq!(l.get("c"), None);
    }

    #[test]
    fn compare_like_prometheus() {
        let a = Labels::from_pairs(&[("a", "1")]);
        let ab = Labels::from_pairs(&[("a", "1"), ("b", "1")]);
        let b = Labels::from_pairs(&[("b", "0")]);
        assert!(a < ab);
        assert!(ab < b);
    }

    #[test]
    fn interning_shares_and_purges() {
        let t = SymbolTable::new();
        let l1 = Labels::from_pairs(&[("job", "node")]).interned(&t);
        let l2 = Labels::from_pairs(&[("job", "node")]).interned(&t);
        assert!(Symbol::ptr_eq(&l1.0[0].value, &l2.0[0].value));
        assert_eq!(t.len(), 2);
        drop(l1);
        assert_eq!(t.purge(), 0);
        drop(l2);
        assert_eq!(t.purge(), 2);
        assert!(t.is_empty());
    }
}
