//! The wall-clock timeline of a recording: where each stretch of media sits on the wall clock,
//! where the pauses, gaps and missing chunks are, and the exact maps between media time and
//! wall time.
//!
//! **Media time** is the offset from the start of the stitched (compact) recording: the
//! concatenation of the present chunks' `chunkDuration`, with no time for pauses, gaps or
//! absent chunks. **Wall time** is a UTC instant. Both are exact to the nanosecond
//! ([`Nanos`]); the service's millisecond durations and 7-digit timestamps never round.
//!
//! The time model (DOMAIN.md): media time `t` of chunk k maps to
//! `chunkStartTime_k + t + (durations of k's pauses that started at or before t)`. A pause's
//! media offset is `(startTime - chunkStartTime) - (durations of the earlier pauses)`.

use crate::metadata::ChunkMetadata;
use crate::time::{add_nanos, Nanos};
use chrono::{DateTime, Utc};

use std::fmt;

mod build;

/// A half-open wall-clock interval `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WallRange {
    /// First instant inside.
    pub start: DateTime<Utc>,
    /// First instant after.
    pub end: DateTime<Utc>,
}

impl WallRange {
    /// `end - start`.
    pub fn duration(&self) -> Nanos {
        Nanos::between(self.start, self.end)
    }

    /// `start <= t < end`.
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.start <= t && t < self.end
    }
}

/// A half-open media interval `[start, end)` (offsets into the stitched recording).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MediaRange {
    /// First offset inside.
    pub start: Nanos,
    /// First offset after.
    pub end: Nanos,
}

impl MediaRange {
    /// `end - start`.
    pub fn duration(&self) -> Nanos {
        self.end - self.start
    }

    /// `start <= t < end`.
    pub fn contains(&self, t: Nanos) -> bool {
        self.start <= t && t < self.end
    }
}

/// The kind of a [`Segment`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SegmentKind {
    /// Media was recorded.
    Recorded,
    /// The recording was paused.
    Paused,
    /// Nothing between two chunks.
    Gap,
    /// A chunk that is listed but whose media is absent.
    Missing,
}

impl SegmentKind {
    /// `recorded`, `paused`, `gap` or `missing` (the JSON spelling).
    pub fn as_str(self) -> &'static str {
        match self {
            SegmentKind::Recorded => "recorded",
            SegmentKind::Paused => "paused",
            SegmentKind::Gap => "gap",
            SegmentKind::Missing => "missing",
        }
    }
}

impl fmt::Display for SegmentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One stretch of the wall clock. Segments are non-empty, half-open, sorted and contiguous.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Segment {
    /// Chunk `chunk` recorded media `media` during `wall` (same length).
    Recorded {
        /// Wall-clock span.
        wall: WallRange,
        /// Media span in the stitched recording.
        media: MediaRange,
        /// Chunk index.
        chunk: u32,
    },
    /// Chunk `chunk` was paused during `wall`.
    Paused {
        /// Wall-clock span.
        wall: WallRange,
        /// Chunk index.
        chunk: u32,
    },
    /// No chunk covers `wall` (between chunks, or before the first one).
    Gap {
        /// Wall-clock span.
        wall: WallRange,
    },
    /// Chunk `chunk` is listed but its media is absent; `wall` is the span its metadata gives
    /// (or, without metadata, the gap it leaves).
    Missing {
        /// Wall-clock span.
        wall: WallRange,
        /// Chunk index.
        chunk: u32,
    },
}

impl Segment {
    /// The wall-clock span.
    pub fn wall(&self) -> WallRange {
        match *self {
            Segment::Recorded { wall, .. }
            | Segment::Paused { wall, .. }
            | Segment::Gap { wall }
            | Segment::Missing { wall, .. } => wall,
        }
    }

    /// The media span (recorded segments only).
    pub fn media(&self) -> Option<MediaRange> {
        match *self {
            Segment::Recorded { media, .. } => Some(media),
            _ => None,
        }
    }

    /// The chunk index (not for gaps).
    pub fn chunk(&self) -> Option<u32> {
        match *self {
            Segment::Recorded { chunk, .. }
            | Segment::Paused { chunk, .. }
            | Segment::Missing { chunk, .. } => Some(chunk),
            Segment::Gap { .. } => None,
        }
    }

    /// The kind.
    pub fn kind(&self) -> SegmentKind {
        match self {
            Segment::Recorded { .. } => SegmentKind::Recorded,
            Segment::Paused { .. } => SegmentKind::Paused,
            Segment::Gap { .. } => SegmentKind::Gap,
            Segment::Missing { .. } => SegmentKind::Missing,
        }
    }
}

