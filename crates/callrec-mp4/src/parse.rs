//! [`Movie::parse`]: top-level walk, sample tables (progressive) and fragments.

use std::collections::HashMap;
use std::ops::Range;

use crate::boxes::{Moov, Mp4Box, Stbl, Trak};
use crate::codec::parse_sample_entry;
use crate::fragment::{Moof, Tfhd, Traf, Trex, SAMPLE_IS_NON_SYNC};
use crate::reader::Reader;
use crate::source::{read_error, read_vec, top_header, Source, TopHeader};
use crate::{
    Error, FourCc, Movie, ParseOptions, Result, Sample, Timescale, Track, TrackKind, TruncatedTail,
};

impl Movie {
    /// Parses a whole file with default (strict) options.
    pub fn parse(data: &[u8]) -> Result<Movie> {
        Movie::parse_with(data, ParseOptions::default())
    }

    /// Parses a whole file.
    ///
    /// Whatever the input, the sample lists hold at most one sample per byte of `data` over
    /// all tracks, each list allocated once at its exact size (so at most
    /// `size_of::<Sample>()`, 40, bytes per file byte). A constant-size `stsz`, or a `trun`
    /// without per-sample sizes, whose `sample_count` samples of that size (a zero size
    /// counting as one byte) would not fit in `data` is an [`Error::CountTooLarge`] naming the
    /// box, as is a sample count past the budget. Sample ranges are not checked against the
    /// file: a header-only file (a `moov` without its media) parses.
    pub fn parse_with(data: &[u8], opts: ParseOptions) -> Result<Movie> {
        Movie::read(&data, opts)
    }

    /// Parses a file read through `src` ([`Source`]): the top-level box headers are read at
    /// their offsets (16 bytes each), then only the `moov` and `moof` payloads (at most
    /// [`MAX_HEADER_BOX`](crate::source::MAX_HEADER_BOX) each); `mdat` payloads are never read.
    /// Otherwise as [`Movie::parse_with`], against the length `src` reports; a failed read
    /// (the file shrank, an I/O error) is an [`Error::Read`].
    pub fn read(src: &dyn Source, opts: ParseOptions) -> Result<Movie> {
        let top = TopLevel::walk(src, opts)?;
        let (moov, moov_range) = top.moov.ok_or(Error::MissingBox {
            path: "(file)".into(),
            fourcc: FourCc(*b"moov"),
        })?;
        let timescale =
            Timescale::new(moov.mvhd.timescale).ok_or_else(|| Error::ZeroTimescale {
                path: "moov/mvhd".into(),
            })?;
        let fragmented = moov.mvex.is_some() || !top.moofs.is_empty();
        let tracks = movie_tracks(&moov, &top.moofs, fragmented, src.len())?;
        let duration = movie_duration(&moov, fragmented, timescale, &tracks);
        Ok(Movie {
            timescale,
            duration,
            tracks,
            fragmented,
            major_brand: top.major_brand,
            moov: moov_range,
            mdats: top.mdats,
            truncated_tail: top.truncated_tail,
        })
    }
}

/// What the walk over the top-level boxes keeps.
#[derive(Default)]
struct TopLevel {
    /// `ftyp`'s major brand.
    major_brand: Option<FourCc>,
    /// The `moov` and the file range it occupies.
    moov: Option<(Moov, Range<u64>)>,
    /// Each `moof` with its offset.
    moofs: Vec<(u64, Moof)>,
    /// The `mdat` payloads.
    mdats: Vec<Range<u64>>,
    /// The box the file ends inside, when that is allowed.
    truncated_tail: Option<TruncatedTail>,
}

impl TopLevel {
    /// Reads every top-level box header, and the `ftyp`, `moov` and `moof` payloads; a box
    /// cut short by the end of the file ends the walk when `opts` allow it.
    fn walk(src: &dyn Source, opts: ParseOptions) -> Result<TopLevel> {
        let mut top = TopLevel::default();
        let mut offset = 0u64;
        loop {
            let h = match top_header(src, offset) {
                Ok(Some(h)) => h,
                Ok(None) => break,
                Err(e @ (Error::BoxPastEnd { .. } | Error::Truncated { .. }))
                    if opts.allow_truncated_tail =>
                {
                    top.truncated_tail = Some(top.tail(src, offset, e)?);
                    break;
                }
                Err(e) => return Err(e),
            };
            top.read_box(src, &h, offset)?;
            offset += h.size;
        }
        Ok(top)
    }

