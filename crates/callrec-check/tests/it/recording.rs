//! Whole recordings through `check`: the fixtures, and bad recordings built from them in a
//! temporary directory (edited metadata and event, truncated or replaced media).

use std::path::{Path, PathBuf};

use callrec_check::{
    check, check_files, ChunkFile, Code, DurationReading, Finding, Layout, Options, Report,
    Severity,
};
use callrec_meta::Recording;
use serde_json::{json, Value};

use crate::util::{chunks, recording, testdata};

/// Loads `dir` and checks it as the example does (files read whole).
pub fn check_dir(dir: &Path) -> Report {
    let rec = Recording::load(dir).unwrap();
    let files: Vec<Option<Vec<u8>>> = rec
        .chunks
        .iter()
        .map(|c| c.media_path.as_ref().map(|p| std::fs::read(p).unwrap()))
        .collect();
    let media: Vec<Option<&[u8]>> = files.iter().map(|f| f.as_deref()).collect();
    check(&rec, &media, &Options::default())
}

fn codes(r: &Report) -> Vec<(&'static str, Option<u32>)> {
    r.findings
        .iter()
        .map(|f| (f.code.as_str(), f.chunk.as_ref().map(|c| c.index)))
        .collect()
}

fn only(r: &Report, code: Code) -> &Finding {
    let v: Vec<_> = r.with_code(code).collect();
    assert_eq!(v.len(), 1, "{code}: {:#?}", r.findings);
    v[0]
}

/// A copy of a fixture recording in a temporary directory.
struct Copy {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
}

fn copy(name: &str) -> Copy {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join(name);
    std::fs::create_dir(&dir).unwrap();
    for e in std::fs::read_dir(recording(name)).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, dir.join(p.file_name().unwrap())).unwrap();
    }
    Copy { _tmp: tmp, dir }
}

impl Copy {
    /// The documentId of chunk `idx`.
    fn doc(&self, idx: u32) -> String {
        chunks(&self.dir)
            .into_iter()
            .find(|c| c.0 == idx)
            .unwrap()
            .1
    }

