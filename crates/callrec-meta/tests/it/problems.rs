//! Every `Problem` of a recording, each built from a fixture with an edit; each message names
//! the chunk or field, and each has its code.

use crate::{event_value, from_values, metadata_values, recording_dir, TempDir};
use callrec_meta::{Nanos, Problem, Recording, SegmentKind};
use serde_json::json;

fn codes(rec: &Recording) -> Vec<&'static str> {
    rec.problems.iter().map(Problem::code).collect()
}

fn only(rec: &Recording, code: &str) -> String {
    assert_eq!(codes(rec), vec![code], "{:#?}", rec.problems);
    rec.problems[0].to_string()
}

#[test]
fn missing_index() {
    let mut ev = event_value("basic");
    let metas = metadata_values("basic");
    // The event lists indices 0 and 2 only; metadata of chunk 1 is not given.
    ev[0]["data"]["recordingStorageInfo"]["recordingChunks"]
        .as_array_mut()
        .unwrap()
        .remove(1);
    ev[0]["data"]["recordingDurationMs"] = json!(11000);
    let metas = vec![metas[0].clone(), metas[2].clone()];
    let rec = from_values(Some(&ev), &metas);
    assert_eq!(only(&rec, "missing_index"), "chunk index 1 is missing");
    assert_eq!(rec.problems[0].chunk(), Some(1));
    // The timeline leaves a 4 s gap where chunk 1 was.
    let tl = rec.timeline();
    let gaps: Vec<_> = tl
        .segments()
        .iter()
        .filter(|s| s.kind() == SegmentKind::Gap)
        .collect();
    assert_eq!(gaps.len(), 1);
    assert_eq!(gaps[0].wall().duration(), Nanos::from_millis(4000));
}

#[test]
fn duplicate_index() {
    let mut ev = event_value("basic");
    let mut metas = metadata_values("basic");
    ev[0]["data"]["recordingStorageInfo"]["recordingChunks"][2]["index"] = json!(1);
    metas[2].1["chunkIndex"] = json!(1);
    let rec = from_values(Some(&ev), &metas);
    let msg = only(&rec, "duplicate_index");
    assert!(
        msg.starts_with("chunk index 1 is used by 2 chunks: "),
        "{msg}"
    );
    assert!(
        msg.contains(&metas[1].0) && msg.contains(&metas[2].0),
        "{msg}"
    );
}

#[test]
fn media_and_metadata_absent() {
    let rec = Recording::load(&recording_dir("../recordings-bad/missing_chunk")).unwrap();
    assert_eq!(codes(&rec), vec!["media_absent", "metadata_absent"]);
    let doc = &rec.chunks[1].document_id;
    for p in &rec.problems {
        let s = p.to_string();
        assert!(s.starts_with(&format!("chunk 1 ({doc}): ")), "{s}");
        assert_eq!(p.chunk(), Some(1));
        assert_eq!(p.document_id(), Some(doc.as_str()));
    }
    assert!(rec.problems[0]
        .to_string()
        .contains(&format!("{doc}.mp4 is absent")));
    assert!(rec.problems[1].to_string().contains("metadata is absent"));
    assert!(!rec.chunks[1].has_media() && rec.chunks[1].media_path.is_none());
    assert!(rec.chunks[0].has_media() && rec.chunks[2].has_media());
}

#[test]
fn media_absent_with_metadata_present_is_a_missing_span() {
    let t = TempDir::copy_of("paused");
    let rec = Recording::load(t.path()).unwrap();
    let doc = rec.chunks[1].document_id.clone();
    std::fs::remove_file(t.path().join(format!("{doc}.mp4"))).unwrap();
    let rec = Recording::load(t.path()).unwrap();
    assert_eq!(
        only(&rec, "media_absent"),
        format!(
            "chunk 1 ({doc}): media file {} is absent",
            t.path().join(format!("{doc}.mp4")).display()
        )
    );
    let tl = rec.timeline();
    let missing: Vec<_> = tl
        .segments()
        .iter()
        .filter(|s| s.kind() == SegmentKind::Missing)
        .collect();
    assert_eq!(missing.len(), 1);
    assert_eq!(missing[0].chunk(), Some(1));
    // chunk 1's span: 4000 ms of media + 1500 + 3250 ms of pauses
    assert_eq!(missing[0].wall().duration(), Nanos::from_millis(8750));
    assert_eq!(tl.media_total(), Nanos::from_millis(11000));
    assert_eq!(tl.chunk_layout().len(), 2);
    assert_eq!(tl.chunk_layout()[1].gap_before, Nanos::from_millis(8750));
}

#[test]
fn metadata_not_listed() {
    let mut ev = event_value("basic");
    let metas = metadata_values("basic");
    ev[0]["data"]["recordingStorageInfo"]["recordingChunks"]
        .as_array_mut()
        .unwrap()
        .remove(2);
    ev[0]["data"]["recordingDurationMs"] = json!(9000);
    let rec = from_values(Some(&ev), &metas);
    assert_eq!(
        only(&rec, "metadata_not_listed"),
        format!(
            "chunk 2 ({}): metadata is not listed by the event",
            metas[2].0
        )
    );
    assert_eq!(rec.chunks.len(), 2);
}

