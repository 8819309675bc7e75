//! File- and movie-level boxes: `ftyp`, `moov`, `mvhd`, `trak`, `tkhd`
//! (ISO/IEC 14496-12 4.3, 8.2, 8.3).

use super::{
    each_child, encode_all, fits_u32, put_matrix, put_times, read_matrix, read_vtime, required,
    Edts, Mdia, Mp4Box, Mvex, RawBox, Times, IDENTITY_MATRIX,
};
use crate::reader::Reader;
use crate::write::{put_i16, put_i32, put_u16, put_u32, put_u64};
use crate::{FourCc, Result};

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
        each_child(r, &mut other, |fourcc, c| {
            match &fourcc.0 {
                b"mvhd" => mvhd = Some(Mvhd::parse(c)?),
                b"trak" => {
                    c.push_path(&format!("[{}]", traks.len()));
                    traks.push(Trak::parse(c)?);
                }
                b"mvex" => mvex = Some(Mvex::parse(c)?),
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        let mvhd = required(r, mvhd, b"mvhd")?;
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
        let Times {
            creation_time,
            modification_time,
            timescale,
            duration,
        } = Times::read(r)?;
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
        let (c, m) = (self.creation_time, self.modification_time);
        put_times(out, c, m, self.timescale, self.duration);
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
        each_child(r, &mut other, |fourcc, c| {
            match &fourcc.0 {
                b"tkhd" => tkhd = Some(Tkhd::parse(c)?),
                b"edts" => edts = Some(Edts::parse(c)?),
                b"mdia" => mdia = Some(Mdia::parse(c)?),
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        Ok(Trak {
            tkhd: required(r, tkhd, b"tkhd")?,
            edts,
            mdia: required(r, mdia, b"mdia")?,
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
