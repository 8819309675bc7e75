//! The output `moov`: merged tracks encoded as sample tables, and which sample entries share one
//! description.

use callrec_mp4::boxes::{
    run_offsets, Ctts, CttsEntry, Dinf, Edts, Elst, Ftyp, Hdlr, Mdhd, Mdia, Minf, Moov, Mp4Box,
    Mvhd, RawBox, Smhd, Stbl, Stsc, StscEntry, Stsd, Stss, Stsz, Stts, SttsEntry, Tkhd, Trak, Vmhd,
    IDENTITY_MATRIX,
};
use callrec_mp4::{Codec, Edit, FourCc, SampleEntry, TrackKind};

use callrec_mp4::write::mdat_header_len;

use super::{overflow, TrackPlan};
use crate::Result;

/// One sample of the merged output track.
#[derive(Debug, Clone, Copy)]
pub(super) struct OutSample {
    pub(super) size: u32,
    pub(super) duration: u32,
    pub(super) cts: i32,
    pub(super) sync: bool,
    pub(super) desc: u32,
    pub(super) dst: u64,
    pub(super) chunk: usize,
}

pub(super) struct OutTrack {
    pub(super) id: u32,
    pub(super) kind: TrackKind,
    pub(super) timescale: u32,
    pub(super) language: u16,
    pub(super) volume: i16,
    pub(super) width: u32,
    pub(super) height: u32,
    pub(super) entries: Vec<Vec<u8>>,
    pub(super) samples: Vec<OutSample>,
    pub(super) media_duration: u64,
    pub(super) edits: Vec<Edit>,
    pub(super) duration: u64,
}

/// What makes two sample entries the same description: their bytes without `btrt` children
/// (bit rate hints, which differ between chunks encoded alike) and, for AAC, with the `esds`
/// reduced to its AudioSpecificConfig (its bit rate fields differ the same way). Entries that
/// differ only there share the first one.
pub(super) fn share_key(e: &SampleEntry, kind: TrackKind) -> Vec<u8> {
    let raw = &e.raw;
    // Children start after the fixed fields: 8 (box) + 78 (VisualSampleEntry), or 8 + 28
    // (AudioSampleEntry v0; QuickTime v1 adds 16, v2 adds 36).
    let start = match kind {
        TrackKind::Video => 86,
        TrackKind::Audio => match raw.get(16..18) {
            Some([0, 0]) => 36,
            Some([0, 1]) => 52,
            Some([0, 2]) => 72,
            _ => return raw.to_vec(),
        },
        TrackKind::Other(_) => return raw.to_vec(),
    };
    let Some(mut rest) = raw.get(start..) else {
        return raw.to_vec();
    };
    let mut key = raw[..start].to_vec();
    while !rest.is_empty() {
        let size = match rest.get(..4) {
            Some(b) => u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize,
            None => return raw.to_vec(),
        };
        let Some(child) = rest.get(..size).filter(|_| size >= 8) else {
            return raw.to_vec();
        };
        match (&child[4..8], &e.codec) {
            (b"btrt", _) => {}
            (b"esds", Codec::Aac(a)) => {
                key.extend_from_slice(b"esds/asc");
                key.push(a.object_type);
                key.extend_from_slice(&a.asc);
            }
            _ => key.extend_from_slice(child),
        }
        rest = &rest[size..];
    }
    key
}

/// Encodes the `moov` with chunk offsets based at `base` (absolute offset of the mdat payload).
pub(super) fn build_moov(
    tracks: &[OutTrack],
    base: u64,
    movie_ts: u64,
    duration: u64,
    next_track_id: u32,
) -> (Vec<u8>, Vec<TrackPlan>) {
    let mut traks = Vec::with_capacity(tracks.len());
    let mut plans = Vec::with_capacity(tracks.len());
    for t in tracks {
        let (stbl, plan) = sample_table(t, base);
        plans.push(plan);
        traks.push(trak(t, stbl));
    }
    let moov = Moov {
        mvhd: Mvhd {
            timescale: movie_ts as u32,
            duration,
            next_track_id,
            ..Mvhd::default()
        },
        traks,
        mvex: None,
        other: Vec::new(),
    };
    (moov.to_bytes(), plans)
}

