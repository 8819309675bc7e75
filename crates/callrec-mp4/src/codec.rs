//! Sample entry decoding: `avc1`/`avc3` + `avcC` (SPS parsed for size, profile, level) and
//! `mp4a` + `esds` (AudioSpecificConfig).

use crate::reader::Reader;
use crate::{AacConfig, AvcConfig, Codec, Error, FourCc, Result, SampleEntry};

/// Decodes one `stsd` entry (whole box bytes) found at `path` and absolute `offset`.
pub fn parse_sample_entry(raw: &[u8], base: u64, path: &str) -> Result<SampleEntry> {
    let mut outer = Reader::with_path(raw, base, path);
    let (h, mut r) = outer.next_box()?.ok_or_else(|| outer.truncated(8))?;
    let codec = match &h.fourcc.0 {
        b"avc1" | b"avc3" => Codec::Avc(parse_avc_entry(&mut r)?),
        b"mp4a" => Codec::Aac(parse_mp4a_entry(&mut r)?),
        _ => Codec::Unknown(h.fourcc),
    };
    Ok(SampleEntry {
        fourcc: h.fourcc,
        raw: raw.to_vec(),
        codec,
    })
}

fn parse_avc_entry(r: &mut Reader<'_>) -> Result<AvcConfig> {
    r.skip(6 + 2 + 16)?;
    let entry_width = r.u16()?;
    let entry_height = r.u16()?;
    r.skip(4 + 4 + 4 + 2 + 32 + 2 + 2)?;
    while let Some((h, c)) = r.next_box()? {
        if h.fourcc.0 == *b"avcC" {
            let avcc = c.rest();
            let sps = first_sps(&c)?;
            let info = parse_sps(sps).map_err(|reason| c.invalid(reason))?;
            return Ok(AvcConfig {
                profile: info.profile,
                level: info.level,
                width: info.width,
                height: info.height,
                entry_width,
                entry_height,
                avcc: avcc.to_vec(),
            });
        }
    }
    Err(Error::MissingBox {
        path: r.path().to_string(),
        fourcc: FourCc(*b"avcC"),
    })
}

fn first_sps<'a>(c: &Reader<'a>) -> Result<&'a [u8]> {
    let mut r = c.clone();
    r.skip(5)?;
    let n = r.u8()? & 0x1f;
    if n == 0 {
        return Err(r.invalid("avcC has no sps"));
    }
    let len = r.u16()?;
    r.bytes(usize::from(len))
}

/// What the SPS tells: profile, level and the cropped picture size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpsInfo {
    /// `profile_idc`.
    pub profile: u8,
    /// `level_idc`.
    pub level: u8,
    /// Width after cropping.
    pub width: u32,
    /// Height after cropping.
    pub height: u32,
}

struct Bits {
    data: Vec<u8>,
    pos: usize,
}

impl Bits {
    fn bit(&mut self) -> Result<u32, &'static str> {
        let byte = self.data.get(self.pos / 8).ok_or("sps truncated")?;
        let b = (byte >> (7 - (self.pos % 8))) & 1;
        self.pos += 1;
        Ok(u32::from(b))
    }
    fn bits(&mut self, n: u32) -> Result<u32, &'static str> {
        let mut v = 0u32;
        for _ in 0..n {
            v = (v << 1) | self.bit()?;
        }
        Ok(v)
    }
    fn ue(&mut self) -> Result<u32, &'static str> {
        let mut zeros = 0;
        while self.bit()? == 0 {
            zeros += 1;
            if zeros > 31 {
                return Err("sps exp-golomb code too long");
            }
        }
        let rest = self.bits(zeros)?;
        Ok(((1u64 << zeros) - 1 + u64::from(rest)).min(u64::from(u32::MAX)) as u32)
    }
    fn se(&mut self) -> Result<i32, &'static str> {
        let k = i64::from(self.ue()?);
        let v = if k % 2 == 1 { (k + 1) / 2 } else { -(k / 2) };
        Ok(v as i32)
    }
}

