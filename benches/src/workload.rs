//! A deterministic Kubernetes-shaped workload: the series a cluster's scrapes produce.
//!
//! The cluster is built node by node. Each node has node-exporter series (CPU seconds by
//! CPU and mode, memory, filesystem, network, load) and runs [`PODS_PER_NODE`] pods; each
//! pod has kube-state-metrics series (phase, restarts, info), cAdvisor series for its
//! container (CPU, memory, network) and, as an application, HTTP RED metrics: request
//! counters by method, handler and code, and a classic latency histogram per handler
//! (12 `le` buckets plus `_sum` and `_count`). Nodes are added until the requested number of
//! series is reached (the last node is cut short).
//!
//! Every scrape advances each series the way its kind does: counters grow by a random
//! amount (and rarely reset, as on a container restart), gauges wander around a base value,
//! histograms observe a random number of requests distributed over their buckets, so
//! buckets stay cumulative and `_count` equals the `+Inf` bucket. The same seed gives the
//! same series and the same values on every machine.

/// Pods scheduled on each node.
pub const PODS_PER_NODE: usize = 30;
/// Bucket bounds of the latency histograms, as Prometheus prints them.
pub const LE: [&str; 12] = [
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf",
];
/// Share of requests at or below each bucket bound.
const CDF: [f64; 12] = [
    0.02, 0.05, 0.12, 0.25, 0.45, 0.70, 0.85, 0.93, 0.97, 0.99, 0.998, 1.0,
];
/// Upper bounds used to draw a plausible `_sum` increment per observation.
const MID: [f64; 12] = [
    0.003, 0.008, 0.02, 0.04, 0.08, 0.2, 0.4, 0.8, 2.0, 4.0, 8.0, 15.0,
];
/// One counter reset in this many counter increments (container restarts).
const RESET_ODDS: u64 = 50_000;

/// What to generate.
#[derive(Debug, Clone, Copy)]
pub struct Workload {
    /// Seed of every random choice.
    pub seed: u64,
    /// Number of active series.
    pub series: usize,
}

/// How a series' value evolves.
#[derive(Debug, Clone, Copy)]
enum Kind {
    /// Grows by up to `2 × rate` per scrape.
    Counter { rate: f64 },
    /// Wanders within ±`spread` of `base`.
    Gauge { base: f64, spread: f64 },
    /// Part of histogram `hist`.
    Hist { hist: usize, part: HistPart },
}

/// Which series of a classic histogram.
#[derive(Debug, Clone, Copy)]
enum HistPart {
    Bucket(usize),
    Sum,
    Count,
}

/// The state of one classic histogram: cumulative bucket counts and the sum.
#[derive(Debug, Clone)]
struct Hist {
    /// Requests per scrape, on average.
    rate: f64,
    buckets: [f64; 12],
    sum: f64,
}

/// A series of the workload: sorted labels (`__name__` included) and its current value.
#[derive(Debug, Clone)]
pub struct Series {
    /// Label pairs sorted by name.
    pub labels: Vec<(String, String)>,
    kind: Kind,
    /// The value of the latest scrape.
    pub value: f64,
}

/// The workload's series and their evolving values.
#[derive(Debug, Clone)]
pub struct Generator {
    series: Vec<Series>,
    hists: Vec<Hist>,
    rng: Rng,
}

impl Generator {
    /// Builds the series of `w` with their initial values.
    pub fn new(w: &Workload) -> Generator {
        let mut g = Builder {
            rng: Rng(w.seed ^ 0x9e37_79b9_7f4a_7c15),
            series: Vec::with_capacity(w.series),
            hists: Vec::new(),
            limit: w.series,
        };
        let mut node = 0;
        while g.series.len() < w.series {
            g.node(node);
            node += 1;
        }
        let mut gen_ = Generator {
            series: g.series,
            hists: g.hists,
            rng: g.rng,
        };
        gen_.scrape();
        gen_
    }

    /// The series.
    pub fn series(&self) -> &[Series] {
        &self.series
    }

    /// Advances every series by one scrape interval.
    pub fn scrape(&mut self) {
        for h in &mut self.hists {
            let n = (h.rate * (0.5 + self.rng.unit())).round();
            let mut prev = 0.0;
            for (i, cdf) in CDF.iter().enumerate() {
                // Cumulative share at this bound with a little noise, kept monotone.
                let share = (cdf * (0.97 + 0.06 * self.rng.unit())).min(1.0);
                let at_most = (n * share).round().max(prev);
                let at_most = if i == CDF.len() - 1 {
                    n
                } else {
                    at_most.min(n)
                };
                h.sum += (at_most - prev) * MID[i] * self.rng.unit();
                h.buckets[i] += at_most;
                prev = at_most;
            }
        }
        for s in &mut self.series {
            s.value = match s.kind {
                Kind::Counter { rate } => {
                    if self.rng.below(RESET_ODDS) == 0 {
                        0.0
                    } else {
                        s.value + (rate * 2.0 * self.rng.unit()).round()
                    }
                }
                Kind::Gauge { base, spread } => {
                    let step = spread * 0.1 * (self.rng.unit() - 0.5);
                    let v = s.value + step;
                    if (v - base).abs() > spread { base } else { v }
                }
                Kind::Hist { hist, part } => {
                    let h = &self.hists[hist];
                    match part {
                        HistPart::Bucket(i) => h.buckets[i],
                        HistPart::Sum => h.sum,
                        HistPart::Count => h.buckets[LE.len() - 1],
                    }
                }
            };
        }
    }
}

