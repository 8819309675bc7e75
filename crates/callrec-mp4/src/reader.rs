//! A bounds-checked cursor over `&[u8]` that knows its box path and absolute offset.

use crate::{Error, FourCc, Result};

/// Deepest box nesting [`Reader::next_box`] accepts.
pub const MAX_DEPTH: u32 = 16;

/// A cursor over one box's payload (or a whole file). Every read returns `Result`.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    base: u64,
    path: String,
    depth: u32,
}

/// A box header read by [`Reader::next_box`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BoxHeader {
    /// Box type.
    pub fourcc: FourCc,
    /// Absolute offset of the header.
    pub offset: u64,
    /// Header length (8 or 16).
    pub header_len: u64,
    /// Total box size, header included (resolved for size 0).
    pub size: u64,
}

impl<'a> Reader<'a> {
    /// A reader over a whole file (path empty, offset 0).
    pub fn new(data: &'a [u8]) -> Self {
        Reader {
            data,
            pos: 0,
            base: 0,
            path: String::new(),
            depth: 0,
        }
    }

    /// A reader over `data` that starts at absolute offset `base` with the given path.
    pub fn with_path(data: &'a [u8], base: u64, path: impl Into<String>) -> Self {
        Reader {
            data,
            pos: 0,
            base,
            path: path.into(),
            depth: 0,
        }
    }

    /// A reader over the payload of a top-level box read on its own (depth 1, as if
    /// [`Reader::next_box`] had returned it).
    pub(crate) fn top_level_child(data: &'a [u8], base: u64, path: impl Into<String>) -> Self {
        Reader {
            data,
            pos: 0,
            base,
            path: path.into(),
            depth: 1,
        }
    }

    /// The box path of this reader.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Appends a suffix (e.g. `[1]`) to the path.
    pub fn push_path(&mut self, suffix: &str) {
        self.path.push_str(suffix);
    }

    /// Absolute offset of the next read.
    pub fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    /// Absolute offset of the start of this reader's data.
    pub fn base(&self) -> u64 {
        self.base
    }

    /// Bytes left.
    pub fn remaining(&self) -> usize {
        self.data.len().saturating_sub(self.pos)
    }

