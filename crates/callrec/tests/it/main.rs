//! Integration tests of the facade on the fixture recordings.

mod outputs;
mod robustness;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use callrec::{Error, Problem, Recording, Severity, StitchOptions};
use callrec_mp4::{Movie, TrackKind};

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata")
}

const CLEAN: [&str; 9] = [
    "basic",
    "bframes",
    "paused",
    "fragmented",
    "faststart",
    "fragmented_bframes",
    "mixed_timescale",
    "paused_bframes",
    "empty_edit",
];

/// Every file of a directory with its bytes, to show inputs are never modified.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            let bytes = fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect()
}

/// The presented duration of a track in ms, from its edit list (movie timescale).
fn presented_ms(movie: &Movie, kind: TrackKind) -> f64 {
    let track = movie.track(kind).unwrap();
    let ticks: u64 = track.edits.iter().map(|e| e.segment_duration).sum();
    ticks as f64 * 1000.0 / f64::from(movie.timescale.get())
}

#[test]
fn clean_recordings_check_clean_and_stitch_to_their_media_duration() {
    let out = tempfile::tempdir().unwrap();
    for name in CLEAN {
        let dir = testdata().join("recordings").join(name);
        let before = snapshot(&dir);
        let rec = Recording::open(&dir).unwrap();
        assert!(rec.problems().is_empty(), "{name}: {:?}", rec.problems());
        let report = rec.check().unwrap();
        assert!(!report.has_errors(), "{name}: {}", report.to_json());

        let media_ms = rec.timeline().media_total().as_millis_f64();
        let target = out.path().join(format!("{name}.mp4"));
        let timeline_json = out.path().join(format!("{name}.timeline.json"));
        let stitched = rec
            .stitch(&StitchOptions::new(&target).timeline(&timeline_json))
            .unwrap();
        assert_eq!(stitched.chunks, rec.chunks().len());
        assert_eq!(stitched.bytes, fs::metadata(&target).unwrap().len());
        let data = fs::read(&target).unwrap();
        let movie = Movie::parse(&data).unwrap();
        // Every audio frame kept: each join adds the chunk's end padding and the next chunk's
        // priming (under 200 ms), the video waits for it.
        let joins = rec.chunks().len() as f64 - 1.0;
        for kind in [TrackKind::Video, TrackKind::Audio] {
            let ms = presented_ms(&movie, kind);
            assert!(
                ms >= media_ms - 1.0 && ms <= media_ms + 200.0 * joins,
                "{name} {kind:?}: {ms} ms vs metadata {media_ms} ms"
            );
        }
        // Trimmed joins: the chunk starts are the sums of the metadata's chunk durations,
        // within half an AAC frame.
        let trimmed = rec
            .stitch(&StitchOptions::new(&target).trim_joins(true))
            .unwrap();
        let mut expected_start = 0.0;
        for (placement, chunk) in trimmed.placements.iter().zip(rec.chunks()) {
            assert_eq!(placement.index, chunk.index);
            let start_ms = placement.origin_us as f64 / 1000.0;
            assert!(
                (start_ms - expected_start).abs() <= 33.0,
                "{name} chunk {}: starts at {start_ms} ms, not {expected_start}",
                chunk.index
            );
            expected_start += chunk
                .metadata
                .as_ref()
                .unwrap()
                .chunk_duration
                .as_millis_f64();
        }
        let timeline: serde_json::Value =
            serde_json::from_slice(&fs::read(&timeline_json).unwrap()).unwrap();
        assert_eq!(
            timeline["media_ms"].as_f64().unwrap().round(),
            media_ms.round()
        );
        // The timeline JSON says where each chunk starts in the (lossless) output.
        let chunks = timeline["output"]["chunks"].as_array().unwrap();
        assert_eq!(chunks.len(), stitched.placements.len());
        for (c, p) in chunks.iter().zip(&stitched.placements) {
            for (key, us) in [("start_ms", p.origin_us), ("first_media_ms", p.start_us)] {
                let ms = c[key].as_f64().unwrap();
                assert!((ms - us as f64 / 1000.0).abs() < 0.001, "{name} {key}: {c}");
            }
        }
        assert_eq!(timeline["output"]["mode"], "compact");
        assert_eq!(snapshot(&dir), before, "{name}: an input changed");
    }
}

