//! Findings: a stable code, a severity, the chunk, a message and the expected and actual values.

use std::fmt;

use serde::{Serialize, Serializer};

/// How bad a [`Finding`] is. Ordered: `Info < Warning < Error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; nothing is wrong.
    Info,
    /// Suspicious: the archive is probably usable, a person should look.
    Warning,
    /// The media does not match the metadata, or cannot be read: do not sign off.
    Error,
}

impl Severity {
    /// `"error"`, `"warning"` or `"info"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

macro_rules! codes {
    ($( $(#[$doc:meta])* $variant:ident => $s:literal, )*) => {
        /// The stable code of a finding, serialized as its string (`"video.resolution"`).
        ///
        /// Codes never change meaning; new ones may be added.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[non_exhaustive]
        pub enum Code {
            $( $(#[$doc])* $variant, )*
        }

        impl Code {
            /// Every code, in declaration order.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The stable string form.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( Code::$variant => $s, )*
                }
            }
        }
    };
}

codes! {
    /// The chunk's media file is absent.
    FileMissing => "file.missing",
    /// The chunk's media file exists but cannot be opened or read (see `check_files`).
    FileUnreadable => "file.unreadable",
    /// The chunk's media file changed while it was read: it shrank (a read past its new end),
    /// or its size or modification time differs from when it was opened. Nothing read from
    /// it can be trusted; check it again once nothing writes it.
    FileChanged => "file.changed",
    /// The chunk's media file has 0 bytes (a failed download).
    FileEmpty => "file.empty",
    /// The file does not start like an MP4 (an HTML error page, JSON, garbage).
    FileNotMp4 => "file.not_mp4",
    /// An MP4 file in the directory that neither the event nor any metadata lists.
    FileUnlisted => "file.unlisted",
    /// A box does not parse; the message names the box path.
    Mp4Parse => "mp4.parse",
    /// The file ends before its last box does, or sample ranges run past the end of the file.
    Mp4Truncated => "mp4.truncated",
    /// Sample byte ranges that lie inside the file but outside every `mdat` payload.
    Mp4SampleRange => "mp4.sample_range",
    /// A sample entry (`avc1`, `mp4a`) of size 0, too small, or past its `stsd`.
    Mp4SampleEntry => "mp4.sample_entry",
    /// The `stsz` sample count disagrees with its own table or with `stts`.
    Mp4Stsz => "mp4.stsz",
    /// An `stts` (or fragment) duration of 0 on a sample other than the last, or one longer
    /// than 10 s and the track's declared duration.
    Mp4Stts => "mp4.stts",
    /// `ctts` does not cover exactly the samples.
    Mp4Ctts => "mp4.ctts",
    /// `stsc` `first_chunk` 0, not increasing, past the chunk offsets, or too few samples.
    Mp4Stsc => "mp4.stsc",
    /// A `trun` whose samples run past the `mdat` after its `moof`.
    Mp4Trun => "mp4.trun",
    /// A composition offset beyond the track duration or 10 s.
    Mp4CompositionOffset => "mp4.composition_offset",
    /// An `stss` entry of 0, past the sample count, or not increasing.
    Mp4Stss => "mp4.stss",
    /// A video sample of 0 bytes.
    Mp4EmptySample => "mp4.empty_sample",
    /// An H.264 sample whose NAL length prefixes do not tile it exactly (or name a forbidden
    /// or unspecified NAL type): its chunk offset (`stco`) or `trun` data offset is wrong.
    Mp4SampleData => "mp4.sample_data",
    /// A decode time that goes backwards, or jumps by more than 32 bits of ticks (fragments
    /// out of order, a wrong `tfdt`); the message says which.
    Mp4DecodeOrder => "mp4.decode_order",
    /// A fragment whose `tfdt` is not where the track's earlier samples end: a fragment is
    /// missing (a hole), or fragments overlap.
    Mp4DecodeGap => "mp4.decode_gap",
    /// An edit list the presentation model cannot follow (media rate other than 1, a media
    /// edit at or past the end of the track's media).
    Mp4Elst => "mp4.elst",
    /// The metadata describes a track kind (video or audio) that the file lacks.
    TrackMissing => "track.missing",
    /// The metadata says audio only (`channelType`), but the file has a video track.
    TrackUnexpected => "track.unexpected",
    /// The metadata names a format callrec does not check (`wav`, `mp3`): the media is skipped.
    FormatUnsupported => "format.unsupported",
    /// The video codec is not H.264.
    VideoCodec => "video.codec",
    /// The SPS picture size differs from `longerSideLength` x `shorterSideLength`.
    VideoResolution => "video.resolution",
    /// The frame rate from the sample durations differs from `framerate`.
    VideoFrameRate => "video.frame_rate",
    /// The first video sample is not a sync sample (keyframe).
    VideoFirstSampleSync => "video.first_sample_sync",
    /// The average video bitrate is outside the tolerance around `bitRate`.
    VideoBitrate => "video.bitrate",
    /// The audio codec is not AAC.
    AudioCodec => "audio.codec",
    /// The AAC audio object type is not AAC-LC (2).
    AudioObjectType => "audio.object_type",
    /// The AudioSpecificConfig sample rate differs from `sampleRate`.
    AudioSampleRate => "audio.sample_rate",
    /// The audio track timescale differs from the sample rate.
    AudioTimescale => "audio.timescale",
    /// The channel count differs from `channels`.
    AudioChannels => "audio.channels",
    /// The average audio bitrate is outside the tolerance around `bitRate`.
    AudioBitrate => "audio.bitrate",
    /// An AAC frame failed to decode.
    AudioDecode => "audio.decode",
    /// The decoded PCM sample count does not match the track duration.
    AudioDecodedSamples => "audio.decoded_samples",
    /// A long stretch of digital silence, or a chunk with no sound at all.
    AudioSilence => "audio.silence",
    /// The chunk's presented media duration differs from `chunkDuration` by more than a frame.
    DurationChunk => "duration.chunk",
    /// Instead of `duration.chunk` (warning): the chunk was paused and its media is shorter
    /// than `chunkDuration` by its pauses' total (within a frame), so the metadata's
    /// `chunkDuration` appears to include the paused time. Expected
    /// `{chunk_duration_ms, paused_ms}`, actual `{media_ms}`.
    DurationIncludesPauses => "duration.includes_pauses",
    /// The audio and video tracks of a chunk differ in duration by more than a frame.
    DurationTracks => "duration.tracks",
    /// The chunks' media durations do not add up to the event's `recordingDurationMs`.
    DurationTotal => "duration.total",
    /// `recordingDurationMs` matches the chunks' wall-clock span, not their media (info).
    DurationTotalWallClock => "duration.total_wall_clock",
    /// The chunks' `chunkDuration` values do not add up to the event's `recordingDurationMs`
    /// (not reported when `duration.total` already is: one finding per wrong total).
    DurationMetadataTotal => "duration.metadata_total",
    /// A metadata duration (chunk or pause) is negative.
    DurationNegative => "duration.negative",
    /// A wall-clock gap between the end of chunk k and the start of chunk k+1.
    TimelineGap => "timeline.gap",
    /// Chunk k+1 starts before chunk k ends on the wall clock.
    TimelineOverlap => "timeline.overlap",
    /// Instead of `timeline.overlap` or `timeline.gap` (info): chunk k+1 starts at chunk k's
    /// `chunkStartTime + chunkDuration`, which is where chunk k ends when its `chunkDuration`
    /// includes its pauses (chunk k has `duration.includes_pauses`).
    TimelineIncludesPauses => "timeline.includes_pauses",
    /// A pause interval falls (partly) outside its chunk.
    TimelinePauseOutside => "timeline.pause_outside",
    /// Pause intervals of a chunk overlap or are out of order.
    TimelinePauseOverlap => "timeline.pause_overlap",
    /// Another timeline inconsistency reported by the metadata layer.
    TimelineInvalid => "timeline.invalid",
    /// No event (RecordingFileStatusUpdated) was found for the recording.
    EventMissing => "event.missing",
    /// The event's chunk count or list disagrees with the metadata present.
    EventChunkCount => "event.chunk_count",
    /// The event lists one documentId for more than one chunk.
    EventDuplicateDocumentId => "event.duplicate_document_id",
    /// The event lists a documentId that cannot be a file name (`../victim/X`, an absolute
    /// path): the message names the JSON field; stitch refuses.
    EventInvalidDocumentId => "event.invalid_document_id",
    /// A chunk index is missing from the sequence 0..n.
    ChunkIndexMissing => "chunk.index_missing",
    /// Two chunks share an index.
    ChunkIndexDuplicate => "chunk.index_duplicate",
    /// The event lists a chunk whose files are absent.
    ChunkAbsent => "chunk.absent",
    /// A chunk's tracks differ from the first chunk's (track count, codec, AAC object type,
    /// sample rate, channels): `stitch` refuses to join them.
    ChunkTracksDiffer => "chunk.tracks_differ",
    /// A chunk's media file is byte-identical (same size and SHA-256) to an earlier chunk's:
    /// a chunk downloaded twice under two names (warning).
    ChunkDuplicate => "chunk.duplicate",
    /// A chunk metadata file that the event does not list.
    MetadataUnlisted => "metadata.unlisted",
    /// The event and the metadata disagree on a chunk's index.
    MetadataIndex => "metadata.index",
    /// The metadata's `chunkDocumentId` differs from the documentId it was found under.
    MetadataDocumentId => "metadata.document_id",
    /// The chunk has no (readable) metadata.
    MetadataMissing => "metadata.missing",
    /// A metadata or event file is not valid JSON for its schema.
    MetadataInvalid => "metadata.invalid",
    /// More than one `callId` across the chunks.
    MetadataCallId => "metadata.call_id",
    /// Another problem reported by the metadata layer.
    MetadataOther => "metadata.other",
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Code {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Which chunk a finding is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct ChunkRef {
    /// The chunk index (from the event, else the metadata).
    pub index: u32,
    /// The chunk's documentId.
    pub document_id: String,
}

/// One thing `check` found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// Stable code (`"video.resolution"`).
    pub code: Code,
    /// How bad it is.
    pub severity: Severity,
    /// The chunk, or `None` for a recording-wide finding.
    pub chunk: Option<ChunkRef>,
    /// A lowercase sentence a person reads.
    pub message: String,
    /// What the metadata (or the format) says it should be.
    pub expected: Option<serde_json::Value>,
    /// What the file holds.
    pub actual: Option<serde_json::Value>,
}

impl Finding {
    /// A finding without expected/actual values.
    pub fn new(
        code: Code,
        severity: Severity,
        chunk: Option<ChunkRef>,
        message: impl Into<String>,
    ) -> Self {
        Finding {
            code,
            severity,
            chunk,
            message: message.into(),
            expected: None,
            actual: None,
        }
    }

    /// Sets the expected and actual values.
    pub fn values(mut self, expected: impl Serialize, actual: impl Serialize) -> Self {
        self.expected = serde_json::to_value(expected).ok();
        self.actual = serde_json::to_value(actual).ok();
        self
    }

    /// Sets only the actual value.
    pub fn actual(mut self, actual: impl Serialize) -> Self {
        self.actual = serde_json::to_value(actual).ok();
        self
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.severity, self.code)?;
        if let Some(c) = &self.chunk {
            write!(f, " chunk {} ({})", c.index, c.document_id)?;
        }
        write!(f, ": {}", self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_dotted() {
        let mut seen = std::collections::HashSet::new();
        for c in Code::ALL {
            assert!(seen.insert(c.as_str()), "duplicate code {c}");
            assert!(c.as_str().contains('.'), "{c}");
            assert_eq!(c.as_str(), c.as_str().to_lowercase());
        }
    }

    #[test]
    fn finding_serializes_code_and_severity_as_strings() {
        let f = Finding::new(
            Code::VideoResolution,
            Severity::Error,
            Some(ChunkRef {
                index: 1,
                document_id: "doc".into(),
            }),
            "picture is 1280x720",
        )
        .values([1920, 1080], [1280, 720]);
        let v = serde_json::to_value(&f).unwrap();
        assert_eq!(v["code"], "video.resolution");
        assert_eq!(v["severity"], "error");
        assert_eq!(v["chunk"]["index"], 1);
        assert_eq!(v["expected"][0], 1920);
        assert_eq!(v["actual"][1], 720);
    }
}
