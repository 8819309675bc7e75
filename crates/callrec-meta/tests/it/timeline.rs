//! The timeline: the paused fixture against its hand-derived golden file, the maps, the
//! layout for wall-clock stitching, WebVTT, and every validation issue.

use crate::{from_values, metadata_values, recording_dir, testdata, ts};
use callrec_meta::{LayoutPause, Nanos, Recording, Segment, SegmentKind, TimelineIssue};
use serde_json::{json, Value};

fn ms(v: i64) -> Nanos {
    Nanos::from_millis(v)
}

/// Compare JSON values, printing both pretty on mismatch (a readable diff).
fn assert_json_eq(actual: &Value, expected: &Value) {
    if actual != expected {
        let a = serde_json::to_string_pretty(actual).unwrap();
        let e = serde_json::to_string_pretty(expected).unwrap();
        for (i, (la, le)) in a.lines().zip(e.lines()).enumerate() {
            if la != le {
                panic!("first difference at line {}:\n  actual:   {la}\n  expected: {le}\n\nactual:\n{a}", i + 1);
            }
        }
        panic!("lengths differ:\nactual:\n{a}\nexpected:\n{e}");
    }
}

#[test]
fn paused_fixture_matches_the_golden_timeline() {
    let tl = Recording::load(&recording_dir("paused"))
        .unwrap()
        .timeline();
    assert!(tl.issues().is_empty(), "{:?}", tl.issues());
    let golden: Value =
        serde_json::from_slice(&std::fs::read(testdata().join("timelines/paused.json")).unwrap())
            .unwrap();
    let actual: Value = serde_json::from_str(&tl.to_json()).unwrap();
    assert_json_eq(&actual, &golden);
    assert_eq!(tl.media_total(), ms(15000));
    assert_eq!(tl.paused_total(), ms(11750));
    assert_eq!(tl.wall_total(), ms(26750));
    assert_eq!(tl.gap_total() + tl.missing_total(), Nanos::ZERO);
}

#[test]
fn paused_fixture_layout_for_wall_clock_stitching() {
    let tl = Recording::load(&recording_dir("paused"))
        .unwrap()
        .timeline();
    let l = tl.chunk_layout();
    let p = |o, d| LayoutPause {
        media_offset: ms(o),
        duration: ms(d),
    };
    // testdata/README.md: chunk 0 pauses 7000 ms at +2000; chunk 1 1500 ms at media +1000 and
    // 3250 ms at media +3000; chunk 2 none. Chunks follow each other without gaps.
    assert_eq!(l.len(), 3);
    assert_eq!(l[0].pauses, vec![p(2000, 7000)]);
    assert_eq!(l[1].pauses, vec![p(1000, 1500), p(3000, 3250)]);
    assert!(l[2].pauses.is_empty());
    assert!(l.iter().all(|c| c.gap_before == Nanos::ZERO));
    assert_eq!(
        l.iter()
            .map(|c| (c.media.start, c.media.end))
            .collect::<Vec<_>>(),
        vec![
            (ms(0), ms(5000)),
            (ms(5000), ms(9000)),
            (ms(9000), ms(15000))
        ]
    );
    assert_eq!(l[1].wall.start, ts("2024-05-16T10:20:42.125Z"));
    assert_eq!(l[1].wall.end, ts("2024-05-16T10:20:50.875Z"));
}

#[test]
fn paused_fixture_maps() {
    let tl = Recording::load(&recording_dir("paused"))
        .unwrap()
        .timeline();
    // media 2000 is where chunk 0's pause began: it maps to the resume instant.
    assert_eq!(
        tl.media_to_wall(ms(2000)),
        Some(ts("2024-05-16T10:20:39.125Z"))
    );
    assert_eq!(
        tl.media_to_wall(ms(1999)),
        Some(ts("2024-05-16T10:20:32.124Z"))
    );
    // chunk 1 media +3500 = stitched 8500: after both pauses (1500 + 3250)
    assert_eq!(
        tl.media_to_wall(ms(8500)),
        Some(ts("2024-05-16T10:20:50.375Z"))
    );
    assert_eq!(tl.chunk_at_media(ms(8500)), Some(1));
    assert_eq!(
        tl.wall_to_media(ts("2024-05-16T10:20:50.375Z")),
        Some(ms(8500))
    );
    assert_eq!(tl.wall_to_media(ts("2024-05-16T10:20:35Z")), None); // paused
    assert_eq!(tl.wall_to_media(ts("2024-05-16T10:20:30.124Z")), None); // before
    assert_eq!(tl.wall_to_media(ts("2024-05-16T10:20:56.875Z")), None); // half-open end
    assert_eq!(
        tl.segment_at(ts("2024-05-16T10:20:45Z")).map(Segment::kind),
        Some(SegmentKind::Recorded)
    );
    assert_eq!(tl.media_to_wall(ms(-1)), None);
}

