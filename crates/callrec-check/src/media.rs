//! What one chunk's file actually holds: codec parameters, frame rate, bitrates, durations,
//! integrity, and (optionally) the result of decoding every AAC frame.

use std::collections::HashMap;

use callrec_mp4::present::{EditLess, Window};
use callrec_mp4::{Codec, FourCc, Movie, ParseOptions, Source, Track, TrackKind, TruncatedTail};
use serde::Serialize;

use crate::decode::{decode_aac, DecodeFacts};

/// Samples per AAC-LC frame, and the encoder priming ffmpeg's AAC encoder writes (one frame).
pub(crate) const AAC_FRAME: u64 = 1024;

/// How a chunk's presented media duration was measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DurationMethod {
    /// From the edit list (sum of `elst` segment durations, in the movie timescale).
    EditList,
    /// No edit list: an audio track's sum of sample durations minus the AAC encoder priming
    /// (1024 samples), which files without an edit list present (ffmpeg's fragmented chunks);
    /// a video track's span minus the priming ffmpeg adds to its first sample.
    SamplesMinusPriming,
    /// No edit list: a video track's span from its earliest presentation time to the end of its
    /// last sample (priming is audio's alone), or any other track's sum of sample durations.
    Samples,
}

/// Facts about the video track.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VideoFacts {
    /// Sample entry four-character code (`avc1`).
    pub codec: String,
    /// H.264 `profile_idc`, when the entry is AVC.
    pub profile: Option<u8>,
    /// Picture width from the SPS (after cropping).
    pub width: Option<u32>,
    /// Picture height from the SPS (after cropping).
    pub height: Option<u32>,
    /// Number of sample descriptions (more than one when the avcC changes mid-track).
    pub sample_descriptions: usize,
    /// Picture sizes of the later AVC sample descriptions that differ from the first (distinct,
    /// in entry order, at most 16).
    pub other_sizes: Vec<(u32, u32)>,
    /// Track timescale.
    pub timescale: u32,
    /// Number of samples (frames).
    pub samples: usize,
    /// The most common sample duration, in milliseconds (one frame).
    pub frame_duration_ms: Option<f64>,
    /// Frame rate from the most common sample duration.
    pub frame_rate: Option<f64>,
    /// The first sample in decode order is a sync sample.
    pub first_sample_sync: bool,
    /// Sum of sample sizes.
    pub bytes: u64,
    /// Average bitrate over the whole track: bytes * 8 / (sum of sample durations).
    pub bitrate: Option<f64>,
    /// Presented duration in milliseconds (see [`MediaFacts::duration_method`]).
    pub duration_ms: Option<f64>,
}

/// Facts about the audio track.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AudioFacts {
    /// Sample entry four-character code (`mp4a`).
    pub codec: String,
    /// AAC audio object type from the AudioSpecificConfig (2 = AAC-LC).
    pub object_type: Option<u8>,
    /// Sample rate from the AudioSpecificConfig.
    pub sample_rate: Option<u32>,
    /// Track (`mdhd`) timescale.
    pub timescale: u32,
    /// Channel count from the AudioSpecificConfig (the `mp4a` entry's when the ASC says 0).
    pub channels: Option<u32>,
    /// Number of samples (AAC frames).
    pub samples: usize,
    /// Sum of sample durations, in the track timescale.
    pub track_duration: u64,
    /// Sum of sample sizes.
    pub bytes: u64,
    /// Average bitrate over the whole track: bytes * 8 / (sum of sample durations).
    pub bitrate: Option<f64>,
    /// Presented duration in milliseconds (see [`MediaFacts::duration_method`]).
    pub duration_ms: Option<f64>,
    /// What decoding every frame gave, when decoding was asked for and possible.
    pub decode: Option<DecodeFacts>,
}

/// What one chunk's MP4 holds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MediaFacts {
    /// File size in bytes.
    pub file_size: u64,
    /// Samples come from `moof`/`trun` fragments.
    pub fragmented: bool,
    /// Major brand from `ftyp`.
    pub major_brand: Option<String>,
    /// The chunk's presented media duration in milliseconds: the video track's when there is
    /// one, else the audio track's.
    pub duration_ms: Option<f64>,
    /// How [`MediaFacts::duration_ms`] was measured.
    pub duration_method: DurationMethod,
    /// Samples whose byte range runs past the end of the file (a truncated download).
    pub samples_past_eof: usize,
    /// Samples (within the file) whose byte range does not lie inside any `mdat` payload: a
    /// corrupt chunk offset table.
    pub samples_outside_mdat: usize,
    /// The first video track, if any.
    pub video: Option<VideoFacts>,
    /// The first audio track, if any.
    pub audio: Option<AudioFacts>,
    /// Every track's kind, codecs and AAC parameters: what must agree across the chunks for
    /// them to be stitched (`chunk.tracks_differ`). Not serialized.
    #[serde(skip)]
    pub tracks: Vec<callrec_mp4::validate::TrackLayout>,
}

