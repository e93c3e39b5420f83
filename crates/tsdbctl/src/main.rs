//! `tsdbctl`: the operator CLI (skeleton).

fn main() {}
