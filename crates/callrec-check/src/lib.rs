//! callrec-check: prove that each chunk of an ACS call recording is what its metadata says,
//! before the service deletes the source.
//!
//! [`check`] takes a [`callrec_meta::Recording`] and each chunk's file bytes ([`check_lazy`]:
//! an opener called for one chunk at a time, whose [`callrec_mp4::Source`] is read with
//! positioned reads in bounded windows, never whole) and returns a
//! [`Report`] of every [`Finding`], each with a stable [`Code`], a [`Severity`], the chunk and
//! the expected and actual values, never just the first error:
//! - per chunk ([`check_chunk`]): codec, picture size from the SPS, frame rate from the sample
//!   durations, sync first sample, bitrates, AAC object type, sample rate from the
//!   AudioSpecificConfig and the timescale, channels, presented duration, integrity (0-byte or
//!   HTML downloads, truncated downloads whether the `moov` survived or not, boxes that do not
//!   parse, samples past the end of the file), and a decode of every AAC frame with symphonia
//!   (errors, decoded sample count, digital silence); a chunk file that cannot be read is a
//!   finding too ([`check_files`]);
//! - per recording: the metadata layer's [`callrec_meta::Problem`]s (indices, documentIds,
//!   callIds, absent files) and [`callrec_meta::TimelineIssue`]s (gaps, overlaps, pauses outside
//!   their chunk), and the media's total duration against `recordingDurationMs`.
//!
//! # Which reading of the metadata fits
//! The service's docs say neither whether `chunkDuration` includes the time a chunk was paused
//! nor whether chunks are fragmented or progressive; the [`Report`] says which the files fit.
//! - Layout: each [`ChunkSummary::layout`], and [`Report::layout`] for the recording
//!   (`"fragmented"`, `"progressive"`, or `"mixed"`).
//! - `chunkDuration`: callrec's model reads it as media alone (pauses excluded), so a chunk
//!   spans `chunkDuration + sum(pauses)` of wall clock. A paused chunk whose media instead lasts
//!   `chunkDuration - sum(pauses)` (within one video frame, as `duration.chunk`) gets
//!   `duration.includes_pauses` (a warning) instead of `duration.chunk`, and its
//!   [`ChunkSummary::duration_reading`] is [`DurationReading::IncludesPauses`]
//!   ([`Report::duration_reading`] for the recording). Then:
//!   - continuity: such a chunk spans `chunkDuration` of wall clock. When the next chunk starts
//!     at its `chunkStartTime + chunkDuration` (within [`Options::continuity_tolerance_ms`]),
//!     the timeline's overlap (or gap) becomes one `timeline.includes_pauses` info; the
//!     overlaps the timeline then passes on to later chunks (it moves an overlapping chunk
//!     to where the previous one ends) are not reported when those chunks are continuous
//!     under the same reading. A start that fits neither reading keeps its
//!     `timeline.overlap` / `timeline.gap`;
//!   - total: `recordingDurationMs` is read in the same convention (the sum of the
//!     `chunkDuration` values, as the metadata layer already checks): the media plus the
//!     pauses of those chunks must add up to it, else `duration.total`.
//!
//! ```
//! use callrec_check::{check, Code, Options};
//! use callrec_meta::Recording;
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/recordings/mismatch");
//! let recording = Recording::load(&dir)?;
//! let files = recording
//!     .chunks
//!     .iter()
//!     .map(|c| c.media_path.as_ref().map(std::fs::read).transpose())
//!     .collect::<Result<Vec<_>, _>>()?;
//! let media: Vec<Option<&[u8]>> = files.iter().map(|f| f.as_deref()).collect();
//! let report = check(&recording, &media, &Options::default());
//! assert!(report.has_errors());
//! let f = report.with_code(Code::VideoResolution).next().unwrap();
//! assert_eq!(f.chunk.as_ref().unwrap().index, 1);
//! println!("{}", report.to_json());
//! # Ok(())
//! # }
//! ```
//!
//! A single file can be checked against values from elsewhere:
//!
//! ```
//! use callrec_check::{check_chunk, ChunkRef, Code, Expected, Options};
//! let chunk = ChunkRef { index: 0, document_id: "doc".into() };
//! // A download that came back as an error page:
//! let page: &[u8] = b"<html><body>404</body></html>";
//! let (summary, findings) = check_chunk(Some(page), &Expected::default(), &Options::default(), &chunk);
//! assert!(summary.media.is_none());
//! assert_eq!(findings[0].code, Code::FileNotMp4);
//! ```
//!
//! # Measurements and tolerances
//! - Durations: the presented duration of the video track (the audio track when there is no
//!   video): the sum of its edit list's segment durations. A file without an edit list (ffmpeg's
//!   fragmented chunks) presents the AAC encoder priming (1024 samples): the audio's duration is
//!   the sum of sample durations minus that priming, the video's its span from the earliest pts
//!   minus the stretch ffmpeg gives its first sample, if any ([`DurationMethod`]). Compared with
//!   `chunkDuration` within one video frame (and, for a paused chunk, with `chunkDuration`
//!   minus its pauses: see above).
//! - Frame rate: the track timescale over the most common sample duration (ffmpeg stretches the
//!   first sample of fragmented files), within [`Options::frame_rate_tolerance_pct`].
//! - Bitrates: the sum of sample sizes over the sum of sample durations of the whole chunk.
//!   The declared `bitRate` is a target (a ceiling for a constrained encoder), so only a rate
//!   above `bitRate * (1 + t)` is a warning, with `t =` [`Options::bitrate_tolerance_pct`]
//!   (default 40 %); any rate below it is fine (silence and still pictures encode small). The
//!   fixtures' x264 video, encoded for 60 kbit/s, measures 71–80 kbit/s on 4–6 s chunks (up to
//!   +33 %: the keyframe at the start weighs heavily on short chunks), audio 31.4–32.7 kbit/s
//!   for 32 kbit/s; twice the declared rate is past the default bound.
//! - Decoded samples: the decoder yields 1024 samples per AAC frame; the track's duration
//!   (rescaled to the sample rate) must lie within the last frame of that count.
//! - Digital silence: decoded samples within one 16-bit step of zero on every channel
//!   ([`SILENCE_THRESHOLD`]); a run of [`Options::silence_warn_ms`] or a chunk that is silent
//!   from start to end is a warning.

