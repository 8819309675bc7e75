//! The metadata layer's [`Problem`]s as findings: where each is, then its code and values.

use std::collections::HashSet;

use callrec_meta::{Problem, Recording};
use serde_json::json;

use crate::{ChunkRef, Code, Finding, Severity};

/// The finding of problem `p`, `None` for the problems reported elsewhere (an absent media
/// file per chunk; absent metadata of a chunk in `absent`, which has neither file).
pub(crate) fn problem_finding(
    p: &Problem,
    recording: &Recording,
    absent: &HashSet<&str>,
    chunk_ref: &dyn Fn(u32) -> Option<ChunkRef>,
) -> Option<Finding> {
    let at = Located {
        chunk: problem_chunk(p, recording, chunk_ref),
        msg: p.to_string(),
    };
    Some(match p {
        // Reported per chunk from the media slice (file.missing) or as chunk.absent.
        Problem::MediaAbsent { .. } => return None,
        Problem::MetadataAbsent {
            index, document_id, ..
        } => {
            // A chunk with neither file is one chunk.absent finding.
            if absent.contains(document_id.as_str()) {
                return None;
            }
            Finding::new(
                Code::MetadataMissing,
                Severity::Error,
                Some(ChunkRef {
                    index: *index,
                    document_id: document_id.clone(),
                }),
                at.msg.clone(),
            )
            .values(format!("{document_id}.json"), json!(null))
        }
        _ => listing_finding(p, &at).unwrap_or_else(|| metadata_finding(p, &at)),
    })
}

/// The chunk a problem is about: the one it names by index and documentId, else by index,
/// else (a chunk not placed by index) by documentId.
fn problem_chunk(
    p: &Problem,
    recording: &Recording,
    chunk_ref: &dyn Fn(u32) -> Option<ChunkRef>,
) -> Option<ChunkRef> {
    let direct = match (p.chunk(), p.document_id()) {
        (Some(index), Some(d)) => Some(ChunkRef {
            index,
            document_id: d.to_string(),
        }),
        _ => None,
    };
    direct
        .or_else(|| p.chunk().and_then(chunk_ref))
        .or_else(|| {
            // Chunks not placed by index (metadata that the event does not list...).
            p.document_id().and_then(|d| {
                recording.chunk_by_document_id(d).map(|c| ChunkRef {
                    index: c.index,
                    document_id: c.document_id.clone(),
                })
            })
        })
}

/// A problem's chunk and message, which most of its findings carry.
struct Located {
    chunk: Option<ChunkRef>,
    msg: String,
}

impl Located {
    /// The finding `code` of severity `sev` at this problem's chunk.
    fn finding(&self, code: Code, sev: Severity) -> Finding {
        Finding::new(code, sev, self.chunk.clone(), self.msg.clone())
    }
}

/// The finding of a problem with the recording's list of chunks (the event, the indices, the
/// files beside them, the total duration); `None` for a problem of one chunk's metadata.
fn listing_finding(p: &Problem, at: &Located) -> Option<Finding> {
    use Severity::*;
    Some(match p {
        // The range, never its members: the indices come from the event (up to u32::MAX).
        Problem::MissingIndex { first, last } => {
            Finding::new(Code::ChunkIndexMissing, Error, None, at.msg.clone()).actual(json!({
                "first": first,
                "last": last,
                "count": u64::from(last.saturating_sub(*first)) + 1,
            }))
        }
        Problem::DuplicateIndex {
            index,
            document_ids,
        } => Finding::new(Code::ChunkIndexDuplicate, Error, None, at.msg.clone()).values(
            json!({ "index": index, "chunks": 1 }),
            json!({ "index": index, "document_ids": document_ids }),
        ),
        Problem::InvalidDocumentId {
            document_id, field, ..
        } => at.finding(Code::EventInvalidDocumentId, Error).values(
            json!({ "field": field, "document_id": "a file name (no path separator, not . or ..)" }),
            json!({ "field": field, "document_id": document_id }),
        ),
        Problem::DuplicateDocumentId {
            document_id,
            indices,
        } => at.finding(Code::EventDuplicateDocumentId, Error).values(
            json!({ "document_id": document_id, "chunks": 1 }),
            json!({ "document_id": document_id, "indices": indices }),
        ),
        Problem::MediaNotListed { document_id, .. } => at
            .finding(Code::FileUnlisted, Warning)
            .actual(format!("{document_id}.mp4")),
        Problem::EventAbsent => at.finding(Code::EventMissing, Warning),
        Problem::NoChunks => at
            .finding(Code::EventChunkCount, Error)
            .values("at least 1", 0),
        Problem::DurationMismatch {
            event_ms,
            metadata_total,
        } => at
            .finding(Code::DurationMetadataTotal, Error)
            .values(event_ms, metadata_total.as_millis_f64()),
        _ => return None,
    })
}

/// The finding of a problem with one chunk's metadata (any other problem is
/// `metadata.other`, its code as the actual value).
fn metadata_finding(p: &Problem, at: &Located) -> Finding {
    use Severity::*;
    match p {
        Problem::MetadataNotListed { document_id, .. } => at
            .finding(Code::MetadataUnlisted, Error)
            .values(json!(null), json!(document_id)),
        Problem::IndexMismatch {
            event_index,
            metadata_index,
            ..
        } => at
            .finding(Code::MetadataIndex, Error)
            .values(event_index, metadata_index),
        Problem::CallIdMismatch {
            expected, actual, ..
        } => at
            .finding(Code::MetadataCallId, Error)
            .values(expected, actual),
        Problem::MetadataInvalid { error, .. } => at
            .finding(Code::MetadataInvalid, Error)
            .actual(error.to_string()),
        Problem::DocumentIdMismatch {
            file_document_id,
            chunk_document_id,
            ..
        } => at
            .finding(Code::MetadataDocumentId, Error)
            .values(file_document_id, chunk_document_id),
        other => at.finding(Code::MetadataOther, Error).actual(other.code()),
    }
}
