//! WAL record types and their codecs: series, samples, tombstones, metadata.
