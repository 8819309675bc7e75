//! The tracks: matching each chunk's tracks to the first chunk's, the checks that make them
//! joinable, and merging them into the output tracks (samples, descriptions, edit list).

use callrec_mp4::{Codec, Edit};

use super::bytes::Bytes;
use super::moov::{share_key, OutSample, OutTrack};
use super::timing::{self, TrackTiming};
use super::{kind_name, mticks, presented, unsupported};
use crate::{ChunkInput, Error, Result};

/// For each track of `first`, the index of the matching track in `c` (n-th of the same kind).
/// The checks run in the order their errors are reported: track counts, then each track's
/// codec parameters.
pub(super) fn match_tracks(first: &ChunkInput, c: &ChunkInput) -> Result<Vec<usize>> {
    let map = track_map(first, c)?;
    check_codecs(first, c, &map)?;
    Ok(map)
}

/// [`Error::Mismatch`] of chunk `c` against `first`.
fn mismatch(
    first: &ChunkInput,
    c: &ChunkInput,
    parameter: String,
    found: String,
    expected: String,
) -> Error {
    Error::Mismatch {
        index: c.index,
        name: c.name.clone(),
        first_index: first.index,
        parameter,
        found,
        expected,
    }
}

/// The n-th track of each kind of `first` matched to the n-th of that kind in `c`; a
/// different track count, in all or of one kind, is a mismatch.
fn track_map(first: &ChunkInput, c: &ChunkInput) -> Result<Vec<usize>> {
    let (t0, tk) = (&first.movie.tracks, &c.movie.tracks);
    if t0.len() != tk.len() {
        return Err(mismatch(
            first,
            c,
            "track count".into(),
            tk.len().to_string(),
            t0.len().to_string(),
        ));
    }
    let mut map = Vec::with_capacity(t0.len());
    for (i, t) in t0.iter().enumerate() {
        let ordinal = t0[..i].iter().filter(|u| u.kind == t.kind).count();
        let found = tk
            .iter()
            .enumerate()
            .filter(|(_, u)| u.kind == t.kind)
            .nth(ordinal);
        match found {
            Some((j, _)) => map.push(j),
            None => {
                let n0 = t0.iter().filter(|u| u.kind == t.kind).count();
                let nk = tk.iter().filter(|u| u.kind == t.kind).count();
                return Err(mismatch(
                    first,
                    c,
                    format!("{} track count", kind_name(t.kind)),
                    nk.to_string(),
                    n0.to_string(),
                ));
            }
        }
    }
    Ok(map)
}