#[test]
fn paused_fixture_webvtt() {
    let tl = Recording::load(&recording_dir("paused"))
        .unwrap()
        .timeline();
    // Recorded stretches (derived from the golden segments; chunk joins without a pause
    // continue a stretch): media 0-2, 2-6, 6-8, 8-15 s.
    let expected = "WEBVTT\n\
        \n1\n00:00:00.000 --> 00:00:02.000\n2024-05-16T10:20:30.125Z\n\
        \n2\n00:00:02.000 --> 00:00:06.000\n2024-05-16T10:20:39.125Z (resumed after 7000 ms)\n\
        \n3\n00:00:06.000 --> 00:00:08.000\n2024-05-16T10:20:44.625Z (resumed after 1500 ms)\n\
        \n4\n00:00:08.000 --> 00:00:15.000\n2024-05-16T10:20:49.875Z (resumed after 3250 ms)\n";
    assert_eq!(tl.to_webvtt(), expected);
}

/// The paused fixture's metadata with an edit, turned into a timeline.
fn edited(edit: impl FnOnce(&mut Vec<(String, Value)>)) -> callrec_meta::Timeline {
    let mut metas = metadata_values("paused");
    edit(&mut metas);
    from_values(None, &metas).timeline()
}

fn issue_codes(tl: &callrec_meta::Timeline) -> Vec<&'static str> {
    tl.issues().iter().map(TimelineIssue::code).collect()
}

/// Segments are sorted, non-empty, contiguous and add up to the wall span.
fn assert_well_formed(tl: &callrec_meta::Timeline) {
    let segs = tl.segments();
    let mut at = tl.start();
    for s in segs {
        assert_eq!(s.wall().start, at, "{segs:#?}");
        assert!(s.wall().end > s.wall().start);
        at = s.wall().end;
    }
    assert_eq!(
        tl.media_total() + tl.paused_total() + tl.gap_total() + tl.missing_total(),
        tl.wall_total()
    );
}

#[test]
fn chunk_gap() {
    let tl = edited(|m| m[2].1["chunkStartTime"] = json!("2024-05-16T10:20:52.375Z"));
    assert_eq!(
        tl.issues(),
        &[TimelineIssue::ChunkGap {
            chunk: 2,
            previous: Some(1),
            gap: ms(1500)
        }]
    );
    assert_eq!(
        tl.issues()[0].to_string(),
        "chunk 2: starts 1500 ms after chunk 1 ends"
    );
    assert_eq!(tl.issues()[0].size(), Some(ms(1500)));
    assert_eq!(tl.gap_total(), ms(1500));
    assert_eq!(tl.chunk_layout()[2].gap_before, ms(1500));
    assert_eq!(
        tl.media_to_wall(ms(9000)),
        Some(ts("2024-05-16T10:20:52.375Z"))
    );
    assert_well_formed(&tl);
}

#[test]
fn chunk_overlap_moves_the_later_chunk() {
    let tl = edited(|m| m[2].1["chunkStartTime"] = json!("2024-05-16T10:20:50.625Z"));
    assert_eq!(
        tl.issues(),
        &[TimelineIssue::ChunkOverlap {
            chunk: 2,
            previous: Some(1),
            overlap: ms(250)
        }]
    );
    assert_eq!(
        tl.issues()[0].to_string(),
        "chunk 2: starts 250 ms before chunk 1 ends"
    );
    assert_eq!(
        tl.media_to_wall(ms(9000)),
        Some(ts("2024-05-16T10:20:50.875Z"))
    );
    assert_well_formed(&tl);
}

