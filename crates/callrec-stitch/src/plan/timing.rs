//! The output's timing: continuous sample tables, at most one leading edit per track.
//!
//! Players differ in how much of an edit list they honour (see the crate docs, *Joins*), so
//! the output's sample tables alone must play in sync: a player that decodes every audio
//! frame back to back and shows every video frame at its composition time must hear and see
//! each chunk together. The first audio track (the *master*) is never re-timed: its frames
//! follow each other exactly, and where the output must wait (a pause or a gap in wall-clock
//! mode, a video that outlasts its chunk's audio) silent AAC frames are inserted. Each chunk's
//! place on the output timeline is where the master presents it; every other track is laid
//! out to present its chunk there too: the last frame of a chunk lasts until the next chunk's
//! first one (the video waits for the audio), composition offsets carry each chunk's B-frame
//! delay, and timescales are converted exactly (or, when they do not divide, each sample's
//! time is rounded from its exact value, so nothing drifts).

mod follow;
mod master;

use callrec_mp4::{Codec, Track, TrackKind};

use super::{overflow, unsupported, MAX_TIMESCALE, Q};
use crate::{ChunkInput, Result};
use callrec_mp4::present::Window;
use follow::follow;
use master::{Master, Silence, MAX_SILENCE_SECS};

/// Where an output sample's bytes come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Src {
    /// Sample `index` of the chunk's track.
    Sample(usize),
    /// A silent frame at byte `at` of the silence block.
    Silence { at: u64, size: u32 },
}

/// One output sample, timed.
#[derive(Debug, Clone, Copy)]
pub(super) struct Timed {
    pub chunk: usize,
    pub src: Src,
    pub duration: u32,
    pub cts: i32,
}

/// One output track, timed.
#[derive(Debug, Clone)]
pub(super) struct TrackTiming {
    pub timescale: u32,
    pub samples: Vec<Timed>,
    /// Leading empty time, seconds.
    pub lead_empty: Q,
    /// Media time of the one media edit.
    pub media_time: i64,
    /// Media time at which the presentation ends.
    pub media_end: i64,
    /// Sum of the sample durations.
    pub media_duration: u64,
}

/// A chunk's place on the output timeline, seconds.
#[derive(Debug, Clone)]
pub(super) struct Place {
    /// Start of its span (the wall-clock gap before it included).
    pub span_start: Q,
    /// Output time of the chunk's presentation time 0.
    pub origin: Q,
    /// First instant at which any of its tracks presents media (`origin` plus the shortest
    /// leading empty edit).
    pub start: Q,
    /// End of its span (= the next chunk's `span_start`).
    pub end: Q,
    /// Time inserted inside the chunk: (media offset from which it applies, cumulative
    /// inserted seconds from there on).
    pub shifts: Vec<(Q, Q)>,
}

impl Place {
    /// All the time inserted inside the chunk.
    fn inserted(&self) -> Q {
        self.shifts.last().map_or(Q::default(), |s| s.1)
    }
}

/// Where chunk `k`'s span starts: the wall-clock gap before its origin, never before the
/// previous chunk's origin.
fn span_start(places: &[Place], chunks: &[ChunkInput], k: usize, origin: Q, wall: bool) -> Q {
    if k == 0 {
        Q::default()
    } else {
        (origin - gap_before(&chunks[k], wall)).max(places[k - 1].origin)
    }
}

/// What [`time`] decided.
#[derive(Debug, Clone)]
pub(super) struct Timing {
    pub tracks: Vec<TrackTiming>,
    pub places: Vec<Place>,
    pub silence: Vec<u8>,
    /// (chunk, track) pairs whose timescale was converted.
    pub rescaled: Vec<(usize, usize)>,
    /// Silent frames inserted, master audio frames dropped at joins.
    pub silent_frames: u64,
    pub dropped_frames: u64,
}

/// How the planner may move a chunk's audio.
#[derive(Debug, Clone, Copy)]
pub(super) struct Mode {
    /// Wall-clock mode: pauses and gaps are inserted time.
    pub wall_clock: bool,
    /// Drop whole frames at joins to keep chunk starts within half a frame of their target
    /// (always in wall-clock mode): end padding, priming but each chunk's pre-roll frame, the
    /// previous chunk's last frames (see `Master::meet_target`).
    pub trim: bool,
}

