//! Turn downloaded ACS call-recording chunks into one archival-quality MP4.
//!
//! The facade over the callrec crates, for archival workers: open a recording directory (our
//! convention: `event.json`, and per chunk `<documentId>.mp4` with its metadata
//! `<documentId>.json`), prove the media matches the metadata, map it to the wall clock, and
//! stitch it losslessly.
//!
//! ```
//! use callrec::{Recording, StitchOptions};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/recordings/paused");
//! # let out_dir = tempfile::tempdir()?;
//! let recording = Recording::open(&dir)?;
//! let report = recording.check()?;
//! assert!(!report.has_errors(), "{}", report.to_json());
//! let timeline = recording.timeline();
//! println!("{} of media over {} of wall clock", timeline.media_total(), timeline.wall_total());
//! // Every audio frame kept: each join adds the chunk's end padding and the next one's
//! // priming, and the video waits for it (the placements say where each chunk starts).
//! let stitched = recording.stitch(&StitchOptions::new(out_dir.path().join("call.mp4")))?;
//! assert!((15_000..15_400).contains(&stitched.duration_ms));
//! // Trimmed joins: within half an AAC frame of the chunks' durations.
//! let trimmed = StitchOptions::new(out_dir.path().join("trim.mp4")).trim_joins(true);
//! assert!(recording.stitch(&trimmed)?.duration_ms.abs_diff(15_000) <= 32);
//! # Ok(()) }
//! ```
//!
//! No file is memory-mapped: chunks are read with positioned reads ([`ChunkReader`]), one
//! chunk open at a time, so a file that shrinks under a reader is a typed error or a
//! `file.changed` finding, never a SIGBUS.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Instant;

mod files;
mod output;
mod plan;
mod reader;

pub use files::{safe_file_name, write_atomic};
pub use output::{output_timeline, output_webvtt};
use reader::unchanged;
pub use reader::ChunkReader;

pub use callrec_check::{Finding, Options as CheckOptions, Report, Severity};
pub use callrec_meta::{Chunk, Problem, Timeline};
pub use callrec_stitch::ChunkPlacement;

/// The crates behind the facade, for what it does not wrap.
pub mod crates {
    pub use callrec_check as check;
    pub use callrec_meta as meta;
    pub use callrec_mp4 as mp4;
    pub use callrec_stitch as stitch;
}

/// What can go wrong opening, checking or stitching a recording.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The directory is not a readable recording, or its `event.json` does not parse.
    #[error(transparent)]
    Meta(#[from] callrec_meta::Error),
    /// A chunk file could not be opened or read (or is not a regular file).
    #[error("chunk {index} ({document_id}): cannot read {}: {error}", path.display())]
    Open {
        /// The chunk's index.
        index: u32,
        /// The chunk's documentId.
        document_id: String,
        /// The chunk file.
        path: PathBuf,
        /// The error (in the message, so not also a `source`).
        error: io::Error,
    },
    /// The recording cannot be stitched as it is: a chunk is missing, duplicated, or its event
    /// and metadata disagree. `check` reports every such problem.
    #[error("cannot stitch {dir}: {problem}")]
    NotStitchable {
        /// The recording directory.
        dir: PathBuf,
        /// The first problem found.
        problem: Box<Problem>,
    },
    /// A chunk's MP4 does not parse.
    #[error("chunk {index} ({document_id}): {}: {error}", path.display())]
    Parse {
        /// The chunk's index.
        index: u32,
        /// The chunk's documentId.
        document_id: String,
        /// The chunk file.
        path: PathBuf,
        /// What the parser said (names the box).
        error: Box<callrec_mp4::Error>,
    },
    /// A chunk's MP4 parses but is structurally broken ([`callrec_mp4::validate()`]): its sample
    /// tables do not say which bytes are which sample, so stitching would copy the wrong bytes.
    /// Names the chunk and the first defect's track, box and sample; `check` reports them all.
    #[error("chunk {index} ({document_id}): {}: {defect}", path.display())]
    Structure {
        /// The chunk's index.
        index: u32,
        /// The chunk's documentId.
        document_id: String,
        /// The chunk file.
        path: PathBuf,
        /// The first defect (track, box path, sample).
        defect: Box<callrec_mp4::Defect>,
        /// How many defects the chunk has in all.
        defects: usize,
    },
    /// A chunk file changed while it was read: it shrank under the reader, or its size,
    /// modification time or inode differs from when it was read. Nothing was written (a
    /// change noticed only after the copy removes the output).
    #[error("chunk {index} ({document_id}): {} changed while it was read: {why}", path.display())]
    Changed {
        /// The chunk's index.
        index: u32,
        /// The chunk's documentId.
        document_id: String,
        /// The chunk file.
        path: PathBuf,
        /// What changed (or the failed read).
        why: String,
    },
    /// Planning or writing the stitched file failed (names the chunk and parameter).
    #[error(transparent)]
    Stitch(#[from] callrec_stitch::Error),
    /// An output path is refused before anything is written: it is one of the recording's
    /// files, the other output, or an existing file that is not a regular file.
    #[error("refusing to write {}: {reason}", path.display())]
    OutputRefused {
        /// The output path as given.
        path: PathBuf,
        /// Why, e.g. "it is the recording's event.json".
        reason: String,
    },
    /// The MP4 was written in full, but the timeline JSON was not (the timeline path holds
    /// what it held before).
    #[error("{} was written in full, but the timeline was not: {error}", mp4.display())]
    TimelineNotWritten {
        /// The complete MP4.
        mp4: PathBuf,
        /// Why the timeline could not be written.
        error: Box<Error>,
    },
    /// Writing an output file failed.
    #[error("{op} {}: {error}", path.display())]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The error (in the message, so not also a `source`).
        error: io::Error,
    },
}

