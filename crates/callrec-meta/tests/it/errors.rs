//! Every `Error`: each names the file and the JSON path of the field.

use crate::{event_value, metadata_values, recording_dir, TempDir};
use callrec_meta::{CallLegStateChanged, ChunkMetadata, Error, Recording, RecordingEvent};
use serde_json::{json, Value};
use std::path::Path;

fn meta_err(edit: impl FnOnce(&mut Value)) -> Error {
    let (_, mut v) = metadata_values("basic").remove(0);
    edit(&mut v);
    ChunkMetadata::from_json(&serde_json::to_vec(&v).unwrap(), Path::new("chunk0.json"))
        .unwrap_err()
}

fn event_err(name: &str, edit: impl FnOnce(&mut Value)) -> Error {
    let mut v = event_value(name);
    edit(&mut v);
    RecordingEvent::from_json(&serde_json::to_vec(&v).unwrap(), Path::new("event.json"))
        .unwrap_err()
}

#[test]
fn framerate_not_a_number() {
    let e = meta_err(|v| v["recordingInfo"]["videoConfiguration"]["framerate"] = json!("eight"));
    assert_eq!(
        e.to_string(),
        r#"chunk0.json: recordingInfo.videoConfiguration.framerate: expected a number, found "eight""#
    );
    assert_eq!(
        e.json_path(),
        Some("recordingInfo.videoConfiguration.framerate")
    );
}

#[test]
fn frame_rate_spelling_is_named_as_written() {
    let (_, mut v) = metadata_values("bframes").remove(0);
    v["recordingInfo"]["videoConfiguration"]["frameRate"] = json!(true);
    let e = ChunkMetadata::from_json(&serde_json::to_vec(&v).unwrap(), Path::new("b.json"))
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "b.json: recordingInfo.videoConfiguration.frameRate: expected a number, found true"
    );
}

#[test]
fn sample_rate_not_a_number() {
    let e = meta_err(|v| v["recordingInfo"]["audioConfiguration"]["sampleRate"] = json!("16 kHz"));
    assert_eq!(
        e.to_string(),
        r#"chunk0.json: recordingInfo.audioConfiguration.sampleRate: expected a number, found "16 kHz""#
    );
}

#[test]
fn channels_negative() {
    let e = meta_err(|v| v["recordingInfo"]["audioConfiguration"]["channels"] = json!(-1));
    assert_eq!(
        e.to_string(),
        "chunk0.json: recordingInfo.audioConfiguration.channels: expected an unsigned 32-bit integer, found -1"
    );
}

#[test]
fn chunk_start_time_not_a_time() {
    let e = meta_err(|v| v["chunkStartTime"] = json!("yesterday"));
    assert_eq!(
        e.to_string(),
        r#"chunk0.json: chunkStartTime: expected an ISO 8601 time, found "yesterday""#
    );
}

#[test]
fn chunk_duration_not_a_number() {
    let e = meta_err(|v| v["chunkDuration"] = json!({"ms": 5}));
    assert_eq!(
        e.to_string(),
        "chunk0.json: chunkDuration: expected a number, found an object"
    );
}

#[test]
fn pause_duration_names_the_array_element() {
    let e = meta_err(
        |v| v["pauseResumeIntervals"] = json!([{"startTime": "2024-05-14T16:32:40Z", "duration": 10}, {"startTime": "2024-05-14T16:32:41Z", "duration": "long"}]),
    );
    assert_eq!(
        e.to_string(),
        r#"chunk0.json: pauseResumeIntervals[1].duration: expected a number, found "long""#
    );
}

#[test]
fn missing_required_field() {
    let e = meta_err(|v| {
        v.as_object_mut().unwrap().remove("callId");
    });
    assert!(
        matches!(&e, Error::Field { path, .. } if path == "."),
        "{e:?}"
    );
    assert!(e.to_string().contains("missing field `callId`"), "{e}");
    let e = meta_err(|v| {
        v["recordingInfo"]
            .as_object_mut()
            .unwrap()
            .remove("audioConfiguration");
    });
    assert_eq!(
        e.to_string(),
        "chunk0.json: recordingInfo: missing field `audioConfiguration`"
    );
}

#[test]
fn metadata_not_an_object() {
    let e = ChunkMetadata::from_json(b"[1, 2]", Path::new("m.json")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "m.json: .: expected an object, found an array"
    );
}

#[test]
fn not_json() {
    let e = ChunkMetadata::from_json(b"{\"callId\": ", Path::new("m.json")).unwrap_err();
    assert!(matches!(e, Error::Syntax { .. }));
    assert!(
        e.to_string().starts_with("m.json: not valid JSON: EOF"),
        "{e}"
    );
    let e = RecordingEvent::from_json(b"<html>502</html>", Path::new("ev.json")).unwrap_err();
    assert!(
        e.to_string().starts_with("ev.json: not valid JSON: "),
        "{e}"
    );
}

