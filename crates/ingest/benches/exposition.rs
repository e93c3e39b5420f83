//! Parse throughput of `ingest::exposition`: 10,000 lines of node-exporter-like samples
//! (four labels, a timestamp) in the text format, OpenMetrics and CSV, in bytes per
//! second, as `tsdbctl backfill` reads them.

use criterion::{Criterion, Throughput};
use ingest::exposition::{Format, Parser};

const LINES: usize = 10_000;

fn input(format: Format) -> String {
    let mut s = String::new();
    if format == Format::Csv {
        s.push_str("metric,cpu,instance,job,mode,timestamp,value\n");
    }
    for i in 0..LINES {
        let t = 1_700_000_000_000i64 + (i as i64 / 40) * 15_000;
        let (cpu, mode) = (i % 8, ["idle", "user", "system", "iowait", "irq"][i % 5]);
        let v = i as f64 * 1.25;
        match format {
            Format::Csv => s.push_str(&format!(
                "node_cpu_seconds_total,{cpu},host-{}:9100,node,{mode},{}.{:03},{v}\n",
                i % 40,
                t / 1000,
                t % 1000
            )),
            Format::OpenMetrics => s.push_str(&format!(
                "node_cpu_seconds_total{{cpu=\"{cpu}\",instance=\"host-{}:9100\",job=\"node\",mode=\"{mode}\"}} {v} {}.{:03}\n",
                i % 40,
                t / 1000,
                t % 1000
            )),
            _ => s.push_str(&format!(
                "node_cpu_seconds_total{{cpu=\"{cpu}\",instance=\"host-{}:9100\",job=\"node\",mode=\"{mode}\"}} {v} {t}\n",
                i % 40
            )),
        }
    }
    if format == Format::OpenMetrics {
        s.push_str("# EOF\n");
    }
    s
}

fn parse(format: Format, input: &str) -> usize {
    let mut p = Parser::new(format).require_timestamps(true);
    let mut n = 0;
    for line in input.lines() {
        if p.parse_line(line.as_bytes()).expect("parse").is_some() {
            n += 1;
        }
    }
    p.finish().expect("finish");
    n
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("exposition");
    for (name, format) in [
        ("text", Format::Text),
        ("openmetrics", Format::OpenMetrics),
        ("csv", Format::Csv),
    ] {
        let s = input(format);
        g.throughput(Throughput::Bytes(s.len() as u64));
        g.bench_function(name, |b| b.iter(|| parse(format, &s)));
    }
    g.finish();
}

// Written out instead of `criterion_group!`, whose generated `pub fn` has no doc comment.
fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
}
