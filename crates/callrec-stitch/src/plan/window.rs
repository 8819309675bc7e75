//! What one chunk presents on one track: the presentation model the planner builds on.
//!
//! A [`Window`] is a chunk track's presentation reduced to what a continuous output needs: how
//! long the track waits at the chunk's start (its leading empty edits), the media it presents
//! (from `start` to `end`, composition times relative to the chunk's first decode time) and the
//! empty time inside it (empty edits after media). Edit lists with rate 1 only.

use callrec_mp4::{Codec, Track, TrackKind};

use super::{kind_name, overflow, unsupported, Q};
use crate::{ChunkInput, Result};

/// AAC priming ffmpeg's encoder writes, in samples, assumed for edit-less chunks.
pub(super) const AAC_PRIMING: i128 = 1024;

/// One chunk's presentation on one track.
#[derive(Debug, Clone)]
pub(super) struct Window {
    /// Seconds of the chunk's presentation before this track's media starts.
    pub lead: Q,
    /// First presented composition time, track ticks relative to the chunk's first decode time
    /// (after `trim`).
    pub start: i64,
    /// End of the presented media, same clock.
    pub end: i64,
    /// Ticks taken off the first sample's duration (ffmpeg's stretched first video frame); every
    /// later sample moves as much earlier.
    pub trim: u32,
    /// Empty time inside the presentation: (media offset from `start`, duration), in seconds.
    pub gaps: Vec<(Q, Q)>,
}

impl Window {
    /// Presented media duration in seconds.
    pub fn media(&self, ts: u32) -> Q {
        Q::new(i128::from(self.end - self.start), i128::from(ts))
    }
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

/// The AAC sample rate that decides the priming of an edit-less chunk (`None` when the chunk
/// has an edit list on any track, or no AAC track).
pub(super) fn lead_rate(c: &ChunkInput) -> Option<u32> {
    if !c.movie.tracks.iter().all(|t| t.edits.is_empty()) {
        return None;
    }
    c.movie.tracks.iter().find_map(|t| match t.codec() {
        Some(Codec::Aac(a)) if t.kind == TrackKind::Audio => Some(a.sample_rate),
        _ => None,
    })
}

/// What chunk `c`'s track `t` presents (see the crate docs, *What is presented*).
pub(super) fn window(c: &ChunkInput, t: &Track, lead_rate: Option<u32>) -> Result<Window> {
    let empty = Window {
        lead: Q::from_integer(0),
        start: 0,
        end: 0,
        trim: 0,
        gaps: Vec::new(),
    };
    let Some(x) = extent(t) else {
        if t.samples.is_empty() {
            return Ok(empty);
        }
        return Err(overflow("presentation time"));
    };
    let ts = i128::from(t.timescale.get());
    if t.edits.is_empty() {
        return edit_less(t, &x, lead_rate, ts);
    }
    let movie_ts = i128::from(c.movie.timescale.get());
    let d0 = i64::try_from(x.d0).map_err(|_| overflow("decode time"))?;
    let n = t.edits.len();
    let mut w = empty;
    let mut media_seen = false;
    let mut pos = Q::from_integer(0); // media presented so far, seconds
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
        let dur = Q::new(i128::from(e.segment_duration), movie_ts);
        let Some(m) = e.media_time else {
            if e.segment_duration == 0 {
                continue;
            }
            if media_seen {
                w.gaps.push((pos, dur));
            } else {
                w.lead += dur;
            }
            continue;
        };
        let m = m.checked_sub(d0).ok_or_else(|| overflow("media time"))?;
        let len = if e.segment_duration == 0 {
            // Zero duration on the last media edit: "to the end of the media" (fragmented
            // files); otherwise nothing.
            if j + 1 != n || x.end_pts <= m {
                continue;
            }
            x.end_pts - m
        } else {
            i64::try_from((dur * ts).round().to_integer()).map_err(|_| overflow("edit"))?
        };
        if !media_seen {
            w.start = m;
            media_seen = true;
        }
        w.end = m.checked_add(len).ok_or_else(|| overflow("edit"))?;
        pos += Q::new(i128::from(len), ts);
    }
    if !media_seen {
        w.start = x.min_pts;
        w.end = x.min_pts;
    }
    // Gaps at or past the end of the media are the chunk's tail: time before the next chunk.
    Ok(w)
}

/// An edit-less chunk track: audio skips the AAC priming; video presents from its first
/// composition time, or gives ffmpeg's stretched first frame its own length back.
fn edit_less(t: &Track, x: &Extent, lead_rate: Option<u32>, ts: i128) -> Result<Window> {
    let skip = match lead_rate {
        Some(rate) => i64::try_from(
            (Q::new(AAC_PRIMING, i128::from(rate.max(1))) * ts)
                .round()
                .to_integer(),
        )
        .map_err(|_| overflow("priming"))?,
        None => 0,
    };
    // ffmpeg's stretch: the first sample lasts at least the lead longer than the next one
    // (3097 = 2048 + 1049 ticks).
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
    let (start, end, trim) = if stretched {
        (0, x.end_pts - skip, skip)
    } else if t.kind == TrackKind::Audio {
        (x.min_pts.max(0).saturating_add(skip), x.end_pts, 0)
    } else {
        (x.min_pts, x.end_pts, 0)
    };
    Ok(Window {
        lead: Q::from_integer(0),
        start,
        end: end.max(start),
        trim: u32::try_from(trim).map_err(|_| overflow("priming"))?,
        gaps: Vec::new(),
    })
}
