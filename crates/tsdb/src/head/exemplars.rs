//! Exemplar storage: a bounded circular buffer shared by all series (Prometheus's
//! `CircularExemplarStorage`, default capacity 100,000), fed by [`super::HeadAppender`]
//! in the same WAL batch as the samples and rebuilt by WAL replay.
//!
//! Per series, an exemplar older than the series' newest stored exemplar is out of order
//! (refused and counted); one equal to the newest (timestamp, value and labels) is a
//! duplicate and ignored. Exemplars at the newest timestamp with another value or labels
//! are accepted (native histograms carry several per scrape). Once the ring is full each
//! new exemplar evicts the oldest.

use std::collections::{BTreeMap, HashMap};

use parking_lot::Mutex;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::error::{AppendError, Result};
use crate::head::Head;
use crate::labels::{Labels, Matcher};
use crate::record::HeadSeriesRef;

/// Prometheus's `exemplar.ExemplarMaxLabelSetLength`: the most UTF-8 characters the
/// names and values of one exemplar's labels may have together.
pub const MAX_EXEMPLAR_LABELS_CHARS: usize = 128;

/// One stored exemplar.
#[derive(Debug, Clone, PartialEq)]
pub struct Exemplar {
    /// The exemplar's own labels (trace id, ...).
    pub labels: Labels,
    /// The value.
    pub v: f64,
    /// Milliseconds since the epoch.
    pub t: i64,
}

/// The exemplars of one series, as returned by [`Head::select_exemplars`].
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesExemplars {
    /// The series' labels.
    pub series_labels: Labels,
    /// Its exemplars in the queried range, oldest first.
    pub exemplars: Vec<Exemplar>,
}

/// Exemplar metrics, named like Prometheus's.
#[derive(Debug, Clone, Default)]
pub struct ExemplarMetrics {
    /// `prometheus_tsdb_exemplar_exemplars_appended_total`.
    pub appended: Counter,
    /// `prometheus_tsdb_exemplar_out_of_order_exemplars_total`.
    pub out_of_order: Counter,
    /// `prometheus_tsdb_exemplar_exemplars_in_storage`.
    pub in_storage: Gauge,
    /// `prometheus_tsdb_exemplar_series_with_exemplars_in_storage`.
    pub series: Gauge,
    /// `prometheus_tsdb_exemplar_max_exemplars`.
    pub max: Gauge,
}

impl ExemplarMetrics {
    /// Creates the metrics and registers them into `r`.
    pub fn register(r: &mut Registry) -> Self {
        let m = Self::default();
        r.register(
            "prometheus_tsdb_exemplar_exemplars_appended",
            "Total number of appended exemplars",
            m.appended.clone(),
        );
        r.register(
            "prometheus_tsdb_exemplar_out_of_order_exemplars",
            "Total number of out of order exemplar ingestion failed attempts",
            m.out_of_order.clone(),
        );
        r.register(
            "prometheus_tsdb_exemplar_exemplars_in_storage",
            "Number of exemplars currently in circular storage",
            m.in_storage.clone(),
        );
        r.register(
            "prometheus_tsdb_exemplar_series_with_exemplars_in_storage",
            "Number of series with exemplars currently in circular storage",
            m.series.clone(),
        );
        r.register(
            "prometheus_tsdb_exemplar_max_exemplars",
            "Total number of exemplars the exemplar storage can store, resizeable",
            m.max.clone(),
        );
        m
    }
}

#[derive(Debug)]
struct Entry {
    series_ref: HeadSeriesRef,
    e: Exemplar,
}

#[derive(Debug)]
struct SeriesIndex {
    count: usize,
    newest: Exemplar,
}

#[derive(Debug, Default)]
struct Ring {
    buf: Vec<Entry>,
    /// Where the next exemplar goes once `buf` is full.
    next: usize,
    series: HashMap<HeadSeriesRef, SeriesIndex>,
}

/// The head's exemplar ring.
#[derive(Debug)]
pub struct ExemplarStorage {
    capacity: usize,
    ring: Mutex<Ring>,
    metrics: ExemplarMetrics,
}

/// How an exemplar compares with the newest one of its series.
fn classify(newest: Option<&Exemplar>, e: &Exemplar) -> Result<bool, AppendError> {
    match newest {
        Some(n) if n.t == e.t && n.v.to_bits() == e.v.to_bits() && n.labels == e.labels => {
            Ok(false)
        }
        Some(n) if e.t < n.t => Err(AppendError::OutOfOrderExemplar),
        _ => Ok(true),
    }
}

impl ExemplarStorage {
    pub(crate) fn new(capacity: usize, metrics: ExemplarMetrics) -> Self {
        metrics.max.set(capacity as i64);
        ExemplarStorage {
            capacity,
            ring: Mutex::new(Ring::default()),
            metrics,
        }
    }

    /// Whether exemplars are stored at all (capacity above 0).
    pub fn enabled(&self) -> bool {
        self.capacity > 0
    }

    /// The metrics.
    pub fn metrics(&self) -> &ExemplarMetrics {
        &self.metrics
    }

    /// Checks `e` for series `r` against the stored exemplars and `pending` (the newest
    /// exemplar of the series already in the caller's batch). `Ok(false)` is a duplicate.
    pub(crate) fn validate(
        &self,
        r: HeadSeriesRef,
        e: &Exemplar,
        pending: Option<&Exemplar>,
    ) -> Result<bool, AppendError> {
        let chars: usize = e
            .labels
            .iter()
            .map(|l| l.name.chars().count() + l.value.chars().count())
            .sum();
        if chars > MAX_EXEMPLAR_LABELS_CHARS {
            return Err(AppendError::ExemplarLabelsTooLong);
        }
        let res = match pending {
            Some(p) => classify(Some(p), e),
            None => classify(self.ring.lock().series.get(&r).map(|s| &s.newest), e),
        };
        if res == Err(AppendError::OutOfOrderExemplar) {
            self.metrics.out_of_order.inc();
        }
        res
    }

