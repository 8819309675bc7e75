//! Movie extends boxes: `mvex`, `mehd`, `trex` (ISO/IEC 14496-12 8.8.1-8.8.3).

use super::{each_child, Mp4Box, RawBox};
use crate::reader::Reader;
use crate::write::{put_u32, put_u64};
use crate::{FourCc, Result};

/// `mvex`, movie extends (ISO/IEC 14496-12 8.8.1).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Mvex {
    /// Fragment duration.
    pub mehd: Option<Mehd>,
    /// Per-track defaults.
    pub trex: Vec<Trex>,
    /// Other children.
    pub other: Vec<RawBox>,
}

impl Mp4Box for Mvex {
    const FOURCC: FourCc = FourCc(*b"mvex");
    fn parse(r: &mut Reader<'_>) -> Result<Self> {
        let (mut mehd, mut trex, mut other) = (None, Vec::new(), Vec::new());
        each_child(r, &mut other, |fourcc, c| {
            match &fourcc.0 {
                b"mehd" => mehd = Some(Mehd::parse(c)?),
                b"trex" => trex.push(Trex::parse(c)?),
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        Ok(Mvex { mehd, trex, other })
    }
    fn encode_payload(&self, out: &mut Vec<u8>) {
        if let Some(b) = &self.mehd {
            b.encode(out);
        }
        for t in &self.trex {
            t.encode(out);
        }
        for b in &self.other {
            b.encode(out);
        }
    }
}

/// `mehd`, movie extends header (ISO/IEC 14496-12 8.8.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Mehd {
    /// Whole-movie duration in the movie timescale.
    pub fragment_duration: u64,
}

impl Mp4Box for Mehd {
    const FOURCC: FourCc = FourCc(*b"mehd");
    fn parse(r: &mut Reader<'_>) -> Result<Self> {
        let (version, _) = r.version_flags()?;
        let fragment_duration = match version {
            0 => u64::from(r.u32()?),
            1 => r.u64()?,
            v => return Err(r.unsupported_version(v)),
        };
        Ok(Mehd { fragment_duration })
    }
    fn encode_payload(&self, out: &mut Vec<u8>) {
        match u32::try_from(self.fragment_duration) {
            Ok(d) => {
                put_u32(out, 0);
                put_u32(out, d);
            }
            Err(_) => {
                put_u32(out, 1 << 24);
                put_u64(out, self.fragment_duration);
            }
        }
    }
}

/// `trex`, track extends defaults (ISO/IEC 14496-12 8.8.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Trex {
    /// Track ID.
    pub track_id: u32,
    /// Default `stsd` index.
    pub default_sample_description_index: u32,
    /// Default duration.
    pub default_sample_duration: u32,
    /// Default size.
    pub default_sample_size: u32,
    /// Default sample flags.
    pub default_sample_flags: u32,
}

impl Mp4Box for Trex {
    const FOURCC: FourCc = FourCc(*b"trex");
    fn parse(r: &mut Reader<'_>) -> Result<Self> {
        r.version_flags()?;
        Ok(Trex {
            track_id: r.u32()?,
            default_sample_description_index: r.u32()?,
            default_sample_duration: r.u32()?,
            default_sample_size: r.u32()?,
            default_sample_flags: r.u32()?,
        })
    }
    fn encode_payload(&self, out: &mut Vec<u8>) {
        put_u32(out, 0);
        put_u32(out, self.track_id);
        put_u32(out, self.default_sample_description_index);
        put_u32(out, self.default_sample_duration);
        put_u32(out, self.default_sample_size);
        put_u32(out, self.default_sample_flags);
    }
}
