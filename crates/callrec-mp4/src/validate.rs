//! Structural validation: defects that parse but make a file's samples wrong.
//!
//! [`Movie::parse`] accepts what it can read; [`validate`] then says what in the file does not
//! hold together, each [`Defect`] naming the track, the box and the sample. No I/O: it re-walks
//! the box layout of the bytes with [`Reader`] and reads the tables [`Movie`] flattened.
//!
//! ```
//! # use callrec_mp4::validate::validate;
//! assert!(validate(b"not an mp4").is_err());
//! ```

use std::fmt;
use std::ops::Range;

use crate::boxes::Stss;
use crate::boxes::{Moov, Mp4Box, Stbl};
use crate::fragment::Moof;
use crate::parse::traf_track;
use crate::reader::Reader;
use crate::source::{read_error, read_vec, top_header};
use crate::{Codec, FourCc, Movie, ParseOptions, Result, Source, Track, TrackKind, Window};

/// The largest composition offset accepted whatever the track duration, in seconds.
pub const MAX_COMPOSITION_OFFSET_SECS: u64 = 10;

/// A sample delta longer than this many seconds is a defect when it is also longer than the
/// track's declared duration (a pause held on one frame may last minutes, never longer than its
/// track).
pub const MAX_SAMPLE_DELTA_SECS: u64 = 10;

/// Bytes read at once when walking the NAL units of video samples: a NAL header and the small
/// NAL units after it (SEI, SPS, PPS), not the slice data.
const NAL_WINDOW: usize = 4 << 10;

/// What kind of structural defect a [`Defect`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum DefectKind {
    /// A sample entry (`avc1`, `mp4a`...) with a zero size, one smaller than its fixed fields,
    /// or one running past its parent `stsd`; or an `stsd` entry count the entries disagree with.
    SampleEntry,
    /// `stsz`/`stz2` count disagreeing with its own table or with the `stts` total.
    Stsz,
    /// An `stts` delta (a `trun` sample duration) of 0 on any sample but the last, or one
    /// longer than [`MAX_SAMPLE_DELTA_SECS`] and the track's declared duration.
    Stts,
    /// `ctts` entries not covering exactly the samples.
    Ctts,
    /// `stsc` `first_chunk` 0, not increasing, or past the chunk offset table; or chunks
    /// holding fewer samples than `stsz` lists.
    Stsc,
    /// A sample whose bytes lie outside the file or outside every `mdat` payload (for example
    /// inside `moov`).
    SampleRange,
    /// A `trun` whose samples run past the data that follows its `moof`.
    Trun,
    /// A composition offset larger than the track duration or
    /// [`MAX_COMPOSITION_OFFSET_SECS`].
    CompositionOffset,
    /// An `stss` entry of 0, past the sample count, or not increasing.
    Stss,
    /// A video sample of 0 bytes.
    EmptySample,
    /// An H.264 sample whose bytes are not the NAL units its tables say: the NAL length
    /// prefixes do not tile it exactly, or a NAL unit has its forbidden bit set or an
    /// unspecified type (0, 24–31). A chunk offset or `trun` data offset that is off by a few
    /// bytes shows as this.
    SampleData,
}

impl DefectKind {
    /// Every kind, in declaration order.
    pub const ALL: &'static [DefectKind] = &[
        DefectKind::SampleEntry,
        DefectKind::Stsz,
        DefectKind::Stts,
        DefectKind::Ctts,
        DefectKind::Stsc,
        DefectKind::SampleRange,
        DefectKind::Trun,
        DefectKind::CompositionOffset,
        DefectKind::Stss,
        DefectKind::EmptySample,
        DefectKind::SampleData,
    ];

    /// The stable finding code (`mp4.stsz`...).
    pub fn code(self) -> &'static str {
        match self {
            DefectKind::SampleEntry => "mp4.sample_entry",
            DefectKind::Stsz => "mp4.stsz",
            DefectKind::Stts => "mp4.stts",
            DefectKind::Ctts => "mp4.ctts",
            DefectKind::Stsc => "mp4.stsc",
            DefectKind::SampleRange => "mp4.sample_range",
            DefectKind::Trun => "mp4.trun",
            DefectKind::CompositionOffset => "mp4.composition_offset",
            DefectKind::Stss => "mp4.stss",
            DefectKind::EmptySample => "mp4.empty_sample",
            DefectKind::SampleData => "mp4.sample_data",
        }
    }
}

