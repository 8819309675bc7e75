//! Every real-world variant of the fixtures parses, and to the same values where they agree.

use crate::{recording_dir, ts, VARIANTS};
use callrec_meta::{
    ChannelKind, ContentKind, EventSchema, FormatKind, Nanos, Recording, SegmentKind,
};

/// The start times testdata/README.md gives.
fn start_of(name: &str) -> &'static str {
    match name {
        "basic" => "2024-05-14T16:32:34.1115003Z",
        "bframes" => "2024-05-15T09:01:02.0000420Z",
        "paused" => "2024-05-16T10:20:30.125Z",
        "fragmented" => "2024-05-17T11:00:00Z",
        "faststart" => "2024-05-18T12:34:56.7890123Z",
        "mismatch" => "2024-05-19T13:00:00.5000000Z",
        _ => unreachable!(),
    }
}

/// Sum of pause durations per chunk, from testdata/README.md.
fn paused_ms(name: &str, chunk: u32) -> i64 {
    match (name, chunk) {
        ("paused", 0) => 7000,
        ("paused", 1) => 1500 + 3250,
        _ => 0,
    }
}

#[test]
fn every_variant_loads_without_problems() {
    for name in VARIANTS {
        let rec = Recording::load(&recording_dir(name)).unwrap();
        assert!(rec.problems.is_empty(), "{name}: {:?}", rec.problems);
        let ev = rec.event.as_ref().unwrap();
        assert_eq!(ev.data.recording_start_time, ts(start_of(name)), "{name}");
        assert_eq!(ev.data.recording_duration_ms, 15000, "{name}");
        assert_eq!(ev.data.session_end_reason, "CallEnded", "{name}");
        assert_eq!(rec.chunks.len(), 3, "{name}");
        // eventTime = wall end + 90 s (README)
        let wall_ms = 15000 + paused_ms(name, 0) + paused_ms(name, 1);
        let expected_event_time =
            ts(start_of(name)) + chrono::TimeDelta::milliseconds(wall_ms + 90_000);
        assert_eq!(ev.event_time, Some(expected_event_time), "{name}");
        let call = rec.call_id().unwrap().to_string();
        assert_eq!(ev.call_id(), Some(call.as_str()), "{name}");

        let durations = [5000, 4000, 6000];
        let mut expected_start = ts(start_of(name));
        for (k, c) in rec.chunks.iter().enumerate() {
            let k = k as u32;
            assert_eq!(c.index, k);
            assert!(c.listed && c.has_media());
            assert!(c.media_path.as_ref().unwrap().is_file(), "{name} {k}");
            assert_eq!(
                c.end_reason.as_deref(),
                Some(if k == 2 {
                    "SessionEnded"
                } else {
                    "ChunkMaximumSizeExceeded"
                })
            );
            let m = c.metadata.as_ref().unwrap();
            assert_eq!(m.chunk_index, k);
            assert_eq!(m.chunk_document_id, c.document_id);
            assert_eq!(m.call_id, call);
            assert_eq!(m.chunk_duration, Nanos::from_millis(durations[k as usize]));
            assert_eq!(m.chunk_start_time, expected_start, "{name} chunk {k}");
            assert_eq!(m.paused_total(), Nanos::from_millis(paused_ms(name, k)));
            expected_start +=
                chrono::TimeDelta::milliseconds(durations[k as usize] + paused_ms(name, k));
            // The same media settings in every variant, whatever their spelling.
            let a = &m.recording_info.audio;
            assert_eq!(
                (a.sample_rate, a.bit_rate, a.channels),
                (16000, 32000, 1),
                "{name}"
            );
            let v = m.recording_info.video.as_ref().unwrap();
            assert_eq!(
                (
                    v.longer_side_length,
                    v.shorter_side_length,
                    v.framerate,
                    v.bit_rate
                ),
                (1920, 1080, 8.0, 60000),
                "{name}"
            );
            let c = m.recording_info.classify();
            assert_eq!(c.content, Some(ContentKind::Mixed));
            assert_eq!(c.channel, Some(ChannelKind::AudioVideo));
            assert_eq!(c.format, Some(FormatKind::Mp4));
            assert!(c.unknown.is_empty());
            assert_eq!(m.participants.len(), 2);
            assert!(m.participants[0].participant_id.starts_with("8:acs:"));
        }
    }
}

