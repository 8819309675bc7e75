//! The `batch` job: check, stitch and export the timeline of every recording under a root, with a
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

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Instant, UNIX_EPOCH};

use crate::cli::plural;

use anyhow::{Context, Result};
use callrec::crates::mp4::TrackKind;
use callrec::crates::stitch::temp;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The manifest's file name inside the output directory.
pub const MANIFEST: &str = "manifest.jsonl";
/// The stitched recording's file name.
pub const RECORDING_MP4: &str = "recording.mp4";
/// The timeline's file name.
pub const TIMELINE_JSON: &str = "timeline.json";
/// The check report's file name.
pub const CHECK_JSON: &str = "check.json";
/// The lock file's name inside the output directory (it holds the running batch's pid).
pub const LOCK: &str = ".callrec-batch.lock";
/// The longest output key: far below the 255 bytes a file name may have.
pub const MAX_KEY_BYTES: usize = 160;
/// The longest callId (or directory name) kept whole in a key; a longer one is cut and given
/// 12 hex digits of its SHA-256.
const MAX_BASE_BYTES: usize = 96;

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

/// The outcome of one recording.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Checked without error, stitched, timeline exported.
    Ok,
    /// The recording is bad (check errors, or it cannot be opened, parsed or stitched).
    Rejected,
    /// Processing failed for another reason (I/O); retried on every run.
    Error,
}

impl Status {
    /// `ok`, `rejected` or `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Rejected => "rejected",
            Status::Error => "error",
        }
    }

    /// Whether this is a failure (`rejected` or `error`).
    pub fn failed(self) -> bool {
        self != Status::Ok
    }
}

/// An output file as the manifest records it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Output {
    /// Size in bytes.
    pub bytes: u64,
    /// SHA-256 of the content, lowercase hex.
    pub sha256: String,
}

/// One line of `manifest.jsonl`: the outcome of one recording.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Entry {
    /// The recording directory, relative to the root, `/`-separated (`.` for the root itself).
    pub dir: String,
    /// The output folder's name under the output directory.
    pub key: String,
    /// The call id, when the metadata gives one.
    pub call_id: Option<String>,
    /// The outcome.
    pub status: Status,
    /// Why it failed (`None` when ok).
    pub reason: Option<String>,
    /// Fingerprint of the input files (SHA-256 over names, sizes and modification times).
    pub inputs: String,
    /// Chunks in the recording.
    pub chunks: usize,
    /// Error findings of the check.
    pub errors: usize,
    /// Warning findings of the check.
    pub warnings: usize,
    /// Presented duration of the stitched file, in milliseconds.
    pub media_ms: Option<u64>,
    /// Wall-clock span of the recording, in milliseconds.
    pub wall_ms: Option<u64>,
    /// Paused time, in milliseconds.
    pub paused_ms: Option<u64>,
    /// Whether the stitch is on the wall clock.
    pub wall_clock: bool,
    /// The outputs written, by file name.
    pub outputs: BTreeMap<String, Output>,
    /// Seconds spent on the recording.
    pub seconds: f64,
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
                e.chunks.to_string(),
                ms(e.media_ms),
                ms(e.wall_ms),
                e.outputs
                    .get(RECORDING_MP4)
                    .map_or("-".into(), |o| o.bytes.to_string()),
                format!("{}/{}", e.errors, e.warnings),
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

/// Finds every recording directory under `root`, sorted: a directory holding `event.json`, or
/// chunk metadata (a `<stem>.json` beside `<stem>.mp4`, or a JSON file that parses as chunk
/// metadata; `*.packets.json` never counts). A recording directory's subdirectories are not
/// searched; hidden directories, symbolic links and `exclude` (the output directory) are
/// skipped.
pub fn discover(root: &Path, exclude: Option<&Path>) -> Result<Vec<PathBuf>> {
    let exclude = exclude.and_then(|p| fs::canonicalize(p).ok());
    let mut found = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        if exclude.is_some() && fs::canonicalize(&dir).ok() == exclude {
            continue;
        }
        let mut subdirs = Vec::new();
        let mut files = BTreeSet::new();
        let read = || format!("cannot read {}", dir.display());
        for entry in fs::read_dir(&dir).with_context(read)? {
            let entry = entry.with_context(read)?;
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            let kind = entry.file_type().with_context(read)?;
            if kind.is_dir() && !name.starts_with('.') {
                subdirs.push(entry.path());
            } else if kind.is_file() {
                files.insert(name);
            }
        }
        if is_recording(&dir, &files) {
            found.push(dir);
        } else {
            stack.extend(subdirs);
        }
    }
    found.sort();
    Ok(found)
}