/// One chunk's track, with the arithmetic on its samples.
struct View<'a> {
    t: &'a Track,
    w: &'a Window,
    ts: i128,
    out: i128,
    d0: u64,
}

impl<'a> View<'a> {
    fn new(t: &'a Track, w: &'a Window, out: u32) -> Self {
        View {
            t,
            w,
            ts: i128::from(t.timescale.get()),
            out: i128::from(out),
            d0: t.samples.first().map_or(0, |s| s.dts),
        }
    }
    fn len(&self) -> usize {
        self.t.samples.len()
    }
    /// Decode time relative to the chunk's first sample, input ticks (after the trim).
    fn rel(&self, j: usize) -> i128 {
        let r = i128::from(self.t.samples[j].dts) - i128::from(self.d0);
        if j > 0 {
            r - i128::from(self.w.trim)
        } else {
            r
        }
    }
    fn pts(&self, j: usize) -> i128 {
        self.rel(j) + i128::from(self.t.samples[j].cts_offset)
    }
    fn dur(&self, j: usize) -> i128 {
        match self.t.samples.get(j + 1) {
            Some(_) => self.rel(j + 1) - self.rel(j),
            None => {
                let d = i128::from(self.t.samples[j].duration);
                if j == 0 {
                    (d - i128::from(self.w.trim)).max(1)
                } else {
                    d
                }
            }
        }
    }
    /// Input ticks to output ticks, rounded to nearest.
    fn r(&self, x: i128) -> i128 {
        if self.out == self.ts {
            x
        } else {
            (Q::new(x, self.ts) * self.out).round().to_integer()
        }
    }
    /// Media offset of sample `j`'s composition time from the window's start, seconds.
    fn offset(&self, j: usize) -> Q {
        Q::new(self.pts(j) - i128::from(self.w.start), self.ts)
    }
}

fn ticks(q: Q, scale: i128) -> i128 {
    (q * scale).round().to_integer()
}

fn to_u32(v: i128, what: &'static str) -> Result<u32> {
    u32::try_from(v).map_err(|_| overflow(what))
}

/// The output timescale of a track: the least common multiple of its chunks' timescales when
/// it fits in [`MAX_TIMESCALE`], else the largest (at most that).
fn out_timescale(chunks: &[ChunkInput], maps: &[Vec<usize>], i: usize) -> u32 {
    let all = chunks
        .iter()
        .zip(maps)
        .map(|(c, m)| u128::from(c.movie.tracks[m[i]].timescale.get()));
    let mut l: Option<u128> = Some(1);
    for v in all.clone() {
        l = l
            .and_then(|l| crate::rat::lcm(l, v))
            .filter(|v| *v <= u128::from(MAX_TIMESCALE));
    }
    let v = l.unwrap_or_else(|| all.max().unwrap_or(1));
    v.min(u128::from(MAX_TIMESCALE)) as u32
}

/// A chunk's time to insert: its own empty edits after media, and (wall clock) its pauses.
fn inner_gaps(c: &ChunkInput, w: &[Window], wall: bool) -> Vec<(Q, Q)> {
    let mut v: Vec<(Q, Q)> = w.iter().flat_map(|w| w.gaps.iter().copied()).collect();
    // Tracks share one chunk timeline: an empty edit on several tracks is one gap.
    v.sort();
    v.dedup();
    if wall {
        for e in &c.empty_edits {
            if e.at_us > 0 && e.duration_us > 0 {
                v.push((
                    Q::new(i128::from(e.at_us), 1_000_000),
                    Q::new(i128::from(e.duration_us), 1_000_000),
                ));
            }
        }
    }
    v.sort();
    v
}

fn gap_before(c: &ChunkInput, wall: bool) -> Q {
    if !wall {
        return Q::from_integer(0);
    }
    c.empty_edits
        .iter()
        .filter(|e| e.at_us == 0)
        .map(|e| Q::new(i128::from(e.duration_us), 1_000_000))
        .sum()
}

