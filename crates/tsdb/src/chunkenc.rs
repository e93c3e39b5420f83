//! Chunk encodings: the [`Encoding`] byte, the [`SampleIterator`] trait every chunk
//! iterator (and every storage series iterator) implements, and the XOR float chunk.
//!
//! Only XOR (encoding 1) is implemented; histogram encodings (2, 3) have their
//! [`Encoding`] and [`ValueType`] variants so readers can name and skip them.

use crate::error::Error;

pub mod bstream;
pub mod cut;
pub mod xor;

pub use xor::{XorAppender, XorIterator};

/// The encoding byte stored before every chunk in chunk files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Encoding {
    /// No encoding; invalid on disk.
    None = 0,
    /// Gorilla XOR float samples.
    Xor = 1,
    /// Integer native histograms (not yet supported).
    Histogram = 2,
    /// Float native histograms (not yet supported).
    FloatHistogram = 3,
}

impl Encoding {
    /// The encoding for a byte, ignoring the out-of-order flag bit `0x80` of head chunks.
    pub fn from_u8(b: u8) -> Option<Encoding> {
        match b & 0x7f {
            0 => Some(Encoding::None),
            1 => Some(Encoding::Xor),
            2 => Some(Encoding::Histogram),
            3 => Some(Encoding::FloatHistogram),
            _ => None,
        }
    }
}

/// What kind of sample an iterator is positioned on, as Prometheus's `chunkenc.ValueType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValueType {
    /// Exhausted (or failed: check [`SampleIterator::err`]).
    None,
    /// A float sample; read it with [`SampleIterator::at`].
    Float,
    /// An integer native histogram (reserved).
    Histogram,
    /// A float native histogram (reserved).
    FloatHistogram,
}

/// Iterates the samples of one chunk or one series in timestamp order.
///
/// Mirrors Prometheus's `chunkenc.Iterator`: `next` advances, `seek` advances to the
/// first sample with timestamp `>= t` (never moving backwards), `at` reads the current
/// sample. After `ValueType::None`, `err` says whether the data ended or was corrupt.
pub trait SampleIterator {
    /// Advances to the next sample.
    fn next(&mut self) -> ValueType;
    /// Advances to the first sample at or after `t`; stays put if already there.
    fn seek(&mut self, t: i64) -> ValueType;
    /// The current float sample. Only valid after `next`/`seek` returned `Float`.
    fn at(&self) -> (i64, f64);
    /// The current timestamp.
    fn at_t(&self) -> i64;
    /// The error that stopped iteration, if any.
    fn err(&self) -> Option<&Error>;
}

impl<I: SampleIterator + ?Sized> SampleIterator for Box<I> {
    fn next(&mut self) -> ValueType {
        (**self).next()
    }
    fn seek(&mut self, t: i64) -> ValueType {
        (**self).seek(t)
    }
    fn at(&self) -> (i64, f64) {
        (**self).at()
    }
    fn at_t(&self) -> i64 {
        (**self).at_t()
    }
    fn err(&self) -> Option<&Error> {
        (**self).err()
    }
}
