//! [`Plan::new`]: match tracks, build presentations and edit lists, merge sample tables, lay out
//! every byte and encode the header. Sequential and deterministic; no I/O.

use std::path::PathBuf;

use callrec_mp4::boxes::{
    chunk_offsets, Ctts, CttsEntry, Dinf, Edts, Elst, Ftyp, Hdlr, Mdhd, Mdia, Minf, Moov, Mp4Box,
    Mvhd, RawBox, Smhd, Stbl, Stsc, StscEntry, Stsd, Stss, Stsz, Stts, SttsEntry, Tkhd, Trak, Vmhd,
    IDENTITY_MATRIX,
};
use callrec_mp4::write::mdat_header_len;
use callrec_mp4::{Codec, Edit, FourCc, SampleEntry, Track, TrackKind};

use crate::rat::{lcm, Rat};
use crate::{ChunkInput, Error, Result, StitchOptions};

/// AAC priming ffmpeg's encoder writes, in samples, assumed for edit-less chunks.
const AAC_PRIMING: u128 = 1024;

/// One range of bytes to copy from a chunk file into the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CopyRange {
    /// Position of the chunk in the slice given to [`Plan::new`].
    pub chunk: usize,
    /// Offset in the chunk file.
    pub src_offset: u64,
    /// Length in bytes.
    pub len: u64,
    /// Absolute offset in the output file.
    pub dst_offset: u64,
}

/// Where a chunk lands on the output's presentation timeline (movie timescale ticks, and the
/// same in µs, rounded to nearest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkPlacement {
    /// The chunk's index.
    pub index: u32,
    /// The chunk's name.
    pub name: String,
    /// Start of the chunk's span (the gap before it included, in wall-clock mode).
    pub span_start: u64,
    /// First instant at which any of its tracks presents media.
    pub start: u64,
    /// End of the chunk's span (= next chunk's `span_start`).
    pub end: u64,
    /// `span_start` in µs.
    pub span_start_us: u64,
    /// `start` in µs.
    pub start_us: u64,
    /// `end` in µs.
    pub end_us: u64,
}

/// One output track, as planned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackPlan {
    /// Track ID in the output.
    pub id: u32,
    /// Video, audio...
    pub kind: TrackKind,
    /// Track (media) timescale.
    pub timescale: u32,
    /// Sample count.
    pub samples: usize,
    /// Sample descriptions (`stsd` entries) after sharing identical ones.
    pub descriptions: usize,
    /// Media duration in the track timescale (sum of sample durations).
    pub media_duration: u64,
    /// Presented duration in the movie timescale (sum of the edit list).
    pub duration: u64,
    /// The output edit list.
    pub edits: Vec<Edit>,
    /// Chunk offsets (`stco`/`co64` entries).
    pub chunk_offsets: usize,
    /// True when the chunk offsets needed `co64`.
    pub co64: bool,
}

#[derive(Debug, Clone)]
struct Source {
    path: PathBuf,
    index: u32,
    name: String,
    needed: u64,
}

/// The whole output, decided: header bytes, copy ranges, timeline. Build with [`Plan::new`],
/// execute with [`crate::write()`].
#[derive(Debug, Clone)]
pub struct Plan {
    header: Vec<u8>,
    copies: Vec<CopyRange>,
    sources: Vec<Source>,
    output_len: u64,
    timescale: u32,
    duration: u64,
    exact: bool,
    mdat_64: bool,
    chunks: Vec<ChunkPlacement>,
    tracks: Vec<TrackPlan>,
}

/// A piece of a chunk's presentation on one track: `dur` seconds of media from `media` (track
/// ticks relative to the chunk's first decode time), or empty time.
#[derive(Debug, Clone, Copy)]
struct Seg {
    dur: Rat,
    media: Option<i64>,
}

/// A [`Seg`] in movie ticks: (duration, media time relative to the chunk's first decode time).
type TickSeg = (u64, Option<i64>);

/// One sample of the merged output track.
#[derive(Debug, Clone, Copy)]
struct OutSample {
    size: u32,
    duration: u32,
    cts: i32,
    sync: bool,
    desc: u32,
    dst: u64,
    chunk: usize,
}

struct OutTrack {
    id: u32,
    kind: TrackKind,
    timescale: u32,
    language: u16,
    volume: i16,
    width: u32,
    height: u32,
    entries: Vec<Vec<u8>>,
    samples: Vec<OutSample>,
    media_duration: u64,
    edits: Vec<Edit>,
    duration: u64,
}

fn kind_name(k: TrackKind) -> String {
    match k {
        TrackKind::Video => "video".into(),
        TrackKind::Audio => "audio".into(),
        TrackKind::Other(f) => format!("{f}"),
    }
}

fn unsupported(c: &ChunkInput, what: String) -> Error {
    Error::Unsupported {
        index: c.index,
        name: c.name.clone(),
        what,
    }
}

fn overflow(what: &'static str) -> Error {
    Error::Overflow { what }
}

/// For each track of `first`, the index of the matching track in `c` (n-th of the same kind).
fn match_tracks(first: &ChunkInput, c: &ChunkInput) -> Result<Vec<usize>> {
    let mismatch = |parameter: String, found: String, expected: String| Error::Mismatch {
        index: c.index,
        name: c.name.clone(),
        first_index: first.index,
        parameter,
        found,
        expected,
    };
    let (t0, tk) = (&first.movie.tracks, &c.movie.tracks);
    if t0.len() != tk.len() {
        return Err(mismatch(
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
                    format!("{} track count", kind_name(t.kind)),
                    nk.to_string(),
                    n0.to_string(),
                ));
            }
        }
    }
    // Codec parameters first (what a person recognises), then timescales.
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
                    format!("{kind} codec"),
                    e.fourcc.to_string(),
                    e0.fourcc.to_string(),
                ));
            }
            if let (Codec::Aac(a), Codec::Aac(a0)) = (&e.codec, &e0.codec) {
                if a.object_type != a0.object_type {
                    return Err(mismatch(
                        format!("{kind} AAC object type"),
                        a.object_type.to_string(),
                        a0.object_type.to_string(),
                    ));
                }
                if a.sample_rate != a0.sample_rate {
                    return Err(mismatch(
                        format!("{kind} sample rate"),
                        format!("{} Hz", a.sample_rate),
                        format!("{} Hz", a0.sample_rate),
                    ));
                }
                if a.channels != a0.channels {
                    return Err(mismatch(
                        format!("{kind} channel count"),
                        a.channels.to_string(),
                        a0.channels.to_string(),
                    ));
                }
            }
        }
    }
    for (i, t) in t0.iter().enumerate() {
        let u = &tk[map[i]];
        if u.timescale != t.timescale {
            return Err(mismatch(
                format!("{} timescale", kind_name(t.kind)),
                u.timescale.get().to_string(),
                t.timescale.get().to_string(),
            ));
        }
    }
    Ok(map)
}

/// Chunk-relative facts about a track's samples: first dts, presentation start and end.
struct Extent {
    d0: u64,
    min_pts: i64,
    end_pts: i64,
}

fn extent(t: &Track) -> Option<Extent> {
    let d0 = t.samples.first()?.dts;
    let mut min_pts = i64::MAX;
    let mut end_pts = i64::MIN;
    for s in &t.samples {
        let pts = (s.dts as i128 - d0 as i128) + i128::from(s.cts_offset);
        let pts = i64::try_from(pts).ok()?;
        min_pts = min_pts.min(pts);
        end_pts = end_pts.max(pts.checked_add(i64::from(s.duration))?);
    }
    Some(Extent {
        d0,
        min_pts,
        end_pts,
    })
}