/// Where chunk k's presentation time 0 belongs (trim and wall-clock modes): in wall-clock mode
/// at its [`ChunkInput::wall_start_us`] when every chunk has one (so a chunk whose media is
/// shorter than its metadata says does not pull the next one early), else after the previous
/// chunk's media, its pauses and the gap before chunk k. A wall-clock output starting more than
/// [`MAX_SILENCE_SECS`] after the recording's start is refused (it would be that long).
fn targets(chunks: &[ChunkInput], gaps: &[Vec<(Q, Q)>], spans: &[Q], wall: bool) -> Result<Vec<Q>> {
    let starts: Option<Vec<Q>> = wall
        .then(|| {
            chunks
                .iter()
                .map(|c| c.wall_start_us.map(|us| Q::new(i128::from(us), 1_000_000)))
                .collect()
        })
        .flatten();
    let targets = starts.unwrap_or_else(|| {
        let mut targets = Vec::with_capacity(chunks.len());
        let mut at = gap_before(&chunks[0], wall);
        for k in 0..chunks.len() {
            if k > 0 {
                let inner: Q = gaps[k - 1].iter().map(|g| g.1).sum();
                at += spans[k - 1] + inner + gap_before(&chunks[k], wall);
            }
            targets.push(at);
        }
        targets
    });
    if targets[0] > Q::from_integer(MAX_SILENCE_SECS) {
        return Err(unsupported(
            &chunks[0],
            format!(
                "the first chunk starts {} s after the recording's start: a wall-clock output \
                 begins with at most {} h of nothing",
                targets[0].to_integer(),
                MAX_SILENCE_SECS / 3600
            ),
        ));
    }
    Ok(targets)
}

/// What every timing step reads: the chunks, their track maps and windows, and what is
/// derived from them once (output timescales, inner gaps, spans, targets).
struct Inputs<'a> {
    chunks: &'a [ChunkInput],
    maps: &'a [Vec<usize>],
    windows: &'a [Vec<Window>],
    mode: Mode,
    ntracks: usize,
    /// Output timescale of each output track.
    scales: Vec<u32>,
    /// Each chunk's time to insert ([`inner_gaps`]).
    gaps: Vec<Vec<(Q, Q)>>,
    /// Each chunk's longest presentation, its leading empty time included, seconds.
    spans: Vec<Q>,
    /// Where chunk k's presentation time 0 belongs (trim and wall-clock modes).
    targets: Vec<Q>,
    /// The first chunk's target.
    p0: Q,
}