/// Parses an SPS NAL unit (header byte included; emulation prevention bytes present).
pub fn parse_sps(nal: &[u8]) -> Result<SpsInfo, &'static str> {
    let mut r = Bits {
        data: rbsp(nal),
        pos: 0,
    };
    let profile = r.bits(8)? as u8;
    r.bits(8)?;
    let level = r.bits(8)? as u8;
    r.ue()?;
    let chroma = chroma_format(&mut r, profile)?;
    r.ue()?;
    skip_pic_order_cnt(&mut r)?;
    r.ue()?;
    r.bit()?;
    let w_mbs = u64::from(r.ue()?) + 1;
    let h_units = u64::from(r.ue()?) + 1;
    let frame_mbs_only = u64::from(r.bit()?);
    if frame_mbs_only == 0 {
        r.bit()?;
    }
    r.bit()?;
    let full = Picture {
        width: w_mbs * 16,
        height: (2 - frame_mbs_only) * h_units * 16,
    };
    let picture = if r.bit()? == 1 {
        cropped(&mut r, full, chroma, frame_mbs_only)?
    } else {
        full
    };
    Ok(SpsInfo {
        profile,
        level,
        width: u32::try_from(picture.width).map_err(|_| "sps width too large")?,
        height: u32::try_from(picture.height).map_err(|_| "sps height too large")?,
    })
}

/// The RBSP of a NAL unit: its header byte dropped, its emulation prevention bytes removed.
fn rbsp(nal: &[u8]) -> Vec<u8> {
    let mut rbsp = Vec::with_capacity(nal.len());
    let mut zeros = 0;
    for &b in nal.iter().skip(1) {
        if zeros >= 2 && b == 3 {
            zeros = 0;
            continue;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        rbsp.push(b);
    }
    rbsp
}

/// The SPS's chroma format.
#[derive(Clone, Copy)]
struct ChromaFormat {
    /// `chroma_format_idc` (1, 4:2:0, unless a high profile says otherwise).
    idc: u32,
    /// `separate_colour_plane_flag`.
    separate_colour_plane: bool,
}

/// Reads the high profiles' chroma format, bit depths and scaling lists; other profiles are
/// 4:2:0 and carry none of them.
fn chroma_format(r: &mut Bits, profile: u8) -> Result<ChromaFormat, &'static str> {
    let mut chroma = ChromaFormat {
        idc: 1,
        separate_colour_plane: false,
    };
    if !matches!(
        profile,
        100 | 110 | 122 | 244 | 44 | 83 | 86 | 118 | 128 | 138 | 139 | 134 | 135
    ) {
        return Ok(chroma);
    }
    chroma.idc = r.ue()?;
    if chroma.idc > 3 {
        return Err("sps chroma_format_idc out of range");
    }
    if chroma.idc == 3 {
        chroma.separate_colour_plane = r.bit()? == 1;
    }
    r.ue()?;
    r.ue()?;
    r.bit()?;
    if r.bit()? == 1 {
        let lists = if chroma.idc == 3 { 12 } else { 8 };
        for i in 0..lists {
            if r.bit()? == 1 {
                skip_scaling_list(r, if i < 6 { 16 } else { 64 })?;
            }
        }
    }
    Ok(chroma)
}

/// Reads past one scaling list of `size` entries.
fn skip_scaling_list(r: &mut Bits, size: usize) -> Result<(), &'static str> {
    let (mut last, mut next) = (8i32, 8i32);
    for _ in 0..size {
        if next != 0 {
            let delta = r.se()?;
            next = (last + delta).rem_euclid(256);
        }
        if next != 0 {
            last = next;
        }
    }
    Ok(())
}

/// Reads past the picture order count fields (`pic_order_cnt_type` and what it brings).
fn skip_pic_order_cnt(r: &mut Bits) -> Result<(), &'static str> {
    let poc_type = r.ue()?;
    if poc_type == 0 {
        r.ue()?;
    } else if poc_type == 1 {
        r.bit()?;
        r.se()?;
        r.se()?;
        let n = r.ue()?;
        if n > 255 {
            return Err("sps num_ref_frames_in_pic_order_cnt_cycle out of range");
        }
        for _ in 0..n {
            r.se()?;
        }
    }
    Ok(())
}

/// A picture size in luma samples.
#[derive(Clone, Copy)]
struct Picture {
    width: u64,
    height: u64,
}

