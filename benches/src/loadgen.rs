//! The remote-write load generator: prepares request bodies from a [`Generator`] and
//! sends them over HTTP, reporting throughput, latency percentiles and status counts.
//!
//! Like Prometheus's remote-write queue, series are split into shards by index; each shard
//! is one connection that sends its requests in order, so a series' samples always arrive in
//! time order. Bodies are encoded before sending starts, so the generator's own CPU does
//! not compete with the server during a measurement.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::workload::Generator;

/// One sample of the workload, borrowed for encoding.
#[derive(Debug, Clone, Copy)]
pub struct SampleRef<'a> {
    /// Sorted label pairs, `__name__` included.
    pub labels: &'a [(String, String)],
    /// Timestamp in ms.
    pub t: i64,
    /// Value.
    pub v: f64,
}

/// One prepared request.
#[derive(Debug, Clone)]
pub struct Payload {
    /// The encoded (compressed) body.
    pub body: Vec<u8>,
    /// Samples in it.
    pub samples: usize,
}

/// How bodies are cut from the workload.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Scrape rounds to generate.
    pub scrapes: usize,
    /// Timestamp of the first round (ms).
    pub start_ms: i64,
    /// Scrape interval (ms).
    pub interval_ms: i64,
    /// Connections, each owning a shard of the series.
    pub shards: usize,
    /// Samples per request at most (Prometheus 3.x sends up to 2000).
    pub max_samples_per_send: usize,
}

impl Plan {
    /// `scrapes` rounds `interval_ms` apart whose last round is now, so every sample is in
    /// the past and in time order; 4 connections of up to 2000 samples per request.
    pub fn ending_now(scrapes: usize, interval_ms: i64) -> Plan {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock after 1970")
            .as_millis() as i64;
        Plan {
            scrapes,
            start_ms: now_ms - (scrapes as i64 - 1).max(0) * interval_ms,
            interval_ms,
            shards: 4,
            max_samples_per_send: 2000,
        }
    }
}