mod compare;
mod decode;
mod duplicates;
mod finding;
mod layouts;
mod media;
mod problems;
mod recording;

use callrec_mp4::Source;
use serde::Serialize;

pub use compare::{Expected, ExpectedAudio, ExpectedVideo};
pub use decode::{DecodeFacts, SILENCE_THRESHOLD};
pub use finding::{ChunkRef, Code, Finding, Severity};
pub use media::{AudioFacts, DurationMethod, MediaFacts, VideoFacts, MIN_FRAME_INTERVALS};
pub use recording::{check, check_files, check_lazy, expected_of, ChunkFile, ChunkMedia};

/// What `check` tolerates and does.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Average bitrates may reach `bitRate * (1 + t/100)`; above is a warning, below never
    /// (the declared rate is a target). Default 40.
    pub bitrate_tolerance_pct: f64,
    /// The measured frame rate may differ from `framerate` by this percentage. Default 1.
    pub frame_rate_tolerance_pct: f64,
    /// Decode every AAC frame (decode errors, decoded sample count, silence). Default true.
    pub decode_audio: bool,
    /// A run of digital silence at least this long is a warning. Default 30 000 ms.
    pub silence_warn_ms: u64,
    /// Wall-clock gaps and overlaps between chunks up to this size are ignored (timestamps
    /// carry 100 ns digits that do not always add up). Default 1 ms.
    pub continuity_tolerance_ms: f64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            bitrate_tolerance_pct: 40.0,
            frame_rate_tolerance_pct: 1.0,
            decode_audio: true,
            silence_warn_ms: 30_000,
            continuity_tolerance_ms: 1.0,
        }
    }
}