/// What a chunk's track presents, before timestamp gaps are inserted; and how many ticks to take
/// off its first sample's duration (ffmpeg's stretch of the first video frame in edit-less
/// chunks, see the crate docs), shifting every later sample earlier by as much.
fn presentation(c: &ChunkInput, t: &Track, lead_rate: Option<u32>) -> Result<(Vec<Seg>, u32)> {
    let Some(x) = extent(t) else {
        if t.samples.is_empty() {
            return Ok((Vec::new(), 0));
        }
        return Err(overflow("presentation time"));
    };
    let ts = u128::from(t.timescale.get());
    let mut segs = Vec::new();
    if !t.edits.is_empty() {
        let movie_ts = u128::from(c.movie.timescale.get());
        let d0 = i64::try_from(x.d0).map_err(|_| overflow("decode time"))?;
        let n = t.edits.len();
        for (j, e) in t.edits.iter().enumerate() {
            if (e.media_rate_integer, e.media_rate_fraction) != (1, 0) {
                return Err(unsupported(
                    c,
                    format!(
                        "{} track {}: edit {j} has media rate {}+{}/65536 (only 1 is supported)",
                        kind_name(t.kind),
                        t.id,
                        e.media_rate_integer,
                        e.media_rate_fraction
                    ),
                ));
            }
            let media = match e.media_time {
                Some(m) => Some(m.checked_sub(d0).ok_or_else(|| overflow("media time"))?),
                None => None,
            };
            let dur = if e.segment_duration == 0 {
                // Zero duration on the last media edit: "to the end of the media" (fragmented
                // files); otherwise nothing.
                match media {
                    Some(m) if j + 1 == n && x.end_pts > m => Rat::new((x.end_pts - m) as u128, ts),
                    _ => continue,
                }
            } else {
                Rat::new(u128::from(e.segment_duration), movie_ts)
            };
            segs.push(Seg { dur, media });
        }
    } else {
        let skip = match lead_rate {
            Some(rate) => Rat::new(AAC_PRIMING, u128::from(rate.max(1)))
                .ticks_round(ts)
                .and_then(|v| i64::try_from(v).ok())
                .ok_or_else(|| overflow("priming"))?,
            None => 0,
        };
        // ffmpeg's stretch: the first sample lasts at least the lead longer than the next one
        // (3097 = 2048 + 1049 ticks). Give it its own duration back instead of cutting the lead
        // with the edit list, so the first frame is presented from its own start (players that
        // discard frames starting before an edit would drop it otherwise).
        let stretched = match (t.samples.first(), t.samples.get(1)) {
            (Some(a), Some(b)) if skip > 0 && a.cts_offset == 0 && x.min_pts == 0 => {
                let first = b.dts.saturating_sub(a.dts);
                let next = match t.samples.get(2) {
                    Some(n) => n.dts.saturating_sub(b.dts),
                    None => u64::from(b.duration),
                };
                next > 0 && first >= next.saturating_add(skip as u64)
            }
            _ => false,
        };
        // Only audio has priming: a video track that is not the stretch (B-frames, or a first
        // frame of ordinary length) starts at its first presented composition time.
        let (start, end, trim) = if stretched {
            (0, x.end_pts - skip, skip)
        } else if t.kind == TrackKind::Audio {
            (x.min_pts.max(0).saturating_add(skip), x.end_pts, 0)
        } else {
            (x.min_pts.max(0), x.end_pts, 0)
        };
        if end > start {
            segs.push(Seg {
                dur: Rat::new((end - start) as u128, ts),
                media: Some(start),
            });
        }
        let trim = u32::try_from(trim).map_err(|_| overflow("priming"))?;
        return Ok((segs, trim));
    }
    Ok((segs, 0))
}

/// Gaps realized on the sample tables (see the crate docs): per chunk and track, the samples
/// whose duration grows (chunk-local index, ticks), and per chunk its exact placement (span
/// start, first media, end) in seconds.
struct Wall {
    stretch: Vec<Vec<Vec<Stretch>>>,
    places: Vec<(Rat, Rat, Rat)>,
}

/// A sample to lengthen by a timestamp gap: (chunk-local sample index, ticks).
type Stretch = (usize, u64);

/// Where an inserted duration goes in a chunk's presentation on one track.
#[derive(Debug, Clone, Copy)]
enum Gap {
    /// A timestamp gap of `ticks` before chunk-local sample `split` (`split >= 1`: sample
    /// `split - 1` is held): the segment's duration grows by as much.
    Media { ticks: u64, split: usize },
    /// Empty time (an empty edit): where no sample of the chunk is presented before the point
    /// inside a media segment (an edit that starts before the chunk's first sample).
    Empty(Rat),
}

/// A [`Gap`] at `off` into segment `seg` of a chunk's (compact) presentation.
#[derive(Debug, Clone, Copy)]
struct Attach {
    seg: usize,
    off: Rat,
    gap: Gap,
}

/// A chunk's pauses as (media presentation offset, duration), positive durations only, sorted by
/// offset (stable).
fn pauses(c: &ChunkInput) -> Vec<(Rat, Rat)> {
    let mut v: Vec<(Rat, Rat)> = c
        .empty_edits
        .iter()
        .filter(|e| e.duration_us > 0)
        .map(|e| {
            (
                Rat::new(u128::from(e.at_us), 1_000_000),
                Rat::new(u128::from(e.duration_us), 1_000_000),
            )
        })
        .collect();
    v.sort_by_key(|a| a.0);
    v
}

fn sum(segs: &[Seg]) -> Option<Rat> {
    segs.iter().try_fold(Rat::ZERO, |a, s| a.checked_add(s.dur))
}

/// Turns the chunks' own empty edits, the padding of a track shorter than its chunk's span and,
/// in wall-clock mode, each chunk's pauses and the gap before each chunk into timestamp gaps in
/// the sample tables (the sample before the point lasts longer; every later sample of the track
/// is decoded later), so the edit lists keep no empty edit but a leading one. Compact mode
/// (`wall_clock` false) ignores the pauses. Rewrites `pres` (segment durations include the gaps
/// they now hold; media times after a gap move later; own empty segments dropped; a leading
/// empty segment on chunk 0 for what comes before its first media).
///
/// Each track converts the gaps into its timescale through the exact running total (rounded
/// to nearest, the remainder carried), so no chunk start drifts by more than half a tick.
fn realize_pauses(
    chunks: &[ChunkInput],
    maps: &[Vec<usize>],
    pres: &mut [Vec<Vec<Seg>>],
    trims: &[Vec<u32>],
    wall_clock: bool,
) -> Result<Wall> {
    let of = || overflow("timestamp gap");
    let n = chunks.len();
    let ntracks = maps.first().map_or(0, Vec::len);
    let all: Vec<Vec<(Rat, Rat)>> = if wall_clock {
        chunks.iter().map(pauses).collect()
    } else {
        vec![Vec::new(); n]
    };
    // Compact presented durations, and each chunk's span (its longest track).
    let totals: Vec<Vec<Rat>> = pres
        .iter()
        .map(|per| per.iter().map(|s| sum(s).ok_or_else(of)).collect())
        .collect::<Result<_>>()?;
    let spans: Vec<Rat> = totals
        .iter()
        .map(|t| t.iter().copied().max().unwrap_or(Rat::ZERO))
        .collect();
    // Where each chunk's media starts on each track (its own empty edits, and pauses up to that
    // point, come first), from the presentation before any gap is realized.
    let firsts: Vec<Option<Rat>> = pres
        .iter()
        .zip(&all)
        .map(|(per, ps)| {
            let mut first: Option<Rat> = None;
            for segs in per {
                let mut pos = Rat::ZERO;
                for s in segs {
                    if s.media.is_some() {
                        let delay = ps
                            .iter()
                            .filter(|(p, _)| !p.is_zero() && *p <= pos)
                            .try_fold(pos, |a, (_, d)| a.checked_add(*d))
                            .ok_or_else(of)?;
                        first = Some(first.map_or(delay, |f| f.min(delay)));
                        break;
                    }
                    pos = pos.checked_add(s.dur).ok_or_else(of)?;
                }
            }
            Ok(first)
        })
        .collect::<Result<_>>()?;
    let mut stretch = vec![vec![Vec::new(); ntracks]; n];
    for i in 0..ntracks {
        let ts = u128::from(chunks[0].movie.tracks[maps[0][i]].timescale.get());
        let mut atts: Vec<Vec<Attach>> = vec![Vec::new(); n];
        let mut lead = Rat::ZERO;
        let mut exact = Rat::ZERO; // media gaps so far, in seconds
        let mut done: u128 = 0; // the same, in ticks as inserted

        // The insertions of the track in timeline order: (chunk, offset in the chunk's
        // presentation, duration): the chunk's own empty edits, its pauses, and the padding at
        // its end. A point at 0 belongs before the chunk.
        let mut ins: Vec<(usize, Rat, Rat)> = Vec::new();
        for k in 0..n {
            let first = ins.len();
            let mut pos = Rat::ZERO;
            for s in &pres[k][i] {
                if s.media.is_none() {
                    ins.push((k, pos, s.dur));
                }
                pos = pos.checked_add(s.dur).ok_or_else(of)?;
            }
            for &(p, d) in &all[k] {
                ins.push((k, p, d));
            }
            ins[first..].sort_by_key(|x| x.1);
            if k + 1 < n {
                let pad = spans[k].checked_sub(totals[k][i]).ok_or_else(of)?;
                if !pad.is_zero() {
                    ins.push((k, totals[k][i], pad));
                }
            }
        }
        // The last media segment of a chunk, and its duration.
        let last_media = |c: usize| {
            pres[c][i]
                .iter()
                .enumerate()
                .rev()
                .find(|(_, s)| s.media.is_some())
                .map(|(j, s)| (c, j, s.dur))
        };
        for (k, at, d) in ins {
            let segs = &pres[k][i];
            // The media segment holding the point: the last segment that starts before it (the
            // point may be its end); inside an empty segment, the end of the media segment before
            // it (the empty time is realized there too). A point at the chunk's start, or before
            // its first media, goes to the end of an earlier chunk's media.
            let mut target = None;
            if !at.is_zero() {
                let mut pos = Rat::ZERO;
                for (j, s) in segs.iter().enumerate() {
                    if pos >= at {
                        break;
                    }
                    if s.media.is_some() {
                        let off = at.checked_sub(pos).ok_or_else(of)?.min(s.dur);
                        target = Some((k, j, off));
                    }
                    pos = pos.checked_add(s.dur).ok_or_else(of)?;
                }
            }
            if target.is_none() {
                target = (0..k).rev().find_map(last_media);
            }
            let Some((c, j, off)) = target else {
                lead = lead.checked_add(d).ok_or_else(of)?;
                continue;
            };
            let Some(m) = pres[c][i][j].media else {
                return Err(of());
            };
            let t = &chunks[c].movie.tracks[maps[c][i]];
            let at_media = off
                .ticks_round(ts)
                .and_then(|v| i64::try_from(v).ok())
                .and_then(|v| v.checked_add(m))
                .ok_or_else(of)?;
            let gap = match split_at(t, trims[c][i], at_media) {
                Some(split) => {
                    exact = exact.checked_add(d).ok_or_else(of)?;
                    let want = exact.ticks_round(ts).ok_or_else(of)?;
                    let ticks = u64::try_from(want.saturating_sub(done)).map_err(|_| of())?;
                    done = want.max(done);
                    // Refused here, naming the chunk whose pause or gap it is (the sample that
                    // would hold it may be an earlier chunk's last one).
                    if ticks > u64::from(u32::MAX) {
                        let t0 = &chunks[k].movie.tracks[maps[k][i]];
                        return Err(unsupported(
                            &chunks[k],
                            format!(
                                "{} track {}: a pause or gap of {} s does not fit a sample \
                                 duration (32 bits: {} s at most at timescale {ts})",
                                kind_name(t0.kind),
                                t0.id,
                                d.ticks_round(1).unwrap_or(u128::MAX),
                                u128::from(u32::MAX) / ts
                            ),
                        ));
                    }
                    Gap::Media { ticks, split }
                }
                None => Gap::Empty(d),
            };
            atts[c].push(Attach { seg: j, off, gap });
        }
        for (k, a) in atts.into_iter().enumerate() {
            if a.is_empty() && pres[k][i].iter().all(|s| s.media.is_some()) {
                continue;
            }
            let (segs, st) = apply(&pres[k][i], a, ts)?;
            pres[k][i] = segs;
            stretch[k][i] = st;
        }
        if !lead.is_zero() {
            pres[0][i].insert(
                0,
                Seg {
                    dur: lead,
                    media: None,
                },
            );
        }
    }
    // Placements, exact: chunk k's span is the gap before it, its longest track, its pauses.
    let mut places = Vec::with_capacity(n);
    let mut at = Rat::ZERO;
    for k in 0..n {
        let before = all[k]
            .iter()
            .filter(|(p, _)| p.is_zero())
            .try_fold(Rat::ZERO, |a, (_, d)| a.checked_add(*d))
            .ok_or_else(of)?;
        let inner = all[k]
            .iter()
            .filter(|(p, _)| !p.is_zero())
            .try_fold(Rat::ZERO, |a, (_, d)| a.checked_add(*d))
            .ok_or_else(of)?;
        let span = before
            .checked_add(spans[k])
            .and_then(|v| v.checked_add(inner))
            .ok_or_else(of)?;
        let start = at
            .checked_add(before)
            .and_then(|v| v.checked_add(firsts[k].unwrap_or(spans[k])))
            .ok_or_else(of)?;
        let end = at.checked_add(span).ok_or_else(of)?;
        places.push((at, start.min(end), end));
        at = end;
    }
    Ok(Wall { stretch, places })
}