    /// The box at `offset` that the file ends inside (`e` says how): an `mdat` keeps the
    /// payload present; a `moov` cut short is still the error `e`.
    fn tail(&mut self, src: &dyn Source, offset: u64, e: Error) -> Result<TruncatedTail> {
        let len = src.len();
        let available = len - offset;
        let mut head = [0u8; 8];
        let n = available.min(8) as usize;
        src.read_exact_at(&mut head[..n], offset)
            .map_err(|io| read_error("", offset, n as u64, &io))?;
        let fourcc = if n == 8 {
            FourCc([head[4], head[5], head[6], head[7]])
        } else {
            FourCc(*b"????")
        };
        let declared = match e {
            Error::BoxPastEnd { size, .. } => size,
            // The file ends inside the last box header.
            _ => 0,
        };
        if declared > 0 {
            if fourcc.0 == *b"mdat" {
                let hl = if head[..4] == [0, 0, 0, 1] { 16 } else { 8 };
                self.mdats.push(offset.saturating_add(hl).min(len)..len);
            } else if fourcc.0 == *b"moov" {
                return Err(e);
            }
        }
        Ok(TruncatedTail {
            fourcc,
            offset,
            declared,
            available,
        })
    }

    /// Keeps what the top-level box `h` at `offset` holds for the movie.
    fn read_box(&mut self, src: &dyn Source, h: &TopHeader, offset: u64) -> Result<()> {
        let start = h.offset + h.header_len;
        let payload_len = h.size - h.header_len;
        match &h.fourcc.0 {
            b"ftyp" => {
                let mut b = [0u8; 4];
                let n = payload_len.min(4) as usize;
                src.read_exact_at(&mut b[..n], start)
                    .map_err(|io| read_error("ftyp", start, n as u64, &io))?;
                self.major_brand = Some(Reader::top_level_child(&b[..n], start, "ftyp").fourcc()?);
            }
            b"moov" => {
                if self.moov.is_some() {
                    return Err(Error::Invalid {
                        path: "moov".into(),
                        offset,
                        reason: "more than one moov",
                    });
                }
                let payload = read_vec(src, "moov", start, payload_len)?;
                let mut c = Reader::top_level_child(&payload, start, "moov");
                self.moov = Some((Moov::parse(&mut c)?, offset..offset + h.size));
            }
            b"moof" => {
                let payload = read_vec(src, "moof", start, payload_len)?;
                let mut c = Reader::top_level_child(&payload, start, "moof");
                self.moofs.push((offset, Moof::parse(&mut c)?));
            }
            b"mdat" => self.mdats.push(start..offset + h.size),
            _ => {}
        }
        Ok(())
    }
}

/// The tracks of `moov` with their samples: the progressive tables, then (`fragmented`) the
/// `moof`s' samples after them.
fn movie_tracks(
    moov: &Moov,
    moofs: &[(u64, Moof)],
    fragmented: bool,
    len: u64,
) -> Result<Vec<Track>> {
    let mut tracks = Vec::with_capacity(moov.traks.len());
    // The sample budget: every sample occupies at least one byte of the file, so the
    // samples of all tracks together number at most the file's length. Each sample list is
    // allocated once at its exact size, so the sample lists of a parse never hold more than
    // `size_of::<Sample>()` (40) bytes per byte of the file, whatever the input.
    let mut budget = len;
    let file_len = usize::try_from(len).unwrap_or(usize::MAX);
    for (i, trak) in moov.traks.iter().enumerate() {
        tracks.push(track_header(trak, i)?);
        let path = format!("moov/trak[{i}]/mdia/minf/stbl");
        let t = tracks.last_mut().ok_or(Error::Overflow {
            path: path.clone(),
            what: "track",
        })?;
        t.samples = progressive_samples(&trak.mdia.minf.stbl, &path, &mut budget, file_len)?;
        if t.media_duration == 0 {
            t.media_duration = sum_durations(&t.samples, &path)?;
        }
    }
    if fragmented {
        let trex: HashMap<u32, Trex> = moov
            .mvex
            .iter()
            .flat_map(|m| m.trex.iter())
            .map(|t| (t.track_id, *t))
            .collect();
        reserve_fragment_samples(moofs, &mut tracks, &trex, &mut budget, file_len)?;
        fragment_samples(moofs, &mut tracks, &trex)?;
        for (i, t) in tracks.iter_mut().enumerate() {
            let path = format!("moov/trak[{i}]");
            t.media_duration = sum_durations(&t.samples, &path)?;
        }
    }
    Ok(tracks)
}

