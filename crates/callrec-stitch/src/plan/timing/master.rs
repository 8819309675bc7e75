//! The master audio track (the first AAC track): its frames back to back, never re-timed;
//! frames dropped and silent frames inserted at joins, pauses and gaps. Each chunk's
//! [`Place`] is where the master presents it.

use super::{span_start, ticks, to_u32, Inputs, Place, Src, Timed, TrackTiming, View};
use crate::plan::{overflow, silence, unsupported, Q};
use crate::{ChunkInput, Result};
use callrec_mp4::Codec;

/// The most pause and gap time a wall-clock output fills with silent frames (a bound on the
/// output's size and the planner's memory whatever the metadata says).
pub(super) const MAX_SILENCE_SECS: i128 = 24 * 3600;

/// The master's silent frame and its duration in output ticks.
pub(super) struct Silence {
    frame: Option<Vec<u8>>,
    ticks: i128,
    rate: i128,
    limit: i128,
    pub(super) block: Vec<u8>,
    pub(super) count: u64,
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

impl Silence {
    /// No silent frame (no master track).
    pub(super) fn none() -> Self {
        Silence {
            frame: None,
            ticks: 0,
            rate: 1,
            limit: 0,
            block: Vec::new(),
            count: 0,
        }
    }
}

/// What [`Master::lay_out`] decided.
pub(super) struct MasterTiming {
    pub(super) track: TrackTiming,
    pub(super) places: Vec<Place>,
    pub(super) silence: Silence,
    pub(super) dropped: u64,
}

/// Time inserted so far inside one chunk of the master: `exact` is what its gaps ask for,
/// `real` what whole silent frames gave, `shifts` the chunk's [`Place::shifts`].
struct Inserted {
    exact: Q,
    real: Q,
    shifts: Vec<(Q, Q)>,
}

/// Where [`Master::meet_target`] brings a chunk: its origin within half a frame of `target`, and
/// never before `floor` ([`Master::earliest`]).
#[derive(Debug, Clone, Copy)]
struct Goal {
    target: Q,
    floor: Option<Q>,
}

/// The master audio track being laid out: frames back to back, silence where the output
/// waits; each chunk's place is where the master presents it.
pub(super) struct Master<'c, 'a> {
    cx: &'c Inputs<'a>,
    /// Its output track.
    a: usize,
    /// Its output timescale.
    out: i128,
    /// One AAC frame, and half of one, seconds.
    frame: Q,
    half: Q,
    /// Its leading empty time, seconds, and its media time, output ticks.
    e_a: Q,
    m_a: i128,
    silence: Silence,
    samples: Vec<Timed>,
    /// Decode time at the end of `samples`, output ticks.
    end_b: i128,
    dropped: u64,
    places: Vec<Place>,
}

impl<'c, 'a> Master<'c, 'a> {
    pub(super) fn new(cx: &'c Inputs<'a>, a: usize) -> Self {
        let out = i128::from(cx.scales[a]);
        let (rate, channels) = match cx.track(0, a).codec() {
            Some(Codec::Aac(c)) => (c.sample_rate.max(1), c.channels),
            _ => (1, 0),
        };
        let silence = Silence {
            frame: silence::frame(channels),
            rate: i128::from(rate),
            limit: MAX_SILENCE_SECS * i128::from(rate) / 1024,
            ticks: ticks(Q::new(1024, i128::from(rate)), out).max(1),
            block: Vec::new(),
            count: 0,
        };
        let frame = silence.secs(out);
        let e_a = cx.p0 + cx.window(0, a).lead;
        let m_a = cx.view(0, a).r(i128::from(cx.window(0, a).start));
        Master {
            cx,
            a,
            out,
            frame,
            half: frame / 2,
            e_a,
            m_a,
            silence,
            samples: Vec::new(),
            end_b: 0,
            dropped: 0,
            places: Vec::with_capacity(cx.len()),
        }
    }

    pub(super) fn lay_out(mut self) -> Result<MasterTiming> {
        for k in 0..self.cx.len() {
            self.chunk(k)?;
        }
        self.finish()
    }

