//! Integration tests of the storage engine.
mod wal_interop; // WAL read and written by the reference Prometheus/promtool.
mod wal_torn; // Torn tails and damaged bytes: replay, repair, append again.