/// This crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A recording directory, opened: its metadata matched up. Chunk files are opened only while
/// one is read ([`Recording::open_chunk`]), so any number of chunks costs no file descriptors
/// or mappings.
pub struct Recording {
    meta: callrec_meta::Recording,
    dir: PathBuf,
}

impl std::fmt::Debug for Recording {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recording")
            .field("dir", &self.dir)
            .field("chunks", &self.meta.chunks.len())
            .field("problems", &self.meta.problems.len())
            .finish()
    }
}

impl Recording {
    /// Opens a recording directory: reads `event.json` and the chunk metadata (see
    /// [`callrec_meta::Recording::load`]). No chunk file is opened here.
    ///
    /// Fails when the directory is not a recording or `event.json` does not parse. Everything
    /// else (missing chunks, disagreeing metadata, a chunk file that cannot be read) is a
    /// [`Problem`] in [`Recording::problems`] or a finding of [`Recording::check`]; a chunk file
    /// that cannot be read makes [`Recording::stitch`] fail with [`Error::Open`].
    pub fn open(dir: impl AsRef<Path>) -> Result<Recording> {
        let dir = dir.as_ref();
        let meta = callrec_meta::Recording::load(dir)?;
        Ok(Recording {
            meta,
            dir: dir.to_path_buf(),
        })
    }

    /// The directory the recording was opened from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The event, chunks and problems as [`callrec_meta`] matched them up.
    pub fn meta(&self) -> &callrec_meta::Recording {
        &self.meta
    }

    /// The chunks in index order.
    pub fn chunks(&self) -> &[Chunk] {
        &self.meta.chunks
    }

    /// What is inconsistent between the event, the metadata and the directory.
    pub fn problems(&self) -> &[Problem] {
        &self.meta.problems
    }

    /// The call id (from the metadata, else the event's subject).
    pub fn call_id(&self) -> Option<&str> {
        self.meta.call_id()
    }

    /// A name for this recording's archive folder or file that is safe to join to a path: the
    /// call id (else the directory's name) with every character other than ASCII letters,
    /// digits, `-`, `_` and `.` replaced (see [`safe_file_name`]). The call id comes from
    /// downloaded JSON: never join it to a path unfiltered (`../x` would escape the archive).
    pub fn archive_name(&self) -> String {
        let dir_name = self.dir.file_name().map(|n| n.to_string_lossy());
        safe_file_name(self.call_id().or(dir_name.as_deref()).unwrap_or(""))
    }

