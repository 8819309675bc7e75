//! Edit boxes: `edts`, `elst` (ISO/IEC 14496-12 8.6.5, 8.6.6).

use super::{each_child, encode_all, fits_u32, Mp4Box, RawBox};
use crate::reader::Reader;
use crate::write::{put_i16, put_i32, put_i64, put_u32, put_u64};
use crate::{Edit, FourCc, Result};

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
        let (mut elst, mut other) = (None, Vec::new());
        each_child(r, &mut other, |fourcc, c| {
            match &fourcc.0 {
                b"elst" => elst = Some(Elst::parse(c)?),
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        Ok(Edts { elst, other })
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
