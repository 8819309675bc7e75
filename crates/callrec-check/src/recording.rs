//! The whole recording: every chunk's media against its metadata, the metadata layer's problems
//! and timeline issues, and the durations against the event.

use std::collections::HashSet;

use callrec_meta::{
    ChannelKind, Chunk, ChunkMetadata, FormatKind, Nanos, Problem, Recording, TimelineIssue,
};
use callrec_mp4::Source;
use serde_json::json;

use crate::compare::{Expected, ExpectedAudio, ExpectedVideo};
use crate::problems::problem_finding;
use crate::{
    check_chunk_source, ChunkRef, Code, DurationReading, Finding, Options, Report, Severity,
};

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
        paused_ms: Some(m.paused_total().as_millis_f64()),
    }
}

/// Checks a whole recording. `media` runs parallel to `recording.chunks`: each chunk's file
/// bytes, or `None` when the file is absent (a shorter slice counts as `None` for the rest).
///
/// Returns every finding: the metadata layer's [`Problem`]s and [`TimelineIssue`]s, then per
/// chunk the media against its metadata, then the recording's total duration against the
/// event's `recordingDurationMs`. A wrong total is reported once: `duration.total` (from the
/// media) when every chunk was measured, else `duration.metadata_total` (from the
/// `chunkDuration` values). Paused chunks whose `chunkDuration` reads as including their pauses
/// change the duration, continuity and total findings as the crate docs describe ("Which
/// reading of the metadata fits").
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

/// A chunk's media file as [`check_lazy`]'s opener returns it: opened only while that chunk is
/// checked, so a recording of any number of chunks holds one file at a time.
pub enum ChunkMedia<'a> {
    /// No file: a `file.missing` (or `chunk.absent`) finding.
    Absent,
    /// The file, read through positioned reads.
    Source(Box<dyn Source + 'a>),
    /// The file is there but could not be opened: a `file.unreadable` finding with this
    /// reason.
    Unreadable(String),
}

impl std::fmt::Debug for ChunkMedia<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChunkMedia::Absent => f.write_str("Absent"),
            ChunkMedia::Source(s) => write!(f, "Source({} bytes)", s.len()),
            ChunkMedia::Unreadable(why) => f.debug_tuple("Unreadable").field(why).finish(),
        }
    }
}

/// [`check`] for callers that also know which chunk files exist but could not be read (an
/// I/O error opening or reading them). `files` runs parallel to `recording.chunks`; a shorter
/// slice counts as [`ChunkFile::Absent`] for the rest.
pub fn check_files(recording: &Recording, files: &[ChunkFile<'_>], opts: &Options) -> Report {
    let file = |i: usize| files.get(i).copied().unwrap_or(ChunkFile::Absent);
    check_impl(
        recording,
        &|i| file(i) != ChunkFile::Absent,
        &mut |i| match file(i) {
            ChunkFile::Absent => ChunkMedia::Absent,
            ChunkFile::Bytes(b) => ChunkMedia::Source(Box::new(b)),
            ChunkFile::Unreadable(why) => ChunkMedia::Unreadable(why.to_string()),
        },
        opts,
    )
}

/// [`check`] opening each chunk's media only while it is checked: `open(i)` is called once
/// for chunk `i` (position in `recording.chunks`) whose `media_path` is set, and what it
/// returns is dropped (the file closed) before the next chunk. A chunk without a
/// `media_path` is absent.
pub fn check_lazy<'a>(
    recording: &Recording,
    open: &mut dyn FnMut(usize) -> ChunkMedia<'a>,
    opts: &Options,
) -> Report {
    let present = |i: usize| {
        recording
            .chunks
            .get(i)
            .is_some_and(|c| c.media_path.is_some())
    };
    check_impl(
        recording,
        &present,
        &mut |i| {
            if present(i) {
                open(i)
            } else {
                ChunkMedia::Absent
            }
        },
        opts,
    )
}

/// What the measured chunks add up to, for the recording's total duration.
struct Totals {
    /// One frame per measured chunk, milliseconds.
    tolerance_ms: f64,
    /// The measured chunks' media, milliseconds.
    total_ms: f64,
    /// Every chunk was measured.
    all_measured: bool,
}

/// For `chunk.duplicate`: every chunk's file size, this chunk's position, and the hashes of
/// the chunks hashed so far.
struct Shared<'s> {
    sizes: &'s [Option<u64>],
    i: usize,
    hashes: &'s mut Vec<(ChunkRef, u64, String)>,
}

/// The recording's chunk `index`, as findings name it.
fn chunk_ref_of(recording: &Recording, index: u32) -> Option<ChunkRef> {
    recording
        .chunks
        .iter()
        .find(|c| c.index == index)
        .map(|c| ChunkRef {
            index,
            document_id: c.document_id.clone(),
        })
}

