//! Engine tests over an in-memory head.