/// Why a file could not be inspected at all.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Unreadable {
    Empty,
    NotMp4 {
        prefix: String,
        html: bool,
    },
    Parse(callrec_mp4::Error),
    /// A read failed because the file is shorter than when it was opened (it changed under
    /// the check): `file.changed`.
    Changed(callrec_mp4::Error),
    /// A read failed with another I/O error: `file.unreadable`.
    Io(callrec_mp4::Error),
    /// The file does not parse because it ends inside its last top-level box: a truncated
    /// download (e.g. a moov-last file cut in its `mdat`, so the `moov` is gone).
    Truncated {
        tail: TruncatedTail,
        error: callrec_mp4::Error,
    },
}

/// The result of inspecting one file: facts (when it parsed) and a truncation, if any.
#[derive(Debug, Clone)]
pub(crate) struct Inspection {
    pub facts: MediaFacts,
    /// The structural defects [`callrec_mp4::validate_movie`] found.
    pub defects: Vec<callrec_mp4::Defect>,
    pub truncated_tail: Option<callrec_mp4::TruncatedTail>,
}

const TOP_LEVEL: &[&[u8; 4]] = &[
    b"ftyp", b"styp", b"moov", b"mdat", b"free", b"skip", b"wide", b"moof", b"sidx", b"uuid",
    b"pdin", b"meta", b"mfra", b"emsg", b"prft",
];

/// A failed read, as what it means: the file shrank under us, or another I/O error.
fn read_failure(e: callrec_mp4::Error) -> Unreadable {
    match &e {
        callrec_mp4::Error::Read { kind, .. } if *kind == std::io::ErrorKind::UnexpectedEof => {
            Unreadable::Changed(e)
        }
        _ => Unreadable::Io(e),
    }
}

fn read_at(src: &dyn Source, offset: u64, n: u64) -> Result<Vec<u8>, Unreadable> {
    let n = n.min(src.len().saturating_sub(offset));
    let mut buf = vec![0u8; n as usize];
    src.read_exact_at(&mut buf, offset).map_err(|e| {
        read_failure(callrec_mp4::Error::Read {
            path: String::new(),
            offset,
            needed: n,
            kind: e.kind(),
            reason: e.to_string(),
        })
    })?;
    Ok(buf)
}

/// Cheap signature check before parsing (reads the first KiB): 0 bytes, an HTML page, or
/// something that does not start with a top-level ISO-BMFF box.
pub(crate) fn sniff(src: &dyn Source) -> Result<(), Unreadable> {
    if src.is_empty() {
        return Err(Unreadable::Empty);
    }
    let data = read_at(src, 0, 1024)?;
    let ok = data.len() >= 8 && TOP_LEVEL.iter().any(|t| &data[4..8] == *t);
    if ok {
        return Ok(());
    }
    let head = &data[..data.len().min(64)];
    let prefix: String = String::from_utf8_lossy(head)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let lower = String::from_utf8_lossy(&data).to_ascii_lowercase();
    let html = lower.contains("<html") || lower.contains("<!doctype") || lower.contains("<head");
    Err(Unreadable::NotMp4 {
        prefix: prefix.trim().to_string(),
        html,
    })
}

/// Parses and measures one file, read through `src` (box headers, `moov`/`moof`, then the
/// samples the decode and the validator need, in bounded windows).
pub(crate) fn inspect(src: &dyn Source, decode_audio: bool) -> Result<Inspection, Unreadable> {
    sniff(src)?;
    let movie = Movie::read(
        src,
        ParseOptions {
            allow_truncated_tail: true,
        },
    )
    .map_err(|error| {
        if matches!(error, callrec_mp4::Error::Read { .. }) {
            return read_failure(error);
        }
        match truncated_tail(src) {
            Ok(Some(tail)) => Unreadable::Truncated { tail, error },
            Ok(None) => Unreadable::Parse(error),
            Err(u) => u,
        }
    })?;
    let mut ins = measure(&movie, src, decode_audio);
    ins.defects = callrec_mp4::validate_source(src, &movie).map_err(read_failure)?;
    Ok(ins)
}

