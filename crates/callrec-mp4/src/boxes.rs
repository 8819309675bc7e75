//! One type per box (ISO/IEC 14496-12), each with `parse` (payload) and `encode` (whole box).
//!
//! Writers pick the smallest version that fits. Unknown children are kept raw and written after
//! the known ones.

use crate::fragment::Mvex;
use crate::reader::Reader;
use crate::write::{begin_box, end_box, put_i16, put_i32, put_i64, put_u16, put_u32, put_u64};
use crate::{Edit, Error, FourCc, Result};

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

fn missing(r: &Reader<'_>, fourcc: &[u8; 4]) -> Error {
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

/// `ftyp`, file type box (8.2.1 ISO/IEC 14496-12 4.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ftyp {
    /// Major brand.
    pub major_brand: FourCc,
    /// Minor version.
    pub minor_version: u32,
    /// Compatible brands.
    pub compatible_brands: Vec<FourCc>,
}

impl Mp4Box for Ftyp {
    const FOURCC: FourCc = FourCc(*b"ftyp");
    fn parse(r: &mut Reader<'_>) -> Result<Self> {
        let major_brand = r.fourcc()?;
        let minor_version = r.u32()?;
        let n = r.remaining() / 4;
        let mut compatible_brands = Vec::with_capacity(n);
        for _ in 0..n {
            compatible_brands.push(r.fourcc()?);
        }
        Ok(Ftyp {
            major_brand,
            minor_version,
            compatible_brands,
        })
    }
    fn encode_payload(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.major_brand.0);
        put_u32(out, self.minor_version);
        for b in &self.compatible_brands {
            out.extend_from_slice(&b.0);
        }
    }
}

/// `moov`, movie box (ISO/IEC 14496-12 8.2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moov {
    /// Movie header.
    pub mvhd: Mvhd,
    /// Tracks in order.
    pub traks: Vec<Trak>,
    /// Movie extends (fragmented files).
    pub mvex: Option<Mvex>,
    /// Other children (`udta`, `iods`...), kept raw.
    pub other: Vec<RawBox>,
}

impl Mp4Box for Moov {
    const FOURCC: FourCc = FourCc(*b"moov");
    fn parse(r: &mut Reader<'_>) -> Result<Self> {
        let mut mvhd = None;
        let mut traks = Vec::new();
        let mut mvex = None;
        let mut other = Vec::new();
        while let Some((h, mut c)) = r.next_box()? {
            match &h.fourcc.0 {
                b"mvhd" => mvhd = Some(Mvhd::parse(&mut c)?),
                b"trak" => {
                    c.push_path(&format!("[{}]", traks.len()));
                    traks.push(Trak::parse(&mut c)?);
                }
                b"mvex" => mvex = Some(Mvex::parse(&mut c)?),
                _ => other.push(RawBox::from_reader(h.fourcc, &mut c)),
            }
        }
        let mvhd = mvhd.ok_or_else(|| missing(r, b"mvhd"))?;
        Ok(Moov {
            mvhd,
            traks,
            mvex,
            other,
        })
    }
    fn encode_payload(&self, out: &mut Vec<u8>) {
        self.mvhd.encode(out);
        for t in &self.traks {
            t.encode(out);
        }
        if let Some(m) = &self.mvex {
            m.encode(out);
        }
        encode_all(&self.other, out);
    }
}

/// `mvhd`, movie header (ISO/IEC 14496-12 8.2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mvhd {
    /// Creation time (seconds since 1904).
    pub creation_time: u64,
    /// Modification time.
    pub modification_time: u64,
    /// Movie timescale (may be zero on the wire; [`crate::Movie`] rejects that).
    pub timescale: u32,
    /// Duration in the movie timescale.
    pub duration: u64,
    /// Preferred rate, 16.16.
    pub rate: i32,
    /// Preferred volume, 8.8.
    pub volume: i16,
    /// Transformation matrix.
    pub matrix: [i32; 9],
    /// Next track ID.
    pub next_track_id: u32,
}

