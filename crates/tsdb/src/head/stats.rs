//! Cardinality statistics of the head, for the API's `/api/v1/status/tsdb`
//! (Prometheus's `Head.Stats` and `MemPostings.Stats`).
//!
//! Every list is the top `limit` entries by count, ties broken by name so that the answer
//! is deterministic (Prometheus leaves the order of ties to Go's map iteration).

use crate::head::Head;
use crate::index::postings::IndexReader;

/// One entry of a cardinality list: a name and a count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stat {
    /// A metric name, label name or `name=value` pair.
    pub name: String,
    /// Series, values or bytes, depending on the list.
    pub count: u64,
}

/// The head's size and cardinality.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HeadStats {
    /// Series in the head.
    pub num_series: u64,
    /// Distinct `name=value` pairs in the postings index.
    pub num_label_pairs: u64,
    /// Chunks in memory, open ones included.
    pub chunk_count: i64,
    /// Oldest sample (`i64::MAX` when empty).
    pub min_time: i64,
    /// Newest sample (`i64::MIN` when empty).
    pub max_time: i64,
    /// Series per value of the label the stats were asked for (normally `__name__`).
    pub series_count_by_metric_name: Vec<Stat>,
    /// Distinct values per label name.
    pub label_value_count_by_label_name: Vec<Stat>,
    /// Approximate bytes the label's name/value pairs take over all series
    /// (Prometheus's `labels.SizeOfLabels`: both strings with their uvarint lengths).
    pub memory_in_bytes_by_label_name: Vec<Stat>,
    /// Series per `name=value` pair.
    pub series_count_by_label_value_pair: Vec<Stat>,
}

/// Bytes of a uvarint encoding `x`.
fn uvarint_len(x: usize) -> u64 {
    let mut n = 1;
    let mut x = x >> 7;
    while x > 0 {
        n += 1;
        x >>= 7;
    }
    n
}

/// Keeps the `limit` largest entries, sorted by count (descending), then name.
fn top(mut v: Vec<Stat>, limit: usize) -> Vec<Stat> {
    v.sort_unstable_by(|a, b| b.count.cmp(&a.count).then_with(|| a.name.cmp(&b.name)));
    v.truncate(limit);
    v
}

impl Head {
    /// Size and cardinality of the head; `by_label` names the label whose values make
    /// `series_count_by_metric_name` (Prometheus passes `__name__`), and every list keeps
    /// its `limit` largest entries.
    pub fn stats(&self, by_label: &str, limit: usize) -> HeadStats {
        let (mut metrics, mut labels, mut bytes, mut pairs) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut num_label_pairs = 0u64;
        {
            let reader = self.postings.reader();
            let names = reader.label_names().unwrap_or_default();
            for name in names.iter().filter(|n| !n.is_empty()) {
                let mut values = 0u64;
                let mut size = 0u64;
                for (value, ids) in reader.values(name) {
                    let series = ids.len();
                    values += 1;
                    if name.as_str() == by_label {
                        metrics.push(Stat {
                            name: value.to_string(),
                            count: series,
                        });
                    }
                    pairs.push(Stat {
                        name: format!("{name}={value}"),
                        count: series,
                    });
                    let label_size = name.len() as u64
                        + uvarint_len(name.len())
                        + value.len() as u64
                        + uvarint_len(value.len());
                    size += label_size * series;
                }
                num_label_pairs += values;
                labels.push(Stat {
                    name: name.to_string(),
                    count: values,
                });
                bytes.push(Stat {
                    name: name.to_string(),
                    count: size,
                });
            }
        }
        HeadStats {
            num_series: self.num_series(),
            num_label_pairs,
            chunk_count: self.metrics.chunks.get(),
            min_time: self.min_time(),
            max_time: self.max_time(),
            series_count_by_metric_name: top(metrics, limit),
            label_value_count_by_label_name: top(labels, limit),
            memory_in_bytes_by_label_name: top(bytes, limit),
            series_count_by_label_value_pair: top(pairs, limit),
        }
    }
}

#[cfg(test)]
mod tests {
    use prometheus_client::registry::Registry;

    use crate::head::Head;
    use crate::labels::Labels;
    use crate::options::Options;

    #[test]
    fn counts_series_values_pairs_and_bytes() {
        let opts = Options {
            wal_enabled: false,
            ..Default::default()
        };
        let head = Head::new(&opts, &mut Registry::default()).expect("head");
        let mut app = head.appender();
        for (name, job, inst) in [("up", "a", "1"), ("up", "a", "2"), ("x", "b", "1")] {
            let l = Labels::from_pairs(&[("__name__", name), ("job", job), ("instance", inst)]);
            app.add(0, &l, 1000, 1.0).expect("add");
        }
        app.commit_batch().expect("commit");

        let s = head.stats("__name__", 10);
        assert_eq!(s.num_series, 3);
        // __name__: up, x; instance: 1, 2; job: a, b.
        assert_eq!(s.num_label_pairs, 6);
        assert_eq!(s.chunk_count, 3);
        assert_eq!((s.min_time, s.max_time), (1000, 1000));
        let pairs = |v: &[super::Stat]| -> Vec<(String, u64)> {
            v.iter().map(|s| (s.name.clone(), s.count)).collect()
        };
        assert_eq!(
            pairs(&s.series_count_by_metric_name),
            [("up".to_string(), 2), ("x".to_string(), 1)]
        );
        assert_eq!(
            pairs(&s.label_value_count_by_label_name),
            [
                ("__name__".to_string(), 2),
                ("instance".to_string(), 2),
                ("job".to_string(), 2)
            ]
        );
        // job: "job"+"a" twice = (1+3+1+1)*2 = 12, "job"+"b" once = 6.
        let job_bytes = s
            .memory_in_bytes_by_label_name
            .iter()
            .find(|s| s.name == "job")
            .expect("job");
        assert_eq!(job_bytes.count, 18);
        assert_eq!(s.series_count_by_label_value_pair[0].count, 2);
        assert_eq!(
            head.stats("__name__", 1)
                .series_count_by_label_value_pair
                .len(),
            1
        );
        // Ties are broken by name: every 2-series pair precedes every 1-series pair.
        assert_eq!(
            pairs(&s.series_count_by_label_value_pair[..3]),
            [
                ("__name__=up".to_string(), 2),
                ("instance=1".to_string(), 2),
                ("job=a".to_string(), 2)
            ]
        );
    }
}
