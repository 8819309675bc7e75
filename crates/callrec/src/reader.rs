//! Chunk files read with positioned reads.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use callrec_mp4::Source;

use crate::{Error, Result};

/// A chunk file read with positioned reads (`pread`), never mapped: a read past the end of a
/// file that shrank is an `UnexpectedEof` error, not a SIGBUS. Remembers the size and
/// modification time it was opened with ([`Source::changed`]).
#[derive(Debug)]
pub struct ChunkReader {
    pub(crate) file: File,
    pub(crate) path: PathBuf,
    pub(crate) len: u64,
    pub(crate) modified: Option<SystemTime>,
    pub(crate) inode: (u64, u64),
}

/// What a chunk file was when the stitch plan read it (see [`unchanged`]).
#[derive(Debug)]
pub(crate) struct Stamp {
    pub(crate) index: u32,
    pub(crate) document_id: String,
    pub(crate) path: PathBuf,
    pub(crate) len: u64,
    pub(crate) modified: Option<SystemTime>,
    pub(crate) inode: (u64, u64),
}

impl Stamp {
    /// Why a file of `len` bytes, modified at `modified`, with device and inode `inode`, is not
    /// the one the plan read (another file, length or modification time), if it is not.
    pub(crate) fn differs(
        &self,
        len: u64,
        modified: Option<SystemTime>,
        inode: (u64, u64),
    ) -> Option<String> {
        if inode != self.inode {
            Some("another file replaced it after it was read".to_string())
        } else if len != self.len {
            Some(format!(
                "it had {} bytes when it was read, {len} now",
                self.len
            ))
        } else if modified != self.modified {
            Some("it was modified after it was read".to_string())
        } else {
            None
        }
    }
}

/// Fails with [`Error::Changed`] when a chunk file is no longer what the plan read: another
/// length, modification time or file (device and inode) at its path.
pub(crate) fn unchanged(stamps: &[Stamp]) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    for s in stamps {
        let why = match std::fs::metadata(&s.path) {
            Err(e) => Some(format!("it cannot be examined any more: {e}")),
            Ok(m) => s.differs(m.len(), m.modified().ok(), (m.dev(), m.ino())),
        };
        if let Some(why) = why {
            return Err(Error::Changed {
                index: s.index,
                document_id: s.document_id.clone(),
                path: s.path.clone(),
                why,
            });
        }
    }
    Ok(())
}

impl ChunkReader {
    /// Opens `path` for reading; a path that is not a regular file (a directory, FIFO,
    /// device) is refused with `InvalidInput` before it is opened (a FIFO would block).
    pub fn open(path: &Path) -> io::Result<ChunkReader> {
        let not_regular = || io::Error::new(io::ErrorKind::InvalidInput, "not a regular file");
        if !std::fs::metadata(path)?.is_file() {
            return Err(not_regular());
        }
        let file = File::open(path)?;
        let m = file.metadata()?;
        if !m.is_file() {
            return Err(not_regular());
        }
        use std::os::unix::fs::MetadataExt;
        Ok(ChunkReader {
            file,
            path: path.to_path_buf(),
            len: m.len(),
            modified: m.modified().ok(),
            inode: (m.dev(), m.ino()),
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Source for ChunkReader {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        use std::os::unix::fs::FileExt;
        self.file.read_exact_at(buf, offset).map_err(|e| {
            if e.kind() == io::ErrorKind::UnexpectedEof {
                let now = self
                    .file
                    .metadata()
                    .map_or_else(|_| "fewer".to_string(), |m| m.len().to_string());
                io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "the file is shorter than when it was opened ({} bytes then, {now} now)",
                        self.len
                    ),
                )
            } else {
                e
            }
        })
    }

    fn changed(&self) -> Option<String> {
        let m = match self.file.metadata() {
            Ok(m) => m,
            Err(e) => return Some(format!("it cannot be examined any more: {e}")),
        };
        if m.len() != self.len {
            return Some(format!(
                "it had {} bytes when opened, {} now",
                self.len,
                m.len()
            ));
        }
        if m.modified().ok() != self.modified {
            return Some("it was modified after it was opened".to_string());
        }
        None
    }
}