/// Whether `dir` itself is a recording directory (see [`discover`]).
fn is_recording_dir(dir: &Path) -> bool {
    let Ok(rd) = fs::read_dir(dir) else {
        return false;
    };
    let files: BTreeSet<String> = rd
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    is_recording(dir, &files)
}

fn is_recording(dir: &Path, files: &BTreeSet<String>) -> bool {
    if files.contains(callrec::crates::meta::EVENT_FILE) {
        return true;
    }
    let metadata = files.iter().filter_map(|f| {
        let stem = f.strip_suffix(".json")?;
        (!stem.ends_with(".packets")).then_some((f, stem))
    });
    for (file, stem) in metadata {
        if files.contains(&format!("{stem}.mp4")) {
            return true;
        }
        let path = dir.join(file);
        if callrec::crates::meta::read_json_file(&path)
            .is_ok_and(|b| callrec::crates::meta::ChunkMetadata::from_json(&b, &path).is_ok())
        {
            return true;
        }
    }
    false
}

/// Reads the manifest: the last entry of each directory. Lines that do not parse (a run killed
/// while appending one) are ignored. A missing manifest is empty.
pub fn read_manifest(path: &Path) -> Result<BTreeMap<String, Entry>> {
    let mut entries = BTreeMap::new();
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(entries),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    for line in BufReader::new(file).lines() {
        let line = line.with_context(|| format!("cannot read {}", path.display()))?;
        match serde_json::from_str::<Entry>(&line) {
            Ok(entry) if trusted(&entry) => {
                entries.insert(entry.dir.clone(), entry);
            }
            // A key or output name the batch never writes: the manifest was edited; the
            // directory gets a fresh key and is redone.
            _ => {}
        }
    }
    Ok(entries)
}

/// Whether `key` is a name [`assign_keys`] could give: one path component of safe characters,
/// bounded, not hidden and not one of the batch's own files.
pub fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= MAX_KEY_BYTES
        && callrec::safe_file_name(key) == key
        && !reserved(key)
}

/// Names in OUT that the batch uses itself.
fn reserved(name: &str) -> bool {
    [MANIFEST, LOCK]
        .iter()
        .any(|r| name.eq_ignore_ascii_case(r))
}

/// Whether a manifest entry read back names only what the batch writes.
fn trusted(entry: &Entry) -> bool {
    valid_key(&entry.key)
        && entry
            .outputs
            .keys()
            .all(|n| [CHECK_JSON, TIMELINE_JSON, RECORDING_MP4].contains(&n.as_str()))
}

/// `s` made a bounded, safe, non-reserved name: [`callrec::safe_file_name`], cut to
/// [`MAX_BASE_BYTES`] with 12 hex digits of the SHA-256 of the whole when longer, and `_` put
/// before a name the batch uses itself.
fn bounded_name(s: &str) -> String {
    let safe = callrec::safe_file_name(s);
    let name = if safe.len() > MAX_BASE_BYTES {
        // ASCII only: any byte index is a char boundary.
        format!("{}-{}", &safe[..MAX_BASE_BYTES - 13], &sha256_hex(s)[..12])
    } else {
        safe
    };
    if reserved(&name) {
        format!("_{name}")
    } else {
        name
    }
}

/// A directory's name relative to the root, `/`-separated.
fn relative(root: &Path, dir: &Path) -> String {
    let rel = dir.strip_prefix(root).unwrap_or(dir);
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.is_empty() {
        ".".into()
    } else {
        parts.join("/")
    }
}