/// The movie's duration: `mvhd`'s, else for a fragmented file `mehd`'s, else its longest
/// track's.
fn movie_duration(moov: &Moov, fragmented: bool, timescale: Timescale, tracks: &[Track]) -> u64 {
    let mut duration = moov.mvhd.duration;
    if fragmented && duration == 0 {
        if let Some(m) = moov.mvex.as_ref().and_then(|m| m.mehd) {
            duration = m.fragment_duration;
        } else {
            for t in tracks {
                let d = u128::from(t.media_duration) * u128::from(timescale.get())
                    / u128::from(t.timescale.get());
                duration = duration.max(u64::try_from(d).unwrap_or(u64::MAX));
            }
        }
    }
    duration
}

fn sum_durations(samples: &[Sample], path: &str) -> Result<u64> {
    samples.iter().try_fold(0u64, |acc, s| {
        acc.checked_add(u64::from(s.duration))
            .ok_or_else(|| Error::Overflow {
                path: path.to_string(),
                what: "track duration",
            })
    })
}

fn track_header(trak: &Trak, i: usize) -> Result<Track> {
    let mdia = &trak.mdia;
    let timescale = Timescale::new(mdia.mdhd.timescale).ok_or_else(|| Error::ZeroTimescale {
        path: format!("moov/trak[{i}]/mdia/mdhd"),
    })?;
    let kind = match &mdia.hdlr.handler_type.0 {
        b"vide" => TrackKind::Video,
        b"soun" => TrackKind::Audio,
        _ => TrackKind::Other(mdia.hdlr.handler_type),
    };
    let stsd_path = format!("moov/trak[{i}]/mdia/minf/stbl/stsd");
    let mut entries = Vec::with_capacity(mdia.minf.stbl.stsd.entries.len());
    for e in &mdia.minf.stbl.stsd.entries {
        entries.push(parse_sample_entry(e, 0, &stsd_path)?);
    }
    Ok(Track {
        id: trak.tkhd.track_id,
        kind,
        timescale,
        media_duration: mdia.mdhd.duration,
        language: mdia.mdhd.language,
        edits: trak
            .edts
            .as_ref()
            .and_then(|e| e.elst.as_ref())
            .map(|e| e.entries.clone())
            .unwrap_or_default(),
        entries,
        samples: Vec::new(),
        tkhd_width: trak.tkhd.width,
        tkhd_height: trak.tkhd.height,
        volume: trak.tkhd.volume,
    })
}

fn take_budget(budget: &mut u64, n: u64, path: &str) -> Result<usize> {
    if n > *budget {
        return Err(Error::CountTooLarge {
            path: path.to_string(),
            count: n,
            remaining: *budget,
        });
    }
    *budget -= n;
    usize::try_from(n).map_err(|_| Error::CountTooLarge {
        path: path.to_string(),
        count: n,
        remaining: *budget,
    })
}

/// The samples of a progressive track's `stbl`: sizes, then offsets and descriptions (`stsc`
/// over `stco`), then times (`stts`, `ctts`) and sync flags (`stss`).
fn progressive_samples(
    stbl: &Stbl,
    path: &str,
    budget: &mut u64,
    file_len: usize,
) -> Result<Vec<Sample>> {
    let Some(sizes) = sample_sizes(stbl, path, file_len)? else {
        return Ok(Vec::new());
    };
    let n = take_budget(budget, sizes.count, &format!("{path}/stsz"))?;
    if stbl.stco.is_none() && stbl.co64.is_none() {
        return Err(Error::MissingBox {
            path: path.to_string(),
            fourcc: FourCc(*b"stco"),
        });
    }
    let mut samples = place_samples(stbl, path, &sizes, n)?;
    decode_times(stbl, path, &mut samples)?;
    if let Some(ctts) = &stbl.ctts {
        let mut i = 0usize;
        'c: for e in &ctts.entries {
            for _ in 0..e.sample_count {
                let Some(s) = samples.get_mut(i) else {
                    break 'c;
                };
                s.cts_offset = e.sample_offset;
                i += 1;
            }
        }
    }
    if let Some(stss) = &stbl.stss {
        for &k in &stss.entries {
            if let Some(s) = (k as usize).checked_sub(1).and_then(|k| samples.get_mut(k)) {
                s.sync = true;
            }
        }
    }
    Ok(samples)
}

