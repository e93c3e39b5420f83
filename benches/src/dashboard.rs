//! The dashboard query set of the side-by-side query benches, and the statistics they
//! report.
//!
//! The set is what a Kubernetes service dashboard (RED metrics, a latency histogram, top
//! pods, memory gauges) and its SLO panels send. `promql_vs_prometheus` runs it over two
//! hours in the head, `blocks_vs_prometheus` over a day of blocks; their data sets name the
//! histogram and the pods differently, so those two names are parameters ([`Names`]).

/// One query of the set: a range query at `step` ms when `step > 0`, else an instant query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// The PromQL expression.
    pub expr: String,
    /// Range step in ms; 0 for an instant query.
    pub step: i64,
}

/// The names in the query set that depend on the data set.
#[derive(Debug, Clone, Copy)]
pub struct Names<'a> {
    /// The classic histogram's bucket series, e.g. `request_duration_seconds_bucket`.
    pub histogram_bucket: &'a str,
    /// A regular expression matching about a tenth of the `pod` label values, e.g.
    /// `app-1.*`.
    pub pod_regex: &'a str,
}

/// The 15 dashboard queries: range queries at 15 s and 60 s steps and instant queries
/// (table and stat panels, alerts). Some expressions appear with more than one kind.
pub fn queries(names: &Names<'_>) -> Vec<Query> {
    const RANGE15: i64 = 15_000;
    const RANGE60: i64 = 60_000;
    const INSTANT: i64 = 0;
    let hist = names.histogram_bucket;
    let pods = names.pod_regex;
    [
        (
            "sum by (job) (rate(http_requests_total[5m]))".to_string(),
            RANGE15,
        ),
        (
            "sum by (job) (rate(http_requests_total[5m]))".to_string(),
            RANGE60,
        ),
        ("sum(rate(http_requests_total[5m]))".to_string(), INSTANT),
        (
            format!("histogram_quantile(0.99, sum by (le) (rate({hist}[5m])))"),
            RANGE60,
        ),
        (
            format!("histogram_quantile(0.9, sum by (job, le) (rate({hist}[5m])))"),
            INSTANT,
        ),
        (
            "topk(10, sum by (pod) (rate(http_requests_total[5m])))".to_string(),
            RANGE15,
        ),
        (
            "topk(10, sum by (pod) (rate(http_requests_total[5m])))".to_string(),
            INSTANT,
        ),
        (
            "sum by (code) (increase(http_requests_total{code=~\"5..\"}[5m]))".to_string(),
            RANGE15,
        ),
        (
            "sum(rate(http_requests_total{code=~\"5..\"}[5m])) / sum(rate(http_requests_total[5m]))"
                .to_string(),
            RANGE60,
        ),
        (
            format!("sum by (job) (rate(http_requests_total{{pod=~\"{pods}\"}}[5m]))"),
            INSTANT,
        ),
        ("count(http_requests_total)".to_string(), RANGE15),
        (
            "count by (job) (http_requests_total{code=\"500\"})".to_string(),
            INSTANT,
        ),
        (
            "avg(container_memory_working_set_bytes)".to_string(),
            RANGE60,
        ),
        (
            "max by (job) (container_memory_working_set_bytes)".to_string(),
            RANGE15,
        ),
        (
            "topk(5, max by (pod) (container_memory_working_set_bytes))".to_string(),
            INSTANT,
        ),
    ]
    .into_iter()
    .map(|(expr, step)| Query { expr, step })
    .collect()
}

/// The distinct expressions of the set, in order of first appearance.
pub fn expressions(names: &Names<'_>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for q in queries(names) {
        if !out.contains(&q.expr) {
            out.push(q.expr);
        }
    }
    out
}

/// The median (the upper one of an even count); NaN for no values.
pub fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The geometric mean of positive ratios; NaN for none.
pub fn geometric_mean(ratios: &[f64]) -> f64 {
    if ratios.is_empty() {
        return f64::NAN;
    }
    (ratios.iter().map(|r| r.ln()).sum::<f64>() / ratios.len() as f64).exp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_substituted_and_expressions_deduplicated() {
        let names = Names {
            histogram_bucket: "h_bucket",
            pod_regex: "p-1.*",
        };
        let q = queries(&names);
        assert_eq!(q.len(), 15);
        assert!(q.iter().any(|q| q.expr.contains("rate(h_bucket[5m])")));
        assert!(q.iter().any(|q| q.expr.contains("{pod=~\"p-1.*\"}")));
        let e = expressions(&names);
        assert_eq!(e.len(), 13);
        assert_eq!(e[0], "sum by (job) (rate(http_requests_total[5m]))");
    }

    #[test]
    fn median_and_geometric_mean() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 3.0);
        assert!(median(Vec::new()).is_nan());
        assert!((geometric_mean(&[2.0, 0.5]) - 1.0).abs() < 1e-12);
        assert!((geometric_mean(&[4.0]) - 4.0).abs() < 1e-12);
    }
}
