//! Checks of where and when the samples are: byte ranges, `trun`s, composition offsets,
//! deltas, and the NAL units of the video samples.

use std::ops::Range;

use super::{
    Ctx, Defect, DefectKind, Layout, TrackCx, MAX_COMPOSITION_OFFSET_SECS, MAX_SAMPLE_DELTA_SECS,
    NAL_WINDOW,
};
use crate::parse::traf_track;
use crate::source::read_error;
use crate::{Codec, Movie, Result, Source, Track, Window};

/// `mdats`: the movie's mdat payloads sorted by start.
pub(super) fn ranges(cx: &TrackCx, mdats: &[Range<u64>], file_len: u64, out: &mut Vec<Defect>) {
    let (d, movie, t) = (&cx.d, cx.movie, cx.track());
    let co = cx.table_path("stco");
    for (k, s) in t.samples.iter().enumerate() {
        let r = s.range();
        let reason = if r.end > file_len {
            Some(format!(
                "sample {k} (bytes {}..{}) runs past the end of the file ({file_len} bytes)",
                r.start, r.end
            ))
        } else {
            let j = mdats.partition_point(|m| m.start <= r.start);
            (j == 0 || mdats[j - 1].end < r.end).then(|| {
                let inside = if movie.moov.start <= r.start && r.start < movie.moov.end {
                    " (it lies inside moov)"
                } else {
                    ""
                };
                format!(
                    "sample {k} (bytes {}..{}) is not inside any mdat payload{inside}",
                    r.start, r.end
                )
            })
        };
        if let Some(reason) = reason {
            let mut x = d.defect(DefectKind::SampleRange, co.clone(), Some(k as u64), reason);
            x.range = Some(r);
            out.push(x);
            return;
        }
    }
}

pub(super) fn composition(cx: &TrackCx, out: &mut Vec<Defect>) {
    let t = cx.track();
    let ten = MAX_COMPOSITION_OFFSET_SECS * u64::from(t.timescale.get());
    let bound = ten.min(t.media_duration.max(1));
    let k = t
        .samples
        .iter()
        .position(|s| u64::from(s.cts_offset.unsigned_abs()) > bound);
    if let Some(k) = k {
        out.push(cx.d.defect(
            DefectKind::CompositionOffset,
            cx.table_path("ctts"),
            Some(k as u64),
            format!(
                "sample {k} has a composition offset of {} ticks, beyond {bound} (the track \
                 duration or {MAX_COMPOSITION_OFFSET_SECS} s at {} ticks/s)",
                t.samples[k].cts_offset,
                t.timescale.get()
            ),
        ));
    }
}

pub(super) fn zero_deltas_fragmented(cx: &TrackCx, out: &mut Vec<Defect>) {
    if !cx.movie.fragmented {
        return;
    }
    let t = cx.track();
    let n = t.samples.len();
    if let Some(k) = t
        .samples
        .iter()
        .take(n.saturating_sub(1))
        .position(|s| s.duration == 0)
    {
        out.push(cx.d.defect(
            DefectKind::Stts,
            "trun".into(),
            Some(k as u64),
            format!("sample {k} has a duration of 0 (only the last sample may)"),
        ));
    }
}