/// Adds series node by node until the limit.
struct Builder {
    rng: Rng,
    series: Vec<Series>,
    hists: Vec<Hist>,
    limit: usize,
}

impl Builder {
    fn push(&mut self, name: &str, labels: &[(&str, &str)], kind: Kind) {
        if self.series.len() >= self.limit {
            return;
        }
        let mut l: Vec<(String, String)> = Vec::with_capacity(labels.len() + 1);
        l.push(("__name__".into(), name.into()));
        l.extend(
            labels
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned())),
        );
        l.sort();
        let value = match kind {
            Kind::Counter { rate } => (rate * 1000.0 * self.rng.unit()).round(),
            Kind::Gauge { base, .. } => base,
            Kind::Hist { .. } => 0.0,
        };
        self.series.push(Series {
            labels: l,
            kind,
            value,
        });
    }

    fn counter(&mut self, rate: f64) -> Kind {
        Kind::Counter {
            rate: rate * (0.5 + self.rng.unit()),
        }
    }

    fn gauge(&mut self, base: f64) -> Kind {
        Kind::Gauge {
            base: base * (0.5 + self.rng.unit()),
            spread: base * 0.2,
        }
    }

    fn node(&mut self, n: usize) {
        let node = format!("node-{n:05}");
        let instance = format!("10.{}.{}.{}:9100", n / 65536, (n / 256) % 256, n % 256);
        let base = [
            ("instance", instance.as_str()),
            ("job", "node-exporter"),
            ("node", &node),
        ];
        for cpu in 0..4 {
            let cpu = cpu.to_string();
            for mode in [
                "idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user",
            ] {
                let mut l = base.to_vec();
                l.extend([("cpu", cpu.as_str()), ("mode", mode)]);
                let k = self.counter(if mode == "idle" { 12.0 } else { 1.0 });
                self.push("node_cpu_seconds_total", &l, k);
            }
        }
        for (name, v) in [
            ("node_memory_MemTotal_bytes", 3.3e10),
            ("node_memory_MemAvailable_bytes", 1.6e10),
            ("node_memory_Cached_bytes", 8e9),
            ("node_load1", 1.5),
            ("node_load5", 1.4),
            ("node_load15", 1.3),
        ] {
            let k = self.gauge(v);
            self.push(name, &base, k);
        }
        for (device, mount) in [("sda1", "/"), ("sdb1", "/var/lib/kubelet")] {
            let mut l = base.to_vec();
            l.extend([
                ("device", device),
                ("fstype", "ext4"),
                ("mountpoint", mount),
            ]);
            let k = self.gauge(5e10);
            self.push("node_filesystem_avail_bytes", &l, k);
            let k = self.gauge(1e11);
            self.push("node_filesystem_size_bytes", &l, k);
        }
        for device in ["eth0", "cni0"] {
            let mut l = base.to_vec();
            l.push(("device", device));
            let k = self.counter(2e6);
            self.push("node_network_receive_bytes_total", &l, k);
            let k = self.counter(1e6);
            self.push("node_network_transmit_bytes_total", &l, k);
        }
        for p in 0..PODS_PER_NODE {
            self.pod(&node, n * PODS_PER_NODE + p);
        }
    }

    fn pod(&mut self, node: &str, p: usize) {
        let namespace = format!("team-{}", p % 17);
        let app = format!("svc-{}", p % 97);
        let pod = format!("{app}-{:08x}", (p as u64).wrapping_mul(0x9e37_79b9) as u32);
        let ksm = [
            ("job", "kube-state-metrics"),
            ("namespace", namespace.as_str()),
            ("pod", pod.as_str()),
        ];
        for phase in ["Failed", "Pending", "Running", "Succeeded", "Unknown"] {
            let mut l = ksm.to_vec();
            l.push(("phase", phase));
            let v = if phase == "Running" { 1.0 } else { 0.0 };
            self.push(
                "kube_pod_status_phase",
                &l,
                Kind::Gauge {
                    base: v,
                    spread: 0.0,
                },
            );
        }
        let mut l = ksm.to_vec();
        l.push(("container", app.as_str()));
        let k = self.counter(0.001);
        self.push("kube_pod_container_status_restarts_total", &l, k);
        let mut l = ksm.to_vec();
        l.extend([("node", node), ("created_by_kind", "ReplicaSet")]);
        self.push(
            "kube_pod_info",
            &l,
            Kind::Gauge {
                base: 1.0,
                spread: 0.0,
            },
        );

        let cadvisor = [
            ("container", app.as_str()),
            ("job", "kubelet"),
            ("metrics_path", "/metrics/cadvisor"),
            ("namespace", namespace.as_str()),
            ("node", node),
            ("pod", pod.as_str()),
        ];
        let k = self.counter(3.0);
        self.push("container_cpu_usage_seconds_total", &cadvisor, k);
        let k = self.gauge(3e8);
        self.push("container_memory_working_set_bytes", &cadvisor, k);
        let k = self.counter(1e5);
        self.push("container_network_receive_bytes_total", &cadvisor, k);

        let app_labels = [
            ("job", app.as_str()),
            ("namespace", namespace.as_str()),
            ("pod", pod.as_str()),
        ];
        for handler in ["/api/v1/items", "/healthz"] {
            for (method, code, rate) in [
                ("GET", "200", 50.0),
                ("GET", "500", 0.5),
                ("POST", "201", 5.0),
            ] {
                let mut l = app_labels.to_vec();
                l.extend([("code", code), ("handler", handler), ("method", method)]);
                let k = self.counter(rate);
                self.push("http_requests_total", &l, k);
            }
            let hist = self.hists.len();
            self.hists.push(Hist {
                rate: 20.0 * (0.5 + self.rng.unit()),
                buckets: [0.0; 12],
                sum: 0.0,
            });
            for (i, le) in LE.iter().enumerate() {
                let mut l = app_labels.to_vec();
                l.extend([("handler", handler), ("le", le)]);
                let part = HistPart::Bucket(i);
                self.push(
                    "http_request_duration_seconds_bucket",
                    &l,
                    Kind::Hist { hist, part },
                );
            }
            let mut l = app_labels.to_vec();
            l.push(("handler", handler));
            let sum = Kind::Hist {
                hist,
                part: HistPart::Sum,
            };
            self.push("http_request_duration_seconds_sum", &l, sum);
            let count = Kind::Hist {
                hist,
                part: HistPart::Count,
            };
            self.push("http_request_duration_seconds_count", &l, count);
        }
    }
}

