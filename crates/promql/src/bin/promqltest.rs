//! `promqltest DIR...`: runs Prometheus `.test` scripts and prints pass/fail counts (skeleton).

fn main() {}