#[test]
fn bframes_number_sample_rate_and_float_duration_equal_basic_string_and_integer() {
    let basic = Recording::load(&recording_dir("basic")).unwrap();
    let bframes = Recording::load(&recording_dir("bframes")).unwrap();
    for (a, b) in basic.chunks.iter().zip(&bframes.chunks) {
        let (a, b) = (a.metadata.as_ref().unwrap(), b.metadata.as_ref().unwrap());
        // basic writes "16000" and 5000; bframes 16000 and 5000.0
        let mut ba = b.recording_info.audio.clone();
        ba.extra.clear();
        assert_eq!(a.recording_info.audio, ba);
        let mut bv = b.recording_info.video.clone().unwrap();
        bv.extra.clear();
        assert_eq!(a.recording_info.video.as_ref().unwrap(), &bv);
        assert_eq!(a.chunk_duration, b.chunk_duration);
        assert!(a.extra.is_empty() && a.recording_info.extra.is_empty());
        // bframes' extra fields are kept, not rejected
        assert_eq!(
            b.extra["recordingId"],
            "428c6519-67d0-ea12-897c-252dce311a7e"
        );
        assert_eq!(
            b.recording_info.extra["unknownFutureField"]["nested"],
            serde_json::json!([1, 2, 3])
        );
    }
}

#[test]
fn seven_fraction_digits_are_exact() {
    let rec = Recording::load(&recording_dir("basic")).unwrap();
    let t = rec.event.unwrap().data.recording_start_time;
    assert_eq!(t.timestamp_subsec_nanos(), 111_500_300);
    let rec = Recording::load(&recording_dir("bframes")).unwrap();
    let m = rec.chunks[1].metadata.as_ref().unwrap();
    assert_eq!(m.chunk_start_time.timestamp_subsec_nanos(), 42_000);
}

#[test]
fn later_event_fields_and_envelopes() {
    let b = Recording::load(&recording_dir("bframes"))
        .unwrap()
        .event
        .unwrap();
    assert_eq!(b.schema, EventSchema::EventGrid);
    assert_eq!(
        b.data.recording_id.as_deref(),
        Some("428c6519-67d0-ea12-897c-252dce311a7e")
    );
    assert_eq!(b.data.recording_content_type.as_deref(), Some("Mixed"));
    assert_eq!(b.data.recording_channel_type.as_deref(), Some("AudioVideo"));
    assert_eq!(b.data.recording_format_type.as_deref(), Some("Mp4"));
    let c0 = &b.data.chunks[0];
    assert!(c0
        .content_location
        .as_deref()
        .unwrap()
        .ends_with("/content/video"));
    assert!(c0
        .metadata_location
        .as_deref()
        .unwrap()
        .ends_with("/content/acsmetadata"));
    assert!(c0.delete_location.is_some());
    assert_eq!(b.data_version.as_deref(), Some("1.0"));

    let f = Recording::load(&recording_dir("fragmented"))
        .unwrap()
        .event
        .unwrap();
    assert_eq!(f.schema, EventSchema::CloudEvents);
    assert_eq!(
        f.event_type.as_deref(),
        Some(callrec_meta::RECORDING_FILE_STATUS_UPDATED)
    );
    assert!(f
        .topic
        .as_deref()
        .unwrap()
        .contains("communicationServices"));
    assert_eq!(f.extra["specversion"], "1.0");
    assert_eq!(f.extra["datacontenttype"], "application/json");

    let p = Recording::load(&recording_dir("paused"))
        .unwrap()
        .event
        .unwrap();
    assert_eq!(p.schema, EventSchema::EventGrid);
    assert_eq!(p.id, "8ea776af-8864-b4fa-6dc6-725af8c7cd04");
}

#[test]
fn unpaused_variants_have_a_contiguous_timeline() {
    for name in VARIANTS.into_iter().filter(|n| *n != "paused") {
        let tl = Recording::load(&recording_dir(name)).unwrap().timeline();
        assert!(tl.issues().is_empty(), "{name}: {:?}", tl.issues());
        assert_eq!(tl.segments().len(), 3, "{name}");
        assert!(tl
            .segments()
            .iter()
            .all(|s| s.kind() == SegmentKind::Recorded));
        assert_eq!(tl.media_total(), Nanos::from_millis(15000));
        assert_eq!(tl.wall_total(), Nanos::from_millis(15000));
        assert_eq!(tl.start(), ts(start_of(name)));
        // media t maps to start + t exactly, to the nanosecond
        for t in [0, 1, 4_999_999_999, 5_000_000_000, 14_999_999_999] {
            let w = tl.media_to_wall(Nanos::from_nanos(t)).unwrap();
            assert_eq!(
                Nanos::between(tl.start(), w),
                Nanos::from_nanos(t),
                "{name} {t}"
            );
        }
        assert_eq!(tl.media_to_wall(Nanos::from_millis(15000)), None);
        let layout = tl.chunk_layout();
        assert_eq!(layout.len(), 3);
        assert!(layout
            .iter()
            .all(|l| l.gap_before == Nanos::ZERO && l.pauses.is_empty()));
    }
}