/// `full` less the SPS's frame cropping offsets, in the crop units `chroma` and
/// `frame_mbs_only` give.
fn cropped(
    r: &mut Bits,
    full: Picture,
    chroma: ChromaFormat,
    frame_mbs_only: u64,
) -> Result<Picture, &'static str> {
    let (left, right, top, bottom) = (
        u64::from(r.ue()?),
        u64::from(r.ue()?),
        u64::from(r.ue()?),
        u64::from(r.ue()?),
    );
    let chroma_array_type = if chroma.separate_colour_plane {
        0
    } else {
        chroma.idc
    };
    let (sub_w, sub_h) = match chroma_array_type {
        1 => (2, 2),
        2 => (2, 1),
        _ => (1, 1),
    };
    let crop_x = sub_w;
    let crop_y = sub_h * (2 - frame_mbs_only);
    let dx = (left + right)
        .checked_mul(crop_x)
        .ok_or("sps crop overflow")?;
    let dy = (top + bottom)
        .checked_mul(crop_y)
        .ok_or("sps crop overflow")?;
    Ok(Picture {
        width: full
            .width
            .checked_sub(dx)
            .ok_or("sps crop larger than picture")?,
        height: full
            .height
            .checked_sub(dy)
            .ok_or("sps crop larger than picture")?,
    })
}

fn parse_mp4a_entry(r: &mut Reader<'_>) -> Result<AacConfig> {
    r.skip(6 + 2)?;
    let version = r.u16()?;
    r.skip(6)?;
    let entry_channels = r.u16()?;
    r.skip(6)?;
    let entry_sample_rate = r.u32()? >> 16;
    match version {
        0 => {}
        1 => r.skip(16)?,
        2 => r.skip(36)?,
        v => return Err(r.unsupported_version(v as u8)),
    }
    while let Some((h, mut c)) = r.next_box()? {
        if h.fourcc.0 == *b"esds" {
            let asc = parse_esds(&mut c)?;
            let (object_type, sample_rate, channels) =
                parse_asc(asc).map_err(|reason| c.invalid(reason))?;
            return Ok(AacConfig {
                object_type,
                sample_rate,
                channels,
                entry_sample_rate,
                entry_channels,
                asc: asc.to_vec(),
            });
        }
    }
    Err(Error::MissingBox {
        path: r.path().to_string(),
        fourcc: FourCc(*b"esds"),
    })
}

fn descriptor<'a>(r: &mut Reader<'a>) -> Result<(u8, Reader<'a>)> {
    let tag = r.u8()?;
    let mut len = 0usize;
    for _ in 0..4 {
        let b = r.u8()?;
        len = (len << 7) | usize::from(b & 0x7f);
        if b & 0x80 == 0 {
            break;
        }
    }
    let base = r.offset();
    let body = r.bytes(len)?;
    Ok((tag, Reader::with_path(body, base, r.path())))
}

/// Finds the AudioSpecificConfig inside an `esds` payload.
fn parse_esds<'a>(r: &mut Reader<'a>) -> Result<&'a [u8]> {
    r.version_flags()?;
    let (tag, mut es) = descriptor(r)?;
    if tag != 3 {
        return Err(r.invalid("esds does not start with an es descriptor"));
    }
    es.skip(2)?;
    let flags = es.u8()?;
    if flags & 0x80 != 0 {
        es.skip(2)?;
    }
    if flags & 0x40 != 0 {
        let n = es.u8()?;
        es.skip(usize::from(n))?;
    }
    if flags & 0x20 != 0 {
        es.skip(2)?;
    }
    while !es.is_empty() {
        let (tag, mut dc) = descriptor(&mut es)?;
        if tag != 4 {
            continue;
        }
        dc.skip(13)?;
        while !dc.is_empty() {
            let (tag, dsi) = descriptor(&mut dc)?;
            if tag == 5 {
                return Ok(dsi.rest());
            }
        }
    }
    Err(r.invalid("esds has no decoder specific info"))
}

const AAC_RATES: [u32; 13] = [
    96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350,
];

