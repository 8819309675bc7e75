//! Criterion bench `check`: not built yet.

fn main() {}