fn sha256_hex(bytes: impl AsRef<[u8]>) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Assigns output keys to `dirs` (relative names, sorted) given their call ids and the keys
/// earlier runs gave (`previous`, by directory). Deterministic: the same directories and
/// manifest give the same keys, whatever order the recordings finish in.
pub fn assign_keys(
    dirs: &[(String, Option<String>)],
    previous: &BTreeMap<String, Entry>,
) -> Vec<String> {
    let base = |(rel, call_id): &(String, Option<String>)| match call_id {
        Some(id) => bounded_name(id),
        None => format!(
            "dir-{}",
            bounded_name(rel.rsplit('/').next().unwrap_or(rel))
        ),
    };
    let bases: Vec<String> = dirs.iter().map(base).collect();
    let mut count: HashMap<&str, usize> = HashMap::new();
    for b in &bases {
        *count.entry(b).or_default() += 1;
    }
    let mut taken: BTreeSet<String> = previous.values().map(|e| e.key.clone()).collect();
    // Keys of earlier runs, each kept by the first directory that had it (an edited manifest
    // may give two directories one key).
    let mut kept = BTreeSet::new();
    let mut keys = Vec::with_capacity(dirs.len());
    for ((rel, _), base) in dirs.iter().zip(&bases) {
        if let Some(e) = previous.get(rel) {
            if valid_key(&e.key) && kept.insert(e.key.clone()) {
                keys.push(e.key.clone());
                continue;
            }
        }
        let name = bounded_name(rel.rsplit('/').next().unwrap_or(rel));
        let hash = &sha256_hex(rel.as_bytes())[..8];
        let mut candidates = vec![];
        if count[base.as_str()] == 1 {
            candidates.push(base.clone());
        }
        candidates.push(format!("{base}--{name}"));
        candidates.push(format!("{base}--{hash}"));
        let key = candidates
            .into_iter()
            .find(|k| !taken.contains(k) && valid_key(k))
            .unwrap_or_else(|| {
                (2..)
                    .map(|n| format!("{base}--{hash}-{n}"))
                    .find(|k| !taken.contains(k))
                    .unwrap_or_default()
            });
        taken.insert(key.clone());
        keys.push(key);
    }
    keys
}

/// Fingerprint of a recording's input files: SHA-256 over the sorted names, sizes and
/// modification times of the regular files in `dir`.
pub fn fingerprint(dir: &Path) -> io::Result<String> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        if !meta.is_file() {
            continue;
        }
        let mtime = meta
            .modified()?
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        files.push(format!(
            "{}\t{}\t{}\n",
            entry.file_name().to_string_lossy(),
            meta.len(),
            mtime
        ));
    }
    files.sort();
    Ok(sha256_hex(files.concat()))
}

/// Size and SHA-256 of a file, read in 1 MiB steps.
pub fn describe(path: &Path) -> io::Result<Output> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut bytes = 0u64;
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        bytes += n as u64;
    }
    Ok(Output {
        bytes,
        sha256: hex(&hasher.finalize()),
    })
}

/// Whether an earlier entry still stands: done (ok or rejected) on the same inputs in the same
/// timeline mode, with every output still in place at its recorded size.
fn still_done(entry: &Entry, inputs: &str, wall_clock: bool, out_dir: &Path) -> bool {
    entry.status != Status::Error
        && entry.inputs == inputs
        && entry.wall_clock == wall_clock
        && entry.outputs.iter().all(|(name, o)| {
            fs::metadata(out_dir.join(name)).is_ok_and(|m| m.is_file() && m.len() == o.bytes)
        })
}