impl<'a> Inputs<'a> {
    fn new(
        chunks: &'a [ChunkInput],
        maps: &'a [Vec<usize>],
        windows: &'a [Vec<Window>],
        mode: Mode,
    ) -> Result<Self> {
        let n = chunks.len();
        let ntracks = maps.first().map_or(0, Vec::len);
        let track = |k: usize, i: usize| &chunks[k].movie.tracks[maps[k][i]];
        let scales: Vec<u32> = (0..ntracks)
            .map(|i| out_timescale(chunks, maps, i))
            .collect();
        let gaps: Vec<Vec<(Q, Q)>> = (0..n)
            .map(|k| inner_gaps(&chunks[k], &windows[k], mode.wall_clock))
            .collect();
        let spans: Vec<Q> = (0..n)
            .map(|k| {
                (0..ntracks)
                    .filter(|&i| !track(k, i).samples.is_empty())
                    .map(|i| windows[k][i].lead + windows[k][i].media(track(k, i).timescale.get()))
                    .max()
                    .unwrap_or_default()
            })
            .collect();
        let targets = targets(chunks, &gaps, &spans, mode.wall_clock)?;
        let p0 = targets[0];
        Ok(Inputs {
            chunks,
            maps,
            windows,
            mode,
            ntracks,
            scales,
            gaps,
            spans,
            targets,
            p0,
        })
    }
    fn len(&self) -> usize {
        self.chunks.len()
    }
    /// Chunk k's track for output track i.
    fn track(&self, k: usize, i: usize) -> &'a Track {
        &self.chunks[k].movie.tracks[self.maps[k][i]]
    }
    /// Chunk `k`'s shortest leading empty time over its tracks that have samples: how long
    /// the chunk presents nothing at its start.
    fn common_lead(&self, k: usize) -> Q {
        (0..self.ntracks)
            .filter(|&i| !self.track(k, i).samples.is_empty())
            .map(|i| self.window(k, i).lead)
            .min()
            .unwrap_or_default()
    }

    fn window(&self, k: usize, i: usize) -> &'a Window {
        &self.windows[k][i]
    }
    fn view(&self, k: usize, i: usize) -> View<'a> {
        View::new(self.track(k, i), self.window(k, i), self.scales[i])
    }
    /// Trim and wall-clock modes drop frames at joins.
    fn drop_mode(&self) -> bool {
        self.mode.trim || self.mode.wall_clock
    }
    /// The first audio track, when it is AAC.
    fn master(&self) -> Option<usize> {
        (0..self.ntracks).find(|&i| {
            let t = self.track(0, i);
            t.kind == TrackKind::Audio && matches!(t.codec(), Some(Codec::Aac(_)))
        })
    }
    /// Without audio to follow: chunks back to back (wall clock: at their targets), inner
    /// gaps exact.
    fn places_without_master(&self) -> Vec<Place> {
        let mut places: Vec<Place> = Vec::with_capacity(self.len());
        for k in 0..self.len() {
            let origin = if k == 0 {
                self.p0
            } else {
                let p = &places[k - 1];
                let natural = p.origin + self.spans[k - 1] + p.inserted();
                if self.mode.wall_clock {
                    natural.max(self.targets[k])
                } else {
                    natural
                }
            };
            let mut real = Q::default();
            let shifts = self.gaps[k]
                .iter()
                .map(|&(m, d)| {
                    real += d;
                    (m, real)
                })
                .collect();
            let span_start = span_start(&places, self.chunks, k, origin, self.mode.wall_clock);
            places.push(Place {
                span_start,
                origin,
                start: origin,
                end: origin,
                shifts,
            });
        }
        places
    }
    /// First media instants; span ends: the next chunk's span start, or the end of the
    /// chunk's own presentation (its longest track) when that is later.
    fn finish_places(&self, places: &mut [Place]) {
        for (k, place) in places.iter_mut().enumerate() {
            place.start = place.origin + self.common_lead(k);
        }
        for k in 0..places.len() {
            let p = &places[k];
            let own = p.origin + self.spans[k] + p.inserted();
            places[k].end = match places.get(k + 1) {
                Some(next) => next.span_start.max(own),
                None => own,
            };
        }
    }
    /// The (chunk, track) pairs whose timescale is converted.
    fn rescaled(&self) -> Vec<(usize, usize)> {
        let mut rescaled = Vec::new();
        for k in 0..self.len() {
            for (i, &s) in self.scales.iter().enumerate() {
                if self.track(k, i).timescale.get() != s {
                    rescaled.push((k, i));
                }
            }
        }
        rescaled
    }
}

/// Times every output sample. `windows[k][i]` is chunk k's window on output track i.
///
/// Steps: the derived [`Inputs`]; the master audio track and the chunks' places
/// ([`Master`]), or the places alone without one; every other track from those places
/// ([`follow`]); the places' starts and ends.
pub(super) fn time(
    chunks: &[ChunkInput],
    maps: &[Vec<usize>],
    windows: &[Vec<Window>],
    mode: Mode,
) -> Result<Timing> {
    let cx = Inputs::new(chunks, maps, windows, mode)?;
    let master = cx.master();
    let mut out_tracks: Vec<Option<TrackTiming>> = vec![None; cx.ntracks];
    let (mut places, silence, dropped) = match master {
        Some(a) => {
            let m = Master::new(&cx, a).lay_out()?;
            out_tracks[a] = Some(m.track);
            (m.places, m.silence, m.dropped)
        }
        None => (cx.places_without_master(), Silence::none(), 0),
    };
    for (i, slot) in out_tracks.iter_mut().enumerate() {
        if Some(i) == master {
            continue;
        }
        *slot = Some(follow(&cx, &places, i)?);
    }
    cx.finish_places(&mut places);
    let rescaled = cx.rescaled();
    let tracks = out_tracks
        .into_iter()
        .map(|t| t.ok_or_else(|| overflow("track")))
        .collect::<Result<_>>()?;
    Ok(Timing {
        tracks,
        places,
        silence: silence.block,
        rescaled,
        silent_frames: silence.count,
        dropped_frames: dropped,
    })
}
