//! `ingest`: bytes in, validated series and samples out, appended through
//! [`tsdb::storage::Appender`] (issue 4).
//!
//! It will hold the remote-write v1/v2 decoders (snappy + protobuf), the text exposition
//! parser, label validation and limits. No sockets live here, which keeps it synchronous
//! and fuzzable. Nothing is implemented yet.