    /// Opens chunk `i` (position in [`Recording::chunks`]) for positioned reads; `None` when
    /// its media is absent. The file is closed when the reader is dropped.
    pub fn open_chunk(&self, i: usize) -> Option<io::Result<ChunkReader>> {
        let path = self.meta.chunks.get(i)?.media_path.as_ref()?;
        Some(ChunkReader::open(path))
    }

    /// Checks the media against the metadata with the default [`CheckOptions`] (every AAC frame
    /// decoded). The report holds every finding; see [`Report::has_errors`].
    pub fn check(&self) -> Result<Report> {
        self.check_with(&CheckOptions::default())
    }

    /// Checks with the given options. Each chunk file is opened while it is checked, read
    /// with positioned reads in bounded windows, and closed before the next.
    pub fn check_with(&self, opts: &CheckOptions) -> Result<Report> {
        use callrec_check::ChunkMedia;
        let mut open = |i: usize| match self.open_chunk(i) {
            None => ChunkMedia::Absent,
            Some(Ok(r)) => ChunkMedia::Source(Box::new(r)),
            Some(Err(e)) => ChunkMedia::Unreadable(e.to_string()),
        };
        Ok(callrec_check::check_lazy(&self.meta, &mut open, opts))
    }

    /// The wall-clock timeline built from the chunk start times and pause intervals.
    pub fn timeline(&self) -> Timeline {
        self.meta.timeline()
    }

    /// Parses every chunk and builds the stitch plan (no output is written).
    ///
    /// Refused with [`Error::NotStitchable`] when a [`Problem`] makes the chunk sequence wrong or
    /// ambiguous: a missing or duplicate index, a listed chunk whose media is absent, an event
    /// and metadata that disagree on an index, an event that lists no chunk; in wall-clock mode
    /// also a chunk whose metadata is absent or invalid (it has no place on the wall clock).
    /// A chunk whose MP4 does not parse is [`Error::Parse`]; one that parses with a structural
    /// defect ([`callrec_mp4::validate_movie`], the same validator `check` reports from) is
    /// [`Error::Structure`]: its tables are checked before the planner runs, its video samples'
    /// NAL units walked while it runs (the planner reads no sample byte), and a defect is the
    /// error whatever the planner says.
    /// Other problems (no `event.json`: chunks are ordered by `chunkIndex`; a stray file; a
    /// `callId` or `recordingDurationMs` that disagrees) do not change which bytes go where:
    /// [`Recording::check`] reports them.
    pub fn plan(
        &self,
        opts: &StitchOptions,
    ) -> Result<(Vec<callrec_stitch::ChunkInput>, callrec_stitch::Plan)> {
        self.plan_stamped(opts)
            .map(|planned| (planned.inputs, planned.plan))
    }

    /// Stitches the chunks into one MP4 at [`StitchOptions::output`] (atomically: the path holds
    /// the complete file or nothing), and writes the timeline JSON when asked. A chunk file
    /// that changes after the plan read it (length, modification time, or another file at its
    /// path), before or during the copy, is [`Error::Changed`], and the output is removed.
    pub fn stitch(&self, opts: &StitchOptions) -> Result<Stitched> {
        self.stitch_with_progress(opts, &|_, _| {})
    }

