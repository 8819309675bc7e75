//! Integration tests of the example package.

mod batch;
mod bounded;
mod check_bin;
mod signals;
mod tools;
mod util;
mod worker_bin;