#[test]
fn event_field_in_an_array_names_the_element() {
    let e = event_err("basic", |v| v[0]["data"]["recordingStartTime"] = json!(12));
    assert_eq!(
        e.to_string(),
        "event.json: [0].data.recordingStartTime: expected an ISO 8601 time, found 12"
    );
}

#[test]
fn event_chunk_index_in_a_single_event() {
    let e = event_err("paused", |v| {
        v["data"]["recordingStorageInfo"]["recordingChunks"][1]["index"] = json!("one")
    });
    assert_eq!(
        e.to_string(),
        r#"event.json: data.recordingStorageInfo.recordingChunks[1].index: expected a number, found "one""#
    );
}

#[test]
fn event_duration_in_cloud_events() {
    let e = event_err("fragmented", |v| {
        v[0]["data"]["recordingDurationMs"] = json!(-5)
    });
    assert_eq!(
        e.to_string(),
        "event.json: [0].data.recordingDurationMs: expected an unsigned integer, found -5"
    );
}

#[test]
fn event_array_skips_other_events() {
    let mut v = event_value("basic");
    let validation = json!({"id": "v", "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent",
        "data": {"validationCode": "abc"}});
    v.as_array_mut().unwrap().insert(0, validation.clone());
    let e = RecordingEvent::from_json(&serde_json::to_vec(&v).unwrap(), Path::new("event.json"))
        .unwrap();
    assert_eq!(e.data.chunks.len(), 3);

    // Only the validation event: no recording event.
    let only = json!([validation]);
    let e = RecordingEvent::from_json(&serde_json::to_vec(&only).unwrap(), Path::new("event.json"))
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "event.json: no Microsoft.Communication.RecordingFileStatusUpdated event (found: Microsoft.EventGrid.SubscriptionValidationEvent)"
    );
    let e = RecordingEvent::from_json(b"\"x\"", Path::new("event.json")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "event.json: .: expected an event or an array of events, found \"x\""
    );
}

#[test]
fn call_leg_state_changed() {
    let json = br#"{"id":"1","type":"Microsoft.Communication.CallLegStateChanged",
        "source":"/x","specversion":"1.0",
        "data":{"ConversationId":"aHR0cHM6Ly94L3k_YT0x","CallLegId":"leg-1","CallState":"Established","Extra":1}}"#;
    let e = CallLegStateChanged::from_json(json, Path::new("leg.json")).unwrap();
    assert_eq!(e.conversation_id, "aHR0cHM6Ly94L3k_YT0x");
    assert_eq!(e.call_leg_id.as_deref(), Some("leg-1"));
    assert_eq!(e.extra["Extra"], 1);
    let bad = br#"[{"eventType":"Microsoft.Communication.CallLegStateChanged","data":{"CallLegId":"x"}}]"#;
    let e = CallLegStateChanged::from_json(bad, Path::new("leg.json")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "leg.json: [0].data: missing field `ConversationId`"
    );
}

#[test]
fn load_unreadable_dir() {
    let missing = std::env::temp_dir().join("callrec-meta-does-not-exist-7d1f");
    let e = Recording::load(&missing).unwrap_err();
    assert!(matches!(e, Error::Io { .. }));
    assert!(
        e.to_string()
            .starts_with(&format!("{}: cannot read: ", missing.display())),
        "{e}"
    );
}

#[test]
fn load_empty_dir_is_not_a_recording() {
    let t = TempDir::new("empty");
    std::fs::write(t.path().join("notes.json"), b"{\"hello\": 1}").unwrap();
    std::fs::write(t.path().join("x.packets.json"), b"{}").unwrap();
    let e = Recording::load(t.path()).unwrap_err();
    assert!(matches!(e, Error::NotARecording { .. }));
    assert!(e
        .to_string()
        .ends_with("not a recording: neither event.json nor any chunk metadata"));
}

#[test]
fn load_with_a_broken_event_fails_naming_it() {
    let t = TempDir::copy_of("basic");
    t.edit_json("event.json", |v| {
        v[0]["data"]["recordingStorageInfo"] = json!(7)
    });
    let e = Recording::load(t.path()).unwrap_err();
    let s = e.to_string();
    assert!(
        s.contains("event.json: [0].data.recordingStorageInfo: "),
        "{s}"
    );
    // Sanity: the untouched fixture loads.
    assert!(Recording::load(&recording_dir("basic")).is_ok());
}
