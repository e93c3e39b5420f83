//! Self-monitoring: the HTTP and query metric families, and `/metrics`.
//!
//! Names follow Prometheus's own with `tsdbd_` in place of `prometheus_`
//! (`prometheus_http_requests_total` becomes `tsdbd_http_requests_total`,
//! `prometheus_tsdb_head_series` becomes `tsdbd_tsdb_head_series`), so a Prometheus
//! dashboard carries over by changing the prefix, and our server is never mistaken for a
//! Prometheus. The storage registers its families under Prometheus's names into a registry
//! of its own (opened on the replay thread, so `/metrics` never waits for replay); the
//! prefix is rewritten when that registry is encoded.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::{encode_eof, encode_registry};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// The content type of [`encode`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Labels of `tsdbd_http_requests_total`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HandlerCode {
    handler: String,
    code: String,
}

/// Labels of `tsdbd_http_request_duration_seconds`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Handler {
    handler: String,
}

fn http_duration_histogram() -> Histogram {
    // Prometheus's buckets for prometheus_http_request_duration_seconds.
    Histogram::new([0.1, 0.2, 0.4, 1.0, 3.0, 8.0, 20.0, 60.0, 120.0])
}

/// HTTP requests by route template and status code.
#[derive(Debug, Clone)]
pub struct HttpMetrics {
    requests: Family<HandlerCode, Counter>,
    duration: Family<Handler, Histogram, fn() -> Histogram>,
}

impl HttpMetrics {
    /// Creates the families and registers them into `registry`.
    pub fn register(registry: &mut Registry) -> HttpMetrics {
        let m = HttpMetrics {
            requests: Family::default(),
            duration: Family::new_with_constructor(http_duration_histogram),
        };
        registry.register(
            "tsdbd_http_requests",
            "Counter of HTTP requests",
            m.requests.clone(),
        );
        registry.register(
            "tsdbd_http_request_duration_seconds",
            "Histogram of latencies for HTTP requests",
            m.duration.clone(),
        );
        m
    }

    /// Counts one finished request. `handler` is the route template (`/api/v1/query`).
    pub fn observe(&self, handler: &str, code: u16, elapsed: Duration) {
        self.requests
            .get_or_create(&HandlerCode {
                handler: handler.to_owned(),
                code: code.to_string(),
            })
            .inc();
        self.duration
            .get_or_create(&Handler {
                handler: handler.to_owned(),
            })
            .observe(elapsed.as_secs_f64());
    }
}

/// PromQL query metrics, for the query API to feed.
///
/// ```ignore
/// let _guard = state.query_metrics.start(); // counts the query as running
/// let _permit = state.query_slots.acquire().await?;
/// // ... evaluate; dropping the guard records the duration
/// ```
#[derive(Debug, Clone)]
pub struct QueryMetrics {
    duration: Histogram,
    queries: Gauge,
    concurrent_max: Gauge,
}

impl QueryMetrics {
    /// Creates the families and registers them into `registry`. `max_concurrency` is the
    /// configured cap on concurrent queries.
    pub fn register(registry: &mut Registry, max_concurrency: usize) -> QueryMetrics {
        let m = QueryMetrics {
            duration: Histogram::new([
                0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 120.0,
            ]),
            queries: Gauge::default(),
            concurrent_max: Gauge::default(),
        };
        m.concurrent_max
            .set(i64::try_from(max_concurrency).unwrap_or(i64::MAX));
        registry.register(
            "tsdbd_engine_query_duration_seconds",
            "Query timings, from arrival to the last result, including waiting for a slot",
            m.duration.clone(),
        );
        registry.register(
            "tsdbd_engine_queries",
            "The current number of queries being executed or waiting",
            m.queries.clone(),
        );
        registry.register(
            "tsdbd_engine_queries_concurrent_max",
            "The max number of concurrent queries",
            m.concurrent_max.clone(),
        );
        m
    }

    /// Records one query's duration.
    pub fn observe(&self, elapsed: Duration) {
        self.duration.observe(elapsed.as_secs_f64());
    }

    /// Counts a query as running until the guard drops, then records its duration.
    /// The guard is `'static`, so it can move into a blocking task.
    pub fn start(&self) -> QueryGuard {
        self.queries.inc();
        QueryGuard {
            metrics: self.clone(),
            started: Instant::now(),
        }
    }

    /// Queries running or waiting now.
    pub fn running(&self) -> i64 {
        self.queries.get()
    }
}

/// See [`QueryMetrics::start`].
#[derive(Debug)]
#[must_use = "the query counts as running only while the guard lives"]
pub struct QueryGuard {
    metrics: QueryMetrics,
    started: Instant,
}

impl Drop for QueryGuard {
    fn drop(&mut self) {
        self.metrics.queries.dec();
        self.metrics.observe(self.started.elapsed());
    }
}

/// Encodes the server's registry and, once open, the storage's (prefix rewritten) as
/// OpenMetrics text.
pub fn encode(server: &Registry, storage: Option<&Registry>) -> String {
    let mut out = String::new();
    encode_registry(&mut out, server).expect("writing to a String cannot fail");
    if let Some(storage) = storage {
        let mut text = String::new();
        encode_registry(&mut text, storage).expect("writing to a String cannot fail");
        for line in text.lines() {
            out.push_str(&rename(line));
            out.push('\n');
        }
    }
    encode_eof(&mut out).expect("writing to a String cannot fail");
    out
}

/// `prometheus_x` → `tsdbd_x` in a sample line or a `# HELP|TYPE|UNIT` line.
fn rename(line: &str) -> String {
    for prefix in ["# HELP ", "# TYPE ", "# UNIT ", ""] {
        if let Some(name) = line
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_prefix("prometheus_"))
        {
            let mut s = String::with_capacity(line.len());
            let _ = write!(s, "{prefix}tsdbd_{name}");
            return s;
        }
    }
    line.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_families_get_our_prefix() {
        let mut server = Registry::default();
        let http = HttpMetrics::register(&mut server);
        http.observe("/api/v1/query", 200, Duration::from_millis(5));
        let mut storage = Registry::default();
        let g: Gauge = Gauge::default();
        g.set(7);
        storage.register("prometheus_tsdb_head_series", "Series in the head", g);
        let text = encode(&server, Some(&storage));
        assert!(
            text.contains("# TYPE tsdbd_tsdb_head_series gauge\n"),
            "{text}"
        );
        assert!(text.contains("\ntsdbd_tsdb_head_series 7\n"), "{text}");
        assert!(!text.contains("prometheus_"), "{text}");
        assert!(
            text.contains("tsdbd_http_requests_total{handler=\"/api/v1/query\",code=\"200\"} 1"),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"));
        assert!(!text.contains(".."), "help texts end in one period: {text}");
        assert_eq!(text.matches("# EOF").count(), 1);
    }

    #[test]
    fn query_guard_tracks_running_queries() {
        let mut r = Registry::default();
        let q = QueryMetrics::register(&mut r, 20);
        let a = q.start();
        let b = q.start();
        assert_eq!(q.running(), 2);
        drop(a);
        assert_eq!(q.running(), 1);
        drop(b);
        assert_eq!(q.running(), 0);
        let text = encode(&r, None);
        assert!(
            text.contains("tsdbd_engine_query_duration_seconds_count 2"),
            "{text}"
        );
        assert!(
            text.contains("tsdbd_engine_queries_concurrent_max 20"),
            "{text}"
        );
    }
}