impl Default for Mvhd {
    fn default() -> Self {
        Mvhd {
            creation_time: 0,
            modification_time: 0,
            timescale: 1000,
            duration: 0,
            rate: 0x0001_0000,
            volume: 0x0100,
            matrix: IDENTITY_MATRIX,
            next_track_id: 1,
        }
    }
}

impl Mp4Box for Mvhd {
    const FOURCC: FourCc = FourCc(*b"mvhd");
    fn parse(r: &mut Reader<'_>) -> Result<Self> {
        let (version, _) = r.version_flags()?;
        if version > 1 {
            return Err(r.unsupported_version(version));
        }
        let creation_time = read_vtime(r, version)?;
        let modification_time = read_vtime(r, version)?;
        let timescale = r.u32()?;
        let duration = read_vtime(r, version)?;
        let rate = r.i32()?;
        let volume = r.i16()?;
        r.skip(10)?;
        let matrix = read_matrix(r)?;
        r.skip(24)?;
        let next_track_id = r.u32()?;
        Ok(Mvhd {
            creation_time,
            modification_time,
            timescale,
            duration,
            rate,
            volume,
            matrix,
            next_track_id,
        })
    }
    fn encode_payload(&self, out: &mut Vec<u8>) {
        let v1 = !(fits_u32(self.creation_time)
            && fits_u32(self.modification_time)
            && fits_u32(self.duration));
        put_u32(out, if v1 { 1 << 24 } else { 0 });
        if v1 {
            put_u64(out, self.creation_time);
            put_u64(out, self.modification_time);
            put_u32(out, self.timescale);
            put_u64(out, self.duration);
        } else {
            put_u32(out, self.creation_time as u32);
            put_u32(out, self.modification_time as u32);
            put_u32(out, self.timescale);
            put_u32(out, self.duration as u32);
        }
        put_i32(out, self.rate);
        put_i16(out, self.volume);
        out.extend_from_slice(&[0u8; 10]);
        put_matrix(out, &self.matrix);
        out.extend_from_slice(&[0u8; 24]);
        put_u32(out, self.next_track_id);
    }
}

/// `trak`, track box (ISO/IEC 14496-12 8.3.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trak {
    /// Track header.
    pub tkhd: Tkhd,
    /// Edit box.
    pub edts: Option<Edts>,
    /// Media box.
    pub mdia: Mdia,
    /// Other children, kept raw.
    pub other: Vec<RawBox>,
}

impl Mp4Box for Trak {
    const FOURCC: FourCc = FourCc(*b"trak");
    fn parse(r: &mut Reader<'_>) -> Result<Self> {
        let (mut tkhd, mut edts, mut mdia, mut other) = (None, None, None, Vec::new());
        while let Some((h, mut c)) = r.next_box()? {
            match &h.fourcc.0 {
                b"tkhd" => tkhd = Some(Tkhd::parse(&mut c)?),
                b"edts" => edts = Some(Edts::parse(&mut c)?),
                b"mdia" => mdia = Some(Mdia::parse(&mut c)?),
                _ => other.push(RawBox::from_reader(h.fourcc, &mut c)),
            }
        }
        Ok(Trak {
            tkhd: tkhd.ok_or_else(|| missing(r, b"tkhd"))?,
            edts,
            mdia: mdia.ok_or_else(|| missing(r, b"mdia"))?,
            other,
        })
    }
    fn encode_payload(&self, out: &mut Vec<u8>) {
        self.tkhd.encode(out);
        if let Some(e) = &self.edts {
            e.encode(out);
        }
        self.mdia.encode(out);
        encode_all(&self.other, out);
    }
}

/// `tkhd`, track header (ISO/IEC 14496-12 8.3.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tkhd {
    /// Flags (1 enabled, 2 in movie, 4 in preview).
    pub flags: u32,
    /// Creation time.
    pub creation_time: u64,
    /// Modification time.
    pub modification_time: u64,
    /// Track ID.
    pub track_id: u32,
    /// Duration in the movie timescale (sum of edits).
    pub duration: u64,
    /// Layer.
    pub layer: i16,
    /// Alternate group.
    pub alternate_group: i16,
    /// Volume, 8.8 (0x0100 for audio, 0 otherwise).
    pub volume: i16,
    /// Matrix.
    pub matrix: [i32; 9],
    /// Width, 16.16.
    pub width: u32,
    /// Height, 16.16.
    pub height: u32,
}

