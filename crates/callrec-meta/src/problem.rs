//! What is wrong with a recording that does not stop it from being read.

use std::path::PathBuf;

use crate::error::Error;
use crate::recording::CallIdSource;
use crate::time::Nanos;

/// Something wrong with a recording that does not stop it from being read. Each names the chunk
/// (index and documentId) or the field concerned, and has a stable [`Problem::code`].
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Problem {
    /// No chunk has these indices (between 0 and the highest index present).
    #[error("{}", if first == last { format!("chunk index {first} is missing") } else { format!("chunk indices {first} to {last} are missing") })]
    MissingIndex {
        /// First missing index.
        first: u32,
        /// Last missing index (inclusive).
        last: u32,
    },
    /// More than one chunk has this index.
    #[error("chunk index {index} is used by {} chunks: {}", document_ids.len(), document_ids.join(", "))]
    DuplicateIndex {
        /// The index.
        index: u32,
        /// The chunks' documentIds.
        document_ids: Vec<String>,
    },
    /// The event lists one documentId for more than one chunk: one file cannot be two chunks.
    /// The later listings get neither the first one's metadata nor its media.
    #[error("the event lists documentId {document_id} for chunks {}", indices.iter().map(u32::to_string).collect::<Vec<_>>().join(", "))]
    DuplicateDocumentId {
        /// The documentId listed more than once.
        document_id: String,
        /// The indices the event gives it, in event order.
        indices: Vec<u32>,
    },
    /// The event lists a documentId that cannot be a file name of the directory
    /// ([`naming::invalid_document_id`]: `../victim/X`, an absolute path): its files are not
    /// looked for, and the chunk cannot be stitched.
    #[error("{field}: documentId {document_id:?} is invalid: {reason}")]
    InvalidDocumentId {
        /// The chunk's index.
        index: u32,
        /// The documentId as the event gives it.
        document_id: String,
        /// The JSON field (`data.recordingStorageInfo.recordingChunks[1].documentId`).
        field: String,
        /// Why it is invalid.
        reason: &'static str,
    },
    /// The event lists the chunk but its media file is absent.
    #[error("chunk {index} ({document_id}): media file {} is absent", expected.display())]
    MediaAbsent {
        /// The chunk's index.
        index: u32,
        /// Its documentId.
        document_id: String,
        /// Where the file should be.
        expected: PathBuf,
    },
    /// The chunk has no metadata file.
    #[error("chunk {index} ({document_id}): metadata is absent{}", expected.as_ref().map(|p| format!(" ({})", p.display())).unwrap_or_default())]
    MetadataAbsent {
        /// The chunk's index.
        index: u32,
        /// Its documentId.
        document_id: String,
        /// Where the file should be (directories only).
        expected: Option<PathBuf>,
    },
    /// A metadata file (or value) that the event does not list.
    #[error("chunk {index} ({document_id}): metadata is not listed by the event")]
    MetadataNotListed {
        /// The metadata's `chunkIndex`.
        index: u32,
        /// Its `chunkDocumentId`.
        document_id: String,
        /// The file, if read from a directory.
        path: Option<PathBuf>,
    },
    /// The event's `index` and the metadata's `chunkIndex` disagree.
    #[error("chunk {document_id}: the event gives index {event_index}, its metadata chunkIndex {metadata_index}")]
    IndexMismatch {
        /// The chunk's documentId.
        document_id: String,
        /// The event's `index`.
        event_index: u32,
        /// The metadata's `chunkIndex`.
        metadata_index: u32,
    },
    /// A chunk's `callId` differs from the recording's.
    #[error("chunk {index} ({document_id}): callId {actual} differs from {expected} given by {source_of_expected}")]
    CallIdMismatch {
        /// The chunk's index.
        index: u32,
        /// Its documentId.
        document_id: String,
        /// The recording's callId.
        expected: String,
        /// Where `expected` comes from.
        source_of_expected: CallIdSource,
        /// The chunk's `callId`.
        actual: String,
    },
    /// A metadata file that cannot be read or parsed (the error names the file and JSON path).
    #[error("{}metadata is invalid: {error}", index.map(|i| format!("chunk {i} ({document_id}): ")).unwrap_or_else(|| format!("chunk {document_id}: ")))]
    MetadataInvalid {
        /// The chunk's index, if the event lists it.
        index: Option<u32>,
        /// The documentId (the file stem).
        document_id: String,
        /// What is wrong.
        error: Error,
    },
    /// A metadata file whose `chunkDocumentId` differs from its file name.
    #[error("chunk {index} ({file_document_id}): chunkDocumentId is {chunk_document_id}, not the file name's")]
    DocumentIdMismatch {
        /// The chunk's index.
        index: u32,
        /// The documentId the file name gives.
        file_document_id: String,
        /// The documentId inside.
        chunk_document_id: String,
    },
    /// A media file that neither the event nor any metadata lists.
    #[error("media file {} is listed by neither the event nor any metadata", path.display())]
    MediaNotListed {
        /// The file stem.
        document_id: String,
        /// The file.
        path: PathBuf,
    },
    /// There is no event: chunks are ordered by their metadata's `chunkIndex`.
    #[error("no event.json: chunks are ordered by their metadata's chunkIndex")]
    EventAbsent,
    /// The event lists no chunk.
    #[error("the event lists no chunk (data.recordingStorageInfo.recordingChunks is empty)")]
    NoChunks,
    /// The event's `recordingDurationMs` differs from the sum of the chunks' `chunkDuration` by
    /// a millisecond or more.
    #[error("recordingDurationMs is {event_ms} but the chunks' chunkDuration add up to {metadata_total}")]
    DurationMismatch {
        /// The event's `recordingDurationMs`.
        event_ms: u64,
        /// The sum of `chunkDuration`.
        metadata_total: Nanos,
    },
}

