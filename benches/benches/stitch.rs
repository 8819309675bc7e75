//! Criterion bench `stitch`: not built yet.

fn main() {}
