//! Integration tests of callrec-meta on the fixtures in `testdata/`.

mod errors;
mod fixtures;
mod limits;
mod problems;
mod props;
mod timeline;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// `testdata/` at the workspace root.
pub fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata")
}

/// `testdata/recordings/<name>`.
pub fn recording_dir(name: &str) -> PathBuf {
    testdata().join("recordings").join(name)
}

/// The fixture recordings of real-world variants.
pub const VARIANTS: [&str; 6] = [
    "basic",
    "bframes",
    "paused",
    "fragmented",
    "faststart",
    "mismatch",
];

/// A temporary directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// A fresh empty directory.
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "callrec-meta-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    /// A copy of a fixture recording's `event.json` and chunk `.json`/`.mp4` files.
    pub fn copy_of(name: &str) -> TempDir {
        let t = TempDir::new(name);
        for e in std::fs::read_dir(recording_dir(name)).unwrap() {
            let e = e.unwrap();
            let n = e.file_name().into_string().unwrap();
            if n.ends_with(".packets.json") {
                continue;
            }
            std::fs::copy(e.path(), t.0.join(&n)).unwrap();
        }
        t
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Edit a JSON file in place.
    pub fn edit_json(&self, name: &str, f: impl FnOnce(&mut serde_json::Value)) {
        let p = self.0.join(name);
        let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        f(&mut v);
        std::fs::write(&p, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The fixture's metadata files as JSON values, in chunk-index order (by the event).
pub fn metadata_values(name: &str) -> Vec<(String, serde_json::Value)> {
    let dir = recording_dir(name);
    let rec = callrec_meta::Recording::load(&dir).unwrap();
    rec.chunks
        .iter()
        .map(|c| {
            let p = dir.join(format!("{}.json", c.document_id));
            (
                c.document_id.clone(),
                serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap(),
            )
        })
        .collect()
}

/// The fixture's event.json as a JSON value.
pub fn event_value(name: &str) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(recording_dir(name).join("event.json")).unwrap()).unwrap()
}

/// Parse metadata values (as edited by a test) and an event value into a recording.
pub fn from_values(
    event: Option<&serde_json::Value>,
    metas: &[(String, serde_json::Value)],
) -> callrec_meta::Recording {
    let ev = event.map(|e| {
        callrec_meta::RecordingEvent::from_json(
            &serde_json::to_vec(e).unwrap(),
            "event.json".as_ref(),
        )
        .unwrap()
    });
    let ms = metas
        .iter()
        .map(|(d, v)| {
            callrec_meta::ChunkMetadata::from_json(
                &serde_json::to_vec(v).unwrap(),
                format!("{d}.json").as_ref(),
            )
            .unwrap()
        })
        .collect();
    callrec_meta::Recording::from_parts(ev, ms)
}

/// Parse an RFC 3339 time.
pub fn ts(s: &str) -> chrono::DateTime<chrono::Utc> {
    callrec_meta::parse_timestamp(s).unwrap()
}

/// The timeline's two exports are whole: the JSON parses with one entry per segment, the WebVTT
/// has its header.
pub fn assert_exports(tl: &callrec_meta::Timeline) {
    let json: serde_json::Value = serde_json::from_str(&tl.to_json()).expect("timeline JSON");
    assert_eq!(
        json["segments"].as_array().map(Vec::len),
        Some(tl.segments().len()),
        "{json}"
    );
    assert!(tl.to_webvtt().starts_with("WEBVTT\n"));
}

mod robustness;
