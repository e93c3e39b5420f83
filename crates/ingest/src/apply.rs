//! Applying a decoded request to the head: validate each series, append its samples,
//! exemplars and metadata into one [`tsdb::head::HeadAppender`] batch, commit it (one WAL
//! write, durable before returning), and report what happened in an [`Outcome`].
//!
//! Policy (documented in `docs/compatibility.md`): valid data of a partly bad request is
//! written and made durable; whatever was refused is counted by reason, and the first
//! refusal is described in [`Outcome::first_error`] so the server can answer 400.

use std::collections::HashMap;

use tsdb::head::exemplars::Exemplar as HeadExemplar;
use tsdb::head::metadata::MetadataEntry;
use tsdb::labels::{Label as TsdbLabel, Labels};
use tsdb::record::MetricType;
use tsdb::{AppendError, Head};

use self::newest::Newest;
use crate::decode::{Label, WriteRequest};
use crate::error::Result;
use crate::limits::Limits;
use crate::validate::{Invalid, RejectReason, effective, format_labels, validate_series};

/// What happened to a request's data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Float samples written (durable), including exact duplicates of stored samples.
    pub samples_written: u64,
    /// Exemplars written (durable).
    pub exemplars_written: u64,
    /// Native histogram samples written (always 0 until histograms are stored).
    pub histograms_written: u64,
    /// Series refused as a whole (bad labels).
    pub series_rejected: u64,
    /// Refused items (samples, histograms, exemplars) by reason.
    pub rejected: HashMap<RejectReason, u64>,
    /// The first refusal that makes the request a 400, with the series it concerns.
    pub first_error: Option<String>,
}

impl Outcome {
    /// Total refused samples, histograms and exemplars.
    pub fn rejected_total(&self) -> u64 {
        self.rejected.values().sum()
    }

    /// Whether the response must be 400 (something will never be accepted).
    pub fn is_bad_request(&self) -> bool {
        self.first_error.is_some()
    }

    /// The 400 message: the first error, plus how much was refused in all.
    pub fn message(&self) -> Option<String> {
        let first = self.first_error.as_ref()?;
        Some(format!(
            "{first} ({} samples/histograms/exemplars and {} series rejected in total; {} samples written)",
            self.rejected_total(),
            self.series_rejected,
            self.samples_written
        ))
    }

    fn reject(&mut self, reason: RejectReason, n: u64, what: impl FnOnce() -> String) {
        if n == 0 {
            return;
        }
        *self.rejected.entry(reason).or_default() += n;
        // Exemplar refusals are counted but do not fail the request, as in Prometheus.
        let fails = !matches!(
            reason,
            RejectReason::ExemplarOutOfOrder | RejectReason::ExemplarLabelsTooLong
        );
        if fails && self.first_error.is_none() {
            self.first_error = Some(what());
        }
    }
}

fn metric_type(t: i32) -> MetricType {
    u8::try_from(t).map_or(MetricType::Unknown, MetricType::from_byte)
}

fn reason_of(e: &tsdb::Error) -> Option<RejectReason> {
    match e {
        tsdb::Error::Append(a) => Some(match a {
            AppendError::OutOfBounds => RejectReason::OutOfBounds,
            AppendError::OutOfOrder => RejectReason::OutOfOrder,
            AppendError::DuplicateSampleForTimestamp => RejectReason::DuplicateTimestamp,
            AppendError::OutOfOrderExemplar => RejectReason::ExemplarOutOfOrder,
            AppendError::ExemplarLabelsTooLong => RejectReason::ExemplarLabelsTooLong,
            _ => RejectReason::MissingMetricName,
        }),
        _ => None,
    }
}

/// What [`apply_with`] allocates per request, kept for the next request (see
/// [`crate::Scratch`]).
#[derive(Debug, Default)]
pub struct ApplyScratch {
    newest: Newest,
    checked: Vec<Result<(), Invalid>>,
}

impl ApplyScratch {
    /// Bytes the kept allocations hold, roughly.
    pub fn retained_bytes(&self) -> usize {
        self.newest.retained_bytes()
            + self.checked.capacity() * std::mem::size_of::<Result<(), Invalid>>()
    }
}

/// Writes `req` into `head`. `now_ms` is the server's clock (for the future-sample
/// limit). Returns an error only when the storage fails (nothing of the request is then
/// acknowledged); refusals of the sender's data are in the [`Outcome`].
pub fn apply(head: &Head, req: &WriteRequest<'_>, limits: &Limits, now_ms: i64) -> Result<Outcome> {
    apply_with(head, req, limits, now_ms, &mut ApplyScratch::default())
}

