//! Metric metadata for `/api/v1/metadata`: per-series metadata (from RW2, logged in WAL
//! Metadata records and kept in `Head::metadata`) and metric-family metadata (from RW1's
//! `WriteRequest.metadata`), which lives in memory only: Prometheus re-sends it every
//! `metadata_config.send_interval` (1 minute by default), so after a restart it is back
//! within a minute, and RW1 has no series to attach it to in a WAL Metadata record.

use std::collections::{BTreeMap, HashMap};

use crate::head::Head;
use crate::record::MetricType;

/// At most this many distinct `{type, help, unit}` entries are kept per family (several
/// targets may describe one metric differently); the oldest goes first.
const MAX_ENTRIES_PER_FAMILY: usize = 8;

/// One metadata entry, shaped like an element of Prometheus's `/api/v1/metadata` lists.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MetadataEntry {
    /// The metric type.
    pub metric_type: MetricType,
    /// Help text.
    pub help: String,
    /// Unit.
    pub unit: String,
}

/// The name Prometheus gives a metric type in its API (`model.MetricType`).
pub fn metric_type_name(t: MetricType) -> &'static str {
    match t {
        MetricType::Counter => "counter",
        MetricType::Gauge => "gauge",
        MetricType::Histogram => "histogram",
        MetricType::GaugeHistogram => "gaugehistogram",
        MetricType::Summary => "summary",
        MetricType::Info => "info",
        MetricType::StateSet => "stateset",
        _ => "unknown",
    }
}

/// Metric-family metadata received without series (RW1), in memory only.
#[derive(Debug, Default)]
pub struct FamilyMetadata {
    families: parking_lot::RwLock<HashMap<String, Vec<MetadataEntry>>>,
}

impl FamilyMetadata {
    /// Records `entry` for `family` (moving it to the newest place if already known).
    pub fn set(&self, family: &str, entry: MetadataEntry) {
        if family.is_empty() {
            return;
        }
        {
            let map = self.families.read();
            if map.get(family).and_then(|v| v.last()) == Some(&entry) {
                return;
            }
        }
        let mut map = self.families.write();
        let list = map.entry(family.to_owned()).or_default();
        list.retain(|e| *e != entry);
        if list.len() >= MAX_ENTRIES_PER_FAMILY {
            list.remove(0);
        }
        list.push(entry);
    }
}

impl Head {
    /// The metric-family metadata store (RW1).
    pub fn family_metadata(&self) -> &FamilyMetadata {
        &self.families
    }

    /// Metadata by metric name, as `/api/v1/metadata` serves it: RW1 family metadata and
    /// RW2 per-series metadata (keyed by the series' metric name), distinct entries per
    /// metric. `metric` restricts to one name; `limit` caps the number of metrics and
    /// `limit_per_metric` the entries per metric (`None` = no limit).
    pub fn metadata_by_metric(
        &self,
        metric: Option<&str>,
        limit: Option<usize>,
        limit_per_metric: Option<usize>,
    ) -> BTreeMap<String, Vec<MetadataEntry>> {
        let mut out: BTreeMap<String, Vec<MetadataEntry>> = BTreeMap::new();
        for (name, list) in self.families.families.read().iter() {
            if metric.is_none_or(|m| m == name) {
                out.entry(name.clone())
                    .or_default()
                    .extend(list.iter().cloned());
            }
        }
        for (r, m) in self.metadata.read().iter() {
            let Some(s) = self.series.get_by_ref(*r) else {
                continue;
            };
            let Some(name) = s.labels.metric_name() else {
                continue;
            };
            if metric.is_some_and(|want| want != name) {
                continue;
            }
            out.entry(name.to_owned()).or_default().push(MetadataEntry {
                metric_type: m.metric_type,
                help: m.help.clone(),
                unit: m.unit.clone(),
            });
        }
        for list in out.values_mut() {
            let mut seen = std::collections::HashSet::new();
            list.retain(|e| seen.insert(e.clone()));
            if let Some(n) = limit_per_metric {
                list.truncate(n);
            }
        }
        if let Some(n) = limit {
            while out.len() > n {
                out.pop_last();
            }
        }
        out
    }
}