#[test]
fn wall_clock_stitch_of_the_paused_recording_spans_the_wall_clock() {
    let dir = testdata().join("recordings/paused");
    let rec = Recording::open(&dir).unwrap();
    let timeline = rec.timeline();
    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("wall.mp4");
    let stitched = rec
        .stitch(&StitchOptions::new(&target).wall_clock(true))
        .unwrap();
    let wall_ms = timeline.wall_total().as_millis_f64();
    // One video frame at 8 fps.
    assert!(
        (stitched.duration_ms as f64 - wall_ms).abs() <= 125.0,
        "{} vs {wall_ms}",
        stitched.duration_ms
    );
    assert!(
        stitched.duration_ms > 15_000 + 11_000,
        "pauses are present: {}",
        stitched.duration_ms
    );
    let movie = Movie::parse(&fs::read(&target).unwrap()).unwrap();
    for kind in [TrackKind::Video, TrackKind::Audio] {
        let track = movie.track(kind).unwrap();
        // Pauses are timestamp gaps in the media (players honour those; ffmpeg ignores empty
        // edits after the first), so only a leading empty edit may exist.
        let empty = track
            .edits
            .iter()
            .skip(1)
            .filter(|e| e.media_time.is_none())
            .count();
        assert_eq!(empty, 0, "{kind:?}: {:?}", track.edits);
        let ts = f64::from(track.timescale.get());
        let longest_step = track
            .samples
            .windows(2)
            .map(|w| (w[1].dts - w[0].dts) as f64 / ts)
            .fold(0.0, f64::max);
        if kind == TrackKind::Video {
            assert!(
                (longest_step - 7.0).abs() < 0.2,
                "the frame before the 7 s pause is held: {longest_step}"
            );
        } else {
            // Silent frames fill the pause: a player that decodes every audio frame back to
            // back hears it.
            assert!(
                longest_step < 0.1,
                "audio frames back to back: {longest_step}"
            );
        }
        assert!((presented_ms(&movie, kind) - wall_ms).abs() <= 125.0);
    }
    // Each chunk starts where the wall clock says, counted from recordingStartTime.
    let start = rec.meta().event.as_ref().unwrap().data.recording_start_time;
    for (placement, chunk) in stitched.placements.iter().zip(rec.chunks()) {
        let meta = chunk.metadata.as_ref().unwrap();
        let wall_ms = (meta.chunk_start_time - start).num_microseconds().unwrap() as f64 / 1000.0;
        let at_ms = placement.start_us as f64 / 1000.0;
        assert!(
            (at_ms - wall_ms).abs() <= 125.0,
            "chunk {}: at {at_ms} ms, wall clock {wall_ms} ms",
            chunk.index
        );
    }
}

#[test]
fn a_recording_with_a_missing_chunk_is_refused_and_nothing_is_written() {
    let dir = testdata().join("recordings-bad/missing_chunk");
    let rec = Recording::open(&dir).unwrap();
    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("out.mp4");
    let err = rec.stitch(&StitchOptions::new(&target)).unwrap_err();
    assert!(matches!(err, Error::NotStitchable { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("chunk 1"), "{msg}");
    assert!(!target.exists());
    assert_eq!(
        fs::read_dir(out.path()).unwrap().count(),
        0,
        "no temporary file left"
    );
    // The check still reports on the chunks that are there.
    let report = rec.check().unwrap();
    assert!(report.has_errors());
}

#[test]
fn the_mismatch_recording_is_refused_naming_chunk_and_parameter() {
    let dir = testdata().join("recordings/mismatch");
    let rec = Recording::open(&dir).unwrap();
    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("out.mp4");
    let err = rec.stitch(&StitchOptions::new(&target)).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::Stitch(_)), "{msg}");
    assert!(msg.contains("chunk 1"), "{msg}");
    assert!(
        msg.contains("sample rate") || msg.contains("channel") || msg.contains("timescale"),
        "{msg}"
    );
    assert!(!target.exists());
    assert_eq!(
        fs::read_dir(out.path()).unwrap().count(),
        0,
        "no temporary file left"
    );
}

#[test]
fn a_directory_that_is_not_a_recording_is_an_error_naming_it() {
    let empty = tempfile::tempdir().unwrap();
    let err = Recording::open(empty.path()).unwrap_err();
    assert!(
        err.to_string()
            .contains(&empty.path().display().to_string()),
        "{err}"
    );
}