impl fmt::Display for DefectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// One structural defect.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Defect {
    /// What is wrong.
    pub kind: DefectKind,
    /// Position of the track in `moov` (0-based), when the defect belongs to one.
    pub track_index: Option<usize>,
    /// `tkhd` track_ID of that track.
    pub track_id: Option<u32>,
    /// The box at fault, as a path (`moov/trak[0]/mdia/minf/stbl/stsz`, `moof[2]/traf[0]/trun[0]`).
    pub path: String,
    /// The first sample concerned (0-based, in the track's decode order), when one is.
    pub sample: Option<u64>,
    /// The byte range at fault (a sample's bytes, an entry's box), when one is.
    pub range: Option<Range<u64>>,
    /// A sentence saying what is wrong.
    pub reason: String,
}

impl fmt::Display for Defect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.path)?;
        if let Some(t) = self.track_id {
            write!(f, " (track {t})")?;
        }
        if let Some(s) = self.sample {
            write!(f, ", sample {s}")?;
        }
        write!(f, ": {}", self.reason)
    }
}

impl Defect {
    /// True when the defect is a sample running past the end of the file (a truncated
    /// download, which callers may already report on its own).
    pub fn past_end_of_file(&self, file_len: u64) -> bool {
        self.kind == DefectKind::SampleRange
            && self.range.as_ref().is_some_and(|r| r.end > file_len)
    }
}

/// Parses `data` (accepting a truncated last box) and validates it: the defects, in track then
/// box order. A file that does not parse is the parse error.
pub fn validate(data: &[u8]) -> Result<Vec<Defect>> {
    let movie = Movie::parse_with(
        data,
        ParseOptions {
            allow_truncated_tail: true,
        },
    )?;
    Ok(validate_movie(data, &movie))
}

/// Validates `movie`, parsed from `data`. At most a handful of defects per box and kind: the
/// first failing sample is named, not every one.
pub fn validate_movie(data: &[u8], movie: &Movie) -> Vec<Defect> {
    // Reads of a slice within its length do not fail.
    validate_source(&data, movie).unwrap_or_default()
}

/// [`validate_movie`] over a [`Source`]: re-reads the `moov` and `moof` payloads and the NAL
/// length prefixes of the video samples (4 KiB at each NAL header), never the whole file. A failed
/// read (the file shrank or changed) is the [`Error::Read`](crate::Error::Read).
pub fn validate_source(src: &dyn Source, movie: &Movie) -> Result<Vec<Defect>> {
    let data_len = src.len();
    let mut out = Vec::new();
    let layout = Layout::walk(src)?;
    let mut mdats = movie.mdats.clone();
    mdats.sort_by_key(|r| r.start);
    if let Some(moov) = &layout.moov {
        for (i, trak) in moov.traks.iter().enumerate() {
            let Some(track) = movie.tracks.get(i) else {
                continue;
            };
            let path = format!("moov/trak[{i}]/mdia/minf/stbl");
            let d = Ctx {
                track_index: i,
                track_id: track.id,
            };
            sample_entries(&d, movie, i, &path, &mut out);
            if !movie.fragmented {
                tables(&d, &trak.mdia.minf.stbl, &path, &mut out);
            }
        }
    }
    if movie.fragmented {
        truns(movie, &layout, &mdats, &mut out);
    }
    for (i, t) in movie.tracks.iter().enumerate() {
        let d = Ctx {
            track_index: i,
            track_id: t.id,
        };
        let stbl = format!("moov/trak[{i}]/mdia/minf/stbl");
        ranges(&d, movie, i, &mdats, data_len, &stbl, &mut out);
        composition(&d, movie, i, &stbl, &mut out);
        zero_deltas_fragmented(&d, movie, i, &mut out);
        long_deltas(&d, movie, &layout, i, &stbl, &mut out);
        if let Some(moov) = &layout.moov {
            if let (false, Some(trak)) = (movie.fragmented, moov.traks.get(i)) {
                stss(
                    &d,
                    trak.mdia.minf.stbl.stss.as_ref(),
                    t.samples.len(),
                    &stbl,
                    &mut out,
                );
            }
        }
        let placed = out.iter().any(|x| {
            x.track_index == Some(i)
                && matches!(
                    x.kind,
                    DefectKind::SampleRange | DefectKind::Trun | DefectKind::Stsc
                )
        });
        if !placed && t.kind == TrackKind::Video {
            let runs = trun_paths(movie, &layout, i);
            nal_units(&d, src, t, &runs, &stbl, &mut out)?;
        }
    }
    // A trun running past its data is named as such, not again as a stray sample.
    let trun_tracks: Vec<Option<usize>> = out
        .iter()
        .filter(|x| x.kind == DefectKind::Trun)
        .map(|x| x.track_index)
        .collect();
    out.retain(|x| x.kind != DefectKind::SampleRange || !trun_tracks.contains(&x.track_index));
    Ok(out)
}

