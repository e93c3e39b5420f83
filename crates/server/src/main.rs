//! The `tsdbd` binary (skeleton).

fn main() {}