/// The first sample, in decode order, presented at or after `at` (track ticks relative to the
/// chunk's first decode time, after the stretched first frame is trimmed): the gap goes before
/// it. `None` when that is the chunk's first sample (no sample of the chunk to hold).
fn split_at(t: &Track, trim: u32, at: i64) -> Option<usize> {
    let d0 = t.samples.first()?.dts;
    let split = t
        .samples
        .iter()
        .enumerate()
        .position(|(k, s)| {
            let rel = i128::from(s.dts) - i128::from(d0);
            let rel = if k == 0 { rel } else { rel - i128::from(trim) };
            rel + i128::from(s.cts_offset) >= i128::from(at)
        })
        .unwrap_or(t.samples.len());
    (split > 0).then_some(split)
}

/// Rebuilds a chunk's segments with its gaps: a media gap lengthens its segment and moves the
/// media of every later piece; an empty gap splits a media segment around an empty one. The
/// chunk's own empty segments are dropped: [`realize_pauses`] inserted their time as gaps
/// (attachments only target media segments). Returns the segments and the samples to lengthen.
fn apply(segs: &[Seg], mut atts: Vec<Attach>, ts: u128) -> Result<(Vec<Seg>, Vec<Stretch>)> {
    let of = || overflow("timestamp gap");
    atts.sort_by(|a, b| a.seg.cmp(&b.seg).then(a.off.cmp(&b.off)));
    let mut out = Vec::with_capacity(segs.len() + atts.len() * 2);
    let mut stretch = Vec::new();
    let mut shift = 0i64; // media ticks inserted so far in this chunk
    let mut it = atts.into_iter().peekable();
    for (j, s) in segs.iter().enumerate() {
        let Some(m) = s.media else {
            if it.peek().is_some_and(|a| a.seg == j) {
                return Err(of());
            }
            continue;
        };
        let mut start = Rat::ZERO; // offset of the current piece in the segment
        let mut media = m.checked_add(shift).ok_or_else(of)?;
        let mut extra = Rat::ZERO; // media gaps in the current piece
        while let Some(a) = it.next_if(|a| a.seg == j) {
            match a.gap {
                Gap::Media { ticks, split } => {
                    extra = extra
                        .checked_add(Rat::new(u128::from(ticks), ts))
                        .ok_or_else(of)?;
                    shift = i64::try_from(ticks)
                        .ok()
                        .and_then(|t| shift.checked_add(t))
                        .ok_or_else(of)?;
                    stretch.push((split - 1, ticks));
                }
                Gap::Empty(d) => {
                    let head = a.off.checked_sub(start).ok_or_else(of)?;
                    let dur = head.checked_add(extra).ok_or_else(of)?;
                    if !dur.is_zero() {
                        out.push(Seg {
                            dur,
                            media: Some(media),
                        });
                    }
                    out.push(Seg {
                        dur: d,
                        media: None,
                    });
                    start = a.off;
                    extra = Rat::ZERO;
                    media = a
                        .off
                        .ticks_round(ts)
                        .and_then(|v| i64::try_from(v).ok())
                        .and_then(|v| v.checked_add(m))
                        .and_then(|v| v.checked_add(shift))
                        .ok_or_else(of)?;
                }
            }
        }
        let dur = s
            .dur
            .checked_sub(start)
            .and_then(|v| v.checked_add(extra))
            .ok_or_else(of)?;
        if !dur.is_zero() {
            out.push(Seg {
                dur,
                media: Some(media),
            });
        }
    }
    Ok((out, stretch))
}

/// Appends an edit, merging it into the previous one when it continues it exactly.
fn push_edit(edits: &mut Vec<Edit>, dur: u64, media: Option<i64>, ts: u64, movie_ts: u64) {
    if dur == 0 {
        return;
    }
    if let Some(last) = edits.last_mut() {
        match (last.media_time, media) {
            (None, None) => {
                last.segment_duration += dur;
                return;
            }
            (Some(a), Some(b)) => {
                let p = u128::from(last.segment_duration) * u128::from(ts);
                if p % u128::from(movie_ts) == 0
                    && i128::from(a) + (p / u128::from(movie_ts)) as i128 == i128::from(b)
                {
                    last.segment_duration += dur;
                    return;
                }
            }
            _ => {}
        }
    }
    edits.push(Edit {
        segment_duration: dur,
        media_time: media,
        media_rate_integer: 1,
        media_rate_fraction: 0,
    });
}

fn ticks_to_us(ticks: u64, movie_ts: u64) -> u64 {
    let v = (u128::from(ticks) * 1_000_000 + u128::from(movie_ts) / 2) / u128::from(movie_ts);
    u64::try_from(v).unwrap_or(u64::MAX)
}