#[test]
fn first_chunk_after_and_before_recording_start() {
    let mut ev = crate::event_value("paused");
    ev["data"]["recordingStartTime"] = json!("2024-05-16T10:20:29.125Z");
    let tl = from_values(Some(&ev), &metadata_values("paused")).timeline();
    assert_eq!(
        tl.issues(),
        &[TimelineIssue::ChunkGap {
            chunk: 0,
            previous: None,
            gap: ms(1000)
        }]
    );
    assert_eq!(
        tl.issues()[0].to_string(),
        "chunk 0: starts 1000 ms after recordingStartTime"
    );
    assert_eq!(tl.segments()[0].kind(), SegmentKind::Gap);
    assert_eq!(tl.chunk_layout()[0].gap_before, ms(1000));
    assert_well_formed(&tl);

    ev["data"]["recordingStartTime"] = json!("2024-05-16T10:20:30.5Z");
    let tl = from_values(Some(&ev), &metadata_values("paused")).timeline();
    assert_eq!(
        tl.issues(),
        &[TimelineIssue::ChunkOverlap {
            chunk: 0,
            previous: None,
            overlap: ms(375)
        }]
    );
    assert_eq!(tl.start(), ts("2024-05-16T10:20:30.125Z"));
    assert_eq!(tl.recording_start(), ts("2024-05-16T10:20:30.5Z"));
    assert_well_formed(&tl);
}

#[test]
fn pause_before_chunk_start() {
    // Chunk 1 starts inside a pause that began 500 ms earlier (and lasts 1500 ms in all).
    let tl = edited(|m| {
        m[1].1["pauseResumeIntervals"][0] =
            json!({"startTime": "2024-05-16T10:20:41.625Z", "duration": 1500})
    });
    assert_eq!(
        tl.issues()[0],
        TimelineIssue::PauseBeforeChunkStart {
            chunk: 1,
            pause: 0,
            by: ms(500)
        }
    );
    assert_eq!(
        tl.issues()[0].to_string(),
        "chunk 1: pauseResumeIntervals[0].startTime is 500 ms before chunkStartTime"
    );
    // The part inside the chunk remains: the chunk starts paused for 1000 ms.
    assert_eq!(
        tl.chunk_layout()[1].pauses[0],
        LayoutPause {
            media_offset: ms(0),
            duration: ms(1000)
        }
    );
}

#[test]
fn recording_that_starts_paused_is_valid() {
    let tl = edited(|m| {
        m[1].1["pauseResumeIntervals"][0] =
            json!({"startTime": "2024-05-16T10:20:42.125Z", "duration": 1500});
        m[1].1["pauseResumeIntervals"][1]["startTime"] = json!("2024-05-16T10:20:47.625Z");
    });
    assert!(tl.issues().is_empty(), "{:?}", tl.issues());
    let l = &tl.chunk_layout()[1];
    assert_eq!(
        l.pauses[0],
        LayoutPause {
            media_offset: ms(0),
            duration: ms(1500)
        }
    );
    assert_eq!(
        l.pauses[1],
        LayoutPause {
            media_offset: ms(4000),
            duration: ms(3250)
        }
    );
    // chunk 1 begins with a pause, then its media; chunk 1's last pause is at its very end.
    let segs: Vec<_> = tl
        .segments()
        .iter()
        .filter(|s| s.chunk() == Some(1))
        .map(Segment::kind)
        .collect();
    assert_eq!(
        segs,
        vec![
            SegmentKind::Paused,
            SegmentKind::Recorded,
            SegmentKind::Paused
        ]
    );
    assert_well_formed(&tl);
}

#[test]
fn pause_after_chunk_end() {
    let tl = edited(|m| {
        m[2].1["pauseResumeIntervals"] =
            json!([{"startTime": "2024-05-16T10:20:57.875Z", "duration": 100}])
    });
    assert_eq!(
        tl.issues(),
        &[TimelineIssue::PauseAfterChunkEnd {
            chunk: 2,
            pause: 0,
            by: ms(1000)
        }]
    );
    assert_eq!(
        tl.issues()[0].to_string(),
        "chunk 2: pauseResumeIntervals[0] starts 1000 ms after the chunk's media ends"
    );
    assert_eq!(tl.paused_total(), ms(11750));
}

