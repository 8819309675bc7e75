//! Queue messages: Event Grid events, base64-encoded.

use std::path::Path;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use callrec::crates::meta::{EventChunk, RecordingEvent};
use serde_json::Value;
use sha2::Digest as _;

use crate::{Error, Result, Url};

const RECORDING_FILE_STATUS_UPDATED: &str = "Microsoft.Communication.RecordingFileStatusUpdated";

/// Where one chunk is downloaded from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkSource {
    /// `documentId` (also the local file stem).
    pub document_id: String,
    /// `contentLocation`: the MP4.
    pub content: Url,
    /// `metadataLocation`: the metadata JSON.
    pub metadata: Url,
    /// `deleteLocation`, when given.
    pub delete: Option<Url>,
}

/// A recording to archive, from one queue message.
#[derive(Debug, Clone)]
pub struct Job {
    /// `data.recordingId`, else the last segment of the subject
    /// `/recording/call/{callId}/serverCallId/{serverCallId}/recordingId/{recordingId}`.
    pub recording_id: String,
    /// The blob prefix: [`Job::recording_id`] itself (blobs `<recordingId>/recording.mp4`...)
    /// unless it could not name a blob as written ([`blob_prefix`]).
    pub name: String,
    /// [`Job::recording_id`] as one local file name, for the work directory
    /// ([`local_name`]).
    pub dir: String,
    /// The event as delivered (written as the recording's `event.json`).
    pub event: Value,
    /// The chunks, in event order.
    pub chunks: Vec<ChunkSource>,
}

/// What a queue message holds.
#[derive(Debug, Clone)]
pub enum Decoded {
    /// A recording to archive.
    Recording(Job),
    /// Another event type (deleted with a log line).
    Other {
        /// Its `eventType` (or CloudEvents `type`).
        event_type: String,
    },
}

/// Decodes a queue message: base64 of one Event Grid (or CloudEvents) event (an array is
/// accepted too), or the JSON itself. Errors name the message and the JSON field.
pub fn decode_message(message_id: &str, text: &str) -> Result<Decoded> {
    let bad = BadMessage { message_id };
    let bytes = B64
        .decode(text.trim())
        .unwrap_or_else(|_| text.as_bytes().to_vec());
    let v: Value = serde_json::from_slice(&bytes)
        .map_err(|e| bad.because(format!("neither base64 JSON nor JSON: {e}")))?;
    let events: Vec<&Value> = match &v {
        Value::Array(a) => a.iter().collect(),
        one => vec![one],
    };
    // Something that is no event at all (`{}`, `[]`, `null`) is not another event type.
    if events.is_empty() {
        return Err(bad.because("an empty array: no event".into()));
    }
    if let Some(i) = events.iter().position(|e| type_of(e).is_empty()) {
        return Err(bad.because(format!("event {i} has no eventType (or CloudEvents type)")));
    }
    let mut recordings = events
        .iter()
        .filter(|e| type_of(e) == RECORDING_FILE_STATUS_UPDATED);
    let Some(event) = recordings.next() else {
        let event_type = type_of(events[0]);
        return Ok(Decoded::Other { event_type });
    };
    // Event Grid's Storage Queue delivery sends one event per message: archiving the first
    // of several would drop the others unseen.
    let more = recordings.count();
    if more > 0 {
        return Err(bad.because(format!(
            "{} {RECORDING_FILE_STATUS_UPDATED} events in one message (one per message is archived)",
            more + 1
        )));
    }
    let event = (*event).clone();
    let parsed = RecordingEvent::from_value(&event, Path::new("queue message"))
        .map_err(|e| bad.because(e.to_string()))?;
    let recording_id = recording_id_of(&parsed).ok_or_else(|| {
        bad.because("no data.recordingId and the subject has no /recordingId/{id} segment".into())
    })?;
    let chunks = parsed
        .data
        .chunks
        .iter()
        .enumerate()
        .map(|(i, c)| chunk_source(&bad, i, c))
        .collect::<Result<Vec<_>>>()?;
    if chunks.is_empty() {
        return Err(bad.because("data.recordingStorageInfo.recordingChunks is empty".into()));
    }
    Ok(Decoded::Recording(Job {
        name: blob_prefix(&recording_id),
        dir: local_name(&recording_id),
        recording_id,
        event,
        chunks,
    }))
}

/// The [`Error::Message`]s of one queue message.
struct BadMessage<'a> {
    message_id: &'a str,
}

impl BadMessage<'_> {
    /// The message is bad for `reason`.
    fn because(&self, reason: String) -> Error {
        Error::Message {
            message_id: self.message_id.to_string(),
            reason,
        }
    }
}