/// Names each fragmented sample's `trun` and checks every run's samples lie in the `mdat`
/// that follows its `moof`.
/// `mdats`: the movie's mdat payloads sorted by start.
pub(super) fn truns(movie: &Movie, layout: &Layout, mdats: &[Range<u64>], out: &mut Vec<Defect>) {
    let mut next = vec![0usize; movie.tracks.len()];
    for (mi, (moof_off, moof)) in layout.moofs.iter().enumerate() {
        // The mdat following this moof.
        let mdat = mdats.iter().find(|m| m.start > *moof_off);
        for (ti, traf) in moof.traf.iter().enumerate() {
            let found = traf_track(&movie.tracks, traf.tfhd.track_id, mi, ti, *moof_off);
            let Ok(i) = found else {
                continue;
            };
            let t = &movie.tracks[i];
            let d = Ctx {
                track_index: i,
                track_id: t.id,
            };
            for (ri, trun) in traf.trun.iter().enumerate() {
                let n = (trun.sample_count as usize).max(trun.samples.len());
                let first = next[i];
                next[i] += n;
                let Some(samples) = t.samples.get(first..next[i]) else {
                    continue;
                };
                let bad = samples.iter().position(|s| {
                    mdat.is_none_or(|m| !(m.start <= s.offset && s.range().end <= m.end))
                });
                if let Some(k) = bad {
                    let s = samples[k];
                    let mut x = d.defect(
                        DefectKind::Trun,
                        format!("moof[{mi}]/traf[{ti}]/trun[{ri}]"),
                        Some((first + k) as u64),
                        format!(
                            "the trun's sample_count {} runs past its data: its sample {k} \
                             (track sample {}, bytes {}..{}) is outside the mdat after its moof",
                            trun.sample_count,
                            first + k,
                            s.offset,
                            s.range().end
                        ),
                    );
                    x.range = Some(s.range());
                    out.push(x);
                }
            }
        }
    }
}

/// The duration the file declares for track `i`, in its timescale: `mdhd` (progressive), else
/// `mvhd`/`mehd` rescaled, else the longest other track's samples rescaled.
fn declared_duration(movie: &Movie, layout: &Layout, i: usize) -> Option<u64> {
    let t = &movie.tracks[i];
    let ts = u128::from(t.timescale.get());
    let moov = layout.moov.as_ref()?;
    let mdhd = moov.traks.get(i).map_or(0, |k| k.mdia.mdhd.duration);
    if !movie.fragmented && mdhd > 0 {
        return Some(mdhd);
    }
    let movie_ts = u128::from(movie.timescale.get());
    let mvhd = moov.mvhd.duration;
    let mehd = moov
        .mvex
        .as_ref()
        .and_then(|m| m.mehd)
        .map_or(0, |m| m.fragment_duration);
    let whole = mvhd.max(mehd);
    if whole > 0 {
        return u64::try_from(u128::from(whole) * ts / movie_ts).ok();
    }
    movie
        .tracks
        .iter()
        .enumerate()
        .filter(|(j, _)| *j != i)
        .map(|(_, o)| {
            let sum: u64 = o
                .samples
                .iter()
                .fold(0u64, |a, s| a.saturating_add(u64::from(s.duration)));
            u128::from(sum) * ts / u128::from(o.timescale.get())
        })
        .max()
        .and_then(|d| u64::try_from(d).ok())
        .filter(|&d| d > 0)
}

/// A sample delta longer than [`MAX_SAMPLE_DELTA_SECS`] and than the track's declared
/// duration (see [`declared_duration`]).
pub(super) fn long_deltas(cx: &TrackCx, out: &mut Vec<Defect>) {
    let t = cx.track();
    let Some(declared) = declared_duration(cx.movie, cx.layout, cx.index) else {
        return;
    };
    let bound = (MAX_SAMPLE_DELTA_SECS * u64::from(t.timescale.get())).max(declared);
    if let Some(k) = t.samples.iter().position(|s| u64::from(s.duration) > bound) {
        out.push(cx.d.defect(
            DefectKind::Stts,
            cx.table_path("stts"),
            Some(k as u64),
            format!(
                "sample {k} has a decode delta of {} ticks, beyond {bound} (the track's \
                 declared duration or {MAX_SAMPLE_DELTA_SECS} s at {} ticks/s)",
                t.samples[k].duration,
                t.timescale.get()
            ),
        ));
    }
}

/// Per `moof[mi]/traf[ti]/trun[ri]` of track `i`: the track sample it starts at and its path,
/// in sample order.
pub(super) fn trun_paths(movie: &Movie, layout: &Layout, i: usize) -> Vec<(usize, String)> {
    let mut runs = Vec::new();
    if !movie.fragmented {
        return runs;
    }
    let mut next = 0usize;
    for (mi, (moof_off, moof)) in layout.moofs.iter().enumerate() {
        for (ti, traf) in moof.traf.iter().enumerate() {
            if traf_track(&movie.tracks, traf.tfhd.track_id, mi, ti, *moof_off) != Ok(i) {
                continue;
            }
            for (ri, trun) in traf.trun.iter().enumerate() {
                runs.push((next, format!("moof[{mi}]/traf[{ti}]/trun[{ri}]")));
                next += (trun.sample_count as usize).max(trun.samples.len());
            }
        }
    }
    runs
}