impl Mp4Box for Tkhd {
    const FOURCC: FourCc = FourCc(*b"tkhd");
    fn parse(r: &mut Reader<'_>) -> Result<Self> {
        let (version, flags) = r.version_flags()?;
        if version > 1 {
            return Err(r.unsupported_version(version));
        }
        let creation_time = read_vtime(r, version)?;
        let modification_time = read_vtime(r, version)?;
        let track_id = r.u32()?;
        r.skip(4)?;
        let duration = read_vtime(r, version)?;
        r.skip(8)?;
        let layer = r.i16()?;
        let alternate_group = r.i16()?;
        let volume = r.i16()?;
        r.skip(2)?;
        let matrix = read_matrix(r)?;
        let width = r.u32()?;
        let height = r.u32()?;
        Ok(Tkhd {
            flags,
            creation_time,
            modification_time,
            track_id,
            duration,
            layer,
            alternate_group,
            volume,
            matrix,
            width,
            height,
        })
    }
    fn encode_payload(&self, out: &mut Vec<u8>) {
        let v1 = !(fits_u32(self.creation_time)
            && fits_u32(self.modification_time)
            && fits_u32(self.duration));
        put_u32(
            out,
            (if v1 { 1 << 24 } else { 0 }) | (self.flags & 0x00ff_ffff),
        );
        if v1 {
            put_u64(out, self.creation_time);
            put_u64(out, self.modification_time);
            put_u32(out, self.track_id);
            put_u32(out, 0);
            put_u64(out, self.duration);
        } else {
            put_u32(out, self.creation_time as u32);
            put_u32(out, self.modification_time as u32);
            put_u32(out, self.track_id);
            put_u32(out, 0);
            put_u32(out, self.duration as u32);
        }
        out.extend_from_slice(&[0u8; 8]);
        put_i16(out, self.layer);
        put_i16(out, self.alternate_group);
        put_i16(out, self.volume);
        put_u16(out, 0);
        put_matrix(out, &self.matrix);
        put_u32(out, self.width);
        put_u32(out, self.height);
    }
}

/// `edts`, edit box (ISO/IEC 14496-12 8.6.5).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Edts {
    /// The edit list.
    pub elst: Option<Elst>,
    /// Other children.
    pub other: Vec<RawBox>,
}

impl Mp4Box for Edts {
    const FOURCC: FourCc = FourCc(*b"edts");
    fn parse(r: &mut Reader<'_>) -> Result<Self> {
        let mut e = Edts::default();
        while let Some((h, mut c)) = r.next_box()? {
            match &h.fourcc.0 {
                b"elst" => e.elst = Some(Elst::parse(&mut c)?),
                _ => e.other.push(RawBox::from_reader(h.fourcc, &mut c)),
            }
        }
        Ok(e)
    }
    fn encode_payload(&self, out: &mut Vec<u8>) {
        if let Some(e) = &self.elst {
            e.encode(out);
        }
        encode_all(&self.other, out);
    }
}

/// `elst`, edit list (ISO/IEC 14496-12 8.6.6). `media_time == -1` is an empty edit (`None`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Elst {
    /// Entries.
    pub entries: Vec<Edit>,
}