/// A pause as a wall-clock stitch needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LayoutPause {
    /// Where the pause starts, as a media offset from the start of its chunk (0 for a chunk
    /// that starts paused; the chunk's duration for a pause at its very end).
    pub media_offset: Nanos,
    /// How long the pause lasts on the wall clock (> 0).
    pub duration: Nanos,
}

/// How one present chunk sits on the wall clock: what `--wall-clock` stitching needs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ChunkLayout {
    /// The chunk index.
    pub chunk: u32,
    /// Its documentId.
    pub document_id: String,
    /// The wall-clock time between the previous present chunk's wall end (for the first chunk:
    /// [`Timeline::start`]) and this chunk's start: gaps and absent chunks. Never negative
    /// (overlapping chunks are moved later; see [`TimelineIssue::ChunkOverlap`]).
    pub gap_before: Nanos,
    /// The chunk's span on the wall clock, pauses included.
    pub wall: WallRange,
    /// The chunk's media in the stitched recording (length = its `chunkDuration`).
    pub media: MediaRange,
    /// Its pauses in order, validated (non-overlapping, inside the chunk, positive).
    pub pauses: Vec<LayoutPause>,
}

/// Something inconsistent in the metadata's times. The timeline is still built (the rule each
/// variant applies is in its doc); `callrec-check` turns these into findings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TimelineIssue {
    /// A chunk without (valid) metadata whose media is present: it has no place on the wall
    /// clock and no media range in the timeline.
    #[error("chunk {chunk} ({document_id}): no metadata, so it has no place on the wall clock")]
    ChunkNotPlaced {
        /// Chunk index.
        chunk: u32,
        /// documentId.
        document_id: String,
    },
    /// `chunkDuration` is negative (read as 0).
    #[error("chunk {chunk}: chunkDuration is negative ({duration})")]
    NegativeChunkDuration {
        /// Chunk index.
        chunk: u32,
        /// The duration.
        duration: Nanos,
    },
    /// A pause's `duration` is negative (the pause is ignored).
    #[error("chunk {chunk}: pauseResumeIntervals[{pause}].duration is negative ({duration})")]
    NegativePauseDuration {
        /// Chunk index.
        chunk: u32,
        /// Position in `pauseResumeIntervals`.
        pause: usize,
        /// The duration.
        duration: Nanos,
    },
    /// A pause is listed after one that starts later (pauses are sorted by start time).
    #[error("chunk {chunk}: pauseResumeIntervals[{pause}].startTime is earlier than the pause listed before it")]
    PausesOutOfOrder {
        /// Chunk index.
        chunk: u32,
        /// Position in `pauseResumeIntervals`.
        pause: usize,
    },
    /// A pause starts before the previous one (in time order) ends: the overlapping part is
    /// counted once.
    #[error("chunk {chunk}: pauseResumeIntervals[{pause}] starts {overlap} before the previous pause ends")]
    PausesOverlap {
        /// Chunk index.
        chunk: u32,
        /// Position in `pauseResumeIntervals`.
        pause: usize,
        /// How much they overlap.
        overlap: Nanos,
    },
    /// A pause starts before its chunk's `chunkStartTime`: the part before is dropped (what
    /// remains, if any, becomes a pause at the chunk's start).
    #[error(
        "chunk {chunk}: pauseResumeIntervals[{pause}].startTime is {by} before chunkStartTime"
    )]
    PauseBeforeChunkStart {
        /// Chunk index.
        chunk: u32,
        /// Position in `pauseResumeIntervals`.
        pause: usize,
        /// How much earlier.
        by: Nanos,
    },
    /// A pause starts after its chunk's media has ended (its media offset is past
    /// `chunkDuration`): it is dropped.
    #[error(
        "chunk {chunk}: pauseResumeIntervals[{pause}] starts {by} after the chunk's media ends"
    )]
    PauseAfterChunkEnd {
        /// Chunk index.
        chunk: u32,
        /// Position in `pauseResumeIntervals`.
        pause: usize,
        /// How much later than the chunk's end (in media time).
        by: Nanos,
    },
    /// The chunk starts later than the previous chunk's wall end (or than
    /// `recordingStartTime`): a gap.
    #[error("chunk {chunk}: starts {gap} after {}", match previous { Some(p) => format!("chunk {p} ends"), None => "recordingStartTime".to_string() })]
    ChunkGap {
        /// Chunk index.
        chunk: u32,
        /// The previous placed chunk (`None`: measured from `recordingStartTime`).
        previous: Option<u32>,
        /// The gap.
        gap: Nanos,
    },
    /// The chunk starts before the previous chunk's wall end (or before `recordingStartTime`).
    /// A chunk overlapping a previous one is moved to start where that one ends, so the maps
    /// stay monotonic; a first chunk before `recordingStartTime` stays and the timeline starts
    /// with it.
    #[error("chunk {chunk}: starts {overlap} before {}", match previous { Some(p) => format!("chunk {p} ends"), None => "recordingStartTime".to_string() })]
    ChunkOverlap {
        /// Chunk index.
        chunk: u32,
        /// The previous placed chunk (`None`: `recordingStartTime`).
        previous: Option<u32>,
        /// The overlap.
        overlap: Nanos,
    },
}

