//! The high-level view of one MP4 file: its tracks, each with a flat sample list, edit list and
//! codec configuration, built alike from progressive (`moov` sample tables) and fragmented
//! (`moof`/`trun`) files.
//!
//! CONTRACT: the public types and fields in this file are used by `callrec-stitch`,
//! `callrec-check` and the facade. Add fields or methods freely; do not rename or remove.

use std::num::NonZeroU32;
use std::ops::Range;

use crate::FourCc;

/// Ticks per second of a movie or track (ISO/IEC 14496-12 8.2.2 `mvhd`, 8.4.2 `mdhd`).
///
/// Never zero: a zero timescale read from a file is an error, not a panic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timescale(pub NonZeroU32);

impl Timescale {
    /// The timescale as a plain integer.
    pub fn get(self) -> u32 {
        self.0.get()
    }

    /// A timescale from a wire value; `None` for zero.
    pub fn new(ticks_per_second: u32) -> Option<Self> {
        NonZeroU32::new(ticks_per_second).map(Timescale)
    }
}

/// What a track carries, from its `hdlr` handler type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TrackKind {
    /// `vide`.
    Video,
    /// `soun`.
    Audio,
    /// Any other handler (hint, text, metadata...).
    Other(FourCc),
}

/// One sample (an access unit: a video frame or an AAC frame) of a track.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sample {
    /// Absolute byte offset of the sample's data in the file.
    pub offset: u64,
    /// Size in bytes.
    pub size: u32,
    /// Decode time in the track timescale, counted from the start of the track's media.
    pub dts: u64,
    /// Composition offset (`ctts`, or `trun` sample_composition_time_offset): pts = dts + cts_offset.
    pub cts_offset: i32,
    /// Duration in the track timescale.
    pub duration: u32,
    /// A sync sample (keyframe): in `stss`, or every sample when `stss` is absent; from the sample
    /// flags (`sample_is_non_sync_sample` clear) in fragmented files.
    pub sync: bool,
    /// 1-based index into [`Track::entries`] (the `stsd` entry this sample uses).
    pub description_index: u32,
}

impl Sample {
    /// Presentation time in the track timescale (`dts + cts_offset`).
    pub fn pts(&self) -> i64 {
        self.dts as i64 + i64::from(self.cts_offset)
    }

    /// Byte range of the sample in the file.
    pub fn range(&self) -> Range<u64> {
        self.offset..self.offset + u64::from(self.size)
    }
}

/// One edit list entry (ISO/IEC 14496-12 8.6.6 `elst`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Edit {
    /// Duration of the segment in the **movie** timescale.
    pub segment_duration: u64,
    /// Start of the segment in the **track** timescale; `None` for an empty edit (`-1` on the wire).
    pub media_time: Option<i64>,
    /// Integer part of the media rate (1 for normal playback).
    pub media_rate_integer: i16,
    /// Fractional part of the media rate.
    pub media_rate_fraction: i16,
}

/// Codec configuration decoded from a sample entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Codec {
    /// `avc1`/`avc3` with its `avcC`.
    Avc(AvcConfig),
    /// `mp4a` with an `esds` holding an AudioSpecificConfig.
    Aac(AacConfig),
    /// Any other sample entry, kept by its four-character code.
    Unknown(FourCc),
}

/// H.264 configuration: `avcC` plus the first SPS parsed far enough for the picture size.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AvcConfig {
    /// `profile_idc` of the first SPS (66 baseline, 77 main, 100 high...).
    pub profile: u8,
    /// `level_idc` of the first SPS (e.g. 40 for level 4.0).
    pub level: u8,
    /// Coded picture width after cropping, from the SPS.
    pub width: u32,
    /// Coded picture height after cropping, from the SPS.
    pub height: u32,
    /// Width stored in the visual sample entry.
    pub entry_width: u16,
    /// Height stored in the visual sample entry.
    pub entry_height: u16,
    /// The `avcC` payload (without its box header), byte for byte.
    pub avcc: Vec<u8>,
}