/// Walks the top-level box headers (never their contents) and returns the last box when the
/// file ends inside it: its header claims more bytes than are left, or the file ends inside the
/// header itself (`declared` 0). Steps once per box, each at least 8 bytes: bounded by the
/// file size.
pub(crate) fn truncated_tail(src: &dyn Source) -> Result<Option<TruncatedTail>, Unreadable> {
    let len = src.len();
    let mut offset: u64 = 0;
    while offset < len {
        let rest = read_at(src, offset, 16)?;
        let available = len - offset;
        let fourcc = FourCc(
            rest.get(4..8)
                .and_then(|b| <[u8; 4]>::try_from(b).ok())
                .unwrap_or(*b"????"),
        );
        let cut = |declared| TruncatedTail {
            fourcc,
            offset,
            declared,
            available,
        };
        let Some(size32) = rest.get(..4).and_then(|b| <[u8; 4]>::try_from(b).ok()) else {
            return Ok(Some(cut(0)));
        };
        let size32 = u32::from_be_bytes(size32);
        let (size, header) = match size32 {
            // To the end of the file: cannot run past it.
            0 => return Ok(None),
            1 => match rest.get(8..16).and_then(|b| <[u8; 8]>::try_from(b).ok()) {
                Some(b) => (u64::from_be_bytes(b), 16),
                None => return Ok(Some(cut(0))),
            },
            n => (u64::from(n), 8),
        };
        if available < header {
            return Ok(Some(cut(0)));
        }
        if size < header {
            // Not a box size at all: corrupt, not cut short.
            return Ok(None);
        }
        if size > available {
            return Ok(Some(cut(size)));
        }
        offset += size;
    }
    Ok(None)
}

fn ms(ticks: f64, timescale: u32) -> f64 {
    ticks * 1000.0 / f64::from(timescale)
}

fn sum_durations(t: &Track) -> u64 {
    t.samples
        .iter()
        .fold(0u64, |a, s| a.saturating_add(u64::from(s.duration)))
}

fn sum_sizes(t: &Track) -> u64 {
    t.samples
        .iter()
        .fold(0u64, |a, s| a.saturating_add(u64::from(s.size)))
}

fn bitrate(bytes: u64, duration: u64, timescale: u32) -> Option<f64> {
    (duration > 0).then(|| bytes as f64 * 8.0 * f64::from(timescale) / duration as f64)
}

/// Presented duration of a track from its edit list (movie timescale), if it has one.
fn edit_duration_ms(movie: &Movie, t: &Track) -> Option<f64> {
    if t.edits.is_empty() {
        return None;
    }
    let total: u64 = t
        .edits
        .iter()
        .fold(0u64, |a, e| a.saturating_add(e.segment_duration));
    (total > 0).then(|| ms(total as f64, movie.timescale.get()))
}

/// A track's presented duration: from the edit list, else (a file without one: ffmpeg's
/// fragmented chunks) what its window `w` ([`edit_less_window`]) says it presents, the model
/// the stitcher uses: audio after its AAC priming, a stretched first sample given its own
/// length back.
fn presented_ms(movie: &Movie, t: &Track, w: Option<&Window>) -> (Option<f64>, DurationMethod) {
    if let Some(d) = edit_duration_ms(movie, t) {
        return (Some(d), DurationMethod::EditList);
    }
    let Some(w) = w else {
        let raw = ms(sum_durations(t) as f64, t.timescale.get());
        return (Some(raw), DurationMethod::Samples);
    };
    let ts = t.timescale.get();
    let span = ms(w.end.saturating_sub(w.start).max(0) as f64, ts);
    let method = if w.trim > 0 || t.kind == TrackKind::Audio {
        DurationMethod::SamplesMinusPriming
    } else {
        DurationMethod::Samples
    };
    (Some(span), method)
}

/// What [`callrec_mp4::present`] says track `t` of an edit-less file presents (`el`: the
/// file's edit-less presentation, `None` when it has an edit list); computed once per track.
fn edit_less_window(movie: &Movie, el: Option<EditLess>, t: &Track) -> Option<Window> {
    el.and_then(|el| callrec_mp4::present::window(movie, t, Some(el)).ok())
}

/// Ticks by which an edit-less track's first sample is stretched (ffmpeg's fragments): its
/// decode-time delta is not media.
fn first_stretch(w: Option<&Window>) -> u64 {
    w.map_or(0, |w| u64::from(w.trim))
}

