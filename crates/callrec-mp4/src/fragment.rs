//! Fragment boxes: `moof`/`mfhd`/`traf`/`tfhd`/`tfdt`/`trun` (ISO/IEC 14496-12 8.8). The
//! `moov`-side `mvex`/`mehd`/`trex` live in [`crate::boxes`] and are re-exported here.

use crate::boxes::{each_child, required, v0_composition_offset, Mp4Box, RawBox};
use crate::reader::Reader;
use crate::write::{put_i32, put_u32, put_u64};
use crate::{FourCc, Result};

pub use crate::boxes::{Mehd, Mvex, Trex};

/// `moof`, movie fragment (ISO/IEC 14496-12 8.8.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moof {
    /// Fragment header.
    pub mfhd: Mfhd,
    /// Track fragments.
    pub traf: Vec<Traf>,
    /// Other children.
    pub other: Vec<RawBox>,
}

impl Mp4Box for Moof {
    const FOURCC: FourCc = FourCc(*b"moof");
    fn parse(r: &mut Reader<'_>) -> Result<Self> {
        let (mut mfhd, mut traf, mut other) = (None, Vec::new(), Vec::new());
        each_child(r, &mut other, |fourcc, c| {
            match &fourcc.0 {
                b"mfhd" => mfhd = Some(Mfhd::parse(c)?),
                b"traf" => {
                    c.push_path(&format!("[{}]", traf.len()));
                    traf.push(Traf::parse(c)?);
                }
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        Ok(Moof {
            mfhd: required(r, mfhd, b"mfhd")?,
            traf,
            other,
        })
    }
    fn encode_payload(&self, out: &mut Vec<u8>) {
        self.mfhd.encode(out);
        for t in &self.traf {
            t.encode(out);
        }
        for b in &self.other {
            b.encode(out);
        }
    }
}

/// `mfhd`, movie fragment header (ISO/IEC 14496-12 8.8.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Mfhd {
    /// Sequence number.
    pub sequence_number: u32,
}

impl Mp4Box for Mfhd {
    const FOURCC: FourCc = FourCc(*b"mfhd");
    fn parse(r: &mut Reader<'_>) -> Result<Self> {
        r.version_flags()?;
        Ok(Mfhd {
            sequence_number: r.u32()?,
        })
    }
    fn encode_payload(&self, out: &mut Vec<u8>) {
        put_u32(out, 0);
        put_u32(out, self.sequence_number);
    }
}

/// `traf`, track fragment (ISO/IEC 14496-12 8.8.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Traf {
    /// Header.
    pub tfhd: Tfhd,
    /// Base media decode time.
    pub tfdt: Option<Tfdt>,
    /// Track runs.
    pub trun: Vec<Trun>,
    /// Other children.
    pub other: Vec<RawBox>,
}

impl Mp4Box for Traf {
    const FOURCC: FourCc = FourCc(*b"traf");
    fn parse(r: &mut Reader<'_>) -> Result<Self> {
        let (mut tfhd, mut tfdt, mut trun, mut other) = (None, None, Vec::new(), Vec::new());
        each_child(r, &mut other, |fourcc, c| {
            match &fourcc.0 {
                b"tfhd" => tfhd = Some(Tfhd::parse(c)?),
                b"tfdt" => tfdt = Some(Tfdt::parse(c)?),
                b"trun" => {
                    c.push_path(&format!("[{}]", trun.len()));
                    trun.push(Trun::parse(c)?);
                }
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        Ok(Traf {
            tfhd: required(r, tfhd, b"tfhd")?,
            tfdt,
            trun,
            other,
        })
    }
    fn encode_payload(&self, out: &mut Vec<u8>) {
        self.tfhd.encode(out);
        if let Some(b) = &self.tfdt {
            b.encode(out);
        }
        for t in &self.trun {
            t.encode(out);
        }
        for b in &self.other {
            b.encode(out);
        }
    }
}

/// `tfhd`, track fragment header (ISO/IEC 14496-12 8.8.7). Optional fields set their flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tfhd {
    /// Track ID.
    pub track_id: u32,
    /// Explicit base data offset (flag 0x1).
    pub base_data_offset: Option<u64>,
    /// `stsd` index (flag 0x2).
    pub sample_description_index: Option<u32>,
    /// Default duration (flag 0x8).
    pub default_sample_duration: Option<u32>,
    /// Default size (flag 0x10).
    pub default_sample_size: Option<u32>,
    /// Default flags (flag 0x20).
    pub default_sample_flags: Option<u32>,
    /// duration-is-empty (flag 0x10000).
    pub duration_is_empty: bool,
    /// default-base-is-moof (flag 0x20000).
    pub default_base_is_moof: bool,
}

impl Mp4Box for Tfhd {
    const FOURCC: FourCc = FourCc(*b"tfhd");
    fn parse(r: &mut Reader<'_>) -> Result<Self> {
        let (_, flags) = r.version_flags()?;
        let track_id = r.u32()?;
        let base_data_offset = if flags & 0x1 != 0 {
            Some(r.u64()?)
        } else {
            None
        };
        let sample_description_index = if flags & 0x2 != 0 {
            Some(r.u32()?)
        } else {
            None
        };
        let default_sample_duration = if flags & 0x8 != 0 {
            Some(r.u32()?)
        } else {
            None
        };
        let default_sample_size = if flags & 0x10 != 0 {
            Some(r.u32()?)
        } else {
            None
        };
        let default_sample_flags = if flags & 0x20 != 0 {
            Some(r.u32()?)
        } else {
            None
        };
        Ok(Tfhd {
            track_id,
            base_data_offset,
            sample_description_index,
            default_sample_duration,
            default_sample_size,
            default_sample_flags,
            duration_is_empty: flags & 0x1_0000 != 0,
            default_base_is_moof: flags & 0x2_0000 != 0,
        })
    }
    fn encode_payload(&self, out: &mut Vec<u8>) {
        let mut flags = 0u32;
        flags |= u32::from(self.base_data_offset.is_some());
        flags |= u32::from(self.sample_description_index.is_some()) << 1;
        flags |= u32::from(self.default_sample_duration.is_some()) << 3;
        flags |= u32::from(self.default_sample_size.is_some()) << 4;
        flags |= u32::from(self.default_sample_flags.is_some()) << 5;
        flags |= u32::from(self.duration_is_empty) << 16;
        flags |= u32::from(self.default_base_is_moof) << 17;
        put_u32(out, flags);
        put_u32(out, self.track_id);
        if let Some(v) = self.base_data_offset {
            put_u64(out, v);
        }
        for v in [
            self.sample_description_index,
            self.default_sample_duration,
            self.default_sample_size,
            self.default_sample_flags,
        ]
        .into_iter()
        .flatten()
        {
            put_u32(out, v);
        }
    }
}

/// `tfdt`, track fragment decode time (ISO/IEC 14496-12 8.8.12).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tfdt {
    /// Decode time of the fragment's first sample, in the track timescale.
    pub base_media_decode_time: u64,
}

impl Mp4Box for Tfdt {
    const FOURCC: FourCc = FourCc(*b"tfdt");
    fn parse(r: &mut Reader<'_>) -> Result<Self> {
        let (version, _) = r.version_flags()?;
        let base_media_decode_time = match version {
            0 => u64::from(r.u32()?),
            1 => r.u64()?,
            v => return Err(r.unsupported_version(v)),
        };
        Ok(Tfdt {
            base_media_decode_time,
        })
    }
    fn encode_payload(&self, out: &mut Vec<u8>) {
        match u32::try_from(self.base_media_decode_time) {
            Ok(d) => {
                put_u32(out, 0);
                put_u32(out, d);
            }
            Err(_) => {
                put_u32(out, 1 << 24);
                put_u64(out, self.base_media_decode_time);
            }
        }
    }
}

/// One `trun` sample; fields absent on the wire are `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TrunSample {
    /// Duration (flag 0x100).
    pub duration: Option<u32>,
    /// Size (flag 0x200).
    pub size: Option<u32>,
    /// Flags (flag 0x400).
    pub flags: Option<u32>,
    /// Composition offset (flag 0x800). Unsigned in version 0 (ISO/IEC 14496-12 8.8.8): a v0
    /// value above `i32::MAX` is refused ([`Error::Invalid`] naming the `trun`), not read as
    /// negative; signed in version 1.
    pub cts_offset: Option<i32>,
}

/// `trun`, track run (ISO/IEC 14496-12 8.8.8). Which per-sample fields are written follows the
/// first sample; v1 when a composition offset is negative.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Trun {
    /// Data offset from the base (flag 0x1).
    pub data_offset: Option<i32>,
    /// First sample flags (flag 0x4).
    pub first_sample_flags: Option<u32>,
    /// Sample count. Equals `samples.len()` unless no per-sample field is present, in which case
    /// `samples` is empty (every sample takes the defaults) and only this count is kept.
    pub sample_count: u32,
    /// The samples' per-sample fields.
    pub samples: Vec<TrunSample>,
}

