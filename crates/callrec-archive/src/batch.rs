//! The batch: check, stitch and export the timeline of every recording under a root, with a
//! manifest that lets a killed run resume where it stopped.
//!
//! # Outputs
//! For each recording directory found under the root, `OUT/<key>/` receives `check.json` (the
//! [`callrec::Report`]), `timeline.json` (the wall-clock timeline) and, when the recording is
//! archived, `recording.mp4`. `<key>` is the callId; recordings that share a callId (one call
//! can be recorded more than once, and a re-download sits beside the first) get
//! `<callId>--<directory name>`, or `<callId>--<hash of the path>` when even that is taken. A key
//! once written to the manifest stays with its directory.
//!
//! # The manifest
//! `OUT/manifest.jsonl` gets one JSON line per recording processed ([`Entry`]): the directory
//! (relative to the root), key, [`Status`], the reason of a failure, check counts, durations, and
//! size and SHA-256 of every output. It is append-only; the last line of a directory wins.
//!
//! # What is failed, what is redone
//! - `ok`: check found no error, the stitch and the timeline are written.
//! - `rejected`: the recording itself is bad (check found an error, or it cannot be opened,
//!   parsed or stitched). `check.json` (and `timeline.json` when the metadata allows it) is still
//!   written so the user sees why; `recording.mp4` is not.
//! - `error`: processing failed for another reason (an I/O error reading a chunk or writing an
//!   output).
//!
//! `rejected` and `error` are failures: they are reported, the batch goes on, and the command
//! exits non-zero. A rerun skips an `ok` or `rejected` recording while its input files are
//! unchanged (same names, sizes and modification times: the entry's `inputs` fingerprint) and its
//! outputs are still in place: redoing it would give the same result. It redoes the rest: `error`
//! recordings (the cause may be gone), recordings whose chunks changed (a missing chunk that has
//! since been downloaded), new ones, and those a killed run did not finish. `force` redoes
//! everything.
//!
//! # Why a kill loses nothing
//! Every output reaches its final path by an atomic rename (temporary file beside it, synced,
//! renamed), and a recording's manifest line is appended, and synced, only after all its outputs
//! are in place. A final path therefore holds a complete file or nothing new, the manifest lists
//! only finished recordings (a line cut short by a kill is ignored), and a rerun removes the
//! temporary files a killed run left behind.
//!
//! # One batch per output directory
//! [`run`] holds an exclusive lock on `OUT/.callrec-batch.lock` (which holds its process id)
//! while it works: a second batch on the same OUT fails naming the holder's pid, or waits for it
//! with [`Options::wait`]. An OUT inside a recording directory under the root is refused (the
//! root is only read).
//!
//! # Names
//! Keys are bounded (a long callId is cut and given a hash of the whole), unique, and never a
//! name the batch uses itself (`manifest.jsonl`, the lock file, a hidden name). Every key read
//! back from the manifest is checked again: an entry whose key or output names are not what
//! the batch would write (a tampered manifest: `../x`) is ignored, so no path escapes OUT.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

pub use crate::discover::discover;
use crate::discover::is_recording_dir;
use crate::job::plural;
pub use crate::job::{finding_note, Job, JobOptions};
use crate::lock::OutLock;
pub use crate::manifest::{describe, fingerprint, read_manifest, Entry, Manifest, Output, Status};
use crate::names::relative;
pub use crate::names::{
    assign_keys, valid_key, CHECK_JSON, LOCK, MANIFEST, MAX_KEY_BYTES, RECORDING_MP4, TIMELINE_JSON,
};
use crate::{Error, Result};

/// What a batch is asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The directory searched for recordings (only read).
    pub root: PathBuf,
    /// Where the per-recording folders and the manifest go.
    pub out: PathBuf,
    /// Threads of the batch's own rayon pool: recordings processed at once (their copies share
    /// the same pool).
    pub jobs: usize,
    /// Stitch on the wall clock (pauses and gaps become timestamp gaps).
    pub wall_clock: bool,
    /// Redo recordings the manifest says are done.
    pub force: bool,
    /// When another batch holds OUT's lock, wait for it (else fail naming its pid).
    pub wait: bool,
}

impl Options {
    /// Defaults: one job per CPU, compact timeline, no force.
    pub fn new(root: impl Into<PathBuf>, out: impl Into<PathBuf>) -> Options {
        Options {
            root: root.into(),
            out: out.into(),
            jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
            wall_clock: false,
            force: false,
            wait: false,
        }
    }
}

/// What happened to a recording in this run.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The manifest entry (the one written now, or the earlier one when skipped).
    pub entry: Entry,
    /// True when this run skipped it because the manifest says it is done.
    pub skipped: bool,
}

