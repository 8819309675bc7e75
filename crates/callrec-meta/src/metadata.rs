//! Chunk metadata (`GET .../recording/download/{documentId}/metadata`).

use crate::error::Error;
use crate::json::{
    de_f64, de_millis, de_opt_u32, de_time, de_u32, de_u64, de_vec_or_null, extras, from_value,
    parse_value,
};
use crate::time::Nanos;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::path::Path;

/// The metadata of one chunk, parsed tolerantly: `sampleRate` as string or number,
/// `framerate`/`frameRate`/`FrameRate`, integer or float `chunkDuration`, unknown fields kept in
/// the `extra` maps.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChunkMetadata {
    /// `resourceId`, the ACS resource.
    #[serde(default)]
    pub resource_id: Option<String>,
    /// `callId`.
    pub call_id: String,
    /// `chunkDocumentId`.
    pub chunk_document_id: String,
    /// `chunkIndex`.
    #[serde(deserialize_with = "de_u32")]
    pub chunk_index: u32,
    /// `chunkStartTime`: where the chunk starts on the wall clock.
    #[serde(deserialize_with = "de_time")]
    pub chunk_start_time: DateTime<Utc>,
    /// `chunkDuration` (milliseconds in the file): the media the chunk holds. May be negative
    /// in a broken file; the timeline reports that.
    #[serde(deserialize_with = "de_millis")]
    pub chunk_duration: Nanos,
    /// `pauseResumeIntervals`, as written (not sorted or checked; the timeline does that).
    #[serde(default, deserialize_with = "de_vec_or_null")]
    pub pause_resume_intervals: Vec<PauseInterval>,
    /// `recordingInfo`.
    pub recording_info: RecordingInfo,
    /// `participants`.
    #[serde(default, deserialize_with = "de_vec_or_null")]
    pub participants: Vec<Participant>,
    /// Fields this crate does not know (`recordingId`, ...), kept as written.
    #[serde(skip)]
    pub extra: Map<String, Value>,
}

/// One `pauseResumeIntervals` entry.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PauseInterval {
    /// `startTime`: wall-clock time the pause began.
    #[serde(deserialize_with = "de_time")]
    pub start_time: DateTime<Utc>,
    /// `duration` (milliseconds in the file): wall-clock length of the pause.
    #[serde(deserialize_with = "de_millis")]
    pub duration: Nanos,
    /// Unknown fields.
    #[serde(skip)]
    pub extra: Map<String, Value>,
}

impl PauseInterval {
    /// A pause starting at `start_time` and lasting `duration` on the wall clock.
    pub fn new(start_time: DateTime<Utc>, duration: Nanos) -> PauseInterval {
        PauseInterval {
            start_time,
            duration,
            extra: Map::new(),
        }
    }
}

/// `recordingInfo`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordingInfo {
    /// `contentType` as written (the real example writes `mixed` here; see [`Self::classify`]).
    #[serde(default)]
    pub content_type: Option<String>,
    /// `channelType` as written.
    #[serde(default)]
    pub channel_type: Option<String>,
    /// `format` as written.
    #[serde(default)]
    pub format: Option<String>,
    /// `audioConfiguration`.
    #[serde(rename = "audioConfiguration")]
    pub audio: AudioConfiguration,
    /// `videoConfiguration` (absent or `null` for audio-only recordings).
    #[serde(rename = "videoConfiguration", default)]
    pub video: Option<VideoConfiguration>,
    /// Unknown fields (`unknownFutureField`, ...).
    #[serde(skip)]
    pub extra: Map<String, Value>,
}

/// `audioConfiguration`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AudioConfiguration {
    /// `sampleRate` in Hz (a string in the 2021 schema, a number later: both accepted).
    #[serde(deserialize_with = "de_u32")]
    pub sample_rate: u32,
    /// `bitRate` in bit/s.
    #[serde(deserialize_with = "de_u64")]
    pub bit_rate: u64,
    /// `channels`.
    #[serde(deserialize_with = "de_u32")]
    pub channels: u32,
    /// Unknown fields.
    #[serde(skip)]
    pub extra: Map<String, Value>,
}