struct Ctx {
    track_index: usize,
    track_id: u32,
}

impl Ctx {
    fn defect(
        &self,
        kind: DefectKind,
        path: String,
        sample: Option<u64>,
        reason: String,
    ) -> Defect {
        Defect {
            kind,
            track_index: Some(self.track_index),
            track_id: Some(self.track_id),
            path,
            sample,
            range: None,
            reason,
        }
    }
}

/// The top-level boxes re-read: `moov` and each `moof` with its offset.
struct Layout {
    moov: Option<Moov>,
    moofs: Vec<(u64, Moof)>,
}

impl Layout {
    /// Only a failed read is an error: a box the parse accepted reads again, and a truncated
    /// tail ends the walk.
    fn walk(src: &dyn Source) -> Result<Layout> {
        let mut moov = None;
        let mut moofs = Vec::new();
        let mut offset = 0;
        loop {
            let h = match top_header(src, offset) {
                Ok(Some(h)) => h,
                Err(e @ crate::Error::Read { .. }) => return Err(e),
                Ok(None) | Err(_) => break,
            };
            let start = h.offset + h.header_len;
            let name = h.fourcc.to_string();
            match &h.fourcc.0 {
                b"moov" if moov.is_none() => {
                    let payload = read_vec(src, &name, start, h.size - h.header_len)?;
                    moov = Moov::parse(&mut Reader::top_level_child(&payload, start, name)).ok();
                }
                b"moof" => {
                    let payload = read_vec(src, &name, start, h.size - h.header_len)?;
                    if let Ok(m) = Moof::parse(&mut Reader::top_level_child(&payload, start, name))
                    {
                        moofs.push((h.offset, m));
                    }
                }
                _ => {}
            }
            offset += h.size;
        }
        Ok(Layout { moov, moofs })
    }
}

/// The size of a sample entry's header and fixed fields for the codes whose layout we know
/// (8 bytes of box header, 8 for every SampleEntry, plus 70 for a visual and 20 for an audio
/// one, ISO/IEC 14496-12 8.5.2.2); child boxes (avcC, esds...) follow them.
fn fixed_entry_size(fourcc: FourCc) -> Option<u64> {
    match &fourcc.0 {
        b"avc1" | b"avc3" | b"hvc1" | b"hev1" => Some(8 + 8 + 70),
        b"mp4a" => Some(8 + 8 + 20),
        _ => None,
    }
}

/// The smallest valid size of a sample entry with this code.
fn min_entry_size(fourcc: FourCc) -> u64 {
    fixed_entry_size(fourcc).unwrap_or(8 + 8)
}

