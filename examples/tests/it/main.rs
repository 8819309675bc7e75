//! Integration tests of the example package.

mod batch;
mod check_bin;
mod worker_bin;
