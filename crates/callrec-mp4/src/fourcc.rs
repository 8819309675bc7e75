//! Four-character codes that name boxes and sample entries.

use std::fmt;

/// A box type or sample entry code, as the four bytes on the wire.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FourCc(pub [u8; 4]);

impl FourCc {
    /// Builds a code from its four bytes.
    pub const fn new(bytes: &[u8; 4]) -> Self {
        FourCc(*bytes)
    }
}

impl fmt::Display for FourCc {
    /// Printable ASCII as is; any other byte escaped as `\xNN`. Never panics.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for &b in &self.0 {
            if b.is_ascii_graphic() || b == b' ' {
                write!(f, "{}", b as char)?;
            } else {
                write!(f, "\\x{b:02x}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for FourCc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FourCc(\"{self}\")")
    }
}
