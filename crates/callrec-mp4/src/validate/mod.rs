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

mod decode;
mod layout;
mod samples;
mod tables;

pub use decode::{decode_order_fault, DecodeFault, DecodeFaultKind, DECODE_TOLERANCE_TICKS};
pub use layout::{layout_mismatch, track_layouts, LayoutMismatch, TrackLayout};

use samples::{
    composition, long_deltas, nal_units, ranges, trun_paths, truns, zero_deltas_fragmented,
};
use tables::{sample_entries, stss, tables};

use crate::boxes::{Moov, Mp4Box};
use crate::fragment::Moof;
use crate::reader::Reader;
use crate::source::{read_vec, top_header};
use crate::{Movie, ParseOptions, Result, Source, Track, TrackKind};

/// The largest composition offset accepted whatever the track duration, in seconds.
pub const MAX_COMPOSITION_OFFSET_SECS: u64 = 10;

/// A sample delta longer than this many seconds is a defect when it is also longer than the
/// track's declared duration (a pause held on one frame may last minutes, never longer than its
/// track).
pub const MAX_SAMPLE_DELTA_SECS: u64 = 10;

/// Bytes read at once when walking the NAL units of video samples: a NAL header and the small
/// NAL units after it (SPS, PPS, a short SEI), not the slice data. Small, because each read
/// copies the whole window: at 4 KiB the walk of an hour of video copied a quarter of its bytes.
const NAL_WINDOW: usize = 512;

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
    /// A decode time earlier than the previous sample's, or later by more than 32 bits of
    /// ticks ([`decode_order_fault`]): fragments out of order or a wrong `tfdt`.
    DecodeOrder,
    /// A fragment whose decode time (`tfdt`) is not where the track's samples before it end
    /// (within [`DECODE_TOLERANCE_TICKS`]): a fragment is missing (a hole) or they overlap.
    DecodeGap,
    /// An edit list the presentation model cannot follow: a media rate other than 1, an
    /// overflow, or a media edit starting at or past the end of the track's media.
    Edit,
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
        DefectKind::DecodeOrder,
        DefectKind::DecodeGap,
        DefectKind::Edit,
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
            DefectKind::DecodeOrder => "mp4.decode_order",
            DefectKind::DecodeGap => "mp4.decode_gap",
            DefectKind::Edit => "mp4.elst",
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
/// length prefixes of the video samples (a small window at each NAL header), never the whole file. A failed
/// read (the file shrank or changed) is the [`Error::Read`](crate::Error::Read).
pub fn validate_source(src: &dyn Source, movie: &Movie) -> Result<Vec<Defect>> {
    validate_source_skipping(src, movie, &[])
}

/// [`validate_source`], except that the NAL units of a video sample lying wholly inside one of
/// `skip` (byte ranges of the file, sorted by start, disjoint) are not walked: every other
/// check is the same. For a stitch's output read back, whose cloned ranges share their blocks
/// with chunks already validated: reading a page of every sample there would read the cloned
/// file from disk, while splitting each range at regular offsets still checks the samples at
/// its edges and every few hundred kilobytes (a misplaced or missing clone shows).
pub fn validate_source_skipping(
    src: &dyn Source,
    movie: &Movie,
    skip: &[Range<u64>],
) -> Result<Vec<Defect>> {
    validate_tables(src, movie)?.walk(src, movie, skip)
}

/// [`validate_source`] in two steps: the checks that read no sample bytes (sample entries,
/// tables, `trun`s, byte ranges, times, edits, `stss`: the `moov` and `moof` payloads re-read),
/// then, in [`Tables::walk`], the NAL length prefixes of the video samples, the only check that
/// reads sample bytes (a small window at each NAL header). The two give the defects of
/// [`validate_source`], in the same order; a caller can do other work on the movie between
/// them (a stitch plans while the samples are walked).
pub fn validate_tables(src: &dyn Source, movie: &Movie) -> Result<Tables> {
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
    let mut walks = Vec::new();
    for (i, t) in movie.tracks.iter().enumerate() {
        let stbl = format!("moov/trak[{i}]/mdia/minf/stbl");
        let cx = TrackCx {
            d: Ctx {
                track_index: i,
                track_id: t.id,
            },
            movie,
            layout: &layout,
            index: i,
            stbl: &stbl,
        };
        track_checks(&cx, &mdats, data_len, &mut out);
        let placed = out.iter().any(|x| {
            x.track_index == Some(i)
                && matches!(
                    x.kind,
                    DefectKind::SampleRange | DefectKind::Trun | DefectKind::Stsc
                )
        });
        if !placed && t.kind == TrackKind::Video {
            walks.push((i, out.len()));
        }
    }
    Ok(Tables { layout, out, walks })
}

