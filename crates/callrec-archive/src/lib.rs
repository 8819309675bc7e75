//! The archival job of callrec, as a library that the `batch` command and the worker drive.
//!
//! - [`Job`]: one recording directory in; `check.json`, `timeline.json` and (when the check
//!   finds no error) `recording.mp4` out, each by an atomic rename, and an [`Outcome`]:
//!   [`Status::Ok`], [`Status::Rejected`] (the recording is bad; the check report says why) or
//!   [`Status::Error`] (I/O; worth a retry).
//! - [`Manifest`]: the append-only `manifest.jsonl` of an output directory, one [`Entry`] per
//!   recording, read back with every key re-checked ([`Entry::trusted`]).
//! - [`names`]: every name the archive gives, in one place (output files, keys).
//! - [`OutLock`]: one process at a time per output directory.
//! - [`batch`]: every recording under a root, several at once, resumable.
//!
//! ```
//! use callrec_archive::{Job, JobOptions, Status, CHECK_JSON, RECORDING_MP4};
//! # let testdata = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata");
//! # let out = tempfile::tempdir().unwrap();
//! let job = Job::new(testdata.join("recordings/paused"), out.path().join("call"), JobOptions::default());
//! let outcome = job.run(&|done, total| eprint!("\r{done}/{total} bytes"));
//! assert_eq!(outcome.status, Status::Ok);
//! // 15 s of media, and each of the 2 joins keeps the audio padding and priming (under 200 ms).
//! assert!((15_000..15_400).contains(&outcome.measures.media_ms.unwrap()));
//! assert!(out.path().join("call").join(RECORDING_MP4).is_file());
//!
//! let bad = Job::new(testdata.join("recordings/mismatch"), out.path().join("bad"), JobOptions::default());
//! let outcome = bad.run(&|_, _| {});
//! assert_eq!(outcome.status, Status::Rejected);
//! assert_eq!(outcome.report.unwrap().errors, 5); // also in bad/check.json
//! assert!(out.path().join("bad").join(CHECK_JSON).is_file());
//! assert!(!out.path().join("bad").join(RECORDING_MP4).exists());
//! ```
//!
//! A worker that archives recordings as they arrive keeps the same output directory as
//! `batch`: it holds the lock, names each recording with [`names::assign_keys`] and appends an
//! [`Entry`] per job, so that `batch` (or another worker run) skips what is done.
//!
//! ```
//! use callrec_archive::{fingerprint, names, Job, JobOptions, Manifest, OutLock, MANIFEST};
//! # let testdata = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata");
//! # let out = tempfile::tempdir().unwrap();
//! # let out = out.path();
//! let _lock = OutLock::take(out, false, |_| {})?; // fails naming the holder's pid
//! let manifest = Manifest::open(out.join(MANIFEST))?;
//! let downloaded = testdata.join("recordings/basic"); // e.g. a finished download
//! let call_id = callrec::crates::meta::Recording::load(&downloaded)?.call_id().map(String::from);
//! let rel = "2024-05-14/basic".to_string();
//! let key = names::assign_keys(&[(rel.clone(), call_id.clone())], manifest.entries()).remove(0);
//! let wall_clock = false;
//! let job = Job::new(&downloaded, out.join(&key), JobOptions::default().wall_clock(wall_clock));
//! let outcome = job.run(&|_, _| {});
//! let inputs = fingerprint(&downloaded)?;
//! manifest.append(&outcome.entry(&rel, &key, call_id, &inputs, wall_clock))?;
//! assert!(!outcome.status.failed(), "{:?}", outcome.reason);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::io;
use std::path::PathBuf;

pub mod batch;
mod discover;
mod job;
mod lock;
mod manifest;
pub mod names;

pub use discover::discover;
pub use job::{finding_note, Job, JobOptions, Outcome};
pub use lock::OutLock;
pub use manifest::{
    describe, fingerprint, read_manifest, Entry, Manifest, Measures, Output, Status,
};
pub use names::{CHECK_JSON, LOCK, MANIFEST, RECORDING_MP4, TIMELINE_JSON};

/// What stops the archive from running at all (a recording's own failure is an [`Outcome`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file or directory could not be read or written.
    #[error("{op} {}: {error}", path.display())]
    Io {
        /// What was being done (`cannot read`, `cannot create`...).
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The error (in the message, so not also a `source`).
        error: io::Error,
    },
    /// Another process holds the output directory's lock.
    #[error("{} is in use by {}, which holds {}: wait for it to finish, or pass --wait", out.display(), pid.map_or("another batch".to_string(), |p| format!("another batch (pid {p})")), lock.display())]
    Locked {
        /// The output directory.
        out: PathBuf,
        /// Its lock file.
        lock: PathBuf,
        /// The holder's pid, when the lock file names one.
        pid: Option<u32>,
    },
    /// The output directory is, or is inside, a recording directory (an input).
    #[error("refusing to write into {}: it is inside the recording directory {} (the root is only read; choose an output directory outside every recording)", out.display(), recording.display())]
    OutInsideRecording {
        /// The output directory as given.
        out: PathBuf,
        /// The recording directory it is in.
        recording: PathBuf,
    },
    /// The worker threads could not be started.
    #[error("cannot start the worker pool: {0}")]
    Pool(String),
}

impl Error {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, error: io::Error) -> Error {
        Error::Io {
            op,
            path: path.into(),
            error,
        }
    }
}

/// This crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
