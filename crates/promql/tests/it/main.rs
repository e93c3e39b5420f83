//! Integration tests of the PromQL engine.
