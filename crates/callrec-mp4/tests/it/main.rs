//! Integration tests of callrec-mp4: fixtures against ffprobe, corrupt files, round trips,
//! robustness, and a cross-check with the `mp4` crate.

mod alloc;
mod bounds;
mod corrupt;
mod crosscheck;
mod fixtures;
mod fragments;
mod robustness;
mod roundtrip;
mod util;
mod validate;
