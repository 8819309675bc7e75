//! Event Grid / CloudEvents notifications: `RecordingFileStatusUpdated` and
//! `CallLegStateChanged`.

use crate::error::Error;
use crate::json::{
    de_opt_time, de_time, de_u32, de_u64, de_vec_or_null, extras, from_value, parse_value,
};
use crate::metadata::kind;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::path::Path;

/// The event type of the recording notification.
pub const RECORDING_FILE_STATUS_UPDATED: &str =
    "Microsoft.Communication.RecordingFileStatusUpdated";
/// The event type that carries a call leg's `ConversationId`.
pub const CALL_LEG_STATE_CHANGED: &str = "Microsoft.Communication.CallLegStateChanged";

/// Which envelope an event arrived in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EventSchema {
    /// Event Grid schema (`eventType`, `eventTime`, `topic`).
    #[default]
    EventGrid,
    /// CloudEvents 1.0 (`type`, `time`, `source`, `specversion`).
    CloudEvents,
}

/// A `Microsoft.Communication.RecordingFileStatusUpdated` notification.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordingEvent {
    /// `id`.
    #[serde(default)]
    pub id: String,
    /// `subject`: `/recording/call/{callId}/serverCallId/...`.
    #[serde(default)]
    pub subject: String,
    /// `eventType` (Event Grid) or `type` (CloudEvents).
    #[serde(default, alias = "type")]
    pub event_type: Option<String>,
    /// `eventTime` (Event Grid) or `time` (CloudEvents).
    #[serde(default, alias = "time", deserialize_with = "de_opt_time")]
    pub event_time: Option<DateTime<Utc>>,
    /// `topic` (Event Grid) or `source` (CloudEvents).
    #[serde(default, alias = "source")]
    pub topic: Option<String>,
    /// `dataVersion` (Event Grid).
    #[serde(default)]
    pub data_version: Option<String>,
    /// `metadataVersion` (Event Grid).
    #[serde(default)]
    pub metadata_version: Option<String>,
    /// `data`.
    pub data: RecordingEventData,
    /// The envelope.
    #[serde(skip)]
    pub schema: EventSchema,
    /// Unknown envelope fields (`specversion`, `datacontenttype`, ...).
    #[serde(skip)]
    pub extra: Map<String, Value>,
}

/// The `data` of a [`RecordingEvent`].
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordingEventData {
    /// `recordingStorageInfo.recordingChunks`.
    #[serde(rename = "recordingStorageInfo", deserialize_with = "de_storage")]
    pub chunks: Vec<EventChunk>,
    /// `recordingStartTime`.
    #[serde(deserialize_with = "de_time")]
    pub recording_start_time: DateTime<Utc>,
    /// `recordingDurationMs`.
    #[serde(deserialize_with = "de_u64")]
    pub recording_duration_ms: u64,
    /// `sessionEndReason` (an open string: `CallEnded`, `InitiatorLeft`, ...).
    #[serde(default)]
    pub session_end_reason: String,
    /// `recordingId` (later versions).
    #[serde(default)]
    pub recording_id: Option<String>,
    /// `recordingContentType` (later versions: `Mixed`, `Unmixed`).
    #[serde(default)]
    pub recording_content_type: Option<String>,
    /// `recordingChannelType` (later versions: `Audio`, `AudioVideo`).
    #[serde(default)]
    pub recording_channel_type: Option<String>,
    /// `recordingFormatType` (later versions: `Mp3`, `Mp4`, `Wav`).
    #[serde(default)]
    pub recording_format_type: Option<String>,
    /// `storageType` (bring-your-own-storage).
    #[serde(default)]
    pub storage_type: Option<String>,
    /// Unknown fields.
    #[serde(skip)]
    pub extra: Map<String, Value>,
}

/// One `recordingChunks` entry.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventChunk {
    /// `documentId`: the chunk's download id and, on disk, its file stem.
    pub document_id: String,
    /// `index`: the chunk's place in the recording.
    #[serde(deserialize_with = "de_u32")]
    pub index: u32,
    /// `endReason` (an open string: `SessionEnded`, `ChunkMaximumSizeExceeded`, ...).
    #[serde(default)]
    pub end_reason: String,
    /// `contentLocation` (later versions).
    #[serde(default)]
    pub content_location: Option<String>,
    /// `metadataLocation` (later versions).
    #[serde(default)]
    pub metadata_location: Option<String>,
    /// `deleteLocation` (later versions).
    #[serde(default)]
    pub delete_location: Option<String>,
    /// Unknown fields.
    #[serde(skip)]
    pub extra: Map<String, Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Storage {
    #[serde(default, deserialize_with = "de_vec_or_null")]
    recording_chunks: Vec<EventChunk>,
}