/// `sample_is_non_sync_sample` in sample flags.
pub const SAMPLE_IS_NON_SYNC: u32 = 0x0001_0000;

impl Mp4Box for Trun {
    const FOURCC: FourCc = FourCc(*b"trun");
    fn parse(r: &mut Reader<'_>) -> Result<Self> {
        let (version, flags) = r.version_flags()?;
        let count = r.u32()?;
        let data_offset = if flags & 0x1 != 0 {
            Some(r.i32()?)
        } else {
            None
        };
        let first_sample_flags = if flags & 0x4 != 0 {
            Some(r.u32()?)
        } else {
            None
        };
        let per = [0x100u32, 0x200, 0x400, 0x800]
            .iter()
            .filter(|b| flags & **b != 0)
            .count();
        // With no per-sample field the count is not backed by bytes: keep only the number.
        let n = if per == 0 {
            0
        } else {
            r.check_count(u64::from(count), 4 * per as u64)?
        };
        let mut samples = Vec::with_capacity(n);
        for _ in 0..n {
            let duration = if flags & 0x100 != 0 {
                Some(r.u32()?)
            } else {
                None
            };
            let size = if flags & 0x200 != 0 {
                Some(r.u32()?)
            } else {
                None
            };
            let sflags = if flags & 0x400 != 0 {
                Some(r.u32()?)
            } else {
                None
            };
            let cts_offset = if flags & 0x800 != 0 {
                Some(if version == 0 {
                    v0_composition_offset(r)?
                } else {
                    r.i32()?
                })
            } else {
                None
            };
            samples.push(TrunSample {
                duration,
                size,
                flags: sflags,
                cts_offset,
            });
        }
        Ok(Trun {
            data_offset,
            first_sample_flags,
            sample_count: count,
            samples,
        })
    }
    fn encode_payload(&self, out: &mut Vec<u8>) {
        let first = self.samples.first().copied().unwrap_or_default();
        let mut flags = u32::from(self.data_offset.is_some());
        flags |= u32::from(self.first_sample_flags.is_some()) << 2;
        flags |= u32::from(first.duration.is_some()) << 8;
        flags |= u32::from(first.size.is_some()) << 9;
        flags |= u32::from(first.flags.is_some()) << 10;
        flags |= u32::from(first.cts_offset.is_some()) << 11;
        let v1 = self
            .samples
            .iter()
            .any(|s| s.cts_offset.is_some_and(|c| c < 0));
        put_u32(out, (if v1 { 1 << 24 } else { 0 }) | flags);
        let count = if self.samples.is_empty() {
            self.sample_count
        } else {
            self.samples.len() as u32
        };
        put_u32(out, count);
        if let Some(d) = self.data_offset {
            put_i32(out, d);
        }
        if let Some(f) = self.first_sample_flags {
            put_u32(out, f);
        }
        for s in &self.samples {
            if flags & 0x100 != 0 {
                put_u32(out, s.duration.unwrap_or(0));
            }
            if flags & 0x200 != 0 {
                put_u32(out, s.size.unwrap_or(0));
            }
            if flags & 0x400 != 0 {
                put_u32(out, s.flags.unwrap_or(0));
            }
            if flags & 0x800 != 0 {
                put_i32(out, s.cts_offset.unwrap_or(0));
            }
        }
    }
}
