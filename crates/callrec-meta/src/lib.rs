//! Everything Azure Communication Services tells us about a call recording, parsed tolerantly
//! and turned into an exact wall-clock timeline.
//!
//! - [`RecordingEvent`]: the `RecordingFileStatusUpdated` notification (Event Grid array, single
//!   event, or CloudEvents); [`CallLegStateChanged`]; [`conversation_id`].
//! - [`ChunkMetadata`]: a chunk's metadata, tolerant of the variants real files show.
//! - [`Recording`]: a directory (or values) matched up into chunks in index order, with every
//!   inconsistency as a [`Problem`].
//! - [`Timeline`]: [`Segment`]s on the wall clock, `media_to_wall`/`wall_to_media`, validation
//!   [`TimelineIssue`]s, the per-chunk [`ChunkLayout`] for wall-clock stitching, JSON and WebVTT.
//!
//! Times are exact: durations and media offsets are [`Nanos`] (i64 nanoseconds), instants are
//! `chrono::DateTime<Utc>`.
//!
//! ```
//! use callrec_meta::Recording;
//! use std::path::Path;
//! let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/recordings/paused");
//! let rec = Recording::load(&dir).unwrap();
//! assert!(rec.problems.is_empty());
//! let tl = rec.timeline();
//! assert_eq!(tl.media_total().as_millis_floor(), 15_000);
//! assert_eq!(tl.paused_total().as_millis_floor(), 11_750);
//! println!("{}", tl.to_webvtt());
//! ```

mod error;
mod event;
mod export;
mod json;
mod metadata;
mod problem;
mod recording;
mod time;
mod timeline;

pub use error::{Error, Result};
pub use event::{
    CallLegStateChanged, EventChunk, EventSchema, RecordingEvent, RecordingEventData,
    CALL_LEG_STATE_CHANGED, RECORDING_FILE_STATUS_UPDATED,
};
pub use metadata::{
    normalize_enum, AudioConfiguration, ChannelKind, ChunkMetadata, Classification, ContentKind,
    FormatKind, Participant, PauseInterval, RecordingInfo, VideoConfiguration,
};
pub use problem::Problem;
pub use recording::{naming, CallIdSource, Chunk, Recording, EVENT_FILE};
pub use time::{format_timestamp, parse_timestamp, Nanos};
pub use timeline::{
    ChunkLayout, LayoutPause, MediaRange, Segment, SegmentKind, Timeline, TimelineIssue, WallRange,
};

use base64::Engine as _;
use std::io::Read as _;
use std::path::Path;

/// The largest event or chunk metadata file callrec reads (16 MiB; real ones are a few KiB).
pub const MAX_JSON_BYTES: u64 = 16 << 20;

/// Reads an event or metadata JSON file: refused when it is not a regular file
/// ([`Error::NotAFile`]: a FIFO would block the reader forever) or larger than
/// [`MAX_JSON_BYTES`] ([`Error::TooLarge`]), without reading more than the limit.
///
/// ```
/// let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
/// let e = callrec_meta::read_json_file(dir).unwrap_err();
/// assert!(e.to_string().ends_with("not a regular file"), "{e}");
/// ```
pub fn read_json_file(path: &Path) -> Result<Vec<u8>> {
    let not_a_file = || Error::NotAFile {
        path: path.to_path_buf(),
    };
    let too_large = |size| Error::TooLarge {
        path: path.to_path_buf(),
        size,
        limit: MAX_JSON_BYTES,
    };
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if !meta.is_file() {
        return Err(not_a_file());
    }
    if meta.len() > MAX_JSON_BYTES {
        return Err(too_large(meta.len()));
    }
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    // Replaced between the two looks: check what was opened.
    if !file.metadata().map_err(|e| Error::io(path, e))?.is_file() {
        return Err(not_a_file());
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(MAX_JSON_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, e))?;
    if bytes.len() as u64 > MAX_JSON_BYTES {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(bytes)
}

/// The `conversationId` the recording API expects for a client's `conversationUrl`: the URL's
/// bytes in **Base64Url** (URL-safe alphabet `-` and `_`, no `=` padding), not plain Base64
/// (`btoa`), whose `+`, `/` and `=` break the request path.
///
/// ```
/// assert_eq!(callrec_meta::conversation_id("https://x/y?a=1"), "aHR0cHM6Ly94L3k_YT0x");
/// ```
pub fn conversation_id(conversation_url: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(conversation_url.as_bytes())
}
