//! Echo server (work in progress).
fn main() {}
