//! Criterion bench `parse`: not built yet.

fn main() {}
