//! Decoding `prometheus.WriteRequest` (Remote Write 1.0).

use super::wire::{Reader, WireType};
use super::{Exemplar, FamilyMetadata, Label, Sample, TimeSeries, WriteRequest, idx, push_series};
use crate::error::Result;
use crate::limits::Limits;

pub(super) fn decode<'a>(
    body: &'a [u8],
    limits: &Limits,
    mut req: WriteRequest<'a>,
) -> Result<WriteRequest<'a>> {
    let mut r = Reader::new(body);
    while !r.is_empty() {
        match r.key()? {
            (1, WireType::Len) => {
                let mut sub = r.sub()?;
                let s = time_series(&mut sub, &mut req)?;
                push_series(&mut req, s, limits)?;
            }
            (3, WireType::Len) => {
                let mut sub = r.sub()?;
                let m = metadata(&mut sub)?;
                req.metadata.push(m);
            }
            (1 | 3, wt) => r.expect(wt, WireType::Len)?,
            (_, wt) => r.skip(wt)?,
        }
    }
    Ok(req)
}

fn time_series<'a>(r: &mut Reader<'a>, req: &mut WriteRequest<'a>) -> Result<TimeSeries<'a>> {
    let (l0, s0, e0) = (
        idx(req.labels.len()),
        idx(req.samples.len()),
        idx(req.exemplars.len()),
    );
    let mut histograms = 0u32;
    // Labels, samples and exemplars may interleave on the wire; each goes to its own
    // vector, so the ranges stay contiguous.
    while !r.is_empty() {
        match r.key()? {
            (1, WireType::Len) => {
                let l = label(&mut r.sub()?.ascii_checked())?;
                req.labels.push(l);
            }
            (2, WireType::Len) => {
                let s = sample(&mut r.sub()?)?;
                req.samples.push(s);
            }
            (3, WireType::Len) => {
                let e = exemplar(&mut r.sub()?, req)?;
                req.exemplars.push(e);
            }
            (4, WireType::Len) => {
                r.sub()?;
                histograms = histograms.saturating_add(1);
            }
            (1..=4, wt) => r.expect(wt, WireType::Len)?,
            (_, wt) => r.skip(wt)?,
        }
    }
    Ok(TimeSeries {
        labels: l0..idx(req.labels.len()),
        samples: s0..idx(req.samples.len()),
        exemplars: e0..idx(req.exemplars.len()),
        histograms,
        metadata: None,
        defect: None,
    })
}

fn label<'a>(r: &mut Reader<'a>) -> Result<Label<'a>> {
    let mut l = Label {
        name: "",
        value: "",
    };
    while !r.is_empty() {
        match r.key()? {
            (1, WireType::Len) => l.name = r.string()?,
            (2, WireType::Len) => l.value = r.string()?,
            (1 | 2, wt) => r.expect(wt, WireType::Len)?,
            (_, wt) => r.skip(wt)?,
        }
    }
    Ok(l)
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

fn exemplar<'a>(r: &mut Reader<'a>, req: &mut WriteRequest<'a>) -> Result<Exemplar> {
    let start = idx(req.exemplar_labels.len());
    let (mut t, mut v) = (0, 0.0);
    while !r.is_empty() {
        match r.key()? {
            (1, WireType::Len) => {
                let l = label(&mut r.sub()?)?;
                req.exemplar_labels.push(l);
            }
            (1, wt) => r.expect(wt, WireType::Len)?,
            (2, wt) => v = r.f64(wt)?,
            (3, wt) => t = r.i64(wt)?,
            (_, wt) => r.skip(wt)?,
        }
    }
    Ok(Exemplar {
        t,
        v,
        labels: start..idx(req.exemplar_labels.len()),
    })
}

fn metadata<'a>(r: &mut Reader<'a>) -> Result<FamilyMetadata<'a>> {
    let mut m = FamilyMetadata {
        metric_type: 0,
        family: "",
        help: "",
        unit: "",
    };
    while !r.is_empty() {
        match r.key()? {
            (1, wt) => m.metric_type = r.i32(wt)?,
            (2, WireType::Len) => m.family = r.string()?,
            (4, WireType::Len) => m.help = r.string()?,
            (5, WireType::Len) => m.unit = r.string()?,
            (2 | 4 | 5, wt) => r.expect(wt, WireType::Len)?,
            (_, wt) => r.skip(wt)?,
        }
    }
    Ok(m)
}