    fn edit_json(&self, file: &str, f: impl FnOnce(&mut Value)) {
        let p = self.dir.join(file);
        let mut v: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        f(&mut v);
        std::fs::write(&p, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    }

    fn edit_meta(&self, idx: u32, f: impl FnOnce(&mut Value)) {
        self.edit_json(&format!("{}.json", self.doc(idx)), f);
    }

    /// Edits the event's `data` (Event Grid array, single event or CloudEvents alike).
    fn edit_event(&self, f: impl FnOnce(&mut Value)) {
        self.edit_json("event.json", |v| {
            let ev = if v.is_array() { &mut v[0] } else { v };
            f(&mut ev["data"]);
        });
    }

    fn mp4(&self, idx: u32) -> PathBuf {
        self.dir.join(format!("{}.mp4", self.doc(idx)))
    }

    fn check(&self) -> Report {
        check_dir(&self.dir)
    }
}

/// Adds `ms` to an ISO 8601 UTC timestamp (as the fixtures write them).
fn shift(ts: &Value, ms: i64) -> Value {
    let t = chrono::DateTime::parse_from_rfc3339(ts.as_str().unwrap()).unwrap();
    let t = t + chrono::TimeDelta::milliseconds(ms);
    json!(t
        .to_utc()
        .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
}

#[test]
fn clean_fixtures_give_no_error_and_no_warning() {
    for name in ["basic", "bframes", "paused", "fragmented", "faststart"] {
        let r = check_dir(&recording(name));
        assert!(r.findings.is_empty(), "{name}: {:#?}", r.findings);
        assert!(!r.has_errors());
        assert_eq!(r.chunks.len(), 3);
        assert!(
            (r.media_duration_ms - 15000.0).abs() < 0.1,
            "{name}: {}",
            r.media_duration_ms
        );
        // The JSON report carries the chunk facts.
        let v: Value = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(v["errors"], 0);
        assert_eq!(v["chunks"][1]["media"]["video"]["width"], 1920);
        // Which layout the files have (testdata/README.md: only `fragmented` is made with
        // `+frag_keyframe+empty_moov`).
        let layout = if name == "fragmented" {
            "fragmented"
        } else {
            "progressive"
        };
        assert_eq!(v["layout"], layout, "{name}");
        assert!(r.chunks.iter().all(|c| c.layout.is_some()), "{name}");
        assert_eq!(v["chunks"][0]["layout"], layout, "{name}");
        // Only `paused` has pauses; its chunkDuration is the media alone.
        if name == "paused" {
            assert_eq!(r.duration_reading, Some(DurationReading::ExcludesPauses));
            assert_eq!(v["duration_reading"], "excludes_pauses");
            let per_chunk: Vec<_> = r.chunks.iter().map(|c| c.duration_reading).collect();
            let ex = Some(DurationReading::ExcludesPauses);
            assert_eq!(per_chunk, [ex, ex, None]);
        } else {
            assert_eq!(r.duration_reading, None, "{name}");
            assert!(v["duration_reading"].is_null());
        }
    }
}

/// Sum of `pauseResumeIntervals[].duration` in a metadata JSON.
fn paused_ms(m: &Value) -> f64 {
    m["pauseResumeIntervals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["duration"].as_f64().unwrap())
        .sum()
}

/// The `paused` copy with chunks `which` rewritten so that `chunkDuration` includes the
/// chunk's pauses (their starts unchanged: they already follow the wall clock), and
/// `recordingDurationMs` the sum of the chunkDuration values (returned).
fn paused_with_durations_including_pauses(c: &Copy, which: &[u32]) -> f64 {
    let mut total = 0.0;
    for idx in 0..3 {
        c.edit_meta(idx, |m| {
            if which.contains(&idx) {
                let d = m["chunkDuration"].as_f64().unwrap() + paused_ms(m);
                m["chunkDuration"] = json!(d);
            }
            total += m["chunkDuration"].as_f64().unwrap();
        });
    }
    c.edit_event(|d| d["recordingDurationMs"] = json!(total));
    total
}

#[test]
fn chunk_duration_including_the_pauses_is_reported_as_that_reading() {
    let c = copy("paused");
    let total = paused_with_durations_including_pauses(&c, &[0, 1]);
    // The edit the brief describes: 5000 + 7000, 4000 + 1500 + 3250, 6000.
    assert_eq!(total, 12000.0 + 8750.0 + 6000.0);
    let r = c.check();
    assert!(!r.has_errors(), "{:#?}", r.findings);
    assert_eq!(r.errors, 0);
    assert_eq!(r.with_code(Code::DurationChunk).count(), 0);
    assert_eq!(r.with_code(Code::TimelineOverlap).count(), 0);
    assert_eq!(r.with_code(Code::TimelineGap).count(), 0);
    assert_eq!(r.with_code(Code::DurationTotal).count(), 0);
    assert_eq!(r.with_code(Code::DurationMetadataTotal).count(), 0);

    let inc: Vec<&Finding> = r.with_code(Code::DurationIncludesPauses).collect();
    let chunks: Vec<u32> = inc
        .iter()
        .map(|f| f.chunk.as_ref().unwrap().index)
        .collect();
    assert_eq!(chunks, [0, 1], "{:#?}", r.findings);
    for (f, (want, paused, media)) in inc
        .iter()
        .zip([(12000.0, 7000.0, 5000.0), (8750.0, 4750.0, 4000.0)])
    {
        assert_eq!(f.severity, Severity::Warning);
        assert_eq!(
            f.expected,
            Some(json!({ "chunk_duration_ms": want, "paused_ms": paused }))
        );
        let got = f.actual.as_ref().unwrap()["media_ms"].as_f64().unwrap();
        assert!((got - media).abs() < 1.0, "{got}");
        assert!(
            f.message.contains(&format!("include the {paused} ms")),
            "{}",
            f.message
        );
    }
    // Continuity read with that convention: chunk 1 at chunk 0's start + 12000 ms, chunk 2 at
    // chunk 1's start + 8750 ms; one info each, nothing else.
    let cont: Vec<&Finding> = r.with_code(Code::TimelineIncludesPauses).collect();
    let at: Vec<u32> = cont
        .iter()
        .map(|f| f.chunk.as_ref().unwrap().index)
        .collect();
    assert_eq!(at, [1, 2], "{:#?}", r.findings);
    assert!(cont.iter().all(|f| f.severity == Severity::Info));
    assert_eq!(
        cont[0].actual,
        Some(json!({ "start_after_previous_ms": 12000.0 }))
    );
    assert_eq!(
        cont[1].actual,
        Some(json!({ "start_after_previous_ms": 8750.0 }))
    );
    assert_eq!(r.findings.len(), 4, "{:#?}", r.findings);
    assert_eq!(r.duration_reading, Some(DurationReading::IncludesPauses));
    assert_eq!(r.layout, Some(Layout::Progressive));
    let v: Value = serde_json::from_str(&r.to_json()).unwrap();
    assert_eq!(v["duration_reading"], "includes_pauses");
    assert_eq!(v["chunks"][0]["duration_reading"], "includes_pauses");
    assert!(v["chunks"][2]["duration_reading"].is_null());
}

#[test]
fn recording_duration_of_the_media_alone_is_wrong_under_the_including_reading() {
    // recordingDurationMs is read in the convention of chunkDuration: left at the media's
    // 15000 ms while chunkDuration counts 11750 ms of pauses, the total is one error.
    let c = copy("paused");
    paused_with_durations_including_pauses(&c, &[0, 1]);
    c.edit_event(|d| d["recordingDurationMs"] = json!(15000));
    let r = c.check();
    let f = only(&r, Code::DurationTotal);
    assert_eq!(f.expected, Some(json!(15000.0)));
    let got = f.actual.as_ref().and_then(Value::as_f64).unwrap();
    assert!((got - 26750.0).abs() < 1.0, "{got}");
    assert!(
        f.message.contains("11750.000 ms of the pauses"),
        "{}",
        f.message
    );
    assert_eq!(r.errors, 1, "{:#?}", r.findings);
}

#[test]
fn one_chunk_including_its_pauses_and_the_knock_on_overlap_after_it() {
    // Only chunk 0 counts its pauses. The timeline moves chunk 1 to start where chunk 0 ends
    // under callrec's model (7000 ms later), which pushes chunk 2 too; neither is reported.
    let c = copy("paused");
    let total = paused_with_durations_including_pauses(&c, &[0]);
    assert_eq!(total, 12000.0 + 4000.0 + 6000.0);
    let r = c.check();
    assert_eq!(
        codes(&r),
        [
            ("timeline.includes_pauses", Some(1)),
            ("duration.includes_pauses", Some(0)),
        ],
        "{:#?}",
        r.findings
    );
    assert_eq!(r.duration_reading, Some(DurationReading::Mixed));
}

#[test]
fn paused_chunk_wrong_by_other_than_its_pauses_is_a_duration_error() {
    let c = copy("paused");
    // Chunk 0 (5000 ms of media, 7000 ms paused) says 10000: neither 5000 nor 5000 + 7000.
    c.edit_meta(0, |m| m["chunkDuration"] = json!(10000));
    let r = c.check();
    let f = only(&r, Code::DurationChunk);
    assert_eq!(f.chunk.as_ref().unwrap().index, 0);
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(f.expected, Some(json!(10000.0)));
    assert_eq!(r.with_code(Code::DurationIncludesPauses).count(), 0);
    assert_eq!(r.with_code(Code::TimelineIncludesPauses).count(), 0);
    // Its wall clock (10000 + 7000) runs 5000 ms into chunk 1: still an overlap error (and
    // chunk 2's knock-on one, as before this reading existed).
    let o = r.with_code(Code::TimelineOverlap).next().unwrap();
    assert_eq!(o.chunk.as_ref().unwrap().index, 1);
    assert_eq!(o.severity, Severity::Error);
    assert_eq!(o.actual, Some(json!({ "ms": 5000.0 })));
    assert_eq!(r.chunks[0].duration_reading, None);
    assert_eq!(r.duration_reading, Some(DurationReading::ExcludesPauses));
}

#[test]
fn paused_chunk_including_its_pauses_but_starting_late_keeps_its_gap() {
    // Chunk 0 includes its pauses, but chunk 1 (and 2) start 2000 ms after it ends under
    // that reading: the timeline's finding stands.
    let c = copy("paused");
    paused_with_durations_including_pauses(&c, &[0]);
    for idx in [1, 2] {
        c.edit_meta(idx, |m| {
            m["chunkStartTime"] = shift(&m["chunkStartTime"], 2000);
            for p in m["pauseResumeIntervals"].as_array_mut().unwrap() {
                p["startTime"] = shift(&p["startTime"], 2000);
            }
        });
    }
    let r = c.check();
    only(&r, Code::DurationIncludesPauses);
    assert_eq!(r.with_code(Code::TimelineIncludesPauses).count(), 0);
    // Under callrec's model chunk 0 ends at +19000, chunk 1 starts at +14000.
    let o = only(&r, Code::TimelineOverlap);
    assert_eq!(o.chunk.as_ref().unwrap().index, 1);
    assert_eq!(o.actual, Some(json!({ "ms": 5000.0 })));
}

#[test]
fn mismatch_gives_exactly_its_five_findings_on_chunk_1() {
    let r = check_dir(&recording("mismatch"));
    assert_eq!(
        codes(&r),
        [
            ("video.resolution", Some(1)),
            ("video.frame_rate", Some(1)),
            ("audio.sample_rate", Some(1)),
            ("audio.channels", Some(1)),
            // the first difference stitch refuses it for, by the same rule
            ("chunk.tracks_differ", Some(1)),
        ]
    );
    let differ = r.with_code(Code::ChunkTracksDiffer).next().unwrap();
    assert_eq!(
        differ.message,
        "audio sample rate 48000 Hz differs from chunk 0's 16000 Hz: the chunks cannot be stitched"
    );
    let doc = &chunks(&recording("mismatch"))[1].1;
    assert!(r
        .findings
        .iter()
        .all(|f| &f.chunk.as_ref().unwrap().document_id == doc));
    assert_eq!(r.errors, 5);
    let table = r.to_string();
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 6, "{table}");
    assert!(lines[0].starts_with("error    video.resolution"), "{table}");
    assert!(lines[0].contains(" 1  picture is 1280x720"), "{table}");
    assert_eq!(
        lines[5],
        "3 chunks, 15.000 s of media: 5 errors, 0 warnings, 0 info"
    );
    let v: Value = serde_json::from_str(&r.to_json()).unwrap();
    assert_eq!(v["findings"][0]["code"], "video.resolution");
    assert_eq!(v["findings"][0]["severity"], "error");
    assert_eq!(v["findings"][2]["expected"], 16000);
    assert_eq!(v["findings"][2]["actual"], 48000);
}

#[test]
fn missing_chunk_is_reported_and_the_others_still_checked() {
    let dir = testdata().join("recordings-bad/missing_chunk");
    let r = check_dir(&dir);
    assert_eq!(
        codes(&r),
        [("timeline.gap", Some(2)), ("chunk.absent", Some(1))],
        "{:#?}",
        r.findings
    );
    // The wall-clock hole the absent chunk leaves is information, not another warning.
    assert_eq!(r.findings[0].severity, Severity::Info);
    assert_eq!(r.findings[0].actual, Some(json!({ "ms": 4000.0 })));
    assert_eq!((r.errors, r.warnings), (1, 0));
    assert_eq!(r.chunks.len(), 3);
    assert!(r.chunks[1].media.is_none());
    for k in [0, 2] {
        let m = r.chunks[k].media.as_ref().expect("measured");
        assert_eq!(m.video.as_ref().unwrap().width, Some(1920));
        assert!(m.audio.as_ref().unwrap().decode.is_some());
    }
}

#[test]
fn chunk_file_that_cannot_be_read_is_a_finding_and_the_others_still_checked() {
    let dir = recording("basic");
    let rec = Recording::load(&dir).unwrap();
    let files: Vec<Vec<u8>> = rec
        .chunks
        .iter()
        .map(|c| std::fs::read(c.media_path.as_ref().unwrap()).unwrap())
        .collect();
    let why = "permission denied (os error 13)";
    let media = [
        ChunkFile::Bytes(&files[0]),
        ChunkFile::Unreadable(why),
        ChunkFile::Bytes(&files[2]),
    ];
    let r = check_files(&rec, &media, &Options::default());
    assert_eq!(
        codes(&r),
        [("file.unreadable", Some(1))],
        "{:#?}",
        r.findings
    );
    let f = &r.findings[0];
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(
        f.chunk.as_ref().unwrap().document_id,
        rec.chunks[1].document_id
    );
    assert!(
        f.message.contains(&rec.chunks[1].document_id),
        "{}",
        f.message
    );
    assert!(f.message.contains(why), "{}", f.message);
    assert!(r.chunks[1].media.is_none());
    assert!(r.chunks[0].media.is_some() && r.chunks[2].media.is_some());
    // check() is check_files() with Absent for None.
    let plain: Vec<Option<&[u8]>> = files.iter().map(|f| Some(f.as_slice())).collect();
    assert_eq!(check(&rec, &plain, &Options::default()).findings, []);
}

#[test]
fn recording_without_any_media_sums_to_zero_not_negative_zero() {
    let c = copy("basic");
    for k in 0..3 {
        std::fs::remove_file(c.mp4(k)).unwrap();
    }
    let r = c.check();
    assert_eq!(
        r.with_code(Code::FileMissing).count(),
        3,
        "{:#?}",
        r.findings
    );
    assert!(r.media_duration_ms.is_sign_positive());
    assert!(
        r.summary().starts_with("3 chunks, 0.000 s of media"),
        "{}",
        r.summary()
    );
}

#[test]
fn media_file_absent_but_metadata_present_is_file_missing() {
    let c = copy("basic");
    std::fs::remove_file(c.mp4(2)).unwrap();
    let r = c.check();
    assert_eq!(codes(&r), [("file.missing", Some(2))], "{:#?}", r.findings);
}

#[test]
fn truncated_chunk_is_reported_and_the_others_still_checked() {
    for name in ["faststart", "basic"] {
        let c = copy(name);
        let p = c.mp4(1);
        let data = std::fs::read(&p).unwrap();
        std::fs::write(&p, &data[..data.len() * 3 / 4]).unwrap();
        let r = c.check();
        let f = &r.findings;
        assert_eq!(f.len(), 1, "{name}: {f:#?}");
        // moov first or last (then the moov is gone), it is a truncated download.
        assert_eq!(f[0].code, Code::Mp4Truncated, "{name}: {f:#?}");
        assert!(f[0].message.contains("mdat"), "{name}: {}", f[0].message);
        assert_eq!(f[0].chunk.as_ref().unwrap().index, 1);
        assert!(r.chunks[0].media.is_some() && r.chunks[2].media.is_some());
    }
}

#[test]
fn empty_and_html_downloads_are_reported_per_chunk() {
    let c = copy("paused");
    std::fs::write(c.mp4(0), b"").unwrap();
    std::fs::write(
        c.mp4(2),
        b"<!DOCTYPE html><html><body><h1>Service Unavailable</h1></body></html>",
    )
    .unwrap();
    let r = c.check();
    assert_eq!(
        codes(&r),
        [("file.empty", Some(0)), ("file.not_mp4", Some(2))],
        "{:#?}",
        r.findings
    );
    assert!(r.chunks[1].media.is_some());
}

#[test]
fn wrong_chunk_duration_is_caught() {
    let c = copy("basic");
    // Chunk 2 (the last, so the wall clock stays continuous) says 6500 ms; the media has 6000.
    c.edit_meta(2, |m| m["chunkDuration"] = json!(6500));
    let r = c.check();
    let f = only(&r, Code::DurationChunk);
    assert_eq!(f.chunk.as_ref().unwrap().index, 2);
    assert_eq!(f.expected, Some(json!(6500.0)));
    assert_eq!(f.actual, Some(json!(6000.0)));
    // The metadata no longer adds up to recordingDurationMs either; the media still does.
    only(&r, Code::DurationMetadataTotal);
    assert_eq!(r.with_code(Code::DurationTotal).count(), 0);
    assert_eq!(r.errors, 2, "{:#?}", r.findings);
}

#[test]
fn wrong_recording_duration_is_reported_once() {
    for name in ["fragmented", "basic"] {
        let c = copy(name);
        c.edit_event(|d| d["recordingDurationMs"] = json!(16000));
        let r = c.check();
        // Media and chunkDuration both add up to 15000: one finding, not two.
        assert_eq!(
            codes(&r),
            [("duration.total", None)],
            "{name}: {:#?}",
            r.findings
        );
        let f = only(&r, Code::DurationTotal);
        assert_eq!(f.expected, Some(json!(16000.0)));
        let got = f.actual.as_ref().and_then(Value::as_f64).unwrap();
        assert!((got - 15000.0).abs() < 1.0, "{name}: {got}");
        assert!(f.chunk.is_none());
        assert!(f.message.contains("chunkDuration"), "{}", f.message);
        assert_eq!(r.errors, 1);
    }
}

#[test]
fn wrong_recording_duration_with_an_unmeasured_chunk_is_the_metadata_total() {
    let c = copy("basic");
    c.edit_event(|d| d["recordingDurationMs"] = json!(16000));
    std::fs::remove_file(c.mp4(1)).unwrap();
    let r = c.check();
    assert_eq!(
        codes(&r),
        [("duration.metadata_total", None), ("file.missing", Some(1))],
        "{:#?}",
        r.findings
    );
}

#[test]
fn chunk_index_u32_max_is_a_missing_range_not_a_list() {
    let c = copy("basic");
    c.edit_event(|d| d["recordingStorageInfo"]["recordingChunks"][2]["index"] = json!(u32::MAX));
    let r = c.check();
    let f = only(&r, Code::ChunkIndexMissing);
    assert_eq!(
        f.actual,
        Some(json!({ "first": 2, "last": u32::MAX - 1, "count": u32::MAX - 2 }))
    );
    // The JSON report stays small.
    assert!(r.to_json().len() < 100_000);
    // The chunk still checked: its media is measured.
    assert_eq!(r.chunks.len(), 3);
    assert!(
        r.chunks.iter().all(|c| c.media.is_some()),
        "{:#?}",
        r.chunks
    );
}

#[test]
fn overlapping_chunk_times_are_caught_with_their_size() {
    let c = copy("basic");
    c.edit_meta(2, |m| {
        m["chunkStartTime"] = shift(&m["chunkStartTime"], -1500)
    });
    let r = c.check();
    let f = only(&r, Code::TimelineOverlap);
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(f.chunk.as_ref().unwrap().index, 2);
    assert_eq!(f.actual, Some(json!({ "ms": 1500.0 })));
    assert_eq!(r.findings.len(), 1, "{:#?}", r.findings);
}

#[test]
fn gap_between_chunks_is_a_warning_with_its_size() {
    let c = copy("paused");
    c.edit_meta(1, |m| {
        m["chunkStartTime"] = shift(&m["chunkStartTime"], 2000);
        for p in m["pauseResumeIntervals"].as_array_mut().unwrap() {
            p["startTime"] = shift(&p["startTime"], 2000);
        }
    });
    c.edit_meta(2, |m| {
        m["chunkStartTime"] = shift(&m["chunkStartTime"], 2000)
    });
    let r = c.check();
    let f = only(&r, Code::TimelineGap);
    assert_eq!(f.severity, Severity::Warning);
    assert_eq!(f.chunk.as_ref().unwrap().index, 1);
    assert_eq!(f.actual, Some(json!({ "ms": 2000.0 })));
    assert_eq!(r.findings.len(), 1, "{:#?}", r.findings);
}

#[test]
fn pause_outside_its_chunk_is_caught() {
    let c = copy("paused");
    // Chunk 2 has no pause; add one that starts 3 s after its 6 s of media end.
    c.edit_meta(2, |m| {
        let start = shift(&m["chunkStartTime"], 9000);
        m["pauseResumeIntervals"] = json!([{ "startTime": start, "duration": 1000 }]);
    });
    let r = c.check();
    let f = only(&r, Code::TimelinePauseOutside);
    assert_eq!(f.chunk.as_ref().unwrap().index, 2);
    assert_eq!(f.severity, Severity::Error);
    assert!(
        f.message.contains("pauseResumeIntervals[0]"),
        "{}",
        f.message
    );
}

#[test]
fn overlapping_pauses_are_caught() {
    let c = copy("paused");
    // Chunk 1's second pause moved to start inside its first.
    c.edit_meta(1, |m| {
        let first = m["pauseResumeIntervals"][0]["startTime"].clone();
        m["pauseResumeIntervals"][1]["startTime"] = shift(&first, 500);
    });
    let r = c.check();
    assert!(
        r.with_code(Code::TimelinePauseOverlap).count() >= 1,
        "{:#?}",
        r.findings
    );
    assert!(r
        .with_code(Code::TimelinePauseOverlap)
        .all(|f| f.chunk.as_ref().unwrap().index == 1));
}

#[test]
fn wrong_call_id_is_caught() {
    let c = copy("bframes");
    c.edit_meta(1, |m| {
        m["callId"] = json!("00000000-0000-0000-0000-000000000000")
    });
    let r = c.check();
    let f = only(&r, Code::MetadataCallId);
    assert_eq!(f.chunk.as_ref().unwrap().index, 1);
    assert_eq!(
        f.actual,
        Some(json!("00000000-0000-0000-0000-000000000000"))
    );
    assert_eq!(r.findings.len(), 1, "{:#?}", r.findings);
}

#[test]
fn event_listing_an_absent_chunk_is_caught() {
    let c = copy("faststart");
    c.edit_event(|d| {
        let chunks = d["recordingStorageInfo"]["recordingChunks"].as_array_mut().unwrap();
        chunks.push(json!({ "documentId": "0-eus-d3-ffffffffffffffffffffffffffffffff", "index": 3, "endReason": "SessionEnded" }));
    });
    let r = c.check();
    let f = only(&r, Code::ChunkAbsent);
    assert_eq!(
        f.chunk.as_ref().unwrap().document_id,
        "0-eus-d3-ffffffffffffffffffffffffffffffff"
    );
    assert_eq!(f.chunk.as_ref().unwrap().index, 3);
    // The three real chunks are still measured.
    assert_eq!(r.chunks.iter().filter(|c| c.media.is_some()).count(), 3);
}

#[test]
fn metadata_the_event_does_not_list_is_caught() {
    let c = copy("basic");
    c.edit_event(|d| {
        d["recordingStorageInfo"]["recordingChunks"]
            .as_array_mut()
            .unwrap()
            .pop();
    });
    let r = c.check();
    let f = only(&r, Code::MetadataUnlisted);
    assert_eq!(f.chunk.as_ref().unwrap().index, 2);
    assert_eq!(f.chunk.as_ref().unwrap().document_id, c.doc(2));
}

#[test]
fn index_disagreement_between_event_and_metadata_is_caught() {
    let c = copy("basic");
    c.edit_meta(1, |m| m["chunkIndex"] = json!(7));
    let r = c.check();
    let f = only(&r, Code::MetadataIndex);
    assert_eq!(f.expected, Some(json!(1)));
    assert_eq!(f.actual, Some(json!(7)));
}

#[test]
fn invalid_metadata_is_caught_and_the_media_still_checked() {
    let c = copy("basic");
    c.edit_meta(0, |m| {
        m["recordingInfo"]["videoConfiguration"]["framerate"] = json!("eight")
    });
    let r = c.check();
    let f = only(&r, Code::MetadataInvalid);
    assert_eq!(f.chunk.as_ref().unwrap().index, 0);
    assert!(
        f.actual
            .as_ref()
            .unwrap()
            .as_str()
            .unwrap()
            .contains("framerate"),
        "{f:?}"
    );
    // Without metadata there is nothing to compare with, but the file is still inspected.
    assert!(r.chunks[0].media.is_some());
}

#[test]
fn document_id_disagreement_is_caught() {
    let c = copy("basic");
    c.edit_meta(1, |m| {
        m["chunkDocumentId"] = json!("0-eus-d3-not-this-chunk")
    });
    let r = c.check();
    let f = only(&r, Code::MetadataDocumentId);
    assert_eq!(f.chunk.as_ref().unwrap().index, 1);
    assert_eq!(f.actual, Some(json!("0-eus-d3-not-this-chunk")));
}

#[test]
fn duplicate_and_missing_indices_are_caught() {
    let c = copy("basic");
    // The event gives chunk 2 the index 1: index 1 twice, index 2 never.
    c.edit_event(|d| d["recordingStorageInfo"]["recordingChunks"][2]["index"] = json!(1));
    let r = c.check();
    let f = only(&r, Code::ChunkIndexDuplicate);
    assert_eq!(f.severity, Severity::Error);
    assert!(f.message.contains("index 1"), "{}", f.message);
    // Every chunk's media is still checked.
    assert_eq!(r.chunks.iter().filter(|c| c.media.is_some()).count(), 3);
}

#[test]
fn recording_without_event_is_a_warning_and_still_checked() {
    let c = copy("basic");
    std::fs::remove_file(c.dir.join("event.json")).unwrap();
    let r = c.check();
    let f = only(&r, Code::EventMissing);
    assert_eq!(f.severity, Severity::Warning);
    assert_eq!((r.errors, r.warnings), (0, 1), "{:#?}", r.findings);
    assert_eq!(r.chunks.len(), 3);
}

#[test]
fn audio_only_metadata_expects_no_video() {
    let c = copy("mismatch");
    c.edit_meta(1, |m| m["recordingInfo"]["channelType"] = json!("Audio"));
    let r = c.check();
    assert_eq!(
        codes(&r),
        [
            ("track.unexpected", Some(1)),
            ("audio.sample_rate", Some(1)),
            ("audio.channels", Some(1)),
            ("chunk.tracks_differ", Some(1)),
        ],
        "{:#?}",
        r.findings
    );
    assert_eq!(r.findings[0].severity, Severity::Warning);
}

#[test]
fn wav_chunks_are_skipped_with_a_warning() {
    let c = copy("basic");
    c.edit_meta(0, |m| m["recordingInfo"]["format"] = json!("wav"));
    let r = c.check();
    assert_eq!(
        codes(&r),
        [("format.unsupported", Some(0))],
        "{:#?}",
        r.findings
    );
    assert!(r.chunks[0].media.is_none());
    assert!(r.chunks[1].media.is_some() && r.chunks[2].media.is_some());
}

#[test]
fn two_byte_identical_chunks_are_a_duplicate_warning() {
    let c = copy("basic");
    let (d0, d1) = (c.doc(0), c.doc(1));
    std::fs::copy(
        c.dir.join(format!("{d0}.mp4")),
        c.dir.join(format!("{d1}.mp4")),
    )
    .unwrap();
    let r = check_dir(&c.dir);
    let f = only(&r, Code::ChunkDuplicate);
    assert_eq!(f.severity, Severity::Warning);
    assert_eq!(f.chunk.as_ref().unwrap().index, 1);
    assert_eq!(f.chunk.as_ref().unwrap().document_id, d1);
    let a = f.actual.as_ref().unwrap();
    assert_eq!(a["same_as_chunk"], 0);
    let len = std::fs::metadata(c.dir.join(format!("{d0}.mp4")))
        .unwrap()
        .len();
    assert_eq!(a["bytes"], len);
    assert_eq!(a["sha256"].as_str().unwrap().len(), 64);
    // The fixtures' distinct chunks are not duplicates.
    assert_eq!(
        check_dir(&recording("basic"))
            .with_code(Code::ChunkDuplicate)
            .count(),
        0
    );
}

#[test]
fn a_document_id_with_a_path_is_an_invalid_document_id_naming_the_field() {
    let c = copy("basic");
    c.edit_event(|d| {
        d["recordingStorageInfo"]["recordingChunks"][1]["documentId"] = json!("../victim/X")
    });
    let r = c.check();
    let f = only(&r, Code::EventInvalidDocumentId);
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(f.chunk.as_ref().unwrap().index, 1);
    assert_eq!(
        f.actual,
        Some(json!({
            "field": "data.recordingStorageInfo.recordingChunks[1].documentId",
            "document_id": "../victim/X"
        }))
    );
    assert_eq!(
        r.with_code(Code::ChunkAbsent).count(),
        0,
        "{:#?}",
        r.findings
    );
    assert_eq!(
        r.with_code(Code::FileMissing).count(),
        0,
        "{:#?}",
        r.findings
    );
}