impl Plan {
    /// Plans the stitch of `chunks`, in the order given (the caller orders by index).
    ///
    /// Errors: [`Error::NoChunks`]; [`Error::Mismatch`] naming the chunk and parameter when its
    /// tracks do not match the first chunk's; [`Error::Unsupported`] for edit rates other than 1,
    /// decode times that go backwards, bad sample description indexes; [`Error::Overflow`].
    pub fn new(chunks: &[ChunkInput], opts: &StitchOptions) -> Result<Plan> {
        let first = chunks.first().ok_or(Error::NoChunks)?;
        let maps: Vec<Vec<usize>> = chunks
            .iter()
            .map(|c| match_tracks(first, c))
            .collect::<Result<_>>()?;
        let ntracks = first.movie.tracks.len();

        // 1. What each chunk presents on each track, as exact fractions of a second.
        let mut pres: Vec<Vec<Vec<Seg>>> = Vec::with_capacity(chunks.len());
        let mut trims: Vec<Vec<u32>> = Vec::with_capacity(chunks.len());
        for (c, map) in chunks.iter().zip(&maps) {
            let edit_less = c.movie.tracks.iter().all(|t| t.edits.is_empty());
            let lead_rate = if edit_less {
                c.movie.tracks.iter().find_map(|t| match t.codec() {
                    Some(Codec::Aac(a)) if t.kind == TrackKind::Audio => Some(a.sample_rate),
                    _ => None,
                })
            } else {
                None
            };
            let mut per_track = Vec::with_capacity(ntracks);
            let mut trim = Vec::with_capacity(ntracks);
            for &j in map {
                let t = &c.movie.tracks[j];
                // Name the chunk and track when its times do not fit.
                let (segs, tr) = presentation(c, t, lead_rate).map_err(|e| match e {
                    Error::Overflow { what } => unsupported(
                        c,
                        format!(
                            "{} track {}: overflow computing {what}",
                            kind_name(t.kind),
                            t.id
                        ),
                    ),
                    e => e,
                })?;
                trim.push(tr);
                per_track.push(segs);
            }
            pres.push(per_track);
            trims.push(trim);
        }
        // Padding (and wall-clock gaps) as timestamp gaps, in both modes.
        let wall = realize_pauses(chunks, &maps, &mut pres, &trims, opts.wall_clock)?;

        // 2. The movie timescale.
        let mut m: u128 = 1000;
        let mut exact = true;
        'outer: for segs in pres.iter().flatten() {
            for s in segs {
                match lcm(m, s.dur.den) {
                    Some(v) if v <= u128::from(u32::MAX) => m = v,
                    _ => {
                        exact = false;
                        break 'outer;
                    }
                }
            }
        }
        if !exact {
            let mut l: Option<u128> = Some(1000);
            for t in &first.movie.tracks {
                l = l
                    .and_then(|l| lcm(l, u128::from(t.timescale.get())))
                    .filter(|v| *v <= u128::from(u32::MAX));
            }
            m = l.unwrap_or_else(|| {
                first
                    .movie
                    .tracks
                    .iter()
                    .map(|t| u128::from(t.timescale.get()))
                    .max()
                    .unwrap_or(1000)
                    .max(1000)
            });
        }
        let movie_ts = m as u64;

        // 3. Durations in movie ticks: exact, or (fallback) each segment's end rounded to nearest
        //    on its track's running timeline, so rounding does not accumulate over the chunks.
        //    Placements: the exact positions, rounded.
        let mut ticks: Vec<Vec<Vec<TickSeg>>> = vec![vec![Vec::new(); ntracks]; chunks.len()];
        for i in 0..ntracks {
            let mut pos = Rat::ZERO;
            let mut done = 0u128;
            for (k, per_track) in pres.iter().enumerate() {
                for s in &per_track[i] {
                    let d = if exact {
                        s.dur.ticks_exact(m)
                    } else {
                        pos.checked_add(s.dur)
                            .and_then(|p| {
                                pos = p;
                                p.ticks_round(m)
                            })
                            .and_then(|end| {
                                let d = end.checked_sub(done);
                                done = end;
                                d
                            })
                    };
                    let d = d
                        .and_then(|d| u64::try_from(d).ok())
                        .ok_or_else(|| overflow("edit duration"))?;
                    ticks[k][i].push((d, s.media));
                }
            }
        }
        let mut placements = Vec::with_capacity(chunks.len());
        for (c, &(a, b, e)) in chunks.iter().zip(&wall.places) {
            let t = |r: Rat| {
                r.ticks_round(m)
                    .and_then(|v| u64::try_from(v).ok())
                    .ok_or_else(|| overflow("timeline"))
            };
            let (a, b, e) = (t(a)?, t(b)?, t(e)?);
            placements.push(ChunkPlacement {
                index: c.index,
                name: c.name.clone(),
                span_start: a,
                start: b,
                end: e,
                span_start_us: ticks_to_us(a, movie_ts),
                start_us: ticks_to_us(b, movie_ts),
                end_us: ticks_to_us(e, movie_ts),
            });
        }

        // 4. Byte layout: each chunk's sample bytes, in file order, merged into runs, placed by
        //    `layout` (back to back, or congruent to their source modulo `opts.align`).
        let mut runs: Vec<(usize, u64, u64)> = Vec::new();
        let mut chunk_ranges: Vec<(usize, usize)> = Vec::with_capacity(chunks.len());
        let mut sources = Vec::with_capacity(chunks.len());
        for (ci, (c, map)) in chunks.iter().zip(&maps).enumerate() {
            let mut spans_b: Vec<(u64, u64)> = map
                .iter()
                .flat_map(|&j| c.movie.tracks[j].samples.iter())
                .filter(|s| s.size > 0)
                .map(|s| (s.offset, s.offset.saturating_add(u64::from(s.size))))
                .collect();
            spans_b.sort_unstable();
            let first_copy = runs.len();
            let mut needed = 0u64;
            for (a, b) in spans_b {
                needed = needed.max(b);
                if let Some(last) = runs[first_copy..].last_mut() {
                    let last_end = last.1 + last.2;
                    if a <= last_end {
                        last.2 += b.saturating_sub(last_end);
                        continue;
                    }
                }
                runs.push((ci, a, b - a));
            }
            chunk_ranges.push((first_copy, runs.len()));
            sources.push(Source {
                path: c.path.clone(),
                index: c.index,
                name: c.name.clone(),
                needed,
            });
        }
        let placed = crate::layout::lay_out(runs, opts.align)?;
        let mut copies: Vec<CopyRange> = placed.copies;
        let payload_len = placed.len;
        let dst_of = |ci: usize, off: u64| -> u64 {
            let (lo, hi) = chunk_ranges[ci];
            let rs = &copies[lo..hi];
            let k = rs.partition_point(|r| r.src_offset <= off);
            match k.checked_sub(1).and_then(|k| rs.get(k)) {
                Some(r) if off <= r.src_offset + r.len => r.dst_offset + (off - r.src_offset),
                _ => 0,
            }
        };

        // 5. Merged tracks: samples, descriptions, edit lists.
        let mut ids: Vec<u32> = first.movie.tracks.iter().map(|t| t.id).collect();
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        sorted.dedup();
        if sorted.len() != ids.len() || sorted.first() == Some(&0) {
            ids = (1..=ntracks as u32).collect();
        }
        let mut out_tracks = Vec::with_capacity(ntracks);
        for (i, t0) in first.movie.tracks.iter().enumerate() {
            let ts = u64::from(t0.timescale.get());
            let mut entries: Vec<Vec<u8>> = Vec::new();
            let mut keys: Vec<Vec<u8>> = Vec::new();
            let mut samples: Vec<OutSample> = Vec::new();
            let mut edits: Vec<Edit> = Vec::new();
            let mut base = 0u64;
            for (ci, c) in chunks.iter().enumerate() {
                let t = &c.movie.tracks[maps[ci][i]];
                let desc_map: Vec<u32> = t
                    .entries
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
                    .collect();
                let d0 = t.samples.first().map_or(0, |s| s.dts);
                let trim = trims[ci][i];
                samples.reserve(t.samples.len());
                for (k, s) in t.samples.iter().enumerate() {
                    let duration = match t.samples.get(k + 1) {
                        Some(n) => n
                            .dts
                            .checked_sub(s.dts)
                            .and_then(|d| u32::try_from(d).ok())
                            .ok_or_else(|| {
                                unsupported(
                                    c,
                                    format!(
                                        "{} track {}: decode time of sample {} goes backwards \
                                         or jumps by more than 32 bits",
                                        kind_name(t.kind),
                                        t.id,
                                        k + 1
                                    ),
                                )
                            })?,
                        None => s.duration,
                    };
                    let duration = if k == 0 { duration - trim } else { duration };
                    let desc = s
                        .description_index
                        .checked_sub(1)
                        .and_then(|d| desc_map.get(d as usize))
                        .copied()
                        .ok_or_else(|| {
                            unsupported(
                                c,
                                format!(
                                    "{} track {}: sample {k} uses sample description {}, which \
                                     does not exist",
                                    kind_name(t.kind),
                                    t.id,
                                    s.description_index
                                ),
                            )
                        })?;
                    samples.push(OutSample {
                        size: s.size,
                        duration,
                        cts: s.cts_offset,
                        sync: s.sync,
                        desc,
                        dst: if s.size > 0 { dst_of(ci, s.offset) } else { 0 },
                        chunk: ci,
                    });
                }
                // Edits of this chunk, shifted by where its media starts in the merged track.
                for &(d, media) in &ticks[ci][i] {
                    let media = match media {
                        Some(mt) => {
                            let v = i128::from(base) + i128::from(mt);
                            Some(i64::try_from(v).ok().filter(|v| *v >= 0).ok_or_else(|| {
                                unsupported(
                                    c,
                                    format!(
                                        "{} track {}: an edit starts before the track's media",
                                        kind_name(t.kind),
                                        t.id
                                    ),
                                )
                            })?)
                        }
                        None => None,
                    };
                    push_edit(&mut edits, d, media, ts, movie_ts);
                }
                let mut media_len = t
                    .samples
                    .last()
                    .map_or(0, |s| s.dts - d0 + u64::from(s.duration))
                    - u64::from(trim);
                // Timestamp gaps (padding, wall-clock gaps): the sample before each lasts longer.
                let first_out = samples.len() - t.samples.len();
                for &(k, g) in &wall.stretch[ci][i] {
                    let s = &mut samples[first_out + k];
                    s.duration = u32::try_from(g)
                        .ok()
                        .and_then(|g| s.duration.checked_add(g))
                        .ok_or_else(|| {
                            unsupported(
                                c,
                                format!(
                                    "{} track {}: sample {k} cannot hold a timestamp gap of {g} \
                                     ticks (a sample duration has 32 bits: {} s at most at \
                                     timescale {})",
                                    kind_name(t.kind),
                                    t.id,
                                    u64::from(u32::MAX) / u64::from(t.timescale.get()),
                                    t.timescale.get()
                                ),
                            )
                        })?;
                    media_len = media_len
                        .checked_add(g)
                        .ok_or_else(|| overflow("media duration"))?;
                }
                base = base
                    .checked_add(media_len)
                    .ok_or_else(|| overflow("media duration"))?;
            }
            let duration = edits.iter().map(|e| e.segment_duration).sum();
            out_tracks.push(OutTrack {
                id: ids[i],
                kind: t0.kind,
                timescale: t0.timescale.get(),
                language: t0.language,
                volume: t0.volume,
                width: t0.tkhd_width,
                height: t0.tkhd_height,
                entries,
                samples,
                media_duration: base,
                edits,
                duration,
            });
        }