/// Every sample description of each track of `c` against the first one of its matching track
/// in `first`: the codec, and for AAC the object type, sample rate and channel count (codec
/// parameters first: what a person recognises).
fn check_codecs(first: &ChunkInput, c: &ChunkInput, map: &[usize]) -> Result<()> {
    let (t0, tk) = (&first.movie.tracks, &c.movie.tracks);
    for (i, t) in t0.iter().enumerate() {
        let u = &tk[map[i]];
        let kind = kind_name(t.kind);
        let Some(e0) = t.entries.first() else {
            return Err(unsupported(
                first,
                format!("{kind} track {} has no sample description", t.id),
            ));
        };
        for e in &u.entries {
            if e.fourcc != e0.fourcc {
                return Err(mismatch(
                    first,
                    c,
                    format!("{kind} codec"),
                    e.fourcc.to_string(),
                    e0.fourcc.to_string(),
                ));
            }
            if let (Codec::Aac(a), Codec::Aac(a0)) = (&e.codec, &e0.codec) {
                let differ = if a.object_type != a0.object_type {
                    Some((
                        "AAC object type",
                        a.object_type.to_string(),
                        a0.object_type.to_string(),
                    ))
                } else if a.sample_rate != a0.sample_rate {
                    Some((
                        "sample rate",
                        format!("{} Hz", a.sample_rate),
                        format!("{} Hz", a0.sample_rate),
                    ))
                } else if a.channels != a0.channels {
                    Some((
                        "channel count",
                        a.channels.to_string(),
                        a0.channels.to_string(),
                    ))
                } else {
                    None
                };
                if let Some((what, found, expected)) = differ {
                    return Err(mismatch(
                        first,
                        c,
                        format!("{kind} {what}"),
                        found,
                        expected,
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Decode times must increase by at most 32 bits per sample in every chunk track: the rule
/// `check` reports as `mp4.decode_order` ([`callrec_mp4::validate::decode_order_fault`]).
pub(super) fn check_decode_order(chunks: &[ChunkInput], maps: &[Vec<usize>]) -> Result<()> {
    for (c, map) in chunks.iter().zip(maps) {
        for &j in map {
            let t = &c.movie.tracks[j];
            if let Some(f) = callrec_mp4::validate::decode_order_fault(t) {
                return Err(unsupported(
                    c,
                    format!("{} track {}: {f}", kind_name(t.kind), t.id),
                ));
            }
        }
    }
    Ok(())
}

/// Output track IDs: the first chunk's, or 1..=n when those repeat or include 0.
pub(super) fn track_ids(first: &ChunkInput) -> Vec<u32> {
    let ntracks = first.movie.tracks.len();
    let mut ids: Vec<u32> = first.movie.tracks.iter().map(|t| t.id).collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    sorted.dedup();
    if sorted.len() != ids.len() || sorted.first() == Some(&0) {
        ids = (1..=ntracks as u32).collect();
    }
    ids
}

/// Merges output track `i` (timed as `tt`, ID `id`) from every chunk's matching track.
pub(super) fn merge(
    chunks: &[ChunkInput],
    maps: &[Vec<usize>],
    bytes: &Bytes,
    i: usize,
    tt: &TrackTiming,
    id: u32,
    m: u128,
) -> Result<OutTrack> {
    let t0 = &chunks[0].movie.tracks[i];
    let (entries, desc_maps) = descriptions(chunks, maps, i);
    let samples = samples(chunks, maps, bytes, i, tt, &desc_maps)?;
    let edits = edit_list(tt, m)?;
    let duration = edits.iter().map(|e| e.segment_duration).sum();
    Ok(OutTrack {
        id,
        kind: t0.kind,
        timescale: tt.timescale,
        language: t0.language,
        volume: t0.volume,
        width: t0.tkhd_width,
        height: t0.tkhd_height,
        entries,
        samples,
        media_duration: tt.media_duration,
        edits,
        duration,
    })
}

/// The output track's sample descriptions (entries that [`share_key`] finds alike share one)
/// and, per chunk, the output description (1-based) of each of its descriptions.
fn descriptions(
    chunks: &[ChunkInput],
    maps: &[Vec<usize>],
    i: usize,
) -> (Vec<Vec<u8>>, Vec<Vec<u32>>) {
    let mut entries: Vec<Vec<u8>> = Vec::new();
    let mut keys: Vec<Vec<u8>> = Vec::new();
    let desc_maps: Vec<Vec<u32>> = chunks
        .iter()
        .zip(maps)
        .map(|(c, map)| {
            let t = &c.movie.tracks[map[i]];
            t.entries
                .iter()
                .map(|e| {
                    let key = share_key(e, t.kind);
                    let k = match keys.iter().position(|x| *x == key) {
                        Some(k) => k,
                        None => {
                            entries.push(e.raw.clone());
                            keys.push(key);
                            entries.len() - 1
                        }
                    };
                    k as u32 + 1
                })
                .collect()
        })
        .collect();
    (entries, desc_maps)
}

/// The output samples of track `i`, in decode order, pointing at their bytes in the payload.
fn samples(
    chunks: &[ChunkInput],
    maps: &[Vec<usize>],
    bytes: &Bytes,
    i: usize,
    tt: &TrackTiming,
    desc_maps: &[Vec<u32>],
) -> Result<Vec<OutSample>> {
    let mut samples: Vec<OutSample> = Vec::with_capacity(tt.samples.len());
    let mut last_desc = 1u32;
    for s in &tt.samples {
        let c = &chunks[s.chunk];
        let t = &c.movie.tracks[maps[s.chunk][i]];
        let o = match s.src {
            timing::Src::Sample(j) => {
                let smp = &t.samples[j];
                let desc = smp
                    .description_index
                    .checked_sub(1)
                    .and_then(|d| desc_maps[s.chunk].get(d as usize))
                    .copied()
                    .ok_or_else(|| {
                        unsupported(
                            c,
                            format!(
                                "{} track {}: sample {j} uses sample description {}, \
                                 which does not exist",
                                kind_name(t.kind),
                                t.id,
                                smp.description_index
                            ),
                        )
                    })?;
                OutSample {
                    size: smp.size,
                    duration: s.duration,
                    cts: s.cts,
                    sync: smp.sync,
                    desc,
                    dst: if smp.size > 0 {
                        bytes.dst_of(s.chunk, smp.offset)
                    } else {
                        0
                    },
                    chunk: s.chunk,
                }
            }
            timing::Src::Silence { at, size } => OutSample {
                size,
                duration: s.duration,
                cts: 0,
                sync: true,
                desc: last_desc,
                dst: bytes.silence_dst(at),
                chunk: usize::MAX,
            },
        };
        last_desc = o.desc;
        samples.push(o);
    }
    Ok(samples)
}

/// The output edit list: the leading empty edit, then the presented media, in movie ticks.
fn edit_list(tt: &TrackTiming, m: u128) -> Result<Vec<Edit>> {
    let mut edits = Vec::new();
    let lead = mticks(tt.lead_empty, m)?;
    if lead > 0 {
        edits.push(Edit {
            segment_duration: lead,
            media_time: None,
            media_rate_integer: 1,
            media_rate_fraction: 0,
        });
    }
    let seg = mticks(presented(tt), m)?;
    if seg > 0 {
        edits.push(Edit {
            segment_duration: seg,
            media_time: Some(tt.media_time),
            media_rate_integer: 1,
            media_rate_fraction: 0,
        });
    }
    Ok(edits)
}
