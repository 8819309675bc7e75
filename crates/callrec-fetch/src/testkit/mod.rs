//! Test harness (feature `testkit`): Azurite on free loopback ports with account SAS URLs, and
//! an ACS download simulator that checks the HMAC signature and injects faults. Used by this
//! crate's tests and the worker example's; everything stays on 127.0.0.1.

mod azurite;
mod sim;

pub use azurite::{account_sas, Azurite, AZURITE_VERSION, DEV_ACCOUNT, DEV_KEY};
pub use sim::{Fault, Logged, Simulator};

/// The workspace's `testdata/recordings/<name>`.
pub fn recording_fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/recordings")
        .join(name)
}