/// `videoConfiguration`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VideoConfiguration {
    /// `longerSideLength` in pixels.
    #[serde(deserialize_with = "de_u32")]
    pub longer_side_length: u32,
    /// `shorterSideLength` in pixels.
    #[serde(deserialize_with = "de_u32")]
    pub shorter_side_length: u32,
    /// `framerate` (also read from `frameRate` or `FrameRate`), frames per second.
    #[serde(
        rename = "framerate",
        alias = "frameRate",
        alias = "FrameRate",
        deserialize_with = "de_f64"
    )]
    pub framerate: f64,
    /// `bitRate` in bit/s.
    #[serde(deserialize_with = "de_u64")]
    pub bit_rate: u64,
    /// Unknown fields.
    #[serde(skip)]
    pub extra: Map<String, Value>,
}

/// One `participants` entry.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Participant {
    /// `participantId`.
    pub participant_id: String,
    /// `channel` (unmixed audio only).
    #[serde(default, deserialize_with = "de_opt_u32")]
    pub channel: Option<u32>,
    /// Unknown fields.
    #[serde(skip)]
    pub extra: Map<String, Value>,
}

const META_KEYS: &[&str] = &[
    "resourceId",
    "callId",
    "chunkDocumentId",
    "chunkIndex",
    "chunkStartTime",
    "chunkDuration",
    "pauseResumeIntervals",
    "recordingInfo",
    "participants",
];
const PAUSE_KEYS: &[&str] = &["startTime", "duration"];
const INFO_KEYS: &[&str] = &[
    "contentType",
    "channelType",
    "format",
    "audioConfiguration",
    "videoConfiguration",
];
const AUDIO_KEYS: &[&str] = &["sampleRate", "bitRate", "channels"];
const VIDEO_KEYS: &[&str] = &[
    "longerSideLength",
    "shorterSideLength",
    "framerate",
    "frameRate",
    "FrameRate",
    "bitRate",
];
const PARTICIPANT_KEYS: &[&str] = &["participantId", "channel"];

impl ChunkMetadata {
    /// Parse a metadata document. `file` only names the source in errors.
    ///
    /// ```
    /// use callrec_meta::ChunkMetadata;
    /// use std::path::Path;
    /// let json = br#"{"callId":"c","chunkDocumentId":"d","chunkIndex":0,
    ///   "chunkStartTime":"2021-04-14T16:32:34.1115003Z","chunkDuration":5000,
    ///   "recordingInfo":{"audioConfiguration":{"sampleRate":"16000","bitRate":32000,"channels":1},
    ///     "videoConfiguration":{"longerSideLength":1920,"shorterSideLength":1080,
    ///       "framerate":"eight","bitRate":60000}}}"#;
    /// let err = ChunkMetadata::from_json(json, Path::new("d.json")).unwrap_err();
    /// assert_eq!(err.to_string(), "d.json: recordingInfo.videoConfiguration.framerate: \
    ///     expected a number, found \"eight\"");
    /// ```
    pub fn from_json(bytes: &[u8], file: &Path) -> Result<ChunkMetadata, Error> {
        let v = parse_value(bytes, file)?;
        Self::from_value(&v, file)
    }

