//! [`Timeline::build`]: each chunk's own plan (its recorded stretches and pauses, relative to
//! its start), then the chunks placed one after another on the wall clock.

use super::{
    ChunkLayout, LayoutPause, MediaRange, Segment, Timeline, TimelineChunk, TimelineIssue,
    WallRange,
};
use crate::metadata::ChunkMetadata;
use crate::time::{add_nanos, Nanos};
use chrono::{DateTime, Utc};

/// A recorded stretch of a chunk, relative to the chunk's start.
struct Stretch {
    /// Where it starts on the wall clock.
    wall: Nanos,
    /// Where it starts in the chunk's media.
    media: Nanos,
    /// How long it lasts (wall and media alike).
    len: Nanos,
}

/// A pause of a chunk, relative to the chunk's start.
struct Pause {
    /// Where it starts on the wall clock.
    wall: Nanos,
    /// How long it lasts on the wall clock.
    duration: Nanos,
    /// The media offset it starts at.
    media_offset: Nanos,
}

/// A chunk's own plan, relative to its start: its recorded stretches and pauses.
struct ChunkPlan {
    recorded: Vec<Stretch>,
    pauses: Vec<Pause>,
    /// Wall length of the chunk.
    wall_len: Nanos,
    /// Media length.
    media_len: Nanos,
}

/// A pause as the metadata writes it, once its duration is known not to be negative.
struct WrittenPause {
    /// Its position in `pauseResumeIntervals`.
    position: usize,
    /// Its wall start relative to the chunk's start.
    start: Nanos,
    /// Its duration.
    duration: Nanos,
}

/// The plan of chunk `index` from its metadata; what is inconsistent goes to `issues`.
fn plan_chunk(index: u32, m: &ChunkMetadata, issues: &mut Vec<TimelineIssue>) -> ChunkPlan {
    let mut dur = m.chunk_duration;
    if dur.is_negative() {
        issues.push(TimelineIssue::NegativeChunkDuration {
            chunk: index,
            duration: dur,
        });
        dur = Nanos::ZERO;
    }
    let pauses = written_pauses(index, m, issues);
    lay_out_pauses(index, dur, pauses, issues)
}

/// The pauses with a non-negative duration, in wall order (then as written).
fn written_pauses(
    index: u32,
    m: &ChunkMetadata,
    issues: &mut Vec<TimelineIssue>,
) -> Vec<WrittenPause> {
    let mut pauses = Vec::new();
    let mut prev_start: Option<Nanos> = None;
    for (i, p) in m.pause_resume_intervals.iter().enumerate() {
        let rel = Nanos::between(m.chunk_start_time, p.start_time);
        if let Some(ps) = prev_start {
            if rel < ps {
                issues.push(TimelineIssue::PausesOutOfOrder {
                    chunk: index,
                    pause: i,
                });
            }
        }
        prev_start = Some(rel);
        if p.duration.is_negative() {
            issues.push(TimelineIssue::NegativePauseDuration {
                chunk: index,
                pause: i,
                duration: p.duration,
            });
            continue;
        }
        pauses.push(WrittenPause {
            position: i,
            start: rel,
            duration: p.duration,
        });
    }
    pauses.sort_by_key(|p| (p.start, p.position));
    pauses
}

/// Walks `dur` of media and the sorted pauses: an overlapping pause is cut to start where the
/// one before ended, a pause past the media's end is dropped, the media between pauses is
/// recorded.
fn lay_out_pauses(
    index: u32,
    dur: Nanos,
    pauses: Vec<WrittenPause>,
    issues: &mut Vec<TimelineIssue>,
) -> ChunkPlan {
    let mut plan = ChunkPlan {
        recorded: Vec::new(),
        pauses: Vec::new(),
        wall_len: Nanos::ZERO,
        media_len: dur,
    };
    let mut w = Nanos::ZERO; // wall cursor
    let mut media = Nanos::ZERO; // media cursor
    for WrittenPause {
        position: i,
        start: rel,
        duration: d,
    } in pauses
    {
        let mut start = rel;
        let mut d = d;
        if start < Nanos::ZERO {
            issues.push(TimelineIssue::PauseBeforeChunkStart {
                chunk: index,
                pause: i,
                by: -start,
            });
        } else if start < w {
            issues.push(TimelineIssue::PausesOverlap {
                chunk: index,
                pause: i,
                overlap: w - start,
            });
        }
        if start < w {
            d = (start + d - w).clamp_non_negative();
            start = w;
        }
        let offset = media + (start - w);
        if offset > dur {
            issues.push(TimelineIssue::PauseAfterChunkEnd {
                chunk: index,
                pause: i,
                by: offset - dur,
            });
            continue;
        }
        if d == Nanos::ZERO {
            continue;
        }
        if start > w {
            plan.recorded.push(Stretch {
                wall: w,
                media,
                len: start - w,
            });
        }
        media = offset;
        plan.pauses.push(Pause {
            wall: start,
            duration: d,
            media_offset: offset,
        });
        w = start + d;
    }
    if dur > media {
        plan.recorded.push(Stretch {
            wall: w,
            media,
            len: dur - media,
        });
        w += dur - media;
    }
    plan.wall_len = w;
    plan
}

/// The timeline as it is built, chunk by chunk. Every `Nanos` is relative to `tl.start`.
struct Builder {
    tl: Timeline,
    /// Where the previous chunk (with metadata) ends.
    prev_end: Nanos,
    /// That chunk's index.
    prev_chunk: Option<u32>,
    /// Where the previous present chunk ends.
    layout_prev_end: Nanos,
    /// The media of the present chunks so far.
    media_total: Nanos,
    /// The first chunk without media or metadata since the last placed chunk.
    pending_missing: Option<u32>,
    /// The end of the last emitted segment.
    covered_to: Nanos,
}

