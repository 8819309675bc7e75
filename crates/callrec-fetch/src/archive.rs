//! The per-recording job on local files (check, timeline, stitch), behind one function so it
//! can be swapped for `callrec-archive` when that crate lands.

use std::path::{Path, PathBuf};

use callrec::{Recording, StitchOptions};

/// What [`archive_local`] made of a recording directory.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Checked without errors and stitched: the three outputs exist.
    Archived {
        /// `check.json`.
        check: PathBuf,
        /// `timeline.json`.
        timeline: PathBuf,
        /// `recording.mp4`.
        mp4: PathBuf,
        /// Chunks stitched.
        chunks: usize,
        /// Presented duration in milliseconds.
        duration_ms: u64,
    },
    /// Not archivable (check errors, a recording that cannot be opened or stitched): only
    /// `check.json` exists, saying why. Retrying will not change it.
    Rejected {
        /// `check.json`.
        check: PathBuf,
        /// One line for the log.
        reason: String,
    },
    /// A local fault (disk full, unwritable output): worth retrying later.
    Failed {
        /// What went wrong.
        error: String,
    },
}

/// A `check.json` for a recording that never got as far as a check report.
pub fn error_check_json(recording_id: &str, stage: &str, error: &str) -> String {
    let v = serde_json::json!({
        "recordingId": recording_id,
        "errors": 1,
        "warnings": 0,
        "error": { "stage": stage, "message": error },
    });
    serde_json::to_string_pretty(&v).unwrap_or_default() + "\n"
}

/// Checks and stitches the recording in `dir` (its `event.json` and chunk files) into `out`:
/// `check.json` always, `timeline.json` and `recording.mp4` when the check finds no errors.
pub fn archive_local(dir: &Path, out: &Path) -> Outcome {
    let check = out.join("check.json");
    if let Err(e) = std::fs::create_dir_all(out) {
        return Outcome::Failed {
            error: format!("cannot create {}: {e}", out.display()),
        };
    }
    let reject = |stage: &str, e: &callrec::Error| -> Outcome {
        if matches!(e, callrec::Error::Io { .. }) {
            return Outcome::Failed {
                error: format!("{stage}: {e}"),
            };
        }
        let json = error_check_json("", stage, &e.to_string());
        match callrec::write_atomic(&check, json.as_bytes()) {
            Ok(()) => Outcome::Rejected {
                check: check.clone(),
                reason: format!("{stage}: {e}"),
            },
            Err(w) => Outcome::Failed {
                error: w.to_string(),
            },
        }
    };
    let recording = match Recording::open(dir) {
        Ok(r) => r,
        Err(e) => return reject("open", &e),
    };
    let report = match recording.check() {
        Ok(r) => r,
        Err(e) => return reject("check", &e),
    };
    if let Err(e) = callrec::write_atomic(&check, report.to_json().as_bytes()) {
        return Outcome::Failed {
            error: e.to_string(),
        };
    }
    if report.has_errors() {
        return Outcome::Rejected {
            check,
            reason: format!("check found {} error(s)", report.errors),
        };
    }
    let timeline = out.join("timeline.json");
    if let Err(e) = callrec::write_atomic(&timeline, recording.timeline().to_json().as_bytes()) {
        return Outcome::Failed {
            error: e.to_string(),
        };
    }
    let mp4 = out.join("recording.mp4");
    match recording.stitch(&StitchOptions::new(&mp4)) {
        Ok(s) => Outcome::Archived {
            check,
            timeline,
            mp4,
            chunks: s.chunks,
            duration_ms: s.duration_ms,
        },
        Err(e) => reject("stitch", &e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../testdata/recordings")
            .join(name)
    }

    #[test]
    fn basic_is_archived_with_three_outputs() {
        let out = tempfile::tempdir().unwrap();
        let o = archive_local(&fixture("basic"), out.path());
        let Outcome::Archived {
            check,
            timeline,
            mp4,
            chunks,
            ..
        } = o
        else {
            panic!("{o:?}")
        };
        assert_eq!(chunks, 3);
        for p in [check, timeline, mp4] {
            assert!(std::fs::metadata(&p).unwrap().len() > 0, "{}", p.display());
        }
    }

    #[test]
    fn mismatch_is_rejected_with_only_check_json() {
        let out = tempfile::tempdir().unwrap();
        let o = archive_local(&fixture("mismatch"), out.path());
        let Outcome::Rejected { check, reason } = o else {
            panic!("{o:?}")
        };
        assert!(reason.contains("4 error"), "{reason}");
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(check).unwrap()).unwrap();
        assert_eq!(v["errors"], 4);
        assert!(!out.path().join("recording.mp4").exists());
        assert!(!out.path().join("timeline.json").exists());
    }

    #[test]
    fn a_directory_that_is_no_recording_is_rejected_naming_the_stage() {
        let empty = tempfile::tempdir().unwrap();
        let out = tempfile::tempdir().unwrap();
        let o = archive_local(empty.path(), out.path());
        let Outcome::Rejected { check, reason } = o else {
            panic!("{o:?}")
        };
        assert!(reason.starts_with("open: "), "{reason}");
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(check).unwrap()).unwrap();
        assert_eq!(v["error"]["stage"], "open");
    }
}