        // 6. Header: ftyp, moov (offsets depend on its own size: iterate), mdat header.
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
        let max_lead = crate::layout::max_lead(opts.align);
        let mdat_hdr = mdat_header_len(payload_len.saturating_add(max_lead)) as u64;
        let origin = |moov_len: u64| {
            let data_start = ftyp.len() as u64 + moov_len + mdat_hdr;
            data_start + crate::layout::lead(data_start, placed.residue, opts.align)
        };
        let duration = out_tracks.iter().map(|t| t.duration).max().unwrap_or(0);
        let next_track_id = ids.iter().max().copied().unwrap_or(0).saturating_add(1);
        let mut moov_len = 0u64;
        let mut built = None;
        for _ in 0..8 {
            let base = origin(moov_len);
            let (moov, tp) = build_moov(&out_tracks, base, movie_ts, duration, next_track_id);
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
        for r in &mut copies {
            r.dst_offset += payload_start;
        }
        Ok(Plan {
            header,
            copies,
            sources,
            output_len: payload_start + payload_len,
            timescale: movie_ts as u32,
            duration,
            exact,
            mdat_64: mdat_hdr == 16,
            chunks: placements,
            tracks: track_plans,
        })
    }

    /// Size of the output file in bytes.
    pub fn output_len(&self) -> u64 {
        self.output_len
    }

    /// The output's movie timescale (ticks per second of edits and placements).
    pub fn timescale(&self) -> u32 {
        self.timescale
    }

    /// Presented duration (the longest track) in the movie timescale.
    pub fn duration(&self) -> u64 {
        self.duration
    }

    /// Presented duration in milliseconds, rounded to nearest.
    pub fn duration_ms(&self) -> u64 {
        (self.duration_us() + 500) / 1000
    }

    /// Presented duration in µs, rounded to nearest.
    pub fn duration_us(&self) -> u64 {
        ticks_to_us(self.duration, u64::from(self.timescale))
    }

    /// True when every edit is exact in the movie timescale (false only in the fallback where
    /// no 32-bit timescale makes them exact; each edit is then rounded to the nearest tick).
    pub fn exact(&self) -> bool {
        self.exact
    }

    /// True when the `mdat` needs the 64-bit size form.
    pub fn mdat_64(&self) -> bool {
        self.mdat_64
    }

    /// Where each chunk lands on the output timeline, in input order.
    pub fn chunks(&self) -> &[ChunkPlacement] {
        &self.chunks
    }

    /// The output tracks.
    pub fn tracks(&self) -> &[TrackPlan] {
        &self.tracks
    }

    /// The bytes before the sample data: `ftyp`, `moov`, `mdat` header.
    pub fn header(&self) -> &[u8] {
        &self.header
    }

    /// The copies that fill the `mdat` payload, in output order: back to back, or (with
    /// [`StitchOptions::align`]) with fewer than `align` zero bytes before each.
    pub fn copies(&self) -> &[CopyRange] {
        &self.copies
    }

    /// The file of a chunk (by position in the input slice).
    pub fn source_path(&self, chunk: usize) -> Option<&std::path::Path> {
        self.sources.get(chunk).map(|s| s.path.as_path())
    }

    pub(crate) fn source_checks(&self) -> impl Iterator<Item = (&PathBuf, u32, &str, u64)> {
        self.sources
            .iter()
            .map(|s| (&s.path, s.index, s.name.as_str(), s.needed))
    }
}

