//! `chunk.duplicate`: two chunks whose media files are byte-identical (a chunk downloaded
//! twice under two names). Only files whose size another chunk's file shares are hashed
//! (SHA-256, read in bounded windows).

use std::collections::HashMap;

use serde_json::json;
use sha2::{Digest, Sha256};

use crate::{ChunkRef, Code, Finding, Severity};
use callrec_mp4::Source;

/// Bytes hashed per read.
const WINDOW: u64 = 1 << 20;

/// Each chunk's media file size on disk, where it has a path (`None`: unknown).
pub(crate) fn sizes(recording: &callrec_meta::Recording) -> Vec<Option<u64>> {
    recording
        .chunks
        .iter()
        .map(|c| {
            c.media_path
                .as_ref()
                .and_then(|p| std::fs::metadata(p).ok())
                .map(|m| m.len())
        })
        .collect()
}

/// The SHA-256 of `src` when its size equals another chunk's (`sizes`, chunk `i` excluded);
/// `None` otherwise, or when a read fails (the chunk's own findings say why).
pub(crate) fn hash_if_shared(src: &dyn Source, i: usize, sizes: &[Option<u64>]) -> Option<String> {
    let len = src.len();
    let shared = sizes
        .iter()
        .enumerate()
        .any(|(j, s)| j != i && *s == Some(len));
    if !shared || len == 0 {
        return None;
    }
    let mut h = Sha256::new();
    let mut buf = vec![0u8; WINDOW.min(len) as usize];
    let mut off = 0;
    while off < len {
        let n = (len - off).min(WINDOW) as usize;
        src.read_exact_at(&mut buf[..n], off).ok()?;
        h.update(&buf[..n]);
        off += n as u64;
    }
    Some(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// One warning per chunk whose media is byte-identical to an earlier chunk's.
/// `hashes`: (chunk, size, SHA-256) of the chunks hashed, in index order.
pub(crate) fn findings(hashes: &[(ChunkRef, u64, String)]) -> Vec<Finding> {
    let mut first: HashMap<(u64, &str), &ChunkRef> = HashMap::new();
    let mut out = Vec::new();
    for (c, len, h) in hashes {
        match first.get(&(*len, h.as_str())) {
            Some(f) => out.push(
                Finding::new(
                    Code::ChunkDuplicate,
                    Severity::Warning,
                    Some(c.clone()),
                    format!(
                        "the media of chunk {} ({}) is byte-identical to chunk {}'s ({}): {len} \
                         bytes, SHA-256 {h}; a chunk downloaded twice?",
                        c.index, c.document_id, f.index, f.document_id
                    ),
                )
                .values(
                    json!({ "distinct_from_chunk": f.index }),
                    json!({ "same_as_chunk": f.index, "bytes": len, "sha256": h }),
                ),
            ),
            None => {
                first.insert((*len, h.as_str()), c);
            }
        }
    }
    out
}
