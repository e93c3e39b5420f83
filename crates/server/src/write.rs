//! Remote write at `/api/v1/write`: negotiation, status codes and response headers.
//! Decoding and validation are `ingest`'s.
//!
//! Content negotiation follows Prometheus 3.5's receiver: no `Content-Type` means RW1;
//! `application/x-protobuf` with no `proto` parameter or `proto=prometheus.WriteRequest`
//! is RW1, `proto=io.prometheus.write.v2.Request` RW2; anything else is 415. A missing
//! `Content-Encoding` is taken as snappy; any other than `snappy` is 415.
//!
//! Status codes: 204 when everything is durable; 400 for data that will never be accepted
//! (valid data of the same request is kept; see `docs/compatibility.md`); 503 while the
//! WAL replays or when `max_concurrent_requests` stay busy for `queue_timeout` (never 429,
//! which Prometheus drops by default); 500 when the storage fails (the sender retries).
//! Every response carries the `X-Prometheus-Remote-Write-*-Written` headers.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use ingest::{Limits, Outcome, Protocol, RejectReason};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tsdb::ErrorKind;

use crate::state::AppState;

/// Remote-write configuration: request limits and concurrency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteConfig {
    /// Limits on one request (sizes, series, labels, future timestamps).
    pub limits: Limits,
    /// How many requests may decode and append at once (default 16). Memory is bounded
    /// by about this many times `limits.max_decompressed_bytes`.
    pub max_concurrent_requests: usize,
    /// How long a request waits for a free slot before getting 503 (default 5 s).
    pub queue_timeout: Duration,
}

impl Default for WriteConfig {
    fn default() -> Self {
        WriteConfig {
            limits: Limits::default(),
            max_concurrent_requests: 16,
            queue_timeout: Duration::from_secs(5),
        }
    }
}