/// An event's `eventType` (or CloudEvents `type`), empty when it has none.
fn type_of(e: &Value) -> String {
    e.get("eventType")
        .or_else(|| e.get("type"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

/// `data.recordingId`, else the last segment of the subject's `/recordingId/{id}`.
fn recording_id_of(parsed: &RecordingEvent) -> Option<String> {
    parsed
        .data
        .recording_id
        .clone()
        .filter(|s| !s.is_empty())
        .or_else(|| {
            let (_, id) = parsed.subject.rsplit_once("/recordingId/")?;
            (!id.is_empty() && !id.contains('/')).then(|| id.to_string())
        })
}

/// Where chunk `i` of the event is downloaded from: its documentId must be a safe file name
/// and its locations URLs.
fn chunk_source(bad: &BadMessage<'_>, i: usize, c: &EventChunk) -> Result<ChunkSource> {
    let field = |name: &str| format!("data.recordingStorageInfo.recordingChunks[{i}].{name}");
    let url = |name: &str, v: &Option<String>| -> Result<Url> {
        let s = v
            .as_deref()
            .ok_or_else(|| bad.because(format!("{} is missing", field(name))))?;
        s.parse()
            .map_err(|e| bad.because(format!("{} {s:?} is not a URL: {e}", field(name))))
    };
    if callrec::safe_file_name(&c.document_id) != c.document_id {
        return Err(bad.because(format!(
            "{} {:?} is not a safe file name",
            field("documentId"),
            c.document_id
        )));
    }
    Ok(ChunkSource {
        document_id: c.document_id.clone(),
        content: url("contentLocation", &c.content_location)?,
        metadata: url("metadataLocation", &c.metadata_location)?,
        delete: c
            .delete_location
            .as_ref()
            .map(|_| url("deleteLocation", &c.delete_location))
            .transpose()?,
    })
}

/// The longest blob prefix kept as the recordingId (a blob name is at most 1,024 characters).
const MAX_PREFIX: usize = 960;

/// The longest local name kept as the recordingId made safe (file names are at most 255
/// bytes).
const MAX_LOCAL: usize = 120;

/// The blob prefix of a recording: its id as given when it names blobs as written, that is
/// every character an ASCII letter, digit or one of `-_.~+=/` (base64 and base64url ids, GUIDs),
/// every `/`-separated part neither empty nor `.` or `..`, no trailing `.`, and at most
/// 960 bytes; otherwise [`local_name`] (the id made safe, shortened with a hash when long).
pub fn blob_prefix(recording_id: &str) -> String {
    let chars_ok = recording_id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_.~+=/".contains(c));
    let parts_ok = recording_id
        .split('/')
        .all(|p| !p.is_empty() && p != "." && p != "..");
    if chars_ok && parts_ok && !recording_id.ends_with('.') && recording_id.len() <= MAX_PREFIX {
        recording_id.to_string()
    } else {
        local_name(recording_id)
    }
}

/// A recording id as one safe local file name: [`callrec::safe_file_name`], the id itself when
/// it is safe as it is. One that had to change (`call 42` and `call_42` would both be
/// `call_42`) gains `-` and 16 hex digits of the id's SHA-256, and one longer than 120 bytes
/// keeps its first 100 characters before them: distinct ids stay distinct.
pub fn local_name(recording_id: &str) -> String {
    let safe = callrec::safe_file_name(recording_id);
    if safe == recording_id && safe.len() <= MAX_LOCAL {
        return safe;
    }
    let digest = sha2::Sha256::digest(recording_id.as_bytes());
    let hex = callrec_archive::names::hex(&digest[..8]);
    let cut = safe.char_indices().nth(100).map_or(safe.len(), |(i, _)| i);
    format!("{}-{hex}", &safe[..cut])
}

impl Job {
    /// Every URL the job would contact.
    pub fn urls(&self) -> impl Iterator<Item = &Url> {
        self.chunks
            .iter()
            .flat_map(|c| [Some(&c.content), Some(&c.metadata), c.delete.as_ref()])
            .flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(data_extra: &str, subject: &str) -> String {
        format!(
            r#"{{"id":"1","subject":"{subject}","eventType":"{RECORDING_FILE_STATUS_UPDATED}",
            "data":{{{data_extra}"recordingStorageInfo":{{"recordingChunks":[{{"documentId":"0-eus-d3-a","index":0,"endReason":"SessionEnded",
            "contentLocation":"https://x.asm.skype.com/v1/objects/0-eus-d3-a/content/video",
            "metadataLocation":"https://x.asm.skype.com/v1/objects/0-eus-d3-a/content/acsmetadata",
            "deleteLocation":"https://x.asm.skype.com/v1/objects/0-eus-d3-a"}}]}},
            "recordingStartTime":"2024-05-14T16:32:34.1115003Z","recordingDurationMs":5000,"sessionEndReason":"CallEnded"}},
            "dataVersion":"1.0","metadataVersion":"1","eventTime":"2024-05-14T16:34:19Z"}}"#
        )
    }

    #[test]
    fn base64_event_with_recording_id_in_subject() {
        let e = event("", "/recording/call/c1/serverCallId/s1/recordingId/r-42");
        let Decoded::Recording(job) = decode_message("m", &B64.encode(e)).unwrap() else {
            panic!("not a recording")
        };
        assert_eq!(job.recording_id, "r-42");
        assert_eq!(job.chunks.len(), 1);
        assert_eq!(
            job.chunks[0].content.path(),
            "/v1/objects/0-eus-d3-a/content/video"
        );
        assert_eq!(job.urls().count(), 3);
    }

    #[test]
    fn long_and_odd_ids_name_blobs_and_directories() {
        let long = "r".repeat(300);
        assert_eq!(blob_prefix(&long), long);
        let dir = local_name(&long);
        assert_eq!(dir.len(), 117);
        assert_ne!(dir, local_name(&"r".repeat(301)));
        assert!(dir.starts_with(&"r".repeat(100)));
        let huge = "q".repeat(2000);
        assert_eq!(blob_prefix(&huge), local_name(&huge));
        for odd in ["a//b", "../x", "x/..", "a.", "a b", "caf\u{e9}", "/a"] {
            assert_eq!(blob_prefix(odd), local_name(odd), "{odd}");
        }
        // An id made safe keeps a hash of itself: ids that differ name different directories.
        assert!(
            local_name("a b").starts_with("a_b-"),
            "{}",
            local_name("a b")
        );
        assert_eq!(local_name("a_b"), "a_b");
        for (x, y) in [("call 42", "call_42"), ("a+b", "a/b"), ("a+b", "a=b")] {
            assert_ne!(local_name(x), local_name(y), "{x} {y}");
            assert_ne!(blob_prefix(x), blob_prefix(y), "{x} {y}");
        }
    }

    #[test]
    fn data_recording_id_wins_and_is_made_safe() {
        let e = event(
            r#""recordingId":"a/b+c=","#,
            "/recording/call/c1/serverCallId/s1/recordingId/r-42",
        );
        let Decoded::Recording(job) = decode_message("m", &e).unwrap() else {
            panic!("not a recording")
        };
        assert_eq!(job.recording_id, "a/b+c=");
        assert_eq!(job.name, "a/b+c=", "a base64 id names its blobs as it is");
        assert!(job.dir.starts_with("a_b_c_-"), "{}", job.dir);
    }

    #[test]
    fn other_event_types_and_bad_messages() {
        let other = B64.encode(r#"{"eventType":"Microsoft.Storage.BlobCreated","data":{}}"#);
        assert!(matches!(
            decode_message("m", &other).unwrap(),
            Decoded::Other { event_type } if event_type == "Microsoft.Storage.BlobCreated"
        ));
        let e = decode_message("m7", "%%%").unwrap_err().to_string();
        assert!(e.contains("m7"), "{e}");
        // No event at all is a bad message, not another event type.
        for nothing in ["{}", "[]", "null", r#"[{"data":{}}]"#] {
            let e = decode_message("m", &B64.encode(nothing));
            assert!(matches!(e, Err(Error::Message { .. })), "{nothing}: {e:?}");
        }
        // Two recordings in one message: neither is dropped unseen.
        let one = event("", "/recording/call/c/serverCallId/s/recordingId/r");
        let two = B64.encode(format!("[{one},{one}]"));
        let e = decode_message("m", &two).unwrap_err().to_string();
        assert!(
            e.contains("2 Microsoft.Communication.RecordingFileStatusUpdated"),
            "{e}"
        );
        let with_other = B64.encode(format!(r#"[{{"eventType":"x.y","data":{{}}}},{one}]"#));
        assert!(matches!(
            decode_message("m", &with_other).unwrap(),
            Decoded::Recording(_)
        ));
        let no_id = event("", "/recording/call/c1");
        let e = decode_message("m", &no_id).unwrap_err().to_string();
        assert!(e.contains("recordingId"), "{e}");
        let no_loc = event("", "/recording/call/c/serverCallId/s/recordingId/r")
            .replace("\"contentLocation\"", "\"x\"");
        let e = decode_message("m", &no_loc).unwrap_err().to_string();
        assert!(
            e.contains("recordingChunks[0].contentLocation is missing"),
            "{e}"
        );
    }
}