/// A track's sample sizes as its `stsz` or `stz2` gives them.
struct SampleSizes<'a> {
    /// How many samples (> 0).
    count: u64,
    /// The size of every sample, or 0 when `sizes` lists them.
    constant: u32,
    /// Each sample's size (empty when `constant` is not 0).
    sizes: &'a [u32],
}

impl SampleSizes<'_> {
    /// The size of sample `k`.
    fn of(&self, k: usize) -> u32 {
        if self.constant != 0 {
            self.constant
        } else {
            self.sizes[k]
        }
    }
}

/// The sample sizes of `stbl`, `None` when it has no samples.
fn sample_sizes<'a>(
    stbl: &'a Stbl,
    path: &str,
    file_len: usize,
) -> Result<Option<SampleSizes<'a>>> {
    let listed = |entries: &'a [u32]| SampleSizes {
        count: entries.len() as u64,
        constant: 0,
        sizes: entries,
    };
    let sizes = match (&stbl.stsz, &stbl.stz2) {
        (Some(z), _) if z.sample_size == 0 => listed(&z.entries),
        (Some(z), _) => {
            let n = u64::from(z.sample_count);
            // Constant-size samples are not backed by table bytes: together they must fit
            // in the file.
            if n.checked_mul(u64::from(z.sample_size))
                .is_none_or(|b| b > file_len as u64)
            {
                return Err(Error::CountTooLarge {
                    path: format!("{path}/stsz"),
                    count: n,
                    remaining: file_len as u64,
                });
            }
            SampleSizes {
                count: n,
                constant: z.sample_size,
                sizes: &[],
            }
        }
        (None, Some(z)) => listed(&z.entries),
        (None, None) => {
            if stbl.stts.entries.iter().all(|e| e.sample_count == 0) {
                return Ok(None);
            }
            return Err(Error::MissingBox {
                path: path.to_string(),
                fourcc: FourCc(*b"stsz"),
            });
        }
    };
    Ok((sizes.count != 0).then_some(sizes))
}

/// The first `n` samples with their offsets and sample descriptions: `stsc` runs of samples
/// laid end to end from each `stco`/`co64` offset (times not yet set).
fn place_samples(stbl: &Stbl, path: &str, sizes: &SampleSizes, n: usize) -> Result<Vec<Sample>> {
    // Run offsets, read in place (no copy of the table).
    let run_offset = |k: usize| -> Option<u64> {
        match (&stbl.stco, &stbl.co64) {
            (Some(c), _) => c.entries.get(k).map(|&o| u64::from(o)),
            (None, Some(c)) => c.entries.get(k).copied(),
            (None, None) => None,
        }
    };
    let mut samples = Vec::with_capacity(n);
    let stsc = &stbl.stsc.entries;
    let mut entry = 0usize;
    let mut run = 0usize; // 0-based
    'outer: while samples.len() < n {
        // The stsc entry for this run.
        while entry + 1 < stsc.len() && (stsc[entry + 1].first_chunk as usize) <= run + 1 {
            entry += 1;
        }
        let e = stsc.get(entry).ok_or_else(|| Error::Invalid {
            path: format!("{path}/stsc"),
            offset: 0,
            reason: "stsc has no entries but stsz has samples",
        })?;
        if e.first_chunk == 0 || e.first_chunk as usize > run + 1 {
            return Err(Error::Invalid {
                path: format!("{path}/stsc"),
                offset: 0,
                reason: "stsc first_chunk out of order",
            });
        }
        let mut off = run_offset(run).ok_or_else(|| Error::Invalid {
            path: format!("{path}/stco"),
            offset: 0,
            reason: "fewer chunks than the samples need",
        })?;
        for _ in 0..e.samples_per_chunk {
            if samples.len() >= n {
                break 'outer;
            }
            let size = sizes.of(samples.len());
            samples.push(Sample {
                offset: off,
                size,
                dts: 0,
                cts_offset: 0,
                duration: 0,
                sync: stbl.stss.is_none(),
                description_index: e.sample_description_index,
            });
            off = off
                .checked_add(u64::from(size))
                .ok_or_else(|| Error::Overflow {
                    path: path.to_string(),
                    what: "sample offset",
                })?;
        }
        run += 1;
    }
    Ok(samples)
}