/// Runs the batch: every recording under `opts.root` that is not done is checked, its timeline
/// exported and, when the check finds no error, stitched, several at once on a pool of
/// `opts.jobs` threads. A failed recording is recorded in the manifest and the run goes on.
///
/// `on_event` is called from the worker threads. The result is `Err` only when the batch itself
/// cannot run (the root cannot be read, the output directory or manifest cannot be written).
pub fn run(opts: &Options, on_event: &(dyn Fn(Event<'_>) + Sync)) -> Result<Summary> {
    refuse_out_inside_a_recording(&opts.root, &opts.out)?;
    fs::create_dir_all(&opts.out)
        .with_context(|| format!("cannot create {}", opts.out.display()))?;
    let _lock = OutLock::take(&opts.out, opts.wait, on_event)?;
    let dirs = discover(&opts.root, Some(&opts.out))?;
    let manifest_path = opts.out.join(MANIFEST);
    let previous = read_manifest(&manifest_path)?;

    let named: Vec<(String, Option<String>)> = dirs
        .iter()
        .map(|d| {
            let call_id = callrec::crates::meta::Recording::load(d)
                .ok()
                .and_then(|r| r.call_id().map(str::to_string));
            (relative(&opts.root, d), call_id)
        })
        .collect();
    let keys = assign_keys(&named, &previous);

    let mut jobs = Vec::new();
    let mut skipped = Vec::new();
    for ((dir, (rel, call_id)), key) in dirs.into_iter().zip(named).zip(keys) {
        let inputs = fingerprint(&dir).unwrap_or_default();
        let out_dir = opts.out.join(&key);
        match previous.get(&rel) {
            Some(e) if !opts.force && still_done(e, &inputs, opts.wall_clock, &out_dir) => {
                skipped.push(e.clone())
            }
            _ => jobs.push(Job {
                dir,
                rel,
                key,
                call_id,
                inputs,
            }),
        }
    }
    on_event(Event::Start {
        found: jobs.len() + skipped.len(),
        todo: jobs.len(),
    });
    for e in &skipped {
        on_event(Event::Skipped(e));
    }

    let manifest = Mutex::new(open_manifest(&manifest_path)?);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.jobs.clamp(1, callrec::max_threads()))
        .thread_name(|i| format!("batch-{i}"))
        .build()
        .context("cannot start the worker pool")?;
    let done: Vec<Result<Entry>> = pool.install(|| {
        jobs.par_iter()
            .with_max_len(1)
            .map(|job| {
                on_event(Event::Begin {
                    dir: &job.rel,
                    key: &job.key,
                });
                let entry = process(opts, job, on_event);
                let mut line = serde_json::to_string(&entry)?;
                line.push('\n');
                let mut file = manifest.lock().unwrap_or_else(|p| p.into_inner());
                file.write_all(line.as_bytes())
                    .and_then(|()| file.sync_data())
                    .with_context(|| format!("cannot append to {}", manifest_path.display()))?;
                drop(file);
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
            anyhow::bail!(
                "refusing to write into {}: it is inside the recording directory {} (the root \
                 is only read; choose an output directory outside every recording)",
                out.display(),
                dir.display()
            );
        }
    }
    Ok(())
}

/// The exclusive lock a batch holds on its output directory (released when dropped; the file
/// stays, emptied, so that no waiting batch locks a file that is being removed).
struct OutLock {
    file: File,
}

impl OutLock {
    fn take(out: &Path, wait: bool, on_event: &(dyn Fn(Event<'_>) + Sync)) -> Result<OutLock> {
        let path = out.join(LOCK);
        let ctx = || format!("cannot lock {}", path.display());
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .with_context(ctx)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                let pid = text.trim().parse::<u32>().ok();
                let holder = pid.map_or("another batch".to_string(), |p| {
                    format!("another batch (pid {p})")
                });
                if !wait {
                    anyhow::bail!(
                        "{} is in use by {holder}, which holds {}: wait for it to finish, or \
                         pass --wait",
                        out.display(),
                        path.display()
                    );
                }
                on_event(Event::Waiting { pid });
                file.lock().with_context(ctx)?;
            }
            Err(fs::TryLockError::Error(e)) => return Err(e).with_context(ctx),
        }
        file.set_len(0).with_context(ctx)?;
        file.seek(io::SeekFrom::Start(0)).with_context(ctx)?;
        writeln!(file, "{}", std::process::id()).with_context(ctx)?;
        Ok(OutLock { file })
    }
}

impl Drop for OutLock {
    fn drop(&mut self) {
        // Emptied first, so that the file never names a process that no longer holds it.
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}

/// A recording to process.
struct Job {
    dir: PathBuf,
    rel: String,
    key: String,
    call_id: Option<String>,
    inputs: String,
}

/// Opens the manifest for appending, first ending a line a killed run left unfinished.
fn open_manifest(path: &Path) -> Result<File> {
    let ctx = || format!("cannot open {}", path.display());
    let mut file = OpenOptions::new()
        .create(true)
        .read(true)
        .append(true)
        .open(path)
        .with_context(ctx)?;
    if file.metadata().with_context(ctx)?.len() > 0 {
        let mut last = [0u8];
        file.seek(io::SeekFrom::End(-1)).with_context(ctx)?;
        file.read_exact(&mut last).with_context(ctx)?;
        if last[0] != b'\n' {
            file.write_all(b"\n").with_context(ctx)?;
        }
    }
    Ok(file)
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

fn process(opts: &Options, job: &Job, on_event: &(dyn Fn(Event<'_>) + Sync)) -> Entry {
    let started = Instant::now();
    let mut entry = Entry {
        dir: job.rel.clone(),
        key: job.key.clone(),
        call_id: job.call_id.clone(),
        status: Status::Ok,
        reason: None,
        inputs: job.inputs.clone(),
        chunks: 0,
        errors: 0,
        warnings: 0,
        media_ms: None,
        wall_ms: None,
        paused_ms: None,
        wall_clock: opts.wall_clock,
        outputs: BTreeMap::new(),
        seconds: 0.0,
    };
    let out_dir = opts.out.join(&job.key);
    if let Err(f) = process_inner(opts, job, &out_dir, &mut entry, on_event) {
        entry.status = f.status;
        entry.reason = Some(f.reason);
    }
    // Outputs of an earlier run that this one did not produce (a recording that was ok and is
    // now rejected) would contradict the manifest: remove them.
    for name in [CHECK_JSON, TIMELINE_JSON, RECORDING_MP4] {
        if !entry.outputs.contains_key(name) {
            let path = out_dir.join(name);
            if let Err(e) = fs::remove_file(&path) {
                if e.kind() != io::ErrorKind::NotFound && entry.status == Status::Ok {
                    entry.status = Status::Error;
                    entry.reason = Some(format!("cannot remove {}: {e}", path.display()));
                }
            }
        }
    }
    if entry.status == Status::Ok {
        // The renames must be durable before the manifest says the recording is done.
        if let Err(e) = File::open(&out_dir).and_then(|d| d.sync_all()) {
            entry.status = Status::Error;
            entry.reason = Some(format!("cannot sync {}: {e}", out_dir.display()));
        }
    }
    entry.seconds = (started.elapsed().as_secs_f64() * 1e3).round() / 1e3;
    entry
}

fn process_inner(
    opts: &Options,
    job: &Job,
    out_dir: &Path,
    entry: &mut Entry,
    on_event: &(dyn Fn(Event<'_>) + Sync),
) -> Result<(), Failure> {
    fs::create_dir_all(out_dir).map_err(|e| Failure::io("cannot create", out_dir, e))?;
    remove_temporaries(out_dir).map_err(|e| Failure::io("cannot clean", out_dir, e))?;

    let recording = callrec::Recording::open(&job.dir)?;
    entry.chunks = recording.chunks().len();
    let report = recording.check()?;
    entry.errors = report.errors;
    entry.warnings = report.warnings;
    let mut check = report.to_json();
    check.push('\n');
    write_output(out_dir, CHECK_JSON, check.as_bytes(), entry)?;

    let timeline = recording.timeline();
    let ms = |n: callrec::crates::meta::Nanos| n.as_millis_f64().round().max(0.0) as u64;
    entry.wall_ms = Some(ms(timeline.wall_total()));
    entry.paused_ms = Some(ms(timeline.paused_total()));
    write_output(out_dir, TIMELINE_JSON, timeline.to_json().as_bytes(), entry)?;

    if let Some(first) = report
        .findings
        .iter()
        .find(|f| f.severity == callrec::Severity::Error)
    {
        return Err(Failure::rejected(format!(
            "check found {}, first: {}",
            plural(report.errors, "error"),
            finding_note(first)
        )));
    }

    let mp4 = out_dir.join(RECORDING_MP4);
    let stitch_opts = callrec::StitchOptions::new(&mp4).wall_clock(opts.wall_clock);
    let stitched = recording.stitch_with_progress(&stitch_opts, &|done, total| {
        on_event(Event::Stitching {
            dir: &job.rel,
            done,
            total,
        })
    })?;
    entry.media_ms = Some(stitched.duration_ms);
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
    let output = describe(&mp4).map_err(|e| Failure::io("cannot read back", &mp4, e))?;
    entry.outputs.insert(RECORDING_MP4.into(), output);
    Ok(())
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
    use callrec::crates::mp4::{validate_movie, Movie};
    let data = fs::read(mp4).map_err(|e| e.to_string())?;
    let movie = Movie::parse(&data).map_err(|e| e.to_string())?;
    if let Some(d) = validate_movie(&data, &movie).first() {
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
    entry: &mut Entry,
) -> Result<(), Failure> {
    callrec::write_atomic(&out_dir.join(name), bytes)?;
    entry.outputs.insert(
        name.into(),
        Output {
            bytes: bytes.len() as u64,
            sha256: sha256_hex(bytes),
        },
    );
    Ok(())
}

/// Removes the temporary files (`.callrec-tmp-*`, and `.*.part` of older versions) a killed run
/// left in an output folder (safe: the batch holds the lock on OUT).
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
        let td = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata");
        let basic = td.join("recordings/basic");
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
        let broken = td.join("corrupt/structure/stsz_count.mp4");
        let e = verify_output(&broken, &counts(&movie(&broken), 1), ms).unwrap_err();
        assert!(e.starts_with("mp4.stsz"), "{e}");
    }
}