    /// [`Recording::stitch`], calling `progress(bytes_done, bytes_total)` as the copy goes.
    pub fn stitch_with_progress(
        &self,
        opts: &StitchOptions,
        progress: &(dyn Fn(u64, u64) + Sync),
    ) -> Result<Stitched> {
        let started = Instant::now();
        self.check_outputs(opts)?;
        let plan::Planned {
            inputs,
            plan,
            stamps,
        } = self.plan_stamped(opts)?;
        // The plan holds what the copy needs (paths, ranges, the header): the parsed chunks
        // are freed before it runs.
        drop(inputs);
        unchanged(&stamps)?;
        let total = plan.output_len();
        let mut stale_removed = remove_stale(&opts.output)?;
        if let Some(path) = &opts.timeline {
            stale_removed += remove_stale(path)?;
        }
        let summary =
            callrec_stitch::write(&plan, &opts.output, &opts.stitch_options(), &|done| {
                progress(done, total)
            })?;
        // A chunk rewritten during the copy (same length: the copy did not run short) gave
        // bytes its tables do not describe: the output is removed.
        if let Err(e) = unchanged(&stamps) {
            let _ = std::fs::remove_file(&summary.path);
            return Err(e);
        }
        if let Some(path) = &opts.timeline {
            let json = output_timeline(&self.timeline(), &plan, opts);
            write_atomic(path, json.as_bytes()).map_err(|e| Error::TimelineNotWritten {
                mp4: summary.path.clone(),
                error: Box::new(e),
            })?;
        }
        Ok(Stitched {
            stale_removed,
            path: summary.path,
            chunks: summary.chunks,
            duration_ms: summary.duration_ms,
            bytes: summary.bytes,
            shared: summary.shared,
            copied: summary.copied,
            seconds: started.elapsed().as_secs_f64(),
            placements: summary.placements,
            tracks: summary.tracks,
            rescaled: plan.rescaled().to_vec(),
            silent_frames: plan.silent_frames(),
            dropped_frames: plan.dropped_frames(),
            copies: source_ranges(&plan),
        })
    }
}

impl Recording {
    /// The files of the recording directory that an output must never replace: `event.json`
    /// and, per chunk, `<documentId>.mp4` and `<documentId>.json` (whether present or not), with
    /// the paths the metadata loader found.
    fn input_paths(&self) -> Vec<(PathBuf, String)> {
        let mut paths = vec![(
            self.dir.join(callrec_meta::EVENT_FILE),
            "the recording's event.json".to_string(),
        )];
        for c in &self.meta.chunks {
            let what = |kind: &str| format!("chunk {} ({})'s {kind}", c.index, c.document_id);
            paths.push((
                self.dir
                    .join(callrec_meta::naming::media_file(&c.document_id)),
                what("media"),
            ));
            paths.push((
                self.dir
                    .join(callrec_meta::naming::metadata_file(&c.document_id)),
                what("metadata"),
            ));
            if let Some(p) = &c.media_path {
                paths.push((p.clone(), what("media")));
            }
            if let Some(p) = &c.metadata_path {
                paths.push((p.clone(), what("metadata")));
            }
        }
        paths
    }

    /// Refuses, before anything is written, an output that is one of the recording's files
    /// (by canonical path or by device and inode), an existing JSON file of the recording
    /// directory (`*.packets.json`), the other output, a dangling symbolic link, or an
    /// existing file that is not a regular file (a directory, FIFO, device or socket).
    pub fn check_outputs(&self, opts: &StitchOptions) -> Result<()> {
        let inputs: Vec<(Identity, String)> = self
            .input_paths()
            .into_iter()
            .map(|(p, what)| (Identity::of(&p), what))
            .collect();
        let mut outputs = vec![&opts.output];
        outputs.extend(&opts.timeline);
        let refuse = |path: &Path, reason: String| Error::OutputRefused {
            path: path.to_path_buf(),
            reason,
        };
        let own_dir = std::fs::canonicalize(&self.dir).ok();
        for path in &outputs {
            let id = Identity::of(path);
            if let Some((_, what)) = inputs.iter().find(|(i, _)| i.same(&id)) {
                return Err(refuse(path, format!("it is {what}")));
            }
            if let Ok(link) = std::fs::symlink_metadata(path) {
                if link.file_type().is_symlink() && std::fs::metadata(path).is_err() {
                    return Err(refuse(
                        path,
                        "it is a symbolic link to nothing (dangling)".into(),
                    ));
                }
                // Any existing JSON file of the recording directory (`*.packets.json`, metadata
                // of an unlisted chunk...): what the directory's metadata is read from. (An
                // earlier output MP4 there may be replaced.)
                let canonical = id.canonical.as_deref();
                let parent = canonical.and_then(Path::parent);
                let json = canonical
                    .and_then(Path::extension)
                    .is_some_and(|x| x == "json");
                if json && own_dir.is_some() && parent == own_dir.as_deref() {
                    return Err(refuse(
                        path,
                        "it is a JSON file of the recording directory, which is only read".into(),
                    ));
                }
            }
            // A name ending in a separator names a directory, existing or not: the rename at
            // the end could only fail, after all the work.
            if path
                .as_os_str()
                .to_string_lossy()
                .ends_with(std::path::MAIN_SEPARATOR)
            {
                return Err(refuse(
                    path,
                    "it names a directory (it ends with a '/')".into(),
                ));
            }
            match std::fs::metadata(path) {
                Ok(m) if m.is_dir() => return Err(refuse(path, "it is a directory".into())),
                Ok(m) if !m.is_file() => {
                    return Err(refuse(path, "it exists and is not a regular file".into()))
                }
                _ => {}
            }
        }
        if let Some(timeline) = &opts.timeline {
            if Identity::of(&opts.output).same(&Identity::of(timeline)) {
                return Err(refuse(timeline, "it is also the output MP4".into()));
            }
        }
        Ok(())
    }
}

