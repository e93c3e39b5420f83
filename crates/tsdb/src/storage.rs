//! The storage traits the query engine and the ingester use: [`Queryable`] →
//! [`Querier`] → [`SeriesSet`] → [`Series`] → [`SampleIterator`] for reading, and
//! [`Appendable`] → [`Appender`] for writing (Prometheus's `storage/interface.go`).
//!
//! `promql` sees storage only through these traits, never through the head or a block.
//! Everything returned is owned (`'static`): a series handed out keeps the chunks it
//! reads alive by reference counting, so results may outlive the querier.

use crate::chunkenc::SampleIterator;
use crate::error::{Error, Result};
use crate::labels::{Labels, Matcher, Symbol};

/// A series reference handed out by an [`Appender`]; `0` means "unknown, look it up".
pub type SeriesRef = u64;

/// Information about a select that lets storage skip work (Prometheus's `SelectHints`).
///
/// All fields are advisory: storage may return more than asked.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SelectHints {
    /// Start of the time range needed, in ms (inclusive).
    pub start: i64,
    /// End of the time range needed, in ms (inclusive).
    pub end: i64,
    /// Query step in ms; 0 for an instant query.
    pub step: i64,
    /// The function the selector feeds, if any (`"rate"`, `"series"` for metadata calls).
    pub func: Option<String>,
    /// The range of a range selector in ms, 0 for an instant selector.
    pub range: i64,
    /// Labels of an enclosing aggregation's `by`/`without` clause.
    pub grouping: Vec<String>,
    /// Whether `grouping` is a `by` (true) or `without` (false) clause.
    pub by: bool,
    /// Return at most this many series (0 = no limit).
    pub limit: usize,
}

/// Hints for label-name and label-value calls.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LabelHints {
    /// Return at most this many names or values (0 = no limit).
    pub limit: usize,
}

/// Something that can be queried over a time range: the head, a block, or a merge of them.
pub trait Queryable: Send + Sync {
    /// A querier for samples with timestamps in `[mint, maxt]`.
    fn querier(&self, mint: i64, maxt: i64) -> Result<Box<dyn Querier + '_>>;
}

/// Reads series and label metadata over the time range it was created for.
pub trait Querier {
    /// Series matching all `matchers`, sorted by labels when `sort` is set.
    fn select(
        &self,
        sort: bool,
        hints: Option<&SelectHints>,
        matchers: &[Matcher],
    ) -> Result<Box<dyn SeriesSet>>;

    /// Sorted distinct values of label `name` among series matching `matchers`
    /// (all series when `matchers` is empty).
    fn label_values(
        &self,
        name: &str,
        hints: &LabelHints,
        matchers: &[Matcher],
    ) -> Result<Vec<Symbol>>;

    /// Sorted distinct label names among series matching `matchers`.
    fn label_names(&self, hints: &LabelHints, matchers: &[Matcher]) -> Result<Vec<Symbol>>;
}

/// A stream of series. Errors end the stream.
pub trait SeriesSet: Iterator<Item = Result<Box<dyn Series>>> + Send {
    /// Non-fatal problems met while selecting (Prometheus's annotations).
    fn warnings(&self) -> Vec<String> {
        Vec::new()
    }
}

/// One series: its labels and a way to iterate its samples.
pub trait Series: Send + Sync {
    /// The series' labels.
    fn labels(&self) -> &Labels;
    /// A fresh iterator over the series' samples within the querier's range.
    fn iterator(&self) -> Box<dyn SampleIterator + Send + '_>;

    /// Appends the series' float samples with timestamps in `[mint, maxt]` (and within
    /// the querier's range) to `out`, in time order: what seeking an [`Series::iterator`]
    /// to `mint` and reading on to `maxt` yields. Storage may override it with a loop that
    /// decodes its chunks directly (the query engine reads every series this way).
    fn read_floats(&self, mint: i64, maxt: i64, out: &mut Vec<(i64, f64)>) -> Result<()> {
        read_floats_with_iterator(self.iterator(), mint, maxt, out)
    }
}

/// [`Series::read_floats`] through a sample iterator: seeks `it` to `mint` and appends its
/// float samples up to `maxt` to `out`.
pub(crate) fn read_floats_with_iterator(
    mut it: Box<dyn SampleIterator + Send + '_>,
    mint: i64,
    maxt: i64,
    out: &mut Vec<(i64, f64)>,
) -> Result<()> {
    use crate::chunkenc::ValueType;
    let mut vt = it.seek(mint);
    while vt != ValueType::None {
        if vt == ValueType::Float {
            let p = it.at();
            if p.0 > maxt {
                break;
            }
            if p.0 >= mint {
                out.push(p);
            }
        }
        vt = it.next();
    }
    match it.err() {
        // Sample iterators fail with decode errors; keep their text.
        Some(Error::Decode { what, reason }) => Err(Error::decode(what, reason.as_str())),
        Some(e) => Err(Error::decode("series", e.to_string())),
        None => Ok(()),
    }
}

/// Appends samples in a batch that becomes visible (and durable) at [`Appender::commit`].
pub trait Appender: Send {
    /// Adds a float sample. `series` may be a ref returned by an earlier call for the same
    /// labels (a hint, checked), or 0. Returns the series' ref. Sample-level refusals
    /// (out of order, out of bounds, duplicate) are `Error::Append` and leave the batch usable.
    fn append(&mut self, series: SeriesRef, labels: &Labels, t: i64, v: f64) -> Result<SeriesRef>;
    /// Writes the batch to the WAL, then makes it visible. On error nothing was acknowledged.
    fn commit(self: Box<Self>) -> Result<()>;
    /// Discards the batch.
    fn rollback(self: Box<Self>) -> Result<()>;
}

/// Something that hands out appenders.
pub trait Appendable: Send + Sync {
    /// A new, empty batch.
    fn appender(&self) -> Box<dyn Appender + '_>;
}
