//! Helpers shared by the benchmarks (synthetic recordings).
