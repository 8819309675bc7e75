//! Every track but the master, laid out to present each chunk from its [`Place`]: the last
//! frame of a chunk lasts until the next chunk's first, composition offsets carry each
//! chunk's B-frame delay, inserted time splits the chunk in decode order.

use super::{ticks, to_u32, Inputs, Place, Src, Timed, TrackTiming, View};
use crate::plan::{kind_name, overflow, unsupported, Q};
use crate::Result;
use callrec_mp4::TrackKind;

/// Where a chunk's inserted time starts applying on a followed track.
#[derive(Debug, Clone, Copy)]
struct Split {
    /// First sample decoded after it.
    sample: usize,
    /// Media offset of the gap, seconds.
    at: Q,
    /// Cumulative inserted seconds from there on.
    inserted: Q,
}

/// Decode-order splits: a sample decoded before a gap's split but presented after it keeps
/// its decode time and gets a larger composition offset.
fn splits(v: &View, p: &Place) -> Vec<Split> {
    p.shifts
        .iter()
        .map(|&(at, inserted)| {
            let sample = (0..v.len())
                .rev()
                .find(|&j| v.offset(j) < at)
                .map_or(0, |j| j + 1);
            Split {
                sample,
                at,
                inserted,
            }
        })
        .collect()
}

/// Time inserted before sample `j`'s decode time.
fn decode_shift(splits: &[Split], j: usize) -> Option<Q> {
    splits
        .iter()
        .rev()
        .find(|x| x.sample <= j)
        .map(|x| x.inserted)
}

/// A track other than the master, being laid out to present each chunk from its place.
struct Follower<'c, 'a> {
    cx: &'c Inputs<'a>,
    /// Its output track.
    i: usize,
    /// Its output timescale.
    out: i128,
    kind: TrackKind,
    audio: bool,
    /// Its leading empty time, seconds.
    e_i: Q,
    /// Video: one composition delay for the whole track.
    delay: i128,
    /// Its media time, output ticks.
    m_i: i128,
    samples: Vec<Timed>,
    dts_list: Vec<i128>,
    media_end: i128,
}

/// Track `i` (not the master) laid out to present each chunk from its place.
pub(super) fn follow(cx: &Inputs, places: &[Place], i: usize) -> Result<TrackTiming> {
    // Each chunk's start in output ticks, when it has samples.
    let starts: Vec<Option<i128>> = (0..cx.len())
        .map(|k| {
            let v = cx.view(k, i);
            (v.len() > 0).then(|| v.r(i128::from(cx.window(k, i).start)))
        })
        .collect();
    let kind = cx.track(0, i).kind;
    let audio = kind == TrackKind::Audio;
    // Video: one composition delay for the whole track (the largest chunk's), so each chunk's
    // first frame can be decoded after the previous chunk's last.
    let delay = starts.iter().flatten().copied().max().unwrap_or(0);
    let first_start = starts.iter().flatten().copied().next().unwrap_or(0);
    let m_i = if audio { first_start } else { delay };
    let mut f = Follower {
        cx,
        i,
        out: i128::from(cx.scales[i]),
        kind,
        audio,
        e_i: cx.p0 + cx.window(0, i).lead,
        delay,
        m_i,
        samples: Vec::new(),
        dts_list: Vec::new(),
        media_end: m_i,
    };
    for (k, start) in starts.iter().enumerate() {
        if let Some(start_r) = *start {
            f.chunk(k, start_r, &places[k])?;
        }
    }
    f.finish()
}

