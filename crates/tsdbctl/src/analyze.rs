//! `tsdbctl analyze`: cardinality of a data directory's blocks (all, or one), like
//! `promtool tsdb analyze`: metric names by series count, label names by distinct values
//! and by series count, label pairs by series count, and churn between consecutive
//! blocks (series new in a block and series gone since the previous one).
//!
//! A series present in several blocks counts once. `--match` restricts everything to the
//! series its selector picks, evaluated on each block's postings. The series are read
//! from the index one at a time; memory holds one 64-bit hash per distinct series and
//! one counter per label pair. Tombstones are not applied (they hide samples, not series).

use std::collections::{HashMap, HashSet};
use std::io::Write;

use anyhow::{Context, Result, bail};
use tsdb::Block;
use tsdb::block::{BlockMeta, Ulid};
use tsdb::index::SeriesEntry;
use tsdb::index::reader::SymbolCache;
use tsdb::labels::{Labels, Matcher};

use crate::datadir::{Location, open_blocks};
use crate::output::{Table, rfc3339};

/// Counts of one label pair or name.
#[derive(Debug, Default)]
struct NameStats {
    series: u64,
    values: HashSet<String>,
}

/// Churn of one block against the previous one.
#[derive(Debug)]
struct BlockChurn {
    meta: BlockMeta,
    series: u64,
    /// `None` for the first block.
    new: Option<u64>,
    gone: Option<u64>,
}

#[derive(Debug, Default)]
struct Analysis {
    series: u64,
    metric_series: HashMap<String, u64>,
    names: HashMap<String, NameStats>,
    pairs: HashMap<(String, String), u64>,
    churn: Vec<BlockChurn>,
    /// Metric name → (new, gone) over consecutive blocks.
    metric_churn: HashMap<String, (u64, u64)>,
}

pub(crate) fn run(
    at: Location<'_>,
    block: Option<Ulid>,
    matchers: Option<&[Matcher]>,
    limit: usize,
    json: bool,
) -> Result<()> {
    let open = open_blocks(at, block)?;
    if open.blocks.is_empty() {
        bail!("no blocks in {}", at.name());
    }
    let a = analyze(&open.blocks, matchers)?;
    let out = std::io::stdout();
    let mut out = out.lock();
    if json {
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&to_json(&a, limit))?
        )?;
    } else {
        write_tables(&mut out, &a, limit)?;
    }
    Ok(())
}

fn analyze(blocks: &[Block], matchers: Option<&[Matcher]>) -> Result<Analysis> {
    let mut a = Analysis::default();
    let mut seen: HashSet<u64> = HashSet::new();
    // The previous block's series: hash → metric name.
    let mut prev: Option<HashMap<u64, String>> = None;
    let mut entry = SeriesEntry::default();
    for b in blocks {
        let m = b.meta();
        // Symbol references are per index: one cache per block.
        let mut cache = SymbolCache::new();
        let ix = b.index();
        let ids = match matchers {
            Some(ms) => tsdb::index::postings::postings_for_matchers(ix, ms),
            None => ix.all_series(),
        }
        .with_context(|| format!("reading the postings of block {}", m.ulid))?;
        let mut cur: HashMap<u64, String> = HashMap::with_capacity(ids.len() as usize);
        for id in &ids {
            ix.series_into(id, &mut entry)
                .and_then(|()| ix.labels(&entry.labels, &mut cache))
                .map(|l| add_series(&mut a, &mut seen, &mut cur, &l))
                .with_context(|| format!("reading series {id} of block {}", m.ulid))?;
        }
        let (new, gone) = match &prev {
            None => (None, None),
            Some(p) => {
                let mut new = 0;
                for (h, name) in &cur {
                    if !p.contains_key(h) {
                        new += 1;
                        a.metric_churn.entry(name.clone()).or_default().0 += 1;
                    }
                }
                let mut gone = 0;
                for (h, name) in p {
                    if !cur.contains_key(h) {
                        gone += 1;
                        a.metric_churn.entry(name.clone()).or_default().1 += 1;
                    }
                }
                (Some(new), Some(gone))
            }
        };
        a.churn.push(BlockChurn {
            meta: m.clone(),
            series: cur.len() as u64,
            new,
            gone,
        });
        prev = Some(cur);
    }
    Ok(a)
}

fn add_series(
    a: &mut Analysis,
    seen: &mut HashSet<u64>,
    cur: &mut HashMap<u64, String>,
    l: &Labels,
) {
    let h = l.hash_value();
    let name = l.get("__name__").unwrap_or("").to_owned();
    cur.insert(h, name.clone());
    if !seen.insert(h) {
        return;
    }
    a.series += 1;
    *a.metric_series.entry(name).or_default() += 1;
    for lb in l.iter() {
        let ns = a.names.entry(lb.name.to_string()).or_default();
        ns.series += 1;
        if !ns.values.contains(lb.value.as_str()) {
            ns.values.insert(lb.value.to_string());
        }
        *a.pairs
            .entry((lb.name.to_string(), lb.value.to_string()))
            .or_default() += 1;
    }
}

/// `(key, count)` sorted by count descending, then key, cut to `limit`.
fn top<K: Ord + Clone>(it: impl Iterator<Item = (K, u64)>, limit: usize) -> Vec<(K, u64)> {
    let mut v: Vec<(K, u64)> = it.collect();
    v.sort_by(|x, y| y.1.cmp(&x.1).then_with(|| x.0.cmp(&y.0)));
    v.truncate(limit);
    v
}