/// Sets each sample's decode time and duration from `stts`, which must cover them all.
fn decode_times(stbl: &Stbl, path: &str, samples: &mut [Sample]) -> Result<()> {
    let n = samples.len();
    let mut i = 0usize;
    let mut dts = 0u64;
    for e in &stbl.stts.entries {
        for _ in 0..e.sample_count {
            let Some(s) = samples.get_mut(i) else { break };
            s.dts = dts;
            s.duration = e.sample_delta;
            dts = dts
                .checked_add(u64::from(e.sample_delta))
                .ok_or_else(|| Error::Overflow {
                    path: path.to_string(),
                    what: "decode time",
                })?;
            i += 1;
        }
        if i >= n {
            break;
        }
    }
    if i < n {
        return Err(Error::Invalid {
            path: path.to_string(),
            offset: 0,
            reason: "stts covers fewer samples than stsz",
        });
    }
    Ok(())
}

/// The position in `tracks` of the track a `traf` (`moof[mi]/traf[ti]`) belongs to.
pub(crate) fn traf_track(
    tracks: &[Track],
    track_id: u32,
    mi: usize,
    ti: usize,
    moof_offset: u64,
) -> Result<usize> {
    tracks
        .iter()
        .position(|t| t.id == track_id)
        .ok_or_else(|| Error::Invalid {
            path: format!("moof[{mi}]/traf[{ti}]/tfhd"),
            offset: moof_offset,
            reason: "tfhd names a track that is not in moov",
        })
}

/// Checks every `trun` against the file and the sample budget before anything is allocated,
/// then reserves each track's sample list once at its exact final size.
///
/// A `trun` without per-sample sizes is not backed by table bytes: its `sample_count` samples
/// of the default size (a zero size counting as one byte) must fit in the file, else
/// [`Error::CountTooLarge`] names the `trun`.
fn reserve_fragment_samples(
    moofs: &[(u64, Moof)],
    tracks: &mut [Track],
    trex: &HashMap<u32, Trex>,
    budget: &mut u64,
    file_len: usize,
) -> Result<()> {
    let mut counts = vec![0usize; tracks.len()];
    for (mi, (moof_offset, moof)) in moofs.iter().enumerate() {
        for (ti, traf) in moof.traf.iter().enumerate() {
            let tfhd = &traf.tfhd;
            let t = traf_track(tracks, tfhd.track_id, mi, ti, *moof_offset)?;
            let tx = trex.get(&tfhd.track_id).copied().unwrap_or_default();
            let def_size = tfhd.default_sample_size.unwrap_or(tx.default_sample_size);
            for (ri, trun) in traf.trun.iter().enumerate() {
                let path = || format!("moof[{mi}]/traf[{ti}]/trun[{ri}]");
                let count = u64::from(trun.sample_count).max(trun.samples.len() as u64);
                let sized = trun.samples.first().is_some_and(|s| s.size.is_some());
                if !sized
                    && count
                        .checked_mul(u64::from(def_size.max(1)))
                        .is_none_or(|b| b > file_len as u64)
                {
                    return Err(Error::CountTooLarge {
                        path: path(),
                        count,
                        remaining: file_len as u64,
                    });
                }
                let n = take_budget(budget, count, &path())?;
                counts[t] = counts[t].checked_add(n).ok_or_else(|| Error::Overflow {
                    path: path(),
                    what: "sample count",
                })?;
            }
        }
    }
    for (i, (t, n)) in tracks.iter_mut().zip(counts).enumerate() {
        t.samples
            .try_reserve_exact(n)
            .map_err(|_| Error::Overflow {
                path: format!("moov/trak[{i}]"),
                what: "sample list",
            })?;
    }
    Ok(())
}