impl Follower<'_, '_> {
    /// Chunk `k`'s samples, presented from its place `p`.
    fn chunk(&mut self, k: usize, start_r: i128, p: &Place) -> Result<()> {
        let v = self.cx.view(k, self.i);
        let out = self.out;
        let cts_shift = if self.audio { 0 } else { self.delay - start_r };
        let mut base = ticks(p.origin + v.w.lead - self.e_i, out)
            + if self.audio { self.m_i - start_r } else { 0 };
        if let Some(&last) = self.dts_list.last() {
            if base + v.r(v.rel(0)) <= last {
                base = last + 1 - v.r(v.rel(0));
            }
        }
        let splits = splits(&v, p);
        for j in 0..v.len() {
            self.sample(k, &v, j, base, cts_shift, &splits)?;
        }
        let shift = p.inserted();
        self.media_end = base + v.r(i128::from(v.w.end)) + cts_shift + ticks(shift, out);
        // The last sample's own duration, for the last chunk.
        let j = v.len() - 1;
        let tail = ticks(shift, out) - decode_shift(&splits, j).map_or(0, |s| ticks(s, out));
        let own = v.r(v.rel(j) + v.dur(j)) - v.r(v.rel(j)) + tail;
        if let Some(s) = self.samples.last_mut() {
            s.duration = to_u32(own.max(1), "sample duration")?;
        }
        Ok(())
    }

    /// Sample `j` of chunk `k`, decoded from `base` and presented `cts_shift` later, each
    /// shifted by the time inserted before it.
    fn sample(
        &mut self,
        k: usize,
        v: &View,
        j: usize,
        base: i128,
        cts_shift: i128,
        splits: &[Split],
    ) -> Result<()> {
        let out = self.out;
        let off = v.offset(j);
        let pshift = splits
            .iter()
            .rev()
            .find(|x| x.at <= off)
            .map(|x| x.inserted)
            .unwrap_or_default();
        let dshift = decode_shift(splits, j).unwrap_or_default();
        let mut dts = base + v.r(v.rel(j)) + ticks(dshift, out);
        if let Some(&last) = self.dts_list.last() {
            dts = dts.max(last + 1);
        }
        let pts = base + v.r(v.pts(j)) + cts_shift + ticks(pshift, out);
        let cts = i32::try_from(pts - dts).map_err(|_| {
            unsupported(
                &self.cx.chunks[k],
                format!(
                    "{} track {}: sample {j}'s composition offset does not fit 32 bits",
                    kind_name(self.kind),
                    v.t.id
                ),
            )
        })?;
        self.samples.push(Timed {
            chunk: k,
            src: Src::Sample(j),
            duration: 0,
            cts,
        });
        self.dts_list.push(dts);
        Ok(())
    }

    /// Every sample's duration from the next one's decode time; the track timing.
    fn finish(mut self) -> Result<TrackTiming> {
        let out = self.out;
        let count = self.samples.len();
        for x in 0..count.saturating_sub(1) {
            let d = self.dts_list[x + 1] - self.dts_list[x];
            self.samples[x].duration = u32::try_from(d).map_err(|_| {
                // A jump this long is a pause or the gap before a chunk: name the chunk it
                // is in.
                let k = self.samples[x + 1].chunk;
                unsupported(
                    &self.cx.chunks[k],
                    format!(
                        "{} track {}: a pause or gap of {} s does not fit a sample duration \
                         (32 bits: {} s at most at timescale {out})",
                        kind_name(self.kind),
                        self.cx.track(k, self.i).id,
                        d / out,
                        i128::from(u32::MAX) / out
                    ),
                )
            })?;
        }
        let media_duration = match (
            self.dts_list.first(),
            self.dts_list.last(),
            self.samples.last(),
        ) {
            (Some(a), Some(b), Some(s)) => {
                u64::try_from(b - a + i128::from(s.duration)).unwrap_or(u64::MAX)
            }
            _ => 0,
        };
        Ok(TrackTiming {
            timescale: self.cx.scales[self.i],
            samples: self.samples,
            lead_empty: self.e_i,
            media_time: i64::try_from(self.m_i).map_err(|_| overflow("media time"))?,
            media_end: i64::try_from(self.media_end).map_err(|_| overflow("media time"))?,
            media_duration,
        })
    }
}