    /// Parse from an already decoded JSON value.
    pub fn from_value(v: &Value, file: &Path) -> Result<ChunkMetadata, Error> {
        if !v.is_object() {
            return Err(Error::Field {
                file: file.to_path_buf(),
                path: ".".into(),
                message: format!("expected an object, found {}", kind(v)),
            });
        }
        let mut m: ChunkMetadata = from_value(v, file, "")?;
        m.extra = extras(Some(v), META_KEYS);
        if let Some(Value::Array(ps)) = v.get("pauseResumeIntervals") {
            for (p, pv) in m.pause_resume_intervals.iter_mut().zip(ps) {
                p.extra = extras(Some(pv), PAUSE_KEYS);
            }
        }
        let info = v.get("recordingInfo");
        m.recording_info.extra = extras(info, INFO_KEYS);
        m.recording_info.audio.extra =
            extras(info.and_then(|i| i.get("audioConfiguration")), AUDIO_KEYS);
        if let Some(video) = &mut m.recording_info.video {
            video.extra = extras(info.and_then(|i| i.get("videoConfiguration")), VIDEO_KEYS);
        }
        if let Some(Value::Array(ps)) = v.get("participants") {
            for (p, pv) in m.participants.iter_mut().zip(ps) {
                p.extra = extras(Some(pv), PARTICIPANT_KEYS);
            }
        }
        Ok(m)
    }

    /// A minimal metadata value (audio 16 kHz mono, no video, no pauses), for tests and for
    /// callers that build recordings from values.
    pub fn new(
        call_id: impl Into<String>,
        chunk_document_id: impl Into<String>,
        chunk_index: u32,
        chunk_start_time: DateTime<Utc>,
        chunk_duration: Nanos,
    ) -> ChunkMetadata {
        ChunkMetadata {
            resource_id: None,
            call_id: call_id.into(),
            chunk_document_id: chunk_document_id.into(),
            chunk_index,
            chunk_start_time,
            chunk_duration,
            pause_resume_intervals: Vec::new(),
            recording_info: RecordingInfo {
                audio: AudioConfiguration {
                    sample_rate: 16000,
                    bit_rate: 32000,
                    channels: 1,
                    extra: Map::new(),
                },
                ..RecordingInfo::default()
            },
            participants: Vec::new(),
            extra: Map::new(),
        }
    }

    /// Sum of the pause durations (wall clock).
    pub fn paused_total(&self) -> Nanos {
        self.pause_resume_intervals.iter().map(|p| p.duration).sum()
    }
}

pub(crate) fn kind(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => serde_json::to_string(s).unwrap_or_default(),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}

/// What kind of content a recording holds (`mixed` or `unmixed`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ContentKind {
    /// All participants mixed into one stream.
    Mixed,
    /// One audio channel per participant.
    Unmixed,
}

/// Which media a recording holds.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ChannelKind {
    /// Audio only.
    Audio,
    /// Audio and video.
    AudioVideo,
}

/// The container format.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FormatKind {
    /// MP4.
    Mp4,
    /// MP3.
    Mp3,
    /// WAV.
    Wav,
}

/// [`RecordingInfo::classify`]: the three settings recognised by value, whichever key holds
/// them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Classification {
    /// Mixed or unmixed, if any value says.
    pub content: Option<ContentKind>,
    /// Audio or audio+video, if any value says.
    pub channel: Option<ChannelKind>,
    /// The format, if any value says.
    pub format: Option<FormatKind>,
    /// Values that name none of the above, as written.
    pub unknown: Vec<String>,
}

/// Lowercase, letters and digits only: `Audio - Video` → `audiovideo`.
pub fn normalize_enum(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

impl Classification {
    /// Classify `values` by what they say, ignoring case and punctuation.
    pub fn of<'a>(values: impl IntoIterator<Item = &'a str>) -> Classification {
        let mut c = Classification::default();
        for v in values {
            match normalize_enum(v).as_str() {
                "mixed" => c.content = Some(ContentKind::Mixed),
                "unmixed" => c.content = Some(ContentKind::Unmixed),
                "audio" => c.channel = Some(ChannelKind::Audio),
                "audiovideo" => c.channel = Some(ChannelKind::AudioVideo),
                "mp4" => c.format = Some(FormatKind::Mp4),
                "mp3" => c.format = Some(FormatKind::Mp3),
                "wav" => c.format = Some(FormatKind::Wav),
                _ => c.unknown.push(v.to_string()),
            }
        }
        c
    }
}