impl Problem {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Problem::MissingIndex { .. } => "missing_index",
            Problem::DuplicateIndex { .. } => "duplicate_index",
            Problem::DuplicateDocumentId { .. } => "duplicate_document_id",
            Problem::MediaAbsent { .. } => "media_absent",
            Problem::InvalidDocumentId { .. } => "invalid_document_id",
            Problem::MetadataAbsent { .. } => "metadata_absent",
            Problem::MetadataNotListed { .. } => "metadata_not_listed",
            Problem::IndexMismatch { .. } => "index_mismatch",
            Problem::CallIdMismatch { .. } => "call_id_mismatch",
            Problem::MetadataInvalid { .. } => "metadata_invalid",
            Problem::DocumentIdMismatch { .. } => "document_id_mismatch",
            Problem::MediaNotListed { .. } => "media_not_listed",
            Problem::EventAbsent => "event_absent",
            Problem::NoChunks => "no_chunks",
            Problem::DurationMismatch { .. } => "duration_mismatch",
        }
    }

    /// The chunk index concerned, when there is one.
    pub fn chunk(&self) -> Option<u32> {
        match self {
            Problem::MissingIndex { first, .. } => Some(*first),
            Problem::DuplicateIndex { index, .. }
            | Problem::MediaAbsent { index, .. }
            | Problem::InvalidDocumentId { index, .. }
            | Problem::MetadataAbsent { index, .. }
            | Problem::MetadataNotListed { index, .. }
            | Problem::CallIdMismatch { index, .. }
            | Problem::DocumentIdMismatch { index, .. } => Some(*index),
            Problem::IndexMismatch { event_index, .. } => Some(*event_index),
            Problem::DuplicateDocumentId { indices, .. } => indices.get(1).copied(),
            Problem::MetadataInvalid { index, .. } => *index,
            _ => None,
        }
    }

    /// The documentId concerned, when there is one.
    pub fn document_id(&self) -> Option<&str> {
        match self {
            Problem::MediaAbsent { document_id, .. }
            | Problem::InvalidDocumentId { document_id, .. }
            | Problem::MetadataAbsent { document_id, .. }
            | Problem::MetadataNotListed { document_id, .. }
            | Problem::IndexMismatch { document_id, .. }
            | Problem::CallIdMismatch { document_id, .. }
            | Problem::MetadataInvalid { document_id, .. }
            | Problem::MediaNotListed { document_id, .. }
            | Problem::DuplicateDocumentId { document_id, .. } => Some(document_id),
            Problem::DocumentIdMismatch {
                file_document_id, ..
            } => Some(file_document_id),
            _ => None,
        }
    }
}