#[test]
fn write_atomic_replaces_the_whole_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.json");
    callrec::write_atomic(&path, b"first, longer content").unwrap();
    callrec::write_atomic(&path, b"second").unwrap();
    assert_eq!(fs::read(&path).unwrap(), b"second");
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    let err = callrec::write_atomic(&dir.path().join("no/such/dir/x"), b"x").unwrap_err();
    assert!(err.to_string().contains("no/such/dir"), "{err}");
}

#[cfg(unix)]
#[test]
fn write_atomic_leaves_a_file_others_can_read() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("timeline.json");
    callrec::write_atomic(&path, b"{}").unwrap();
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    // The same mode as any file created here (0644 under the usual umask), not tempfile's 0600.
    let plain = dir.path().join("plain");
    fs::write(&plain, b"").unwrap();
    assert_eq!(mode(&path), mode(&plain) & 0o644);
}

#[test]
fn a_chunk_that_does_not_parse_is_refused_naming_chunk_file_and_box() {
    let src = testdata().join("recordings/basic");
    let dir = tempfile::tempdir().unwrap();
    for entry in fs::read_dir(&src).unwrap() {
        let p = entry.unwrap().path();
        fs::copy(&p, dir.path().join(p.file_name().unwrap())).unwrap();
    }
    let rec = Recording::open(dir.path()).unwrap();
    let victim = rec.chunks()[1].media_path.clone().unwrap();
    drop(rec);
    fs::copy(testdata().join("corrupt/truncated_moov.mp4"), &victim).unwrap();
    let rec = Recording::open(dir.path()).unwrap();
    let out = dir.path().join("out.mp4");
    let err = rec.stitch(&StitchOptions::new(&out)).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::Parse { index: 1, .. }), "{msg}");
    assert!(msg.contains("chunk 1") && msg.contains("moov"), "{msg}");
    assert!(msg.contains(&victim.display().to_string()), "{msg}");
    assert!(!out.exists());
}

/// Copies a fixture recording into a temporary directory.
fn copy_fixture(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in fs::read_dir(testdata().join("recordings").join(name)).unwrap() {
        let p = entry.unwrap().path();
        fs::copy(&p, dir.path().join(p.file_name().unwrap())).unwrap();
    }
    dir
}

#[test]
fn without_event_json_chunks_are_stitched_in_chunk_index_order() {
    let out = tempfile::tempdir().unwrap();
    let with_event = out.path().join("with.mp4");
    Recording::open(testdata().join("recordings/basic"))
        .unwrap()
        .stitch(&StitchOptions::new(&with_event))
        .unwrap();
    let dir = copy_fixture("basic");
    fs::remove_file(dir.path().join("event.json")).unwrap();
    let rec = Recording::open(dir.path()).unwrap();
    assert!(rec.problems().iter().any(|p| p.code() == "event_absent"));
    let without = out.path().join("without.mp4");
    rec.stitch(&StitchOptions::new(&without)).unwrap();
    assert_eq!(fs::read(&without).unwrap(), fs::read(&with_event).unwrap());
}

#[test]
fn an_earlier_output_in_the_recording_directory_does_not_block_the_next_stitch() {
    let dir = copy_fixture("paused");
    let target = dir.path().join("stitched.mp4");
    let first = Recording::open(dir.path())
        .unwrap()
        .stitch(&StitchOptions::new(&target))
        .unwrap();
    let rec = Recording::open(dir.path()).unwrap();
    assert!(rec
        .problems()
        .iter()
        .any(|p| p.code() == "media_not_listed"));
    assert_eq!(rec.chunks().len(), 3, "the stray file is not a chunk");
    let again = rec.stitch(&StitchOptions::new(&target)).unwrap();
    assert_eq!(again.bytes, first.bytes);
}

#[test]
fn disagreeing_durations_are_checked_not_refused() {
    let dir = copy_fixture("basic");
    let event = dir.path().join("event.json");
    let text = fs::read_to_string(&event).unwrap();
    fs::write(
        &event,
        text.replace(
            "\"recordingDurationMs\": 15000",
            "\"recordingDurationMs\": 26750",
        ),
    )
    .unwrap();
    let rec = Recording::open(dir.path()).unwrap();
    assert!(rec
        .problems()
        .iter()
        .any(|p| p.code() == "duration_mismatch"));
    let out = dir.path().join("out.mp4");
    let d = rec
        .stitch(&StitchOptions::new(&out).trim_joins(true))
        .unwrap()
        .duration_ms;
    assert!(d.abs_diff(15_000) <= 33, "{d}");
}