impl TimelineIssue {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            TimelineIssue::ChunkNotPlaced { .. } => "chunk_not_placed",
            TimelineIssue::NegativeChunkDuration { .. } => "negative_chunk_duration",
            TimelineIssue::NegativePauseDuration { .. } => "negative_pause_duration",
            TimelineIssue::PausesOutOfOrder { .. } => "pauses_out_of_order",
            TimelineIssue::PausesOverlap { .. } => "pauses_overlap",
            TimelineIssue::PauseBeforeChunkStart { .. } => "pause_before_chunk_start",
            TimelineIssue::PauseAfterChunkEnd { .. } => "pause_after_chunk_end",
            TimelineIssue::ChunkGap { .. } => "chunk_gap",
            TimelineIssue::ChunkOverlap { .. } => "chunk_overlap",
        }
    }

    /// The chunk index concerned.
    pub fn chunk(&self) -> u32 {
        match self {
            TimelineIssue::ChunkNotPlaced { chunk, .. }
            | TimelineIssue::NegativeChunkDuration { chunk, .. }
            | TimelineIssue::NegativePauseDuration { chunk, .. }
            | TimelineIssue::PausesOutOfOrder { chunk, .. }
            | TimelineIssue::PausesOverlap { chunk, .. }
            | TimelineIssue::PauseBeforeChunkStart { chunk, .. }
            | TimelineIssue::PauseAfterChunkEnd { chunk, .. }
            | TimelineIssue::ChunkGap { chunk, .. }
            | TimelineIssue::ChunkOverlap { chunk, .. } => *chunk,
        }
    }

    /// The size of the inconsistency, where it has one (gap, overlap, distance outside).
    pub fn size(&self) -> Option<Nanos> {
        match self {
            TimelineIssue::NegativeChunkDuration { duration, .. }
            | TimelineIssue::NegativePauseDuration { duration, .. } => Some(*duration),
            TimelineIssue::PausesOverlap { overlap, .. }
            | TimelineIssue::ChunkOverlap { overlap, .. } => Some(*overlap),
            TimelineIssue::PauseBeforeChunkStart { by, .. }
            | TimelineIssue::PauseAfterChunkEnd { by, .. } => Some(*by),
            TimelineIssue::ChunkGap { gap, .. } => Some(*gap),
            _ => None,
        }
    }
}

/// What [`Timeline::build`] needs of a chunk.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TimelineChunk<'a> {
    pub index: u32,
    pub document_id: &'a str,
    pub metadata: Option<&'a ChunkMetadata>,
    pub media_present: bool,
}

/// The wall-clock timeline: sorted, contiguous, half-open [`Segment`]s, the maps between media
/// and wall time, and the validation issues found on the way.
///
/// ```
/// use callrec_meta::{parse_timestamp, ChunkMetadata, Nanos, PauseInterval, Recording};
/// let t0 = parse_timestamp("2024-05-16T10:20:30.125Z").unwrap();
/// let mut m = ChunkMetadata::new("call", "doc0", 0, t0, Nanos::from_millis(5000));
/// m.pause_resume_intervals.push(PauseInterval::new(
///     t0 + chrono::TimeDelta::milliseconds(2000), Nanos::from_millis(7000)));
/// let tl = Recording::from_parts(None, vec![m]).timeline();
/// assert_eq!(tl.media_total(), Nanos::from_millis(5000));
/// assert_eq!(tl.wall_total(), Nanos::from_millis(12000));
/// // media 3 s is 1 s after the pause, which ran from wall +2 s to +9 s
/// let w = tl.media_to_wall(Nanos::from_millis(3000)).unwrap();
/// assert_eq!(w, t0 + chrono::TimeDelta::milliseconds(10_000));
/// assert_eq!(tl.wall_to_media(w), Some(Nanos::from_millis(3000)));
/// assert_eq!(tl.wall_to_media(t0 + chrono::TimeDelta::milliseconds(5000)), None); // paused
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Timeline {
    pub(crate) recording_start: DateTime<Utc>,
    pub(crate) start: DateTime<Utc>,
    pub(crate) segments: Vec<Segment>,
    /// Indices into `segments` of the recorded ones (sorted by media and by wall).
    pub(crate) recorded: Vec<usize>,
    pub(crate) layout: Vec<ChunkLayout>,
    pub(crate) issues: Vec<TimelineIssue>,
}