#[test]
fn pauses_overlap() {
    // chunk 1's second pause starts 500 ms before the first one ends
    let tl = edited(|m| {
        m[1].1["pauseResumeIntervals"][1]["startTime"] = json!("2024-05-16T10:20:44.125Z")
    });
    assert_eq!(
        tl.issues()[0],
        TimelineIssue::PausesOverlap {
            chunk: 1,
            pause: 1,
            overlap: ms(500)
        }
    );
    assert_eq!(
        tl.issues()[0].to_string(),
        "chunk 1: pauseResumeIntervals[1] starts 500 ms before the previous pause ends"
    );
    assert_well_formed(&tl);
}

#[test]
fn pauses_out_of_order_are_sorted() {
    let tl = edited(|m| {
        let p = m[1].1["pauseResumeIntervals"].as_array_mut().unwrap();
        p.swap(0, 1);
    });
    assert_eq!(
        tl.issues(),
        &[TimelineIssue::PausesOutOfOrder { chunk: 1, pause: 1 }]
    );
    assert_eq!(
        tl.issues()[0].to_string(),
        "chunk 1: pauseResumeIntervals[1].startTime is earlier than the pause listed before it"
    );
    let golden = Recording::load(&recording_dir("paused"))
        .unwrap()
        .timeline();
    assert_eq!(tl.segments(), golden.segments());
}

#[test]
fn negative_durations() {
    let tl = edited(|m| {
        m[1].1["pauseResumeIntervals"][1]["duration"] = json!(-3250);
        m[2].1["chunkDuration"] = json!(-6000.5);
    });
    // Chunk 1 loses its second pause, so it ends 3250 ms before chunk 2 starts.
    assert_eq!(
        tl.issues(),
        &[
            TimelineIssue::NegativePauseDuration {
                chunk: 1,
                pause: 1,
                duration: ms(-3250)
            },
            TimelineIssue::NegativeChunkDuration {
                chunk: 2,
                duration: Nanos::from_micros(-6_000_500)
            },
            TimelineIssue::ChunkGap {
                chunk: 2,
                previous: Some(1),
                gap: ms(3250)
            },
        ]
    );
    assert_eq!(
        tl.issues()[0].to_string(),
        "chunk 1: pauseResumeIntervals[1].duration is negative (-3250 ms)"
    );
    assert_eq!(
        tl.issues()[1].to_string(),
        "chunk 2: chunkDuration is negative (-6000.5 ms)"
    );
    assert_eq!(tl.media_total(), ms(9000));
    assert_well_formed(&tl);
}

#[test]
fn missing_chunk_fixture_timeline() {
    let tl = Recording::load(&recording_dir("../recordings-bad/missing_chunk"))
        .unwrap()
        .timeline();
    let kinds: Vec<_> = tl
        .segments()
        .iter()
        .map(|s| (s.kind(), s.chunk()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (SegmentKind::Recorded, Some(0)),
            (SegmentKind::Missing, Some(1)),
            (SegmentKind::Recorded, Some(2))
        ]
    );
    assert_eq!(tl.segments()[1].wall().duration(), ms(4000));
    assert_eq!(tl.media_total(), ms(11000));
    assert_eq!(tl.missing_total(), ms(4000));
    assert_eq!(tl.chunk_layout()[1].gap_before, ms(4000));
    let j: Value = serde_json::from_str(&tl.to_json()).unwrap();
    assert_eq!(j["segments"][1]["kind"], "missing");
    assert_eq!(j["segments"][1]["media_start_ms"], Value::Null);
    assert_eq!(j["segments"][2]["media_start_ms"], 5000);
    assert_eq!(issue_codes(&tl), vec!["chunk_gap"]);
}

#[test]
fn sub_millisecond_values_in_json() {
    let tl = edited(|m| m[2].1["chunkDuration"] = json!(6000.25));
    let j: Value = serde_json::from_str(&tl.to_json()).unwrap();
    assert_eq!(j["media_ms"], json!(15000.25));
    assert_eq!(tl.media_total(), Nanos::from_nanos(15_000_250_000));
}
