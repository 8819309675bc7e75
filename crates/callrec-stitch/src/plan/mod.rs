//! [`Plan::new`]: match tracks, build presentations and edit lists, merge sample tables, lay out
//! every byte and encode the header. Sequential and deterministic; no I/O.

use std::path::PathBuf;

use callrec_mp4::{Edit, TrackKind};

use crate::rat::lcm;
use crate::{ChunkInput, Error, Result, StitchOptions};

mod bytes;
mod moov;
mod silence;
mod timing;
mod tracks;

use tracks::{check_decode_order, match_tracks};

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
    /// Output time of the chunk's presentation time 0 (where its `chunkStartTime` lands): its
    /// media instant `x` is at `origin + x` (plus what was inserted before it). Equal to
    /// `start` unless every track of the chunk starts with an empty edit (that lead is
    /// presented: silent audio frames, the other tracks waiting).
    pub origin: u64,
    /// First instant at which any of its tracks presents media.
    pub start: u64,
    /// End of the chunk's span: the next chunk's `span_start`, or the end of its own
    /// presentation when that is later.
    pub end: u64,
    /// `span_start` in µs.
    pub span_start_us: u64,
    /// `origin` in µs.
    pub origin_us: u64,
    /// `start` in µs.
    pub start_us: u64,
    /// `end` in µs.
    pub end_us: u64,
    /// Time inserted inside the chunk (wall-clock pauses, its own empty edits), as realized:
    /// (µs of the chunk's media from which it applies, total µs inserted from there on). An
    /// instant `x` µs into the chunk's media is at `origin_us + x + total` of the last entry
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
    /// Sample runs: samples contiguous in the output, one `stco`/`co64` entry each (the MP4
    /// "chunks", not the recording's).
    pub runs: usize,
    /// True when the run offsets needed `co64`.
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

fn ticks_to_us(ticks: u64, movie_ts: u64) -> u64 {
    let v = (u128::from(ticks) * 1_000_000 + u128::from(movie_ts) / 2) / u128::from(movie_ts);
    u64::try_from(v).unwrap_or(u64::MAX)
}

/// What each chunk presents on each of its matched tracks (`maps` from [`match_tracks`]).
fn presentations(chunks: &[ChunkInput], maps: &[Vec<usize>]) -> Result<Vec<Vec<Window>>> {
    let mut windows: Vec<Vec<Window>> = Vec::with_capacity(chunks.len());
    for (c, map) in chunks.iter().zip(maps) {
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
    Ok(windows)
}

/// The presented media of a track, in seconds.
fn presented(t: &timing::TrackTiming) -> Q {
    Q::new(
        (i128::from(t.media_end) - i128::from(t.media_time)).max(0),
        i128::from(t.timescale),
    )
}

/// `q` seconds in ticks of the movie timescale `m`, rounded to nearest.
fn mticks(q: Q, m: u128) -> Result<u64> {
    u64::try_from((q * m as i128).round().to_integer()).map_err(|_| overflow("timeline"))
}

/// The largest timescale the output writes: the field is 32 bits unsigned, but ffmpeg (and
/// every player built on it) reads it as signed and refuses a larger one.
pub(super) const MAX_TIMESCALE: u32 = i32::MAX as u32;

/// The movie timescale: 1000, or finer so that every edit is exact when that fits in
/// [`MAX_TIMESCALE`]; else the largest track timescale (edits rounded to nearest). True when
/// exact.
fn movie_timescale(timing: &timing::Timing) -> (u128, bool) {
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
        match lcm(m, q.denom().unsigned_abs()) {
            Some(v) if v <= u128::from(MAX_TIMESCALE) => m = v,
            _ => exact = false,
        }
    }
    if !exact {
        m = timing
            .tracks
            .iter()
            .map(|t| u128::from(t.timescale))
            .max()
            .unwrap_or(1000)
            .max(1000)
            .min(u128::from(MAX_TIMESCALE));
    }
    (m, exact)
}

