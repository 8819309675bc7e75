//! File conventions: safe names, atomic writes.

use std::io::Write;
use std::path::Path;

use crate::{Error, Result};

/// `s` made safe as one path component: ASCII letters, digits, `-`, `_` and `.` are kept, every
/// other character becomes `_`, and a name that would be empty or start with `.` (hidden, `.`,
/// `..`) gets a leading `_`.
///
/// ```
/// assert_eq!(callrec::safe_file_name("../etc/passwd"), "_.._etc_passwd");
/// assert_eq!(callrec::safe_file_name("2182e262-1201-5bf1"), "2182e262-1201-5bf1");
/// ```
pub fn safe_file_name(s: &str) -> String {
    let s: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() || s.starts_with('.') {
        format!("_{s}")
    } else {
        s
    }
}

/// Writes `bytes` to `path` atomically: a temporary file beside it (see
/// [`callrec_stitch::temp::Temp`]; removed on error and, once a binary installs a signal
/// handler that calls [`callrec_stitch::temp::remove_all`], on SIGINT/SIGTERM), synced, then
/// renamed, so `path` holds either its old content or all of `bytes`. An existing `path` that
/// is not a regular file (a directory, FIFO, device, socket) is refused.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let io_err = |op| {
        move |error| Error::Io {
            op,
            path: path.to_path_buf(),
            error,
        }
    };
    if let Ok(m) = std::fs::metadata(path) {
        if !m.is_file() {
            return Err(Error::OutputRefused {
                path: path.to_path_buf(),
                reason: "it exists and is not a regular file".into(),
            });
        }
    }
    let mut tmp =
        callrec_stitch::temp::Temp::new(path).map_err(io_err("create a temporary file for"))?;
    tmp.as_file_mut()
        .write_all(bytes)
        .map_err(io_err("write"))?;
    tmp.as_file().sync_all().map_err(io_err("sync"))?;
    tmp.persist(path).map_err(io_err("rename into"))?;
    Ok(())
}
