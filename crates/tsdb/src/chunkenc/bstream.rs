//! Bit-level writer and reader for chunk payloads (MSB first), as Prometheus's `bstream.go`.
