//! Random access to a file's bytes without holding them: [`Source`], positioned reads.
//!
//! [`Movie::read`](crate::Movie::read) walks the top-level box headers with 16-byte reads and
//! reads only the payloads it parses (`moov`, each `moof`); the `mdat` payloads are never read.
//! A byte slice is a [`Source`]; a file is one through the facade's positioned reads
//! (`std::os::unix::fs::FileExt::read_exact_at`), so that a file shrinking under the reader is
//! an I/O error ([`Error::Read`]), never a fault of a memory mapping.

use std::io;

use crate::reader::Reader;
use crate::{Error, FourCc, Result};

/// A file's bytes, read on demand at any offset.
pub trait Source {
    /// The file's length when it was opened: boxes and samples are checked against it.
    fn len(&self) -> u64;

    /// True when the file is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Fills `buf` with the bytes at `offset`; an error (`UnexpectedEof` when the file is now
    /// shorter) when they cannot all be read.
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()>;

    /// Why the file is no longer what was opened (another size or modification time), if it
    /// is not; `None` for data that cannot change (a slice).
    fn changed(&self) -> Option<String> {
        None
    }
}

impl Source for [u8] {
    fn len(&self) -> u64 {
        <[u8]>::len(self) as u64
    }

    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        let start = usize::try_from(offset).map_err(|_| eof())?;
        let end = start.checked_add(buf.len()).ok_or_else(eof)?;
        buf.copy_from_slice(self.get(start..end).ok_or_else(eof)?);
        Ok(())
    }
}

impl Source for Vec<u8> {
    fn len(&self) -> u64 {
        self.as_slice().len() as u64
    }

    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        self.as_slice().read_exact_at(buf, offset)
    }
}

impl<S: Source + ?Sized> Source for &S {
    fn len(&self) -> u64 {
        (**self).len()
    }

    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        (**self).read_exact_at(buf, offset)
    }

    fn changed(&self) -> Option<String> {
        (**self).changed()
    }
}

fn eof() -> io::Error {
    io::Error::new(io::ErrorKind::UnexpectedEof, "past the end of the data")
}

/// The largest `moov` or `moof` payload read into memory (a 24-hour single-chunk `moov` is
/// about 50 MB); a larger one is an [`Error::CountTooLarge`] naming the box.
pub const MAX_HEADER_BOX: u64 = 256 << 20;

/// The error of a failed read at `offset` of `needed` bytes, in box `path`.
pub(crate) fn read_error(path: &str, offset: u64, needed: u64, e: &io::Error) -> Error {
    Error::Read {
        path: path.to_string(),
        offset,
        needed,
        kind: e.kind(),
        reason: e.to_string(),
    }
}

/// Reads `len` bytes at `offset` into a new buffer.
pub(crate) fn read_vec(src: &dyn Source, path: &str, offset: u64, len: u64) -> Result<Vec<u8>> {
    if len > MAX_HEADER_BOX {
        return Err(Error::CountTooLarge {
            path: path.to_string(),
            count: len,
            remaining: MAX_HEADER_BOX,
        });
    }
    let n = usize::try_from(len).map_err(|_| Error::Overflow {
        path: path.to_string(),
        what: "box size",
    })?;
    let mut buf = vec![0u8; n];
    src.read_exact_at(&mut buf, offset)
        .map_err(|e| read_error(path, offset, len, &e))?;
    Ok(buf)
}

/// A top-level box header read from a [`Source`] ([`top_header`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopHeader {
    /// Box type.
    pub fourcc: FourCc,
    /// Absolute offset of the header.
    pub offset: u64,
    /// Header length (8 or 16).
    pub header_len: u64,
    /// Total box size, header included (resolved for size 0).
    pub size: u64,
}