#[test]
fn wall_clock_stitch_needs_every_chunks_metadata() {
    let dir = copy_fixture("paused");
    let rec = Recording::open(dir.path()).unwrap();
    let meta = rec.chunks()[1].metadata_path.clone().unwrap();
    drop(rec);
    fs::remove_file(&meta).unwrap();
    let rec = Recording::open(dir.path()).unwrap();
    let out = dir.path().join("out.mp4");
    let err = rec
        .stitch(&StitchOptions::new(&out).wall_clock(true))
        .unwrap_err();
    assert!(err.to_string().contains("chunk 1"), "{err}");
    assert!(!out.exists());
    // Compact mode does not need it.
    rec.stitch(&StitchOptions::new(&out)).unwrap();
}

#[test]
fn archive_name_cannot_escape_the_archive() {
    let dir = copy_fixture("basic");
    for entry in fs::read_dir(dir.path()).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "json") {
            let text = fs::read_to_string(&p).unwrap();
            fs::write(
                &p,
                text.replace("22884701-5bc3-af52-7874-0cccfc13c65d", "../../etc"),
            )
            .unwrap();
        }
    }
    let rec = Recording::open(dir.path()).unwrap();
    assert_eq!(rec.call_id(), Some("../../etc"));
    let name = rec.archive_name();
    assert_eq!(name, "_.._.._etc");
    assert_eq!(Path::new(&name).components().count(), 1);
}

#[test]
fn a_chunk_with_a_structural_defect_is_refused_before_planning_and_checked_as_an_error() {
    let dir = testdata().join("corrupt/structure");
    let text = fs::read_to_string(dir.join("expected.json")).unwrap();
    let expected: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&text).unwrap();
    assert_eq!(expected.len(), 18);
    for (name, want) in &expected {
        let rec_dir = copy_fixture(want["recording"].as_str().unwrap());
        let rec = Recording::open(rec_dir.path()).unwrap();
        let victim = rec.chunks()[0].media_path.clone().unwrap();
        drop(rec);
        fs::copy(dir.join(name), &victim).unwrap();
        let rec = Recording::open(rec_dir.path()).unwrap();
        let out = rec_dir.path().join("out.mp4");
        let err = rec.stitch(&StitchOptions::new(&out)).unwrap_err();
        let msg = err.to_string();
        match &err {
            Error::Structure {
                index: 0, defect, ..
            } => {
                assert_eq!(defect.kind.code(), want["code"], "{name}: {msg}");
                assert_eq!(defect.path, want["path"].as_str().unwrap(), "{name}: {msg}");
                assert_eq!(defect.sample, want["sample"].as_u64(), "{name}: {msg}");
                assert_eq!(
                    defect.track_index,
                    want["track_index"].as_u64().map(|t| t as usize),
                    "{name}"
                );
            }
            other => panic!("{name}: expected Error::Structure, got {other:?}"),
        }
        assert!(
            msg.contains("chunk 0") && msg.contains(want["path"].as_str().unwrap()),
            "{msg}"
        );
        assert!(!out.exists(), "{name}");
        let report = rec.check().unwrap();
        let hit = report
            .findings
            .iter()
            .find(|f| f.code.as_str() == want["code"])
            .unwrap_or_else(|| panic!("{name}: {}", report.summary()));
        assert_eq!(hit.severity, Severity::Error);
        assert!(report.has_errors());
    }
}

/// Rewrites `event.json` in `dir`: `edit` gets the recordingChunks array.
fn edit_event(dir: &Path, edit: impl FnOnce(&mut Vec<serde_json::Value>)) {
    let p = dir.join("event.json");
    let mut v: serde_json::Value = serde_json::from_str(&fs::read_to_string(&p).unwrap()).unwrap();
    let chunks = v[0]["data"]["recordingStorageInfo"]["recordingChunks"]
        .as_array_mut()
        .unwrap();
    edit(chunks);
    fs::write(&p, serde_json::to_string_pretty(&v).unwrap()).unwrap();
}