/// Encodes every scrape round of `generator` into per-shard request bodies with `encode`.
/// The generator's first round is its current state; it advances between rounds.
pub fn prepare(
    generator: &mut Generator,
    plan: &Plan,
    encode: impl Fn(&[SampleRef<'_>]) -> Vec<u8>,
) -> Vec<Vec<Payload>> {
    let shards = plan.shards.max(1);
    let mut out: Vec<Vec<Payload>> = vec![Vec::new(); shards];
    for round in 0..plan.scrapes {
        if round > 0 {
            generator.scrape();
        }
        let mut batch: Vec<SampleRef<'_>> = Vec::with_capacity(plan.max_samples_per_send);
        let t = plan.start_ms + round as i64 * plan.interval_ms;
        for (shard, payloads) in out.iter_mut().enumerate() {
            for s in generator.series().iter().skip(shard).step_by(shards) {
                batch.push(SampleRef {
                    labels: &s.labels,
                    t,
                    v: s.value,
                });
                if batch.len() == plan.max_samples_per_send {
                    payloads.push(Payload {
                        body: encode(&batch),
                        samples: batch.len(),
                    });
                    batch.clear();
                }
            }
            if !batch.is_empty() {
                payloads.push(Payload {
                    body: encode(&batch),
                    samples: batch.len(),
                });
                batch.clear();
            }
        }
    }
    out
}

/// Encodes a batch as a remote-write 1.0 body (one `TimeSeries` per sample).
pub fn encode_v1(batch: &[SampleRef<'_>]) -> Vec<u8> {
    use ingest::proto::v1;
    let timeseries = batch
        .iter()
        .map(|s| v1::TimeSeries::new(s.labels, &[(s.t, s.v)]))
        .collect();
    ingest::encode::encode_v1(&v1::WriteRequest {
        timeseries,
        metadata: Vec::new(),
    })
}

/// Encodes a batch as a remote-write 2.0 body with its symbol table.
pub fn encode_v2(batch: &[SampleRef<'_>]) -> Vec<u8> {
    use ingest::proto::v2;
    let mut symbols = ingest::encode::SymbolTable::new();
    let timeseries = batch
        .iter()
        .map(|s| v2::TimeSeries {
            labels_refs: symbols.refs(s.labels.iter().map(|(n, v)| (n.as_str(), v.as_str()))),
            samples: vec![v2::Sample {
                value: s.v,
                timestamp: s.t,
            }],
            ..Default::default()
        })
        .collect();
    ingest::encode::encode_v2(&v2::Request {
        symbols: symbols.into_symbols(),
        timeseries,
    })
}

/// Where and how fast to send.
#[derive(Debug, Clone)]
pub struct Target {
    /// The remote-write URL.
    pub url: String,
    /// Extra request headers (content type, encoding, protocol version).
    pub headers: Vec<(String, String)>,
    /// Samples per second over all shards; `None` sends as fast as possible.
    pub rate: Option<f64>,
}

/// The headers of remote write 1.0 (`v2 == false`) or 2.0.
pub fn headers(v2: bool) -> Vec<(String, String)> {
    let (content_type, version) = if v2 {
        (
            "application/x-protobuf;proto=io.prometheus.write.v2.Request",
            "2.0.0",
        )
    } else {
        ("application/x-protobuf", "0.1.0")
    };
    [
        ("Content-Type", content_type),
        ("Content-Encoding", "snappy"),
        ("X-Prometheus-Remote-Write-Version", version),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect()
}

/// What a run measured.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Requests sent.
    pub requests: u64,
    /// Samples in requests answered 2xx.
    pub samples_acked: u64,
    /// Requests by HTTP status.
    pub status: BTreeMap<u16, u64>,
    /// Requests that failed without a status (connection errors, timeouts).
    pub transport_errors: u64,
    /// Wall time from the first request to the last answer.
    pub elapsed: Duration,
    /// Latency of every request, sorted.
    pub latencies: Vec<Duration>,
}

impl Report {
    /// Acknowledged samples per second.
    pub fn samples_per_second(&self) -> f64 {
        self.samples_acked as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The latency at quantile `q` (0..=1), zero when nothing was sent.
    pub fn latency(&self, q: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let i = ((self.latencies.len() - 1) as f64 * q).round() as usize;
        self.latencies[i]
    }

    /// Adds `other`'s requests, samples, statuses, errors, elapsed time and latencies
    /// (kept sorted) to this report: the report of two sends one after the other.
    pub fn merge(&mut self, other: Report) {
        self.requests += other.requests;
        self.samples_acked += other.samples_acked;
        self.transport_errors += other.transport_errors;
        for (k, v) in other.status {
            *self.status.entry(k).or_default() += v;
        }
        self.elapsed += other.elapsed;
        self.latencies.extend(other.latencies);
        self.latencies.sort();
    }

    /// Whether every request was answered 2xx.
    pub fn all_ok(&self) -> bool {
        self.transport_errors == 0 && self.status.keys().all(|c| (200..300).contains(c))
    }

    /// One line: throughput, latency percentiles and statuses.
    pub fn summary(&self) -> String {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        format!(
            "{} requests, {} samples acked in {:.2}s ({:.0} samples/s); latency p50 {:.2}ms p90 {:.2}ms p99 {:.2}ms max {:.2}ms; status {:?}; transport errors {}",
            self.requests,
            self.samples_acked,
            self.elapsed.as_secs_f64(),
            self.samples_per_second(),
            ms(self.latency(0.5)),
            ms(self.latency(0.9)),
            ms(self.latency(0.99)),
            ms(self.latency(1.0)),
            self.status,
            self.transport_errors
        )
    }
}

/// Sends every shard's payloads in order, one thread and connection per shard.
pub fn send(shards: &[Vec<Payload>], target: &Target) -> Report {
    let per_shard_rate = target.rate.map(|r| r / shards.len().max(1) as f64);
    let begin = Instant::now();
    let reports: Vec<Report> = std::thread::scope(|s| {
        let handles: Vec<_> = shards
            .iter()
            .map(|payloads| s.spawn(move || send_shard(payloads, target, per_shard_rate)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("sender thread"))
            .collect()
    });
    let mut total = Report::default();
    for r in reports {
        total.merge(r);
    }
    total.elapsed = begin.elapsed();
    total
}

fn send_shard(payloads: &[Payload], target: &Target, rate: Option<f64>) -> Report {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into();
    let mut report = Report::default();
    let start = Instant::now();
    let mut sent_samples = 0usize;
    for p in payloads {
        if let Some(rate) = rate {
            let due = start + Duration::from_secs_f64(sent_samples as f64 / rate);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
        }
        let mut req = agent.post(&target.url);
        for (k, v) in &target.headers {
            req = req.header(k, v);
        }
        let t0 = Instant::now();
        let res = req.send(&p.body[..]);
        report.latencies.push(t0.elapsed());
        report.requests += 1;
        sent_samples += p.samples;
        match res {
            Ok(mut resp) => {
                let code = resp.status().as_u16();
                // Drain the body so the connection is reused.
                let _ = resp.body_mut().read_to_vec();
                *report.status.entry(code).or_default() += 1;
                if (200..300).contains(&code) {
                    report.samples_acked += p.samples as u64;
                }
            }
            Err(_) => report.transport_errors += 1,
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::Workload;

    #[test]
    fn prepare_shards_every_sample_once_in_time_order() {
        let mut g = Generator::new(&Workload {
            seed: 1,
            series: 5_000,
        });
        let plan = Plan {
            scrapes: 3,
            start_ms: 1_000,
            interval_ms: 15_000,
            shards: 4,
            max_samples_per_send: 500,
        };
        // "Encode" as the list of (first label value, t) pairs to check placement.
        let shards = prepare(&mut g, &plan, |b| {
            b.iter()
                .flat_map(|s| {
                    let mut v = s
                        .labels
                        .iter()
                        .map(|(_, v)| v.as_str())
                        .collect::<Vec<_>>()
                        .join(",")
                        .into_bytes();
                    v.extend(format!("@{}\n", s.t).bytes());
                    v
                })
                .collect()
        });
        let total: usize = shards.iter().flatten().map(|p| p.samples).sum();
        assert_eq!(total, 15_000);
        assert!(shards.iter().flatten().all(|p| p.samples <= 500));
        let mut seen = std::collections::HashMap::new();
        for (i, shard) in shards.iter().enumerate() {
            for p in shard {
                for line in String::from_utf8(p.body.clone()).expect("utf8").lines() {
                    let (series, t) = line.rsplit_once('@').expect("@");
                    let t: i64 = t.parse().expect("t");
                    let prev = seen.insert(series.to_owned(), (i, t));
                    if let Some((shard, prev_t)) = prev {
                        assert_eq!(shard, i, "a series stays on one shard");
                        assert!(prev_t < t, "time order within a shard");
                    }
                }
            }
        }
        assert_eq!(seen.len(), 5_000);
    }
}