/// Which reading of `chunkDuration` the media fits: the service's docs do not say whether it
/// includes the time the chunk was paused. Serialized in snake_case (`"includes_pauses"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DurationReading {
    /// `chunkDuration` is the media alone (callrec's model): the chunk spans
    /// `chunkDuration + sum(pauses)` of wall clock.
    ExcludesPauses,
    /// `chunkDuration` includes the pauses: the media lasts `chunkDuration - sum(pauses)` and
    /// the chunk spans `chunkDuration` of wall clock.
    IncludesPauses,
    /// Some chunks fit one reading, some the other (report level only).
    Mixed,
}

/// How the service laid out the chunk files. Serialized in lowercase (`"fragmented"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    /// Samples in `moof`/`trun` fragments ([`MediaFacts::fragmented`]).
    Fragmented,
    /// One `moov` with the whole sample tables.
    Progressive,
    /// Some chunks are fragmented, some progressive (report level only).
    Mixed,
}

impl Layout {
    fn of(m: &MediaFacts) -> Layout {
        if m.fragmented {
            Layout::Fragmented
        } else {
            Layout::Progressive
        }
    }
}

/// The one value all `items` share, `mixed` when they differ, `None` when there are none.
fn agree<T: PartialEq + Copy>(items: impl Iterator<Item = T>, mixed: T) -> Option<T> {
    let mut out = None;
    for x in items {
        match out {
            None => out = Some(x),
            Some(y) if y != x => return Some(mixed),
            Some(_) => {}
        }
    }
    out
}

/// What was measured for one chunk.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChunkSummary {
    /// The chunk index.
    pub index: u32,
    /// The chunk's documentId.
    pub document_id: String,
    /// The media facts, when the file exists and parses.
    pub media: Option<MediaFacts>,
    /// The file layout ([`MediaFacts::fragmented`]), when the file parses.
    pub layout: Option<Layout>,
    /// Which reading of `chunkDuration` the media fits, when the chunk was paused for more
    /// than a frame and its media fits one of them (never [`DurationReading::Mixed`]).
    pub duration_reading: Option<DurationReading>,
}

impl ChunkSummary {
    /// A summary of a chunk without media facts.
    pub fn unmeasured(chunk: &ChunkRef) -> Self {
        ChunkSummary {
            index: chunk.index,
            document_id: chunk.document_id.clone(),
            media: None,
            layout: None,
            duration_reading: None,
        }
    }
}

/// Everything `check` found about a recording.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Every finding: the metadata layer's problems and timeline issues first, then each chunk's
    /// media findings in index order, then the recording's total duration.
    pub findings: Vec<Finding>,
    /// One summary per chunk, in index order.
    pub chunks: Vec<ChunkSummary>,
    /// Findings of error severity.
    pub errors: usize,
    /// Findings of warning severity.
    pub warnings: usize,
    /// Findings of info severity.
    pub info: usize,
    /// Sum of the chunks' measured media durations, in milliseconds (chunks that could be
    /// measured).
    pub media_duration_ms: f64,
    /// The layout of the parsed chunk files: which one the service wrote.
    pub layout: Option<Layout>,
    /// Which reading of `chunkDuration` the paused chunks fit (`None`: no chunk was paused,
    /// or none fits either reading).
    pub duration_reading: Option<DurationReading>,
}

impl Report {
    /// Builds a report and counts its severities.
    pub fn new(findings: Vec<Finding>, chunks: Vec<ChunkSummary>) -> Self {
        let media_duration_ms = chunks
            .iter()
            .filter_map(|c| c.media.as_ref().and_then(|m| m.duration_ms))
            // Not `sum()`: an empty f64 sum is -0.0, printed "-0.000 s".
            .fold(0.0, |a, d| a + d);
        let layout = agree(chunks.iter().filter_map(|c| c.layout), Layout::Mixed);
        let duration_reading = agree(
            chunks.iter().filter_map(|c| c.duration_reading),
            DurationReading::Mixed,
        );
        let mut r = Report {
            findings,
            chunks,
            errors: 0,
            warnings: 0,
            info: 0,
            media_duration_ms,
            layout,
            duration_reading,
        };
        r.errors = r.count(Severity::Error);
        r.warnings = r.count(Severity::Warning);
        r.info = r.count(Severity::Info);
        r
    }