#[test]
fn an_event_listing_one_document_id_twice_is_refused_and_checked_as_an_error() {
    let dir = copy_fixture("basic");
    let mut first = String::new();
    edit_event(dir.path(), |c| {
        first = c[0]["documentId"].as_str().unwrap().to_string();
        c[1]["documentId"] = c[0]["documentId"].clone();
    });
    let rec = Recording::open(dir.path()).unwrap();
    let out = dir.path().join("out.mp4");
    let err = rec.stitch(&StitchOptions::new(&out)).unwrap_err();
    match &err {
        Error::NotStitchable { problem, .. } => match problem.as_ref() {
            Problem::DuplicateDocumentId {
                document_id,
                indices,
            } => {
                assert_eq!(document_id, &first);
                assert_eq!(indices, &[0, 1]);
            }
            other => panic!("expected DuplicateDocumentId, got {other:?}"),
        },
        other => panic!("expected NotStitchable, got {other:?}"),
    }
    assert!(!out.exists());
    let report = rec.check().unwrap();
    let codes: Vec<&str> = report.findings.iter().map(|f| f.code.as_str()).collect();
    let dup = report
        .findings
        .iter()
        .find(|f| f.code.as_str() == "event.duplicate_document_id")
        .unwrap_or_else(|| panic!("{codes:?}"));
    assert_eq!(dup.severity, Severity::Error);
    assert!(
        report
            .findings
            .iter()
            .all(|f| !f.message.contains("is absent") && f.code.as_str() != "chunk.absent"),
        "{}",
        report.summary()
    );
}

#[test]
fn an_event_skipping_an_index_is_refused_and_checked_as_an_error() {
    let dir = copy_fixture("basic");
    edit_event(dir.path(), |c| {
        c[1]["documentId"] = c[0]["documentId"].clone();
        c[1]["index"] = serde_json::json!(2);
        c[2]["index"] = serde_json::json!(3);
    });
    let rec = Recording::open(dir.path()).unwrap();
    let out = dir.path().join("out.mp4");
    let err = rec.stitch(&StitchOptions::new(&out)).unwrap_err();
    assert!(matches!(&err, Error::NotStitchable { .. }), "{err}");
    assert!(
        rec.problems()
            .iter()
            .any(|p| matches!(p, Problem::MissingIndex { first: 1, last: 1 })),
        "{:?}",
        rec.problems()
    );
    assert!(!out.exists());
    let report = rec.check().unwrap();
    for code in ["chunk.index_missing", "event.duplicate_document_id"] {
        assert!(
            report
                .findings
                .iter()
                .any(|f| f.code.as_str() == code && f.severity == Severity::Error),
            "{code}: {}",
            report.summary()
        );
    }
}

