//! The manifest store: `OUT/manifest.jsonl`, one JSON line ([`Entry`]) per recording processed,
//! append-only, the last line of a directory winning; and the fingerprints that tell a rerun
//! whether an entry still stands.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::names::{hex, is_output, sha256_hex, valid_key};
use crate::{Error, Result};

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

impl Output {
    /// Size and SHA-256 of `bytes`.
    pub fn of(bytes: &[u8]) -> Output {
        Output {
            bytes: bytes.len() as u64,
            sha256: sha256_hex(bytes),
        }
    }
}

/// What a job measured of one recording: its chunks, the check's findings and the durations.
/// Part of an [`Outcome`](crate::Outcome), and of its manifest [`Entry`] (as fields of the
/// entry's own JSON object).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Measures {
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
    /// Fingerprint of the input files ([`fingerprint`]).
    pub inputs: String,
    /// Chunks, findings and durations.
    #[serde(flatten)]
    pub measures: Measures,
    /// Whether the stitch is on the wall clock.
    pub wall_clock: bool,
    /// The outputs written, by file name.
    pub outputs: BTreeMap<String, Output>,
    /// Seconds spent on the recording.
    pub seconds: f64,
}

impl Entry {
    /// A recording rejected before any check report (a download that cannot succeed, a message
    /// that does not decode): one error, `reason`, and the `outputs` written for it.
    pub fn rejected(
        dir: &str,
        key: &str,
        chunks: usize,
        reason: String,
        outputs: BTreeMap<String, Output>,
    ) -> Entry {
        Entry {
            dir: dir.to_string(),
            key: key.to_string(),
            call_id: None,
            status: Status::Rejected,
            reason: Some(reason),
            inputs: String::new(),
            measures: Measures {
                chunks,
                errors: 1,
                ..Measures::default()
            },
            wall_clock: false,
            outputs,
            seconds: 0.0,
        }
    }

    /// Whether this entry still stands: done (ok or rejected) on the same `inputs` in the same
    /// timeline mode, with every output still in `out_dir` at its recorded size.
    pub fn still_done(&self, inputs: &str, wall_clock: bool, out_dir: &Path) -> bool {
        self.status != Status::Error
            && self.inputs == inputs
            && self.wall_clock == wall_clock
            && self.outputs.iter().all(|(name, o)| {
                fs::metadata(out_dir.join(name)).is_ok_and(|m| m.is_file() && m.len() == o.bytes)
            })
    }

    /// Whether an entry read back names only what the archive writes: a [`valid_key`] and
    /// output names among [`crate::names::OUTPUTS`] (an edited `"key": "../x"` is not trusted).
    pub fn trusted(&self) -> bool {
        valid_key(&self.key) && self.lists_only_outputs()
    }

    /// Whether every output it lists is one the archive writes ([`crate::names::OUTPUTS`]).
    pub fn lists_only_outputs(&self) -> bool {
        self.outputs.keys().all(|n| is_output(n))
    }
}

/// Reads a manifest: the last trusted entry of each directory ([`Entry::trusted`]). Lines that
/// do not parse (a run killed while appending one) or are not trusted are ignored. A missing
/// manifest is empty.
pub fn read_manifest(path: &Path) -> Result<BTreeMap<String, Entry>> {
    let mut entries = BTreeMap::new();
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(entries),
        Err(e) => return Err(Error::io("cannot read", path, e)),
    };
    for line in BufReader::new(file).lines() {
        let line = line.map_err(|e| Error::io("cannot read", path, e))?;
        match serde_json::from_str::<Entry>(&line) {
            Ok(entry) if entry.trusted() => {
                entries.insert(entry.dir.clone(), entry);
            }
            _ => {}
        }
    }
    Ok(entries)
}

/// The manifest of an output directory, open for appending from several threads.
#[derive(Debug)]
pub struct Manifest {
    path: PathBuf,
    entries: BTreeMap<String, Entry>,
    file: Mutex<File>,
}

impl Manifest {
    /// Reads `path` ([`read_manifest`]) and opens it for appending, first ending a line a
    /// killed run left unfinished.
    pub fn open(path: impl Into<PathBuf>) -> Result<Manifest> {
        let path = path.into();
        let entries = read_manifest(&path)?;
        let err = |e| Error::io("cannot open", &path, e);
        let mut file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(&path)
            .map_err(err)?;
        if file.metadata().map_err(err)?.len() > 0 {
            let mut last = [0u8];
            file.seek(io::SeekFrom::End(-1)).map_err(err)?;
            file.read_exact(&mut last).map_err(err)?;
            if last[0] != b'\n' {
                file.write_all(b"\n").map_err(err)?;
            }
        }
        Ok(Manifest {
            path,
            entries,
            file: Mutex::new(file),
        })
    }