/// What a run did, in the order of [`discover`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    /// One outcome per recording directory found.
    pub outcomes: Vec<Outcome>,
}

impl Summary {
    /// Recordings whose current state is a failure (processed now or skipped).
    pub fn failed(&self) -> usize {
        self.outcomes
            .iter()
            .filter(|o| o.entry.status.failed())
            .count()
    }

    /// Recordings skipped by this run.
    pub fn skipped(&self) -> usize {
        self.outcomes.iter().filter(|o| o.skipped).count()
    }

    /// The process exit status: 0 when every recording is ok, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        u8::from(self.failed() > 0)
    }

    /// The summary table a person reads: one line per recording, then totals.
    pub fn table(&self) -> String {
        let mut rows = vec![[
            "STATUS",
            "KEY",
            "DIR",
            "CHUNKS",
            "MEDIA",
            "WALL",
            "MP4 BYTES",
            "E/W",
            "NOTE",
        ]
        .map(String::from)];
        let ms = |v: Option<u64>| v.map_or("-".into(), |v| format!("{:.3} s", v as f64 / 1e3));
        for o in &self.outcomes {
            let e = &o.entry;
            let note = match (&e.reason, o.skipped) {
                (Some(r), true) => format!("skipped (earlier run): {r}"),
                (Some(r), false) => r.clone(),
                (None, true) => "skipped (done earlier)".into(),
                (None, false) => String::new(),
            };
            rows.push([
                e.status.as_str().into(),
                e.key.clone(),
                e.dir.clone(),
                e.measures.chunks.to_string(),
                ms(e.measures.media_ms),
                ms(e.measures.wall_ms),
                e.outputs
                    .get(RECORDING_MP4)
                    .map_or("-".into(), |o| o.bytes.to_string()),
                format!("{}/{}", e.measures.errors, e.measures.warnings),
                note,
            ]);
        }
        let mut widths = [0usize; 9];
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let mut out = String::new();
        for row in &rows {
            let mut line = String::new();
            for (i, (cell, w)) in row.iter().zip(widths).enumerate() {
                let numeric = (3..=6).contains(&i) && cell != "-";
                match (i, numeric) {
                    (8, _) => line.push_str(cell),
                    (_, true) => {
                        let _ = write!(line, "{cell:>w$}  ");
                    }
                    _ => {
                        let _ = write!(line, "{cell:<w$}  ");
                    }
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        let ok = self.outcomes.len() - self.failed();
        let _ = writeln!(
            out,
            "{}: {} ok, {} failed, {} skipped (done earlier)",
            plural(self.outcomes.len(), "recording"),
            ok,
            self.failed(),
            self.skipped()
        );
        out
    }
}

/// What [`run`] reports as it goes.
#[derive(Debug)]
pub enum Event<'a> {
    /// Another batch holds OUT's lock and [`Options::wait`] is set: waiting for it.
    Waiting {
        /// The holder's process id, when its lock file says.
        pid: Option<u32>,
    },
    /// The work is known.
    Start {
        /// Recording directories found.
        found: usize,
        /// Recordings to process in this run.
        todo: usize,
    },
    /// A recording is skipped: the manifest says it is done.
    Skipped(&'a Entry),
    /// A recording is being processed.
    Begin {
        /// Its directory, relative to the root.
        dir: &'a str,
        /// Its output folder.
        key: &'a str,
    },
    /// Bytes of a recording's MP4 written so far (called from the copying threads).
    Stitching {
        /// Its directory, relative to the root.
        dir: &'a str,
        /// Bytes written so far.
        done: u64,
        /// Size of the finished file.
        total: u64,
    },
    /// A recording is finished and its manifest line written.
    Done(&'a Entry),
}

/// Runs the batch: every recording under `opts.root` that is not done is archived by a
/// [`Job`] (checked, its timeline exported and, when the check finds no error, stitched),
/// several at once on a pool of `opts.jobs` threads (capped at the machine's), under the
/// output directory's [`OutLock`]. A failed recording is recorded in the manifest and the run
/// goes on.
///
/// `on_event` is called from the worker threads. The result is `Err` only when the batch itself
/// cannot run (OUT is locked or inside a recording, the root cannot be read, the output
/// directory or manifest cannot be written).
pub fn run(opts: &Options, on_event: &(dyn Fn(Event<'_>) + Sync)) -> Result<Summary> {
    refuse_out_inside_a_recording(&opts.root, &opts.out)?;
    // A root that cannot be read fails before OUT (and its lock file) is created.
    fs::read_dir(&opts.root).map_err(|e| Error::io("cannot read", &opts.root, e))?;
    fs::create_dir_all(&opts.out).map_err(|e| Error::io("cannot create", &opts.out, e))?;
    let _lock = OutLock::take(&opts.out, opts.wait, |pid| on_event(Event::Waiting { pid }))?;
    let dirs = discover(&opts.root, Some(&opts.out))?;
    let manifest = Manifest::open(opts.out.join(MANIFEST))?;
    let previous = manifest.entries();

    let (todo, skipped) = sort_out(opts, dirs, previous);
    on_event(Event::Start {
        found: todo.len() + skipped.len(),
        todo: todo.len(),
    });
    for e in &skipped {
        on_event(Event::Skipped(e));
    }

    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.jobs.clamp(1, callrec::max_threads()))
        .thread_name(|i| format!("batch-{i}"))
        .build()
        .map_err(|e| Error::Pool(e.to_string()))?;
    let done: Vec<Result<Entry>> = pool.install(|| {
        todo.par_iter()
            .with_max_len(1)
            .map(|p| {
                on_event(Event::Begin {
                    dir: &p.rel,
                    key: &p.key,
                });
                let outcome = p.job.run(&|done, total| {
                    on_event(Event::Stitching {
                        dir: &p.rel,
                        done,
                        total,
                    })
                });
                let entry = outcome.entry(
                    &p.rel,
                    &p.key,
                    p.call_id.clone(),
                    &p.inputs,
                    opts.wall_clock,
                );
                manifest.append(&entry)?;
                on_event(Event::Done(&entry));
                Ok(entry)
            })
            .collect()
    });

    let mut outcomes: Vec<Outcome> = skipped
        .into_iter()
        .map(|entry| Outcome {
            entry,
            skipped: true,
        })
        .collect();
    for entry in done {
        outcomes.push(Outcome {
            entry: entry?,
            skipped: false,
        });
    }
    outcomes.sort_by(|a, b| Path::new(&a.entry.dir).cmp(Path::new(&b.entry.dir)));
    Ok(Summary { outcomes })
}

/// Names every recording (callId from its metadata, key from [`assign_keys`]) and sorts them
/// into those to process and the manifest entries that still stand ([`Entry::still_done`]).
fn sort_out(
    opts: &Options,
    dirs: Vec<PathBuf>,
    previous: &BTreeMap<String, Entry>,
) -> (Vec<Pending>, Vec<Entry>) {
    let named: Vec<(String, Option<String>)> = dirs
        .iter()
        .map(|d| {
            let call_id = callrec::crates::meta::Recording::load(d)
                .ok()
                .and_then(|r| r.call_id().map(str::to_string));
            (relative(&opts.root, d), call_id)
        })
        .collect();
    let keys = assign_keys(&named, previous);

    let mut todo = Vec::new();
    let mut skipped = Vec::new();
    for ((dir, (rel, call_id)), key) in dirs.into_iter().zip(named).zip(keys) {
        let inputs = fingerprint(&dir).unwrap_or_default();
        let out_dir = opts.out.join(&key);
        match previous.get(&rel) {
            Some(e) if !opts.force && e.still_done(&inputs, opts.wall_clock, &out_dir) => {
                skipped.push(e.clone())
            }
            _ => todo.push(Pending {
                job: Job::new(
                    dir,
                    out_dir,
                    JobOptions::default().wall_clock(opts.wall_clock),
                ),
                rel,
                key,
                call_id,
                inputs,
            }),
        }
    }
    (todo, skipped)
}

/// A recording to process, with what its manifest line needs.
struct Pending {
    job: Job,
    rel: String,
    key: String,
    call_id: Option<String>,
    inputs: String,
}

/// Refuses an output directory that is, or is inside, a recording directory under `root`
/// (the batch would write into its input). A root that cannot be read is left to [`discover`]
/// to report.
fn refuse_out_inside_a_recording(root: &Path, out: &Path) -> Result<()> {
    let Ok(root) = fs::canonicalize(root) else {
        return Ok(());
    };
    let out_abs = std::path::absolute(out).unwrap_or_else(|_| out.to_path_buf());
    for dir in out_abs.ancestors() {
        let Ok(dir) = fs::canonicalize(dir) else {
            continue; // not created yet
        };
        if dir.starts_with(&root) && is_recording_dir(&dir) {
            return Err(Error::OutInsideRecording {
                out: out.to_path_buf(),
                recording: dir,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_root_that_does_not_exist_fails_before_out_is_created() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let opts = Options::new(tmp.path().join("nonexistent"), &out);
        let err = run(&opts, &|_| {}).unwrap_err().to_string();
        assert!(err.contains("nonexistent"), "{err}");
        assert!(!out.exists(), "OUT and its lock file were created");
    }
}