impl Mp4Box for Elst {
    const FOURCC: FourCc = FourCc(*b"elst");
    fn parse(r: &mut Reader<'_>) -> Result<Self> {
        let (version, _) = r.version_flags()?;
        if version > 1 {
            return Err(r.unsupported_version(version));
        }
        let count = r.u32()?;
        let n = r.check_count(u64::from(count), if version == 1 { 20 } else { 12 })?;
        let mut entries = Vec::with_capacity(n);
        for _ in 0..n {
            let (segment_duration, media_time) = if version == 1 {
                (r.u64()?, r.i64()?)
            } else {
                (u64::from(r.u32()?), i64::from(r.i32()?))
            };
            entries.push(Edit {
                segment_duration,
                media_time: if media_time == -1 {
                    None
                } else {
                    Some(media_time)
                },
                media_rate_integer: r.i16()?,
                media_rate_fraction: r.i16()?,
            });
        }
        Ok(Elst { entries })
    }
    fn encode_payload(&self, out: &mut Vec<u8>) {
        let v1 = self.entries.iter().any(|e| {
            !fits_u32(e.segment_duration) || e.media_time.is_some_and(|t| i32::try_from(t).is_err())
        });
        put_u32(out, if v1 { 1 << 24 } else { 0 });
        put_u32(out, self.entries.len() as u32);
        for e in &self.entries {
            let t = e.media_time.unwrap_or(-1);
            if v1 {
                put_u64(out, e.segment_duration);
                put_i64(out, t);
            } else {
                put_u32(out, e.segment_duration as u32);
                put_i32(out, t as i32);
            }
            put_i16(out, e.media_rate_integer);
            put_i16(out, e.media_rate_fraction);
        }
    }
}

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
        while let Some((h, mut c)) = r.next_box()? {
            match &h.fourcc.0 {
                b"mdhd" => mdhd = Some(Mdhd::parse(&mut c)?),
                b"hdlr" => hdlr = Some(Hdlr::parse(&mut c)?),
                b"minf" => minf = Some(Minf::parse(&mut c)?),
                _ => other.push(RawBox::from_reader(h.fourcc, &mut c)),
            }
        }
        Ok(Mdia {
            mdhd: mdhd.ok_or_else(|| missing(r, b"mdhd"))?,
            hdlr: hdlr.ok_or_else(|| missing(r, b"hdlr"))?,
            minf: minf.ok_or_else(|| missing(r, b"minf"))?,
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
        let (version, _) = r.version_flags()?;
        if version > 1 {
            return Err(r.unsupported_version(version));
        }
        let creation_time = read_vtime(r, version)?;
        let modification_time = read_vtime(r, version)?;
        let timescale = r.u32()?;
        let duration = read_vtime(r, version)?;
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
        let v1 = !(fits_u32(self.creation_time)
            && fits_u32(self.modification_time)
            && fits_u32(self.duration));
        put_u32(out, if v1 { 1 << 24 } else { 0 });
        if v1 {
            put_u64(out, self.creation_time);
            put_u64(out, self.modification_time);
            put_u32(out, self.timescale);
            put_u64(out, self.duration);
        } else {
            put_u32(out, self.creation_time as u32);
            put_u32(out, self.modification_time as u32);
            put_u32(out, self.timescale);
            put_u32(out, self.duration as u32);
        }
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
        while let Some((h, mut c)) = r.next_box()? {
            match &h.fourcc.0 {
                b"vmhd" => vmhd = Some(Vmhd::parse(&mut c)?),
                b"smhd" => smhd = Some(Smhd::parse(&mut c)?),
                b"dinf" => dinf = Some(Dinf::parse(&mut c)?),
                b"stbl" => stbl = Some(Stbl::parse(&mut c)?),
                _ => other.push(RawBox::from_reader(h.fourcc, &mut c)),
            }
        }
        Ok(Minf {
            vmhd,
            smhd,
            dinf,
            stbl: stbl.ok_or_else(|| missing(r, b"stbl"))?,
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
        while let Some((h, mut c)) = r.next_box()? {
            match &h.fourcc.0 {
                b"dref" => dref = Some(Dref::parse(&mut c)?),
                _ => other.push(RawBox::from_reader(h.fourcc, &mut c)),
            }
        }
        Ok(Dinf {
            dref: dref.ok_or_else(|| missing(r, b"dref"))?,
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
        let count = r.u32()?;
        let n = r.check_count(u64::from(count), 8)?;
        let mut entries = Vec::with_capacity(n);
        for _ in 0..n {
            let (h, mut c) = r.next_box()?.ok_or_else(|| r.truncated(8))?;
            entries.push(RawBox::from_reader(h.fourcc, &mut c));
        }
        Ok(Dref { entries })
    }
    fn encode_payload(&self, out: &mut Vec<u8>) {
        put_u32(out, 0);
        put_u32(out, self.entries.len() as u32);
        encode_all(&self.entries, out);
    }
}

/// `stbl`, sample table (ISO/IEC 14496-12 8.5.1).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Stbl {
    /// Sample descriptions.
    pub stsd: Stsd,
    /// Decoding time to sample.
    pub stts: Stts,
    /// Sync samples.
    pub stss: Option<Stss>,
    /// Sample dependency flags.
    pub sdtp: Option<Sdtp>,
    /// Composition offsets.
    pub ctts: Option<Ctts>,
    /// Sample to chunk.
    pub stsc: Stsc,
    /// Sample sizes.
    pub stsz: Option<Stsz>,
    /// Compact sample sizes.
    pub stz2: Option<Stz2>,
    /// 32-bit chunk offsets.
    pub stco: Option<Stco>,
    /// 64-bit chunk offsets.
    pub co64: Option<Co64>,
    /// Other children (`sgpd`, `sbgp`...), written last.
    pub other: Vec<RawBox>,
}

impl Mp4Box for Stbl {
    const FOURCC: FourCc = FourCc(*b"stbl");
    fn parse(r: &mut Reader<'_>) -> Result<Self> {
        let mut stsd = None;
        let mut stts = None;
        let mut stsc = None;
        let mut s = Stbl::default();
        while let Some((h, mut c)) = r.next_box()? {
            match &h.fourcc.0 {
                b"stsd" => stsd = Some(Stsd::parse(&mut c)?),
                b"stts" => stts = Some(Stts::parse(&mut c)?),
                b"stss" => s.stss = Some(Stss::parse(&mut c)?),
                b"sdtp" => s.sdtp = Some(Sdtp::parse(&mut c)?),
                b"ctts" => s.ctts = Some(Ctts::parse(&mut c)?),
                b"stsc" => stsc = Some(Stsc::parse(&mut c)?),
                b"stsz" => s.stsz = Some(Stsz::parse(&mut c)?),
                b"stz2" => s.stz2 = Some(Stz2::parse(&mut c)?),
                b"stco" => s.stco = Some(Stco::parse(&mut c)?),
                b"co64" => s.co64 = Some(Co64::parse(&mut c)?),
                _ => s.other.push(RawBox::from_reader(h.fourcc, &mut c)),
            }
        }
        s.stsd = stsd.ok_or_else(|| missing(r, b"stsd"))?;
        s.stts = stts.ok_or_else(|| missing(r, b"stts"))?;
        s.stsc = stsc.ok_or_else(|| missing(r, b"stsc"))?;
        Ok(s)
    }
    fn encode_payload(&self, out: &mut Vec<u8>) {
        self.stsd.encode(out);
        self.stts.encode(out);
        if let Some(b) = &self.stss {
            b.encode(out);
        }
        if let Some(b) = &self.sdtp {
            b.encode(out);
        }
        if let Some(b) = &self.ctts {
            b.encode(out);
        }
        self.stsc.encode(out);
        if let Some(b) = &self.stsz {
            b.encode(out);
        }
        if let Some(b) = &self.stz2 {
            b.encode(out);
        }
        if let Some(b) = &self.stco {
            b.encode(out);
        }
        if let Some(b) = &self.co64 {
            b.encode(out);
        }
        encode_all(&self.other, out);
    }
}

/// `stsd`, sample descriptions (ISO/IEC 14496-12 8.5.2); each entry kept as its whole raw box.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Stsd {
    /// Each entry box, header included.
    pub entries: Vec<Vec<u8>>,
}

impl Mp4Box for Stsd {
    const FOURCC: FourCc = FourCc(*b"stsd");
    fn parse(r: &mut Reader<'_>) -> Result<Self> {
        r.version_flags()?;
        let count = r.u32()?;
        let n = r.check_count(u64::from(count), 8)?;
        let mut entries = Vec::with_capacity(n);
        for _ in 0..n {
            let start = r.rest();
            let (h, _) = r.next_box()?.ok_or_else(|| r.truncated(8))?;
            // h.size <= start.len() was checked by next_box.
            entries.push(start.get(..h.size as usize).unwrap_or(start).to_vec());
        }
        Ok(Stsd { entries })
    }
    fn encode_payload(&self, out: &mut Vec<u8>) {
        put_u32(out, 0);
        put_u32(out, self.entries.len() as u32);
        for e in &self.entries {
            out.extend_from_slice(e);
        }
    }
}

/// One `stts` run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SttsEntry {
    /// Samples in the run.
    pub sample_count: u32,
    /// Duration of each.
    pub sample_delta: u32,
}

/// `stts`, decoding time to sample (ISO/IEC 14496-12 8.6.1.2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Stts {
    /// Runs.
    pub entries: Vec<SttsEntry>,
}

