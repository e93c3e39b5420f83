//! Integration tests of the benches package (one binary, house style rule 16).

/// The whole-system benchmark runs end to end at a tiny scale and writes its table.
mod system_bench;
