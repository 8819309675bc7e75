//! The whole recording: every chunk's media against its metadata, the metadata layer's problems
//! and timeline issues, and the durations against the event.

use std::collections::HashSet;

use callrec_meta::{
    ChannelKind, Chunk, ChunkMetadata, FormatKind, Problem, Recording, TimelineIssue,
};
use serde_json::json;

use crate::compare::{Expected, ExpectedAudio, ExpectedVideo};
use crate::{check_chunk, ChunkRef, Code, Finding, Options, Report, Severity};

/// What a chunk's metadata says its media is.
///
/// A `channelType` of `audio` (by value, whichever key holds it) means no video is expected,
/// even when a `videoConfiguration` is present.
pub fn expected_of(m: &ChunkMetadata) -> Expected {
    let a = &m.recording_info.audio;
    let audio_only = m.recording_info.classify().channel == Some(ChannelKind::Audio);
    Expected {
        audio_only,
        video: m
            .recording_info
            .video
            .as_ref()
            .filter(|_| !audio_only)
            .map(|v| ExpectedVideo {
                longer_side: v.longer_side_length,
                shorter_side: v.shorter_side_length,
                frame_rate: v.framerate,
                bit_rate: Some(v.bit_rate),
            }),
        audio: Some(ExpectedAudio {
            sample_rate: a.sample_rate,
            channels: a.channels,
            bit_rate: Some(a.bit_rate),
        }),
        duration_ms: Some(m.chunk_duration.as_millis_f64()),
    }
}

/// Checks a whole recording. `media` runs parallel to `recording.chunks`: each chunk's file
/// bytes, or `None` when the file is absent (a shorter slice counts as `None` for the rest).
///
/// Returns every finding: the metadata layer's [`Problem`]s and [`TimelineIssue`]s, then per
/// chunk the media against its metadata, then the recording's total duration against the
/// event's `recordingDurationMs`. A wrong total is reported once: `duration.total` (from the
/// media) when every chunk was measured, else `duration.metadata_total` (from the
/// `chunkDuration` values).
pub fn check(recording: &Recording, media: &[Option<&[u8]>], opts: &Options) -> Report {
    let files: Vec<ChunkFile<'_>> = media
        .iter()
        .map(|m| m.map_or(ChunkFile::Absent, ChunkFile::Bytes))
        .collect();
    check_files(recording, &files, opts)
}

/// A chunk's media file as the caller found it (see [`check_files`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkFile<'a> {
    /// No file: a `file.missing` (or `chunk.absent`) finding.
    Absent,
    /// The file's bytes.
    Bytes(&'a [u8]),
    /// The file is there but could not be read: a `file.unreadable` finding with this
    /// reason (the I/O error); the other chunks are still checked.
    Unreadable(&'a str),
}

impl<'a> ChunkFile<'a> {
    fn bytes(self) -> Option<&'a [u8]> {
        match self {
            ChunkFile::Bytes(b) => Some(b),
            _ => None,
        }
    }
}