/// Appends every `trun` sample of the `moof`s to its track (after the progressive samples,
/// in the room [`reserve_fragment_samples`] made), each `traf`'s data and decode time
/// following on from the one before.
fn fragment_samples(
    moofs: &[(u64, Moof)],
    tracks: &mut [Track],
    trex: &HashMap<u32, Trex>,
) -> Result<()> {
    let mut next_dts: HashMap<u32, u64> = HashMap::new();
    for t in tracks.iter() {
        let end = t
            .samples
            .last()
            .map_or(0, |s| s.dts.saturating_add(u64::from(s.duration)));
        next_dts.insert(t.id, end);
    }
    for (mi, (moof_offset, moof)) in moofs.iter().enumerate() {
        let mut prev_traf_end: Option<u64> = None;
        for (ti, traf) in moof.traf.iter().enumerate() {
            let tfhd = &traf.tfhd;
            let track = &mut tracks[traf_track(tracks, tfhd.track_id, mi, ti, *moof_offset)?];
            let tx = trex.get(&tfhd.track_id).copied().unwrap_or_default();
            let base = match (
                tfhd.base_data_offset,
                tfhd.default_base_is_moof,
                prev_traf_end,
            ) {
                (Some(b), _, _) => b,
                (None, true, _) | (None, false, None) => *moof_offset,
                (None, false, Some(end)) => end,
            };
            let dts = match traf.tfdt {
                Some(t) => t.base_media_decode_time,
                None => next_dts.get(&tfhd.track_id).copied().unwrap_or(0),
            };
            let start = TrafCursor { pos: base, dts };
            let path = format!("moof[{mi}]/traf[{ti}]");
            let end = traf_samples(track, traf, &SampleDefaults::of(tfhd, &tx), start, &path)?;
            prev_traf_end = Some(end.pos);
            next_dts.insert(tfhd.track_id, end.dts);
        }
    }
    Ok(())
}

/// Where the next sample of a `traf` is: its file offset and its decode time.
#[derive(Clone, Copy)]
struct TrafCursor {
    pos: u64,
    dts: u64,
}

/// What a `trun` sample without a field of its own has: `tfhd`'s default, else `trex`'s.
struct SampleDefaults {
    description_index: u32,
    duration: u32,
    size: u32,
    flags: u32,
}

impl SampleDefaults {
    /// The defaults of a `traf` with this `tfhd`, for the track with this `trex`.
    fn of(tfhd: &Tfhd, tx: &Trex) -> SampleDefaults {
        SampleDefaults {
            description_index: tfhd
                .sample_description_index
                .unwrap_or(tx.default_sample_description_index),
            duration: tfhd
                .default_sample_duration
                .unwrap_or(tx.default_sample_duration),
            size: tfhd.default_sample_size.unwrap_or(tx.default_sample_size),
            flags: tfhd.default_sample_flags.unwrap_or(tx.default_sample_flags),
        }
    }
}

/// Appends the samples of `traf`'s `trun`s to `track` from `start` (its data base and first
/// decode time); returns where the last one ends.
fn traf_samples(
    track: &mut Track,
    traf: &Traf,
    def: &SampleDefaults,
    start: TrafCursor,
    path: &str,
) -> Result<TrafCursor> {
    let ovf = |what| Error::Overflow {
        path: path.to_string(),
        what,
    };
    let TrafCursor { pos: base, mut dts } = start;
    let mut pos = base;
    for trun in &traf.trun {
        if let Some(d) = trun.data_offset {
            pos = base
                .checked_add_signed(i64::from(d))
                .ok_or_else(|| ovf("data offset"))?;
        }
        // Checked against the file and the budget, and reserved, above.
        let n = (trun.sample_count as usize).max(trun.samples.len());
        for k in 0..n {
            let ts = trun.samples.get(k).copied().unwrap_or_default();
            let flags = match (ts.flags, k, trun.first_sample_flags) {
                (Some(f), _, _) => f,
                (None, 0, Some(f)) => f,
                _ => def.flags,
            };
            let size = ts.size.unwrap_or(def.size);
            let duration = ts.duration.unwrap_or(def.duration);
            track.samples.push(Sample {
                offset: pos,
                size,
                dts,
                cts_offset: ts.cts_offset.unwrap_or(0),
                duration,
                sync: flags & SAMPLE_IS_NON_SYNC == 0,
                description_index: def.description_index,
            });
            pos = pos
                .checked_add(u64::from(size))
                .ok_or_else(|| ovf("sample offset"))?;
            dts = dts
                .checked_add(u64::from(duration))
                .ok_or_else(|| ovf("decode time"))?;
        }
    }
    Ok(TrafCursor { pos, dts })
}