    /// True when nothing is left.
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// The unread bytes, without consuming them.
    pub fn rest(&self) -> &'a [u8] {
        self.data.get(self.pos..).unwrap_or(&[])
    }

    /// A truncation error at the current position.
    pub fn truncated(&self, needed: u64) -> Error {
        Error::Truncated {
            path: self.path.clone(),
            offset: self.offset(),
            needed,
            available: self.remaining() as u64,
        }
    }

    /// An [`Error::Invalid`] at the current position.
    pub fn invalid(&self, reason: &'static str) -> Error {
        Error::Invalid {
            path: self.path.clone(),
            offset: self.offset(),
            reason,
        }
    }

    /// Reads `n` bytes.
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .ok_or_else(|| self.truncated(n as u64))?;
        let s = self
            .data
            .get(self.pos..end)
            .ok_or_else(|| self.truncated(n as u64))?;
        self.pos = end;
        Ok(s)
    }

    /// Skips `n` bytes.
    pub fn skip(&mut self, n: usize) -> Result<()> {
        self.bytes(n).map(|_| ())
    }

    /// Reads everything left.
    pub fn take_rest(&mut self) -> &'a [u8] {
        let s = self.rest();
        self.pos = self.data.len();
        s
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let s = self.bytes(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    /// Reads a `u8`.
    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.array::<1>()?[0])
    }
    /// Reads a big-endian `u16`.
    pub fn u16(&mut self) -> Result<u16> {
        self.array().map(u16::from_be_bytes)
    }
    /// Reads a big-endian `i16`.
    pub fn i16(&mut self) -> Result<i16> {
        self.array().map(i16::from_be_bytes)
    }
    /// Reads a big-endian 24-bit unsigned integer.
    pub fn u24(&mut self) -> Result<u32> {
        let a: [u8; 3] = self.array()?;
        Ok(u32::from_be_bytes([0, a[0], a[1], a[2]]))
    }
    /// Reads a big-endian `u32`.
    pub fn u32(&mut self) -> Result<u32> {
        self.array().map(u32::from_be_bytes)
    }
    /// Reads a big-endian `i32`.
    pub fn i32(&mut self) -> Result<i32> {
        self.array().map(i32::from_be_bytes)
    }
    /// Reads a big-endian `u64`.
    pub fn u64(&mut self) -> Result<u64> {
        self.array().map(u64::from_be_bytes)
    }
    /// Reads a big-endian `i64`.
    pub fn i64(&mut self) -> Result<i64> {
        self.array().map(i64::from_be_bytes)
    }
    /// Reads a four-character code.
    pub fn fourcc(&mut self) -> Result<FourCc> {
        self.array().map(FourCc)
    }

    /// Reads a full-box version and flags.
    pub fn version_flags(&mut self) -> Result<(u8, u32)> {
        let v = self.u32()?;
        Ok(((v >> 24) as u8, v & 0x00ff_ffff))
    }

    /// Checks that `count` entries of `entry_size` bytes fit in what remains; returns the count
    /// as `usize`. Call before allocating.
    pub fn check_count(&self, count: u64, entry_size: u64) -> Result<usize> {
        let remaining = self.remaining() as u64;
        let too_large = || Error::CountTooLarge {
            path: self.path.clone(),
            count,
            remaining,
        };
        let need = count.checked_mul(entry_size).ok_or_else(too_large)?;
        if need > remaining {
            return Err(too_large());
        }
        usize::try_from(count).map_err(|_| too_large())
    }

    /// An error for a bad version.
    pub fn unsupported_version(&self, version: u8) -> Error {
        Error::UnsupportedVersion {
            path: self.path.clone(),
            version,
        }
    }

    /// Reads the next child box header and returns it with a reader over its payload, or `None`
    /// at the end. Sizes 0 (to the end) and 1 (64-bit) are handled.
    pub fn next_box(&mut self) -> Result<Option<(BoxHeader, Reader<'a>)>> {
        if self.is_empty() {
            return Ok(None);
        }
        let offset = self.offset();
        let start = self.pos;
        let size32 = self.u32()?;
        let fourcc = self.fourcc()?;
        let child_path = if self.path.is_empty() {
            fourcc.to_string()
        } else {
            format!("{}/{}", self.path, fourcc)
        };
        let (size, header_len) = match size32 {
            1 => {
                let large = self.u64().map_err(|_| Error::Truncated {
                    path: child_path.clone(),
                    offset,
                    needed: 16,
                    available: (self.data.len() - start) as u64,
                })?;
                (large, 16u64)
            }
            0 => ((self.data.len() - start) as u64, 8),
            n => (u64::from(n), 8),
        };
        if size < header_len {
            return Err(Error::BoxTooSmall {
                path: child_path,
                offset,
                size,
            });
        }
        let available = (self.data.len() - start) as u64;
        if size > available {
            return Err(Error::BoxPastEnd {
                path: child_path,
                offset,
                size,
                available,
            });
        }
        if self.depth + 1 > MAX_DEPTH {
            return Err(Error::TooDeep {
                path: child_path,
                offset,
                limit: MAX_DEPTH,
            });
        }
        // size <= available <= usize::MAX
        let end = start + size as usize;
        let payload_start = start + header_len as usize;
        let child = Reader {
            data: self.data.get(payload_start..end).unwrap_or(&[]),
            pos: 0,
            base: self.base + payload_start as u64,
            path: child_path,
            depth: self.depth + 1,
        };
        self.pos = end;
        Ok(Some((
            BoxHeader {
                fourcc,
                offset,
                header_len,
                size,
            },
            child,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boxed(size: u32, fourcc: &[u8; 4], payload: &[u8]) -> Vec<u8> {
        let mut v = size.to_be_bytes().to_vec();
        v.extend_from_slice(fourcc);
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn sizes_32_64_and_to_end() {
        let mut data = boxed(12, b"free", &[1, 2, 3, 4]);
        let mut large = 1u32.to_be_bytes().to_vec();
        large.extend_from_slice(b"mdat");
        large.extend_from_slice(&18u64.to_be_bytes());
        large.extend_from_slice(&[9, 9]);
        data.extend_from_slice(&large);
        data.extend_from_slice(&boxed(0, b"skip", &[7, 7, 7]));
        let mut r = Reader::new(&data);
        let (h, c) = r.next_box().unwrap().unwrap();
        assert_eq!(
            (h.fourcc, h.offset, h.size, c.rest()),
            (FourCc(*b"free"), 0, 12, &[1, 2, 3, 4][..])
        );
        let (h, c) = r.next_box().unwrap().unwrap();
        assert_eq!(
            (h.header_len, h.size, c.base(), c.rest()),
            (16, 18, 28, &[9, 9][..])
        );
        let (h, c) = r.next_box().unwrap().unwrap();
        assert_eq!((h.size, c.rest()), (11, &[7, 7, 7][..]));
        assert!(r.next_box().unwrap().is_none());
    }

    #[test]
    fn bad_sizes_are_typed_errors_with_the_path() {
        let data = boxed(4, b"moov", &[]);
        let err = Reader::new(&data).next_box().unwrap_err();
        assert_eq!(
            err,
            Error::BoxTooSmall {
                path: "moov".into(),
                offset: 0,
                size: 4
            }
        );
        let data = boxed(100, b"moov", &[0; 8]);
        let err = Reader::new(&data).next_box().unwrap_err();
        assert_eq!(
            err,
            Error::BoxPastEnd {
                path: "moov".into(),
                offset: 0,
                size: 100,
                available: 16
            }
        );
        let data = [0, 0, 0, 1, b'm', b'd', b'a', b't', 0, 0];
        assert!(matches!(
            Reader::new(&data).next_box(),
            Err(Error::Truncated { .. })
        ));
    }

    #[test]
    fn nesting_deeper_than_the_limit_is_an_error() {
        let mut data = Vec::new();
        for _ in 0..=MAX_DEPTH {
            data = boxed(8 + data.len() as u32, b"moov", &data);
        }
        fn walk(r: &mut Reader<'_>) -> Result<u32> {
            match r.next_box()? {
                Some((_, mut c)) => Ok(1 + walk(&mut c)?),
                None => Ok(0),
            }
        }
        let err = walk(&mut Reader::new(&data)).unwrap_err();
        assert!(
            matches!(
                err,
                Error::TooDeep {
                    limit: MAX_DEPTH,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.path().starts_with("moov/moov/"));
    }

    #[test]
    fn counts_are_checked_against_remaining_bytes() {
        let data = [0u8; 16];
        let r = Reader::new(&data);
        assert_eq!(r.check_count(2, 8).unwrap(), 2);
        assert!(matches!(
            r.check_count(3, 8),
            Err(Error::CountTooLarge {
                count: 3,
                remaining: 16,
                ..
            })
        ));
        assert!(r.check_count(u64::MAX, 8).is_err());
    }
}