/// [`check`] for callers that also know which chunk files exist but could not be read (an
/// I/O error opening or reading them). `files` runs parallel to `recording.chunks`; a shorter
/// slice counts as [`ChunkFile::Absent`] for the rest.
pub fn check_files(recording: &Recording, files: &[ChunkFile<'_>], opts: &Options) -> Report {
    let file = |i: usize| files.get(i).copied().unwrap_or(ChunkFile::Absent);
    let mut findings = Vec::new();
    let chunk_ref = |index: u32| -> Option<ChunkRef> {
        recording
            .chunks
            .iter()
            .find(|c| c.index == index)
            .map(|c| ChunkRef {
                index,
                document_id: c.document_id.clone(),
            })
    };

    // Chunks the event lists with neither media nor metadata present.
    let absent: HashSet<&str> = recording
        .chunks
        .iter()
        .enumerate()
        .filter(|(i, c)| chunk_absent(c, file(*i)))
        .map(|(_, c)| c.document_id.as_str())
        .collect();
    for p in &recording.problems {
        if let Some(f) = problem_finding(p, recording, &absent, &chunk_ref) {
            findings.push(f);
        }
    }
    let timeline = recording.timeline();
    for issue in timeline.issues() {
        if let Some(f) = issue_finding(issue, opts, recording, chunk_ref(issue.chunk())) {
            findings.push(f);
        }
    }

    let mut summaries = Vec::with_capacity(recording.chunks.len());
    let mut tolerance_ms = 0.0;
    let mut total_ms = 0.0;
    let mut all_measured = !recording.chunks.is_empty();
    for (i, c) in recording.chunks.iter().enumerate() {
        let r = ChunkRef {
            index: c.index,
            document_id: c.document_id.clone(),
        };
        let data = file(i).bytes();
        if let ChunkFile::Unreadable(why) = file(i) {
            let name = c.media_path.as_ref().map_or_else(
                || format!("{}.mp4", c.document_id),
                |p| p.display().to_string(),
            );
            findings.push(
                Finding::new(
                    Code::FileUnreadable,
                    Severity::Error,
                    Some(r.clone()),
                    format!("the media file {name} cannot be read: {why}"),
                )
                .values(json!("a readable file"), json!(why)),
            );
            summaries.push(crate::ChunkSummary {
                index: c.index,
                document_id: c.document_id.clone(),
                media: None,
            });
            all_measured = false;
            continue;
        }
        if chunk_absent(c, file(i)) {
            // Listed by the event, but neither file is here.
            findings.push(
                Finding::new(
                    Code::ChunkAbsent,
                    Severity::Error,
                    Some(r.clone()),
                    format!(
                        "the event lists chunk {} ({}) but neither its media nor its metadata is present",
                        c.index, c.document_id
                    ),
                )
                .values(
                    json!([format!("{}.mp4", c.document_id), format!("{}.json", c.document_id)]),
                    json!([]),
                ),
            );
            summaries.push(crate::ChunkSummary {
                index: c.index,
                document_id: c.document_id.clone(),
                media: None,
            });
            all_measured = false;
            continue;
        }
        let format = c
            .metadata
            .as_ref()
            .and_then(|m| m.recording_info.classify().format);
        if let Some(fmt @ (FormatKind::Wav | FormatKind::Mp3)) = format {
            let name = if fmt == FormatKind::Wav { "wav" } else { "mp3" };
            findings.push(
                Finding::new(
                    Code::FormatUnsupported,
                    Severity::Warning,
                    Some(r.clone()),
                    format!("the metadata says the chunk is {name}; only mp4 chunks are checked"),
                )
                .values("mp4", name),
            );
            summaries.push(crate::ChunkSummary {
                index: c.index,
                document_id: c.document_id.clone(),
                media: None,
            });
            all_measured = false;
            continue;
        }
        let exp = c.metadata.as_ref().map(expected_of).unwrap_or_default();
        let (summary, mut fs) = check_chunk(data, &exp, opts, &r);
        match summary.media.as_ref().and_then(|m| m.duration_ms) {
            Some(d) => {
                total_ms += d;
                tolerance_ms += summary
                    .media
                    .as_ref()
                    .and_then(|m| m.video.as_ref())
                    .and_then(|v| v.frame_duration_ms)
                    .unwrap_or(0.0);
            }
            None => all_measured = false,
        }
        findings.append(&mut fs);
        summaries.push(summary);
    }

    if let Some(ev) = &recording.event {
        let want = ev.data.recording_duration_ms as f64;
        if all_measured && (total_ms - want).abs() > tolerance_ms + 1e-6 {
            // One finding for a wrong total: this one, measured from the media, replaces the
            // metadata layer's `duration.metadata_total` (which the message still cites).
            let metadata_total = recording.problems.iter().find_map(|p| match p {
                Problem::DurationMismatch { metadata_total, .. } => {
                    Some(metadata_total.as_millis_f64())
                }
                _ => None,
            });
            findings.retain(|f| f.code != Code::DurationMetadataTotal);
            let mut msg = format!(
                "the chunks hold {:.3} ms of media, recordingDurationMs says {want} ms \
                 (tolerance one frame per chunk, {:.3} ms)",
                total_ms, tolerance_ms
            );
            if let Some(m) = metadata_total {
                msg.push_str(&format!("; their chunkDuration values add up to {m:.3} ms"));
            }
            findings.push(
                Finding::new(Code::DurationTotal, Severity::Error, None, msg)
                    .values(want, (total_ms * 1000.0).round() / 1000.0),
            );
        }
    }
    Report::new(findings, summaries)
}

fn chunk_absent(c: &Chunk, file: ChunkFile<'_>) -> bool {
    file == ChunkFile::Absent && c.metadata.is_none() && c.metadata_path.is_none()
}

fn problem_finding(
    p: &Problem,
    recording: &Recording,
    absent: &HashSet<&str>,
    chunk_ref: &dyn Fn(u32) -> Option<ChunkRef>,
) -> Option<Finding> {
    use Severity::*;
    let direct = match (p.chunk(), p.document_id()) {
        (Some(index), Some(d)) => Some(ChunkRef {
            index,
            document_id: d.to_string(),
        }),
        _ => None,
    };
    let chunk = direct
        .or_else(|| p.chunk().and_then(chunk_ref))
        .or_else(|| {
            // Chunks not placed by index (metadata that the event does not list...).
            p.document_id().and_then(|d| {
                recording.chunk_by_document_id(d).map(|c| ChunkRef {
                    index: c.index,
                    document_id: c.document_id.clone(),
                })
            })
        });
    let msg = p.to_string();
    let f = |code, sev| Finding::new(code, sev, chunk.clone(), msg.clone());
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
                Error,
                Some(ChunkRef {
                    index: *index,
                    document_id: document_id.clone(),
                }),
                msg.clone(),
            )
            .values(format!("{document_id}.json"), json!(null))
        }
        // The range, never its members: the indices come from the event (up to u32::MAX).
        Problem::MissingIndex { first, last } => {
            Finding::new(Code::ChunkIndexMissing, Error, None, msg.clone()).actual(json!({
                "first": first,
                "last": last,
                "count": u64::from(last.saturating_sub(*first)) + 1,
            }))
        }
        Problem::DuplicateIndex {
            index,
            document_ids,
        } => Finding::new(Code::ChunkIndexDuplicate, Error, None, msg.clone()).values(
            json!({ "index": index, "chunks": 1 }),
            json!({ "index": index, "document_ids": document_ids }),
        ),
        Problem::MetadataNotListed { document_id, .. } => {
            f(Code::MetadataUnlisted, Error).values(json!(null), json!(document_id))
        }
        Problem::IndexMismatch {
            event_index,
            metadata_index,
            ..
        } => f(Code::MetadataIndex, Error).values(event_index, metadata_index),
        Problem::CallIdMismatch {
            expected, actual, ..
        } => f(Code::MetadataCallId, Error).values(expected, actual),
        Problem::MetadataInvalid { error, .. } => {
            f(Code::MetadataInvalid, Error).actual(error.to_string())
        }
        Problem::DocumentIdMismatch {
            file_document_id,
            chunk_document_id,
            ..
        } => f(Code::MetadataDocumentId, Error).values(file_document_id, chunk_document_id),
        Problem::MediaNotListed { document_id, .. } => {
            f(Code::FileUnlisted, Warning).actual(format!("{document_id}.mp4"))
        }
        Problem::EventAbsent => f(Code::EventMissing, Warning),
        Problem::NoChunks => f(Code::EventChunkCount, Error).values("at least 1", 0),
        Problem::DurationMismatch {
            event_ms,
            metadata_total,
        } => f(Code::DurationMetadataTotal, Error).values(event_ms, metadata_total.as_millis_f64()),
        other => Finding::new(Code::MetadataOther, Error, chunk.clone(), msg.clone())
            .actual(other.code()),
    })
}

