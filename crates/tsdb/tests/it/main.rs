//! Integration tests of the storage engine.
