//! The archival job of one recording: check it, export its timeline, stitch it when the check
//! finds no error, read the MP4 back, and say what was written.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::time::Instant;

use callrec::crates::mp4::TrackKind;
use callrec::crates::stitch::temp;

use crate::manifest::{describe, Entry, Measures, Output, Status};
use crate::names::{CHECK_JSON, OUTPUTS, RECORDING_MP4, TIMELINE_JSON};

/// How a [`Job`] archives its recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobOptions {
    /// Stitch on the wall clock: pauses and gaps between chunks become timestamp gaps (default:
    /// compact).
    pub wall_clock: bool,
    /// Stitch before checking (default: check, then stitch only when the check finds no error),
    /// so that a caller can start moving [`RECORDING_MP4`] (handed to [`Job::run_with`]'s
    /// `on_mp4`) while the check runs. The verdict is the same: a recording whose check finds
    /// an error is rejected for it (its MP4 removed), whatever the stitch did; the cost is a
    /// stitch wasted on a rejected recording.
    pub stitch_first: bool,
    /// Hash [`RECORDING_MP4`] for its [`Output`] (default). Off, its `sha256` is left empty for
    /// a caller that hashes the file anyway (the worker, while uploading it) and fills it in
    /// before writing a manifest: [`Outcome::entry`] copies it as it is.
    pub hash_mp4: bool,
}

impl Default for JobOptions {
    fn default() -> JobOptions {
        JobOptions {
            wall_clock: false,
            stitch_first: false,
            hash_mp4: true,
        }
    }
}

impl JobOptions {
    /// Sets [`JobOptions::wall_clock`].
    pub fn wall_clock(mut self, on: bool) -> JobOptions {
        self.wall_clock = on;
        self
    }

    /// Sets [`JobOptions::stitch_first`].
    pub fn stitch_first(mut self, on: bool) -> JobOptions {
        self.stitch_first = on;
        self
    }

    /// Sets [`JobOptions::hash_mp4`].
    pub fn hash_mp4(mut self, on: bool) -> JobOptions {
        self.hash_mp4 = on;
        self
    }
}

/// One recording directory in, its outputs in an output folder and an [`Outcome`] out.
///
/// The output folder receives [`CHECK_JSON`] (always, once the recording opens),
/// [`TIMELINE_JSON`] and, when the check finds no error, [`RECORDING_MP4`], each by an atomic
/// rename; outputs of an earlier run that this one did not produce are removed, so the folder
/// never contradicts the outcome. The recording directory is only read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    recording_dir: PathBuf,
    out_dir: PathBuf,
    options: JobOptions,
}

/// What a [`Job`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// [`Status::Ok`] (archived), [`Status::Rejected`] (the recording is bad: see `reason` and
    /// `report`) or [`Status::Error`] (I/O: worth a retry).
    pub status: Status,
    /// Why it is not ok (`None` when ok).
    pub reason: Option<String>,
    /// The check report, when the recording could be opened and checked (also in
    /// [`CHECK_JSON`]).
    pub report: Option<callrec::Report>,
    /// Chunks, findings and durations.
    pub measures: Measures,
    /// The outputs in place, by file name, with size and SHA-256.
    pub outputs: BTreeMap<String, Output>,
    /// Seconds the job took.
    pub seconds: f64,
}

impl Outcome {
    fn new() -> Outcome {
        Outcome {
            status: Status::Ok,
            reason: None,
            report: None,
            measures: Measures::default(),
            outputs: BTreeMap::new(),
            seconds: 0.0,
        }
    }

    /// The manifest line of this outcome for the recording `dir` (relative to the root) archived
    /// as `key`, with its input `fingerprint` ([`crate::fingerprint`]).
    pub fn entry(
        &self,
        dir: &str,
        key: &str,
        call_id: Option<String>,
        fingerprint: &str,
        wall_clock: bool,
    ) -> Entry {
        Entry {
            dir: dir.to_string(),
            key: key.to_string(),
            call_id,
            status: self.status,
            reason: self.reason.clone(),
            inputs: fingerprint.to_string(),
            measures: self.measures,
            wall_clock,
            outputs: self.outputs.clone(),
            seconds: self.seconds,
        }
    }
}