    /// Stores `e` for series `r` unless it is out of order or a duplicate by now.
    pub(crate) fn add(&self, r: HeadSeriesRef, e: Exemplar) {
        if self.capacity == 0 {
            return;
        }
        let mut ring = self.ring.lock();
        if classify(ring.series.get(&r).map(|s| &s.newest), &e) != Ok(true) {
            return;
        }
        let newest = e.clone();
        let entry = Entry { series_ref: r, e };
        if ring.buf.len() < self.capacity {
            ring.buf.push(entry);
        } else {
            let at = ring.next;
            let old = std::mem::replace(&mut ring.buf[at], entry);
            ring.next = (at + 1) % self.capacity;
            if let Some(s) = ring.series.get_mut(&old.series_ref) {
                s.count -= 1;
                if s.count == 0 {
                    ring.series.remove(&old.series_ref);
                }
            }
        }
        ring.series
            .entry(r)
            .and_modify(|s| {
                s.count += 1;
                s.newest = newest.clone();
            })
            .or_insert(SeriesIndex { count: 1, newest });
        self.metrics.appended.inc();
        self.metrics.in_storage.set(ring.buf.len() as i64);
        self.metrics.series.set(ring.series.len() as i64);
    }

    /// Every stored exemplar of the series in `refs` with `mint <= t <= maxt`, grouped by
    /// series ref, oldest first.
    fn collect(
        &self,
        mint: i64,
        maxt: i64,
        keep: impl Fn(HeadSeriesRef) -> bool,
    ) -> BTreeMap<HeadSeriesRef, Vec<Exemplar>> {
        let ring = self.ring.lock();
        let mut out: BTreeMap<HeadSeriesRef, Vec<Exemplar>> = BTreeMap::new();
        let n = ring.buf.len();
        let start = if n < self.capacity { 0 } else { ring.next };
        for i in 0..n {
            let en = &ring.buf[(start + i) % n];
            if en.e.t >= mint && en.e.t <= maxt && keep(en.series_ref) {
                out.entry(en.series_ref).or_default().push(en.e.clone());
            }
        }
        out
    }
}

impl Head {
    /// The exemplar storage.
    pub fn exemplars(&self) -> &ExemplarStorage {
        &self.exemplars
    }

    /// Exemplars with `mint <= t <= maxt` of the series matching any of `matcher_sets`
    /// (each set is ANDed, the sets are ORed), sorted by series labels.
    pub fn select_exemplars(
        &self,
        mint: i64,
        maxt: i64,
        matcher_sets: &[Vec<Matcher>],
    ) -> Result<Vec<SeriesExemplars>> {
        let mut ids = roaring::RoaringBitmap::new();
        for set in matcher_sets {
            ids |= self.postings.postings_for_matchers(set)?;
        }
        let found = self.exemplars.collect(mint, maxt, |r| {
            u32::try_from(r).is_ok_and(|id| ids.contains(id))
        });
        let mut out: Vec<SeriesExemplars> = found
            .into_iter()
            .filter_map(|(r, exemplars)| {
                let s = self.series.get_by_ref(r)?;
                Some(SeriesExemplars {
                    series_labels: s.labels.clone(),
                    exemplars,
                })
            })
            .collect();
        out.sort_by(|a, b| a.series_labels.cmp(&b.series_labels));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(t: i64, v: f64, trace: &str) -> Exemplar {
        Exemplar {
            labels: Labels::from_pairs(&[("trace_id", trace)]),
            v,
            t,
        }
    }

    #[test]
    fn ring_evicts_oldest_and_tracks_series() {
        let s = ExemplarStorage::new(3, ExemplarMetrics::default());
        for (i, r) in [1u64, 2, 1, 2].into_iter().enumerate() {
            s.add(r, ex(i as i64 * 10, i as f64, "a"));
        }
        let all = s.collect(i64::MIN, i64::MAX, |_| true);
        assert_eq!(all[&1].iter().map(|e| e.t).collect::<Vec<_>>(), vec![20]);
        assert_eq!(
            all[&2].iter().map(|e| e.t).collect::<Vec<_>>(),
            vec![10, 30]
        );
        assert_eq!(s.metrics.in_storage.get(), 3);
        // Series 1's newest survives eviction of its older exemplar.
        assert_eq!(
            s.validate(1, &ex(15, 0.0, "b"), None),
            Err(AppendError::OutOfOrderExemplar)
        );
        assert_eq!(s.metrics.out_of_order.get(), 1);
    }

    #[test]
    fn duplicates_are_ignored_and_equal_timestamps_accepted() {
        let s = ExemplarStorage::new(10, ExemplarMetrics::default());
        s.add(1, ex(10, 1.0, "a"));
        assert_eq!(s.validate(1, &ex(10, 1.0, "a"), None), Ok(false));
        assert_eq!(s.validate(1, &ex(10, 2.0, "b"), None), Ok(true));
        s.add(1, ex(10, 1.0, "a"));
        assert_eq!(s.metrics.appended.get(), 1);
        let long = "x".repeat(MAX_EXEMPLAR_LABELS_CHARS);
        assert_eq!(
            s.validate(1, &ex(11, 1.0, &long), None),
            Err(AppendError::ExemplarLabelsTooLong)
        );
    }
}