    /// Output time of the chunk's presentation time 0 if its frame `lo` came next.
    fn origin_of(&self, v: &View, lo: usize) -> Q {
        let b = self.end_b - v.r(v.rel(lo));
        self.e_a - v.w.lead + Q::new(b + v.r(i128::from(v.w.start)) - self.m_a, self.out)
    }

    /// Appends `nf` silent frames for chunk `k`.
    fn silent(&mut self, k: usize, nf: i128) -> Result<()> {
        self.silence
            .insert(&mut self.samples, &self.cx.chunks[k], k, nf)?;
        self.end_b += nf * self.silence.ticks;
        Ok(())
    }

    /// Chunk `k`: its join, its frames with silence at its inner gaps, its place.
    fn chunk(&mut self, k: usize) -> Result<()> {
        let cx = self.cx;
        let v = cx.view(k, self.a);
        if v.len() == 0 {
            // No audio to place it by: right after the previous chunk, or at its own target
            // when that is later (wall-clock and trimmed modes; the next chunk's audio meets
            // its target with silence).
            let after = match self.places.last() {
                Some(p) => p.origin + cx.spans[k - 1] + p.inserted(),
                None => cx.p0,
            };
            let origin = if cx.drop_mode() {
                after.max(cx.targets[k])
            } else {
                after
            };
            self.places.push(Place {
                span_start: origin,
                origin,
                start: origin,
                end: origin,
                shifts: Vec::new(),
            });
            return Ok(());
        }
        let mut lo = 0usize;
        if k > 0 {
            if cx.drop_mode() {
                lo = self.meet_target(k, &v)?;
            } else {
                self.present_lead(k)?;
            }
            self.after_previous(k, &v, lo)?;
        }
        let origin = self.origin_of(&v, lo);
        let shifts = self.frames(k, &v, lo, origin)?;
        let span_start = span_start(&self.places, cx.chunks, k, origin, cx.mode.wall_clock);
        self.places.push(Place {
            span_start,
            origin,
            start: origin,
            end: origin,
            shifts,
        });
        Ok(())
    }

    /// Compact mode: when every track of chunk `k` starts with an empty edit, that lead is
    /// presented (silent frames, the nearest whole number of them; the other tracks wait), as
    /// the chunk itself presents it and as its `chunkDuration` counts it. A lead on some
    /// tracks only is the chunk's own A/V offset: those tracks wait, as everywhere.
    fn present_lead(&mut self, k: usize) -> Result<()> {
        let lead = self.cx.common_lead(k);
        if lead > self.half {
            let nf = (lead / self.frame).round().to_integer();
            self.silent(k, nf)?;
        }
        Ok(())
    }

    /// Brings chunk `k` within half a frame of its target: drops frames when it is late, inserts
    /// silence when it is early. Returns its first kept frame.
    ///
    /// An AAC frame decodes right only after the frame before it (the transform windows overlap
    /// by a frame: the one frame of pre-roll), so a frame may go only where no kept frame
    /// depends on it. While the chunk is late by more than half a frame, in this order: the
    /// previous chunk's frames of end padding (no content: nothing kept after them needs them);
    /// this chunk's priming frames but the last one (the pre-roll of its first content frame:
    /// dropped, that frame would decode without its overlap, a whole frame of content garbled
    /// and a beep at the join starting 31 ms late); then the previous chunk's last frames with
    /// content: the part of a frame that is content and, where this chunk's pre-roll frame is
    /// all priming (the frame the join would otherwise lose), one whole frame, so a join loses
    /// no more than a frame of content, at the end of the previous chunk, decoded right. No
    /// frame goes that would bring the chunk before the previous chunk's other tracks end
    /// ([`Self::earliest`]): that time would come back as silence.
    fn meet_target(&mut self, k: usize, v: &View) -> Result<usize> {
        let target = self.cx.targets[k];
        let goal = Goal {
            target,
            floor: self.earliest(k),
        };
        self.drop_tail(k, v, goal, 0, false);
        let mut lo = 0usize;
        while lo + 1 < v.len()
            && v.pts(lo + 1) + v.dur(lo + 1) <= i128::from(v.w.start)
            && self.worth(self.origin_of(v, lo), self.origin_of(v, lo + 1), goal)
        {
            lo += 1;
            self.dropped += 1;
        }
        let preroll = usize::from(v.pts(lo) + v.dur(lo) <= i128::from(v.w.start));
        self.drop_tail(k, v, goal, preroll, true);
        // Too early: silence.
        let early = target - self.origin_of(v, lo);
        if early > self.half {
            let nf = (early / self.frame).round().to_integer();
            self.silent(k, nf)?;
        }
        Ok(lo)
    }

