//! Index structures: postings lists and their set algebra.

pub mod postings;