/// A failure while processing one recording.
struct Failure {
    status: Status,
    reason: String,
}

impl Failure {
    fn rejected(reason: impl Into<String>) -> Failure {
        Failure {
            status: Status::Rejected,
            reason: reason.into(),
        }
    }

    fn io(what: impl std::fmt::Display, path: &Path, e: io::Error) -> Failure {
        Failure {
            status: Status::Error,
            reason: format!("{what} {}: {e}", path.display()),
        }
    }
}

impl From<callrec::Error> for Failure {
    /// I/O errors may go away on a retry; everything else says the recording is bad.
    fn from(e: callrec::Error) -> Failure {
        use callrec::crates::stitch::Error as StitchError;
        let status = match &e {
            callrec::Error::Io { .. }
            | callrec::Error::Open { .. }
            | callrec::Error::Stitch(StitchError::Io { .. }) => Status::Error,
            _ => Status::Rejected,
        };
        Failure {
            status,
            reason: e.to_string(),
        }
    }
}

impl Job {
    /// A job archiving the recording in `recording_dir` into the folder `out_dir` (created when
    /// missing).
    pub fn new(
        recording_dir: impl Into<PathBuf>,
        out_dir: impl Into<PathBuf>,
        options: JobOptions,
    ) -> Job {
        Job {
            recording_dir: recording_dir.into(),
            out_dir: out_dir.into(),
            options,
        }
    }

    /// The recording directory (only read).
    pub fn recording_dir(&self) -> &Path {
        &self.recording_dir
    }

    /// The output folder.
    pub fn out_dir(&self) -> &Path {
        &self.out_dir
    }

    /// The options.
    pub fn options(&self) -> &JobOptions {
        &self.options
    }

    /// Runs the job, calling `progress(bytes_done, bytes_total)` while the MP4 is copied (from
    /// the copying threads). Every failure is an [`Outcome`] (its status says whether to retry),
    /// never a panic; on `Ok` every output is in place and durable.
    pub fn run(&self, progress: &(dyn Fn(u64, u64) + Sync)) -> Outcome {
        self.run_with(progress, &|_| {})
    }

    /// [`Job::run`], calling `on_mp4(stitched)` once [`RECORDING_MP4`] is in place and has
    /// read back (before it is hashed; with [`JobOptions::stitch_first`], before the check):
    /// its path, size, and which chunk bytes it holds where ([`callrec::Stitched::copies`]).
    /// The file is final unless the outcome says otherwise: a rejected or failed outcome
    /// removes it.
    pub fn run_with(
        &self,
        progress: &(dyn Fn(u64, u64) + Sync),
        on_mp4: &(dyn Fn(&callrec::Stitched) + Sync),
    ) -> Outcome {
        let started = Instant::now();
        let mut outcome = Outcome::new();
        if let Err(f) = self.archive(&mut outcome, progress, on_mp4) {
            outcome.status = f.status;
            outcome.reason = Some(f.reason);
        }
        // Outputs of an earlier run that this one did not produce (a recording that was ok and
        // is now rejected) would contradict the outcome: remove them.
        for name in OUTPUTS {
            if !outcome.outputs.contains_key(name) {
                let path = self.out_dir.join(name);
                if let Err(e) = fs::remove_file(&path) {
                    if e.kind() != io::ErrorKind::NotFound && outcome.status == Status::Ok {
                        outcome.status = Status::Error;
                        outcome.reason = Some(format!("cannot remove {}: {e}", path.display()));
                    }
                }
            }
        }
        if outcome.status == Status::Ok {
            // The renames must be durable before anyone is told the recording is done.
            if let Err(e) = File::open(&self.out_dir).and_then(|d| d.sync_all()) {
                outcome.status = Status::Error;
                outcome.reason = Some(format!("cannot sync {}: {e}", self.out_dir.display()));
            }
        }
        outcome.seconds = (started.elapsed().as_secs_f64() * 1e3).round() / 1e3;
        outcome
    }