#[test]
fn index_mismatch() {
    let ev = event_value("basic");
    let mut metas = metadata_values("basic");
    metas[1].1["chunkIndex"] = json!(7);
    let rec = from_values(Some(&ev), &metas);
    assert_eq!(
        only(&rec, "index_mismatch"),
        format!(
            "chunk {}: the event gives index 1, its metadata chunkIndex 7",
            metas[1].0
        )
    );
}

#[test]
fn call_id_mismatch_against_the_event() {
    let ev = event_value("basic");
    let mut metas = metadata_values("basic");
    let right = metas[0].1["callId"].as_str().unwrap().to_string();
    metas[2].1["callId"] = json!("someone-else");
    let rec = from_values(Some(&ev), &metas);
    assert_eq!(
        only(&rec, "call_id_mismatch"),
        format!(
            "chunk 2 ({}): callId someone-else differs from {right} given by the event's subject",
            metas[2].0
        )
    );
}

#[test]
fn call_id_mismatch_without_event_uses_the_majority() {
    let mut metas = metadata_values("basic");
    metas[0].1["callId"] = json!("odd-one");
    let rec = from_values(None, &metas);
    assert_eq!(codes(&rec), vec!["event_absent", "call_id_mismatch"]);
    let s = rec.problems[1].to_string();
    assert!(
        s.starts_with(&format!(
            "chunk 0 ({}): callId odd-one differs from ",
            metas[0].0
        )),
        "{s}"
    );
    assert!(s.ends_with("given by the other chunks"), "{s}");
}

#[test]
fn metadata_invalid_in_a_directory() {
    let t = TempDir::copy_of("basic");
    let doc = Recording::load(t.path()).unwrap().chunks[1]
        .document_id
        .clone();
    t.edit_json(&format!("{doc}.json"), |v| {
        v["recordingInfo"]["videoConfiguration"]["framerate"] = json!("eight")
    });
    let rec = Recording::load(t.path()).unwrap();
    let s = only(&rec, "metadata_invalid");
    assert_eq!(
        s,
        format!(
            "chunk 1 ({doc}): metadata is invalid: {}: recordingInfo.videoConfiguration.framerate: expected a number, found \"eight\"",
            t.path().join(format!("{doc}.json")).display()
        )
    );
    // The chunk is still there, without metadata, and the timeline says so.
    assert!(rec.chunks[1].metadata.is_none() && rec.chunks[1].has_media());
    let tl = rec.timeline();
    assert_eq!(tl.issues()[0].code(), "chunk_not_placed");
    assert!(tl.issues()[0]
        .to_string()
        .starts_with(&format!("chunk 1 ({doc}): no metadata")));
}

#[test]
fn document_id_mismatch() {
    let t = TempDir::copy_of("basic");
    let doc = Recording::load(t.path()).unwrap().chunks[0]
        .document_id
        .clone();
    t.edit_json(&format!("{doc}.json"), |v| {
        v["chunkDocumentId"] = json!("0-eus-d3-other")
    });
    let rec = Recording::load(t.path()).unwrap();
    assert_eq!(
        only(&rec, "document_id_mismatch"),
        format!("chunk 0 ({doc}): chunkDocumentId is 0-eus-d3-other, not the file name's")
    );
}

#[test]
fn media_not_listed_and_other_files_ignored() {
    let t = TempDir::copy_of("basic");
    std::fs::write(t.path().join("stray.mp4"), b"").unwrap();
    std::fs::write(t.path().join("notes.json"), b"{\"not\": \"metadata\"}").unwrap();
    std::fs::write(t.path().join("x.packets.json"), b"garbage").unwrap();
    std::fs::write(t.path().join("README.txt"), b"hello").unwrap();
    let rec = Recording::load(t.path()).unwrap();
    assert_eq!(
        only(&rec, "media_not_listed"),
        format!(
            "media file {} is listed by neither the event nor any metadata",
            t.path().join("stray.mp4").display()
        )
    );
}

#[test]
fn event_absent_orders_by_chunk_index() {
    let t = TempDir::copy_of("paused");
    std::fs::remove_file(t.path().join("event.json")).unwrap();
    let rec = Recording::load(t.path()).unwrap();
    assert_eq!(
        only(&rec, "event_absent"),
        "no event.json: chunks are ordered by their metadata's chunkIndex"
    );
    assert_eq!(
        rec.chunks.iter().map(|c| c.index).collect::<Vec<_>>(),
        vec![0, 1, 2]
    );
    assert!(rec.chunks.iter().all(|c| !c.listed && c.has_media()));
    // The timeline is the same as with the event (recordingStartTime = chunk 0's start).
    let with_event = Recording::load(&recording_dir("paused"))
        .unwrap()
        .timeline();
    assert_eq!(rec.timeline().to_json(), with_event.to_json());
    assert_eq!(rec.call_id(), Some("1b362962-e34e-ffe1-c877-c521ea88cb06"));
}