/// Steps: the metadata layer's problems; each chunk's own findings ([`check_chunk`]); the
/// timeline's findings, placed after the problems (they depend on the chunks' duration
/// readings); the total duration against the event ([`total_findings`]).
fn check_impl<'a>(
    recording: &Recording,
    present: &dyn Fn(usize) -> bool,
    open: &mut dyn FnMut(usize) -> ChunkMedia<'a>,
    opts: &Options,
) -> Report {
    let chunk_ref = |index: u32| chunk_ref_of(recording, index);
    // Chunks the event lists with neither media nor metadata present.
    let absent: HashSet<&str> = recording
        .chunks
        .iter()
        .enumerate()
        .filter(|(i, c)| chunk_absent(c, present(*i)))
        .map(|(_, c)| c.document_id.as_str())
        .collect();
    let mut findings: Vec<Finding> = recording
        .problems
        .iter()
        .filter_map(|p| problem_finding(p, recording, &absent, &chunk_ref))
        .collect();
    // The timeline's findings go here, but depend on the chunks' duration readings.
    let timeline_at = findings.len();

    let sizes = crate::duplicates::sizes(recording);
    let mut hashes = Vec::new();
    let mut summaries = Vec::with_capacity(recording.chunks.len());
    let mut totals = Totals {
        tolerance_ms: 0.0,
        total_ms: 0.0,
        all_measured: !recording.chunks.is_empty(),
    };
    for (i, c) in recording.chunks.iter().enumerate() {
        let mut same = Shared {
            sizes: &sizes,
            i,
            hashes: &mut hashes,
        };
        let (summary, mut fs) =
            check_chunk(c, present(i), &mut || open(i), opts, &mut totals, &mut same);
        findings.append(&mut fs);
        summaries.push(summary);
    }

    findings.extend(crate::layouts::tracks_differ(&summaries));
    findings.extend(crate::duplicates::findings(&hashes));

    // Chunks whose chunkDuration reads as including their pauses.
    let includes: HashSet<u32> = summaries
        .iter()
        .filter(|s| s.duration_reading == Some(DurationReading::IncludesPauses))
        .map(|s| s.index)
        .collect();
    let timeline = recording.timeline();
    let timeline_findings: Vec<Finding> = timeline
        .issues()
        .iter()
        .filter_map(|issue| {
            issue_finding(issue, opts, recording, &includes, chunk_ref(issue.chunk()))
        })
        .collect();
    findings.splice(timeline_at..timeline_at, timeline_findings);
    if let Some(ev) = &recording.event {
        let want = ev.data.recording_duration_ms as f64;
        total_findings(
            recording,
            &timeline,
            &includes,
            &totals,
            want,
            &mut findings,
        );
    }
    Report::new(findings, summaries)
}

/// One chunk's summary and findings: a repeat listing, an absent or unreadable file and a
/// wav or mp3 chunk are not measured; any other is opened (with `open`, closed on return) and
/// compared with its metadata.
fn check_chunk<'a>(
    c: &Chunk,
    present: bool,
    open: &mut dyn FnMut() -> ChunkMedia<'a>,
    opts: &Options,
    totals: &mut Totals,
    same: &mut Shared<'_>,
) -> (crate::ChunkSummary, Vec<Finding>) {
    let r = ChunkRef {
        index: c.index,
        document_id: c.document_id.clone(),
    };
    let mut unmeasured = |found: Option<Finding>| -> (crate::ChunkSummary, Vec<Finding>) {
        totals.all_measured = false;
        (
            crate::ChunkSummary::unmeasured(&r),
            found.into_iter().collect(),
        )
    };
    if c.repeat {
        // A repeat listing of a documentId (event.duplicate_document_id): no file of its own.
        return unmeasured(None);
    }
    if chunk_absent(c, present) {
        return unmeasured(Some(absent_finding(c, &r)));
    }
    // Opened here, closed on return.
    let media = open();
    if let ChunkMedia::Unreadable(why) = &media {
        return unmeasured(Some(unreadable_finding(c, &r, why)));
    }
    let data = match &media {
        ChunkMedia::Source(s) => Some(&**s as &dyn Source),
        _ => None,
    };
    if let Some(finding) = unsupported_format(c, &r) {
        return unmeasured(Some(finding));
    }
    let exp = c.metadata.as_ref().map(expected_of).unwrap_or_default();
    let (summary, fs) = check_chunk_source(data, &exp, opts, &r);
    if let Some(h) = data.and_then(|s| crate::duplicates::hash_if_shared(s, same.i, same.sizes)) {
        same.hashes
            .push((r.clone(), data.map_or(0, |s| s.len()), h));
    }
    totals.add(&summary);
    (summary, fs)
}

