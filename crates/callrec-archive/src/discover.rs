//! Finding the recording directories under a root.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// Finds every recording directory under `root`, sorted: a directory holding `event.json`, or
/// chunk metadata (a `<stem>.json` beside `<stem>.mp4`, or a JSON file that parses as chunk
/// metadata; `*.packets.json` never counts). A recording directory's subdirectories are not
/// searched; hidden directories, symbolic links and `exclude` (the output directory) are
/// skipped.
pub fn discover(root: &Path, exclude: Option<&Path>) -> Result<Vec<PathBuf>> {
    let exclude = exclude.and_then(|p| fs::canonicalize(p).ok());
    let mut found = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        if exclude.is_some() && fs::canonicalize(&dir).ok() == exclude {
            continue;
        }
        let mut subdirs = Vec::new();
        let mut files = BTreeSet::new();
        let read = |e| Error::io("cannot read", &dir, e);
        for entry in fs::read_dir(&dir).map_err(read)? {
            let entry = entry.map_err(read)?;
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            let kind = entry.file_type().map_err(read)?;
            if kind.is_dir() && !name.starts_with('.') {
                subdirs.push(entry.path());
            } else if kind.is_file() {
                files.insert(name);
            }
        }
        if is_recording(&dir, &files) {
            found.push(dir);
        } else {
            stack.extend(subdirs);
        }
    }
    found.sort();
    Ok(found)
}

/// Whether `dir` itself is a recording directory (see [`discover`]).
pub(crate) fn is_recording_dir(dir: &Path) -> bool {
    let Ok(rd) = fs::read_dir(dir) else {
        return false;
    };
    let files: BTreeSet<String> = rd
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    is_recording(dir, &files)
}

fn is_recording(dir: &Path, files: &BTreeSet<String>) -> bool {
    if files.contains(callrec::crates::meta::EVENT_FILE) {
        return true;
    }
    use callrec::crates::meta::naming;
    let metadata = files
        .iter()
        .filter_map(|f| Some((f, naming::metadata_document_id(f)?)));
    for (file, stem) in metadata {
        if files.contains(&naming::media_file(stem)) {
            return true;
        }
        let path = dir.join(file);
        if callrec::crates::meta::read_json_file(&path)
            .is_ok_and(|b| callrec::crates::meta::ChunkMetadata::from_json(&b, &path).is_ok())
        {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_recordings_not_their_subdirectories_nor_the_excluded_one() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        for d in ["a/rec", "a/rec/inner", "b", "out/x", ".hidden/rec"] {
            fs::create_dir_all(r.join(d)).unwrap();
        }
        for d in ["a/rec", "a/rec/inner", "out/x", ".hidden/rec"] {
            fs::write(r.join(d).join("event.json"), b"{}").unwrap();
        }
        // A chunk's metadata beside its media makes a recording; a packets file does not.
        fs::write(r.join("b/doc.json"), b"{}").unwrap();
        fs::write(r.join("b/doc.mp4"), b"").unwrap();
        fs::create_dir_all(r.join("c")).unwrap();
        fs::write(r.join("c/doc.packets.json"), b"{}").unwrap();
        fs::write(r.join("c/doc.mp4"), b"").unwrap();
        let found = discover(r, Some(&r.join("out"))).unwrap();
        assert_eq!(found, [r.join("a/rec"), r.join("b")]);
        assert!(is_recording_dir(&r.join("a/rec")) && !is_recording_dir(&r.join("c")));
        let e = discover(&r.join("absent"), None).unwrap_err();
        assert!(e.to_string().starts_with("cannot read"), "{e}");
    }
}