#[test]
fn no_chunks() {
    let mut ev = event_value("paused");
    ev["data"]["recordingStorageInfo"]["recordingChunks"] = json!([]);
    let rec = from_values(Some(&ev), &[]);
    assert_eq!(
        only(&rec, "no_chunks"),
        "the event lists no chunk (data.recordingStorageInfo.recordingChunks is empty)"
    );
    let tl = rec.timeline();
    assert!(tl.segments().is_empty());
    assert_eq!(tl.wall_total(), Nanos::ZERO);
    assert_eq!(rec.call_id(), Some("1b362962-e34e-ffe1-c877-c521ea88cb06"));
}

#[test]
fn duration_mismatch() {
    let mut ev = event_value("basic");
    ev[0]["data"]["recordingDurationMs"] = json!(15250);
    let rec = from_values(Some(&ev), &metadata_values("basic"));
    assert_eq!(
        only(&rec, "duration_mismatch"),
        "recordingDurationMs is 15250 but the chunks' chunkDuration add up to 15000 ms"
    );
}

/// `basic`'s event.json rewritten as `events` (each built from its first event).
fn batch_of(t: &TempDir, events: impl FnOnce(&serde_json::Value) -> Vec<serde_json::Value>) {
    let p = t.0.join("event.json");
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
    let e0 = if v.is_array() { v[0].clone() } else { v };
    std::fs::write(&p, serde_json::to_vec(&events(&e0)).unwrap()).unwrap();
}

fn other_call(e0: &serde_json::Value) -> serde_json::Value {
    let mut o = e0.clone();
    o["subject"] = json!("/recording/call/11111111-1111-1111-1111-111111111111/serverCallId/z");
    o["data"]["recordingStorageInfo"]["recordingChunks"] = json!([{
        "documentId": "0-eus-d3-ffffffffffffffffffffffffffffffff", "index": 0,
        "endReason": "SessionEnded"
    }]);
    o
}

#[test]
fn an_event_grid_batch_takes_the_event_that_lists_the_directorys_chunks() {
    let t = TempDir::copy_of("basic");
    batch_of(&t, |e0| vec![other_call(e0), e0.clone()]);
    let rec = Recording::load(&t.0).unwrap();
    assert!(rec.problems.is_empty(), "{:?}", rec.problems);
    assert_eq!(rec.chunks.len(), 3);
    assert!(rec.chunks.iter().all(|c| c.listed));
}

#[test]
fn an_event_grid_batch_with_no_or_several_matching_events_is_an_error() {
    let t = TempDir::copy_of("basic");
    let mut first = None;
    batch_of(&t, |e0| {
        first = Some(e0.clone());
        vec![other_call(e0), other_call(e0)]
    });
    let e0 = first.unwrap();
    let e = Recording::load(&t.0).unwrap_err();
    assert!(
        matches!(&e, callrec_meta::Error::AmbiguousEvent { events: 2, matching, .. } if matching.is_empty()),
        "{e:?}"
    );
    assert!(e.to_string().ends_with("event.json: 2 RecordingFileStatusUpdated events, none of which lists a chunk of this directory"), "{e}");
    batch_of(&t, |_| vec![e0.clone(), other_call(&e0), e0.clone()]);
    let e = Recording::load(&t.0).unwrap_err();
    assert!(
        matches!(&e, callrec_meta::Error::AmbiguousEvent { events: 3, matching, .. } if matching == &["[0]", "[2]"]),
        "{e:?}"
    );
}

#[test]
fn a_document_id_that_is_a_path_is_invalid_not_absent() {
    for bad in ["../victim/X", "/etc/passwd", ".."] {
        let t = TempDir::copy_of("basic");
        batch_of(&t, |e0| {
            let mut e = e0.clone();
            e["data"]["recordingStorageInfo"]["recordingChunks"][1]["documentId"] = json!(bad);
            vec![e]
        });
        let rec = Recording::load(&t.0).unwrap();
        let p: Vec<&Problem> = rec
            .problems
            .iter()
            .filter(|p| p.code() == "invalid_document_id")
            .collect();
        assert_eq!(p.len(), 1, "{bad}: {:?}", rec.problems);
        match p[0] {
            Problem::InvalidDocumentId {
                index: 1,
                document_id,
                field,
                ..
            } => {
                assert_eq!(document_id, bad);
                assert_eq!(
                    field,
                    "data.recordingStorageInfo.recordingChunks[1].documentId"
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(
            rec.problems.iter().all(|p| p.code() != "media_absent"),
            "{bad}: {:?}",
            rec.problems
        );
    }
}