impl Mp4Box for Stts {
    const FOURCC: FourCc = FourCc(*b"stts");
    fn parse(r: &mut Reader<'_>) -> Result<Self> {
        r.version_flags()?;
        let count = r.u32()?;
        let n = r.check_count(u64::from(count), 8)?;
        let mut entries = Vec::with_capacity(n);
        for _ in 0..n {
            entries.push(SttsEntry {
                sample_count: r.u32()?,
                sample_delta: r.u32()?,
            });
        }
        Ok(Stts { entries })
    }
    fn encode_payload(&self, out: &mut Vec<u8>) {
        put_u32(out, 0);
        put_u32(out, self.entries.len() as u32);
        for e in &self.entries {
            put_u32(out, e.sample_count);
            put_u32(out, e.sample_delta);
        }
    }
}

/// One `ctts` run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CttsEntry {
    /// Samples in the run.
    pub sample_count: u32,
    /// Composition offset of each. Version 0 stores it unsigned (ISO/IEC 14496-12 8.6.1.3):
    /// a v0 value above `i32::MAX` is not silently read as negative but refused
    /// ([`Error::Invalid`] naming the `ctts`); version 1 is signed.
    pub sample_offset: i32,
}

/// `ctts`, composition time to sample (ISO/IEC 14496-12 8.6.1.3); written as v0 unless an
/// offset is negative.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Ctts {
    /// Runs.
    pub entries: Vec<CttsEntry>,
}

