//! [`Plan::new`]: match tracks, build presentations and edit lists, merge sample tables, lay out
//! every byte and encode the header. Sequential and deterministic; no I/O.

use std::path::PathBuf;

use callrec_mp4::boxes::{
    chunk_offsets, Ctts, CttsEntry, Dinf, Edts, Elst, Ftyp, Hdlr, Mdhd, Mdia, Minf, Moov, Mp4Box,
    Mvhd, RawBox, Smhd, Stbl, Stsc, StscEntry, Stsd, Stss, Stsz, Stts, SttsEntry, Tkhd, Trak, Vmhd,
    IDENTITY_MATRIX,
};
use callrec_mp4::write::mdat_header_len;
use callrec_mp4::{Codec, Edit, FourCc, SampleEntry, TrackKind};

use crate::rat::lcm;
use crate::{ChunkInput, Error, Result, StitchOptions};

mod silence;
mod timing;

use callrec_mp4::present::{self, Window};

/// Exact signed seconds (and tick counts): the planner's arithmetic.
pub(crate) use callrec_mp4::present::Q;

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
    /// Time inserted inside the chunk (wall-clock pauses, its own empty edits), as realized:
    /// (µs of the chunk's media from which it applies, total µs inserted from there on). An
    /// instant `x` µs into the chunk's media is at `start_us + x + total` of the last entry
    /// with `at <= x`.
    pub inserted: Vec<(u64, u64)>,
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
    rescaled: Vec<Rescaled>,
    literals: Vec<(u64, Vec<u8>)>,
    silent_frames: u64,
    dropped_frames: u64,
}

/// A chunk track whose timescale the output converts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rescaled {
    /// The chunk's index.
    pub index: u32,
    /// The chunk's name.
    pub name: String,
    /// The track's kind.
    pub kind: TrackKind,
    /// The chunk track's timescale.
    pub from: u32,
    /// The output track's.
    pub to: u32,
}

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
    Ok(map)
}