impl Timeline {
    /// `recordingStartTime` from the event (else the first chunk's `chunkStartTime`).
    pub fn recording_start(&self) -> DateTime<Utc> {
        self.recording_start
    }

    /// Where the timeline starts: [`Self::recording_start`], or the first chunk's start if that
    /// is earlier. Wall-clock playback positions count from here.
    pub fn start(&self) -> DateTime<Utc> {
        self.start
    }

    /// Where the last segment ends ([`Self::start`] when there is none).
    pub fn end(&self) -> DateTime<Utc> {
        self.segments.last().map_or(self.start, |s| s.wall().end)
    }

    /// The segments: non-empty, half-open, sorted, contiguous from [`Self::start`].
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// The validation issues, in chunk order.
    pub fn issues(&self) -> &[TimelineIssue] {
        &self.issues
    }

    /// Per present chunk, in index order: the gap before it, its media range, its pauses.
    pub fn chunk_layout(&self) -> &[ChunkLayout] {
        &self.layout
    }

    /// The recorded segment containing media offset `t`.
    fn recorded_at_media(&self, t: Nanos) -> Option<(WallRange, MediaRange, u32)> {
        let i = self.recorded.partition_point(|&i| match self.segments[i] {
            Segment::Recorded { media, .. } => media.end <= t,
            _ => true,
        });
        match self.segments.get(*self.recorded.get(i)?)? {
            Segment::Recorded { wall, media, chunk } if media.contains(t) => {
                Some((*wall, *media, *chunk))
            }
            _ => None,
        }
    }

    /// The segment containing wall instant `w`.
    pub fn segment_at(&self, w: DateTime<Utc>) -> Option<&Segment> {
        let i = self.segments.partition_point(|s| s.wall().end <= w);
        self.segments.get(i).filter(|s| s.wall().contains(w))
    }

    /// The wall-clock instant of media offset `t` (`None` outside `[0, media_total)`). Exact;
    /// strictly increasing in `t`. A pause starting at media offset `t` is passed: `t` maps to
    /// the instant the recording resumed.
    pub fn media_to_wall(&self, t: Nanos) -> Option<DateTime<Utc>> {
        let (wall, media, _) = self.recorded_at_media(t)?;
        Some(add_nanos(wall.start, t - media.start))
    }

    /// The chunk index recording media offset `t`.
    pub fn chunk_at_media(&self, t: Nanos) -> Option<u32> {
        self.recorded_at_media(t).map(|(_, _, c)| c)
    }

    /// The media offset recorded at wall instant `w` (`None` inside a pause, gap or missing
    /// chunk, and outside the timeline). Exact; strictly increasing where defined.
    pub fn wall_to_media(&self, w: DateTime<Utc>) -> Option<Nanos> {
        match self.segment_at(w)? {
            Segment::Recorded { wall, media, .. } => {
                Some(media.start + Nanos::between(wall.start, w))
            }
            _ => None,
        }
    }

    fn total(&self, kind: SegmentKind) -> Nanos {
        self.segments
            .iter()
            .filter(|s| s.kind() == kind)
            .map(|s| s.wall().duration())
            .sum()
    }

    /// Total media (the stitched recording's length).
    pub fn media_total(&self) -> Nanos {
        self.layout.iter().map(|l| l.media.duration()).sum()
    }

    /// Total wall-clock span, `end - start`.
    pub fn wall_total(&self) -> Nanos {
        Nanos::between(self.start, self.end())
    }

    /// Total time paused.
    pub fn paused_total(&self) -> Nanos {
        self.total(SegmentKind::Paused)
    }

    /// Total time in gaps.
    pub fn gap_total(&self) -> Nanos {
        self.total(SegmentKind::Gap)
    }

    /// Total time of missing chunks.
    pub fn missing_total(&self) -> Nanos {
        self.total(SegmentKind::Missing)
    }
}
