//! What a file presents on each track: the one presentation model `check` and the stitcher
//! share (edit lists, AAC priming, composition offsets, ffmpeg's fragments).
//!
//! A [`Window`] is a track's presentation reduced to what a continuous output needs: how long
//! the track waits at the file's start (its leading empty edits), the media it presents (from
//! `start` to `end`, composition times relative to the track's first decode time, after the
//! `trim`) and the empty time inside it (empty edits after media). Edit lists with rate 1 only.
//! Exact arithmetic: seconds are rationals.

use crate::{Codec, Movie, Track, TrackKind};

/// Exact signed seconds.
pub type Q = num_rational::Ratio<i128>;

/// Why a track's presentation cannot be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} track {track_id}: {what}")]
pub struct PresentError {
    /// `video`, `audio` or the handler code.
    pub kind: String,
    /// The track's `tkhd` ID.
    pub track_id: u32,
    /// What does not work (an edit rate other than 1, an overflow).
    pub what: String,
}

type Result<T> = std::result::Result<T, PresentError>;

fn kind_name(k: TrackKind) -> String {
    match k {
        TrackKind::Video => "video".into(),
        TrackKind::Audio => "audio".into(),
        TrackKind::Other(f) => format!("{f}"),
    }
}

fn err(t: &Track, what: String) -> PresentError {
    PresentError {
        kind: kind_name(t.kind),
        track_id: t.id,
        what,
    }
}

/// AAC priming ffmpeg's encoder writes, in samples, assumed for edit-less chunks.
pub const AAC_PRIMING: i128 = 1024;

/// One chunk's presentation on one track.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
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

/// How an edit-less chunk (ffmpeg's fragmented files) presents: its tracks' timestamps, with
/// two corrections ffmpeg's muxer makes necessary. Every track's first sample starts at the
/// fragment's decode time 0 and lasts until the second one, so a track whose media really
/// starts later has a *stretched* first sample (the video's by the audio priming, 1049 ticks
/// at 16384, or the audio's by the B-frame delay): it is given the length of the one after it
/// (`trim`), and so starts that much later. And AAC audio begins with 1024 samples of priming,
/// which are not presented. The chunk's presentation starts where the audio content does (or,
/// without AAC, where the first track starts); a track that starts later waits (`lead`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EditLess {
    /// The AAC sample rate, when the chunk has AAC audio.
    rate: Option<u32>,
    /// Where the chunk's presentation starts, seconds on the fragments' decode clock.
    origin: Q,
}

/// Ticks the first sample of an edit-less track is stretched by (0 when it is not).
fn stretch(t: &Track) -> u32 {
    let (Some(a), Some(b), Some(c)) = (t.samples.first(), t.samples.get(1), t.samples.get(2))
    else {
        return 0;
    };
    let first = b.dts.saturating_sub(a.dts);
    let next = c.dts.saturating_sub(b.dts);
    if a.cts_offset == 0 && next > 0 && first > next {
        u32::try_from(first - next).unwrap_or(0)
    } else {
        0
    }
}

/// Priming ticks of an AAC track in its timescale (0 for other tracks or without AAC).
fn priming(t: &Track, rate: Option<u32>) -> Result<i64> {
    match rate {
        Some(rate) if t.kind == TrackKind::Audio => i64::try_from(
            (Q::new(AAC_PRIMING, i128::from(rate.max(1))) * i128::from(t.timescale.get()))
                .round()
                .to_integer(),
        )
        .map_err(|_| PresentError {
            kind: kind_name(t.kind),
            track_id: t.id,
            what: "overflow computing priming".into(),
        }),
        _ => Ok(0),
    }
}

/// Seconds on the decode clock at which track `t`'s presented media starts, before any lead:
/// its first presented composition time after the stretch and the priming.
fn real_start(t: &Track, rate: Option<u32>) -> Result<Option<Q>> {
    let Some(x) = extent(t) else { return Ok(None) };
    let ts = i128::from(t.timescale.get());
    let start = if t.kind == TrackKind::Audio {
        x.min_pts.max(0) + priming(t, rate)?
    } else {
        x.min_pts
    };
    let at = i128::from(x.d0) + i128::from(stretch(t)) + i128::from(start);
    Ok(Some(Q::new(at, ts)))
}