fn de_storage<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<EventChunk>, D::Error> {
    Ok(Storage::deserialize(d)?.recording_chunks)
}

const ENVELOPE_KEYS: &[&str] = &[
    "id",
    "subject",
    "eventType",
    "type",
    "eventTime",
    "time",
    "topic",
    "source",
    "dataVersion",
    "metadataVersion",
    "data",
];
const DATA_KEYS: &[&str] = &[
    "recordingStorageInfo",
    "recordingStartTime",
    "recordingDurationMs",
    "sessionEndReason",
    "recordingId",
    "recordingContentType",
    "recordingChannelType",
    "recordingFormatType",
    "storageType",
];
const CHUNK_KEYS: &[&str] = &[
    "documentId",
    "index",
    "endReason",
    "contentLocation",
    "metadataLocation",
    "deleteLocation",
];

fn event_type_of(v: &Value) -> Option<&str> {
    v.get("eventType")
        .or_else(|| v.get("type"))
        .and_then(Value::as_str)
}

/// The events of a document: an array, or one event object. Each with its JSON path prefix.
fn events_in<'a>(v: &'a Value, file: &Path) -> Result<Vec<(String, &'a Value)>, Error> {
    match v {
        Value::Array(a) => Ok(a
            .iter()
            .enumerate()
            .map(|(i, e)| (format!("[{i}]"), e))
            .collect()),
        Value::Object(_) => Ok(vec![(String::new(), v)]),
        other => Err(Error::Field {
            file: file.to_path_buf(),
            path: ".".into(),
            message: format!(
                "expected an event or an array of events, found {}",
                kind(other)
            ),
        }),
    }
}

/// Find the first event of `wanted` type; an event without a type counts if `untyped_ok` says so.
fn pick<'a>(
    v: &'a Value,
    file: &Path,
    wanted: &'static str,
    untyped_ok: impl Fn(&Value) -> bool,
) -> Result<(String, &'a Value), Error> {
    let events = events_in(v, file)?;
    let mut found = Vec::new();
    for (prefix, e) in events {
        match event_type_of(e) {
            Some(t) if t == wanted => return Ok((prefix, e)),
            Some(t) => found.push(t.to_string()),
            None if untyped_ok(e) => return Ok((prefix, e)),
            None => found.push("(untyped)".to_string()),
        }
    }
    Err(Error::NoEvent {
        file: file.to_path_buf(),
        expected: wanted,
        found,
    })
}

impl RecordingEvent {
    /// Parse a notification: an Event Grid array (the first `RecordingFileStatusUpdated` in it
    /// is taken; subscription-validation and other events are skipped), a single event object,
    /// or CloudEvents. Errors name `file` and the JSON path (`[0].data.recordingStartTime`).
    pub fn from_json(bytes: &[u8], file: &Path) -> Result<RecordingEvent, Error> {
        let v = parse_value(bytes, file)?;
        Self::from_value(&v, file)
    }

    /// [`Self::from_json`] for the recording whose chunk files (documentIds) are
    /// `document_ids`: of several `RecordingFileStatusUpdated` events (an Event Grid batch),
    /// the one whose `recordingChunks` list one of them. None or several matching is
    /// [`Error::AmbiguousEvent`]: never the first by default.
    pub fn from_json_for(
        bytes: &[u8],
        file: &Path,
        document_ids: &std::collections::BTreeSet<String>,
    ) -> Result<RecordingEvent, Error> {
        let v = parse_value(bytes, file)?;
        let Value::Array(_) = &v else {
            return Self::from_value(&v, file);
        };
        let candidates: Vec<(String, &Value)> = events_in(&v, file)?
            .into_iter()
            .filter(|(_, e)| match event_type_of(e) {
                Some(t) => t == RECORDING_FILE_STATUS_UPDATED,
                None => e
                    .get("data")
                    .and_then(|d| d.get("recordingStorageInfo"))
                    .is_some(),
            })
            .collect();
        if candidates.len() <= 1 {
            return Self::from_value(&v, file);
        }
        let mut matching = Vec::new();
        for (prefix, e) in &candidates {
            let ev = Self::from_value(e, file).map_err(|err| match err {
                Error::Field {
                    file,
                    path,
                    message,
                } => Error::Field {
                    file,
                    path: format!("{prefix}{path}"),
                    message,
                },
                other => other,
            })?;
            if ev
                .data
                .chunks
                .iter()
                .any(|c| document_ids.contains(&c.document_id))
            {
                matching.push((prefix.clone(), ev));
            }
        }
        if matching.len() == 1 {
            return Ok(matching.remove(0).1);
        }
        Err(Error::AmbiguousEvent {
            file: file.to_path_buf(),
            events: candidates.len(),
            matching: matching.into_iter().map(|(p, _)| p).collect(),
        })
    }