impl Mp4Box for Ctts {
    const FOURCC: FourCc = FourCc(*b"ctts");
    fn parse(r: &mut Reader<'_>) -> Result<Self> {
        let (version, _) = r.version_flags()?;
        if version > 1 {
            return Err(r.unsupported_version(version));
        }
        let count = r.u32()?;
        let n = r.check_count(u64::from(count), 8)?;
        let mut entries = Vec::with_capacity(n);
        for _ in 0..n {
            let sample_count = r.u32()?;
            let sample_offset = if version == 0 {
                v0_composition_offset(r)?
            } else {
                r.i32()?
            };
            entries.push(CttsEntry {
                sample_count,
                sample_offset,
            });
        }
        Ok(Ctts { entries })
    }
    fn encode_payload(&self, out: &mut Vec<u8>) {
        let v1 = self.entries.iter().any(|e| e.sample_offset < 0);
        put_u32(out, if v1 { 1 << 24 } else { 0 });
        put_u32(out, self.entries.len() as u32);
        for e in &self.entries {
            put_u32(out, e.sample_count);
            put_i32(out, e.sample_offset);
        }
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

/// `stss`, sync sample table (ISO/IEC 14496-12 8.6.2): 1-based sample numbers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Stss {
    /// Sync sample numbers, 1-based, increasing.
    pub entries: Vec<u32>,
}

fn parse_u32_table(r: &mut Reader<'_>) -> Result<Vec<u32>> {
    r.version_flags()?;
    let count = r.u32()?;
    let n = r.check_count(u64::from(count), 4)?;
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        v.push(r.u32()?);
    }
    Ok(v)
}

fn put_u32_table(out: &mut Vec<u8>, v: &[u32]) {
    put_u32(out, 0);
    put_u32(out, v.len() as u32);
    for x in v {
        put_u32(out, *x);
    }
}