/// A small deterministic generator (SplitMix64): the same sequence everywhere.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn generator(seed: u64, series: usize) -> Generator {
        Generator::new(&Workload { seed, series })
    }

    #[test]
    fn exact_count_unique_sorted_labels() {
        for n in [1, 47, 1_000, 25_000] {
            let g = generator(1, n);
            assert_eq!(g.series().len(), n);
            let mut seen = HashSet::new();
            for s in g.series() {
                assert!(
                    s.labels.windows(2).all(|w| w[0].0 < w[1].0),
                    "{:?}",
                    s.labels
                );
                assert!(
                    s.labels
                        .iter()
                        .any(|(n, v)| n == "__name__" && !v.is_empty())
                );
                assert!(seen.insert(s.labels.clone()), "duplicate {:?}", s.labels);
            }
        }
    }

    #[test]
    fn deterministic_by_seed() {
        let mut a = generator(7, 5_000);
        let mut b = generator(7, 5_000);
        let mut c = generator(8, 5_000);
        for _ in 0..3 {
            a.scrape();
            b.scrape();
            c.scrape();
        }
        let vals = |g: &Generator| {
            g.series()
                .iter()
                .map(|s| s.value.to_bits())
                .collect::<Vec<_>>()
        };
        assert_eq!(vals(&a), vals(&b));
        assert_ne!(vals(&a), vals(&c));
    }

    #[test]
    fn histograms_stay_cumulative_and_counters_grow() {
        let mut g = generator(3, 10_000);
        let before: Vec<f64> = g.series().iter().map(|s| s.value).collect();
        for _ in 0..20 {
            g.scrape();
        }
        let mut grew = 0;
        for (s, b) in g.series().iter().zip(&before) {
            if s.labels[0].1.ends_with("_total") && s.value > *b {
                grew += 1;
            }
        }
        assert!(grew > 1_000, "only {grew} counters grew");
        // Every histogram: buckets non-decreasing in `le` order, `+Inf` equals `_count`.
        let series = g.series();
        let mut i = 0;
        let mut checked = 0;
        while i < series.len() {
            if series[i].labels[0].1 == "http_request_duration_seconds_bucket"
                && i + LE.len() + 1 < series.len()
            {
                let b: Vec<f64> = series[i..i + LE.len()].iter().map(|s| s.value).collect();
                assert!(b.windows(2).all(|w| w[0] <= w[1]), "{b:?}");
                assert_eq!(b[LE.len() - 1], series[i + LE.len() + 1].value);
                assert!(b[LE.len() - 1] > 0.0);
                checked += 1;
                i += LE.len() + 2;
            } else {
                i += 1;
            }
        }
        assert!(checked > 10);
    }

    #[test]
    fn shape_per_node() {
        // One node: 46 node-exporter series and 30 pods × 44 series.
        let g = generator(1, 100_000);
        let nodes: HashSet<&str> = g
            .series()
            .iter()
            .filter_map(|s| {
                s.labels
                    .iter()
                    .find(|(n, _)| n == "node")
                    .map(|(_, v)| v.as_str())
            })
            .collect();
        let per_node = 46 + PODS_PER_NODE * 44;
        assert_eq!(nodes.len(), 100_000_usize.div_ceil(per_node));
    }
}