#[test]
fn a_recording_duration_counting_wall_time_is_info_not_an_error() {
    let dir = copy_fixture("paused");
    let rec = Recording::open(dir.path()).unwrap();
    let layout = rec.timeline().chunk_layout().to_vec();
    let span = layout.last().unwrap().wall.end - layout[0].wall.start;
    let wall_ms = span.num_milliseconds();
    drop(rec);
    let p = dir.path().join("event.json");
    let mut v: serde_json::Value = serde_json::from_str(&fs::read_to_string(&p).unwrap()).unwrap();
    let media_ms = v["data"]["recordingDurationMs"].as_i64().unwrap();
    assert!(
        wall_ms > media_ms + 5000,
        "the paused fixture's pauses: {wall_ms} vs {media_ms}"
    );
    v["data"]["recordingDurationMs"] = serde_json::json!(wall_ms);
    fs::write(&p, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    let report = Recording::open(dir.path()).unwrap().check().unwrap();
    assert_eq!(report.count(Severity::Error), 0, "{}", report.summary());
    assert_eq!(report.count(Severity::Warning), 0, "{}", report.summary());
    let info = report
        .findings
        .iter()
        .find(|f| f.code.as_str() == "duration.total_wall_clock")
        .unwrap_or_else(|| panic!("{:#?}", report.findings));
    assert_eq!(info.severity, Severity::Info);
    // Neither reading fits: an error that cites both.
    v["data"]["recordingDurationMs"] = serde_json::json!(wall_ms + 60_000);
    fs::write(&p, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    let report = Recording::open(dir.path()).unwrap().check().unwrap();
    let err = report
        .findings
        .iter()
        .find(|f| f.code.as_str() == "duration.total")
        .unwrap_or_else(|| panic!("{:#?}", report.findings));
    assert_eq!(err.severity, Severity::Error);
    assert!(err.message.contains("wall-clock span"), "{}", err.message);
}

/// Chunk `i`'s media path in `rec`.
fn media_path(rec: &Recording, i: usize) -> PathBuf {
    rec.chunks()[i].media_path.clone().unwrap()
}

#[test]
fn a_chunk_that_shrinks_after_it_was_opened_is_file_changed_naming_the_chunk() {
    use callrec::crates::check::{check_lazy, ChunkMedia, Code, Options};
    for (recording, cut) in [("basic", 2.0 / 3.0), ("basic", 0.0), ("fragmented", 0.5)] {
        let dir = copy_fixture(recording);
        let rec = Recording::open(dir.path()).unwrap();
        // Each chunk is opened, then chunk 1 is cut short before a byte is read: the check
        // reads it with the length it had when opened.
        let mut open = |i: usize| {
            let reader = callrec::ChunkReader::open(&media_path(&rec, i)).unwrap();
            if i == 1 {
                let f = fs::OpenOptions::new()
                    .write(true)
                    .open(media_path(&rec, i))
                    .unwrap();
                f.set_len((reader_len(&reader) as f64 * cut) as u64)
                    .unwrap();
            }
            ChunkMedia::Source(Box::new(reader))
        };
        let report = check_lazy(rec.meta(), &mut open, &Options::default());
        let changed: Vec<_> = report.with_code(Code::FileChanged).collect();
        assert_eq!(changed.len(), 1, "{recording} cut {cut}: {report}");
        assert_eq!(changed[0].chunk.as_ref().unwrap().index, 1, "{report}");
        assert!(report.has_errors());
        // Chunks 0 and 2 are checked as usual.
        assert!(
            report
                .findings
                .iter()
                .all(|f| f.chunk.as_ref().is_none_or(|c| c.index == 1)),
            "{report}"
        );
    }
}

fn reader_len(r: &callrec::ChunkReader) -> u64 {
    use callrec::crates::mp4::Source;
    r.len()
}

#[test]
fn a_chunk_cut_short_after_its_header_was_read_names_the_sample_it_could_not_read() {
    use callrec::crates::check::{check_lazy, ChunkMedia, Code, Options};
    // faststart: the moov comes first, so the cut leaves it whole and a sample read fails.
    let dir = copy_fixture("faststart");
    let rec = Recording::open(dir.path()).unwrap();
    let path = media_path(&rec, 0);
    let movie = Movie::parse(&fs::read(&path).unwrap()).unwrap();
    let audio = movie.track(TrackKind::Audio).unwrap();
    let cut = audio.samples[audio.samples.len() / 2].offset + 1;
    let mut first = Some(callrec::ChunkReader::open(&path).unwrap());
    fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(cut)
        .unwrap();
    let mut open = |i: usize| {
        let r = match first.take() {
            Some(r) if i == 0 => r,
            _ => callrec::ChunkReader::open(&media_path(&rec, i)).unwrap(),
        };
        ChunkMedia::Source(Box::new(r))
    };
    let report = check_lazy(rec.meta(), &mut open, &Options::default());
    let changed: Vec<_> = report.with_code(Code::FileChanged).collect();
    assert_eq!(changed.len(), 1, "{report}");
    assert_eq!(changed[0].chunk.as_ref().unwrap().index, 0);
    assert!(changed[0].message.contains("sample"), "{report}");
}

#[test]
fn a_chunk_that_grows_after_it_was_opened_is_file_changed() {
    use callrec::crates::check::{check_lazy, ChunkMedia, Code, Options};
    let dir = copy_fixture("basic");
    let rec = Recording::open(dir.path()).unwrap();
    let mut open = |i: usize| {
        let reader = callrec::ChunkReader::open(&media_path(&rec, i)).unwrap();
        if i == 2 {
            use std::io::Write;
            let mut f = fs::OpenOptions::new()
                .append(true)
                .open(media_path(&rec, i))
                .unwrap();
            f.write_all(b"\0\0\0\x08free").unwrap();
        }
        ChunkMedia::Source(Box::new(reader))
    };
    let report = check_lazy(rec.meta(), &mut open, &Options::default());
    let changed: Vec<_> = report.with_code(Code::FileChanged).collect();
    assert_eq!(changed.len(), 1, "{report}");
    assert_eq!(changed[0].chunk.as_ref().unwrap().index, 2);
    assert!(changed[0].message.contains("bytes when opened"), "{report}");
}

#[test]
fn an_event_repeating_one_chunk_entry_is_one_duplicate_finding_not_missing_metadata() {
    let dir = copy_fixture("basic");
    let mut repeated = String::new();
    edit_event(dir.path(), |c| {
        repeated = c[1]["documentId"].as_str().unwrap().to_string();
        let entry = c[1].clone();
        c.push(entry);
    });
    let rec = Recording::open(dir.path()).unwrap();
    let report = rec.check().unwrap();
    let codes: Vec<&str> = report.findings.iter().map(|f| f.code.as_str()).collect();
    assert_eq!(codes, ["event.duplicate_document_id"], "{report}");
    let dup = &report.findings[0];
    assert_eq!(dup.severity, Severity::Error);
    assert!(dup.message.contains(&repeated), "{}", dup.message);
    // The repeat is not measured again: the media total is the three chunks'.
    assert!(
        (report.media_duration_ms - 15_000.0).abs() < 1.0,
        "{report}"
    );
    let out = dir.path().join("out.mp4");
    match rec.stitch(&StitchOptions::new(&out)).unwrap_err() {
        Error::NotStitchable { problem, .. } => assert!(
            matches!(problem.as_ref(), Problem::DuplicateDocumentId { document_id, .. } if *document_id == repeated),
            "{problem:?}"
        ),
        other => panic!("expected NotStitchable, got {other:?}"),
    }
    assert!(!out.exists());
}

#[test]
fn a_chunk_modified_during_the_copy_is_error_changed_and_no_output_is_left() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let dir = copy_fixture("basic");
    let rec = Recording::open(dir.path()).unwrap();
    let victim = media_path(&rec, 2);
    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("out.mp4");
    let touched = AtomicBool::new(false);
    // The first progress report comes after the header is written, before the samples are
    // copied: the chunk's modification time moves (its bytes stay the same length).
    let progress = |_: u64, _: u64| {
        if !touched.swap(true, Ordering::SeqCst) {
            let f = fs::OpenOptions::new().write(true).open(&victim).unwrap();
            f.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(60))
                .unwrap();
        }
    };
    let err = rec
        .stitch_with_progress(&StitchOptions::new(&target), &progress)
        .unwrap_err();
    assert!(touched.load(Ordering::SeqCst));
    match &err {
        Error::Changed { index: 2, path, .. } => assert_eq!(path, &victim),
        other => panic!("expected Error::Changed for chunk 2, got {other:?}"),
    }
    assert!(err.to_string().contains("modified"), "{err}");
    assert!(!target.exists());
    assert_eq!(
        fs::read_dir(out.path()).unwrap().count(),
        0,
        "no temporary left"
    );
}