/// Where each chunk lands on the output timeline of movie timescale `m`.
fn placements(
    chunks: &[ChunkInput],
    timing: &timing::Timing,
    m: u128,
) -> Result<Vec<ChunkPlacement>> {
    let movie_ts = m as u64;
    let mut placements = Vec::with_capacity(chunks.len());
    for (c, p) in chunks.iter().zip(&timing.places) {
        let (a, o, b, e) = (
            mticks(p.span_start, m)?,
            mticks(p.origin.max(Q::default()), m)?,
            mticks(p.start, m)?,
            mticks(p.end, m)?,
        );
        placements.push(ChunkPlacement {
            index: c.index,
            name: c.name.clone(),
            span_start: a,
            origin: o,
            start: b,
            end: e,
            span_start_us: ticks_to_us(a, movie_ts),
            origin_us: ticks_to_us(o, movie_ts),
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
    Ok(placements)
}

/// Step 0 of [`Plan::new`]: per chunk, the index of its track matching each of `first`'s
/// ([`match_tracks`]); then the decode order of every chunk track, and [`MAX_SAMPLES`].
fn matched(first: &ChunkInput, chunks: &[ChunkInput]) -> Result<Vec<Vec<usize>>> {
    let maps: Vec<Vec<usize>> = chunks
        .iter()
        .map(|c| match_tracks(first, c))
        .collect::<Result<_>>()?;
    check_decode_order(chunks, &maps)?;
    let samples: usize = chunks
        .iter()
        .flat_map(|c| c.movie.tracks.iter().map(|t| t.samples.len()))
        .sum();
    if samples > MAX_SAMPLES {
        return Err(Error::TooLarge {
            samples,
            max: MAX_SAMPLES,
        });
    }
    Ok(maps)
}

/// The chunk tracks `timing` converted to their output track's timescale.
fn rescaled(chunks: &[ChunkInput], maps: &[Vec<usize>], timing: &timing::Timing) -> Vec<Rescaled> {
    timing
        .rescaled
        .iter()
        .map(|&(k, i)| Rescaled {
            index: chunks[k].index,
            name: chunks[k].name.clone(),
            kind: chunks[0].movie.tracks[i].kind,
            from: chunks[k].movie.tracks[maps[k][i]].timescale.get(),
            to: timing.tracks[i].timescale,
        })
        .collect()
}

/// Moves the copies and silent frames of `bytes` behind the header: payload offsets become file
/// offsets.
fn behind(bytes: &mut bytes::Bytes, payload_start: u64) {
    for r in &mut bytes.copies {
        r.dst_offset += payload_start;
    }
    for l in &mut bytes.literals {
        l.0 += payload_start;
    }
}

/// The most samples a plan holds (every track, every chunk): about 2.4 days of 8 fps video and
/// 16 kHz AAC, so that planning stays within about a gigabyte whatever the chunk count.
pub const MAX_SAMPLES: usize = 5_000_000;

impl Plan {
    /// Plans the stitch of `chunks`, in the order given (the caller orders by index).
    ///
    /// Errors: [`Error::NoChunks`]; [`Error::Mismatch`] naming the chunk and parameter when its
    /// tracks do not match the first chunk's; [`Error::Unsupported`] for edit rates other than 1,
    /// decode times that go backwards, bad sample description indexes; [`Error::Overflow`].
    pub fn new(chunks: &[ChunkInput], opts: &StitchOptions) -> Result<Plan> {
        let first = chunks.first().ok_or(Error::NoChunks)?;
        // 0. Each chunk's tracks matched to the first chunk's; decode order; the size cap.
        let maps = matched(first, chunks)?;

        // 1. What each chunk presents on each track.
        let windows = presentations(chunks, &maps)?;

        // 2. Every output sample's time, continuous tables.
        let mode = timing::Mode {
            wall_clock: opts.wall_clock,
            trim: opts.trim_joins,
        };
        let timing = timing::time(chunks, &maps, &windows, mode)?;

        // 3. The movie timescale, and where each chunk lands on it.
        let (m, exact) = movie_timescale(&timing);
        let movie_ts = m as u64;
        let placements = placements(chunks, &timing, m)?;

        // 4. Byte layout of the mdat payload.
        let mut bytes = bytes::lay_out(chunks, &maps, &timing, opts.align)?;

        // 5. Merged tracks: samples, descriptions, the edit list.
        let ids = tracks::track_ids(first);
        let out_tracks = timing
            .tracks
            .iter()
            .enumerate()
            .map(|(i, tt)| tracks::merge(chunks, &maps, &bytes, i, tt, ids[i], m))
            .collect::<Result<Vec<_>>>()?;
        let rescaled = rescaled(chunks, &maps, &timing);

        // 6. Header: ftyp, moov, mdat header; the copies move behind it.
        let next_track_id = ids.iter().max().copied().unwrap_or(0).saturating_add(1);
        let header = moov::header(
            &out_tracks,
            movie_ts,
            next_track_id,
            bytes.payload_len,
            bytes.residue,
            opts.align,
        )?;
        behind(&mut bytes, header.payload_start);
        Ok(Plan {
            header: header.bytes,
            copies: bytes.copies,
            sources: bytes.sources,
            output_len: header.payload_start + bytes.payload_len,
            timescale: movie_ts as u32,
            duration: header.duration,
            exact,
            mdat_64: header.mdat_64,
            chunks: placements,
            tracks: header.tracks,
            rescaled,
            literals: bytes.literals,
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
    /// inserts, in the `mdat` payload just before the bytes of the frame they precede).
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

#[cfg(test)]
mod tests;