    /// Whether a drop that moves the chunk's origin from `now` to `after` is worth it: the chunk
    /// is late by more than half a frame and stays at or after the goal's floor.
    fn worth(&self, now: Q, after: Q, goal: Goal) -> bool {
        now - goal.target > self.half && goal.floor.is_none_or(|f| after >= f)
    }

    /// Drops the previous chunk's last frames while chunk `k` is late ([`Self::meet_target`]):
    /// frames of end padding; with `content`, also a frame partly content and up to `whole`
    /// frames all content. Keeps at least one frame of the previous chunk.
    fn drop_tail(&mut self, k: usize, v: &View, goal: Goal, mut whole: usize, content: bool) {
        let prev = self.cx.view(k - 1, self.a);
        while let Some(&last) = self.samples.last() {
            let Src::Sample(j) = last.src else { break };
            let first_kept = self
                .samples
                .iter()
                .rposition(|s| s.chunk != k - 1)
                .map_or(0, |p| p + 1);
            if last.chunk != k - 1 || self.samples.len() - first_kept <= 1 {
                break;
            }
            let now = self.origin_of(v, 0);
            let after = now - Q::new(i128::from(last.duration), self.out);
            if !self.worth(now, after, goal) {
                break;
            }
            // Its content: from its start to the end of the chunk's presentation.
            let c = Q::new(i128::from(prev.w.end) - prev.pts(j), prev.ts);
            if c > Q::default() && !content {
                break;
            }
            if c >= self.frame {
                if whole == 0 {
                    break;
                }
                whole -= 1;
            }
            self.end_b -= i128::from(last.duration);
            self.samples.pop();
            self.dropped += 1;
        }
    }

    /// The earliest origin chunk `k` may have: no track of it may start before the previous
    /// chunk's end on that track (in trim and wall-clock modes, within half a frame).
    fn earliest(&self, k: usize) -> Option<Q> {
        let cx = self.cx;
        let prev = &self.places[k - 1];
        let shift = prev.inserted();
        let need = (0..cx.ntracks)
            .filter(|&i| {
                i != self.a
                    && !cx.track(k - 1, i).samples.is_empty()
                    && !cx.track(k, i).samples.is_empty()
            })
            .map(|i| {
                let pw = cx.window(k - 1, i);
                prev.origin + pw.lead + pw.media(cx.track(k - 1, i).timescale.get()) + shift
                    - cx.window(k, i).lead
            })
            .max()?;
        let tol = if cx.drop_mode() {
            self.half
        } else {
            Q::default()
        };
        Some(need - tol)
    }

    /// No track of chunk `k` may start before the previous chunk's end on that track:
    /// silence until none does.
    fn after_previous(&mut self, k: usize, v: &View, lo: usize) -> Result<()> {
        if let Some(earliest) = self.earliest(k) {
            let short = earliest - self.origin_of(v, lo);
            if short > Q::default() {
                let nf = (short / self.frame).ceil().to_integer();
                self.silent(k, nf)?;
            }
        }
        Ok(())
    }

