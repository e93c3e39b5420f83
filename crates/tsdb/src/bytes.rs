//! Shared, immutable byte buffers: [`SharedBytes`] is a whole file's bytes (an mmapped
//! block file, or bytes fetched from a bucket), [`SharedSlice`] a range of one.
//!
//! Block readers hold their files as [`SharedBytes`] so the same reader works on a local
//! mmap and on an owned buffer, and hand out [`SharedSlice`]s (a chunk's bytes) that keep
//! the buffer alive by reference count, so series and chunks may outlive the reader.

use std::fmt;
use std::ops::{Deref, Range};
use std::sync::Arc;

/// The bytes of a whole file, shared: an [`crate::fileutil::mmap::Mmap`], a `Vec<u8>`, or
/// any other owner of immutable bytes.
pub type SharedBytes = Arc<dyn AsRef<[u8]> + Send + Sync>;

/// Wraps owned bytes as [`SharedBytes`].
pub fn shared(bytes: Vec<u8>) -> SharedBytes {
    Arc::new(bytes)
}

/// A range of a [`SharedBytes`], itself cheap to clone.
#[derive(Clone)]
pub struct SharedSlice {
    bytes: SharedBytes,
    start: usize,
    end: usize,
}

impl SharedSlice {
    /// The bytes of `range` within `bytes`, or `None` when the range is out of bounds.
    pub fn new(bytes: SharedBytes, range: Range<usize>) -> Option<SharedSlice> {
        let len = (*bytes).as_ref().len();
        if range.start > range.end || range.end > len {
            return None;
        }
        Some(SharedSlice {
            bytes,
            start: range.start,
            end: range.end,
        })
    }

    /// A slice covering all of `bytes`.
    pub fn whole(bytes: SharedBytes) -> SharedSlice {
        let end = (*bytes).as_ref().len();
        SharedSlice {
            bytes,
            start: 0,
            end,
        }
    }

    /// A slice over owned bytes.
    pub fn from_vec(bytes: Vec<u8>) -> SharedSlice {
        SharedSlice::whole(shared(bytes))
    }

    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        // In bounds: checked when the slice was made, and the buffer is immutable.
        &(*self.bytes).as_ref()[self.start..self.end]
    }
}

impl Deref for SharedSlice {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl AsRef<[u8]> for SharedSlice {
    fn as_ref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl fmt::Debug for SharedSlice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SharedSlice({}..{})", self.start, self.end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_bounds_ranges_are_refused() {
        let b = shared(vec![1, 2, 3]);
        assert!(SharedSlice::new(Arc::clone(&b), 1..4).is_none());
        #[allow(clippy::reversed_empty_ranges)]
        let reversed = 2..1;
        assert!(SharedSlice::new(Arc::clone(&b), reversed).is_none());
        assert_eq!(
            &*SharedSlice::new(Arc::clone(&b), 1..3).expect("in bounds"),
            &[2, 3]
        );
        assert_eq!(&*SharedSlice::whole(b), &[1, 2, 3]);
    }
}
