//! Postings: sets of series ids per label pair, as roaring bitmaps.