/// Most distinct picture sizes [`VideoFacts::other_sizes`] lists (a hostile `stsd` may hold
/// thousands of entries; each listed size is a finding).
const MAX_OTHER_SIZES: usize = 16;

/// The distinct picture sizes of the later AVC entries that differ from `first`, in entry
/// order, at most [`MAX_OTHER_SIZES`].
fn other_sizes(t: &Track, first: Option<(u32, u32)>) -> Vec<(u32, u32)> {
    let mut seen = std::collections::HashSet::new();
    t.entries
        .iter()
        .skip(1)
        .filter_map(|e| match &e.codec {
            Codec::Avc(c) => Some((c.width, c.height)),
            _ => None,
        })
        .filter(|&wh| Some(wh) != first && seen.insert(wh))
        .take(MAX_OTHER_SIZES)
        .collect()
}

fn mode_duration(t: &Track) -> Option<u32> {
    let mut counts: HashMap<u32, usize> = HashMap::new();
    for s in &t.samples {
        *counts.entry(s.duration).or_default() += 1;
    }
    counts
        .into_iter()
        .filter(|&(d, _)| d > 0)
        .max_by_key(|&(d, n)| (n, std::cmp::Reverse(d)))
        .map(|(d, _)| d)
}

/// The fewest frame intervals that must share the most common duration before a frame rate is
/// judged from it. The first sample's duration is not an interval (ffmpeg stretches it in
/// fragmented files by the audio priming) nor is the last's (an encoder's `stts` gives it the
/// length of its content, or of the chunk's tail): a chunk of one or two frames (a last chunk
/// of 50 ms) has only those, and its "frame rate" would be an artefact. Three equal interior
/// intervals (five frames: 0.625 s at 8 fps) cannot come from those two.
pub const MIN_FRAME_INTERVALS: usize = 3;

/// The most common duration of the interior samples (not the first nor the last), when at
/// least [`MIN_FRAME_INTERVALS`] share it; `None`: too few frames to judge a frame rate.
fn frame_rate_basis(t: &Track) -> Option<u32> {
    let n = t.samples.len();
    if n < MIN_FRAME_INTERVALS + 2 {
        return None;
    }
    let mut counts: HashMap<u32, usize> = HashMap::new();
    for s in &t.samples[1..n - 1] {
        *counts.entry(s.duration).or_default() += 1;
    }
    counts
        .into_iter()
        .filter(|&(d, k)| d > 0 && k >= MIN_FRAME_INTERVALS)
        .max_by_key(|&(d, k)| (k, std::cmp::Reverse(d)))
        .map(|(d, _)| d)
}

/// Samples past the end of the file, and samples inside it but outside every `mdat`.
fn misplaced_samples(movie: &Movie, file_size: u64, tracks: &[&Track]) -> (usize, usize) {
    let past_eof = |t: &Track| {
        t.samples
            .iter()
            .filter(|s| s.range().end > file_size)
            .count()
    };
    let mut mdats = movie.mdats.clone();
    mdats.sort_by_key(|r| r.start);
    let outside = |t: &Track| {
        t.samples
            .iter()
            .filter(|s| {
                let r = s.range();
                if r.end > file_size {
                    return false;
                }
                // The last mdat starting at or before the sample must contain it.
                let k = mdats.partition_point(|m| m.start <= r.start);
                k == 0 || mdats[k - 1].end < r.end
            })
            .count()
    };
    (
        tracks.iter().map(|t| past_eof(t)).sum(),
        tracks.iter().map(|t| outside(t)).sum(),
    )
}

/// The video track's facts; `w`: its edit-less window.
fn video_facts(movie: &Movie, t: &Track, w: Option<&Window>) -> VideoFacts {
    let (profile, width, height) = match t.codec() {
        Some(Codec::Avc(c)) => (Some(c.profile), Some(c.width), Some(c.height)),
        _ => (None, None, None),
    };
    let ts = t.timescale.get();
    let dur = sum_durations(t);
    let bytes = sum_sizes(t);
    let frame = mode_duration(t);
    VideoFacts {
        codec: t
            .entries
            .first()
            .map_or_else(|| "none".to_string(), |e| e.fourcc.to_string()),
        profile,
        width,
        height,
        sample_descriptions: t.entries.len(),
        other_sizes: other_sizes(t, width.zip(height)),
        timescale: ts,
        samples: t.samples.len(),
        frame_duration_ms: frame.map(|d| ms(f64::from(d), ts)),
        frame_rate: frame_rate_basis(t).map(|d| f64::from(ts) / f64::from(d)),
        first_sample_sync: t.samples.first().is_some_and(|s| s.sync),
        bytes,
        bitrate: bitrate(bytes, dur, ts),
        duration_ms: presented_ms(movie, t, w).0,
    }
}