/// Copies testdata recording `name` into a temporary directory, editing each chunk's metadata.
fn edited_copy(name: &str, edit: impl Fn(&mut serde_json::Value)) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    for entry in fs::read_dir(testdata().join("recordings").join(name)).unwrap() {
        let p = entry.unwrap().path();
        let to = tmp.path().join(p.file_name().unwrap());
        let file = p.file_name().unwrap().to_str().unwrap();
        if file.ends_with(".json") && file != "event.json" && !file.ends_with(".packets.json") {
            let mut v: serde_json::Value = serde_json::from_slice(&fs::read(&p).unwrap()).unwrap();
            edit(&mut v);
            fs::write(&to, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
        } else {
            fs::copy(&p, &to).unwrap();
        }
    }
    tmp
}

#[test]
fn wall_clock_stitch_puts_each_chunk_at_its_chunk_start_time_even_when_media_is_shorter() {
    // Chunk 1 says it lasts 100 ms longer than its media, and chunk 2 starts 100 ms later on
    // the wall clock: chunk 2 belongs 100 ms later than chunk 1's media ends, not right after.
    let tmp = edited_copy("basic", |v| {
        if v["chunkIndex"] == serde_json::json!(1) {
            let d = v["chunkDuration"].as_f64().unwrap();
            v["chunkDuration"] = serde_json::json!(d + 100.0);
        }
        if v["chunkIndex"] == serde_json::json!(2) {
            let s = v["chunkStartTime"].as_str().unwrap();
            // "...:43.1115003Z" -> "...:43.2115003Z"
            let (head, frac) = s.split_once('.').unwrap();
            let tenth: u32 = frac[..1].parse().unwrap();
            assert!(tenth < 9, "{s}");
            v["chunkStartTime"] = serde_json::json!(format!("{head}.{}{}", tenth + 1, &frac[1..]));
        }
    });
    assert_chunks_at_their_wall_clock_instants(tmp.path());
    // A chunk that starts paused (paused_bframes): its media starts after that pause.
    assert_chunks_at_their_wall_clock_instants(&testdata().join("recordings/paused_bframes"));
}