    /// True when any finding has error severity: do not sign off.
    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Error)
    }

    /// Number of findings of `severity`.
    pub fn count(&self, severity: Severity) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == severity)
            .count()
    }

    /// The findings with `code`.
    pub fn with_code(&self, code: Code) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(move |f| f.code == code)
    }

    /// One line: chunks, media duration, and the count of each severity
    /// (`3 chunks, 15.000 s of media: 5 errors, 0 warnings, 0 info`).
    pub fn summary(&self) -> String {
        let n =
            |k: usize, one: &str, many: &str| format!("{k} {}", if k == 1 { one } else { many });
        format!(
            "{}, {:.3} s of media: {}, {}, {} info",
            n(self.chunks.len(), "chunk", "chunks"),
            self.media_duration_ms / 1000.0,
            n(self.count(Severity::Error), "error", "errors"),
            n(self.count(Severity::Warning), "warning", "warnings"),
            self.count(Severity::Info)
        )
    }

    /// The report as pretty-printed JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }
}

/// A table a person reads: one line per finding (severity, code, chunk index, message), then
/// [`Report::summary`].
impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for x in &self.findings {
            let chunk = x
                .chunk
                .as_ref()
                .map_or_else(|| "-".to_string(), |c| c.index.to_string());
            writeln!(
                f,
                "{:<8} {:<24} {:>5}  {}",
                x.severity.as_str(),
                x.code.as_str(),
                chunk,
                x.message
            )?;
        }
        write!(f, "{}", self.summary())
    }
}

/// Checks one chunk: its file bytes (`None` when the file is absent) against `expected`.
pub fn check_chunk(
    data: Option<&[u8]>,
    expected: &Expected,
    opts: &Options,
    chunk: &ChunkRef,
) -> (ChunkSummary, Vec<Finding>) {
    let src = data.map(|d| Box::new(d) as Box<dyn Source + '_>);
    check_chunk_source(src.as_deref(), expected, opts, chunk)
}

/// [`check_chunk`] reading the file through `src` (positioned reads: the box headers, `moov`
/// and `moof`, then the AAC frames and NAL length prefixes in bounded windows, never the whole
/// file). A read that fails because the file shrank, or a file whose size or modification
/// time changed by the end of the check ([`Source::changed`]), is a `file.changed` error.
pub fn check_chunk_source(
    src: Option<&dyn Source>,
    expected: &Expected,
    opts: &Options,
    chunk: &ChunkRef,
) -> (ChunkSummary, Vec<Finding>) {
    let mut summary = ChunkSummary::unmeasured(chunk);
    let Some(src) = src else {
        let f = Finding::new(
            Code::FileMissing,
            Severity::Error,
            Some(chunk.clone()),
            format!("the media file of chunk {} is missing", chunk.index),
        )
        .values(
            format!("{}.mp4", chunk.document_id),
            serde_json::Value::Null,
        );
        return (summary, vec![f]);
    };
    let mut findings = match media::inspect(src, opts.decode_audio) {
        Err(u) => vec![compare::unreadable(&u, chunk)],
        Ok(ins) => {
            let findings = compare::compare(&ins, expected, opts, chunk);
            summary.layout = Some(Layout::of(&ins.facts));
            summary.duration_reading = compare::duration_reading(&ins.facts, expected);
            summary.media = Some(ins.facts);
            findings
        }
    };
    if !findings.iter().any(|f| f.code == Code::FileChanged) {
        if let Some(why) = src.changed() {
            findings.push(
                Finding::new(
                    Code::FileChanged,
                    Severity::Error,
                    Some(chunk.clone()),
                    format!(
                        "the media file changed while it was checked ({why}): nothing read \
                         from it can be trusted; check it again once nothing writes it"
                    ),
                )
                .actual(why),
            );
        }
    }
    (summary, findings)
}
