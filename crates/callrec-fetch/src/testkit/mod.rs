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

/// The `recording.mp4` that the archive job (`callrec_archive::Job`, the one the worker runs)
/// makes from fixture `name` on local files, for comparison with an archived blob.
///
/// # Panics
/// When the fixture does not archive (a test's own setup is wrong).
pub fn local_mp4(name: &str) -> Vec<u8> {
    let out = tempfile::tempdir().expect("a temporary directory");
    let job = callrec_archive::Job::new(
        recording_fixture(name),
        out.path(),
        callrec_archive::JobOptions::default(),
    );
    let o = job.run(&|_, _| {});
    assert_eq!(o.status, callrec_archive::Status::Ok, "{:?}", o.reason);
    std::fs::read(out.path().join(callrec_archive::RECORDING_MP4)).expect("recording.mp4")
}