/// Decode times must increase by at most 32 bits per sample in every chunk track.
fn check_decode_order(chunks: &[ChunkInput], maps: &[Vec<usize>]) -> Result<()> {
    for (c, map) in chunks.iter().zip(maps) {
        for &j in map {
            let t = &c.movie.tracks[j];
            for (k, w) in t.samples.windows(2).enumerate() {
                let ok = w[1]
                    .dts
                    .checked_sub(w[0].dts)
                    .is_some_and(|d| u32::try_from(d).is_ok());
                if !ok {
                    return Err(unsupported(
                        c,
                        format!(
                            "{} track {}: decode time of sample {} goes backwards or jumps by \
                             more than 32 bits",
                            kind_name(t.kind),
                            t.id,
                            k + 1
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
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
        check_decode_order(chunks, &maps)?;

        // 1. What each chunk presents on each track.
        let mut windows: Vec<Vec<Window>> = Vec::with_capacity(chunks.len());
        for (c, map) in chunks.iter().zip(&maps) {
            let el = present::edit_less(&c.movie).map_err(|e| unsupported(c, e.to_string()))?;
            let per_track = map
                .iter()
                .map(|&j| {
                    let t = &c.movie.tracks[j];
                    present::window(&c.movie, t, el).map_err(|e| unsupported(c, e.to_string()))
                })
                .collect::<Result<Vec<_>>>()?;
            windows.push(per_track);
        }

        // 2. Every output sample's time, continuous tables.
        let mode = timing::Mode {
            wall_clock: opts.wall_clock,
            trim: opts.trim_joins,
        };
        let timing = timing::time(chunks, &maps, &windows, mode)?;

        // 3. The movie timescale: 1000, or finer so that every edit is exact when that fits
        //    in 32 bits; else the largest track timescale (edits rounded to nearest).
        let presented = |t: &timing::TrackTiming| {
            Q::new(
                (i128::from(t.media_end) - i128::from(t.media_time)).max(0),
                i128::from(t.timescale),
            )
        };
        let mut m: u128 = 1000;
        let mut exact = true;
        let places = timing
            .places
            .iter()
            .flat_map(|p| [p.span_start, p.start, p.end]);
        let edits = timing
            .tracks
            .iter()
            .flat_map(|t| [t.lead_empty, presented(t)]);
        for q in edits.chain(places) {
            {
                match lcm(m, q.denom().unsigned_abs()) {
                    Some(v) if v <= u128::from(u32::MAX) => m = v,
                    _ => exact = false,
                }
            }
        }
        if !exact {
            m = timing
                .tracks
                .iter()
                .map(|t| u128::from(t.timescale))
                .max()
                .unwrap_or(1000)
                .max(1000);
        }
        let movie_ts = m as u64;
        let mticks = |q: Q| -> Result<u64> {
            u64::try_from((q * m as i128).round().to_integer()).map_err(|_| overflow("timeline"))
        };
        let mut placements = Vec::with_capacity(chunks.len());
        for (c, p) in chunks.iter().zip(&timing.places) {
            let (a, b, e) = (mticks(p.span_start)?, mticks(p.start)?, mticks(p.end)?);
            placements.push(ChunkPlacement {
                index: c.index,
                name: c.name.clone(),
                span_start: a,
                start: b,
                end: e,
                span_start_us: ticks_to_us(a, movie_ts),
                start_us: ticks_to_us(b, movie_ts),
                end_us: ticks_to_us(e, movie_ts),
                inserted: p
                    .shifts
                    .iter()
                    .map(|&(at, total)| {
                        let us =
                            |q: Q| u64::try_from((q * 1_000_000).round().to_integer()).unwrap_or(0);
                        (us(at), us(total))
                    })
                    .collect(),
            });
        }

        // 4. Byte layout: each chunk's sample bytes (those the output keeps), in file order,
        //    merged into runs, placed by `layout` (back to back, or congruent to their source
        //    modulo `opts.align`); then the silence block at the end of the mdat payload.
        let mut used: Vec<Vec<(u64, u64)>> = vec![Vec::new(); chunks.len()];
        for (i, t) in timing.tracks.iter().enumerate() {
            for s in &t.samples {
                if let timing::Src::Sample(j) = s.src {
                    let smp = &chunks[s.chunk].movie.tracks[maps[s.chunk][i]].samples[j];
                    if smp.size > 0 {
                        used[s.chunk]
                            .push((smp.offset, smp.offset.saturating_add(u64::from(smp.size))));
                    }
                }
            }
        }
        let mut runs: Vec<(usize, u64, u64)> = Vec::new();
        let mut sources = Vec::with_capacity(chunks.len());
        for (ci, (c, mut spans_b)) in chunks.iter().zip(used).enumerate() {
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
            sources.push(Source {
                path: c.path.clone(),
                index: c.index,
                name: c.name.clone(),
                needed,
            });
        }
        let placed = crate::layout::lay_out(runs, opts.align)?;
        // The silent frames go just before the bytes of the frame they precede (after the
        // chunk's last bytes when nothing of the chunk follows them on their track), in a
        // space of whole blocks so the alignment holds: every track's samples stay in file
        // order, which players reading the file front to back (push mode) need.
        // (chunk, source offset it precedes, silence block range)
        let mut anchors: Vec<(usize, u64, u64, u64)> = Vec::new();
        for (i, t) in timing.tracks.iter().enumerate() {
            for (n, x) in t.samples.iter().enumerate() {
                let timing::Src::Silence { at, size } = x.src else {
                    continue;
                };
                let before = t.samples[n + 1..]
                    .iter()
                    .take_while(|y| y.chunk == x.chunk)
                    .find_map(|y| match y.src {
                        timing::Src::Sample(j) => {
                            Some(chunks[y.chunk].movie.tracks[maps[y.chunk][i]].samples[j].offset)
                        }
                        timing::Src::Silence { .. } => None,
                    })
                    .unwrap_or(u64::MAX);
                let end = at + u64::from(size);
                match anchors.last_mut() {
                    Some(l) if l.0 == x.chunk && l.1 == before && l.3 == at => l.3 = end,
                    _ => anchors.push((x.chunk, before, at, end)),
                }
            }
        }
        anchors.sort_by_key(|a| (a.0, a.1, a.2));
        let block = opts.align.unwrap_or(1).max(1);
        let mut copies: Vec<CopyRange> = Vec::with_capacity(placed.copies.len() + anchors.len());
        let mut literals: Vec<(u64, Vec<u8>)> = Vec::new();
        // Silence block offset -> output offset (relative to the payload).
        let mut moved: Vec<(u64, u64, u64)> = Vec::new();
        let mut shift = 0u64;
        let mut ai = anchors.iter().peekable();
        let mut put =
            |at: u64, a: u64, b: u64, shift: &mut u64, literals: &mut Vec<(u64, Vec<u8>)>| {
                literals.push((at, timing.silence[a as usize..b as usize].to_vec()));
                moved.push((a, b, at));
                *shift += (b - a).div_ceil(block) * block;
            };
        for c in &placed.copies {
            let mut c = *c;
            // Anchors of earlier chunks that had no bytes left: here.
            while let Some(&&(k, _, a, b)) = ai.peek() {
                if k >= c.chunk {
                    break;
                }
                ai.next();
                put(c.dst_offset + shift, a, b, &mut shift, &mut literals);
            }
            while let Some(&&(k, src, a, b)) = ai.peek() {
                if k != c.chunk || src >= c.src_offset + c.len {
                    break;
                }
                ai.next();
                // Split the range at `src`: the head stays, the silence, then the tail.
                let head = src.saturating_sub(c.src_offset);
                if head > 0 {
                    copies.push(CopyRange {
                        len: head,
                        dst_offset: c.dst_offset + shift,
                        ..c
                    });
                    c.src_offset += head;
                    c.dst_offset += head;
                    c.len -= head;
                }
                put(c.dst_offset + shift, a, b, &mut shift, &mut literals);
            }
            copies.push(CopyRange {
                dst_offset: c.dst_offset + shift,
                ..c
            });
        }
        for &(_, _, a, b) in ai {
            put(placed.len + shift, a, b, &mut shift, &mut literals);
        }
        let silence_dst = |_k: usize, at: u64| -> u64 {
            moved
                .iter()
                .find(|m| m.0 <= at && at < m.1)
                .map_or(0, |m| m.2 + (at - m.0))
        };
        let payload_len = placed
            .len
            .checked_add(shift)
            .ok_or_else(|| overflow("mdat size"))?;
        // Each chunk's copies, now that ranges were split.
        let mut chunk_ranges: Vec<(usize, usize)> = vec![(0, 0); chunks.len()];
        let mut from = 0;
        for (n, c) in copies.iter().enumerate() {
            if copies.get(n + 1).is_none_or(|d| d.chunk != c.chunk) {
                chunk_ranges[c.chunk] = (from, n + 1);
                from = n + 1;
            }
        }
        let dst_of = |ci: usize, off: u64| -> u64 {
            let (lo, hi) = chunk_ranges[ci];
            let rs = &copies[lo..hi];
            let k = rs.partition_point(|r| r.src_offset <= off);
            match k.checked_sub(1).and_then(|k| rs.get(k)) {
                Some(r) if off <= r.src_offset + r.len => r.dst_offset + (off - r.src_offset),
                _ => 0,
            }
        };

        // 5. Merged tracks: samples, descriptions, the edit list.
        let mut ids: Vec<u32> = first.movie.tracks.iter().map(|t| t.id).collect();
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        sorted.dedup();
        if sorted.len() != ids.len() || sorted.first() == Some(&0) {
            ids = (1..=ntracks as u32).collect();
        }
        let mut out_tracks = Vec::with_capacity(ntracks);
        for (i, (t0, tt)) in first.movie.tracks.iter().zip(&timing.tracks).enumerate() {
            let mut entries: Vec<Vec<u8>> = Vec::new();
            let mut keys: Vec<Vec<u8>> = Vec::new();
            let desc_maps: Vec<Vec<u32>> = chunks
                .iter()
                .zip(&maps)
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
                                dst_of(s.chunk, smp.offset)
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
                        dst: silence_dst(s.chunk, at),
                        chunk: usize::MAX,
                    },
                };
                last_desc = o.desc;
                samples.push(o);
            }
            let mut edits = Vec::new();
            let lead = mticks(tt.lead_empty)?;
            if lead > 0 {
                edits.push(Edit {
                    segment_duration: lead,
                    media_time: None,
                    media_rate_integer: 1,
                    media_rate_fraction: 0,
                });
            }
            let seg = mticks(presented(tt))?;
            if seg > 0 {
                edits.push(Edit {
                    segment_duration: seg,
                    media_time: Some(tt.media_time),
                    media_rate_integer: 1,
                    media_rate_fraction: 0,
                });
            }
            let duration = edits.iter().map(|e| e.segment_duration).sum();
            out_tracks.push(OutTrack {
                id: ids[i],
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
            });
        }
        let rescaled = timing
            .rescaled
            .iter()
            .map(|&(k, i)| Rescaled {
                index: chunks[k].index,
                name: chunks[k].name.clone(),
                kind: first.movie.tracks[i].kind,
                from: chunks[k].movie.tracks[maps[k][i]].timescale.get(),
                to: timing.tracks[i].timescale,
            })
            .collect();

        // 6. Header: ftyp, moov (offsets depend on its own size: iterate), mdat header, and the
        //    silence block at the start of the mdat payload.
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
        for l in &mut literals {
            l.0 += payload_start;
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
            rescaled,
            literals,
            silent_frames: timing.silent_frames,
            dropped_frames: timing.dropped_frames,
        })
    }

    /// The chunk tracks whose timescale differs from their output track's (converted exactly
    /// when the output timescale is a multiple, else each time rounded to the nearest tick).
    pub fn rescaled(&self) -> &[Rescaled] {
        &self.rescaled
    }

    /// Bytes the plan writes itself, at absolute offsets (the silent AAC frames the output
    /// inserts, in the `mdat` payload just before the bytes of the chunk they precede).
    pub fn literals(&self) -> &[(u64, Vec<u8>)] {
        &self.literals
    }

    /// Silent AAC frames inserted (where the output's audio waits: pauses and gaps in
    /// wall-clock mode, or a video longer than its chunk's audio).
    pub fn silent_frames(&self) -> u64 {
        self.silent_frames
    }

    /// Audio frames of priming or end padding dropped at joins (trimmed joins, wall clock).
    pub fn dropped_frames(&self) -> u64 {
        self.dropped_frames
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
    use callrec_mp4::{Movie, ParseOptions, Sample, Timescale, Track};

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
        // Presented from pts 4096 (the composition delay), 2 s of frames: nothing cut. Its
        // timestamps put it 250 - 64 ms after the audio's content (the audio's first frame is
        // not stretched here, as ffmpeg's would be): it waits that long.
        assert_eq!(video.edits.len(), 2, "{:?}", video.edits);
        assert_eq!(video.edits[0].media_time, None);
        assert_eq!(video.edits[1].media_time, Some(4096));
        let ts = u64::from(plan.timescale());
        assert_eq!(video.edits[0].segment_duration * 1000, 186 * ts);
        assert_eq!(video.edits[1].segment_duration, 2 * ts);
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

    /// With B-frames the gap goes after the last sample in decode order that is presented
    /// before the pause; a sample decoded before that but presented after the pause keeps its
    /// decode time and gets a composition offset larger by the gap, so every frame is presented
    /// on its side of the pause and the composition offsets stay positive.
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
        // At 250 ms of presentation = media 450, inside B2 (400..500): B2, decoded fourth, is
        // the last one presented before it and is held; P3 (500), decoded second, is presented
        // after the pause.
        c.empty_edits = vec![EmptyEdit {
            at_us: 250_000,
            duration_us: 1_000_000,
        }];
        let plan = Plan::new(std::slice::from_ref(&c), &wall()).unwrap();
        let m = parse_header(&plan);
        assert_eq!(durations(&m, 0), vec![100, 100, 100, 1100, 100, 100, 100]);
        let pts: Vec<i64> = m.tracks[0].samples.iter().map(|s| s.pts()).collect();
        assert_eq!(pts, vec![200, 1500, 300, 400, 1800, 1600, 1700]);
        assert!(m.tracks[0].samples.iter().all(|s| s.cts_offset >= 0));
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
    /// still agree across tracks, and each track keeps one edit.
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
        // Audio: its last sample of chunk 0 lasts until chunk 1's start, 3003/65521 s (3002.9
        // ticks of 65519, rounded to 3003: 6 more than the sample's 999); the edit ends after
        // chunk 1's 2997 ticks: 6000 of 65519 = 6000.2 of 65521, rounded.
        assert_eq!(edits(&plan, 1), vec![(6000, Some(0))]);
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
        let m = parse_header(&plan);
        assert_eq!(edits(&plan, 0), vec![(1300, Some(0))]);
        let mut want = vec![100; 10];
        want[4] += 300;
        assert_eq!(durations(&m, 0), want);
        // Wall clock: a 200 ms pause at 600 ms of media (the empty edit does not count), at the
        // boundary of samples 5 and 6: sample 5 is held.
        c.empty_edits = vec![EmptyEdit {
            at_us: 600_000,
            duration_us: 200_000,
        }];
        let plan = Plan::new(&[c], &wall()).unwrap();
        assert_eq!(edits(&plan, 0), vec![(1500, Some(0))]);
        let m = parse_header(&plan);
        want[5] += 200;
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