type Tops = (
    Vec<(String, u64)>,
    Vec<(String, u64)>,
    Vec<(String, u64)>,
    Vec<((String, String), u64)>,
    Vec<(String, (u64, u64))>,
);

fn tops(a: &Analysis, limit: usize) -> Tops {
    let metrics = top(a.metric_series.iter().map(|(k, v)| (k.clone(), *v)), limit);
    let by_values = top(
        a.names
            .iter()
            .map(|(k, v)| (k.clone(), v.values.len() as u64)),
        limit,
    );
    let by_series = top(a.names.iter().map(|(k, v)| (k.clone(), v.series)), limit);
    let pairs = top(a.pairs.iter().map(|(k, v)| (k.clone(), *v)), limit);
    let mut churn: Vec<(String, (u64, u64))> = a
        .metric_churn
        .iter()
        .map(|(k, v)| (k.clone(), *v))
        .collect();
    churn.sort_by(|x, y| {
        (y.1.0 + y.1.1)
            .cmp(&(x.1.0 + x.1.1))
            .then_with(|| x.0.cmp(&y.0))
    });
    churn.truncate(limit);
    (metrics, by_values, by_series, pairs, churn)
}

fn to_json(a: &Analysis, limit: usize) -> serde_json::Value {
    use serde_json::json;
    let (metrics, by_values, by_series, pairs, churn) = tops(a, limit);
    json!({
        "blocks": a.churn.iter().map(|c| c.meta.ulid.to_string()).collect::<Vec<_>>(),
        "series": a.series,
        "labelNames": a.names.len(),
        "labelPairs": a.pairs.len(),
        "metricNames": metrics.iter().map(|(n, s)| json!({"name": n, "series": s})).collect::<Vec<_>>(),
        "labelNamesByValues": by_values.iter().map(|(n, s)| json!({"name": n, "values": s})).collect::<Vec<_>>(),
        "labelNamesBySeries": by_series.iter().map(|(n, s)| json!({"name": n, "series": s})).collect::<Vec<_>>(),
        "labelPairsBySeries": pairs.iter().map(|((n, v), s)| json!({"name": n, "value": v, "series": s})).collect::<Vec<_>>(),
        "churn": a.churn.iter().map(|c| json!({
            "block": c.meta.ulid.to_string(),
            "minTime": c.meta.min_time,
            "maxTime": c.meta.max_time,
            "series": c.series,
            "new": c.new,
            "gone": c.gone,
        })).collect::<Vec<_>>(),
        "metricNamesByChurn": churn.iter().map(|(n, (new, gone))| json!({
            "name": n, "new": new, "gone": gone, "churn": new + gone,
        })).collect::<Vec<_>>(),
    })
}

fn write_tables(out: &mut impl Write, a: &Analysis, limit: usize) -> Result<()> {
    let (metrics, by_values, by_series, pairs, churn) = tops(a, limit);
    let first = a.churn.first().map_or(0, |c| c.meta.min_time);
    let last = a.churn.last().map_or(0, |c| c.meta.max_time);
    writeln!(
        out,
        "Blocks: {} ({} to {})\nSeries: {}\nLabel names: {}\nLabel pairs: {}",
        a.churn.len(),
        rfc3339(first),
        rfc3339(last),
        a.series,
        a.names.len(),
        a.pairs.len()
    )?;
    let section = |out: &mut dyn Write, title: &str| writeln!(out, "\n{title}:");
    section(out, "Metric names by series count")?;
    let mut t = Table::new(&["SERIES", "METRIC"]);
    for (n, s) in &metrics {
        t.row(vec![s.to_string(), n.clone()]);
    }
    t.write(out)?;
    section(out, "Label names by distinct values")?;
    let mut t = Table::new(&["VALUES", "LABEL"]);
    for (n, s) in &by_values {
        t.row(vec![s.to_string(), n.clone()]);
    }
    t.write(out)?;
    section(out, "Label names by series count")?;
    let mut t = Table::new(&["SERIES", "LABEL"]);
    for (n, s) in &by_series {
        t.row(vec![s.to_string(), n.clone()]);
    }
    t.write(out)?;
    section(out, "Label pairs by series count")?;
    let mut t = Table::new(&["SERIES", "PAIR"]);
    for ((n, v), s) in &pairs {
        t.row(vec![s.to_string(), format!("{n}={v:?}")]);
    }
    t.write(out)?;
    section(out, "Churn between consecutive blocks")?;
    let mut t = Table::new(&["BLOCK", "MIN TIME", "SERIES", "NEW", "GONE"]);
    let opt = |v: Option<u64>| v.map_or_else(|| "-".to_owned(), |v| v.to_string());
    for c in &a.churn {
        t.row(vec![
            c.meta.ulid.to_string(),
            rfc3339(c.meta.min_time),
            c.series.to_string(),
            opt(c.new),
            opt(c.gone),
        ]);
    }
    t.write(out)?;
    section(out, "Metric names by churn")?;
    let mut t = Table::new(&["CHURN", "NEW", "GONE", "METRIC"]);
    for (n, (new, gone)) in &churn {
        t.row(vec![
            (new + gone).to_string(),
            new.to_string(),
            gone.to_string(),
            n.clone(),
        ]);
    }
    t.write(out)
}
