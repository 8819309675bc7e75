//! The crate's error type: every variant names the box path (e.g. `moov/trak[1]/mdia/mdhd`).

use crate::FourCc;

/// Everything that can go wrong while reading an MP4 file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A read needed more bytes than the box holds.
    #[error("{path}: truncated at offset {offset}: needed {needed} bytes, {available} available")]
    Truncated {
        /// Box path.
        path: String,
        /// Absolute file offset of the read.
        offset: u64,
        /// Bytes the read needed.
        needed: u64,
        /// Bytes left in the box.
        available: u64,
    },
    /// A box header claims more bytes than its parent (or the file) holds.
    #[error("{path}: box at offset {offset} claims {size} bytes, only {available} available")]
    BoxPastEnd {
        /// Path of the box.
        path: String,
        /// Absolute offset of the box header.
        offset: u64,
        /// Size from the header.
        size: u64,
        /// Bytes from the header to the end of the parent.
        available: u64,
    },
    /// A box size smaller than its own header.
    #[error("{path}: box at offset {offset} has size {size}, smaller than its header")]
    BoxTooSmall {
        /// Path of the box.
        path: String,
        /// Absolute offset of the box header.
        offset: u64,
        /// Size from the header.
        size: u64,
    },
    /// Boxes nested deeper than the limit.
    #[error("{path}: boxes nested deeper than {limit} levels at offset {offset}")]
    TooDeep {
        /// Path of the box.
        path: String,
        /// Absolute offset.
        offset: u64,
        /// The depth limit.
        limit: u32,
    },
    /// A zero timescale.
    #[error("{path}: timescale is zero")]
    ZeroTimescale {
        /// Path of the box.
        path: String,
    },
    /// An entry count that cannot fit in the bytes that remain.
    #[error("{path}: count {count} does not fit in the {remaining} bytes that remain")]
    CountTooLarge {
        /// Path of the box.
        path: String,
        /// The claimed count.
        count: u64,
        /// Bytes left.
        remaining: u64,
    },
    /// A required box is absent.
    #[error("{path}: missing required box {fourcc}")]
    MissingBox {
        /// Path of the parent.
        path: String,
        /// The missing box type.
        fourcc: FourCc,
    },
    /// A box version this crate does not read.
    #[error("{path}: unsupported version {version}")]
    UnsupportedVersion {
        /// Path of the box.
        path: String,
        /// The version byte.
        version: u8,
    },
    /// A value that breaks a rule of the format.
    #[error("{path}: invalid at offset {offset}: {reason}")]
    Invalid {
        /// Path of the box.
        path: String,
        /// Absolute offset (or of the box when unknown).
        offset: u64,
        /// What is wrong.
        reason: &'static str,
    },
    /// Arithmetic on file values overflowed.
    #[error("{path}: overflow computing {what}")]
    Overflow {
        /// Path of the box.
        path: String,
        /// What was being computed.
        what: &'static str,
    },
    /// Reading the file failed (positioned reads of a [`Source`](crate::Source)): an I/O
    /// error, or `UnexpectedEof` when the file is now shorter than when it was opened (it
    /// changed under the reader).
    #[error("{path}: cannot read {needed} bytes at offset {offset}: {reason}")]
    Read {
        /// Path of the box being read (empty at the top level).
        path: String,
        /// Absolute offset of the read.
        offset: u64,
        /// Bytes the read needed.
        needed: u64,
        /// The I/O error's kind.
        kind: std::io::ErrorKind,
        /// The I/O error's message.
        reason: String,
    },
    /// A box of another type where one was expected.
    #[error("{path}: expected box {expected}, found {found}")]
    UnexpectedBox {
        /// Path.
        path: String,
        /// The wanted type.
        expected: FourCc,
        /// The type present.
        found: FourCc,
    },
}

impl Error {
    /// The box path the error names.
    pub fn path(&self) -> &str {
        match self {
            Error::Truncated { path, .. }
            | Error::BoxPastEnd { path, .. }
            | Error::BoxTooSmall { path, .. }
            | Error::TooDeep { path, .. }
            | Error::ZeroTimescale { path }
            | Error::CountTooLarge { path, .. }
            | Error::MissingBox { path, .. }
            | Error::UnsupportedVersion { path, .. }
            | Error::Invalid { path, .. }
            | Error::Overflow { path, .. }
            | Error::Read { path, .. }
            | Error::UnexpectedBox { path, .. } => path,
        }
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