impl Totals {
    /// Adds a measured chunk's media and one of its frames of tolerance; a chunk whose
    /// duration was not measured leaves the total incomplete.
    fn add(&mut self, summary: &crate::ChunkSummary) {
        match summary.media.as_ref().and_then(|m| m.duration_ms) {
            Some(d) => {
                self.total_ms += d;
                self.tolerance_ms += summary
                    .media
                    .as_ref()
                    .and_then(|m| m.video.as_ref())
                    .and_then(|v| v.frame_duration_ms)
                    .unwrap_or(0.0);
            }
            None => self.all_measured = false,
        }
    }
}

/// `chunk.absent`: the event lists chunk `c`, but neither of its files is here.
fn absent_finding(c: &Chunk, r: &ChunkRef) -> Finding {
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
        json!([
            format!("{}.mp4", c.document_id),
            format!("{}.json", c.document_id)
        ]),
        json!([]),
    )
}

/// `file.unreadable`: chunk `c`'s media file exists but cannot be read (`why`).
fn unreadable_finding(c: &Chunk, r: &ChunkRef, why: &str) -> Finding {
    let name = c.media_path.as_ref().map_or_else(
        || format!("{}.mp4", c.document_id),
        |p| p.display().to_string(),
    );
    Finding::new(
        Code::FileUnreadable,
        Severity::Error,
        Some(r.clone()),
        format!("the media file {name} cannot be read: {why}"),
    )
    .values(json!("a readable file"), json!(why))
}

/// `format.unsupported` when chunk `c`'s metadata says it is wav or mp3 (only mp4 is checked).
fn unsupported_format(c: &Chunk, r: &ChunkRef) -> Option<Finding> {
    let format = c
        .metadata
        .as_ref()
        .and_then(|m| m.recording_info.classify().format);
    let fmt @ (FormatKind::Wav | FormatKind::Mp3) = format? else {
        return None;
    };
    let name = if fmt == FormatKind::Wav { "wav" } else { "mp3" };
    Some(
        Finding::new(
            Code::FormatUnsupported,
            Severity::Warning,
            Some(r.clone()),
            format!("the metadata says the chunk is {name}; only mp4 chunks are checked"),
        )
        .values("mp4", name),
    )
}

/// The wall-clock span of the chunks: from the first chunk's chunkStartTime to the end of the
/// last chunk (pauses, gaps, a paused start included), milliseconds.
fn wall_span_ms(timeline: &callrec_meta::Timeline) -> Option<f64> {
    let layout = timeline.chunk_layout();
    match (
        layout.iter().map(|l| l.wall.start).min(),
        layout.iter().map(|l| l.wall.end).max(),
    ) {
        (Some(a), Some(b)) if b > a => (b - a).num_microseconds().map(|u| u as f64 / 1000.0),
        _ => None,
    }
}

/// The event's `recordingDurationMs` (`want`) against the chunks' media: read as wall time
/// when only that reading fits (info), else one error that replaces the metadata layer's
/// `duration.metadata_total`.
fn total_findings(
    recording: &Recording,
    timeline: &callrec_meta::Timeline,
    includes: &HashSet<u32>,
    totals: &Totals,
    want: f64,
    findings: &mut Vec<Finding>,
) {
    let tolerance_ms = totals.tolerance_ms;
    // Under the includes-pauses reading, recordingDurationMs is read in the same
    // convention as those chunks' chunkDuration: their pauses count.
    let counted_pauses_ms = recording
        .chunks
        .iter()
        .filter(|c| includes.contains(&c.index))
        .filter_map(|c| c.metadata.as_ref())
        .map(|m| m.paused_total().as_millis_f64())
        .fold(0.0, |a, p| a + p);
    let total_ms = totals.total_ms + counted_pauses_ms;
    // The other reading: recordingDurationMs as wall time.
    let wall_ms = wall_span_ms(timeline);
    let fits = |ms: f64| (ms - want).abs() <= tolerance_ms + 1e-6;
    let media_fits = fits(total_ms);
    if totals.all_measured && !media_fits && wall_ms.is_some_and(fits) {
        let wall = wall_ms.unwrap_or_default();
        findings.retain(|f| f.code != Code::DurationMetadataTotal);
        findings.push(
            Finding::new(
                Code::DurationTotalWallClock,
                Severity::Info,
                None,
                format!(
                    "recordingDurationMs ({want} ms) counts wall time: it matches the span \
                     from the first chunk's start to the last chunk's end ({wall:.3} ms), \
                     not the {total_ms:.3} ms of media the chunks hold (tolerance \
                     {tolerance_ms:.3} ms)"
                ),
            )
            .values(
                want,
                json!({ "wall_span_ms": (wall * 1000.0).round() / 1000.0,
                                  "media_ms": (total_ms * 1000.0).round() / 1000.0 }),
            ),
        );
    } else if totals.all_measured && !media_fits {
        findings.retain(|f| f.code != Code::DurationMetadataTotal);
        findings.push(total_error(
            recording,
            want,
            total_ms,
            counted_pauses_ms,
            tolerance_ms,
            wall_ms,
        ));
    }
}