/// The `stbl` of `t` with chunk offsets based at `base`, and what it holds.
fn sample_table(t: &OutTrack, base: u64) -> (Stbl, TrackPlan) {
    let (stts, ctts, stss, stsz) = time_tables(&t.samples);
    let (offsets, stsc) = sample_runs(&t.samples, base);
    let (stco, co64) = run_offsets(&offsets);
    let plan = TrackPlan {
        id: t.id,
        kind: t.kind,
        timescale: t.timescale,
        samples: t.samples.len(),
        descriptions: t.entries.len(),
        media_duration: t.media_duration,
        duration: t.duration,
        edits: t.edits.clone(),
        runs: offsets.len(),
        co64: co64.is_some(),
    };
    let stbl = Stbl {
        stsd: Stsd {
            entries: t.entries.clone(),
        },
        stts,
        stss,
        sdtp: None,
        ctts,
        stsc: Stsc { entries: stsc },
        stsz: Some(stsz),
        stz2: None,
        stco,
        co64,
        other: Vec::new(),
    };
    (stbl, plan)
}

/// The per-sample tables of `samples`: `stts`, `ctts` (when an offset is not 0), `stss` (when
/// a sample is not sync) and `stsz`.
fn time_tables(samples: &[OutSample]) -> (Stts, Option<Ctts>, Option<Stss>, Stsz) {
    // stts / ctts / stss / stsz
    let mut stts: Vec<SttsEntry> = Vec::new();
    let mut ctts: Vec<CttsEntry> = Vec::new();
    let mut stss = Vec::new();
    let mut sizes = Vec::with_capacity(samples.len());
    for (k, s) in samples.iter().enumerate() {
        match stts.last_mut() {
            Some(e) if e.sample_delta == s.duration => e.sample_count += 1,
            _ => stts.push(SttsEntry {
                sample_count: 1,
                sample_delta: s.duration,
            }),
        }
        match ctts.last_mut() {
            Some(e) if e.sample_offset == s.cts => e.sample_count += 1,
            _ => ctts.push(CttsEntry {
                sample_count: 1,
                sample_offset: s.cts,
            }),
        }
        if s.sync {
            stss.push(k as u32 + 1);
        }
        sizes.push(s.size);
    }
    let has_ctts = samples.iter().any(|s| s.cts != 0);
    let all_sync = stss.len() == samples.len();
    (
        Stts { entries: stts },
        has_ctts.then_some(Ctts { entries: ctts }),
        (!all_sync).then_some(Stss { entries: stss }),
        Stsz::from_sizes(sizes),
    )
}

/// The sample runs of `samples` (their offsets based at `base`) and their `stsc` entries.
fn sample_runs(samples: &[OutSample], base: u64) -> (Vec<u64>, Vec<StscEntry>) {
    // Runs: samples contiguous in the output, one description, one recording chunk.
    let mut offsets: Vec<u64> = Vec::new();
    let mut stsc: Vec<StscEntry> = Vec::new();
    let mut run: Option<(u64, u32, u32, usize)> = None; // (end, count, desc, input chunk)
    let flush = |run: (u64, u32, u32, usize), stsc: &mut Vec<StscEntry>, n: u32| {
        let (_, count, desc, _) = run;
        match stsc.last() {
            Some(e) if e.samples_per_chunk == count && e.sample_description_index == desc => {}
            _ => stsc.push(StscEntry {
                first_chunk: n,
                samples_per_chunk: count,
                sample_description_index: desc,
            }),
        }
    };
    for s in samples {
        let abs = base + s.dst;
        match &mut run {
            Some((end, count, desc, ch)) if *end == abs && *desc == s.desc && *ch == s.chunk => {
                *end += u64::from(s.size);
                *count += 1;
            }
            _ => {
                if let Some(r) = run {
                    flush(r, &mut stsc, offsets.len() as u32);
                }
                offsets.push(abs);
                run = Some((abs + u64::from(s.size), 1, s.desc, s.chunk));
            }
        }
    }
    if let Some(r) = run {
        flush(r, &mut stsc, offsets.len() as u32);
    }
    (offsets, stsc)
}

