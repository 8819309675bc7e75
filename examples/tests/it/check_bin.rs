//! The built `check` example binary: its output and exit codes (0 clean, 1 findings of error
//! severity, 2 could not run).

use std::path::Path;
use std::process::Command;

use crate::util::{bin, copy_dir, testdata};

/// Runs the `check` binary on `dir` with `extra` arguments: (exit code, stdout, stderr).
fn run(dir: &Path, extra: &[&str]) -> (i32, String, String) {
    crate::util::run(Command::new(bin("check")).arg(dir).args(extra))
}

/// The documentId of a fixture's chunk `index`, read from its metadata files.
fn document_id(dir: &Path, index: u64) -> String {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension().is_some_and(|x| x == "json")
                && !p.to_str().unwrap().ends_with(".packets.json")
                && p.file_name().unwrap() != "event.json"
        })
        .find(|p| {
            let v: serde_json::Value = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
            v["chunkIndex"].as_u64() == Some(index)
        })
        .map(|p| p.file_stem().unwrap().to_str().unwrap().to_string())
        .unwrap()
}

#[test]
fn check_binary_clean_recording_exits_0_and_prints_ok() {
    let dir = testdata().join("recordings/basic");
    let (code, out, err) = run(&dir, &[]);
    assert_eq!(code, 0, "{out}{err}");
    let last = out.lines().last().unwrap();
    assert!(last.starts_with(&dir.display().to_string()), "{out}");
    assert!(last.ends_with(": ok"), "{out}");
    assert!(
        last.contains("3 chunks, 15.000 s of media: 0 errors"),
        "{out}"
    );
    assert_eq!(out.lines().count(), 1, "{out}");
}

#[test]
fn check_binary_mismatch_exits_1_naming_video_resolution_on_chunk_1() {
    let dir = testdata().join("recordings/mismatch");
    let (code, out, err) = run(&dir, &[]);
    assert_eq!(code, 1, "{out}{err}");
    let line = out
        .lines()
        .find(|l| l.contains("video.resolution"))
        .unwrap_or_else(|| panic!("{out}"));
    // severity, code, chunk index, message
    let cols: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(&cols[..3], ["error", "video.resolution", "1"], "{line}");
    assert!(!out.contains(": ok"), "{out}");
    assert!(out.lines().last().unwrap().contains("5 errors"), "{out}");

    // The JSON report names the chunk by index and documentId.
    let (code, out, _) = run(&dir, &["--json"]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let f = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "video.resolution")
        .unwrap();
    assert_eq!(f["chunk"]["index"], 1);
    assert_eq!(f["chunk"]["document_id"], document_id(&dir, 1).as_str());
}

#[test]
fn check_binary_nonexistent_directory_exits_2() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("no-such-recording");
    let (code, out, err) = run(&dir, &[]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(out.is_empty(), "{out}");
    assert!(err.contains("no-such-recording"), "{err}");
}

#[test]
fn check_binary_event_without_recording_data_exits_2_naming_file_and_field() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("basic");
    std::fs::create_dir(&dir).unwrap();
    for e in std::fs::read_dir(testdata().join("recordings/basic")).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, dir.join(p.file_name().unwrap())).unwrap();
    }
    std::fs::write(dir.join("event.json"), br#"{"data":42}"#).unwrap();
    let (code, _, err) = run(&dir, &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("event.json"), "{err}");
    assert!(err.contains("data.recordingStorageInfo"), "{err}");

    // A field of the wrong type: named by its JSON path.
    let ev = std::fs::read_to_string(testdata().join("recordings/basic/event.json")).unwrap();
    let ev = ev.replacen("\"index\": 1", "\"index\": \"one\"", 1);
    std::fs::write(dir.join("event.json"), ev).unwrap();
    let (code, _, err) = run(&dir, &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("event.json"), "{err}");
    assert!(
        err.contains("data.recordingStorageInfo.recordingChunks[1].index"),
        "{err}"
    );
}

#[test]
fn check_binary_truncated_chunk_exits_1_with_mp4_truncated() {
    let tmp = tempfile::tempdir().unwrap();
    let src = testdata().join("recordings/basic");
    let dir = tmp.path().join("basic");
    copy_dir(&src, &dir);
    // basic is moov-last: half the file loses the moov.
    let mp4 = dir.join(format!("{}.mp4", document_id(&src, 2)));
    let data = std::fs::read(&mp4).unwrap();
    std::fs::write(&mp4, &data[..data.len() / 2]).unwrap();
    let (code, out, err) = run(&dir, &[]);
    assert_eq!(code, 1, "{out}{err}");
    let cols: Vec<&str> = out.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(&cols[..3], ["error", "mp4.truncated", "2"], "{out}");
}

/// Every fixture recording under testdata/recordings but `mismatch` (made to disagree with its
/// metadata) is clean: the binary exits 0 and its JSON report counts no error and no warning.
#[test]
fn check_binary_every_clean_fixture_exits_0_without_warnings() {
    let mut names: Vec<String> = std::fs::read_dir(testdata().join("recordings"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "mismatch")
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "basic",
            "bframes",
            "empty_edit",
            "faststart",
            "fragmented",
            "fragmented_bframes",
            "mixed_timescale",
            "paused",
            "paused_bframes"
        ],
        "a new fixture under testdata/recordings: clean ones belong in this test"
    );
    for name in &names {
        let (code, stdout, stderr) = run(&testdata().join("recordings").join(name), &["--json"]);
        assert_eq!(code, 0, "{name}: {stdout}{stderr}");
        let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(report["errors"], 0, "{name}: {stdout}");
        assert_eq!(report["warnings"], 0, "{name}: {stdout}");
        let severities: Vec<&str> = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["severity"].as_str().unwrap())
            .collect();
        assert!(
            severities.iter().all(|s| *s == "info"),
            "{name}: {severities:?}"
        );
        assert_eq!(report["info"], severities.len(), "{name}");
    }
}