impl Timeline {
    /// Build the timeline of chunks already in index order.
    pub(crate) fn build(
        recording_start: Option<DateTime<Utc>>,
        chunks: &[TimelineChunk<'_>],
    ) -> Timeline {
        let first_start = chunks
            .iter()
            .find_map(|c| c.metadata.map(|m| m.chunk_start_time));
        let recording_start = recording_start
            .or(first_start)
            .unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
        let start = match first_start {
            Some(f) if f < recording_start => f,
            _ => recording_start,
        };
        let mut b = Builder {
            tl: Timeline {
                recording_start,
                start,
                segments: Vec::new(),
                recorded: Vec::new(),
                layout: Vec::new(),
                issues: Vec::new(),
            },
            prev_end: Nanos::between(start, recording_start),
            prev_chunk: None,
            layout_prev_end: Nanos::ZERO,
            media_total: Nanos::ZERO,
            pending_missing: None,
            covered_to: Nanos::ZERO,
        };
        for c in chunks {
            match c.metadata {
                Some(m) => b.chunk(c, m),
                None => b.unplaced(c),
            }
        }
        b.tl
    }
}

impl Builder {
    /// The wall instant `n` after the timeline's start.
    fn at(&self, n: Nanos) -> DateTime<Utc> {
        add_nanos(self.tl.start, n)
    }

    /// A chunk without metadata: not placed; without media too, it is missing.
    fn unplaced(&mut self, c: &TimelineChunk<'_>) {
        if c.media_present {
            self.tl.issues.push(TimelineIssue::ChunkNotPlaced {
                chunk: c.index,
                document_id: c.document_id.to_string(),
            });
        } else {
            self.pending_missing.get_or_insert(c.index);
        }
    }

    /// A chunk with metadata `m`: placed after what came before, its segments emitted.
    fn chunk(&mut self, c: &TimelineChunk<'_>, m: &ChunkMetadata) {
        let plan = plan_chunk(c.index, m, &mut self.tl.issues);
        let cs = self.place(c.index, m);
        self.fill_to(cs);
        let end = cs + plan.wall_len;
        if !c.media_present {
            if end > cs {
                let wall = WallRange {
                    start: self.at(cs),
                    end: self.at(end),
                };
                self.tl.segments.push(Segment::Missing {
                    wall,
                    chunk: c.index,
                });
            }
        } else {
            self.present(c, &plan, cs, end);
        }
        self.covered_to = self.covered_to.max(end);
        self.prev_end = end;
        self.prev_chunk = Some(c.index);
    }

    /// Where chunk `index` starts: its chunkStartTime, moved to the previous chunk's end when
    /// it overlaps that chunk; a gap or overlap is an issue.
    fn place(&mut self, index: u32, m: &ChunkMetadata) -> Nanos {
        let mut cs = Nanos::between(self.tl.start, m.chunk_start_time);
        if cs > self.prev_end {
            self.tl.issues.push(TimelineIssue::ChunkGap {
                chunk: index,
                previous: self.prev_chunk,
                gap: cs - self.prev_end,
            });
        } else if cs < self.prev_end {
            self.tl.issues.push(TimelineIssue::ChunkOverlap {
                chunk: index,
                previous: self.prev_chunk,
                overlap: self.prev_end - cs,
            });
            if self.prev_chunk.is_some() {
                cs = self.prev_end;
            }
        }
        cs
    }

    /// A gap (or the missing chunk pending) from what is covered up to `cs`.
    fn fill_to(&mut self, cs: Nanos) {
        if cs > self.covered_to {
            let wall = WallRange {
                start: self.at(self.covered_to),
                end: self.at(cs),
            };
            self.tl.segments.push(match self.pending_missing.take() {
                Some(chunk) => Segment::Missing { wall, chunk },
                None => Segment::Gap { wall },
            });
        }
        self.pending_missing = None;
    }

    /// A present chunk from `cs` to `end`: its recorded stretches and pauses in wall order,
    /// and its layout.
    fn present(&mut self, c: &TimelineChunk<'_>, plan: &ChunkPlan, cs: Nanos, end: Nanos) {
        let mut items: Vec<(Nanos, Segment)> = Vec::new();
        for s in &plan.recorded {
            let media = MediaRange {
                start: self.media_total + s.media,
                end: self.media_total + s.media + s.len,
            };
            let wall = WallRange {
                start: self.at(cs + s.wall),
                end: self.at(cs + s.wall + s.len),
            };
            let chunk = c.index;
            items.push((s.wall, Segment::Recorded { wall, media, chunk }));
        }
        for p in &plan.pauses {
            let wall = WallRange {
                start: self.at(cs + p.wall),
                end: self.at(cs + p.wall + p.duration),
            };
            let chunk = c.index;
            items.push((p.wall, Segment::Paused { wall, chunk }));
        }
        items.sort_by_key(|(w, _)| *w);
        for (_, s) in items {
            if matches!(s, Segment::Recorded { .. }) {
                self.tl.recorded.push(self.tl.segments.len());
            }
            self.tl.segments.push(s);
        }
        let layout = ChunkLayout {
            chunk: c.index,
            document_id: c.document_id.to_string(),
            gap_before: (cs - self.layout_prev_end).clamp_non_negative(),
            wall: WallRange {
                start: self.at(cs),
                end: self.at(end),
            },
            media: MediaRange {
                start: self.media_total,
                end: self.media_total + plan.media_len,
            },
            pauses: plan
                .pauses
                .iter()
                .map(|p| LayoutPause {
                    media_offset: p.media_offset,
                    duration: p.duration,
                })
                .collect(),
        };
        self.tl.layout.push(layout);
        self.layout_prev_end = end;
        self.media_total += plan.media_len;
    }
}