/// The `trak` of `t` around its sample table.
fn trak(t: &OutTrack, stbl: Stbl) -> Trak {
    let (hdlr, vmhd, smhd, other) = match t.kind {
        TrackKind::Video => (
            Hdlr::new(FourCc(*b"vide"), "VideoHandler"),
            Some(Vmhd::default()),
            None,
            Vec::new(),
        ),
        TrackKind::Audio => (
            Hdlr::new(FourCc(*b"soun"), "SoundHandler"),
            None,
            Some(Smhd::default()),
            Vec::new(),
        ),
        TrackKind::Other(f) => (
            Hdlr::new(f, "Handler"),
            None,
            None,
            vec![RawBox {
                fourcc: FourCc(*b"nmhd"),
                payload: vec![0; 4],
            }],
        ),
    };
    Trak {
        tkhd: Tkhd {
            flags: 3,
            creation_time: 0,
            modification_time: 0,
            track_id: t.id,
            duration: t.duration,
            layer: 0,
            alternate_group: 0,
            volume: t.volume,
            matrix: IDENTITY_MATRIX,
            width: t.width,
            height: t.height,
        },
        edts: Some(Edts {
            elst: Some(Elst {
                entries: t.edits.clone(),
            }),
            other: Vec::new(),
        }),
        mdia: Mdia {
            mdhd: Mdhd {
                creation_time: 0,
                modification_time: 0,
                timescale: t.timescale,
                duration: t.media_duration,
                language: t.language,
            },
            hdlr,
            minf: Minf {
                vmhd,
                smhd,
                dinf: Some(Dinf::default()),
                stbl,
                other,
            },
            other: Vec::new(),
        },
        other: Vec::new(),
    }
}

/// The encoded header and where the payload starts.
pub(super) struct Header {
    /// `ftyp`, `moov`, `mdat` header.
    pub(super) bytes: Vec<u8>,
    /// Absolute offset of the payload's layout origin.
    pub(super) payload_start: u64,
    /// True when the `mdat` needs the 64-bit size form.
    pub(super) mdat_64: bool,
    /// The output tracks, as encoded.
    pub(super) tracks: Vec<TrackPlan>,
    /// Presented duration (the longest track) in the movie timescale.
    pub(super) duration: u64,
}

/// Encodes ftyp, moov (offsets depend on its own size: iterate) and the mdat header for a
/// payload of `payload_len` bytes whose origin needs `residue` modulo `align`.
pub(super) fn header(
    tracks: &[OutTrack],
    movie_ts: u64,
    next_track_id: u32,
    payload_len: u64,
    residue: u64,
    align: Option<u64>,
) -> Result<Header> {
    let ftyp = Ftyp {
        major_brand: FourCc(*b"isom"),
        minor_version: 512,
        compatible_brands: [b"isom", b"iso2", b"avc1", b"mp41"]
            .iter()
            .map(|b| FourCc(**b))
            .collect(),
    }
    .to_bytes();
    // The mdat payload starts with `lead` zero bytes that put the layout's origin on its
    // block residue (none when compact); its size form allows for the largest lead.
    let max_lead = crate::layout::max_lead(align);
    let mdat_hdr = mdat_header_len(payload_len.saturating_add(max_lead)) as u64;
    let origin = |moov_len: u64| {
        let data_start = ftyp.len() as u64 + moov_len + mdat_hdr;
        data_start + crate::layout::lead(data_start, residue, align)
    };
    let duration = tracks.iter().map(|t| t.duration).max().unwrap_or(0);
    let mut moov_len = 0u64;
    let mut built = None;
    for _ in 0..8 {
        let base = origin(moov_len);
        let (moov, tp) = build_moov(tracks, base, movie_ts, duration, next_track_id);
        let len = moov.len() as u64;
        let done = len == moov_len;
        moov_len = len;
        built = Some((moov, tp));
        if done {
            break;
        }
    }
    let (moov, track_plans) = built.ok_or_else(|| overflow("moov size"))?;
    let payload_start = origin(moov.len() as u64);
    let data_start = ftyp.len() as u64 + moov.len() as u64 + mdat_hdr;
    let mdat_len = (payload_start - data_start)
        .checked_add(payload_len)
        .ok_or_else(|| overflow("mdat size"))?;
    let mut header = ftyp;
    header.extend_from_slice(&moov);
    crate::layout::write_mdat_header(&mut header, mdat_len, mdat_hdr == 16)?;
    if header.len() as u64 != data_start {
        return Err(overflow("moov size"));
    }
    Ok(Header {
        bytes: header,
        payload_start,
        mdat_64: mdat_hdr == 16,
        tracks: track_plans,
        duration,
    })
}
