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
mod json;
mod metadata;
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
pub use recording::{CallIdSource, Chunk, Problem, Recording, EVENT_FILE};
pub use time::{format_timestamp, parse_timestamp, Nanos};
pub use timeline::{
    ChunkLayout, LayoutPause, MediaRange, Segment, SegmentKind, Timeline, TimelineIssue, WallRange,
};

use base64::Engine as _;

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