/// The audio track's facts, its AAC frames decoded when `decode_audio`; `w`: its edit-less
/// window.
fn audio_facts(
    movie: &Movie,
    t: &Track,
    w: Option<&Window>,
    src: &dyn Source,
    decode_audio: bool,
) -> AudioFacts {
    let (object_type, sample_rate, channels) = match t.codec() {
        Some(Codec::Aac(c)) => {
            let ch = if c.channels == 0 {
                u32::from(c.entry_channels)
            } else {
                u32::from(c.channels)
            };
            (Some(c.object_type), Some(c.sample_rate), Some(ch))
        }
        _ => (None, None, None),
    };
    let ts = t.timescale.get();
    let dur = sum_durations(t);
    let bytes = sum_sizes(t);
    let decode = match (decode_audio, t.codec()) {
        (true, Some(Codec::Aac(c))) => Some(decode_aac(c, t, src)),
        _ => None,
    }
    .map(|mut d| {
        // A stretched first frame decodes to one frame like any other.
        d.packets_duration = d.packets_duration.saturating_sub(first_stretch(w));
        d
    });
    AudioFacts {
        codec: t
            .entries
            .first()
            .map_or_else(|| "none".to_string(), |e| e.fourcc.to_string()),
        object_type,
        sample_rate,
        timescale: ts,
        channels,
        samples: t.samples.len(),
        track_duration: dur,
        bytes,
        bitrate: bitrate(bytes, dur, ts),
        duration_ms: presented_ms(movie, t, w).0,
        decode,
    }
}

/// The facts of one parsed chunk: the edit-less windows computed once for the file, then each
/// track's facts from them.
fn measure(movie: &Movie, src: &dyn Source, decode_audio: bool) -> Inspection {
    let file_size = src.len();
    let vt = movie.track(TrackKind::Video);
    let at = movie.track(TrackKind::Audio);
    let tracks: Vec<&Track> = vt.into_iter().chain(at).collect();
    let (samples_past_eof, samples_outside_mdat) = misplaced_samples(movie, file_size, &tracks);
    let el = callrec_mp4::present::edit_less(movie).ok().flatten();
    let vw = vt.and_then(|t| edit_less_window(movie, el, t));
    let aw = at.and_then(|t| edit_less_window(movie, el, t));
    let video = vt.map(|t| video_facts(movie, t, vw.as_ref()));
    let audio = at.map(|t| audio_facts(movie, t, aw.as_ref(), src, decode_audio));
    let (duration_ms, method) = match (vt, at) {
        (Some(t), _) => presented_ms(movie, t, vw.as_ref()),
        (None, Some(t)) => presented_ms(movie, t, aw.as_ref()),
        (None, None) => (None, DurationMethod::Samples),
    };
    Inspection {
        defects: Vec::new(),
        facts: MediaFacts {
            file_size,
            fragmented: movie.fragmented,
            major_brand: movie.major_brand.map(|b| b.to_string()),
            duration_ms,
            duration_method: method,
            samples_past_eof,
            samples_outside_mdat,
            video,
            audio,
            tracks: callrec_mp4::validate::track_layouts(movie),
        },
        truncated_tail: movie.truncated_tail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_of_distinct_sample_entry_sizes_are_capped() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../testdata/recordings/faststart");
        let mp4 = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|x| x == "mp4"))
            .unwrap();
        let movie = Movie::parse(&std::fs::read(mp4).unwrap()).unwrap();
        let mut t = movie.track(TrackKind::Video).unwrap().clone();
        let first = t.entries[0].clone();
        let Codec::Avc(c) = &first.codec else {
            panic!("avc fixture")
        };
        let wh = (c.width, c.height);
        for i in 0..20_000u32 {
            let mut e = first.clone();
            if let Codec::Avc(c) = &mut e.codec {
                // Every other entry repeats the first size; the rest are all distinct.
                c.width = if i % 2 == 0 { wh.0 } else { i };
            }
            t.entries.push(e);
        }
        let sizes = other_sizes(&t, Some(wh));
        assert_eq!(sizes.len(), MAX_OTHER_SIZES);
        assert_eq!(sizes[0], (1, wh.1));
        assert_eq!(sizes[1], (3, wh.1));
    }
}