/// What makes two sample entries the same description: their bytes without `btrt` children
/// (bit rate hints, which differ between chunks encoded alike) and, for AAC, with the `esds`
/// reduced to its AudioSpecificConfig (its bit rate fields differ the same way). Entries that
/// differ only there share the first one.
fn share_key(e: &SampleEntry, kind: TrackKind) -> Vec<u8> {
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
fn build_moov(
    tracks: &[OutTrack],
    base: u64,
    movie_ts: u64,
    duration: u64,
    next_track_id: u32,
) -> (Vec<u8>, Vec<TrackPlan>) {
    let mut traks = Vec::with_capacity(tracks.len());
    let mut plans = Vec::with_capacity(tracks.len());
    for t in tracks {
        // stts / ctts / stss / stsz
        let mut stts: Vec<SttsEntry> = Vec::new();
        let mut ctts: Vec<CttsEntry> = Vec::new();
        let mut stss = Vec::new();
        let mut sizes = Vec::with_capacity(t.samples.len());
        for (k, s) in t.samples.iter().enumerate() {
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
        let has_ctts = t.samples.iter().any(|s| s.cts != 0);
        let all_sync = stss.len() == t.samples.len();
        // Chunks: a run of samples contiguous in the output, one description, one input chunk.
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
        for s in &t.samples {
            let abs = base + s.dst;
            match &mut run {
                Some((end, count, desc, ch))
                    if *end == abs && *desc == s.desc && *ch == s.chunk =>
                {
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
        let (stco, co64) = chunk_offsets(&offsets);
        plans.push(TrackPlan {
            id: t.id,
            kind: t.kind,
            timescale: t.timescale,
            samples: t.samples.len(),
            descriptions: t.entries.len(),
            media_duration: t.media_duration,
            duration: t.duration,
            edits: t.edits.clone(),
            chunk_offsets: offsets.len(),
            co64: co64.is_some(),
        });
        let stbl = Stbl {
            stsd: Stsd {
                entries: t.entries.clone(),
            },
            stts: Stts { entries: stts },
            stss: (!all_sync).then_some(Stss { entries: stss }),
            sdtp: None,
            ctts: has_ctts.then_some(Ctts { entries: ctts }),
            stsc: Stsc { entries: stsc },
            stsz: Some(Stsz::from_sizes(sizes)),
            stz2: None,
            stco,
            co64,
            other: Vec::new(),
        };
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
        traks.push(Trak {
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
        });
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EmptyEdit;
    use callrec_mp4::{Movie, ParseOptions, Sample, Timescale};

    fn entry(kind: TrackKind) -> SampleEntry {
        // A code the parser keeps as unknown (a real avc1/mp4a needs its whole configuration).
        let fourcc = FourCc(if kind == TrackKind::Video {
            *b"vtst"
        } else {
            *b"atst"
        });
        let mut raw = vec![0, 0, 0, 36];
        raw.extend_from_slice(&fourcc.0);
        raw.resize(36, 0);
        SampleEntry {
            fourcc,
            raw,
            codec: Codec::Unknown(fourcc),
        }
    }

    /// A track of `n` samples of `size` bytes and `dur` ticks, laid out from `offset`.
    fn track(
        id: u32,
        kind: TrackKind,
        ts: u32,
        n: usize,
        size: u32,
        dur: u32,
        offset: u64,
    ) -> Track {
        Track {
            id,
            kind,
            timescale: Timescale::new(ts).unwrap(),
            media_duration: n as u64 * u64::from(dur),
            language: 0,
            edits: Vec::new(),
            entries: vec![entry(kind)],
            samples: (0..n)
                .map(|k| Sample {
                    offset: offset + k as u64 * u64::from(size),
                    size,
                    dts: k as u64 * u64::from(dur),
                    cts_offset: 0,
                    duration: dur,
                    sync: k == 0,
                    description_index: 1,
                })
                .collect(),
            tkhd_width: 0,
            tkhd_height: 0,
            volume: 0,
        }
    }

    fn chunk(index: u32, tracks: Vec<Track>) -> ChunkInput {
        ChunkInput {
            index,
            name: format!("c{index}"),
            path: PathBuf::from(format!("/nonexistent/c{index}.mp4")),
            movie: Movie {
                timescale: Timescale::new(1000).unwrap(),
                duration: 0,
                tracks,
                fragmented: false,
                major_brand: None,
                moov: 0..0,
                mdats: Vec::new(),
                truncated_tail: None,
            },
            empty_edits: Vec::new(),
        }
    }

    fn parse_header(plan: &Plan) -> Movie {
        Movie::parse_with(
            plan.header(),
            ParseOptions {
                allow_truncated_tail: true,
            },
        )
        .unwrap()
    }

    /// Past 4 GiB the chunk offsets go to co64 and the mdat header to its 64-bit form, and every
    /// sample's offset in the header matches where the copy plan puts it.
    #[test]
    fn co64_and_64_bit_mdat_once_the_output_passes_4_gib() {
        const BIG: u32 = 3 << 29; // 1.5 GiB
        let mk = |n: u32| -> Vec<ChunkInput> {
            (0..n)
                .map(|i| chunk(i, vec![track(1, TrackKind::Video, 16384, 1, BIG, 2048, 48)]))
                .collect()
        };
        // 2 chunks: 3 GiB of samples: 32-bit everything.
        let plan = Plan::new(&mk(2), &StitchOptions::default()).unwrap();
        assert!(!plan.mdat_64());
        assert!(!plan.tracks()[0].co64);
        let h = plan.header();
        assert_eq!(&h[h.len() - 4..], b"mdat");
        assert_eq!(
            u32::from_be_bytes(h[h.len() - 8..h.len() - 4].try_into().unwrap()) as u64,
            8 + 2 * u64::from(BIG)
        );
        // 4 chunks: 6 GiB, the last sample starts past 4 GiB.
        let plan = Plan::new(&mk(4), &StitchOptions::default()).unwrap();
        assert!(plan.mdat_64());
        assert!(plan.tracks()[0].co64);
        let h = plan.header();
        assert_eq!(
            &h[h.len() - 16..h.len() - 8],
            &[0, 0, 0, 1, b'm', b'd', b'a', b't']
        );
        let large = u64::from_be_bytes(h[h.len() - 8..].try_into().unwrap());
        assert_eq!(large, 16 + 4 * u64::from(BIG));
        assert_eq!(plan.output_len(), h.len() as u64 + 4 * u64::from(BIG));
        let m = parse_header(&plan);
        let offsets: Vec<u64> = m.tracks[0].samples.iter().map(|s| s.offset).collect();
        let copies: Vec<u64> = plan.copies().iter().map(|c| c.dst_offset).collect();
        assert_eq!(offsets, copies);
        assert_eq!(offsets[0], h.len() as u64);
        assert!(offsets[3] > u64::from(u32::MAX));
        assert!(plan
            .copies()
            .iter()
            .all(|c| c.src_offset == 48 && c.len == u64::from(BIG)));
    }

    /// Adjacent samples of one file become one copy and one output chunk per run; a gap in the
    /// source (a moof between fragments) starts a new copy range.
    #[test]
    fn copies_merge_adjacent_ranges() {
        let mut v = track(1, TrackKind::Video, 16384, 4, 100, 2048, 1000);
        v.samples[2].offset = 2000; // gap after sample 1
        v.samples[3].offset = 2100;
        let a = track(2, TrackKind::Audio, 16000, 2, 50, 1024, 1200); // right after video 0..1
        let c = chunk(0, vec![v, a]);
        let plan = Plan::new(&[c], &StitchOptions::default()).unwrap();
        let cs: Vec<(u64, u64)> = plan
            .copies()
            .iter()
            .map(|c| (c.src_offset, c.len))
            .collect();
        assert_eq!(cs, vec![(1000, 300), (2000, 200)]);
        let m = parse_header(&plan);
        let base = plan.header().len() as u64;
        let vo: Vec<u64> = m.tracks[0]
            .samples
            .iter()
            .map(|s| s.offset - base)
            .collect();
        let ao: Vec<u64> = m.tracks[1]
            .samples
            .iter()
            .map(|s| s.offset - base)
            .collect();
        assert_eq!(vo, vec![0, 100, 300, 400]);
        assert_eq!(ao, vec![200, 250]);
        assert_eq!(plan.tracks()[0].chunk_offsets, 2);
        assert_eq!(plan.tracks()[1].chunk_offsets, 1);
    }

    /// A chunk whose audio is shorter than its video (compact mode): the audio's last sample of
    /// the chunk lasts longer, so both tracks start the next chunk together, with no empty edit
    /// (ffmpeg ignores one after a media edit).
    #[test]
    fn shorter_track_is_padded_to_the_chunk_span() {
        let c0 = chunk(
            0,
            vec![
                track(1, TrackKind::Video, 16384, 8, 10, 2048, 0), // 1 s
                track(2, TrackKind::Audio, 16000, 15, 10, 1024, 80), // 0.96 s
            ],
        );
        let c1 = chunk(
            1,
            vec![
                track(1, TrackKind::Video, 16384, 8, 10, 2048, 0),
                track(2, TrackKind::Audio, 16000, 15, 10, 1024, 80),
            ],
        );
        let plan = Plan::new(&[c0, c1], &StitchOptions::default()).unwrap();
        assert_eq!(plan.timescale(), 1000);
        let a = &plan.tracks()[1];
        let e: Vec<(u64, Option<i64>)> = a
            .edits
            .iter()
            .map(|e| (e.segment_duration, e.media_time))
            .collect();
        // 40 ms of padding = 640 ticks in chunk 0's last audio sample; chunk 1 continues it.
        assert_eq!(e, vec![(1960, Some(0))]);
        let m = parse_header(&plan);
        let d = durations(&m, 1);
        assert_eq!(d[14], 1024 + 640);
        assert!(d.iter().enumerate().all(|(k, d)| k == 14 || *d == 1024));
        assert_eq!(m.tracks[1].samples[15].dts, 16000, "chunk 1's audio at 1 s");
        assert_eq!(durations(&m, 0), vec![2048; 16], "video untouched");
        let v = &plan.tracks()[0];
        assert_eq!(v.edits.len(), 1);
        assert_eq!(v.edits[0].segment_duration, 2000);
        assert_eq!(plan.chunks()[1].span_start, 1000);
        assert_eq!(plan.chunks()[1].start_us, 1_000_000);
        assert_eq!(plan.duration(), 2000);
    }

    /// An edit-less (fragmented) chunk whose video has B-frames: only the audio loses its 1024
    /// priming samples; the video presents from its first composition time with every frame.
    #[test]
    fn edit_less_bframe_video_keeps_its_first_frame() {
        let mut v = track(1, TrackKind::Video, 16384, 16, 10, 2048, 0); // 2 s
        for (k, s) in v.samples.iter_mut().enumerate() {
            // Two frames of reorder delay: every pts is at least 4096 past its dts.
            s.cts_offset = if k % 3 == 0 { 4096 } else { 2048 * 3 };
        }
        v.samples[0].cts_offset = 4096;
        let mut a = track(2, TrackKind::Audio, 16000, 33, 10, 1024, 160);
        a.entries[0].codec = Codec::Aac(callrec_mp4::AacConfig {
            object_type: 2,
            sample_rate: 16000,
            channels: 1,
            entry_sample_rate: 16000,
            entry_channels: 1,
            asc: vec![0x14, 0x08],
        });
        let c0 = chunk(0, vec![v, a]);
        let plan = Plan::new(&[c0], &StitchOptions::default()).unwrap();
        let video = &plan.tracks()[0];
        // Presented from pts 4096 (the composition delay), 2 s of frames: nothing cut.
        assert_eq!(video.edits.len(), 1);
        assert_eq!(video.edits[0].media_time, Some(4096));
        assert_eq!(video.edits[0].segment_duration, 2000);
        let audio = &plan.tracks()[1];
        assert_eq!(
            audio.edits[0].media_time,
            Some(1024),
            "audio skips its priming"
        );
    }

    fn wall() -> StitchOptions {
        StitchOptions {
            wall_clock: true,
            ..StitchOptions::default()
        }
    }

    fn edits(plan: &Plan, i: usize) -> Vec<(u64, Option<i64>)> {
        plan.tracks()[i]
            .edits
            .iter()
            .map(|e| (e.segment_duration, e.media_time))
            .collect()
    }

    fn durations(m: &Movie, i: usize) -> Vec<u32> {
        m.tracks[i].samples.iter().map(|s| s.duration).collect()
    }

    /// Reproduces the facade sweep's fragmented chunk with flipped `tfdt` bytes: a decode time
    /// 2^63 ticks after the first one overflows the presentation time, and the error must name
    /// the chunk and track, not only say "overflow".
    #[test]
    fn a_decode_time_jump_past_i64_is_refused_naming_chunk_and_track() {
        let mut t = track(2, TrackKind::Audio, 16000, 10, 10, 1024, 0);
        t.samples[5].dts = 1 << 63;
        let c = chunk(4, vec![t]);
        let err = Plan::new(std::slice::from_ref(&c), &StitchOptions::default()).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, Error::Unsupported { index: 4, .. }), "{msg}");
        assert!(
            msg.contains("chunk 4 (c4)") && msg.contains("audio track 2"),
            "{msg}"
        );
    }

    /// Reproduces the facade sweep's chunk 2 with `chunkStartTime` in year 9999: the gap
    /// before it is held by chunk 1's last sample, but the error names chunk 2, whose start
    /// time it is.
    #[test]
    fn a_gap_before_a_chunk_too_long_for_a_sample_names_that_chunk_not_the_one_before() {
        let a = |i| chunk(i, vec![track(1, TrackKind::Audio, 16000, 10, 10, 1600, 0)]);
        let mut cs = vec![a(0), a(1), a(2)];
        cs[2].empty_edits = vec![EmptyEdit {
            at_us: 0,
            duration_us: 300_000_000_000,
        }];
        let err = Plan::new(&cs, &wall()).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, Error::Unsupported { index: 2, .. }), "{msg}");
        assert!(
            msg.contains("chunk 2 (c2)") && msg.contains("300000 s"),
            "{msg}"
        );
    }

    /// Reproduces the facade sweep's pause of 9e12 ms (285 years) in wall-clock mode: the gap
    /// does not fit a 32-bit sample duration, and the error must name the chunk and track, not
    /// only say "overflow".
    #[test]
    fn a_pause_longer_than_a_sample_duration_can_hold_is_refused_naming_chunk_and_track() {
        let mut c = chunk(3, vec![track(1, TrackKind::Audio, 16000, 10, 10, 1600, 0)]);
        c.empty_edits = vec![EmptyEdit {
            at_us: 250_000,
            // u32::MAX ticks at 16 kHz is 268435 s: one more second does not fit.
            duration_us: 268_436_000_000,
        }];
        let err = Plan::new(std::slice::from_ref(&c), &wall()).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, Error::Unsupported { index: 3, .. }), "{msg}");
        assert!(
            msg.contains("chunk 3 (c3)") && msg.contains("track 1"),
            "{msg}"
        );
        // Just under the limit, it stitches.
        c.empty_edits[0].duration_us = 268_000_000_000;
        Plan::new(std::slice::from_ref(&c), &wall()).unwrap();
    }

    /// Pauses become timestamp gaps: the sample presented before the pause lasts longer, the
    /// edit covers the gap; a pause at the first chunk's start stays a leading empty edit.
    #[test]
    fn pauses_lengthen_the_sample_before_them() {
        let mut c = chunk(0, vec![track(1, TrackKind::Audio, 16000, 10, 10, 1600, 0)]); // 1 s
        c.empty_edits = vec![
            EmptyEdit {
                at_us: 250_000, // inside sample 2 (200..300 ms): it is held, sample 3 moves
                duration_us: 2_000_000,
            },
            EmptyEdit {
                at_us: 0,
                duration_us: 500_000,
            },
            EmptyEdit {
                at_us: 5_000_000, // past the end: after the last sample
                duration_us: 1_000,
            },
        ];
        let plan = Plan::new(std::slice::from_ref(&c), &wall()).unwrap();
        assert_eq!(edits(&plan, 0), vec![(500, None), (3001, Some(0))]);
        let m = parse_header(&plan);
        let mut want = vec![1600; 10];
        want[2] += 32000;
        want[9] += 16;
        assert_eq!(durations(&m, 0), want);
        let dts: Vec<u64> = m.tracks[0].samples.iter().map(|s| s.dts).collect();
        assert_eq!(dts[3], 3 * 1600 + 32000);
        assert_eq!(plan.chunks()[0].span_start, 0);
        assert_eq!(plan.chunks()[0].start, 500);
        assert_eq!(plan.duration(), 3501);
        // Compact mode ignores them: same bytes as without any.
        let compact = Plan::new(std::slice::from_ref(&c), &StitchOptions::default()).unwrap();
        c.empty_edits.clear();
        let plain = Plan::new(&[c], &StitchOptions::default()).unwrap();
        assert_eq!(compact.header(), plain.header());
    }

    /// The gap before chunk 1, and a pause at its start, lengthen chunk 0's last sample; a
    /// track shorter than its chunk is padded the same way. No empty edit in the middle.
    #[test]
    fn gaps_between_chunks_lengthen_the_previous_chunks_last_sample() {
        let mk = |index: u32| {
            chunk(
                index,
                vec![
                    track(1, TrackKind::Video, 16384, 8, 10, 2048, 0), // 1 s
                    track(2, TrackKind::Audio, 16000, 15, 10, 1024, 80), // 0.96 s
                ],
            )
        };
        let mut c1 = mk(1);
        c1.empty_edits = vec![
            EmptyEdit {
                at_us: 0,
                duration_us: 250_000,
            },
            EmptyEdit {
                at_us: 0,
                duration_us: 125_000,
            },
        ];
        let plan = Plan::new(&[mk(0), c1], &wall()).unwrap();
        assert_eq!(edits(&plan, 0), vec![(2375, Some(0))]);
        // Audio: chunk 0 padded by 40 ms plus the 375 ms gap, all in its last sample, so
        // chunk 1's media continues the edit exactly: one edit.
        assert_eq!(edits(&plan, 1), vec![(2335, Some(0))]);
        let m = parse_header(&plan);
        let v = durations(&m, 0);
        assert_eq!(v[7], 2048 + 6144);
        assert!(v.iter().enumerate().all(|(k, d)| k == 7 || *d == 2048));
        let a = durations(&m, 1);
        assert_eq!(a[14], 1024 + 640 + 6000);
        let p = &plan.chunks()[1];
        assert_eq!((p.span_start, p.start, p.end), (1000, 1375, 2375));
    }

    /// Gaps that are not whole ticks: each is rounded so that the running total stays the
    /// rounded exact total (no drift), on every track.
    #[test]
    fn gaps_round_with_a_carried_remainder() {
        let mut c = chunk(
            0,
            vec![
                track(1, TrackKind::Video, 16384, 8, 10, 2048, 0),
                track(2, TrackKind::Audio, 44100, 10, 10, 4410, 80),
            ],
        );
        // Three pauses of 1.001 ms at 100, 300, 500 ms.
        c.empty_edits = [100_000, 300_000, 500_000]
            .iter()
            .map(|&at_us| EmptyEdit {
                at_us,
                duration_us: 1_001,
            })
            .collect();
        let plan = Plan::new(std::slice::from_ref(&c), &wall()).unwrap();
        let m = parse_header(&plan);
        // Video: 1.001 ms = 16.400384 ticks; running totals 16.4, 32.8, 49.2 round to 16, 33, 49.
        let v = durations(&m, 0);
        let extra: Vec<u32> = v.iter().map(|d| d - 2048).filter(|d| *d > 0).collect();
        assert_eq!(extra, vec![16, 17, 16]);
        // Audio: 44.1441 ticks; totals 44.1, 88.3, 132.4 round to 44, 88, 132.
        let a = durations(&m, 1);
        let extra: Vec<u32> = a.iter().map(|d| d - 4410).filter(|d| *d > 0).collect();
        assert_eq!(extra, vec![44, 44, 44]);
    }

    /// With B-frames the gap goes before the first sample in decode order that is presented at
    /// or after the pause, so decode order and presentation order are both kept.
    #[test]
    fn bframe_pause_splits_in_decode_order() {
        // Decode order I0 P3 B1 B2 P6 B4 B5 (frames of 100 ticks), presented two frames late.
        let mut v = track(1, TrackKind::Video, 1000, 7, 10, 100, 0);
        for (s, pts) in v.samples.iter_mut().zip([2, 5, 3, 4, 8, 6, 7]) {
            s.cts_offset = pts * 100 - s.dts as i32;
        }
        v.edits = vec![Edit {
            segment_duration: 700,
            media_time: Some(200),
            media_rate_integer: 1,
            media_rate_fraction: 0,
        }];
        let mut c = chunk(0, vec![v]);
        // At 250 ms of presentation = media 450, inside B2 (400..500): the first sample in decode
        // order presented at or after 450 is P3 (500), decoded second: I0 is held.
        c.empty_edits = vec![EmptyEdit {
            at_us: 250_000,
            duration_us: 1_000_000,
        }];
        let plan = Plan::new(std::slice::from_ref(&c), &wall()).unwrap();
        let m = parse_header(&plan);
        assert_eq!(durations(&m, 0), vec![1100, 100, 100, 100, 100, 100, 100]);
        let cts: Vec<i32> = m.tracks[0].samples.iter().map(|s| s.cts_offset).collect();
        let orig: Vec<i32> = c.movie.tracks[0]
            .samples
            .iter()
            .map(|s| s.cts_offset)
            .collect();
        assert_eq!(cts, orig, "composition offsets unchanged");
        assert_eq!(edits(&plan, 0), vec![(1700, Some(200))]);
    }

    /// 29.97 fps video at 30000 and 44.1 kHz audio: the movie timescale makes every edit exact.
    #[test]
    fn movie_timescale_makes_edits_exact() {
        let c = chunk(
            0,
            vec![
                track(1, TrackKind::Video, 30000, 7, 10, 1001, 0),
                track(2, TrackKind::Audio, 44100, 5, 10, 1024, 70),
            ],
        );
        let plan = Plan::new(&[c.clone(), c], &StitchOptions::default()).unwrap();
        assert!(plan.exact());
        let ts = u64::from(plan.timescale());
        // 7007/30000 s and 5120/44100 s both whole in the movie timescale; the video's two
        // chunks continue each other: one edit.
        assert_eq!(plan.tracks()[0].edits.len(), 1);
        assert_eq!(
            plan.tracks()[0].edits[0].segment_duration * 30000,
            2 * 7007 * ts
        );
        assert_eq!(plan.chunks()[1].span_start * 30000, 7007 * ts);
        // Audio padded to the video's longer span in its last sample of chunk 0:
        // 7007/30000 s - 5120/44100 s = 5180.29 audio ticks, rounded to 5180; chunk 1's audio
        // media continues the edit: one edit of 5120 + 5180 + 5120 ticks.
        let a = &plan.tracks()[1].edits;
        assert_eq!(a.len(), 1, "{a:?}");
        assert_eq!(a[0].segment_duration * 44100, (2 * 5120 + 5180) * ts);
        let m = parse_header(&plan);
        assert_eq!(durations(&m, 1)[4], 1024 + 5180);
    }

    /// Timescales with no common 32-bit multiple: edits are rounded (documented), chunk starts
    /// still agree across tracks.
    #[test]
    fn timescale_fallback_rounds() {
        let c = chunk(
            0,
            vec![
                track(1, TrackKind::Video, 65521, 3, 10, 1001, 0),
                track(2, TrackKind::Audio, 65519, 3, 10, 999, 30),
            ],
        );
        let plan = Plan::new(&[c.clone(), c], &StitchOptions::default()).unwrap();
        assert!(!plan.exact());
        assert_eq!(plan.timescale(), 65521);
        let v = &plan.tracks()[0];
        assert_eq!(v.edits[0].segment_duration, 6006);
        assert_eq!(plan.chunks()[1].span_start, 3003);
        // Audio: padded to the chunk's 3003/65521 s in its last sample of chunk 0 (5.91 ticks of
        // 65519, rounded to 6): 3003/65519 s, 3003 ticks of 65521, so chunk 1 starts at 3003 on
        // both tracks; chunk 1's 2997/65519 s rounds to 2997.
        assert_eq!(edits(&plan, 1), vec![(3003, Some(0)), (2997, Some(3003))]);
        let m = parse_header(&plan);
        assert_eq!(durations(&m, 1), vec![999, 999, 999 + 6, 999, 999, 999]);
    }

    fn edit(segment_duration: u64, media_time: Option<i64>) -> Edit {
        Edit {
            segment_duration,
            media_time,
            media_rate_integer: 1,
            media_rate_fraction: 0,
        }
    }

    /// A chunk's own empty edit (a delayed track): before the first chunk's media it stays a
    /// leading empty edit; at a later chunk's start it lengthens the previous chunk's last
    /// sample of the track (ffmpeg ignores an empty edit after a media edit).
    #[test]
    fn chunk_leading_empty_edits_become_timestamp_gaps() {
        let mut v = track(1, TrackKind::Video, 1000, 10, 10, 100, 0); // 1 s of media
        v.edits = vec![edit(1000, None), edit(1000, Some(0))];
        let a = track(2, TrackKind::Audio, 1000, 20, 10, 100, 100); // 2 s
        let c = chunk(0, vec![v, a]);
        for opts in [StitchOptions::default(), wall()] {
            let plan = Plan::new(&[c.clone(), c.clone()], &opts).unwrap();
            // Chunk 0: 1 s empty, 1 s of video; chunk 1's 1 s empty is the last frame of chunk
            // 0 held 1 s longer, so chunk 1's video (media 2000) continues the edit.
            assert_eq!(edits(&plan, 0), vec![(1000, None), (3000, Some(0))]);
            let m = parse_header(&plan);
            let mut want = vec![100; 20];
            want[9] += 1000;
            assert_eq!(durations(&m, 0), want);
            assert_eq!(m.tracks[0].samples[10].dts, 2000, "chunk 1's video at 3 s");
            assert_eq!(plan.chunks()[1].span_start, 2000);
            assert_eq!(
                plan.chunks()[1].start,
                2000,
                "audio presents from the chunk's start"
            );
            assert_eq!(plan.chunks()[0].start, 0);
            assert_eq!(edits(&plan, 1), vec![(4000, Some(0))], "audio: one edit");
            assert_eq!(plan.duration(), 4000);
        }
        // Video alone: each chunk starts with 1 s of nothing.
        let mut v = track(1, TrackKind::Video, 1000, 10, 10, 100, 0);
        v.edits = vec![edit(1000, None), edit(1000, Some(0))];
        let c = chunk(0, vec![v]);
        let plan = Plan::new(&[c.clone(), c], &StitchOptions::default()).unwrap();
        assert_eq!(edits(&plan, 0), vec![(1000, None), (3000, Some(0))]);
        let starts: Vec<u64> = plan.chunks().iter().map(|p| p.start).collect();
        assert_eq!(starts, vec![1000, 3000]);
    }

    /// An empty edit between two media edits of a chunk, and a wall-clock pause inside it: both
    /// lengthen the sample before them.
    #[test]
    fn chunk_inner_empty_edit_becomes_a_timestamp_gap() {
        let mut a = track(1, TrackKind::Audio, 1000, 10, 10, 100, 0); // 1 s
        a.edits = vec![
            edit(450, Some(0)), // up to inside sample 4 (400..500): it plays whole
            edit(300, None),
            edit(550, Some(450)),
        ];
        let mut c = chunk(0, vec![a]);
        let plan = Plan::new(std::slice::from_ref(&c), &StitchOptions::default()).unwrap();
        assert_eq!(edits(&plan, 0), vec![(1300, Some(0))]);
        let m = parse_header(&plan);
        let mut want = vec![100; 10];
        want[4] += 300;
        assert_eq!(durations(&m, 0), want);
        // Wall clock: a 200 ms pause at 600 ms, inside the empty edit (450..750), is held by
        // the same sample.
        c.empty_edits = vec![EmptyEdit {
            at_us: 600_000,
            duration_us: 200_000,
        }];
        let plan = Plan::new(&[c], &wall()).unwrap();
        assert_eq!(edits(&plan, 0), vec![(1500, Some(0))]);
        let m = parse_header(&plan);
        want[4] += 200;
        assert_eq!(durations(&m, 0), want);
        assert_eq!(plan.duration(), 1500);
    }

    #[test]
    fn bad_inputs_are_errors_not_panics() {
        let mut t = track(1, TrackKind::Video, 1000, 3, 10, 10, 0);
        t.samples[2].dts = 5; // goes backwards
        let e = Plan::new(&[chunk(0, vec![t])], &StitchOptions::default()).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("chunk 0 (c0): video track 1: decode time"),
            "{e}"
        );
        let mut t = track(1, TrackKind::Video, 1000, 3, 10, 10, 0);
        t.samples[1].description_index = 7;
        let e = Plan::new(&[chunk(0, vec![t])], &StitchOptions::default()).unwrap_err();
        assert!(e.to_string().contains("sample description 7"), "{e}");
        let mut t = track(1, TrackKind::Video, 1000, 3, 10, 10, 0);
        t.edits = vec![Edit {
            segment_duration: 10,
            media_time: Some(0),
            media_rate_integer: 2,
            media_rate_fraction: 0,
        }];
        let e = Plan::new(&[chunk(0, vec![t])], &StitchOptions::default()).unwrap_err();
        assert!(e.to_string().contains("media rate"), "{e}");
        let mut t = track(1, TrackKind::Video, 1000, 3, 10, 10, 0);
        t.entries.clear();
        let e = Plan::new(&[chunk(0, vec![t])], &StitchOptions::default()).unwrap_err();
        assert!(e.to_string().contains("no sample description"), "{e}");
    }
}