/// Walks the NAL length prefixes of every H.264 sample of `t`: they must tile the sample
/// exactly (zero bytes after the last NAL unit are accepted as padding), and each NAL header
/// must have its forbidden bit clear and a specified type (1–23). Also a 0-byte sample is a
/// defect. The first failing sample is named (the `trun` that placed it, or `stco` for a
/// progressive file).
pub(super) fn nal_units(
    d: &Ctx,
    src: &dyn Source,
    t: &Track,
    runs: &[(usize, String)],
    stbl: &str,
    skip: &[Range<u64>],
    out: &mut Vec<Defect>,
) -> Result<()> {
    // A sample wholly inside one of `skip` is not walked.
    let skipped = |s: &crate::Sample| {
        let i = skip.partition_point(|r| r.start <= s.offset);
        i > 0 && s.range().end <= skip[i - 1].end
    };
    let walk = NalWalk {
        d,
        t,
        runs,
        stbl,
        length_sizes: length_sizes(t),
    };
    let len = src.len();
    let mut w = Window::new(src, NAL_WINDOW);
    let mut empty_reported = false;
    // Samples that overlap (a hostile table may point every sample at the same bytes) could
    // make the walk quadratic: it covers at most twice the file's bytes, then stops.
    let mut budget = len.saturating_mul(2).saturating_add(1 << 16);
    for (k, s) in t.samples.iter().enumerate() {
        budget = match budget.checked_sub(u64::from(s.size)) {
            Some(b) => b,
            None => break,
        };
        let Some(&ls) = (s.description_index as usize)
            .checked_sub(1)
            .and_then(|e| walk.length_sizes.get(e))
        else {
            continue;
        };
        if ls == 0 || s.range().end > len {
            continue;
        }
        if s.size == 0 {
            if !empty_reported {
                out.push(walk.empty_sample(k, s));
                empty_reported = true;
            }
            continue;
        }
        if skipped(s) {
            continue;
        }
        if let Some(why) = walk.sample_fault(&mut w, k, s, ls)? {
            out.push(walk.not_nal_units(k, s, why));
            return Ok(());
        }
    }
    Ok(())
}

/// lengthSizeMinusOne + 1 per sample description of `t` (`avcC` byte 4); 0 for non-AVC
/// entries.
fn length_sizes(t: &Track) -> Vec<usize> {
    t.entries
        .iter()
        .map(|e| match &e.codec {
            Codec::Avc(c) => c.avcc.get(4).map_or(0, |b| usize::from(b & 3) + 1),
            _ => 0,
        })
        .collect()
}

/// What [`nal_units`] walks: one track, the `trun`s that placed its samples (empty for a
/// progressive file), and its NAL length prefix sizes.
struct NalWalk<'a> {
    d: &'a Ctx,
    t: &'a Track,
    runs: &'a [(usize, String)],
    stbl: &'a str,
    length_sizes: Vec<usize>,
}

/// How far the NAL length prefixes of a sample tile it, and what stopped them.
struct Tiling {
    /// The first byte not covered by a NAL unit.
    pos: u64,
    /// Why the walk stopped before the end of the sample.
    fault: Option<String>,
}

