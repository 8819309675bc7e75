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

use callrec_mp4::{Codec, Track, TrackKind};

use super::{kind_name, overflow, silence, unsupported, MAX_TIMESCALE, Q};
use crate::{ChunkInput, Result};
use callrec_mp4::present::Window;

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
    /// Drop whole priming/padding frames at joins to keep chunk starts within half a frame of
    /// their target (always in wall-clock mode).
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
    let mut targets = Vec::with_capacity(chunks.len());
    let mut at = gap_before(&chunks[0], wall);
    for k in 0..chunks.len() {
        if k > 0 {
            let inner: Q = gaps[k - 1].iter().map(|g| g.1).sum();
            at += spans[k - 1] + inner + gap_before(&chunks[k], wall);
        }
        targets.push(at);
    }
    let starts: Option<Vec<Q>> = chunks
        .iter()
        .map(|c| c.wall_start_us.map(|us| Q::new(i128::from(us), 1_000_000)))
        .collect();
    if let Some(starts) = starts.filter(|_| wall) {
        targets = starts;
    }
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

/// The most pause and gap time a wall-clock output fills with silent frames (a bound on the
/// output's size and the planner's memory whatever the metadata says).
const MAX_SILENCE_SECS: i128 = 24 * 3600;

/// The master's silent frame and its duration in output ticks.
struct Silence {
    frame: Option<Vec<u8>>,
    ticks: i128,
    rate: i128,
    limit: i128,
    block: Vec<u8>,
    count: u64,
}

impl Silence {
    fn secs(&self, out: i128) -> Q {
        Q::new(self.ticks, out)
    }
    /// Appends `n` silent frames to `samples`, for chunk `chunk`; without a silent frame for
    /// the codec, the last sample lasts longer instead (a timestamp gap).
    fn insert(
        &mut self,
        samples: &mut Vec<Timed>,
        c: &ChunkInput,
        chunk: usize,
        n: i128,
    ) -> Result<()> {
        if n <= 0 {
            return Ok(());
        }
        if self.frame.is_some() && i128::from(self.count) + n > self.limit {
            return Err(unsupported(
                c,
                format!(
                    "a pause or gap of {} s: the output fills at most {} h of pauses and gaps \
                     with silence",
                    n * 1024 / self.rate,
                    MAX_SILENCE_SECS / 3600
                ),
            ));
        }
        match &self.frame {
            Some(f) => {
                for _ in 0..n {
                    samples.push(Timed {
                        chunk,
                        src: Src::Silence {
                            at: self.block.len() as u64,
                            size: f.len() as u32,
                        },
                        duration: to_u32(self.ticks, "silent frame")?,
                        cts: 0,
                    });
                    self.block.extend_from_slice(f);
                    self.count += 1;
                }
            }
            None => {
                let last = samples
                    .last_mut()
                    .ok_or_else(|| overflow("timestamp gap"))?;
                let d = i128::from(last.duration) + n * self.ticks;
                last.duration = to_u32(d, "timestamp gap")?;
            }
        }
        Ok(())
    }
}