    /// The entries read when it was opened, by directory.
    pub fn entries(&self) -> &BTreeMap<String, Entry> {
        &self.entries
    }

    /// Appends one entry as a line and syncs it (the entry is durable when this returns).
    pub fn append(&self, entry: &Entry) -> Result<()> {
        let mut line = serde_json::to_string(entry).map_err(|e| {
            Error::io(
                "cannot append to",
                &self.path,
                io::Error::other(e.to_string()),
            )
        })?;
        line.push('\n');
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        file.write_all(line.as_bytes())
            .and_then(|()| file.sync_data())
            .map_err(|e| Error::io("cannot append to", &self.path, e))
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(dir: &str, key: &str) -> Entry {
        Entry {
            dir: dir.into(),
            key: key.into(),
            call_id: None,
            status: Status::Ok,
            reason: None,
            inputs: "i".into(),
            measures: Measures {
                chunks: 3,
                errors: 0,
                warnings: 0,
                media_ms: Some(15_000),
                wall_ms: Some(15_000),
                paused_ms: Some(0),
            },
            wall_clock: false,
            outputs: BTreeMap::from([(crate::CHECK_JSON.to_string(), Output::of(b"{}"))]),
            seconds: 0.5,
        }
    }

    #[test]
    fn the_last_trusted_line_of_a_directory_wins_and_a_cut_line_is_ended() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(crate::MANIFEST);
        let m = Manifest::open(&path).unwrap();
        assert!(m.entries().is_empty());
        m.append(&entry("a", "k1")).unwrap();
        m.append(&entry("a", "k2")).unwrap();
        m.append(&entry("b", "../escape")).unwrap();
        drop(m);
        // A kill in the middle of a line.
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"dir\":\"c\",\"ke").unwrap();
        drop(f);
        let m = Manifest::open(&path).unwrap();
        assert_eq!(m.entries().len(), 1, "{:?}", m.entries());
        assert_eq!(m.entries()["a"].key, "k2");
        m.append(&entry("c", "k3")).unwrap();
        let again = read_manifest(&path).unwrap();
        assert_eq!(again["c"], entry("c", "k3"));
    }

    #[test]
    fn an_entry_stands_while_inputs_mode_and_outputs_are_unchanged() {
        let out = tempfile::tempdir().unwrap();
        let e = entry("a", "k");
        assert!(
            !e.still_done("i", false, out.path()),
            "its output is missing"
        );
        fs::write(out.path().join(crate::CHECK_JSON), b"{}").unwrap();
        assert!(e.still_done("i", false, out.path()));
        assert!(!e.still_done("other", false, out.path()));
        assert!(!e.still_done("i", true, out.path()));
        let failed = Entry {
            status: Status::Error,
            ..e.clone()
        };
        assert!(!failed.still_done("i", false, out.path()));
        fs::write(out.path().join(crate::CHECK_JSON), b"{ }").unwrap();
        assert!(!e.still_done("i", false, out.path()), "its size changed");
    }

    #[test]
    fn an_entry_serializes_its_fields_in_order_and_reads_back() {
        let e = entry("2024-05-14/basic", "basic");
        let line = serde_json::to_string(&e).unwrap();
        assert_eq!(
            line,
            concat!(
                r#"{"dir":"2024-05-14/basic","key":"basic","call_id":null,"status":"ok","#,
                r#""reason":null,"inputs":"i","chunks":3,"errors":0,"warnings":0,"#,
                r#""media_ms":15000,"wall_ms":15000,"paused_ms":0,"wall_clock":false,"#,
                r#""outputs":{"check.json":{"bytes":2,"sha256":"#,
                r#""44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"}},"#,
                r#""seconds":0.5}"#
            )
        );
        assert_eq!(serde_json::from_str::<Entry>(&line).unwrap(), e);
        let no_media = line.replace(r#""media_ms":15000,"#, "");
        let read = serde_json::from_str::<Entry>(&no_media).unwrap();
        assert_eq!(read.measures.media_ms, None);
    }

    #[test]
    fn describe_hashes_what_output_of_hashes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x");
        fs::write(&p, b"callrec").unwrap();
        assert_eq!(describe(&p).unwrap(), Output::of(b"callrec"));
    }
}