impl RecordingInfo {
    /// Classify `contentType`, `channelType` and `format` by value: the real example swaps the
    /// first two against the schema, and surfaces spell them differently (`audioVideo`,
    /// `AudioVideo`, `Audio - Video`).
    ///
    /// ```
    /// use callrec_meta::{ChannelKind, Classification, ContentKind};
    /// let c = Classification::of(["audioVideo", "mixed", "Audio - Video"]);
    /// assert_eq!(c.content, Some(ContentKind::Mixed));
    /// assert_eq!(c.channel, Some(ChannelKind::AudioVideo));
    /// ```
    pub fn classify(&self) -> Classification {
        Classification::of(
            [&self.content_type, &self.channel_type, &self.format]
                .into_iter()
                .flatten()
                .map(String::as_str),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const UNMIXED: &str = r#"{
      "callId": "c", "chunkDocumentId": "d", "chunkIndex": "0",
      "chunkStartTime": "2021-04-14T16:32:34Z", "chunkDuration": "15000.0",
      "pauseResumeIntervals": null,
      "recordingInfo": {
        "contentType": "Unmixed", "channelType": "Audio", "format": "Wav", "bitDepth": 16,
        "audioConfiguration": {"sampleRate": 16000, "bitRate": 256000, "channels": 5, "codec": "pcm"},
        "videoConfiguration": null
      },
      "participants": [
        {"participantId": "p1", "channel": 1},
        {"participantId": "p2", "channel": "2", "displayName": "B"}
      ]
    }"#;

    #[test]
    fn unmixed_audio_with_channels_nulls_and_extras() {
        let m = ChunkMetadata::from_json(UNMIXED.as_bytes(), Path::new("u.json")).unwrap();
        assert_eq!(m.chunk_duration, Nanos::from_millis(15000));
        assert!(m.pause_resume_intervals.is_empty());
        assert!(m.recording_info.video.is_none());
        assert_eq!(m.recording_info.audio.channels, 5);
        assert_eq!(m.recording_info.audio.extra["codec"], "pcm");
        assert_eq!(m.recording_info.extra["bitDepth"], 16);
        assert_eq!(m.participants[0].channel, Some(1));
        assert_eq!(m.participants[1].channel, Some(2));
        assert_eq!(m.participants[1].extra["displayName"], "B");
        assert!(m.participants[0].extra.is_empty());
        let c = m.recording_info.classify();
        assert_eq!(c.content, Some(ContentKind::Unmixed));
        assert_eq!(c.channel, Some(ChannelKind::Audio));
        assert_eq!(c.format, Some(FormatKind::Wav));
    }

    #[test]
    fn classification_ignores_case_and_punctuation_and_keeps_unknowns() {
        let c = Classification::of(["Audio - Video", "MIXED", "mp4", "hologram"]);
        assert_eq!(c.channel, Some(ChannelKind::AudioVideo));
        assert_eq!(c.content, Some(ContentKind::Mixed));
        assert_eq!(c.format, Some(FormatKind::Mp4));
        assert_eq!(c.unknown, vec!["hologram".to_string()]);
        assert_eq!(normalize_enum("Audio - Video"), "audiovideo");
    }

    #[test]
    fn pause_extras_are_kept() {
        let json = UNMIXED.replace(
            r#""pauseResumeIntervals": null"#,
            r#""pauseResumeIntervals": [{"startTime": "2021-04-14T16:32:35Z", "duration": 250.5, "reason": "user"}]"#,
        );
        let m = ChunkMetadata::from_json(json.as_bytes(), Path::new("u.json")).unwrap();
        let p = &m.pause_resume_intervals[0];
        assert_eq!(p.duration, Nanos::from_micros(250_500));
        assert_eq!(p.extra["reason"], "user");
    }
}