/// Times every output sample. `windows[k][i]` is chunk k's window on output track i.
pub(super) fn time(
    chunks: &[ChunkInput],
    maps: &[Vec<usize>],
    windows: &[Vec<Window>],
    mode: Mode,
) -> Result<Timing> {
    let n = chunks.len();
    let ntracks = maps.first().map_or(0, Vec::len);
    let track = |k: usize, i: usize| &chunks[k].movie.tracks[maps[k][i]];
    let scales: Vec<u32> = (0..ntracks)
        .map(|i| out_timescale(chunks, maps, i))
        .collect();
    let drop_mode = mode.trim || mode.wall_clock;
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
    let master = (0..ntracks).find(|&i| {
        track(0, i).kind == TrackKind::Audio && matches!(track(0, i).codec(), Some(Codec::Aac(_)))
    });

    let mut places: Vec<Place> = Vec::with_capacity(n);
    let mut out_tracks: Vec<Option<TrackTiming>> = vec![None; ntracks];
    let mut silence = Silence {
        frame: None,
        ticks: 0,
        rate: 1,
        limit: 0,
        block: Vec::new(),
        count: 0,
    };
    let mut dropped = 0u64;

    // The master: frames back to back, silence where the output waits.
    if let Some(a) = master {
        let out = i128::from(scales[a]);
        let (rate, channels) = match track(0, a).codec() {
            Some(Codec::Aac(c)) => (c.sample_rate.max(1), c.channels),
            _ => (1, 0),
        };
        silence.frame = silence::frame(channels);
        silence.rate = i128::from(rate);
        silence.limit = MAX_SILENCE_SECS * i128::from(rate) / 1024;
        silence.ticks = ticks(Q::new(1024, i128::from(rate)), out).max(1);
        let frame = silence.secs(out);
        let half = frame / 2;
        let e_a = p0 + windows[0][a].lead;
        let m_a =
            View::new(track(0, a), &windows[0][a], scales[a]).r(i128::from(windows[0][a].start));
        let mut samples: Vec<Timed> = Vec::new();
        let mut end_b: i128 = 0;
        for k in 0..n {
            let v = View::new(track(k, a), &windows[k][a], scales[a]);
            let w = &windows[k][a];
            if v.len() == 0 {
                let origin = match places.last() {
                    Some(p) => p.origin + spans[k - 1] + p.inserted(),
                    None => p0,
                };
                places.push(Place {
                    span_start: origin,
                    origin,
                    start: origin,
                    end: origin,
                    shifts: Vec::new(),
                });
                continue;
            }
            let mut lo = 0usize;
            let origin_of = |end_b: i128, lo: usize| {
                let b = end_b - v.r(v.rel(lo));
                e_a - w.lead + Q::new(b + v.r(i128::from(w.start)) - m_a, out)
            };
            if k > 0 {
                let target = targets[k];
                if drop_mode {
                    // Too late: drop frames of the previous chunk's end padding (a frame partly
                    // content loses that part: less than a frame), then of this chunk's
                    // priming (its first content frame then decodes without the overlap the
                    // priming frame gives it: a whole frame of content garbled, so last).
                    while origin_of(end_b, lo) - target > half {
                        let Some(last) = samples.last() else { break };
                        let Src::Sample(j) = last.src else { break };
                        if last.chunk != k - 1 {
                            break;
                        }
                        let pv = View::new(track(k - 1, a), &windows[k - 1][a], scales[a]);
                        // Its content: from its start to the end of the chunk's presentation.
                        let content = Q::new(i128::from(windows[k - 1][a].end) - pv.pts(j), pv.ts);
                        let first_kept = samples
                            .iter()
                            .rposition(|s| s.chunk != k - 1)
                            .map_or(0, |p| p + 1);
                        if content >= frame || samples.len() - first_kept <= 1 {
                            break;
                        }
                        end_b -= i128::from(last.duration);
                        samples.pop();
                        dropped += 1;
                    }
                    while origin_of(end_b, lo) - target > half
                        && lo + 1 < v.len()
                        && v.pts(lo) + v.dur(lo) <= i128::from(w.start)
                    {
                        lo += 1;
                        dropped += 1;
                    }
                    // Too early: silence.
                    let early = target - origin_of(end_b, lo);
                    if early > half {
                        let nf = (early / frame).round().to_integer();
                        silence.insert(&mut samples, &chunks[k], k, nf)?;
                        end_b += nf * silence.ticks;
                    }
                }
                // No track of chunk k may start before the previous chunk's end on that track.
                let prev = &places[k - 1];
                let shift = prev.inserted();
                let need = (0..ntracks)
                    .filter(|&i| {
                        i != a
                            && !track(k - 1, i).samples.is_empty()
                            && !track(k, i).samples.is_empty()
                    })
                    .map(|i| {
                        let pw = &windows[k - 1][i];
                        prev.origin + pw.lead + pw.media(track(k - 1, i).timescale.get()) + shift
                            - windows[k][i].lead
                    })
                    .max();
                if let Some(need) = need {
                    let tol = if drop_mode { half } else { Q::default() };
                    let short = need - tol - origin_of(end_b, lo);
                    if short > Q::default() {
                        let nf = (short / frame).ceil().to_integer();
                        silence.insert(&mut samples, &chunks[k], k, nf)?;
                        end_b += nf * silence.ticks;
                    }
                }
            }
            let origin = origin_of(end_b, lo);
            // The chunk's frames, with silence at its inner gaps.
            let mut shifts = Vec::new();
            // Inserted time keeps the chunk's stretches at their targets: the error of the
            // chunk's start is made up at its first gap (trim and wall-clock modes).
            let mut exact = if drop_mode && k > 0 {
                targets[k] - origin
            } else {
                Q::default()
            };
            let mut real = Q::default();
            let mut gi = gaps[k].iter().peekable();
            for j in lo..v.len() {
                while let Some(&&(m, d)) = gi.peek() {
                    // The gap goes before the first frame presented at or after it (a frame
                    // that straddles it plays whole before the gap), as on the other tracks.
                    if v.offset(j) < m {
                        break;
                    }
                    gi.next();
                    exact += d;
                    let nf = ((exact - real) / frame).round().to_integer().max(0);
                    silence.insert(&mut samples, &chunks[k], k, nf)?;
                    end_b += nf * silence.ticks;
                    real += Q::new(nf * silence.ticks, out);
                    shifts.push((m, real));
                }
                // Every AAC frame decodes to a whole frame of samples, whatever its `stts`
                // delta says (an encoder gives the last frame of a chunk the length of its
                // content only): the output gives each frame its whole length, so the
                // timestamps are what a player hears decoding them back to back.
                let dts = end_b;
                let cts = v.r(v.pts(j)) - v.r(v.rel(j));
                samples.push(Timed {
                    chunk: k,
                    src: Src::Sample(j),
                    duration: to_u32(silence.ticks, "sample duration")?,
                    cts: i32::try_from(cts).map_err(|_| overflow("composition offset"))?,
                });
                end_b = dts + silence.ticks;
                // A jump in the chunk's own decode times (a dropout) is silence too.
                if j + 1 < v.len() {
                    let step = v.r(v.rel(j + 1)) - v.r(v.rel(j));
                    let nf = Q::new(step - silence.ticks, silence.ticks)
                        .round()
                        .to_integer();
                    if nf > 0 {
                        silence.insert(&mut samples, &chunks[k], k, nf)?;
                        end_b += nf * silence.ticks;
                    }
                }
            }
            // Gaps at the chunk's end: silence after its last frame.
            for &(_, d) in gi {
                exact += d;
                let nf = ((exact - real) / frame).round().to_integer().max(0);
                silence.insert(&mut samples, &chunks[k], k, nf)?;
                end_b += nf * silence.ticks;
                real += Q::new(nf * silence.ticks, out);
                shifts.push((w.media(track(k, a).timescale.get()).max(Q::default()), real));
            }
            let span_start = span_start(&places, chunks, k, origin, mode.wall_clock);
            places.push(Place {
                span_start,
                origin,
                start: origin,
                end: origin,
                shifts,
            });
        }
        let last = (0..n).rev().find(|&k| !track(k, a).samples.is_empty());
        let media_end = match last {
            Some(k) => {
                let v = View::new(track(k, a), &windows[k][a], scales[a]);
                let lead = windows[k][a].lead;
                let shift = places[k].inserted();
                ticks(places[k].origin + lead - e_a + shift, out)
                    + m_a
                    + v.r(i128::from(windows[k][a].end) - i128::from(windows[k][a].start))
            }
            None => m_a,
        };
        let media_duration = samples.iter().map(|s| u64::from(s.duration)).sum();
        out_tracks[a] = Some(TrackTiming {
            timescale: scales[a],
            samples,
            lead_empty: e_a,
            media_time: i64::try_from(m_a).map_err(|_| overflow("media time"))?,
            media_end: i64::try_from(media_end).map_err(|_| overflow("media time"))?,
            media_duration,
        });
    } else {
        // No audio to follow: chunks back to back (wall clock: at their targets), inner gaps
        // exact.
        for k in 0..n {
            let origin = if k == 0 {
                p0
            } else {
                let p = &places[k - 1];
                let natural = p.origin + spans[k - 1] + p.inserted();
                if mode.wall_clock {
                    natural.max(targets[k])
                } else {
                    natural
                }
            };
            let mut real = Q::default();
            let shifts = gaps[k]
                .iter()
                .map(|&(m, d)| {
                    real += d;
                    (m, real)
                })
                .collect();
            let span_start = span_start(&places, chunks, k, origin, mode.wall_clock);
            places.push(Place {
                span_start,
                origin,
                start: origin,
                end: origin,
                shifts,
            });
        }
    }

    // Every other track presents each chunk from its place.
    for i in 0..ntracks {
        if Some(i) == master {
            continue;
        }
        out_tracks[i] = Some(follow(chunks, maps, windows, &places, i, scales[i], p0)?);
    }

    // First media instants; span ends: the next chunk's span start; the last chunk's, its
    // longest track.
    for k in 0..n {
        let lead = (0..ntracks)
            .filter(|&i| !track(k, i).samples.is_empty())
            .map(|i| windows[k][i].lead)
            .min()
            .unwrap_or_default();
        places[k].start = places[k].origin + lead;
    }
    for k in 0..n {
        places[k].end = match places.get(k + 1) {
            Some(p) => p.span_start,
            None => {
                let p = &places[k];
                let shift = p.inserted();
                p.origin + spans[k] + shift
            }
        };
    }
    let mut rescaled = Vec::new();
    for k in 0..n {
        for (i, &s) in scales.iter().enumerate() {
            if track(k, i).timescale.get() != s {
                rescaled.push((k, i));
            }
        }
    }
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

/// Track `i` (not the master) laid out to present each chunk from its place.
#[allow(clippy::too_many_arguments)]
fn follow(
    chunks: &[ChunkInput],
    maps: &[Vec<usize>],
    windows: &[Vec<Window>],
    places: &[Place],
    i: usize,
    scale: u32,
    p0: Q,
) -> Result<TrackTiming> {
    let n = chunks.len();
    let out = i128::from(scale);
    let track = |k: usize| &chunks[k].movie.tracks[maps[k][i]];
    let kind = track(0).kind;
    let audio = kind == TrackKind::Audio;
    let e_i = p0 + windows[0][i].lead;
    let starts: Vec<Option<i128>> = (0..n)
        .map(|k| {
            let v = View::new(track(k), &windows[k][i], scale);
            (v.len() > 0).then(|| v.r(i128::from(windows[k][i].start)))
        })
        .collect();
    // Video: one composition delay for the whole track (the largest chunk's), so each chunk's
    // first frame can be decoded after the previous chunk's last.
    let delay = starts.iter().flatten().copied().max().unwrap_or(0);
    let first_start = starts.iter().flatten().copied().next().unwrap_or(0);
    let m_i = if audio { first_start } else { delay };
    let mut samples: Vec<Timed> = Vec::new();
    let mut dts_list: Vec<i128> = Vec::new();
    let mut media_end = m_i;
    for k in 0..n {
        let v = View::new(track(k), &windows[k][i], scale);
        let Some(start_r) = starts[k] else { continue };
        let w = &windows[k][i];
        let p = &places[k];
        let cts_shift = if audio { 0 } else { delay - start_r };
        let mut base = ticks(p.origin + w.lead - e_i, out) + if audio { m_i - start_r } else { 0 };
        if let Some(&last) = dts_list.last() {
            if base + v.r(v.rel(0)) <= last {
                base = last + 1 - v.r(v.rel(0));
            }
        }
        // Decode-order splits: a sample decoded before a gap's split but presented after it
        // keeps its decode time and gets a larger composition offset.
        let splits: Vec<(usize, Q, Q)> = p
            .shifts
            .iter()
            .map(|&(b, s)| {
                let split = (0..v.len())
                    .rev()
                    .find(|&j| v.offset(j) < b)
                    .map_or(0, |j| j + 1);
                (split, b, s)
            })
            .collect();
        for j in 0..v.len() {
            let off = v.offset(j);
            let pshift = splits
                .iter()
                .rev()
                .find(|x| x.1 <= off)
                .map(|x| x.2)
                .unwrap_or_default();
            let dshift = splits
                .iter()
                .rev()
                .find(|x| x.0 <= j)
                .map(|x| x.2)
                .unwrap_or_default();
            let mut dts = base + v.r(v.rel(j)) + ticks(dshift, out);
            if let Some(&last) = dts_list.last() {
                dts = dts.max(last + 1);
            }
            let pts = base + v.r(v.pts(j)) + cts_shift + ticks(pshift, out);
            let cts = i32::try_from(pts - dts).map_err(|_| {
                unsupported(
                    &chunks[k],
                    format!(
                        "{} track {}: sample {j}'s composition offset does not fit 32 bits",
                        kind_name(kind),
                        track(k).id
                    ),
                )
            })?;
            samples.push(Timed {
                chunk: k,
                src: Src::Sample(j),
                duration: 0,
                cts,
            });
            dts_list.push(dts);
        }
        let shift = p.inserted();
        media_end = base + v.r(i128::from(w.end)) + cts_shift + ticks(shift, out);
        // The last sample's own duration, for the last chunk.
        let j = v.len() - 1;
        let tail = ticks(shift, out)
            - splits
                .iter()
                .rev()
                .find(|x| x.0 <= j)
                .map(|x| ticks(x.2, out))
                .unwrap_or(0);
        let own = v.r(v.rel(j) + v.dur(j)) - v.r(v.rel(j)) + tail;
        if let Some(s) = samples.last_mut() {
            s.duration = to_u32(own.max(1), "sample duration")?;
        }
    }
    let count = samples.len();
    for x in 0..count.saturating_sub(1) {
        let d = dts_list[x + 1] - dts_list[x];
        samples[x].duration = u32::try_from(d).map_err(|_| {
            // A jump this long is a pause or the gap before a chunk: name the chunk it is in.
            let k = samples[x + 1].chunk;
            let c = &chunks[k];
            unsupported(
                c,
                format!(
                    "{} track {}: a pause or gap of {} s does not fit a sample duration (32 \
                     bits: {} s at most at timescale {scale})",
                    kind_name(kind),
                    c.movie.tracks[maps[k][i]].id,
                    d / out,
                    i128::from(u32::MAX) / out
                ),
            )
        })?;
    }
    let media_duration = match (dts_list.first(), dts_list.last(), samples.last()) {
        (Some(a), Some(b), Some(s)) => {
            u64::try_from(b - a + i128::from(s.duration)).unwrap_or(u64::MAX)
        }
        _ => 0,
    };
    Ok(TrackTiming {
        timescale: scale,
        samples,
        lead_empty: e_i,
        media_time: i64::try_from(m_i).map_err(|_| overflow("media time"))?,
        media_end: i64::try_from(media_end).map_err(|_| overflow("media time"))?,
        media_duration,
    })
}