impl Mp4Box for Stss {
    const FOURCC: FourCc = FourCc(*b"stss");
    fn parse(r: &mut Reader<'_>) -> Result<Self> {
        Ok(Stss {
            entries: parse_u32_table(r)?,
        })
    }
    fn encode_payload(&self, out: &mut Vec<u8>) {
        put_u32_table(out, &self.entries);
    }
}

/// `sdtp`, independent and disposable samples (ISO/IEC 14496-12 8.6.4): one byte per sample.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Sdtp {
    /// One flags byte per sample.
    pub entries: Vec<u8>,
}

impl Mp4Box for Sdtp {
    const FOURCC: FourCc = FourCc(*b"sdtp");
    fn parse(r: &mut Reader<'_>) -> Result<Self> {
        r.version_flags()?;
        Ok(Sdtp {
            entries: r.take_rest().to_vec(),
        })
    }
    fn encode_payload(&self, out: &mut Vec<u8>) {
        put_u32(out, 0);
        out.extend_from_slice(&self.entries);
    }
}

/// One `stsc` run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StscEntry {
    /// First chunk (1-based) of the run.
    pub first_chunk: u32,
    /// Samples in each chunk of the run.
    pub samples_per_chunk: u32,
    /// 1-based `stsd` entry.
    pub sample_description_index: u32,
}

/// `stsc`, sample to chunk (ISO/IEC 14496-12 8.7.4).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Stsc {
    /// Runs.
    pub entries: Vec<StscEntry>,
}

impl Mp4Box for Stsc {
    const FOURCC: FourCc = FourCc(*b"stsc");
    fn parse(r: &mut Reader<'_>) -> Result<Self> {
        r.version_flags()?;
        let count = r.u32()?;
        let n = r.check_count(u64::from(count), 12)?;
        let mut entries = Vec::with_capacity(n);
        for _ in 0..n {
            entries.push(StscEntry {
                first_chunk: r.u32()?,
                samples_per_chunk: r.u32()?,
                sample_description_index: r.u32()?,
            });
        }
        Ok(Stsc { entries })
    }
    fn encode_payload(&self, out: &mut Vec<u8>) {
        put_u32(out, 0);
        put_u32(out, self.entries.len() as u32);
        for e in &self.entries {
            put_u32(out, e.first_chunk);
            put_u32(out, e.samples_per_chunk);
            put_u32(out, e.sample_description_index);
        }
    }
}

/// `stsz`, sample sizes (ISO/IEC 14496-12 8.7.3.2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Stsz {
    /// Constant size of every sample, or 0 when `entries` lists them.
    pub sample_size: u32,
    /// Sample count (equals `entries.len()` when `sample_size == 0`).
    pub sample_count: u32,
    /// Per-sample sizes (empty when `sample_size != 0`).
    pub entries: Vec<u32>,
}

impl Stsz {
    /// Per-sample sizes.
    pub fn from_sizes(sizes: Vec<u32>) -> Self {
        Stsz {
            sample_size: 0,
            sample_count: sizes.len() as u32,
            entries: sizes,
        }
    }
}

impl Mp4Box for Stsz {
    const FOURCC: FourCc = FourCc(*b"stsz");
    fn parse(r: &mut Reader<'_>) -> Result<Self> {
        r.version_flags()?;
        let sample_size = r.u32()?;
        let sample_count = r.u32()?;
        let mut entries = Vec::new();
        if sample_size == 0 {
            let n = r.check_count(u64::from(sample_count), 4)?;
            entries.reserve_exact(n);
            for _ in 0..n {
                entries.push(r.u32()?);
            }
        }
        Ok(Stsz {
            sample_size,
            sample_count,
            entries,
        })
    }
    fn encode_payload(&self, out: &mut Vec<u8>) {
        put_u32(out, 0);
        put_u32(out, self.sample_size);
        if self.sample_size == 0 {
            put_u32(out, self.entries.len() as u32);
            for x in &self.entries {
                put_u32(out, *x);
            }
        } else {
            put_u32(out, self.sample_count);
        }
    }
}

/// `stz2`, compact sample sizes (ISO/IEC 14496-12 8.7.3.3).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Stz2 {
    /// Field size in bits: 4, 8 or 16.
    pub field_size: u8,
    /// Per-sample sizes.
    pub entries: Vec<u32>,
}

