//! Integration tests of the storage engine.

// XOR chunks and chunk cutting, bit-exact against the reference promtool.
mod chunk_compat;