    /// The steps in the order [`JobOptions::stitch_first`] says.
    fn archive(
        &self,
        outcome: &mut Outcome,
        progress: &(dyn Fn(u64, u64) + Sync),
        on_mp4: &(dyn Fn(&callrec::Stitched) + Sync),
    ) -> Result<(), Failure> {
        let out_dir = &self.out_dir;
        fs::create_dir_all(out_dir).map_err(|e| Failure::io("cannot create", out_dir, e))?;
        remove_temporaries(out_dir).map_err(|e| Failure::io("cannot clean", out_dir, e))?;

        let recording = callrec::Recording::open(&self.recording_dir)?;
        outcome.measures.chunks = recording.chunks().len();
        if !self.options.stitch_first {
            self.check(&recording, outcome)?;
            return self.stitch(&recording, outcome, progress, on_mp4);
        }
        let stitched = self.stitch(&recording, outcome, progress, on_mp4);
        if let Err(rejected) = self.check(&recording, outcome) {
            // The check's verdict comes first; the MP4 is removed with the outputs this
            // outcome does not list, and what the stitch measured goes with it.
            outcome.outputs.remove(RECORDING_MP4);
            outcome.measures.media_ms = None;
            return Err(rejected);
        }
        stitched
    }

    /// Checks the recording and writes [`CHECK_JSON`] and [`TIMELINE_JSON`]; rejected when the
    /// check finds an error.
    fn check(&self, recording: &callrec::Recording, outcome: &mut Outcome) -> Result<(), Failure> {
        let out_dir = &self.out_dir;
        let report = recording.check()?;
        outcome.measures.errors = report.errors;
        outcome.measures.warnings = report.warnings;
        let mut check = report.to_json();
        check.push('\n');
        write_output(out_dir, CHECK_JSON, check.as_bytes(), outcome)?;
        let first_error = report
            .findings
            .iter()
            .find(|f| f.severity == callrec::Severity::Error)
            .map(finding_note);
        outcome.report = Some(report);

        let timeline = recording.timeline();
        let ms = |n: callrec::crates::meta::Nanos| n.as_millis_f64().round().max(0.0) as u64;
        outcome.measures.wall_ms = Some(ms(timeline.wall_total()));
        outcome.measures.paused_ms = Some(ms(timeline.paused_total()));
        write_output(
            out_dir,
            TIMELINE_JSON,
            timeline.to_json().as_bytes(),
            outcome,
        )?;

        match first_error {
            Some(first) => Err(Failure::rejected(format!(
                "check found {}, first: {first}",
                plural(outcome.measures.errors, "error"),
            ))),
            None => Ok(()),
        }
    }

    /// Stitches [`RECORDING_MP4`], reads it back, hands it to `on_mp4` and describes it.
    fn stitch(
        &self,
        recording: &callrec::Recording,
        outcome: &mut Outcome,
        progress: &(dyn Fn(u64, u64) + Sync),
        on_mp4: &(dyn Fn(&callrec::Stitched) + Sync),
    ) -> Result<(), Failure> {
        let mp4 = self.out_dir.join(RECORDING_MP4);
        let stitch_opts = callrec::StitchOptions::new(&mp4).wall_clock(self.options.wall_clock);
        let stitched = recording.stitch_with_progress(&stitch_opts, progress)?;
        outcome.measures.media_ms = Some(stitched.duration_ms);
        // What the output must hold: the planned sample count of each track kind.
        let expected: Vec<(TrackKind, usize)> = stitched
            .tracks
            .iter()
            .map(|t| (t.kind, t.samples))
            .collect();
        if let Err(reason) = verify_output(&mp4, &expected, stitched.duration_ms) {
            // No output that does not read back stands at its final path.
            let _ = fs::remove_file(&mp4);
            return Err(Failure {
                status: Status::Error,
                reason: format!("the written {RECORDING_MP4} does not read back: {reason}"),
            });
        }
        let read_back = |e| Failure::io("cannot read back", &mp4, e);
        let bytes = fs::metadata(&mp4).map_err(read_back)?.len();
        on_mp4(&stitched);
        let output = if self.options.hash_mp4 {
            describe(&mp4).map_err(read_back)?
        } else {
            Output {
                bytes,
                sha256: String::new(),
            }
        };
        outcome.outputs.insert(RECORDING_MP4.into(), output);
        Ok(())
    }
}

