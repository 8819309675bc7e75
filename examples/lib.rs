//! Shared code of the callrec example binaries.
//!
//! [`batch`] is [`callrec_archive::batch`] (the `batch` command's work: discovery, manifest,
//! resumable parallel processing), re-exported so that tests drive what the command runs;
//! [`cli`] holds the conventions every tool follows (exit statuses, stdout errors, signals).
//!
//! # A worker loop
//! What `batch` does for each recording, in its simplest form with the [`callrec`] facade:
//! check, keep the report, archive only what passes.
//!
//! ```
//! use callrec::{Recording, StitchOptions};
//! # fn main() -> anyhow::Result<()> {
//! # let testdata = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata");
//! # let downloads = [testdata.join("recordings/paused"), testdata.join("recordings/mismatch")];
//! # let archive = tempfile::tempdir()?;
//! # let archive = archive.path();
//! for dir in &downloads {
//!     let recording = Recording::open(dir)?;
//!     let out = archive.join(recording.archive_name());
//!     std::fs::create_dir_all(&out)?;
//!     let report = recording.check()?;
//!     callrec::write_atomic(&out.join("check.json"), report.to_json().as_bytes())?;
//!     if report.has_errors() {
//!         eprintln!("{}: not archived, {} error(s)", dir.display(), report.errors);
//!         continue; // keep the source; check.json says why
//!     }
//!     let timeline = recording.timeline();
//!     callrec::write_atomic(&out.join("timeline.json"), timeline.to_json().as_bytes())?;
//!     let mp4 = recording.stitch(&StitchOptions::new(out.join("recording.mp4")))?;
//!     println!("{}: {} chunks, {} ms, {} bytes", dir.display(), mp4.chunks, mp4.duration_ms, mp4.bytes);
//! }
//! # assert!(archive.join("1b362962-e34e-ffe1-c877-c521ea88cb06/recording.mp4").is_file());
//! # assert!(!archive.join("31d50c4e-3c8c-f244-2864-574ec0bb1d91/recording.mp4").exists());
//! # Ok(()) }
//! ```

pub use callrec_archive::batch;
pub mod cli;
