//! Prometheus's chunk-cutting rules for head chunks.