fn issue_finding(
    i: &TimelineIssue,
    opts: &Options,
    recording: &Recording,
    chunk: Option<ChunkRef>,
) -> Option<Finding> {
    use Severity::*;
    let msg = i.to_string();
    let size_ms = i.size().map(|n| n.as_millis_f64());
    let f = |code, sev| {
        let f = Finding::new(code, sev, chunk.clone(), msg.clone());
        match size_ms {
            Some(s) => f.actual(json!({ "ms": s })),
            None => f,
        }
    };
    Some(match i {
        // The chunk's metadata is missing or invalid: already a metadata finding.
        TimelineIssue::ChunkNotPlaced { .. } => return None,
        TimelineIssue::NegativeChunkDuration { .. }
        | TimelineIssue::NegativePauseDuration { .. } => f(Code::DurationNegative, Error),
        TimelineIssue::PausesOutOfOrder { .. } | TimelineIssue::PausesOverlap { .. } => {
            f(Code::TimelinePauseOverlap, Error)
        }
        // A recording can start paused (since 2024): a pause reaching back before its chunk's
        // start is suspicious, not wrong.
        TimelineIssue::PauseBeforeChunkStart { .. } => f(Code::TimelinePauseOutside, Warning),
        TimelineIssue::PauseAfterChunkEnd { .. } => f(Code::TimelinePauseOutside, Error),
        TimelineIssue::ChunkGap {
            chunk: this,
            previous,
            ..
        } => {
            if size_ms.is_some_and(|s| s.abs() <= opts.continuity_tolerance_ms) {
                return None;
            }
            // Where a chunk without metadata (absent, unreadable) belongs, the gap is its
            // place on the wall clock: that chunk is the finding, the gap only information.
            let unplaced_between = recording.chunks.iter().any(|c| {
                c.metadata.is_none() && c.index < *this && previous.is_none_or(|p| c.index > p)
            });
            let mut g = f(
                Code::TimelineGap,
                if unplaced_between { Info } else { Warning },
            );
            if unplaced_between {
                g.message
                    .push_str(" (where a chunk without metadata belongs)");
            }
            g
        }
        TimelineIssue::ChunkOverlap { .. } => {
            if size_ms.is_some_and(|s| s.abs() <= opts.continuity_tolerance_ms) {
                return None;
            }
            f(Code::TimelineOverlap, Error)
        }
        other => f(Code::TimelineInvalid, Error).values(json!(null), other.code()),
    })
}
