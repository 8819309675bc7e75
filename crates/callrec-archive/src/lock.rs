//! The exclusive lock of an output directory: one batch (or worker) at a time per OUT.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::path::Path;

use crate::names::LOCK;
use crate::{Error, Result};

/// The lock on an output directory, held until dropped. The lock file ([`LOCK`]) holds the
/// holder's pid while it is held and stays, emptied, when released (so that no waiting process
/// locks a file that is being removed).
#[derive(Debug)]
pub struct OutLock {
    file: File,
}

impl OutLock {
    /// Takes the lock on `out` (an existing directory). When another process holds it: fails
    /// with [`Error::Locked`] naming its pid, or, with `wait`, calls `waiting(pid)` and blocks
    /// until it is released.
    pub fn take(out: &Path, wait: bool, waiting: impl FnOnce(Option<u32>)) -> Result<OutLock> {
        let path = out.join(LOCK);
        let err = |e| Error::io("cannot lock", &path, e);
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(err)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                let pid = text.trim().parse::<u32>().ok();
                if !wait {
                    return Err(Error::Locked {
                        out: out.to_path_buf(),
                        lock: path,
                        pid,
                    });
                }
                waiting(pid);
                file.lock().map_err(err)?;
            }
            Err(fs::TryLockError::Error(e)) => return Err(err(e)),
        }
        file.set_len(0).map_err(err)?;
        file.seek(io::SeekFrom::Start(0)).map_err(err)?;
        writeln!(file, "{}", std::process::id()).map_err(err)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_taker_is_told_the_holders_pid_and_the_lock_is_emptied_on_release() {
        let out = tempfile::tempdir().unwrap();
        let held = OutLock::take(out.path(), false, |_| {}).unwrap();
        let pid = std::process::id();
        assert_eq!(
            fs::read_to_string(out.path().join(LOCK)).unwrap(),
            format!("{pid}\n")
        );
        // A second open file description conflicts even in the same process.
        match OutLock::take(out.path(), false, |_| {}) {
            Err(e @ Error::Locked { .. }) => {
                let msg = e.to_string();
                assert!(msg.contains(&format!("another batch (pid {pid})")), "{msg}");
                assert!(msg.contains("--wait"), "{msg}");
            }
            other => panic!("{other:?}"),
        }
        drop(held);
        assert_eq!(fs::read_to_string(out.path().join(LOCK)).unwrap(), "");
        let again = OutLock::take(out.path(), false, |_| panic!("not held")).unwrap();
        drop(again);
    }
}