/// [`apply`] with its per-request tables and vectors taken from `scratch`.
pub fn apply_with(
    head: &Head,
    req: &WriteRequest<'_>,
    limits: &Limits,
    now_ms: i64,
    scratch: &mut ApplyScratch,
) -> Result<Outcome> {
    let mut out = Outcome::default();
    let mut app = head.appender();
    app.reserve(req.samples.len());
    let max_t = now_ms.saturating_add(limits.max_ahead_ms);
    // The newest sample accepted per series in this request: the head checks samples
    // against committed data only.
    let newest = &mut scratch.newest;
    newest.reset(req.samples.len());
    let mut samples_added = 0u64;
    let mut exemplars_added = 0u64;
    // Validated first, then every valid series found in one batch (its lookups' cache
    // misses overlap), then appended to in request order.
    let checked = &mut scratch.checked;
    checked.clear();
    checked.extend(
        req.series
            .iter()
            .map(|s| validate_series(req.labels_of(s), s.defect, limits)),
    );
    let mut found = head
        .series_by_pairs_many(
            req.series
                .iter()
                .zip(checked.iter())
                .map(|(s, c)| c.is_ok().then(|| effective(req.labels_of(s))))
                .collect(),
        )
        .into_iter();
    for ((i, s), checked) in req.series.iter().enumerate().zip(checked.drain(..)) {
        let found = found.next().flatten();
        let labels: &[Label<'_>] = req.labels_of(s);
        let samples = req.samples_of(s);
        let exemplars = req.exemplars_of(s);
        let describe = |what: &str| -> String {
            if s.defect.is_some() {
                format!("series #{i}: {what}")
            } else {
                format!("series {}: {what}", format_labels(labels))
            }
        };
        if let Err(inv) = checked {
            out.series_rejected += 1;
            let n = samples.len() as u64 + u64::from(s.histograms) + exemplars.len() as u64;
            out.reject(inv.reason, n.max(1), || describe(&inv.detail));
            continue;
        }
        out.reject(
            RejectReason::NativeHistogram,
            u64::from(s.histograms),
            || describe("native histograms are not supported yet"),
        );
        let pairs = effective(labels);
        // Found once per series of the request; created on its first accepted item.
        let mut series = found;
        for smp in samples {
            if smp.t > max_t {
                out.reject(RejectReason::TooFarInFuture, 1, || {
                    describe(&format!(
                        "sample at {} is more than {} ms ahead of the server's clock",
                        smp.t, limits.max_ahead_ms
                    ))
                });
                continue;
            }
            if let Some((t, bits)) = series.as_ref().and_then(|s| newest.get(s.series_ref())) {
                if smp.t < t {
                    out.reject(RejectReason::OutOfOrder, 1, || {
                        describe(&format!("out of order sample (timestamp {})", smp.t))
                    });
                    continue;
                }
                if smp.t == t {
                    if smp.v.to_bits() == bits {
                        samples_added += 1;
                    } else {
                        out.reject(RejectReason::DuplicateTimestamp, 1, || {
                            describe(&format!(
                                "duplicate sample for timestamp (timestamp {})",
                                smp.t
                            ))
                        });
                    }
                    continue;
                }
            }
            let res = match series.as_mut() {
                Some(s) => app.append_to(s, smp.t, smp.v),
                None => match head.get_or_create_by_pairs(pairs.clone()) {
                    Ok(s) => app.append_to(series.insert(s), smp.t, smp.v),
                    Err(e) => Err(e),
                },
            };
            match res {
                Ok(r) => {
                    newest.insert(r, smp.t, smp.v.to_bits());
                    samples_added += 1;
                }
                Err(e) => match reason_of(&e) {
                    Some(reason) => out.reject(reason, 1, || {
                        describe(&format!("{e} (timestamp {})", smp.t))
                    }),
                    None => return Err(e.into()),
                },
            }
        }
        for e in exemplars {
            let elabels: Vec<TsdbLabel> = effective(req.exemplar_labels_of(e))
                .map(|(n, v)| TsdbLabel::new(n, v))
                .collect();
            let ex = HeadExemplar {
                labels: Labels::new(elabels),
                v: e.v,
                t: e.t,
            };
            let res = match &series {
                Some(s) => app.add_exemplar_to(s, ex),
                None => head
                    .get_or_create_by_pairs(pairs.clone())
                    .and_then(|s| app.add_exemplar_to(series.insert(s), ex)),
            };
            match res {
                Ok(true) => exemplars_added += 1,
                Ok(false) => {}
                Err(err) => match reason_of(&err) {
                    Some(reason) => out.reject(reason, 1, || describe(&err.to_string())),
                    None => return Err(err.into()),
                },
            }
        }
        if let Some(m) = s.metadata {
            let s = match series.take() {
                Some(s) => s,
                None => head.get_or_create_by_pairs(pairs.clone())?,
            };
            app.set_metadata_to(&s, metric_type(m.metric_type), m.unit, m.help)?;
        }
    }
    app.commit_batch()?;
    for m in &req.metadata {
        head.family_metadata().set(
            m.family,
            MetadataEntry {
                metric_type: metric_type(m.metric_type),
                help: m.help.to_owned(),
                unit: m.unit.to_owned(),
            },
        );
    }
    out.samples_written = samples_added;
    out.exemplars_written = exemplars_added;
    Ok(out)
}

mod newest;

#[cfg(test)]
mod tests;
