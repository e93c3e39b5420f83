//! Integration tests of the object_store adapter (one binary, house style rule 16).

/// The adapter against `file://` and a real S3 server on loopback.
mod adapter;
