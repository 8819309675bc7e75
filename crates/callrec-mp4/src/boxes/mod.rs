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
    run_offsets, Co64, Ctts, CttsEntry, Sdtp, Stbl, Stco, Stsc, StscEntry, Stsd, Stss, Stsz, Stts,
    SttsEntry, Stz2,
};

use crate::reader::Reader;
use crate::write::{begin_box, end_box, put_i32, put_u32, put_u64};
use crate::{Error, FourCc, Result};

/// A table's entries: its `entry_count`, checked against the bytes that remain
/// (`entry_size` bytes each) before anything is allocated, then each entry read by `entry`.
pub(crate) fn read_entries<'a, T>(
    r: &mut Reader<'a>,
    entry_size: u64,
    mut entry: impl FnMut(&mut Reader<'a>) -> Result<T>,
) -> Result<Vec<T>> {
    let count = r.u32()?;
    let n = r.check_count(u64::from(count), entry_size)?;
    let mut entries = Vec::with_capacity(n);
    for _ in 0..n {
        entries.push(entry(r)?);
    }
    Ok(entries)
}

/// A version-0 table's payload: version and flags 0, the entry count, then each entry
/// written by `put`.
pub(crate) fn put_v0_entries<T>(
    out: &mut Vec<u8>,
    entries: &[T],
    mut put: impl FnMut(&mut Vec<u8>, &T),
) {
    put_u32(out, 0);
    put_u32(out, entries.len() as u32);
    for e in entries {
        put(out, e);
    }
}

/// The fields that open `mvhd` and `mdhd` (ISO/IEC 14496-12 8.2.2, 8.4.2), read after a
/// version of 0 (32-bit times) or 1 (64-bit times).
pub(crate) struct Times {
    pub creation_time: u64,
    pub modification_time: u64,
    pub timescale: u32,
    pub duration: u64,
}

impl Times {
    /// Reads version and flags (a version past 1 is unsupported), then the times.
    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self> {
        let (version, _) = r.version_flags()?;
        if version > 1 {
            return Err(r.unsupported_version(version));
        }
        Ok(Times {
            creation_time: read_vtime(r, version)?,
            modification_time: read_vtime(r, version)?,
            timescale: r.u32()?,
            duration: read_vtime(r, version)?,
        })
    }
}

/// Writes version and flags (version 1 only when a time needs 64 bits) and the times that
/// open `mvhd` and `mdhd`.
pub(crate) fn put_times(out: &mut Vec<u8>, creation: u64, modification: u64, scale: u32, dur: u64) {
    let v1 = !(fits_u32(creation) && fits_u32(modification) && fits_u32(dur));
    put_u32(out, if v1 { 1 << 24 } else { 0 });
    if v1 {
        put_u64(out, creation);
        put_u64(out, modification);
        put_u32(out, scale);
        put_u64(out, dur);
    } else {
        put_u32(out, creation as u32);
        put_u32(out, modification as u32);
        put_u32(out, scale);
        put_u32(out, dur as u32);
    }
}

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

/// Walks the children of the box `r` reads, in file order: `take` parses a child it knows
/// and returns `true`; a child it leaves (returning `false` without reading it) is kept raw in
/// `other`.
///
/// Each container box's `parse` is then only its list of children (`b"mdhd" => mdhd = ...`)
/// and which are [`required`]: boxes with the same number of children look alike line by
/// line (`duplicates` pairs `Mdia::parse` with `Trak::parse`), as in mp4-atom; folding that
/// declaration into a macro would hide the box structure, so it stays written out.
pub(crate) fn each_child<'a>(
    r: &mut Reader<'a>,
    other: &mut Vec<RawBox>,
    mut take: impl FnMut(FourCc, &mut Reader<'a>) -> Result<bool>,
) -> Result<()> {
    while let Some((h, mut c)) = r.next_box()? {
        if !take(h.fourcc, &mut c)? {
            other.push(RawBox::from_reader(h.fourcc, &mut c));
        }
    }
    Ok(())
}

/// A child the box `r` reads must have: `found`, or [`Error::MissingBox`] naming `fourcc`.
pub(crate) fn required<T>(r: &Reader<'_>, found: Option<T>, fourcc: &[u8; 4]) -> Result<T> {
    found.ok_or_else(|| missing(r, fourcc))
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
