//! Criterion benchmark (filled in by its owner).

fn main() {}