/// What identifies a file: its canonical path (the parent's canonical path and the name when it
/// does not exist yet) and, when it exists, its device and inode.
#[derive(Debug)]
struct Identity {
    canonical: Option<PathBuf>,
    #[cfg(unix)]
    inode: Option<(u64, u64)>,
}

impl Identity {
    fn of(path: &Path) -> Identity {
        let canonical = std::fs::canonicalize(path).ok().or_else(|| {
            let name = path.file_name()?;
            let parent = match path.parent() {
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => Path::new("."),
            };
            Some(std::fs::canonicalize(parent).ok()?.join(name))
        });
        Identity {
            canonical,
            #[cfg(unix)]
            inode: std::fs::metadata(path).ok().map(|m| {
                use std::os::unix::fs::MetadataExt;
                (m.dev(), m.ino())
            }),
        }
    }

    fn same(&self, other: &Identity) -> bool {
        #[cfg(unix)]
        if self.inode.is_some() && self.inode == other.inode {
            return true;
        }
        self.canonical.is_some() && self.canonical == other.canonical
    }
}

/// Removes the temporaries a killed run left for `target` (see
/// [`callrec_stitch::temp::remove_stale`]).
fn remove_stale(target: &Path) -> Result<usize> {
    callrec_stitch::temp::remove_stale(target).map_err(|error| Error::Io {
        op: "look for stale temporary files beside",
        path: target.to_path_buf(),
        error,
    })
}

/// How to stitch a recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StitchOptions {
    /// The output MP4.
    pub output: PathBuf,
    /// Pauses and gaps between chunks become gaps in the media timestamps (the frame before a
    /// pause is held, the audio is silent; a gap before the first chunk is a leading empty
    /// edit), so the playback position equals the time since `recordingStartTime` in every
    /// player. Off (compact): media runs on through pauses.
    pub wall_clock: bool,
    /// Copy threads (capped at [`max_threads`]); `None` uses the caller's rayon pool.
    pub threads: Option<usize>,
    /// Also write the wall-clock timeline as JSON here.
    pub timeline: Option<PathBuf>,
    /// Trim the joins (see [`callrec_stitch::StitchOptions::trim_joins`]): drop whole frames of
    /// AAC priming and end padding at each join, so the output lasts the sum of the chunks'
    /// durations (within half an audio frame at every join) instead of keeping every frame.
    pub trim_joins: bool,
    /// Share the sample bytes' blocks with the chunk files where the output's filesystem can
    /// (a copy-on-write filesystem: XFS with `reflink=1`, btrfs...) instead of copying them
    /// (default on). The output is laid out for it either way (each chunk's samples at offsets
    /// congruent to the source's modulo the filesystem's block size, fewer than a block of zero
    /// padding per run), so it is the same bytes with or without; off copies every byte.
    pub reflink: bool,
    /// Compare every copied byte of the output with its source before it is renamed into
    /// place (the output is always read back and checked against the plan).
    pub verify_payload: bool,
}

impl StitchOptions {
    /// Compact stitch to `output`, on the caller's rayon pool, no timeline file.
    pub fn new(output: impl Into<PathBuf>) -> StitchOptions {
        StitchOptions {
            output: output.into(),
            wall_clock: false,
            threads: None,
            timeline: None,
            trim_joins: false,
            reflink: true,
            verify_payload: false,
        }
    }