type CodeLabels = Vec<(&'static str, String)>;
type ReasonLabels = Vec<(&'static str, &'static str)>;

/// Remote-write metrics, registered under `tsdbd_remote_write_*`.
#[derive(Debug)]
pub struct WriteMetrics {
    /// `tsdbd_remote_write_requests_total{code, protocol}`.
    pub requests: Family<CodeLabels, Counter>,
    /// `tsdbd_remote_write_samples_received_total`.
    pub samples_received: Counter,
    /// `tsdbd_remote_write_samples_written_total`.
    pub samples_written: Counter,
    /// `tsdbd_remote_write_exemplars_received_total`.
    pub exemplars_received: Counter,
    /// `tsdbd_remote_write_exemplars_written_total`.
    pub exemplars_written: Counter,
    /// `tsdbd_remote_write_histograms_received_total`.
    pub histograms_received: Counter,
    /// `tsdbd_remote_write_histograms_written_total`.
    pub histograms_written: Counter,
    /// `tsdbd_remote_write_rejected_total{reason}`: samples, histograms, exemplars.
    pub rejected: Family<ReasonLabels, Counter>,
    /// `tsdbd_remote_write_request_duration_seconds`.
    pub duration: Histogram,
    /// `tsdbd_remote_write_in_flight_requests`.
    pub in_flight: Gauge,
}

impl WriteMetrics {
    /// Creates the metrics and registers them into `r`.
    pub fn register(r: &mut Registry) -> WriteMetrics {
        let m = WriteMetrics {
            requests: Family::default(),
            samples_received: Counter::default(),
            samples_written: Counter::default(),
            exemplars_received: Counter::default(),
            exemplars_written: Counter::default(),
            histograms_received: Counter::default(),
            histograms_written: Counter::default(),
            rejected: Family::default(),
            duration: Histogram::new(exponential_buckets(0.001, 2.0, 14)),
            in_flight: Gauge::default(),
        };
        r.register(
            "tsdbd_remote_write_requests",
            "Remote-write requests by HTTP status code and protocol",
            m.requests.clone(),
        );
        for (name, help, c) in [
            (
                "tsdbd_remote_write_samples_received",
                "Float samples received by remote write",
                &m.samples_received,
            ),
            (
                "tsdbd_remote_write_samples_written",
                "Float samples written (durable) by remote write",
                &m.samples_written,
            ),
            (
                "tsdbd_remote_write_exemplars_received",
                "Exemplars received by remote write",
                &m.exemplars_received,
            ),
            (
                "tsdbd_remote_write_exemplars_written",
                "Exemplars written (durable) by remote write",
                &m.exemplars_written,
            ),
            (
                "tsdbd_remote_write_histograms_received",
                "Native histogram samples received by remote write",
                &m.histograms_received,
            ),
            (
                "tsdbd_remote_write_histograms_written",
                "Native histogram samples written by remote write",
                &m.histograms_written,
            ),
        ] {
            r.register(name, help, c.clone());
        }
        r.register(
            "tsdbd_remote_write_rejected",
            "Samples, histograms and exemplars refused by remote write, by reason",
            m.rejected.clone(),
        );
        for reason in RejectReason::ALL {
            let _ = m.rejected.get_or_create(&vec![("reason", reason.as_str())]);
        }
        r.register(
            "tsdbd_remote_write_request_duration_seconds",
            "Time to handle a remote-write request, from headers to response",
            m.duration.clone(),
        );
        r.register(
            "tsdbd_remote_write_in_flight_requests",
            "Remote-write requests being decoded or appended",
            m.in_flight.clone(),
        );
        m
    }
}

/// The remote-write route.
pub fn router() -> Router<Arc<AppState>> {
    Router::new().route("/api/v1/write", post(write))
}

/// The protocol a `Content-Type` selects, as Prometheus 3.5's `parseProtoMsg`.
pub fn negotiate(content_type: Option<&str>) -> Result<Protocol, String> {
    let ct = content_type.map(str::trim).unwrap_or("");
    if ct.is_empty() {
        return Ok(Protocol::V1);
    }
    let mut parts = ct.split(';');
    let media = parts.next().unwrap_or("").trim();
    if media != "application/x-protobuf" {
        return Err(format!(
            "expected application/x-protobuf as the first (media) part, got {ct} content-type"
        ));
    }
    for p in parts {
        let Some((k, v)) = p.split_once('=') else {
            return Err(format!(
                "expected parameters to be key-values, got {p} in {ct} content-type"
            ));
        };
        if k.trim() == "proto" {
            return match v.trim() {
                "prometheus.WriteRequest" => Ok(Protocol::V1),
                "io.prometheus.write.v2.Request" => Ok(Protocol::V2),
                other => Err(format!(
                    "got {ct} content type; unknown remote write protobuf message {other}, supported: prometheus.WriteRequest, io.prometheus.write.v2.Request"
                )),
            };
        }
    }
    Ok(Protocol::V1)
}

#[derive(Default)]
struct Written {
    samples: u64,
    histograms: u64,
    exemplars: u64,
}

fn respond(status: StatusCode, written: &Written, message: Option<String>) -> Response {
    let mut resp = match message {
        Some(m) => (
            status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("{m}\n"),
        )
            .into_response(),
        None => status.into_response(),
    };
    let h = resp.headers_mut();
    for (name, n) in [
        ("x-prometheus-remote-write-samples-written", written.samples),
        (
            "x-prometheus-remote-write-histograms-written",
            written.histograms,
        ),
        (
            "x-prometheus-remote-write-exemplars-written",
            written.exemplars,
        ),
    ] {
        h.insert(name, HeaderValue::from(n));
    }
    resp
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

thread_local! {
    /// The decompression, decoding and applying buffers of the requests this
    /// (blocking-pool) thread handles, kept from one request to the next.
    static SCRATCH: std::cell::RefCell<ingest::Scratch> =
        std::cell::RefCell::new(ingest::Scratch::default());
}

async fn write(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Body) -> Response {
    let started = Instant::now();
    let m = &state.write_metrics;
    let (protocol, resp) = handle(&state, &headers, body).await;
    let proto = match protocol {
        Some(Protocol::V1) => "v1",
        Some(Protocol::V2) => "v2",
        None => "unknown",
    };
    m.requests
        .get_or_create(&vec![
            ("code", resp.status().as_u16().to_string()),
            ("protocol", proto.to_owned()),
        ])
        .inc();
    m.duration.observe(started.elapsed().as_secs_f64());
    resp
}

async fn handle(
    state: &Arc<AppState>,
    headers: &HeaderMap,
    body: Body,
) -> (Option<Protocol>, Response) {
    let none = Written::default();
    let ct = headers
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap_or("\u{fffd}"));
    let protocol = match negotiate(ct) {
        Ok(p) => p,
        Err(msg) => {
            return (
                None,
                respond(StatusCode::UNSUPPORTED_MEDIA_TYPE, &none, Some(msg)),
            );
        }
    };
    let p = Some(protocol);
    if let Some(enc) = headers.get(header::CONTENT_ENCODING) {
        let enc = enc.to_str().unwrap_or("\u{fffd}");
        if !enc.trim().eq_ignore_ascii_case("snappy") {
            let msg = format!(
                "{enc} encoding (compression) is not accepted by this server; only snappy is acceptable"
            );
            return (
                p,
                respond(StatusCode::UNSUPPORTED_MEDIA_TYPE, &none, Some(msg)),
            );
        }
    }
    let Some(db) = state.db().cloned() else {
        let msg = "storage is not ready (WAL replay in progress)".to_owned();
        return (
            p,
            respond(StatusCode::SERVICE_UNAVAILABLE, &none, Some(msg)),
        );
    };
    let cfg = &state.config.write;
    let limit = cfg.limits.max_compressed_bytes;
    let too_large = |size: String| {
        respond(
            StatusCode::BAD_REQUEST,
            &Written::default(),
            Some(format!(
                "request body of {size} bytes exceeds the limit of {limit} bytes"
            )),
        )
    };
    if let Some(len) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
        && len > limit as u64
    {
        return (p, too_large(len.to_string()));
    }
    let slot = match tokio::time::timeout(
        cfg.queue_timeout,
        Arc::clone(&state.write_slots).acquire_owned(),
    )
    .await
    {
        Ok(Ok(permit)) => permit,
        _ => {
            let msg = "too many concurrent remote-write requests; retry later".to_owned();
            return (
                p,
                respond(StatusCode::SERVICE_UNAVAILABLE, &none, Some(msg)),
            );
        }
    };
    let bytes = match axum::body::to_bytes(body, limit + 1).await {
        Ok(b) if b.len() > limit => return (p, too_large(format!("more than {limit}"))),
        Ok(b) => b,
        Err(e) => {
            let msg = format!("reading the request body: {e}");
            return (p, respond(StatusCode::BAD_REQUEST, &none, Some(msg)));
        }
    };
    let limits = cfg.limits.clone();
    state.write_metrics.in_flight.inc();
    let result = tokio::task::spawn_blocking(move || {
        let _slot = slot;
        SCRATCH.with_borrow_mut(|scratch| {
            scratch.decode(protocol, &bytes, &limits, |req, apply| {
                let received = (
                    req.samples.len() as u64,
                    req.histogram_count(),
                    req.exemplars.len() as u64,
                );
                let out = ingest::apply_with(db.head(), req, &limits, now_ms(), apply)?;
                Ok((received, out))
            })
        })
    })
    .await;
    state.write_metrics.in_flight.dec();
    let resp = match result {
        Ok(Ok((received, out))) => outcome_response(state, received, &out),
        Ok(Err(e)) => {
            let status = match e.kind() {
                ErrorKind::BadData => StatusCode::BAD_REQUEST,
                ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            };
            if status.is_server_error() {
                tracing::warn!(error = %e, "remote write failed");
            }
            respond(status, &none, Some(e.to_string()))
        }
        Err(join) => {
            tracing::error!(error = %join, "remote-write task failed");
            respond(
                StatusCode::INTERNAL_SERVER_ERROR,
                &none,
                Some("internal error while writing".into()),
            )
        }
    };
    (p, resp)
}

fn outcome_response(state: &AppState, received: (u64, u64, u64), out: &Outcome) -> Response {
    let m = &state.write_metrics;
    m.samples_received.inc_by(received.0);
    m.histograms_received.inc_by(received.1);
    m.exemplars_received.inc_by(received.2);
    m.samples_written.inc_by(out.samples_written);
    m.histograms_written.inc_by(out.histograms_written);
    m.exemplars_written.inc_by(out.exemplars_written);
    for (reason, n) in &out.rejected {
        m.rejected
            .get_or_create(&vec![("reason", reason.as_str())])
            .inc_by(*n);
    }
    let written = Written {
        samples: out.samples_written,
        histograms: out.histograms_written,
        exemplars: out.exemplars_written,
    };
    match out.message() {
        Some(msg) => respond(StatusCode::BAD_REQUEST, &written, Some(msg)),
        None => respond(StatusCode::NO_CONTENT, &written, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_follows_prometheus() {
        assert_eq!(negotiate(None), Ok(Protocol::V1));
        assert_eq!(negotiate(Some("application/x-protobuf")), Ok(Protocol::V1));
        assert_eq!(
            negotiate(Some("application/x-protobuf;proto=prometheus.WriteRequest")),
            Ok(Protocol::V1)
        );
        assert_eq!(
            negotiate(Some(
                "application/x-protobuf;proto=io.prometheus.write.v2.Request"
            )),
            Ok(Protocol::V2)
        );
        assert!(negotiate(Some("application/json")).is_err());
        assert!(negotiate(Some("application/x-protobuf;proto=foo.Bar")).is_err());
        assert!(negotiate(Some("application/x-protobuf;junk")).is_err());
    }
}
