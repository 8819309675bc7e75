//! Helpers shared by the tests.

use std::path::{Path, PathBuf};

use callrec_check::{Expected, ExpectedAudio, ExpectedVideo};
use serde_json::Value;

/// The workspace's testdata folder.
pub fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata")
}

/// A fixture recording directory.
pub fn recording(name: &str) -> PathBuf {
    testdata().join("recordings").join(name)
}

/// The chunks of a fixture recording: (index, documentId, media path, metadata JSON), by index.
pub fn chunks(dir: &Path) -> Vec<(u32, String, PathBuf, Value)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_str().unwrap().to_string();
        if name.ends_with(".json") && !name.ends_with(".packets.json") && name != "event.json" {
            let v: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
            let doc = name.trim_end_matches(".json").to_string();
            let idx = v["chunkIndex"].as_u64().unwrap() as u32;
            out.push((idx, doc.clone(), dir.join(format!("{doc}.mp4")), v));
        }
    }
    out.sort_by_key(|c| c.0);
    out
}

/// Expected values read straight from a chunk metadata JSON (independently of callrec-meta).
pub fn expected_from_json(v: &Value) -> Expected {
    let a = &v["recordingInfo"]["audioConfiguration"];
    let vc = &v["recordingInfo"]["videoConfiguration"];
    let num = |x: &Value| -> f64 {
        x.as_f64()
            .or_else(|| x.as_str().and_then(|s| s.parse().ok()))
            .unwrap()
    };
    let fr = if vc["framerate"].is_null() {
        &vc["frameRate"]
    } else {
        &vc["framerate"]
    };
    Expected {
        video: Some(ExpectedVideo {
            longer_side: num(&vc["longerSideLength"]) as u32,
            shorter_side: num(&vc["shorterSideLength"]) as u32,
            frame_rate: num(fr),
            bit_rate: Some(num(&vc["bitRate"]) as u64),
        }),
        audio: Some(ExpectedAudio {
            sample_rate: num(&a["sampleRate"]) as u32,
            channels: num(&a["channels"]) as u32,
            bit_rate: Some(num(&a["bitRate"]) as u64),
        }),
        duration_ms: Some(num(&v["chunkDuration"])),
        paused_ms: Some(
            v["pauseResumeIntervals"]
                .as_array()
                .map_or(0.0, |ps| ps.iter().map(|p| num(&p["duration"])).sum()),
        ),
        audio_only: false,
    }
}
