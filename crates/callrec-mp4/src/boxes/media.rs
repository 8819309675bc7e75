//! Media boxes: `mdia`, `mdhd`, `hdlr`, `minf`, `vmhd`, `smhd`, `dinf`, `dref`
//! (ISO/IEC 14496-12 8.4, 8.7.1, 8.7.2, 12).

use super::{
    each_child, encode_all, put_times, read_entries, required, Mp4Box, RawBox, Stbl, Times,
};
use crate::reader::Reader;
use crate::write::{put_i16, put_u16, put_u32};
use crate::{FourCc, Result};

/// `mdia`, media box (ISO/IEC 14496-12 8.4.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mdia {
    /// Media header.
    pub mdhd: Mdhd,
    /// Handler.
    pub hdlr: Hdlr,
    /// Media information.
    pub minf: Minf,
    /// Other children.
    pub other: Vec<RawBox>,
}

impl Mp4Box for Mdia {
    const FOURCC: FourCc = FourCc(*b"mdia");
    fn parse(r: &mut Reader<'_>) -> Result<Self> {
        let (mut mdhd, mut hdlr, mut minf, mut other) = (None, None, None, Vec::new());
        each_child(r, &mut other, |fourcc, c| {
            match &fourcc.0 {
                b"mdhd" => mdhd = Some(Mdhd::parse(c)?),
                b"hdlr" => hdlr = Some(Hdlr::parse(c)?),
                b"minf" => minf = Some(Minf::parse(c)?),
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        Ok(Mdia {
            mdhd: required(r, mdhd, b"mdhd")?,
            hdlr: required(r, hdlr, b"hdlr")?,
            minf: required(r, minf, b"minf")?,
            other,
        })
    }
    fn encode_payload(&self, out: &mut Vec<u8>) {
        self.mdhd.encode(out);
        self.hdlr.encode(out);
        self.minf.encode(out);
        encode_all(&self.other, out);
    }
}

/// `mdhd`, media header (ISO/IEC 14496-12 8.4.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mdhd {
    /// Creation time.
    pub creation_time: u64,
    /// Modification time.
    pub modification_time: u64,
    /// Media timescale.
    pub timescale: u32,
    /// Duration in the media timescale.
    pub duration: u64,
    /// Packed ISO-639-2/T language (15 bits).
    pub language: u16,
}

impl Mp4Box for Mdhd {
    const FOURCC: FourCc = FourCc(*b"mdhd");
    fn parse(r: &mut Reader<'_>) -> Result<Self> {
        let Times {
            creation_time,
            modification_time,
            timescale,
            duration,
        } = Times::read(r)?;
        let language = r.u16()? & 0x7fff;
        r.skip(2)?;
        Ok(Mdhd {
            creation_time,
            modification_time,
            timescale,
            duration,
            language,
        })
    }
    fn encode_payload(&self, out: &mut Vec<u8>) {
        let (c, m) = (self.creation_time, self.modification_time);
        put_times(out, c, m, self.timescale, self.duration);
        put_u16(out, self.language & 0x7fff);
        put_u16(out, 0);
    }
}

/// `hdlr`, handler reference (ISO/IEC 14496-12 8.4.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hdlr {
    /// `pre_defined` (QuickTime component type; 0 in MP4).
    pub pre_defined: u32,
    /// Handler type (`vide`, `soun`...).
    pub handler_type: FourCc,
    /// The three reserved words, as on the wire.
    pub reserved: [u32; 3],
    /// The name bytes, terminator included, exactly as on the wire.
    pub name: Vec<u8>,
}

impl Hdlr {
    /// A handler with a NUL-terminated name.
    pub fn new(handler_type: FourCc, name: &str) -> Self {
        let mut n = name.as_bytes().to_vec();
        n.push(0);
        Hdlr {
            pre_defined: 0,
            handler_type,
            reserved: [0; 3],
            name: n,
        }
    }
}

impl Mp4Box for Hdlr {
    const FOURCC: FourCc = FourCc(*b"hdlr");
    fn parse(r: &mut Reader<'_>) -> Result<Self> {
        let (version, _) = r.version_flags()?;
        if version != 0 {
            return Err(r.unsupported_version(version));
        }
        let pre_defined = r.u32()?;
        let handler_type = r.fourcc()?;
        let reserved = [r.u32()?, r.u32()?, r.u32()?];
        let name = r.take_rest().to_vec();
        Ok(Hdlr {
            pre_defined,
            handler_type,
            reserved,
            name,
        })
    }
    fn encode_payload(&self, out: &mut Vec<u8>) {
        put_u32(out, 0);
        put_u32(out, self.pre_defined);
        out.extend_from_slice(&self.handler_type.0);
        for v in self.reserved {
            put_u32(out, v);
        }
        out.extend_from_slice(&self.name);
    }
}

/// `minf`, media information (ISO/IEC 14496-12 8.4.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Minf {
    /// Video media header.
    pub vmhd: Option<Vmhd>,
    /// Sound media header.
    pub smhd: Option<Smhd>,
    /// Data information.
    pub dinf: Option<Dinf>,
    /// Sample table.
    pub stbl: Stbl,
    /// Other children, written after `stbl`.
    pub other: Vec<RawBox>,
}

