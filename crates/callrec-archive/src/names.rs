//! Every name the archive gives: the output files of a recording, the files of the output
//! directory, and the output folder (key) of each recording.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::manifest::Entry;

/// The manifest's file name inside the output directory.
pub const MANIFEST: &str = "manifest.jsonl";
/// The lock file's name inside the output directory (it holds the running batch's pid).
pub const LOCK: &str = ".callrec-batch.lock";
/// The stitched recording's file name inside a recording's output folder.
pub const RECORDING_MP4: &str = "recording.mp4";
/// The timeline's file name inside a recording's output folder.
pub const TIMELINE_JSON: &str = "timeline.json";
/// The check report's file name inside a recording's output folder.
pub const CHECK_JSON: &str = "check.json";
/// Every output file a job writes, in the order it writes them.
pub const OUTPUTS: [&str; 3] = [CHECK_JSON, TIMELINE_JSON, RECORDING_MP4];
/// The longest output key: far below the 255 bytes a file name may have.
pub const MAX_KEY_BYTES: usize = 160;
/// The longest callId (or directory name) kept whole in a key; a longer one is cut and given
/// 12 hex digits of its SHA-256.
const MAX_BASE_BYTES: usize = 96;

/// Whether `key` is a name [`assign_keys`] could give: one path component of safe characters,
/// bounded, not hidden and not one of the output directory's own files.
pub fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= MAX_KEY_BYTES
        && callrec::safe_file_name(key) == key
        && !reserved(key)
}

/// Whether `name` is one of the output files a job writes.
pub fn is_output(name: &str) -> bool {
    OUTPUTS.contains(&name)
}

/// Names in the output directory that the archive uses itself.
fn reserved(name: &str) -> bool {
    [MANIFEST, LOCK]
        .iter()
        .any(|r| name.eq_ignore_ascii_case(r))
}

/// `s` made a bounded, safe, non-reserved name: [`callrec::safe_file_name`], cut to
/// [`MAX_BASE_BYTES`] with 12 hex digits of the SHA-256 of the whole when longer, and `_` put
/// before a name the archive uses itself.
fn bounded_name(s: &str) -> String {
    let safe = callrec::safe_file_name(s);
    let name = if safe.len() > MAX_BASE_BYTES {
        // ASCII only: any byte index is a char boundary.
        format!("{}-{}", &safe[..MAX_BASE_BYTES - 13], &sha256_hex(s)[..12])
    } else {
        safe
    };
    if reserved(&name) {
        format!("_{name}")
    } else {
        name
    }
}

/// A directory's name relative to the root, `/`-separated (`.` for the root itself).
pub fn relative(root: &Path, dir: &Path) -> String {
    let rel = dir.strip_prefix(root).unwrap_or(dir);
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.is_empty() {
        ".".into()
    } else {
        parts.join("/")
    }
}

/// SHA-256 of `bytes`, lowercase hex.
pub(crate) fn sha256_hex(bytes: impl AsRef<[u8]>) -> String {
    hex(&Sha256::digest(bytes))
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Assigns output keys to `dirs` (relative names, sorted) given their call ids and the keys
/// earlier runs gave (`previous`, by directory). Deterministic: the same directories and
/// manifest give the same keys, whatever order the recordings finish in.
///
/// A key is the callId (made safe, at most 96 bytes, never `manifest.jsonl`);
/// recordings that share a callId get `<callId>--<directory name>`, then
/// `<callId>--<hash of the path>`; a recording without one gets `dir-<directory name>`. A key an
/// earlier run gave stays with its directory, unless it is not [`valid_key`] or another
/// directory already keeps it.
pub fn assign_keys(
    dirs: &[(String, Option<String>)],
    previous: &BTreeMap<String, Entry>,
) -> Vec<String> {
    let base = |(rel, call_id): &(String, Option<String>)| match call_id {
        Some(id) => bounded_name(id),
        None => format!(
            "dir-{}",
            bounded_name(rel.rsplit('/').next().unwrap_or(rel))
        ),
    };
    let bases: Vec<String> = dirs.iter().map(base).collect();
    let mut count: HashMap<&str, usize> = HashMap::new();
    for b in &bases {
        *count.entry(b).or_default() += 1;
    }
    let mut taken: BTreeSet<String> = previous.values().map(|e| e.key.clone()).collect();
    // Keys of earlier runs, each kept by the first directory that had it (an edited manifest
    // may give two directories one key).
    let mut kept = BTreeSet::new();
    let mut keys = Vec::with_capacity(dirs.len());
    for ((rel, _), base) in dirs.iter().zip(&bases) {
        if let Some(e) = previous.get(rel) {
            if valid_key(&e.key) && kept.insert(e.key.clone()) {
                keys.push(e.key.clone());
                continue;
            }
        }
        let name = bounded_name(rel.rsplit('/').next().unwrap_or(rel));
        let hash = &sha256_hex(rel.as_bytes())[..8];
        let mut candidates = vec![];
        if count[base.as_str()] == 1 {
            candidates.push(base.clone());
        }
        candidates.push(format!("{base}--{name}"));
        candidates.push(format!("{base}--{hash}"));
        let key = candidates
            .into_iter()
            .find(|k| !taken.contains(k) && valid_key(k))
            .unwrap_or_else(|| {
                (2..)
                    .map(|n| format!("{base}--{hash}-{n}"))
                    .find(|k| !taken.contains(k))
                    .unwrap_or_default()
            });
        taken.insert(key.clone());
        keys.push(key);
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dirs(list: &[(&str, Option<&str>)]) -> Vec<(String, Option<String>)> {
        list.iter()
            .map(|(d, c)| (d.to_string(), c.map(str::to_string)))
            .collect()
    }

    #[test]
    fn keys_are_bounded_unique_and_never_the_archives_own_names() {
        let long = "é".repeat(150) + &"x".repeat(300);
        let keys = assign_keys(
            &dirs(&[
                ("a", Some(&long)),
                ("b", Some(&long)),
                ("c", Some("manifest.jsonl")),
                ("d", Some(".callrec-batch.lock")),
                ("e", Some("../../etc")),
                ("f", None),
            ]),
            &BTreeMap::new(),
        );
        assert_eq!(
            keys.iter().collect::<BTreeSet<_>>().len(),
            keys.len(),
            "{keys:?}"
        );
        for k in &keys {
            assert!(valid_key(k), "{k}");
        }
        assert_eq!(keys[2], "_manifest.jsonl");
        assert_eq!(keys[3], "_.callrec-batch.lock");
        assert_eq!(keys[4], "_.._.._etc");
        assert_eq!(keys[5], "dir-f");
        assert!(keys[0].starts_with(&"_".repeat(83)), "{}", keys[0]);
    }

    #[test]
    fn only_names_the_archive_could_give_are_valid_keys() {
        for bad in [
            "",
            "..",
            "../x",
            "a/b",
            ".hidden",
            "manifest.jsonl",
            "MANIFEST.JSONL",
        ] {
            assert!(!valid_key(bad), "{bad}");
        }
        assert!(!valid_key(&"k".repeat(MAX_KEY_BYTES + 1)));
        assert!(valid_key("22884701-5bc3-af52-7874-0cccfc13c65d--basic"));
    }

    #[test]
    fn relative_names_use_slashes_and_dot_for_the_root() {
        let root = Path::new("/r");
        assert_eq!(relative(root, Path::new("/r")), ".");
        assert_eq!(relative(root, Path::new("/r/a/b")), "a/b");
    }
}
