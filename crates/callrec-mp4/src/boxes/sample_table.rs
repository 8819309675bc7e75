//! Sample table boxes: `stbl`, `stsd`, `stts`, `ctts`, `stss`, `sdtp`, `stsc`, `stsz`, `stz2`,
//! `stco`, `co64` (ISO/IEC 14496-12 8.5, 8.6, 8.7).

use super::{
    each_child, encode_all, fits_u32, put_v0_entries, read_entries, required,
    v0_composition_offset, Mp4Box, RawBox,
};
use crate::reader::Reader;
use crate::write::{put_i32, put_u16, put_u32, put_u64};
use crate::{FourCc, Result};

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
        let mut other = Vec::new();
        each_child(r, &mut other, |fourcc, c| {
            match &fourcc.0 {
                b"stsd" => stsd = Some(Stsd::parse(c)?),
                b"stts" => stts = Some(Stts::parse(c)?),
                b"stss" => s.stss = Some(Stss::parse(c)?),
                b"sdtp" => s.sdtp = Some(Sdtp::parse(c)?),
                b"ctts" => s.ctts = Some(Ctts::parse(c)?),
                b"stsc" => stsc = Some(Stsc::parse(c)?),
                b"stsz" => s.stsz = Some(Stsz::parse(c)?),
                b"stz2" => s.stz2 = Some(Stz2::parse(c)?),
                b"stco" => s.stco = Some(Stco::parse(c)?),
                b"co64" => s.co64 = Some(Co64::parse(c)?),
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        s.other = other;
        s.stsd = required(r, stsd, b"stsd")?;
        s.stts = required(r, stts, b"stts")?;
        s.stsc = required(r, stsc, b"stsc")?;
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
        let entries = read_entries(r, 8, |r| {
            let start = r.rest();
            let (h, _) = r.next_box()?.ok_or_else(|| r.truncated(8))?;
            // h.size <= start.len() was checked by next_box.
            Ok(start.get(..h.size as usize).unwrap_or(start).to_vec())
        })?;
        Ok(Stsd { entries })
    }
    fn encode_payload(&self, out: &mut Vec<u8>) {
        put_v0_entries(out, &self.entries, |out, e| out.extend_from_slice(e));
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
        let entries = read_entries(r, 8, |r| {
            Ok(SttsEntry {
                sample_count: r.u32()?,
                sample_delta: r.u32()?,
            })
        })?;
        Ok(Stts { entries })
    }
    fn encode_payload(&self, out: &mut Vec<u8>) {
        put_v0_entries(out, &self.entries, |out, e| {
            put_u32(out, e.sample_count);
            put_u32(out, e.sample_delta);
        });
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
        let entries = read_entries(r, 8, |r| {
            let sample_count = r.u32()?;
            let sample_offset = if version == 0 {
                v0_composition_offset(r)?
            } else {
                r.i32()?
            };
            Ok(CttsEntry {
                sample_count,
                sample_offset,
            })
        })?;
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

/// `stss`, sync sample table (ISO/IEC 14496-12 8.6.2): 1-based sample numbers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Stss {
    /// Sync sample numbers, 1-based, increasing.
    pub entries: Vec<u32>,
}

fn parse_u32_table(r: &mut Reader<'_>) -> Result<Vec<u32>> {
    r.version_flags()?;
    read_entries(r, 4, |r| r.u32())
}

fn put_u32_table(out: &mut Vec<u8>, v: &[u32]) {
    put_v0_entries(out, v, |out, x| put_u32(out, *x));
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
        let entries = read_entries(r, 12, |r| {
            Ok(StscEntry {
                first_chunk: r.u32()?,
                samples_per_chunk: r.u32()?,
                sample_description_index: r.u32()?,
            })
        })?;
        Ok(Stsc { entries })
    }
    fn encode_payload(&self, out: &mut Vec<u8>) {
        put_v0_entries(out, &self.entries, |out, e| {
            put_u32(out, e.first_chunk);
            put_u32(out, e.samples_per_chunk);
            put_u32(out, e.sample_description_index);
        });
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
        let entries = read_entries(r, 8, |r| r.u64())?;
        Ok(Co64 { entries })
    }
    fn encode_payload(&self, out: &mut Vec<u8>) {
        put_v0_entries(out, &self.entries, |out, x| put_u64(out, *x));
    }
}

/// The offsets of sample runs (what ISO/IEC 14496-12 calls chunks: samples contiguous in the
/// file, one `stco`/`co64` entry each) in whichever box fits: `stco` when every offset fits in
/// 32 bits, else `co64`.
pub fn run_offsets(offsets: &[u64]) -> (Option<Stco>, Option<Co64>) {
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