/// Reads the top-level box header at `offset` with the rules of [`Reader::next_box`]: sizes 0
/// (to the end of the file) and 1 (64-bit) handled, a size smaller than the header or past the
/// end of the file an error. `Ok(None)` at the end of the file.
pub fn top_header(src: &dyn Source, offset: u64) -> Result<Option<TopHeader>> {
    let len = src.len();
    if offset >= len {
        return Ok(None);
    }
    let remaining = len - offset;
    let mut buf = [0u8; 16];
    let n = remaining.min(16) as usize;
    src.read_exact_at(&mut buf[..n], offset)
        .map_err(|e| read_error("", offset, n as u64, &e))?;
    // The same checks as a reader over the whole file, with absolute offsets.
    let mut r = Reader::with_path(&buf[..n], offset, "");
    let size32 = r.u32()?;
    let fourcc = r.fourcc()?;
    let (size, header_len) = match size32 {
        1 => {
            let large = r.u64().map_err(|_| Error::Truncated {
                path: fourcc.to_string(),
                offset,
                needed: 16,
                available: remaining,
            })?;
            (large, 16u64)
        }
        0 => (remaining, 8),
        s => (u64::from(s), 8),
    };
    if size < header_len {
        return Err(Error::BoxTooSmall {
            path: fourcc.to_string(),
            offset,
            size,
        });
    }
    if size > remaining {
        return Err(Error::BoxPastEnd {
            path: fourcc.to_string(),
            offset,
            size,
            available: remaining,
        });
    }
    Ok(Some(TopHeader {
        fourcc,
        offset,
        header_len,
        size,
    }))
}

/// A window of a [`Source`] kept in one reused buffer: consecutive small reads (AAC frames, NAL
/// length prefixes) cost one positioned read per window, not one each.
#[derive(Debug)]
pub struct Window<'a, S: Source + ?Sized> {
    src: &'a S,
    buf: Vec<u8>,
    start: u64,
    size: usize,
}

impl<'a, S: Source + ?Sized> Window<'a, S> {
    /// A window of `size` bytes (at least: a longer read gets a longer window) over `src`.
    pub fn new(src: &'a S, size: usize) -> Self {
        Window {
            src,
            buf: Vec::new(),
            start: 0,
            size: size.max(16),
        }
    }

    /// The source.
    pub fn source(&self) -> &'a S {
        self.src
    }

    /// True when the window holds `len` bytes at `offset`.
    pub fn holds(&self, offset: u64, len: u64) -> bool {
        offset >= self.start
            && offset
                .checked_add(len)
                .is_some_and(|end| end <= self.start + self.buf.len() as u64)
    }

    /// Reads exactly the `len` bytes at `offset` into the window (replacing what it held), for
    /// a caller that knows which bytes it will want next (a run of contiguous samples).
    pub fn load(&mut self, offset: u64, len: usize) -> io::Result<()> {
        let end = offset.checked_add(len as u64).ok_or_else(eof)?;
        if end > self.src.len() {
            return Err(eof());
        }
        self.buf.resize(len, 0);
        self.start = offset;
        if let Err(e) = self.src.read_exact_at(&mut self.buf, offset) {
            self.buf.clear();
            return Err(e);
        }
        Ok(())
    }

    /// The `len` bytes at `offset`; `UnexpectedEof` when they lie past the source's length
    /// (or the file shrank).
    pub fn get(&mut self, offset: u64, len: usize) -> io::Result<&[u8]> {
        let end = offset.checked_add(len as u64).ok_or_else(eof)?;
        if end > self.src.len() {
            return Err(eof());
        }
        if !self.holds(offset, len as u64) {
            let want = (self.size.max(len) as u64).min(self.src.len() - offset);
            self.load(offset, usize::try_from(want).map_err(|_| eof())?)?;
        }
        let from = (offset - self.start) as usize;
        Ok(&self.buf[from..from + len])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_reads_across_refills_and_stops_at_the_end() {
        let data: Vec<u8> = (0..=255u8).collect();
        let mut w = Window::new(&data, 16);
        assert_eq!(w.get(0, 4).unwrap(), &[0, 1, 2, 3]);
        assert_eq!(w.get(14, 4).unwrap(), &[14, 15, 16, 17]);
        assert_eq!(w.get(100, 40).unwrap()[39], 139);
        assert_eq!(w.get(250, 6).unwrap(), &[250, 251, 252, 253, 254, 255]);
        assert_eq!(
            w.get(250, 7).unwrap_err().kind(),
            io::ErrorKind::UnexpectedEof
        );
    }

    #[test]
    fn top_header_sizes_and_errors() {
        let mut d = 16u32.to_be_bytes().to_vec();
        d.extend_from_slice(b"free");
        d.extend_from_slice(&[0; 8]);
        let h = top_header(&d, 0).unwrap().unwrap();
        assert_eq!((h.size, h.header_len), (16, 8));
        assert!(top_header(&d, 16).unwrap().is_none());
        d[3] = 17;
        assert!(matches!(
            top_header(&d, 0),
            Err(Error::BoxPastEnd { size: 17, .. })
        ));
        d[3] = 4;
        assert!(matches!(top_header(&d, 0), Err(Error::BoxTooSmall { .. })));
    }
}
