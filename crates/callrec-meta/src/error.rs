//! The crate's error type.

use std::path::PathBuf;
use std::sync::Arc;

/// Everything that can stop callrec-meta from reading an event, a metadata file or a recording.
///
/// Per-chunk trouble in a recording is not an error: it is a [`crate::Problem`] in
/// [`crate::Recording::problems`].
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file or directory could not be read.
    #[error("{}: cannot read: {error}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        error: Arc<std::io::Error>,
    },
    /// The bytes are not JSON at all.
    #[error("{}: not valid JSON: {message}", file.display())]
    Syntax {
        /// The file.
        file: PathBuf,
        /// serde_json's message, with line and column.
        message: String,
    },
    /// A field is missing or has the wrong type or value.
    #[error("{}: {path}: {message}", file.display())]
    Field {
        /// The file.
        file: PathBuf,
        /// The JSON path of the field (`recordingInfo.videoConfiguration.framerate`,
        /// `[0].data.recordingStartTime`; `.` for the document itself).
        path: String,
        /// What is wrong (`expected a number, found "eight"`).
        message: String,
    },
    /// An event file holds no event of the expected type.
    #[error("{}: no {expected} event (found: {})", file.display(), if found.is_empty() { "none".to_string() } else { found.join(", ") })]
    NoEvent {
        /// The file.
        file: PathBuf,
        /// The event type looked for.
        expected: &'static str,
        /// The event types the file holds.
        found: Vec<String>,
    },
    /// An event file holds several `RecordingFileStatusUpdated` events (an Event Grid batch)
    /// and not exactly one of them lists a chunk of the directory: which one describes the
    /// recording cannot be told, so none is taken.
    #[error("{}: {events} RecordingFileStatusUpdated events, {}", file.display(), match matching.len() {
        0 => "none of which lists a chunk of this directory".to_string(),
        _ => format!("{} of which ({}) list chunks of this directory: keep only this recording's event", matching.len(), matching.join(", ")),
    })]
    AmbiguousEvent {
        /// The file.
        file: PathBuf,
        /// How many recording events it holds.
        events: usize,
        /// The JSON paths (`[0]`, `[2]`) of the events that list a chunk of the directory.
        matching: Vec<String>,
    },
    /// Where a JSON file belongs there is something else: a directory, FIFO, device or socket
    /// (reading a FIFO would block forever).
    #[error("{}: not a regular file", path.display())]
    NotAFile {
        /// The path.
        path: PathBuf,
    },
    /// A JSON file is larger than callrec reads ([`crate::MAX_JSON_BYTES`]): real events and
    /// chunk metadata are a few KiB.
    #[error("{}: {size} bytes, more than the {limit} bytes a metadata or event file may have", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size (at least `limit + 1` when it grew while read).
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// A directory holds neither `event.json` nor any chunk metadata.
    #[error("{}: not a recording: neither event.json nor any chunk metadata", dir.display())]
    NotARecording {
        /// The directory.
        dir: PathBuf,
    },
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, e: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            error: Arc::new(e),
        }
    }

    /// The JSON path of the offending field, for [`Error::Field`].
    pub fn json_path(&self) -> Option<&str> {
        match self {
            Error::Field { path, .. } => Some(path),
            _ => None,
        }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