/// AAC configuration: the AudioSpecificConfig from `esds`, plus the `mp4a` entry fields.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AacConfig {
    /// Audio object type (2 = AAC-LC).
    pub object_type: u8,
    /// Sampling frequency from the AudioSpecificConfig, in Hz.
    pub sample_rate: u32,
    /// Channel count from the AudioSpecificConfig (`channelConfiguration`).
    pub channels: u8,
    /// Sample rate stored in the `mp4a` entry (16.16 integer part).
    pub entry_sample_rate: u32,
    /// Channel count stored in the `mp4a` entry.
    pub entry_channels: u16,
    /// The AudioSpecificConfig bytes.
    pub asc: Vec<u8>,
}

/// One `stsd` entry: its raw bytes (to copy into an output unchanged) and what they decode to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SampleEntry {
    /// The entry's box type (`avc1`, `mp4a`...).
    pub fourcc: FourCc,
    /// The whole entry box, header included, exactly as in the file.
    pub raw: Vec<u8>,
    /// The decoded configuration.
    pub codec: Codec,
}

/// One track of a [`Movie`].
#[derive(Debug, Clone, PartialEq)]
pub struct Track {
    /// `tkhd` track_ID.
    pub id: u32,
    /// From the `hdlr` handler type.
    pub kind: TrackKind,
    /// `mdhd` timescale.
    pub timescale: Timescale,
    /// Media duration in the track timescale: `mdhd` duration for progressive files, the sum of
    /// sample durations for fragmented ones (and whenever `mdhd` says 0).
    pub media_duration: u64,
    /// `mdhd` language, ISO-639-2/T packed as on the wire.
    pub language: u16,
    /// The edit list; empty when the track has no `edts`.
    pub edits: Vec<Edit>,
    /// The `stsd` entries, in order ([`Sample::description_index`] is 1-based into this).
    pub entries: Vec<SampleEntry>,
    /// Every sample in decode order.
    pub samples: Vec<Sample>,
    /// The `tkhd` width (16.16 fixed point), for visual tracks.
    pub tkhd_width: u32,
    /// The `tkhd` height (16.16 fixed point), for visual tracks.
    pub tkhd_height: u32,
    /// The `tkhd` volume (8.8 fixed point).
    pub volume: i16,
}

/// A whole MP4 file, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct Movie {
    /// `mvhd` timescale (edit list segment durations are in this unit).
    pub timescale: Timescale,
    /// `mvhd` duration in the movie timescale (for fragmented files, `mehd` or the longest track).
    pub duration: u64,
    /// The tracks in `moov` order.
    pub tracks: Vec<Track>,
    /// True when the samples came from `moof`/`trun` fragments.
    pub fragmented: bool,
    /// Major brand from `ftyp`, if present.
    pub major_brand: Option<FourCc>,
    /// Byte range of the `moov` box (header included).
    pub moov: Range<u64>,
    /// Byte ranges of every `mdat` payload (header excluded), in file order.
    pub mdats: Vec<Range<u64>>,
    /// Set when the file ends inside its last top-level box (a truncated download), and the
    /// file was parsed with [`ParseOptions::allow_truncated_tail`]; holds the box type, the
    /// size its header claims and the bytes actually present.
    pub truncated_tail: Option<TruncatedTail>,
}

/// A last top-level box cut short by the end of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TruncatedTail {
    /// Type of the box that runs past the end.
    pub fourcc: FourCc,
    /// Offset of the box header.
    pub offset: u64,
    /// Size the header claims (0 when the file ends inside the header itself).
    pub declared: u64,
    /// Bytes from the header to the end of the file.
    pub available: u64,
}

/// How strictly [`Movie::parse_with`] treats a file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ParseOptions {
    /// Accept a last top-level box that runs past the end of the file (recorded in
    /// [`Movie::truncated_tail`]) instead of failing; samples may then point past the end.
    pub allow_truncated_tail: bool,
}

impl Track {
    /// The first video or audio sample entry's codec, if any.
    pub fn codec(&self) -> Option<&Codec> {
        self.entries.first().map(|e| &e.codec)
    }
}

impl Movie {
    /// The first track of the given kind.
    pub fn track(&self, kind: TrackKind) -> Option<&Track> {
        self.tracks.iter().find(|t| t.kind == kind)
    }
}
