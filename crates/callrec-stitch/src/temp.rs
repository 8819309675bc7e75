//! The temporary files callrec builds its outputs in: named so that a later run recognises the
//! ones a killed run left, and registered while they live so that a signal handler can remove
//! them before the process exits (destructors do not run on a signal).

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// Every temporary file of this process that is not yet persisted or removed.
static LIVE: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());

/// Set by [`remove_all`]: the process is exiting, no new temporary may be created (one made
/// after the sweep would be left behind).
static CLOSED: AtomicBool = AtomicBool::new(false);

/// What every temporary's file name starts with.
const PREFIX: &str = ".callrec-tmp-";

/// The longest part of the target's name put into a temporary file's name (so that the name
/// stays under the 255-byte limit of common file systems).
const NAME_BYTES: usize = 100;

/// The name every temporary file for `target` starts with: `.callrec-tmp-<target name>-`, the
/// target name cut to 100 bytes.
fn prefix_for(name: &str) -> String {
    let mut end = name.len().min(NAME_BYTES);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    format!("{PREFIX}{}-", &name[..end])
}

/// Whether a file name is one of callrec's temporaries (for any target).
pub fn is_temporary_name(name: &str) -> bool {
    name.starts_with(PREFIX)
}

/// The directory and file name of `target`, or an error when the path names no file.
fn split(target: &Path) -> io::Result<(PathBuf, String)> {
    let name = target.file_name().ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidInput, "the output path names no file")
    })?;
    let dir = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Ok((dir, name.to_string_lossy().into_owned()))
}

/// A temporary file beside `target`, removed when dropped (or, after [`install`], when the
/// process is interrupted) unless persisted with [`Temp::persist`].
#[derive(Debug)]
pub struct Temp {
    file: Option<tempfile::NamedTempFile>,
    path: PathBuf,
    dir: PathBuf,
}

impl Temp {
    /// Creates `.callrec-tmp-<target name>-<pid>-XXXXXX` in `target`'s directory (mode 0644
    /// on Unix, like any file the user creates).
    pub fn new(target: &Path) -> io::Result<Temp> {
        let (dir, name) = split(target)?;
        let prefix = format!("{}{}-", prefix_for(&name), std::process::id());
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix).suffix("");
        #[cfg(unix)]
        builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644));
        let file = builder.tempfile_in(&dir).map_err(without_path)?;
        let path = file.path().to_path_buf();
        let mut live = LIVE.lock().unwrap_or_else(|e| e.into_inner());
        if CLOSED.load(Ordering::SeqCst) {
            drop(live);
            drop(file); // removes it
            return Err(io::Error::new(
                io::ErrorKind::Interrupted,
                "interrupted: the process is exiting",
            ));
        }
        live.insert(path.clone());
        drop(live);
        Ok(Temp {
            file: Some(file),
            path,
            dir,
        })
    }

    /// The open file.
    pub fn as_file(&self) -> &std::fs::File {
        self.file
            .as_ref()
            .map(tempfile::NamedTempFile::as_file)
            .expect("a Temp holds its file until persisted")
    }

    /// The open file, mutably.
    pub fn as_file_mut(&mut self) -> &mut std::fs::File {
        self.file
            .as_mut()
            .map(tempfile::NamedTempFile::as_file_mut)
            .expect("a Temp holds its file until persisted")
    }

    /// The temporary file's path (for reopening it; never shown to the user).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Renames the file over `target` and syncs the directory.
    pub fn persist(mut self, target: &Path) -> io::Result<()> {
        let file = self
            .file
            .take()
            .expect("a Temp holds its file until persisted");
        let result = file.persist(target).map(drop).map_err(|e| e.error);
        LIVE.lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.path);
        result?;
        // The rename is durable once the directory is synced (not possible everywhere).
        if let Ok(d) = std::fs::File::open(&self.dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        // NamedTempFile removes the file when dropped.
        drop(self.file.take());
        LIVE.lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.path);
    }
}

/// `tempfile` adds the temporary's path to a creation error; the user never chose that name,
/// so keep only the operating system's error (the caller names the target).
fn without_path(e: io::Error) -> io::Error {
    let message = e.to_string();
    if !message.contains(PREFIX) {
        return e;
    }
    // tempfile's `PathError` reads "<os error> at path \"<temporary>\"".
    match message.split_once(" at path ") {
        Some((os, _)) => io::Error::new(e.kind(), os.to_string()),
        None => io::Error::from(e.kind()),
    }
}

/// Removes every temporary file of this process that is not persisted yet; returns how many.
/// For a signal handler that is about to exit the process: from then on [`Temp::new`] fails
/// (`Interrupted`), so that no temporary is created after the sweep.
pub fn remove_all() -> usize {
    let mut guard = LIVE.lock().unwrap_or_else(|e| e.into_inner());
    CLOSED.store(true, Ordering::SeqCst);
    let live = std::mem::take(&mut *guard);
    drop(guard);
    live.iter()
        .filter(|p| std::fs::remove_file(p).is_ok())
        .count()
}

/// Removes the temporaries for `target` that a run which no longer exists left (killed before
/// it could remove them); returns how many. Another live process's temporaries are kept (on
/// Linux the process id in the name is looked up in `/proc`; elsewhere only this process's own
/// are never touched and every other is taken as stale).
pub fn remove_stale(target: &Path) -> io::Result<usize> {
    let (dir, name) = split(target)?;
    let prefix = prefix_for(&name);
    let rd = match std::fs::read_dir(&dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut removed = 0;
    for entry in rd {
        let entry = entry?;
        let file_name: OsString = entry.file_name();
        let Some(rest) = file_name.to_str().and_then(|n| n.strip_prefix(&prefix)) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid == std::process::id() || alive(pid) || !entry.file_type()?.is_file() {
            continue;
        }
        if std::fs::remove_file(entry.path()).is_ok() {
            removed += 1;
        }
    }
    Ok(removed)
}

fn alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        Path::new("/proc").join(pid.to_string()).exists()
    } else {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_only_dead_runs_temporaries_of_its_target() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.mp4");
        // pid 0 never names a user process: a dead run.
        let stale = dir.path().join(".callrec-tmp-out.mp4-0-abc123");
        let other = dir.path().join(".callrec-tmp-other.mp4-0-abc123");
        std::fs::write(&stale, b"x").unwrap();
        std::fs::write(&other, b"x").unwrap();
        let live = Temp::new(&target).unwrap();
        assert_eq!(remove_stale(&target).unwrap(), 1);
        assert!(!stale.exists() && other.exists() && live.path().exists());
        drop(live);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);

        // A creation error names no temporary (tempfile adds its path; the user never chose it).
        let e = Temp::new(Path::new("/proc/callrec-no-such-dir/out.mp4")).unwrap_err();
        assert!(!e.to_string().contains(PREFIX), "{e}");

        // What a signal handler does (the only test that calls remove_all: tests share LIVE
        // and CLOSED, so every other Temp of this test binary is made above).
        let t = Temp::new(&target).unwrap();
        let path = t.path().to_path_buf();
        assert!(remove_all() >= 1);
        assert!(!path.exists());
        std::mem::forget(t);
        // After the sweep no temporary is created (it would outlive the exiting process).
        let e = Temp::new(&target).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::Interrupted);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn long_names_are_cut() {
        let name = "é".repeat(200);
        assert!(prefix_for(&name).len() <= NAME_BYTES + 14);
    }
}