/// One finding for a wrong total: this one, measured from the media, replaces the metadata
/// layer's `duration.metadata_total` (which the message still cites).
fn total_error(
    recording: &Recording,
    want: f64,
    total_ms: f64,
    counted_pauses_ms: f64,
    tolerance_ms: f64,
    wall_ms: Option<f64>,
) -> Finding {
    let metadata_total = recording.problems.iter().find_map(|p| match p {
        Problem::DurationMismatch { metadata_total, .. } => Some(metadata_total.as_millis_f64()),
        _ => None,
    });
    let held = if counted_pauses_ms > 0.0 {
        format!(
            "{:.3} ms of media and {counted_pauses_ms:.3} ms of the pauses their \
             chunkDuration includes",
            total_ms - counted_pauses_ms
        )
    } else {
        format!("{total_ms:.3} ms of media")
    };
    let mut msg = format!(
        "the chunks hold {held}, recordingDurationMs says {want} ms \
         (tolerance one frame per chunk, {tolerance_ms:.3} ms)"
    );
    if let Some(w) = wall_ms {
        msg.push_str(&format!(
            "; nor does it match the wall-clock span of the chunks, {w:.3} ms"
        ));
    }
    if let Some(m) = metadata_total {
        msg.push_str(&format!("; their chunkDuration values add up to {m:.3} ms"));
    }
    Finding::new(Code::DurationTotal, Severity::Error, None, msg)
        .values(want, (total_ms * 1000.0).round() / 1000.0)
}

fn chunk_absent(c: &Chunk, present: bool) -> bool {
    !present && c.metadata.is_none() && c.metadata_path.is_none()
}

/// A gap or overlap before chunk `this` read with the chunks in `includes` spanning their
/// `chunkDuration` of wall clock (pauses included) and the others `chunkDuration + pauses`:
/// `None` when `this` does not start where `previous` ends under that reading (the timeline's
/// finding stands); `Some(Some(info))` when it does and `previous` is one of `includes`;
/// `Some(None)` when it does and `previous` is not (the timeline moved `previous` because of
/// an earlier chunk: a knock-on effect with nothing more to report).
fn continuity_under_reading(
    this: u32,
    previous: u32,
    recording: &Recording,
    includes: &HashSet<u32>,
    opts: &Options,
    chunk: Option<ChunkRef>,
) -> Option<Option<Finding>> {
    if includes.is_empty() {
        return None;
    }
    let meta = |i: u32| {
        recording
            .chunks
            .iter()
            .find(|c| c.index == i)
            .and_then(|c| c.metadata.as_ref())
    };
    let (p, t) = (meta(previous)?, meta(this)?);
    let paused = p.paused_total();
    let span = if includes.contains(&previous) {
        p.chunk_duration
    } else {
        p.chunk_duration + paused
    };
    let after = Nanos::between(p.chunk_start_time, t.chunk_start_time);
    let off_ms = (after - span).as_millis_f64();
    if off_ms.abs() > opts.continuity_tolerance_ms {
        return None;
    }
    if !includes.contains(&previous) {
        return Some(None);
    }
    let (span_ms, paused_ms) = (span.as_millis_f64(), paused.as_millis_f64());
    Some(Some(
        Finding::new(
            Code::TimelineIncludesPauses,
            Severity::Info,
            chunk,
            format!(
                "chunk {this} starts {} ms after chunk {previous}'s chunkStartTime: where chunk \
                 {previous} ends if its chunkDuration ({span_ms} ms) includes its {paused_ms} ms \
                 of pauses, so the two chunks are continuous under that convention",
                after.as_millis_f64()
            ),
        )
        .values(
            json!({ "start_after_previous_ms": span_ms, "previous_paused_ms": paused_ms }),
            json!({ "start_after_previous_ms": after.as_millis_f64() }),
        ),
    ))
}

fn issue_finding(
    i: &TimelineIssue,
    opts: &Options,
    recording: &Recording,
    includes: &HashSet<u32>,
    chunk: Option<ChunkRef>,
) -> Option<Finding> {
    use Severity::*;
    if let TimelineIssue::ChunkGap {
        chunk: this,
        previous: Some(previous),
        ..
    }
    | TimelineIssue::ChunkOverlap {
        chunk: this,
        previous: Some(previous),
        ..
    } = i
    {
        if let Some(f) =
            continuity_under_reading(*this, *previous, recording, includes, opts, chunk.clone())
        {
            return f;
        }
    }
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