/// `count` and the noun, singular when `count` is 1: `1 error`, `2 errors`.
pub(crate) fn plural(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("{count} {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

/// A finding as a note: severity, code, the chunk (unless the message already names it) and the
/// message, so that each chunk is named once.
pub fn finding_note(f: &callrec::Finding) -> String {
    let mut note = format!("{} {}", f.severity, f.code);
    if let Some(c) = &f.chunk {
        if !f.message.contains(&c.document_id) {
            let _ = write!(note, " chunk {} ({})", c.index, c.document_id);
        }
    }
    let _ = write!(note, ": {}", f.message);
    note
}

/// Re-reads a written MP4: it parses, has no structural defect, holds the `expected` sample
/// count of each track kind, and presents the duration the plan gave (within a millisecond).
fn verify_output(
    mp4: &Path,
    expected: &[(TrackKind, usize)],
    duration_ms: u64,
) -> Result<(), String> {
    use callrec::crates::mp4::{validate_source, Movie, ParseOptions};
    // Positioned reads in bounded windows: the output (hundreds of MB for an hour) is never
    // held whole in memory.
    let src = callrec::ChunkReader::open(mp4).map_err(|e| e.to_string())?;
    let movie = Movie::read(&src, ParseOptions::default()).map_err(|e| e.to_string())?;
    if let Some(d) = validate_source(&src, &movie)
        .map_err(|e| e.to_string())?
        .first()
    {
        return Err(d.to_string());
    }
    for kind in [TrackKind::Video, TrackKind::Audio] {
        let want: usize = expected
            .iter()
            .filter(|(k, _)| *k == kind)
            .map(|(_, n)| n)
            .sum();
        let got = movie.track(kind).map_or(0, |t| t.samples.len());
        if got != want {
            return Err(format!(
                "its {kind:?} track has {got} samples, the chunks {want}"
            ));
        }
    }
    let ms = u128::from(movie.duration) * 1000 / u128::from(movie.timescale.get());
    if ms.abs_diff(u128::from(duration_ms)) > 1 {
        return Err(format!(
            "it presents {ms} ms (mvhd), the plan {duration_ms} ms"
        ));
    }
    Ok(())
}

/// Writes an output atomically and records its size and hash.
fn write_output(
    out_dir: &Path,
    name: &str,
    bytes: &[u8],
    outcome: &mut Outcome,
) -> Result<(), Failure> {
    callrec::write_atomic(&out_dir.join(name), bytes)?;
    outcome.outputs.insert(name.into(), Output::of(bytes));
    Ok(())
}

/// Removes the temporary files (`.callrec-tmp-*`, and `.*.part` of older versions) a killed run
/// left in an output folder (safe: one job at a time per folder, under the batch's lock).
fn remove_temporaries(dir: &Path) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let ours =
            temp::is_temporary_name(&name) || (name.starts_with('.') && name.ends_with(".part"));
        if ours && entry.file_type()?.is_file() {
            fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use callrec::crates::mp4::Movie;

    fn testdata() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata")
    }

    fn movie(path: &Path) -> Movie {
        Movie::parse(&fs::read(path).unwrap()).unwrap()
    }

    /// The sample count of each track of `copies` copies of a movie.
    fn counts(m: &Movie, copies: usize) -> Vec<(TrackKind, usize)> {
        m.tracks
            .iter()
            .map(|t| (t.kind, t.samples.len() * copies))
            .collect()
    }

    #[test]
    fn an_output_is_verified_against_samples_duration_and_structure() {
        let basic = testdata().join("recordings/basic");
        let mp4 = fs::read_dir(&basic)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|x| x == "mp4"))
            .unwrap();
        let m = movie(&mp4);
        let ms = (u128::from(m.duration) * 1000 / u128::from(m.timescale.get())) as u64;
        assert_eq!(verify_output(&mp4, &counts(&m, 1), ms), Ok(()));
        let e = verify_output(&mp4, &counts(&m, 1), ms + 40).unwrap_err();
        assert!(e.contains("presents"), "{e}");
        let e = verify_output(&mp4, &counts(&m, 2), ms).unwrap_err();
        assert!(e.contains("samples"), "{e}");
        let broken = testdata().join("corrupt/structure/stsz_count.mp4");
        let e = verify_output(&broken, &counts(&movie(&broken), 1), ms).unwrap_err();
        assert!(e.starts_with("mp4.stsz"), "{e}");
    }

    #[test]
    fn a_good_recording_is_archived_with_every_output_described() {
        let out = tempfile::tempdir().unwrap();
        let job = Job::new(
            testdata().join("recordings/paused"),
            out.path().join("k"),
            JobOptions::default().wall_clock(true),
        );
        let done = std::sync::atomic::AtomicU64::new(0);
        let o = job.run(&|d, _| done.store(d, std::sync::atomic::Ordering::Relaxed));
        assert_eq!(o.status, Status::Ok, "{:?}", o.reason);
        assert_eq!(
            (o.measures.chunks, o.measures.errors, o.reason.as_deref()),
            (3, 0, None)
        );
        assert_eq!(
            (o.measures.wall_ms, o.measures.paused_ms),
            (Some(26_750), Some(11_750))
        );
        // Wall clock: the media spans the wall, within half an AAC frame (the pauses are filled
        // with whole silent frames).
        let ms = o.measures.media_ms.unwrap();
        assert!(
            ms.abs_diff(26_750) <= 32,
            "wall clock: media spans the wall: {ms}"
        );
        assert!(o.report.as_ref().is_some_and(|r| !r.has_errors()));
        for name in OUTPUTS {
            let described = describe(&out.path().join("k").join(name)).unwrap();
            assert_eq!(o.outputs[name], described, "{name}");
        }
        let mp4 = o.outputs[RECORDING_MP4].bytes;
        assert_eq!(done.load(std::sync::atomic::Ordering::Relaxed), mp4);
    }

    #[test]
    fn a_bad_recording_is_rejected_with_its_report_and_an_earlier_mp4_removed() {
        let out = tempfile::tempdir().unwrap();
        fs::write(out.path().join(RECORDING_MP4), b"from an earlier run").unwrap();
        let job = Job::new(
            testdata().join("recordings/mismatch"),
            out.path(),
            JobOptions::default(),
        );
        let o = job.run(&|_, _| {});
        assert_eq!(o.status, Status::Rejected);
        let reason = o.reason.unwrap();
        assert!(
            reason.starts_with("check found 5 errors, first: error video.resolution chunk 1"),
            "{reason}"
        );
        assert_eq!(o.report.unwrap().errors, 5);
        assert_eq!(
            o.outputs.keys().map(String::as_str).collect::<Vec<_>>(),
            [CHECK_JSON, TIMELINE_JSON]
        );
        assert!(!out.path().join(RECORDING_MP4).exists());
    }

    #[test]
    fn stitching_first_hands_over_the_mp4_before_the_check_and_changes_no_output() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let dir = testdata().join("recordings/paused");
        let plain = Job::new(&dir, a.path(), JobOptions::default()).run(&|_, _| {});
        let seen = std::sync::Mutex::new(Vec::new());
        let first = Job::new(
            &dir,
            b.path(),
            JobOptions::default().stitch_first(true).hash_mp4(false),
        )
        .run_with(&|_, _| {}, &|stitched| {
            // Handed over before the check wrote its report.
            let path = &stitched.path;
            let checked = path.with_file_name(CHECK_JSON).exists();
            // Its copies say where each chunk's bytes are: the output holds them there.
            let out = fs::read(path).unwrap();
            let mut copied = 0;
            for c in &stitched.copies {
                let src = fs::read(&c.source).unwrap();
                let (s, d, n) = (c.src_offset as usize, c.dst_offset as usize, c.len as usize);
                assert_eq!(src[s..s + n], out[d..d + n], "{c:?}");
                copied += n;
            }
            // Everything but the header, padding and silent frames.
            assert!(copied > out.len() * 9 / 10, "{copied} of {}", out.len());
            seen.lock()
                .unwrap()
                .push((path.to_path_buf(), stitched.bytes, checked));
        });
        assert_eq!((plain.status, first.status), (Status::Ok, Status::Ok));
        let mp4 = b.path().join(RECORDING_MP4);
        let want = plain.outputs[RECORDING_MP4].bytes;
        assert_eq!(seen.into_inner().unwrap(), [(mp4.clone(), want, false)]);
        for name in OUTPUTS {
            let (x, y) = (a.path().join(name), b.path().join(name));
            assert_eq!(fs::read(&x).unwrap(), fs::read(&y).unwrap(), "{name}");
        }
        // Not hashed: the caller fills the SHA-256 in.
        assert_eq!(first.outputs[RECORDING_MP4].sha256, "");
        assert_eq!(first.outputs[CHECK_JSON], plain.outputs[CHECK_JSON]);
    }

    #[test]
    fn stitching_first_still_rejects_a_bad_recording_for_its_check_and_removes_the_mp4() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        // One the stitch refuses too, and one it stitches: good media, but the event says the
        // recording lasted three times as long (`duration.total`).
        let long = tempfile::tempdir().unwrap();
        for e in fs::read_dir(testdata().join("recordings/basic")).unwrap() {
            let p = e.unwrap().path();
            fs::copy(&p, long.path().join(p.file_name().unwrap())).unwrap();
        }
        let event = long.path().join("event.json");
        let text = fs::read_to_string(&event).unwrap();
        assert!(text.contains("\"recordingDurationMs\": 15000"), "{text}");
        let text = text.replace(
            "\"recordingDurationMs\": 15000",
            "\"recordingDurationMs\": 45000",
        );
        fs::write(&event, text).unwrap();
        for dir in [
            testdata().join("recordings/mismatch"),
            long.path().to_path_buf(),
        ] {
            let plain = Job::new(&dir, a.path(), JobOptions::default()).run(&|_, _| {});
            let stitched = std::sync::atomic::AtomicBool::new(false);
            let first = Job::new(&dir, b.path(), JobOptions::default().stitch_first(true))
                .run_with(&|_, _| {}, &|_| {
                    stitched.store(true, std::sync::atomic::Ordering::Relaxed)
                });
            // The stitch refuses the mismatched one and makes the long one's MP4.
            assert_eq!(stitched.into_inner(), dir == long.path(), "{dir:?}");
            assert_eq!(plain.status, Status::Rejected, "{dir:?}");
            let entry = |o: &Outcome| Entry {
                seconds: 0.0,
                ..o.entry("d", "k", None, "", false)
            };
            assert_eq!(entry(&first), entry(&plain), "{dir:?}");
            assert!(!b.path().join(RECORDING_MP4).exists(), "{dir:?}");
        }
    }

    #[test]
    fn an_output_folder_that_cannot_be_made_is_an_error_to_retry() {
        let out = tempfile::tempdir().unwrap();
        let file = out.path().join("file");
        fs::write(&file, b"").unwrap();
        let job = Job::new(
            testdata().join("recordings/basic"),
            file.join("k"),
            JobOptions::default(),
        );
        let o = job.run(&|_, _| {});
        assert_eq!(o.status, Status::Error);
        assert!(o.reason.unwrap().starts_with("cannot create"));
        assert!(o.report.is_none() && o.outputs.is_empty());
    }

    #[test]
    fn a_directory_that_is_not_a_recording_is_rejected() {
        let out = tempfile::tempdir().unwrap();
        let empty = tempfile::tempdir().unwrap();
        let o = Job::new(empty.path(), out.path(), JobOptions::default()).run(&|_, _| {});
        assert_eq!(o.status, Status::Rejected);
        assert!(o.reason.unwrap().contains("not a recording"));
    }
}
