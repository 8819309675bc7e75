//! Checks of the decode clock and of the presentation: decode times that go backwards or jump
//! (a fragment removed or swapped, a wrong `tfdt`), and edit lists the presentation model
//! ([`crate::present`], which the stitcher uses too) cannot follow.

use std::fmt;

use super::{Defect, DefectKind, TrackCx};
use crate::{present, Track};

/// Ticks of tolerance between a fragment's `tfdt` and the end of the samples before it
/// (muxers round sample durations to whole ticks).
pub const DECODE_TOLERANCE_TICKS: u64 = 1;

/// How a track's decode times fail to increase as the stitcher needs: the sample named and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeFault {
    /// The sample (0-based, decode order) whose decode time is wrong relative to the one before.
    pub sample: usize,
    /// What is wrong with it.
    pub kind: DecodeFaultKind,
}

/// The two ways [`decode_order_fault`] fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeFaultKind {
    /// The decode time is earlier than the previous sample's, by this many ticks.
    Backwards(u64),
    /// The decode time is later than the previous sample's by more than 32 bits of ticks.
    Jump(u64),
}

impl fmt::Display for DecodeFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let k = self.sample;
        match self.kind {
            DecodeFaultKind::Backwards(by) => write!(
                f,
                "decode time of sample {k} goes backwards ({by} ticks before sample {}'s)",
                k - 1
            ),
            DecodeFaultKind::Jump(by) => write!(
                f,
                "decode time of sample {k} jumps by {by} ticks after sample {}'s, more than 32 \
                 bits",
                k - 1
            ),
        }
    }
}

/// The first sample of `t` whose decode time goes backwards or jumps by more than `u32::MAX`
/// ticks (what no `stts` can carry): the one rule `check` (as `mp4.decode_order`) and the
/// stitcher's planner both apply.
pub fn decode_order_fault(t: &Track) -> Option<DecodeFault> {
    t.samples.windows(2).enumerate().find_map(|(k, w)| {
        let kind = match w[1].dts.checked_sub(w[0].dts) {
            None => DecodeFaultKind::Backwards(w[0].dts - w[1].dts),
            Some(d) if u32::try_from(d).is_err() => DecodeFaultKind::Jump(d),
            Some(_) => return None,
        };
        Some(DecodeFault {
            sample: k + 1,
            kind,
        })
    })
}

/// The `trun` path of sample `k` (`runs` from `trun_paths`), or `trun` when unknown.
fn run_of(runs: &[(usize, String)], k: usize) -> String {
    let j = runs.partition_point(|(first, _)| *first <= k);
    runs.get(j.saturating_sub(1))
        .map_or_else(|| "trun".to_string(), |(_, p)| p.clone())
}

/// `mp4.decode_order` (backwards, or a jump past 32 bits) on any track; on a fragmented track,
/// `mp4.decode_gap` where a fragment's decode time is not where the samples before it end
/// (within [`DECODE_TOLERANCE_TICKS`]): a fragment removed (a hole the stitcher would fill
/// with silence) or fragments out of order.
pub(super) fn decode_times(cx: &TrackCx, out: &mut Vec<Defect>) {
    let (d, movie, t) = (&cx.d, cx.movie, cx.track());
    let runs = super::samples::trun_paths(movie, cx.layout, cx.index);
    let path = |k: usize| {
        if movie.fragmented {
            run_of(&runs, k)
        } else {
            cx.table_path("stts")
        }
    };
    if let Some(f) = decode_order_fault(t) {
        out.push(d.defect(
            DefectKind::DecodeOrder,
            path(f.sample),
            Some(f.sample as u64),
            f.to_string(),
        ));
        return;
    }
    if !movie.fragmented {
        return;
    }
    let ts = t.timescale.get();
    for (k, w) in t.samples.windows(2).enumerate() {
        let end = w[0].dts + u64::from(w[0].duration);
        let next = w[1].dts;
        if next.abs_diff(end) <= DECODE_TOLERANCE_TICKS {
            continue;
        }
        let k = k + 1;
        let what = if next > end {
            format!(
                "a hole of {} ticks ({:.3} s at {ts} ticks/s): a fragment is missing",
                next - end,
                (next - end) as f64 / f64::from(ts)
            )
        } else {
            format!(
                "{} ticks ({:.3} s at {ts} ticks/s) before the end of sample {}: fragments \
                 overlap",
                end - next,
                (end - next) as f64 / f64::from(ts),
                k - 1
            )
        };
        out.push(d.defect(
            DefectKind::DecodeGap,
            path(k),
            Some(k as u64),
            format!(
                "sample {k} starts at decode time {next}, but the samples before it end at \
                 {end}: {what}"
            ),
        ));
        return;
    }
}

/// `mp4.elst`: an edit list the presentation model refuses (a media rate other than 1, an
/// overflow: [`present::window`], the function the stitcher's plan uses), or a media edit
/// starting at or past the end of the track's media.
pub(super) fn edits(cx: &TrackCx, out: &mut Vec<Defect>) {
    let (d, movie, i, t) = (&cx.d, cx.movie, cx.index, cx.track());
    let path = format!("moov/trak[{i}]/edts/elst");
    let el = match present::edit_less(movie) {
        Ok(el) => el,
        // A movie-level failure, named once (on the first track).
        Err(e) => {
            if i == 0 {
                out.push(d.defect(DefectKind::Edit, path, None, e.what));
            }
            return;
        }
    };
    if let Err(e) = present::window(movie, t, el) {
        out.push(d.defect(DefectKind::Edit, path, None, e.what));
        return;
    }
    let (Some(first), false) = (t.samples.first(), t.edits.is_empty()) else {
        return;
    };
    let end = t
        .samples
        .iter()
        .map(|s| i128::from(s.pts()) + i128::from(s.duration))
        .max()
        .unwrap_or_default()
        - i128::from(first.dts);
    for (j, e) in t.edits.iter().enumerate() {
        let Some(m) = e.media_time else {
            continue;
        };
        let m = i128::from(m) - i128::from(first.dts);
        // A track of zero-length samples is an `mp4.stts` defect already.
        if m >= end && end > 0 && e.segment_duration > 0 {
            out.push(d.defect(
                DefectKind::Edit,
                path,
                None,
                format!(
                    "edit {j} starts at media time {m}, at or past the end of the track's media \
                     ({end} ticks)"
                ),
            ));
            return;
        }
    }
}
