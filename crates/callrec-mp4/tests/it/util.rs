//! Helpers: locate and walk `testdata/`.

use std::path::{Path, PathBuf};

pub fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata")
}

/// Every chunk `.mp4` of every recording under `testdata/recordings`, sorted.
pub fn fixture_chunks() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(dirs) = std::fs::read_dir(testdata().join("recordings")) else {
        return out;
    };
    for d in dirs.flatten() {
        let Ok(files) = std::fs::read_dir(d.path()) else {
            continue;
        };
        for f in files.flatten() {
            let p = f.path();
            if p.extension().is_some_and(|e| e == "mp4") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}
