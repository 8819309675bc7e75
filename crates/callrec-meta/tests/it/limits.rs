//! Hostile sizes and file types: JSON files are capped, and what is not a regular file where a
//! JSON file belongs is named as such (never read: a FIFO would block forever).

use std::path::Path;

use callrec_meta::{Error, Problem, Recording, MAX_JSON_BYTES};

use crate::TempDir;

/// The chunk metadata files of a copied recording.
fn metadata_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json") && !p.ends_with("event.json"))
        .collect();
    v.sort();
    v
}

/// `bytes` followed by whitespace up to `len` bytes: still valid JSON.
fn pad(path: &Path, len: u64) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes.resize(len as usize, b' ');
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn an_event_over_16_mib_is_refused_naming_the_file() {
    let t = TempDir::copy_of("basic");
    let event = t.0.join("event.json");
    pad(&event, MAX_JSON_BYTES + 1);
    match Recording::load(&t.0) {
        Err(e @ Error::TooLarge { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains("event.json"), "{msg}");
            assert!(msg.contains("16777216"), "{msg}");
        }
        other => panic!("not refused: {other:?}"),
    }
    // At the limit it is read.
    pad(&event, MAX_JSON_BYTES);
    Recording::load(&t.0).unwrap();
}

#[test]
fn chunk_metadata_over_16_mib_is_invalid_naming_the_file() {
    let t = TempDir::copy_of("basic");
    let meta = metadata_files(&t.0).remove(0);
    pad(&meta, MAX_JSON_BYTES + 1);
    let rec = Recording::load(&t.0).unwrap();
    let name = meta.file_name().unwrap().to_str().unwrap();
    let p = rec
        .problems
        .iter()
        .find(|p| matches!(p, Problem::MetadataInvalid { .. }))
        .unwrap_or_else(|| panic!("{:?}", rec.problems));
    let msg = p.to_string();
    assert!(msg.contains(name) && msg.contains("bytes"), "{msg}");
}

#[cfg(unix)]
#[test]
fn a_fifo_or_directory_event_is_not_a_regular_file() {
    for kind in ["fifo", "dir"] {
        let t = TempDir::copy_of("basic");
        let event = t.0.join("event.json");
        std::fs::remove_file(&event).unwrap();
        if kind == "fifo" {
            let ok = std::process::Command::new("mkfifo")
                .arg(&event)
                .status()
                .unwrap();
            assert!(ok.success());
        } else {
            std::fs::create_dir(&event).unwrap();
        }
        // Returns (a FIFO is never opened, so this cannot block).
        match Recording::load(&t.0) {
            Err(e @ Error::NotAFile { .. }) => {
                assert!(
                    e.to_string().ends_with("event.json: not a regular file"),
                    "{e}"
                )
            }
            other => panic!("{kind}: {other:?}"),
        }
    }
}
