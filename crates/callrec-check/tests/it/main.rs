//! Integration tests: the fixtures in testdata/ and bad recordings built from them.

mod media;
mod recording;
mod util;