    /// Sets [`StitchOptions::verify_payload`].
    pub fn verify_payload(mut self, on: bool) -> StitchOptions {
        self.verify_payload = on;
        self
    }

    /// Sets [`StitchOptions::trim_joins`].
    pub fn trim_joins(mut self, on: bool) -> StitchOptions {
        self.trim_joins = on;
        self
    }

    /// Sets [`StitchOptions::reflink`].
    pub fn reflink(mut self, on: bool) -> StitchOptions {
        self.reflink = on;
        self
    }

    /// Sets [`StitchOptions::wall_clock`].
    pub fn wall_clock(mut self, on: bool) -> StitchOptions {
        self.wall_clock = on;
        self
    }

    /// Sets [`StitchOptions::threads`].
    pub fn threads(mut self, n: usize) -> StitchOptions {
        self.threads = Some(n);
        self
    }

    /// Sets [`StitchOptions::timeline`].
    pub fn timeline(mut self, path: impl Into<PathBuf>) -> StitchOptions {
        self.timeline = Some(path.into());
        self
    }

    fn stitch_options(&self) -> callrec_stitch::StitchOptions {
        callrec_stitch::StitchOptions {
            wall_clock: self.wall_clock,
            threads: self.threads.map(|n| n.clamp(1, max_threads())),
            trim_joins: self.trim_joins,
            align: Some(callrec_stitch::block_size(&self.output)),
            no_reflink: !self.reflink,
            verify_payload: self.verify_payload,
        }
    }
}

/// The threads worth running on this machine ([`std::thread::available_parallelism`], 1 when
/// unknown): [`StitchOptions::threads`] is capped at it.
pub fn max_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// What a stitch produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Stitched {
    /// The output file.
    pub path: PathBuf,
    /// Chunks stitched.
    pub chunks: usize,
    /// Presented duration in milliseconds.
    pub duration_ms: u64,
    /// Size of the output file.
    pub bytes: u64,
    /// Sample bytes whose blocks the output shares with the chunk files (cloned, not written).
    pub shared: u64,
    /// Sample bytes copied (see [`StitchOptions::reflink`]).
    pub copied: u64,
    /// Wall time the stitch took, in seconds.
    pub seconds: f64,
    /// Where each chunk starts in the output.
    pub placements: Vec<ChunkPlacement>,
    /// The output's tracks as planned (sample counts, durations, edits).
    pub tracks: Vec<callrec_stitch::TrackPlan>,
    /// Temporary files of an earlier, killed run on the same targets that were removed.
    pub stale_removed: usize,
    /// Chunk tracks whose timescale was converted to their output track's.
    pub rescaled: Vec<callrec_stitch::Rescaled>,
    /// Silent AAC frames inserted where the output waits (pauses and gaps in wall-clock mode,
    /// a video longer than its chunk's audio).
    pub silent_frames: u64,
    /// Audio frames of priming or end padding dropped at joins (trimmed joins, wall clock).
    pub dropped_frames: u64,
    /// Where the output's sample bytes came from, in output order: each range of a chunk file
    /// that the output holds unchanged (the rest of the output is its header, padding and
    /// silent frames). An uploader that already sent those ranges can reuse them.
    pub copies: Vec<SourceRange>,
}

/// A range of a chunk file that the output holds unchanged ([`Stitched::copies`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceRange {
    /// The chunk file.
    pub source: PathBuf,
    /// Offset in the chunk file.
    pub src_offset: u64,
    /// Length in bytes.
    pub len: u64,
    /// Offset in the output file.
    pub dst_offset: u64,
}

fn source_ranges(plan: &callrec_stitch::Plan) -> Vec<SourceRange> {
    plan.copies()
        .iter()
        .filter_map(|c| {
            Some(SourceRange {
                source: plan.source_path(c.chunk)?.to_path_buf(),
                src_offset: c.src_offset,
                len: c.len,
                dst_offset: c.dst_offset,
            })
        })
        .collect()
}

/// The README's Rust examples, compiled as doctests so they keep working as written.
#[doc = include_str!("../../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