fn sample_entries(d: &Ctx, movie: &Movie, i: usize, stbl: &str, out: &mut Vec<Defect>) {
    let t = &movie.tracks[i];
    for (k, e) in t.entries.iter().enumerate() {
        let path = format!("{stbl}/stsd/{}[{k}]", e.fourcc);
        let declared = e
            .raw
            .get(..4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
        let size = match declared {
            Some(1) => e
                .raw
                .get(8..16)
                .map(|b| u64::from_be_bytes(b.try_into().unwrap_or([0; 8]))),
            other => other.map(u64::from),
        };
        let reason = match size {
            Some(0) => Some(format!(
                "the {} sample entry declares size 0 (it then runs to the end of its stsd, {} bytes)",
                e.fourcc,
                e.raw.len()
            )),
            Some(s) if s > e.raw.len() as u64 => Some(format!(
                "the {} sample entry declares {s} bytes but its stsd holds only {}",
                e.fourcc,
                e.raw.len()
            )),
            Some(s) if s < min_entry_size(e.fourcc) => Some(format!(
                "the {} sample entry is {s} bytes, smaller than its {} bytes of fixed fields",
                e.fourcc,
                min_entry_size(e.fourcc)
            )),
            None => Some(format!("the {} sample entry has no header", e.fourcc)),
            _ => None,
        };
        if let Some(reason) = reason {
            out.push(d.defect(DefectKind::SampleEntry, path, None, reason));
            continue;
        }
        // Children (avcC, esds...) must fit the entry.
        if let Some(skip) = fixed_entry_size(e.fourcc) {
            let skip = usize::try_from(skip).unwrap_or(usize::MAX);
            let mut r = Reader::new(e.raw.get(skip..).unwrap_or(&[]));
            loop {
                match r.next_box() {
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(err) => {
                        out.push(d.defect(
                            DefectKind::SampleEntry,
                            path.clone(),
                            None,
                            format!(
                                "a child box of the {} sample entry is corrupt: {err}",
                                e.fourcc
                            ),
                        ));
                        break;
                    }
                }
            }
        }
    }
    let used = t
        .samples
        .iter()
        .position(|s| s.description_index == 0 || s.description_index as usize > t.entries.len());
    if let Some(k) = used {
        out.push(d.defect(
            DefectKind::SampleEntry,
            format!("{stbl}/stsd"),
            Some(k as u64),
            format!(
                "sample {k} uses sample description {} of {}",
                t.samples[k].description_index,
                t.entries.len()
            ),
        ));
    }
}

fn tables(d: &Ctx, stbl: &Stbl, path: &str, out: &mut Vec<Defect>) {
    let p = |b: &str| format!("{path}/{b}");
    // Sample count per the size table.
    let count = match (&stbl.stsz, &stbl.stz2) {
        (Some(z), _) => {
            if z.sample_size == 0 && z.sample_count as usize != z.entries.len() {
                out.push(d.defect(
                    DefectKind::Stsz,
                    p("stsz"),
                    None,
                    format!(
                        "stsz declares {} samples but lists {} sizes",
                        z.sample_count,
                        z.entries.len()
                    ),
                ));
            }
            if z.sample_size == 0 {
                z.entries.len() as u64
            } else {
                u64::from(z.sample_count)
            }
        }
        (None, Some(z)) => z.entries.len() as u64,
        (None, None) => 0,
    };
    let size_box = if stbl.stsz.is_some() { "stsz" } else { "stz2" };
    let stts_total: u64 = stbl
        .stts
        .entries
        .iter()
        .map(|e| u64::from(e.sample_count))
        .sum();
    if stts_total != count {
        out.push(d.defect(
            DefectKind::Stsz,
            p(size_box),
            Some(count.min(stts_total)),
            format!("{size_box} lists {count} samples but stts times {stts_total}"),
        ));
    }
    // A zero delta on any sample but the last.
    let mut k = 0u64;
    for e in &stbl.stts.entries {
        let n = u64::from(e.sample_count);
        if e.sample_delta == 0 && n > 0 && k + 1 < stts_total.max(count) {
            out.push(d.defect(
                DefectKind::Stts,
                p("stts"),
                Some(k),
                format!("sample {k} has a decode delta of 0 (only the last sample may)"),
            ));
            break;
        }
        k += n;
    }
    if let Some(ctts) = &stbl.ctts {
        let total: u64 = ctts.entries.iter().map(|e| u64::from(e.sample_count)).sum();
        if total != count {
            out.push(d.defect(
                DefectKind::Ctts,
                p("ctts"),
                Some(total.min(count)),
                format!("ctts covers {total} samples but the track has {count}"),
            ));
        }
    }
    // stsc against the chunk offsets.
    let (co_box, chunks) = match (&stbl.stco, &stbl.co64) {
        (Some(c), _) => ("stco", c.entries.len() as u64),
        (None, Some(c)) => ("co64", c.entries.len() as u64),
        (None, None) => ("stco", 0),
    };
    let mut prev = 0u32;
    let mut bad = false;
    for (j, e) in stbl.stsc.entries.iter().enumerate() {
        let reason = if e.first_chunk == 0 {
            Some(format!(
                "stsc entry {j} has first_chunk 0 (chunks count from 1)"
            ))
        } else if e.first_chunk <= prev {
            Some(format!(
                "stsc entry {j} has first_chunk {} after {prev}: not increasing",
                e.first_chunk
            ))
        } else if u64::from(e.first_chunk) > chunks {
            Some(format!(
                "stsc entry {j} has first_chunk {} but {co_box} lists {chunks} chunks",
                e.first_chunk
            ))
        } else {
            None
        };
        if let Some(reason) = reason {
            out.push(d.defect(DefectKind::Stsc, p("stsc"), None, reason));
            bad = true;
            break;
        }
        prev = e.first_chunk;
    }
    if !bad && count > 0 {
        // Samples the chunks hold.
        let mut held = 0u64;
        for (j, e) in stbl.stsc.entries.iter().enumerate() {
            let end = stbl
                .stsc
                .entries
                .get(j + 1)
                .map_or(chunks + 1, |n| u64::from(n.first_chunk));
            held = held.saturating_add(
                end.saturating_sub(u64::from(e.first_chunk))
                    .saturating_mul(u64::from(e.samples_per_chunk)),
            );
        }
        if held < count {
            out.push(d.defect(
                DefectKind::Stsc,
                p("stsc"),
                Some(held),
                format!("stsc and {co_box} place {held} samples but {size_box} lists {count}"),
            ));
        }
    }
}

/// `mdats`: the movie's mdat payloads sorted by start.
fn ranges(
    d: &Ctx,
    movie: &Movie,
    i: usize,
    mdats: &[Range<u64>],
    file_len: u64,
    stbl: &str,
    out: &mut Vec<Defect>,
) {
    let t = &movie.tracks[i];
    let co = if movie.fragmented {
        "trun".to_string()
    } else {
        format!("{stbl}/stco")
    };
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

fn composition(d: &Ctx, movie: &Movie, i: usize, stbl: &str, out: &mut Vec<Defect>) {
    let t = &movie.tracks[i];
    let ten = MAX_COMPOSITION_OFFSET_SECS * u64::from(t.timescale.get());
    let bound = ten.min(t.media_duration.max(1));
    let k = t
        .samples
        .iter()
        .position(|s| u64::from(s.cts_offset.unsigned_abs()) > bound);
    if let Some(k) = k {
        let path = if movie.fragmented {
            "trun".to_string()
        } else {
            format!("{stbl}/ctts")
        };
        out.push(d.defect(
            DefectKind::CompositionOffset,
            path,
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

fn zero_deltas_fragmented(d: &Ctx, movie: &Movie, i: usize, out: &mut Vec<Defect>) {
    if !movie.fragmented {
        return;
    }
    let t = &movie.tracks[i];
    let n = t.samples.len();
    if let Some(k) = t
        .samples
        .iter()
        .take(n.saturating_sub(1))
        .position(|s| s.duration == 0)
    {
        out.push(d.defect(
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
fn truns(movie: &Movie, layout: &Layout, mdats: &[Range<u64>], out: &mut Vec<Defect>) {
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

/// `stss` entries: each a 1-based sample number within the track, strictly increasing.
fn stss(d: &Ctx, stss: Option<&Stss>, count: usize, stbl: &str, out: &mut Vec<Defect>) {
    let Some(stss) = stss else { return };
    let mut prev = 0u32;
    for (j, &k) in stss.entries.iter().enumerate() {
        let reason = if k == 0 {
            Some(format!("stss entry {j} is 0 (sample numbers count from 1)"))
        } else if k as usize > count {
            Some(format!(
                "stss entry {j} names sample {k} but the track has {count} samples"
            ))
        } else if k <= prev {
            Some(format!(
                "stss entry {j} names sample {k} after {prev}: not increasing"
            ))
        } else {
            None
        };
        if let Some(reason) = reason {
            // The sample named, when it is one of the track's.
            let sample = (k > 0 && k as usize <= count).then(|| u64::from(k - 1));
            out.push(d.defect(DefectKind::Stss, format!("{stbl}/stss"), sample, reason));
            return;
        }
        prev = k;
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
fn long_deltas(
    d: &Ctx,
    movie: &Movie,
    layout: &Layout,
    i: usize,
    stbl: &str,
    out: &mut Vec<Defect>,
) {
    let t = &movie.tracks[i];
    let Some(declared) = declared_duration(movie, layout, i) else {
        return;
    };
    let bound = (MAX_SAMPLE_DELTA_SECS * u64::from(t.timescale.get())).max(declared);
    if let Some(k) = t.samples.iter().position(|s| u64::from(s.duration) > bound) {
        let path = if movie.fragmented {
            "trun".to_string()
        } else {
            format!("{stbl}/stts")
        };
        out.push(d.defect(
            DefectKind::Stts,
            path,
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
fn trun_paths(movie: &Movie, layout: &Layout, i: usize) -> Vec<(usize, String)> {
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
/// must have its forbidden bit clear and a specified type (1–23). Also a 0-byte sample is a defect. The first failing sample is named (the `trun`
/// that placed it, or `stco` for a progressive file).
fn nal_units(
    d: &Ctx,
    src: &dyn Source,
    t: &Track,
    runs: &[(usize, String)],
    stbl: &str,
    out: &mut Vec<Defect>,
) -> Result<()> {
    let path_of = |k: usize| {
        if runs.is_empty() {
            format!("{stbl}/stco")
        } else {
            let j = runs.partition_point(|(first, _)| *first <= k);
            runs.get(j.saturating_sub(1))
                .map_or_else(|| "trun".to_string(), |(_, p)| p.clone())
        }
    };
    // lengthSizeMinusOne + 1 per sample description (`avcC` byte 4); 0 for non-AVC entries.
    let length_sizes: Vec<usize> = t
        .entries
        .iter()
        .map(|e| match &e.codec {
            Codec::Avc(c) => c.avcc.get(4).map_or(0, |b| usize::from(b & 3) + 1),
            _ => 0,
        })
        .collect();
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
            .and_then(|e| length_sizes.get(e))
        else {
            continue;
        };
        if ls == 0 || s.range().end > len {
            continue;
        }
        if s.size == 0 {
            if !empty_reported {
                let path = if runs.is_empty() {
                    format!("{stbl}/stsz")
                } else {
                    path_of(k)
                };
                let mut x = d.defect(
                    DefectKind::EmptySample,
                    path,
                    Some(k as u64),
                    format!("video sample {k} is 0 bytes: it holds no picture"),
                );
                x.range = Some(s.range());
                out.push(x);
                empty_reported = true;
            }
            continue;
        }
        let size = u64::from(s.size);
        let mut pos = 0u64;
        let mut fault = None;
        while pos < size {
            let ls64 = ls as u64;
            if pos + ls64 + 1 > size {
                fault = Some(format!(
                    "the NAL length prefix at byte {pos} runs past the sample's {size} bytes"
                ));
                break;
            }
            let at = s.offset + pos;
            let b = w.get(at, ls + 1).map_err(|e| {
                let at_sample = format!("{} (track {}, sample {k})", path_of(k), t.id);
                read_error(&at_sample, at, ls64 + 1, &e)
            })?;
            let n = b[..ls].iter().fold(0u64, |a, &x| (a << 8) | u64::from(x));
            let header = b[ls];
            let kind = header & 0x1f;
            if n == 0 || pos + ls64 + n > size {
                fault = Some(format!(
                    "the NAL length prefix at byte {pos} says {n} bytes, but {} are left in \
                     the sample",
                    size - pos - ls64
                ));
            } else if header & 0x80 != 0 {
                fault = Some(format!(
                    "the NAL unit at byte {pos} has its forbidden_zero_bit set"
                ));
            } else if kind == 0 || kind >= 24 {
                fault = Some(format!(
                    "the NAL unit at byte {pos} has the unspecified nal_unit_type {kind}"
                ));
            }
            if fault.is_some() {
                break;
            }
            pos += ls64 + n;
        }
        // Zero bytes after the last NAL unit (padding some muxers write) are not a fault.
        if fault.is_some() && pos > 0 {
            let mut at = s.offset + pos;
            let end = s.range().end;
            let mut zeros = true;
            while zeros && at < end {
                let n = (end - at).min(NAL_WINDOW as u64);
                let b = w.get(at, n as usize).map_err(|e| {
                    let at_sample = format!("{} (track {}, sample {k})", path_of(k), t.id);
                    read_error(&at_sample, at, n, &e)
                })?;
                zeros = b.iter().all(|&x| x == 0);
                at += n;
            }
            if zeros {
                fault = None;
            }
        }
        if let Some(why) = fault {
            let mut x = d.defect(
                DefectKind::SampleData,
                path_of(k),
                Some(k as u64),
                format!(
                    "video sample {k} (bytes {}..{}) is not H.264 NAL units: {why} (a wrong \
                     chunk or data offset?)",
                    s.offset,
                    s.range().end
                ),
            );
            x.range = Some(s.range());
            out.push(x);
            return Ok(());
        }
    }
    Ok(())
}