impl Mp4Box for Minf {
    const FOURCC: FourCc = FourCc(*b"minf");
    fn parse(r: &mut Reader<'_>) -> Result<Self> {
        let (mut vmhd, mut smhd, mut dinf, mut stbl, mut other) =
            (None, None, None, None, Vec::new());
        each_child(r, &mut other, |fourcc, c| {
            match &fourcc.0 {
                b"vmhd" => vmhd = Some(Vmhd::parse(c)?),
                b"smhd" => smhd = Some(Smhd::parse(c)?),
                b"dinf" => dinf = Some(Dinf::parse(c)?),
                b"stbl" => stbl = Some(Stbl::parse(c)?),
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        Ok(Minf {
            vmhd,
            smhd,
            dinf,
            stbl: required(r, stbl, b"stbl")?,
            other,
        })
    }
    fn encode_payload(&self, out: &mut Vec<u8>) {
        if let Some(b) = &self.vmhd {
            b.encode(out);
        }
        if let Some(b) = &self.smhd {
            b.encode(out);
        }
        if let Some(b) = &self.dinf {
            b.encode(out);
        }
        self.stbl.encode(out);
        encode_all(&self.other, out);
    }
}

/// `vmhd`, video media header (ISO/IEC 14496-12 12.1.2); flags are always 1.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Vmhd {
    /// Graphics mode.
    pub graphics_mode: u16,
    /// Opcolor.
    pub opcolor: [u16; 3],
}

impl Mp4Box for Vmhd {
    const FOURCC: FourCc = FourCc(*b"vmhd");
    fn parse(r: &mut Reader<'_>) -> Result<Self> {
        r.version_flags()?;
        Ok(Vmhd {
            graphics_mode: r.u16()?,
            opcolor: [r.u16()?, r.u16()?, r.u16()?],
        })
    }
    fn encode_payload(&self, out: &mut Vec<u8>) {
        put_u32(out, 1);
        put_u16(out, self.graphics_mode);
        for v in self.opcolor {
            put_u16(out, v);
        }
    }
}

/// `smhd`, sound media header (ISO/IEC 14496-12 12.2.2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Smhd {
    /// Balance, 8.8.
    pub balance: i16,
}

impl Mp4Box for Smhd {
    const FOURCC: FourCc = FourCc(*b"smhd");
    fn parse(r: &mut Reader<'_>) -> Result<Self> {
        r.version_flags()?;
        let balance = r.i16()?;
        r.skip(2)?;
        Ok(Smhd { balance })
    }
    fn encode_payload(&self, out: &mut Vec<u8>) {
        put_u32(out, 0);
        put_i16(out, self.balance);
        put_u16(out, 0);
    }
}

/// `dinf`, data information (ISO/IEC 14496-12 8.7.1).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Dinf {
    /// Data reference.
    pub dref: Dref,
    /// Other children.
    pub other: Vec<RawBox>,
}

impl Mp4Box for Dinf {
    const FOURCC: FourCc = FourCc(*b"dinf");
    fn parse(r: &mut Reader<'_>) -> Result<Self> {
        let (mut dref, mut other) = (None, Vec::new());
        each_child(r, &mut other, |fourcc, c| {
            match &fourcc.0 {
                b"dref" => dref = Some(Dref::parse(c)?),
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        Ok(Dinf {
            dref: required(r, dref, b"dref")?,
            other,
        })
    }
    fn encode_payload(&self, out: &mut Vec<u8>) {
        self.dref.encode(out);
        encode_all(&self.other, out);
    }
}

/// `dref`, data reference (ISO/IEC 14496-12 8.7.2); entries kept raw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dref {
    /// Entries (`url ` boxes with flag 1 mean "in this file").
    pub entries: Vec<RawBox>,
}

impl Default for Dref {
    /// One self-contained `url ` entry.
    fn default() -> Self {
        Dref {
            entries: vec![RawBox {
                fourcc: FourCc(*b"url "),
                payload: vec![0, 0, 0, 1],
            }],
        }
    }
}

impl Mp4Box for Dref {
    const FOURCC: FourCc = FourCc(*b"dref");
    fn parse(r: &mut Reader<'_>) -> Result<Self> {
        r.version_flags()?;
        let entries = read_entries(r, 8, |r| {
            let (h, mut c) = r.next_box()?.ok_or_else(|| r.truncated(8))?;
            Ok(RawBox::from_reader(h.fourcc, &mut c))
        })?;
        Ok(Dref { entries })
    }
    fn encode_payload(&self, out: &mut Vec<u8>) {
        put_u32(out, 0);
        put_u32(out, self.entries.len() as u32);
        encode_all(&self.entries, out);
    }
}