/// Parses an AudioSpecificConfig: (object type, sample rate, channel configuration).
pub fn parse_asc(asc: &[u8]) -> Result<(u8, u32, u8), &'static str> {
    let mut r = Bits {
        data: asc.to_vec(),
        pos: 0,
    };
    let mut object_type = r.bits(5)?;
    if object_type == 31 {
        object_type = 32 + r.bits(6)?;
    }
    let idx = r.bits(4)?;
    let rate = if idx == 15 {
        r.bits(24)?
    } else {
        *AAC_RATES
            .get(idx as usize)
            .ok_or("audio specific config has a reserved frequency index")?
    };
    let channels = r.bits(4)? as u8;
    Ok((object_type as u8, rate, channels))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Packs `(value, bit count)` fields MSB first.
    fn pack(fields: &[(u32, u32)]) -> Vec<u8> {
        let mut bits = Vec::new();
        for &(v, n) in fields {
            for i in (0..n).rev() {
                bits.push((v >> i) & 1);
            }
        }
        bits.chunks(8)
            .map(|c| {
                c.iter()
                    .enumerate()
                    .fold(0u8, |acc, (i, b)| acc | ((*b as u8) << (7 - i)))
            })
            .collect()
    }

    #[test]
    fn asc_common_configs() {
        // ISO/IEC 14496-3 1.6.2.1: LC (2), index 4 (44100), 2 channels is the well-known 12 10.
        assert_eq!(parse_asc(&[0x12, 0x10]), Ok((2, 44100, 2)));
        assert_eq!(parse_asc(&[0x11, 0x90]), Ok((2, 48000, 2)));
        assert_eq!(parse_asc(&[0x14, 0x08]), Ok((2, 16000, 1)));
    }

    #[test]
    fn asc_escaped_object_type_and_explicit_frequency() {
        let asc = pack(&[(31, 5), (42 - 32, 6), (15, 4), (22_050, 24), (1, 4)]);
        assert_eq!(parse_asc(&asc), Ok((42, 22_050, 1)));
    }

    #[test]
    fn asc_reserved_index_and_truncation_are_errors() {
        assert!(parse_asc(&pack(&[(2, 5), (13, 4), (1, 4)])).is_err());
        assert!(parse_asc(&[0x12]).is_err());
    }

    /// ue(v) bits of `v`.
    fn ue(v: u32) -> (u32, u32) {
        let x = v + 1;
        let len = 32 - x.leading_zeros();
        (x, 2 * len - 1)
    }

    #[test]
    fn sps_baseline_with_cropping_gives_1080() {
        // profile 66, level 40, 120x68 MBs, crop bottom 4 (x2 for 4:2:0) -> 1920x1080.
        let mut f = vec![
            (0x67, 8),
            (66, 8),
            (0, 8),
            (40, 8),
            ue(0),
            ue(0),
            ue(0),
            ue(2),
        ];
        f.extend([ue(1), (0, 1), ue(119), ue(67), (1, 1), (1, 1), (1, 1)]);
        f.extend([ue(0), ue(0), ue(0), ue(4), (1, 1)]);
        let info = parse_sps(&pack(&f)).unwrap();
        assert_eq!(
            info,
            SpsInfo {
                profile: 66,
                level: 40,
                width: 1920,
                height: 1080
            }
        );
    }

    #[test]
    fn sps_high_profile_with_scaling_lists_and_fields() {
        // profile 100: chroma 1, bit depths 0, scaling matrix present with list 0 given
        // (16 deltas of 0 then nothing), interlaced (frame_mbs_only 0): height doubles and the
        // crop unit is 2 * 2 = 4 rows.
        let mut f = vec![(0x67, 8), (100, 8), (0, 8), (31, 8), ue(0)];
        f.extend([ue(1), ue(0), ue(0), (0, 1), (1, 1)]);
        f.push((1, 1));
        f.extend(std::iter::repeat_n((1, 1), 16)); // se(0) is "1"
        f.extend(std::iter::repeat_n((0, 1), 7));
        f.extend([
            ue(0),
            ue(0),
            ue(0),
            ue(1),
            (0, 1),
            ue(79),
            ue(22),
            (0, 1),
            (0, 1),
            (1, 1),
        ]);
        f.extend([(1, 1), ue(0), ue(0), ue(0), ue(2)]);
        let info = parse_sps(&pack(&f)).unwrap();
        assert_eq!((info.width, info.height), (1280, 2 * 23 * 16 - 8));
    }

    #[test]
    fn sps_emulation_prevention_bytes_are_removed() {
        // constraint flags 0 and level 0 put 00 00 in the RBSP; an escaped copy with 03 after
        // them must parse to the same result.
        let mut f = vec![
            (0x67, 8),
            (66, 8),
            (0, 8),
            (0, 8),
            ue(0),
            ue(0),
            ue(0),
            ue(2),
        ];
        f.extend([
            ue(1),
            (0, 1),
            ue(39),
            ue(29),
            (1, 1),
            (1, 1),
            (0, 1),
            (1, 1),
        ]);
        let plain = pack(&f);
        assert_eq!(&plain[2..4], &[0, 0]);
        let mut escaped = plain.clone();
        escaped.insert(4, 3);
        let want = SpsInfo {
            profile: 66,
            level: 0,
            width: 640,
            height: 480,
        };
        assert_eq!(parse_sps(&plain), Ok(want));
        assert_eq!(parse_sps(&escaped), Ok(want));
    }
}