impl Mp4Box for Stz2 {
    const FOURCC: FourCc = FourCc(*b"stz2");
    fn parse(r: &mut Reader<'_>) -> Result<Self> {
        r.version_flags()?;
        r.skip(3)?;
        let field_size = r.u8()?;
        let count = u64::from(r.u32()?);
        let bytes = match field_size {
            4 => count.div_ceil(2),
            8 => count,
            16 => count.saturating_mul(2),
            _ => return Err(r.invalid("stz2 field size is not 4, 8 or 16")),
        };
        r.check_count(bytes, 1)?;
        let n = count as usize;
        let mut entries = Vec::with_capacity(n);
        match field_size {
            4 => {
                for i in 0..n {
                    if i % 2 == 0 {
                        let b = r.rest().first().copied().ok_or_else(|| r.truncated(1))?;
                        entries.push(u32::from(b >> 4));
                    } else {
                        entries.push(u32::from(r.u8()? & 0x0f));
                    }
                }
                if n % 2 == 1 {
                    r.skip(1)?;
                }
            }
            8 => {
                for _ in 0..n {
                    entries.push(u32::from(r.u8()?));
                }
            }
            _ => {
                for _ in 0..n {
                    entries.push(u32::from(r.u16()?));
                }
            }
        }
        Ok(Stz2 {
            field_size,
            entries,
        })
    }
    fn encode_payload(&self, out: &mut Vec<u8>) {
        put_u32(out, 0);
        out.extend_from_slice(&[0, 0, 0, self.field_size]);
        put_u32(out, self.entries.len() as u32);
        match self.field_size {
            4 => {
                for pair in self.entries.chunks(2) {
                    let hi = (pair[0] & 0x0f) as u8;
                    let lo = pair.get(1).map_or(0, |v| (v & 0x0f) as u8);
                    out.push((hi << 4) | lo);
                }
            }
            8 => out.extend(self.entries.iter().map(|v| *v as u8)),
            _ => {
                for v in &self.entries {
                    put_u16(out, *v as u16);
                }
            }
        }
    }
}

/// `stco`, 32-bit chunk offsets (ISO/IEC 14496-12 8.7.5).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Stco {
    /// Absolute chunk offsets.
    pub entries: Vec<u32>,
}

impl Mp4Box for Stco {
    const FOURCC: FourCc = FourCc(*b"stco");
    fn parse(r: &mut Reader<'_>) -> Result<Self> {
        Ok(Stco {
            entries: parse_u32_table(r)?,
        })
    }
    fn encode_payload(&self, out: &mut Vec<u8>) {
        put_u32_table(out, &self.entries);
    }
}

/// `co64`, 64-bit chunk offsets (ISO/IEC 14496-12 8.7.5).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Co64 {
    /// Absolute chunk offsets.
    pub entries: Vec<u64>,
}

impl Mp4Box for Co64 {
    const FOURCC: FourCc = FourCc(*b"co64");
    fn parse(r: &mut Reader<'_>) -> Result<Self> {
        r.version_flags()?;
        let count = r.u32()?;
        let n = r.check_count(u64::from(count), 8)?;
        let mut entries = Vec::with_capacity(n);
        for _ in 0..n {
            entries.push(r.u64()?);
        }
        Ok(Co64 { entries })
    }
    fn encode_payload(&self, out: &mut Vec<u8>) {
        put_u32(out, 0);
        put_u32(out, self.entries.len() as u32);
        for x in &self.entries {
            put_u64(out, *x);
        }
    }
}

/// Chunk offsets in whichever box fits: `stco` when every offset fits in 32 bits, else `co64`.
pub fn chunk_offsets(offsets: &[u64]) -> (Option<Stco>, Option<Co64>) {
    if offsets.iter().all(|o| fits_u32(*o)) {
        (
            Some(Stco {
                entries: offsets.iter().map(|o| *o as u32).collect(),
            }),
            None,
        )
    } else {
        (
            None,
            Some(Co64 {
                entries: offsets.to_vec(),
            }),
        )
    }
}
