//! [`MergedSymbols`]: the sorted union of several indexes' symbol tables, streamed.

use crate::error::{Error, Result};
use crate::index::reader::Symbols;

/// Merges sorted symbol streams into one sorted stream without duplicates.
///
/// Each input's table is sorted and unique (the index format requires it), so the
/// smallest current symbol is the next one and every input positioned on it moves on.
/// A read error ends the stream; [`MergedSymbols::take_err`] returns it.
pub(super) struct MergedSymbols<'a> {
    inputs: Vec<Symbols<'a>>,
    /// The current symbol of each input, `None` once it is exhausted.
    heads: Vec<Option<&'a str>>,
    started: bool,
    err: Option<Error>,
}

impl<'a> MergedSymbols<'a> {
    pub(super) fn new(inputs: Vec<Symbols<'a>>) -> Self {
        let n = inputs.len();
        MergedSymbols {
            inputs,
            heads: vec![None; n],
            started: false,
            err: None,
        }
    }

    /// The error that ended the stream, if any.
    pub(super) fn take_err(&mut self) -> Result<()> {
        match self.err.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Moves input `i` to its next symbol; false after an error.
    fn advance(&mut self, i: usize) -> bool {
        match self.inputs[i].next() {
            Some(Ok(s)) => {
                self.heads[i] = Some(s);
                true
            }
            Some(Err(e)) => {
                self.err = Some(e);
                false
            }
            None => {
                self.heads[i] = None;
                true
            }
        }
    }
}

impl<'a> Iterator for MergedSymbols<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        if self.err.is_some() {
            return None;
        }
        if !self.started {
            self.started = true;
            for i in 0..self.inputs.len() {
                if !self.advance(i) {
                    return None;
                }
            }
        }
        let min = self.heads.iter().flatten().min().copied()?;
        for i in 0..self.heads.len() {
            if self.heads[i] == Some(min) && !self.advance(i) {
                return None;
            }
        }
        Some(min)
    }
}