impl NalWalk<'_> {
    /// The box that placed sample `k`: its `trun`, or `stco` for a progressive file.
    fn path_of(&self, k: usize) -> String {
        if self.runs.is_empty() {
            format!("{}/stco", self.stbl)
        } else {
            let j = self.runs.partition_point(|(first, _)| *first <= k);
            self.runs
                .get(j.saturating_sub(1))
                .map_or_else(|| "trun".to_string(), |(_, p)| p.clone())
        }
    }

    /// The read error at `at` (`n` bytes) inside sample `k`.
    fn read_error(&self, k: usize, at: u64, n: u64, e: &std::io::Error) -> crate::Error {
        let at_sample = format!("{} (track {}, sample {k})", self.path_of(k), self.t.id);
        read_error(&at_sample, at, n, e)
    }

    /// Why sample `k` (`ls`-byte length prefixes) is not H.264 NAL units, `None` when it is
    /// (zero bytes after the last NAL unit are padding).
    fn sample_fault(
        &self,
        w: &mut Window<'_, dyn Source + '_>,
        k: usize,
        s: &crate::Sample,
        ls: usize,
    ) -> Result<Option<String>> {
        let Tiling { pos, fault } = self.tile(w, k, s, ls)?;
        if fault.is_some() && pos > 0 && self.zeros_from(w, k, s, pos)? {
            return Ok(None);
        }
        Ok(fault)
    }

    /// Walks the length prefixes of sample `k` from its start.
    fn tile(
        &self,
        w: &mut Window<'_, dyn Source + '_>,
        k: usize,
        s: &crate::Sample,
        ls: usize,
    ) -> Result<Tiling> {
        let size = u64::from(s.size);
        let ls64 = ls as u64;
        let mut pos = 0u64;
        while pos < size {
            if pos + ls64 + 1 > size {
                let fault = format!(
                    "the NAL length prefix at byte {pos} runs past the sample's {size} bytes"
                );
                return Ok(Tiling {
                    pos,
                    fault: Some(fault),
                });
            }
            let at = s.offset + pos;
            let b = w
                .get(at, ls + 1)
                .map_err(|e| self.read_error(k, at, ls64 + 1, &e))?;
            let n = b[..ls].iter().fold(0u64, |a, &x| (a << 8) | u64::from(x));
            let header = b[ls];
            let kind = header & 0x1f;
            let fault = if n == 0 || pos + ls64 + n > size {
                Some(format!(
                    "the NAL length prefix at byte {pos} says {n} bytes, but {} are left in \
                     the sample",
                    size - pos - ls64
                ))
            } else if header & 0x80 != 0 {
                Some(format!(
                    "the NAL unit at byte {pos} has its forbidden_zero_bit set"
                ))
            } else if kind == 0 || kind >= 24 {
                Some(format!(
                    "the NAL unit at byte {pos} has the unspecified nal_unit_type {kind}"
                ))
            } else {
                None
            };
            if fault.is_some() {
                return Ok(Tiling { pos, fault });
            }
            pos += ls64 + n;
        }
        Ok(Tiling { pos, fault: None })
    }

    /// Whether sample `k` holds only zero bytes from `pos` to its end.
    fn zeros_from(
        &self,
        w: &mut Window<'_, dyn Source + '_>,
        k: usize,
        s: &crate::Sample,
        pos: u64,
    ) -> Result<bool> {
        let mut at = s.offset + pos;
        let end = s.range().end;
        while at < end {
            let n = (end - at).min(NAL_WINDOW as u64);
            let b = w
                .get(at, n as usize)
                .map_err(|e| self.read_error(k, at, n, &e))?;
            if !b.iter().all(|&x| x == 0) {
                return Ok(false);
            }
            at += n;
        }
        Ok(true)
    }

    /// The defect of video sample `k`, 0 bytes.
    fn empty_sample(&self, k: usize, s: &crate::Sample) -> Defect {
        let path = if self.runs.is_empty() {
            format!("{}/stsz", self.stbl)
        } else {
            self.path_of(k)
        };
        let mut x = self.d.defect(
            DefectKind::EmptySample,
            path,
            Some(k as u64),
            format!("video sample {k} is 0 bytes: it holds no picture"),
        );
        x.range = Some(s.range());
        x
    }

    /// The defect of video sample `k`, not NAL units (`why`).
    fn not_nal_units(&self, k: usize, s: &crate::Sample, why: String) -> Defect {
        let mut x = self.d.defect(
            DefectKind::SampleData,
            self.path_of(k),
            Some(k as u64),
            format!(
                "video sample {k} (bytes {}..{}) is not H.264 NAL units: {why} (a wrong \
                 chunk or data offset?)",
                s.offset,
                s.range().end
            ),
        );
        x.range = Some(s.range());
        x
    }
}