    /// Chunk `k`'s frames from `lo`, with silence at its inner gaps and at the gaps after its
    /// last frame. Returns the chunk's shifts.
    fn frames(&mut self, k: usize, v: &View, lo: usize, origin: Q) -> Result<Vec<(Q, Q)>> {
        let cx = self.cx;
        // Inserted time keeps the chunk's stretches at their targets: the error of the
        // chunk's start is made up at its first gap (trim and wall-clock modes).
        let mut ins = Inserted {
            exact: if cx.drop_mode() && k > 0 {
                cx.targets[k] - origin
            } else {
                Q::default()
            },
            real: Q::default(),
            shifts: Vec::new(),
        };
        let mut gi = cx.gaps[k].iter().peekable();
        for j in lo..v.len() {
            while let Some(&&(m, d)) = gi.peek() {
                // The gap goes before the first frame presented at or after it (a frame
                // that straddles it plays whole before the gap), as on the other tracks.
                if v.offset(j) < m {
                    break;
                }
                gi.next();
                self.gap(k, &mut ins, m, d)?;
            }
            self.frame(k, v, j)?;
        }
        // Gaps at the chunk's end: silence after its last frame.
        let media = v.w.media(v.t.timescale.get()).max(Q::default());
        for &(_, d) in gi {
            self.gap(k, &mut ins, media, d)?;
        }
        Ok(ins.shifts)
    }

    /// A gap of `d` seconds at media offset `at`: whole silent frames, the rounding error
    /// carried to the next gap.
    fn gap(&mut self, k: usize, ins: &mut Inserted, at: Q, d: Q) -> Result<()> {
        ins.exact += d;
        let nf = ((ins.exact - ins.real) / self.frame)
            .round()
            .to_integer()
            .max(0);
        self.silent(k, nf)?;
        ins.real += Q::new(nf * self.silence.ticks, self.out);
        ins.shifts.push((at, ins.real));
        Ok(())
    }

    /// Frame `j` of chunk `k`, and silence for a jump in the chunk's decode times after it.
    fn frame(&mut self, k: usize, v: &View, j: usize) -> Result<()> {
        // Every AAC frame decodes to a whole frame of samples, whatever its `stts`
        // delta says (an encoder gives the last frame of a chunk the length of its
        // content only): the output gives each frame its whole length, so the
        // timestamps are what a player hears decoding them back to back.
        let dts = self.end_b;
        let cts = v.r(v.pts(j)) - v.r(v.rel(j));
        self.samples.push(Timed {
            chunk: k,
            src: Src::Sample(j),
            duration: to_u32(self.silence.ticks, "sample duration")?,
            cts: i32::try_from(cts).map_err(|_| overflow("composition offset"))?,
        });
        self.end_b = dts + self.silence.ticks;
        // A jump in the chunk's own decode times (a dropout) is silence too.
        if j + 1 < v.len() {
            let step = v.r(v.rel(j + 1)) - v.r(v.rel(j));
            let nf = Q::new(step - self.silence.ticks, self.silence.ticks)
                .round()
                .to_integer();
            if nf > 0 {
                self.silent(k, nf)?;
            }
        }
        Ok(())
    }

    /// The master's track timing, the places, the silence block.
    fn finish(self) -> Result<MasterTiming> {
        let cx = self.cx;
        let a = self.a;
        let last = (0..cx.len())
            .rev()
            .find(|&k| !cx.track(k, a).samples.is_empty());
        let media_end = match last {
            Some(k) => {
                let v = cx.view(k, a);
                let shift = self.places[k].inserted();
                ticks(
                    self.places[k].origin + v.w.lead - self.e_a + shift,
                    self.out,
                ) + self.m_a
                    + v.r(i128::from(v.w.end) - i128::from(v.w.start))
            }
            None => self.m_a,
        };
        let media_duration = self.samples.iter().map(|s| u64::from(s.duration)).sum();
        let track = TrackTiming {
            timescale: cx.scales[a],
            samples: self.samples,
            lead_empty: self.e_a,
            media_time: i64::try_from(self.m_a).map_err(|_| overflow("media time"))?,
            media_end: i64::try_from(media_end).map_err(|_| overflow("media time"))?,
            media_duration,
        };
        Ok(MasterTiming {
            track,
            places: self.places,
            silence: self.silence,
            dropped: self.dropped,
        })
    }
}
