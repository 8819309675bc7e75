//! Integration tests of the example package.

mod batch;