/// The edit-less presentation of `c`, `None` when any track of it has an edit list.
pub fn edit_less(c: &Movie) -> Result<Option<EditLess>> {
    if !c.tracks.iter().all(|t| t.edits.is_empty()) {
        return Ok(None);
    }
    let aac = c.tracks.iter().find(|t| {
        t.kind == TrackKind::Audio
            && matches!(t.codec(), Some(Codec::Aac(_)))
            && !t.samples.is_empty()
    });
    let rate = aac.and_then(|t| match t.codec() {
        Some(Codec::Aac(a)) => Some(a.sample_rate),
        _ => None,
    });
    let origin = match aac {
        Some(t) => real_start(t, rate)?,
        None => {
            let mut first: Option<Q> = None;
            for t in &c.tracks {
                if let Some(s) = real_start(t, rate)? {
                    first = Some(first.map_or(s, |f| f.min(s)));
                }
            }
            first
        }
    };
    Ok(Some(EditLess {
        rate,
        origin: origin.unwrap_or_default(),
    }))
}

/// What chunk `c`'s track `t` presents (see the crate docs, *What is presented*).
pub fn window(c: &Movie, t: &Track, el: Option<EditLess>) -> Result<Window> {
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
        return Err(err(t, "overflow computing presentation time".into()));
    };
    let ts = i128::from(t.timescale.get());
    if let Some(el) = el {
        return edit_less_window(t, &x, el, ts);
    }
    if t.edits.is_empty() {
        // No edit list on this track (others have one): all of its media, as its timestamps
        // say.
        return Ok(Window {
            start: x.min_pts,
            end: x.end_pts,
            ..empty
        });
    }
    edit_list_window(c, t, &x, ts, empty)
}

/// A track's window per its edit list: a leading empty edit is its lead, later empty edits
/// its gaps, its media edits the media presented from the first to the end of the last.
fn edit_list_window(c: &Movie, t: &Track, x: &Extent, ts: i128, empty: Window) -> Result<Window> {
    let movie_ts = i128::from(c.timescale.get());
    let d0 = i64::try_from(x.d0).map_err(|_| err(t, "overflow computing decode time".into()))?;
    let n = t.edits.len();
    let mut w = empty;
    let mut media_seen = false;
    let mut pos = Q::from_integer(0); // media presented so far, seconds
    for (j, e) in t.edits.iter().enumerate() {
        if (e.media_rate_integer, e.media_rate_fraction) != (1, 0) {
            return Err(err(
                t,
                format!(
                    "edit {j} has media rate {}+{}/65536 (only 1 is supported)",
                    e.media_rate_integer, e.media_rate_fraction
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
        let m = m
            .checked_sub(d0)
            .ok_or_else(|| err(t, "overflow computing media time".into()))?;
        let len = if e.segment_duration == 0 {
            // Zero duration on the last media edit: "to the end of the media" (fragmented
            // files); otherwise nothing.
            if j + 1 != n || x.end_pts <= m {
                continue;
            }
            x.end_pts - m
        } else {
            i64::try_from((dur * ts).round().to_integer())
                .map_err(|_| err(t, "overflow computing an edit".into()))?
        };
        if !media_seen {
            w.start = m;
            media_seen = true;
        }
        w.end = m
            .checked_add(len)
            .ok_or_else(|| err(t, "overflow computing an edit".into()))?;
        pos += Q::new(i128::from(len), ts);
    }
    if !media_seen {
        w.start = x.min_pts;
        w.end = x.min_pts;
    }
    // Gaps at or past the end of the media are the chunk's tail: time before the next chunk.
    Ok(w)
}

/// An edit-less chunk's track (see [`EditLess`]).
fn edit_less_window(t: &Track, x: &Extent, el: EditLess, ts: i128) -> Result<Window> {
    let trim = stretch(t);
    let start = if t.kind == TrackKind::Audio {
        x.min_pts.max(0) + priming(t, el.rate)?
    } else {
        x.min_pts
    };
    // After the trim every sample but the first moves `trim` earlier; the first keeps its
    // place, so presentation times are relative to it.
    let end = x.end_pts - i64::from(trim);
    let real = Q::new(i128::from(x.d0) + i128::from(trim) + i128::from(start), ts);
    // Less than a tick of the track is rounding (1049 ticks of 16384 for 1024 of 16000).
    let lead = Some(real - el.origin)
        .filter(|l| *l >= Q::new(1, ts))
        .unwrap_or_default();
    Ok(Window {
        lead,
        start,
        end: end.max(start),
        trim,
        gaps: Vec::new(),
    })
}

/// Every track's window, in `movie.tracks` order.
pub fn windows(movie: &Movie) -> Result<Vec<Window>> {
    let el = edit_less(movie)?;
    movie.tracks.iter().map(|t| window(movie, t, el)).collect()
}