/// The per-track checks of [`validate_tables`] that read no sample bytes: byte ranges,
/// composition offsets, deltas, decode times, edits and (progressive) `stss`.
fn track_checks(cx: &TrackCx, mdats: &[Range<u64>], data_len: u64, out: &mut Vec<Defect>) {
    let (d, movie, i) = (&cx.d, cx.movie, cx.index);
    ranges(cx, mdats, data_len, out);
    composition(cx, out);
    zero_deltas_fragmented(cx, out);
    long_deltas(cx, out);
    decode::decode_times(cx, out);
    decode::edits(cx, out);
    if let Some(moov) = &cx.layout.moov {
        if let (false, Some(trak)) = (movie.fragmented, moov.traks.get(i)) {
            stss(
                d,
                trak.mdia.minf.stbl.stss.as_ref(),
                cx.track().samples.len(),
                cx.stbl,
                out,
            );
        }
    }
}

/// What [`validate_tables`] found, with the NAL walks of the video samples still to do
/// ([`Tables::walk`]). Holds the re-read `moov` and `moof`s, not the movie.
pub struct Tables {
    layout: Layout,
    /// The defects found so far, in track then box order.
    out: Vec<Defect>,
    /// The video tracks whose samples are to be walked: the track's index and where in `out`
    /// its defects go (after its other checks' defects, before the next track's).
    walks: Vec<(usize, usize)>,
}

impl fmt::Debug for Tables {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tables")
            .field("defects", &self.out)
            .field("walks", &self.walks)
            .finish_non_exhaustive()
    }
}

impl Tables {
    /// The defects of the checks that read no sample bytes (the walk may add more).
    pub fn defects(&self) -> &[Defect] {
        &self.out
    }

    /// Walks the NAL length prefixes of the video samples of `movie` (the one given to
    /// [`validate_tables`], read from `src`, the same file) except those lying wholly inside
    /// one of `skip` (see [`validate_source_skipping`]): every defect of
    /// [`validate_source_skipping`], in its order. A failed read is the
    /// [`Error::Read`](crate::Error::Read).
    pub fn walk(self, src: &dyn Source, movie: &Movie, skip: &[Range<u64>]) -> Result<Vec<Defect>> {
        let Tables {
            layout,
            mut out,
            walks,
        } = self;
        // Each walk's defects go after its track's; earlier inserts shift the later places.
        let mut shift = 0;
        for (i, at) in walks {
            let Some(t) = movie.tracks.get(i) else {
                continue;
            };
            let stbl = format!("moov/trak[{i}]/mdia/minf/stbl");
            let d = Ctx {
                track_index: i,
                track_id: t.id,
            };
            let runs = trun_paths(movie, &layout, i);
            let mut found = Vec::new();
            nal_units(&d, src, t, &runs, &stbl, skip, &mut found)?;
            let n = found.len();
            let at = (at + shift).min(out.len());
            out.splice(at..at, found);
            shift += n;
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

/// One track as the per-track checks see it: the movie and its re-read layout, the track's
/// index and `stbl` path, and the [`Ctx`] its defects name.
struct TrackCx<'a> {
    d: Ctx,
    movie: &'a Movie,
    layout: &'a Layout,
    index: usize,
    stbl: &'a str,
}

impl TrackCx<'_> {
    fn track(&self) -> &Track {
        &self.movie.tracks[self.index]
    }

    /// Where a sample's entry in `table` (`stco`, `stts`, `ctts`) is: the `trun` of a
    /// fragmented movie, else `table` in the track's `stbl`.
    fn table_path(&self, table: &str) -> String {
        if self.movie.fragmented {
            "trun".to_string()
        } else {
            format!("{}/{table}", self.stbl)
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