/// Stitches `dir` on the wall clock: each chunk's media starts where the timeline puts its
/// first recorded instant, within half an AAC frame (the output places chunks on whole frames).
fn assert_chunks_at_their_wall_clock_instants(dir: &Path) {
    let rec = Recording::open(dir).unwrap();
    let timeline = rec.timeline();
    let out = tempfile::tempdir().unwrap();
    let stitched = rec
        .stitch(&StitchOptions::new(out.path().join("wall.mp4")).wall_clock(true))
        .unwrap();
    assert_eq!(stitched.placements.len(), rec.chunks().len());
    for p in &stitched.placements {
        let first = timeline
            .segments()
            .iter()
            .find(|s| s.chunk() == Some(p.index) && s.kind() == callrec_meta::SegmentKind::Recorded)
            .unwrap();
        let want =
            callrec_meta::Nanos::between(timeline.start(), first.wall().start).as_millis_f64();
        let got = p.start_us as f64 / 1000.0;
        assert!(
            (got - want).abs() <= 32.0,
            "{}: chunk {}: at {got} ms, its first recorded instant is at {want} ms",
            dir.display(),
            p.index,
        );
    }
}

#[test]
fn wall_clock_stitch_refuses_a_first_chunk_days_after_the_recording_start() {
    // recordingStartTime 30 days before chunk 0: a 30-day file of nothing is not an archive.
    let tmp = edited_copy("basic", |_| {});
    let event = tmp.path().join("event.json");
    let text = fs::read_to_string(&event).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let data = if v.is_array() {
        &mut v[0]["data"]
    } else {
        &mut v["data"]
    };
    let start = data["recordingStartTime"].as_str().unwrap().to_string();
    // Move the month back by one (2024-05 -> 2024-04): 30 days.
    assert!(start.starts_with("2024-05-"), "{start}");
    data["recordingStartTime"] = serde_json::json!(start.replacen("2024-05-", "2024-04-", 1));
    fs::write(&event, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    let rec = Recording::open(tmp.path()).unwrap();
    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("wall.mp4");
    let err = rec
        .stitch(&StitchOptions::new(&target).wall_clock(true))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("the first chunk starts 2592000 s after"),
        "{err}"
    );
    assert!(!target.exists());
    assert_eq!(
        fs::read_dir(out.path()).unwrap().count(),
        0,
        "a temporary is left"
    );
    // The compact stitch does not care where the recording started.
    rec.stitch(&StitchOptions::new(&target)).unwrap();
}

#[test]
fn webvtt_chapters_are_timed_for_the_stitched_file_not_the_metadata() {
    // The compact stitch keeps each join's priming and padding, so chunk 1 and 2 start later
    // in the file than the metadata's media time says: the cues follow the file.
    let rec = Recording::open(testdata().join("recordings/paused")).unwrap();
    let tl = rec.timeline();
    for opts in [
        StitchOptions::new("unused.mp4"),
        StitchOptions::new("unused.mp4").wall_clock(true),
    ] {
        let (_, plan) = rec.plan(&opts).unwrap();
        let vtt = callrec::output_webvtt(&tl, &plan, &opts);
        let json: serde_json::Value =
            serde_json::from_str(&callrec::output_timeline(&tl, &plan, &opts)).unwrap();
        let starts: Vec<f64> = json["segments"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["kind"] == "recorded")
            .map(|s| s["output_start_ms"].as_f64().unwrap())
            .collect();
        let secs = |t: &str| -> f64 {
            let p: Vec<f64> = t.split(':').map(|x| x.parse().unwrap()).collect();
            (p[0] * 3600.0 + p[1] * 60.0 + p[2]) * 1000.0
        };
        let cues: Vec<(f64, f64)> = vtt
            .lines()
            .filter_map(|l| l.split_once(" --> "))
            .map(|(a, b)| (secs(a), secs(b)))
            .collect();
        assert!(cues.len() >= 2, "{vtt}");
        for (a, _) in &cues {
            assert!(
                starts.iter().any(|s| (s - a).abs() < 1.0),
                "cue at {a} ms starts no recorded segment of the output ({starts:?})\n{vtt}"
            );
        }
        let end = cues.last().unwrap().1;
        let duration = plan.duration_us() as f64 / 1000.0;
        assert!((end - duration).abs() < 1.0, "{end} vs {duration}");
        if !opts.wall_clock {
            // The metadata's media time ends at 15 s; the file lasts longer.
            assert!(end > tl.media_total().as_millis_f64() + 50.0, "{end}");
        }
    }
}
