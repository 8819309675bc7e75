//! Integration tests of the example package.

mod batch;
mod check_bin;
mod signals;
mod tools;
