//! One type per box (ISO/IEC 14496-12), each with `parse` (payload) and `encode` (whole box).
//!
//! Writers pick the smallest version that fits. Unknown children are kept raw and written after
//! the known ones.

mod edit;
mod media;
mod movie;
mod mvex;
mod sample_table;

pub use edit::{Edts, Elst};
pub use media::{Dinf, Dref, Hdlr, Mdhd, Mdia, Minf, Smhd, Vmhd};
pub use movie::{Ftyp, Moov, Mvhd, Tkhd, Trak};
pub use mvex::{Mehd, Mvex, Trex};
pub use sample_table::{
    chunk_offsets, Co64, Ctts, CttsEntry, Sdtp, Stbl, Stco, Stsc, StscEntry, Stsd, Stss, Stsz,
    Stts, SttsEntry, Stz2,
};

use crate::reader::Reader;
use crate::write::{begin_box, end_box, put_i32};
use crate::{Error, FourCc, Result};

/// A box type with a parser and a writer.
pub trait Mp4Box: Sized {
    /// The box type.
    const FOURCC: FourCc;

    /// Parses the payload (after the box header) from `r`.
    fn parse(r: &mut Reader<'_>) -> Result<Self>;

    /// Writes the payload (full boxes include their version and flags).
    fn encode_payload(&self, out: &mut Vec<u8>);

    /// Writes the whole box, header included.
    fn encode(&self, out: &mut Vec<u8>) {
        let start = begin_box(out, Self::FOURCC);
        self.encode_payload(out);
        end_box(out, start);
    }

    /// The whole box as bytes.
    fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }

    /// Parses one whole box (header included) from `data`.
    fn decode(data: &[u8]) -> Result<Self> {
        let mut r = Reader::new(data);
        let (h, mut c) = r.next_box()?.ok_or_else(|| r.truncated(8))?;
        if h.fourcc != Self::FOURCC {
            return Err(Error::UnexpectedBox {
                path: String::new(),
                expected: Self::FOURCC,
                found: h.fourcc,
            });
        }
        Self::parse(&mut c)
    }
}

fn fits_u32(v: u64) -> bool {
    u32::try_from(v).is_ok()
}

pub(crate) fn missing(r: &Reader<'_>, fourcc: &[u8; 4]) -> Error {
    Error::MissingBox {
        path: r.path().to_string(),
        fourcc: FourCc(*fourcc),
    }
}

/// A box kept as its type and raw payload.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RawBox {
    /// Box type.
    pub fourcc: FourCc,
    /// Payload bytes (header excluded).
    pub payload: Vec<u8>,
}

impl RawBox {
    /// Keeps the rest of `r` as the payload of a `fourcc` box.
    pub fn from_reader(fourcc: FourCc, r: &mut Reader<'_>) -> Self {
        RawBox {
            fourcc,
            payload: r.take_rest().to_vec(),
        }
    }

    /// Writes the box.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let start = begin_box(out, self.fourcc);
        out.extend_from_slice(&self.payload);
        end_box(out, start);
    }
}

fn encode_all(items: &[RawBox], out: &mut Vec<u8>) {
    for b in items {
        b.encode(out);
    }
}

/// A 3x3 transformation matrix, identity by default.
pub const IDENTITY_MATRIX: [i32; 9] = [0x0001_0000, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000];

fn read_matrix(r: &mut Reader<'_>) -> Result<[i32; 9]> {
    let mut m = [0i32; 9];
    for v in &mut m {
        *v = r.i32()?;
    }
    Ok(m)
}

fn put_matrix(out: &mut Vec<u8>, m: &[i32; 9]) {
    for v in m {
        put_i32(out, *v);
    }
}

/// Reads a v0 (32-bit) or v1 (64-bit) field.
fn read_vtime(r: &mut Reader<'_>, version: u8) -> Result<u64> {
    if version == 1 {
        r.u64()
    } else {
        r.u32().map(u64::from)
    }
}

/// Reads a version-0 (unsigned) composition offset of `ctts` or `trun`: a value above
/// `i32::MAX` would turn negative in the signed field the sample lists use, so it is an
/// [`Error::Invalid`] naming the box instead.
pub(crate) fn v0_composition_offset(r: &mut Reader<'_>) -> Result<i32> {
    let at = r.offset();
    let v = r.u32()?;
    i32::try_from(v).map_err(|_| Error::Invalid {
        path: r.path().to_string(),
        offset: at,
        reason: "version 0 composition offset is unsigned and above 2^31 - 1",
    })
}