    /// Parse from an already decoded JSON value (see [`Self::from_json`]).
    pub fn from_value(v: &Value, file: &Path) -> Result<RecordingEvent, Error> {
        let (prefix, e) = pick(v, file, RECORDING_FILE_STATUS_UPDATED, |e| {
            e.get("data")
                .and_then(|d| d.get("recordingStorageInfo"))
                .is_some()
        })?;
        let mut ev: RecordingEvent = from_value(e, file, &prefix)?;
        ev.schema = if e.get("specversion").is_some() || e.get("source").is_some() {
            EventSchema::CloudEvents
        } else {
            EventSchema::EventGrid
        };
        ev.extra = extras(Some(e), ENVELOPE_KEYS);
        let data = e.get("data");
        ev.data.extra = extras(data, DATA_KEYS);
        if let Some(Value::Array(cs)) = data
            .and_then(|d| d.get("recordingStorageInfo"))
            .and_then(|s| s.get("recordingChunks"))
        {
            for (c, cv) in ev.data.chunks.iter_mut().zip(cs) {
                c.extra = extras(Some(cv), CHUNK_KEYS);
            }
        }
        Ok(ev)
    }

    /// The call id the subject names (`/recording/call/{callId}/...`), if it has that shape.
    ///
    /// ```
    /// # use callrec_meta::RecordingEvent;
    /// assert_eq!(RecordingEvent::call_id_of_subject("/recording/call/abc/serverCallId/x"), Some("abc"));
    /// assert_eq!(RecordingEvent::call_id_of_subject("other"), None);
    /// ```
    pub fn call_id_of_subject(subject: &str) -> Option<&str> {
        let rest = subject.strip_prefix("/recording/call/")?;
        let id = rest.split('/').next()?;
        (!id.is_empty()).then_some(id)
    }

    /// [`Self::call_id_of_subject`] of this event's subject.
    pub fn call_id(&self) -> Option<&str> {
        Self::call_id_of_subject(&self.subject)
    }
}

/// A `Microsoft.Communication.CallLegStateChanged` event: where a server-side app learns the
/// `conversationId` that the recording API needs.
#[derive(Debug, Clone, PartialEq)]
pub struct CallLegStateChanged {
    /// `id`.
    pub id: String,
    /// `data.ConversationId`.
    pub conversation_id: String,
    /// `data.CallLegId`.
    pub call_leg_id: Option<String>,
    /// `data.CallState` (`Established`, ...).
    pub call_state: Option<String>,
    /// Unknown fields of `data`.
    pub extra: Map<String, Value>,
}

#[derive(Deserialize)]
struct CallLegEnvelope {
    #[serde(default)]
    id: String,
    data: CallLegData,
}

#[derive(Deserialize)]
struct CallLegData {
    #[serde(rename = "ConversationId", alias = "conversationId")]
    conversation_id: String,
    #[serde(rename = "CallLegId", alias = "callLegId", default)]
    call_leg_id: Option<String>,
    #[serde(rename = "CallState", alias = "callState", default)]
    call_state: Option<String>,
}

impl CallLegStateChanged {
    /// Parse the first `CallLegStateChanged` of an event document (array or single event, Event
    /// Grid or CloudEvents).
    ///
    /// ```
    /// use callrec_meta::CallLegStateChanged;
    /// let json = br#"[{"id":"1","eventType":"Microsoft.Communication.CallLegStateChanged",
    ///   "data":{"ConversationId":"aHR0cHM6Ly9leGFtcGxl","CallLegId":"leg","CallState":"Established"}}]"#;
    /// let e = CallLegStateChanged::from_json(json, "e.json".as_ref()).unwrap();
    /// assert_eq!(e.conversation_id, "aHR0cHM6Ly9leGFtcGxl");
    /// assert_eq!(e.call_state.as_deref(), Some("Established"));
    /// ```
    pub fn from_json(bytes: &[u8], file: &Path) -> Result<CallLegStateChanged, Error> {
        let v = parse_value(bytes, file)?;
        let (prefix, e) = pick(&v, file, CALL_LEG_STATE_CHANGED, |e| {
            e.get("data")
                .and_then(|d| d.get("ConversationId"))
                .is_some()
        })?;
        let env: CallLegEnvelope = from_value(e, file, &prefix)?;
        Ok(CallLegStateChanged {
            id: env.id,
            conversation_id: env.data.conversation_id,
            call_leg_id: env.data.call_leg_id,
            call_state: env.data.call_state,
            extra: extras(
                e.get("data"),
                &[
                    "ConversationId",
                    "conversationId",
                    "CallLegId",
                    "callLegId",
                    "CallState",
                    "callState",
                ],
            ),
        })
    }
}
