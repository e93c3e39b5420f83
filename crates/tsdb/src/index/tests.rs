//! Unit tests of the index writer and reader.
