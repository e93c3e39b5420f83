//! Decoding `io.prometheus.write.v2.Request` (Remote Write 2.0): the symbol table first
//! (its field may come after the series on the wire), then the series with their label
//! references resolved to borrowed strings.

use super::wire::{Reader, WireType};
use super::{
    Exemplar, Label, Sample, SeriesDefect, SeriesMetadata, TimeSeries, WriteRequest, idx,
    push_series,
};
use crate::error::{Error, Result};
use crate::limits::Limits;

pub(super) fn decode<'a>(
    body: &'a [u8],
    limits: &Limits,
    mut req: WriteRequest<'a>,
) -> Result<WriteRequest<'a>> {
    let mut symbols: Vec<&'a str> = Vec::new();
    let mut r = Reader::new(body);
    while !r.is_empty() {
        match r.key()? {
            (4, WireType::Len) => symbols.push(r.string()?),
            (4, wt) => r.expect(wt, WireType::Len)?,
            (_, wt) => r.skip(wt)?,
        }
    }
    if symbols.first().is_some_and(|s| !s.is_empty()) {
        return Err(Error::FirstSymbolNotEmpty);
    }
    let mut r = Reader::new(body);
    while !r.is_empty() {
        match r.key()? {
            (5, WireType::Len) => {
                let mut sub = r.sub()?;
                let s = time_series(&mut sub, &symbols, &mut req)?;
                push_series(&mut req, s, limits)?;
            }
            (5, wt) => r.expect(wt, WireType::Len)?,
            (_, wt) => r.skip(wt)?,
        }
    }
    Ok(req)
}

/// Resolves name/value reference pairs into labels pushed onto `out`.
struct Pairs<'s, 'a> {
    symbols: &'s [&'a str],
    name: Option<&'a str>,
    defect: Option<SeriesDefect>,
}

impl<'s, 'a> Pairs<'s, 'a> {
    fn new(symbols: &'s [&'a str]) -> Self {
        Pairs {
            symbols,
            name: None,
            defect: None,
        }
    }

    fn push(&mut self, r: u32, out: &mut Vec<Label<'a>>, count: &mut usize) {
        *count += 1;
        if self.defect.is_some() {
            return;
        }
        let Some(&s) = self.symbols.get(r as usize) else {
            self.defect = Some(SeriesDefect::SymbolOutOfRange {
                index: r,
                symbols: self.symbols.len(),
            });
            return;
        };
        match self.name.take() {
            None => self.name = Some(s),
            Some(name) => out.push(Label { name, value: s }),
        }
    }

    fn finish(&mut self, count: usize) -> Option<SeriesDefect> {
        if self.defect.is_none() && count % 2 == 1 {
            self.defect = Some(SeriesDefect::OddLabelRefs { len: count });
        }
        self.defect
    }
}

fn symbol<'a>(symbols: &[&'a str], r: u32) -> std::result::Result<&'a str, SeriesDefect> {
    symbols
        .get(r as usize)
        .copied()
        .ok_or(SeriesDefect::SymbolOutOfRange {
            index: r,
            symbols: symbols.len(),
        })
}

fn time_series<'a>(
    r: &mut Reader<'a>,
    symbols: &[&'a str],
    req: &mut WriteRequest<'a>,
) -> Result<TimeSeries<'a>> {
    let (l0, s0, e0) = (
        idx(req.labels.len()),
        idx(req.samples.len()),
        idx(req.exemplars.len()),
    );
    let mut pairs = Pairs::new(symbols);
    let mut nrefs = 0usize;
    let mut histograms = 0u32;
    let mut metadata = None;
    let mut defect = None;
    while !r.is_empty() {
        match r.key()? {
            (1, wt) => r.repeated_u32(wt, |x| {
                pairs.push(x, &mut req.labels, &mut nrefs);
                Ok(())
            })?,
            (2, WireType::Len) => {
                let s = sample(&mut r.sub()?)?;
                req.samples.push(s);
            }
            (3, WireType::Len) => {
                r.sub()?;
                histograms = histograms.saturating_add(1);
            }
            (4, WireType::Len) => {
                let (e, d) = exemplar(&mut r.sub()?, symbols, req)?;
                req.exemplars.push(e);
                defect = defect.or(d);
            }
            (5, WireType::Len) => {
                let (m, d) = meta(&mut r.sub()?, symbols)?;
                metadata = Some(m);
                defect = defect.or(d);
            }
            (2..=5, wt) => r.expect(wt, WireType::Len)?,
            (_, wt) => r.skip(wt)?,
        }
    }
    let defect = pairs.finish(nrefs).or(defect);
    if defect.is_some() {
        req.labels.truncate(l0 as usize);
    }
    Ok(TimeSeries {
        labels: l0..idx(req.labels.len()),
        samples: s0..idx(req.samples.len()),
        exemplars: e0..idx(req.exemplars.len()),
        histograms,
        metadata,
        defect,
    })
}

fn sample(r: &mut Reader<'_>) -> Result<Sample> {
    let mut s = Sample { t: 0, v: 0.0 };
    while !r.is_empty() {
        match r.key()? {
            (1, wt) => s.v = r.f64(wt)?,
            (2, wt) => s.t = r.i64(wt)?,
            (_, wt) => r.skip(wt)?,
        }
    }
    Ok(s)
}

fn exemplar<'a>(
    r: &mut Reader<'a>,
    symbols: &[&'a str],
    req: &mut WriteRequest<'a>,
) -> Result<(Exemplar, Option<SeriesDefect>)> {
    let start = idx(req.exemplar_labels.len());
    let mut pairs = Pairs::new(symbols);
    let mut nrefs = 0usize;
    let (mut t, mut v) = (0, 0.0);
    while !r.is_empty() {
        match r.key()? {
            (1, wt) => r.repeated_u32(wt, |x| {
                pairs.push(x, &mut req.exemplar_labels, &mut nrefs);
                Ok(())
            })?,
            (2, wt) => v = r.f64(wt)?,
            (3, wt) => t = r.i64(wt)?,
            (_, wt) => r.skip(wt)?,
        }
    }
    let defect = pairs.finish(nrefs);
    if defect.is_some() {
        req.exemplar_labels.truncate(start as usize);
    }
    let e = Exemplar {
        t,
        v,
        labels: start..idx(req.exemplar_labels.len()),
    };
    Ok((e, defect))
}

fn meta<'a>(
    r: &mut Reader<'a>,
    symbols: &[&'a str],
) -> Result<(SeriesMetadata<'a>, Option<SeriesDefect>)> {
    let (mut metric_type, mut help_ref, mut unit_ref) = (0, 0, 0);
    while !r.is_empty() {
        match r.key()? {
            (1, wt) => metric_type = r.i32(wt)?,
            (3, wt) => help_ref = r.u32(wt)?,
            (4, wt) => unit_ref = r.u32(wt)?,
            (_, wt) => r.skip(wt)?,
        }
    }
    // Reference 0 is "unset" and valid even in a request without symbols.
    let resolve = |x: u32| if x == 0 { Ok("") } else { symbol(symbols, x) };
    let (help, unit, defect) = match (resolve(help_ref), resolve(unit_ref)) {
        (Ok(h), Ok(u)) => (h, u, None),
        (Err(d), _) | (_, Err(d)) => ("", "", Some(d)),
    };
    Ok((
        SeriesMetadata {
            metric_type,
            help,
            unit,
        },
        defect,
    ))
}
