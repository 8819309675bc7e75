//! A recording: the event, its chunks and their metadata, matched up, with every inconsistency
//! collected as a [`Problem`].

use crate::error::Error;
use crate::event::{EventChunk, RecordingEvent};
use crate::metadata::ChunkMetadata;
use crate::problem::Problem;
use crate::time::Nanos;
use crate::timeline::{Timeline, TimelineChunk};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

/// The file name of the notification inside a recording directory.
pub const EVENT_FILE: &str = "event.json";

/// The recording directory convention, in one place: chunk `<documentId>` is
/// `<documentId>.mp4` (its media) and `<documentId>.json` (its metadata) beside
/// [`EVENT_FILE`]; `<documentId>.packets.json` (fixture notes) is neither.
pub mod naming {
    use super::EVENT_FILE;

    /// The media file name of a chunk: `<documentId>.mp4`.
    pub fn media_file(document_id: &str) -> String {
        format!("{document_id}.mp4")
    }

    /// The metadata file name of a chunk: `<documentId>.json`.
    pub fn metadata_file(document_id: &str) -> String {
        format!("{document_id}.json")
    }

    /// Why `document_id` cannot name a file of the recording directory (empty, `.` or `..`,
    /// a path separator or NUL, so `../victim/X` or an absolute path), or `None` when it can.
    pub fn invalid_document_id(document_id: &str) -> Option<&'static str> {
        if document_id.is_empty() {
            Some("it is empty")
        } else if document_id == "." || document_id == ".." {
            Some("it is a relative directory name")
        } else if document_id.contains(['/', '\\']) {
            Some("it holds a path separator (a path, not a name)")
        } else if document_id.contains('\0') {
            Some("it holds a NUL byte")
        } else {
            None
        }
    }

    /// The documentId a media file name belongs to (`x.mp4` -> `x`).
    pub fn media_document_id(file_name: &str) -> Option<&str> {
        file_name.strip_suffix(".mp4")
    }

    /// The documentId a metadata file name belongs to (`x.json` -> `x`); `event.json` and
    /// `*.packets.json` are not metadata.
    pub fn metadata_document_id(file_name: &str) -> Option<&str> {
        let stem = file_name.strip_suffix(".json")?;
        (file_name != EVENT_FILE && !stem.ends_with(".packets")).then_some(stem)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn names_round_trip_and_notes_are_not_metadata() {
            assert_eq!(
                media_document_id(&media_file("0-eus-d3-ab")),
                Some("0-eus-d3-ab")
            );
            assert_eq!(
                metadata_document_id(&metadata_file("0-eus-d3-ab")),
                Some("0-eus-d3-ab")
            );
            assert_eq!(metadata_document_id("event.json"), None);
            assert_eq!(metadata_document_id("x.packets.json"), None);
            assert_eq!(media_document_id("x.json"), None);
        }
    }
}

/// One chunk of a recording, as far as the event, the directory and the metadata tell.
#[derive(Debug, Clone, PartialEq)]
pub struct Chunk {
    /// The chunk's index: the event's `index`, or the metadata's `chunkIndex` when the event
    /// does not list the chunk (or there is no event).
    pub index: u32,
    /// The `documentId` (the event's, else the metadata's `chunkDocumentId`).
    pub document_id: String,
    /// `true` when the event lists this chunk.
    pub listed: bool,
    /// The event's `endReason` for this chunk.
    pub end_reason: Option<String>,
    /// `DIR/<documentId>.mp4` when that file exists; `None` when it is absent or the recording
    /// was built from values ([`Recording::from_parts`]; see [`Chunk::media_absent`]).
    pub media_path: Option<PathBuf>,
    /// `true` when the media is known to be absent (a directory without `<documentId>.mp4`).
    pub media_absent: bool,
    /// `DIR/<documentId>.json` when it exists.
    pub metadata_path: Option<PathBuf>,
    /// The parsed metadata, if present and valid.
    pub metadata: Option<ChunkMetadata>,
    /// `true` for a repeat listing: the event lists this documentId earlier too
    /// ([`Problem::DuplicateDocumentId`]). It has no files of its own (`media_path` and
    /// `metadata_path` are `None`): the first listing has them. Also `true` for a documentId
    /// that cannot be a file name ([`Problem::InvalidDocumentId`]): no file is looked for.
    pub repeat: bool,
}

impl Chunk {
    /// A listed chunk given no files of its own ([`Chunk::repeat`]): a repeat listing, or a
    /// documentId that cannot be a file name.
    fn without_files(index: u32, document_id: &str, end_reason: &str) -> Chunk {
        Chunk {
            index,
            document_id: document_id.to_string(),
            listed: true,
            end_reason: Some(end_reason.to_string()),
            media_path: None,
            media_absent: false,
            metadata_path: None,
            metadata: None,
            repeat: true,
        }
    }

    /// `true` unless the media is known to be absent.
    pub fn has_media(&self) -> bool {
        !self.media_absent
    }
}

/// Where the expected `callId` of a [`Problem::CallIdMismatch`] comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallIdSource {
    /// The event's subject (`/recording/call/{callId}/...`).
    EventSubject,
    /// The callId most chunks' metadata carries.
    Majority,
}

impl fmt::Display for CallIdSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CallIdSource::EventSubject => "the event's subject",
            CallIdSource::Majority => "the other chunks",
        })
    }
}

/// A recording: the notification, the chunks in index order, and what is wrong.
#[derive(Debug, Clone)]
pub struct Recording {
    /// The directory it was loaded from (`None` when built from values).
    pub dir: Option<PathBuf>,
    /// The notification, if there is one.
    pub event: Option<RecordingEvent>,
    /// The chunks, sorted by index (then documentId).
    pub chunks: Vec<Chunk>,
    /// Everything inconsistent, in a stable order.
    pub problems: Vec<Problem>,
}

/// A metadata candidate: its file stem, path, and parse result.
struct MetaEntry {
    stem: Option<String>,
    path: Option<PathBuf>,
    result: Result<ChunkMetadata, Error>,
}

impl Recording {
    /// Load a recording directory (our convention: `event.json`, and per chunk
    /// `<documentId>.mp4` with `<documentId>.json`; `*.packets.json` and other files are
    /// ignored).
    ///
    /// Fails only when the directory cannot be read, holds neither `event.json` nor any chunk
    /// metadata, or `event.json` cannot be read or parsed. Everything else is a [`Problem`].
    pub fn load(dir: &Path) -> Result<Recording, Error> {
        let rd = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
        let mut names = Vec::new();
        for entry in rd {
            let entry = entry.map_err(|e| Error::io(dir, e))?;
            // Every name, whatever its type: a directory or FIFO where a chunk or event.json
            // belongs is reported as "not a regular file" when read, not as absent.
            if let Ok(name) = entry.file_name().into_string() {
                names.push(name);
            }
        }
        names.sort();
        let event = if names.iter().any(|n| n == EVENT_FILE) {
            let p = dir.join(EVENT_FILE);
            let bytes = crate::read_json_file(&p)?;
            // The directory's chunks pick this recording's event out of a batch.
            let ids: BTreeSet<String> = names
                .iter()
                .filter_map(|n| {
                    naming::media_document_id(n).or_else(|| naming::metadata_document_id(n))
                })
                .map(str::to_string)
                .collect();
            Some(RecordingEvent::from_json_for(&bytes, &p, &ids)?)
        } else {
            None
        };
        let media: BTreeSet<String> = names
            .iter()
            .filter_map(|n| naming::media_document_id(n))
            .map(str::to_string)
            .collect();
        let listed: BTreeSet<&str> = event
            .iter()
            .flat_map(|e| e.data.chunks.iter().map(|c| c.document_id.as_str()))
            .collect();
        let mut metas = Vec::new();
        for name in &names {
            let Some(stem) = naming::metadata_document_id(name) else {
                continue;
            };
            let path = dir.join(name);
            let result =
                crate::read_json_file(&path).and_then(|b| ChunkMetadata::from_json(&b, &path));
            // A JSON file that is not metadata is ignored unless it belongs to a chunk.
            if result.is_err() && !listed.contains(stem) && !media.contains(stem) {
                continue;
            }
            metas.push(MetaEntry {
                stem: Some(stem.to_string()),
                path: Some(path),
                result,
            });
        }
        if event.is_none() && metas.is_empty() {
            return Err(Error::NotARecording {
                dir: dir.to_path_buf(),
            });
        }
        Ok(assemble(Some(dir), event, metas, Some(&media)))
    }

    /// Build a recording from values (the media is assumed present). The same matching and
    /// problems as [`Recording::load`], matching metadata to the event by `chunkDocumentId`.
    pub fn from_parts(event: Option<RecordingEvent>, metadata: Vec<ChunkMetadata>) -> Recording {
        let metas = metadata
            .into_iter()
            .map(|m| MetaEntry {
                stem: None,
                path: None,
                result: Ok(m),
            })
            .collect();
        assemble(None, event, metas, None)
    }

    /// The call id: the first chunk metadata's `callId`, else the one the event's subject
    /// names.
    pub fn call_id(&self) -> Option<&str> {
        self.chunks
            .iter()
            .find_map(|c| c.metadata.as_ref().map(|m| m.call_id.as_str()))
            .or_else(|| self.event.as_ref().and_then(|e| e.call_id()))
    }

    /// The chunk with this documentId.
    pub fn chunk_by_document_id(&self, document_id: &str) -> Option<&Chunk> {
        self.chunks.iter().find(|c| c.document_id == document_id)
    }

    /// The wall-clock timeline. Always succeeds: a recording with problems gets `Missing`
    /// segments and validation [`crate::TimelineIssue`]s.
    pub fn timeline(&self) -> Timeline {
        let chunks: Vec<TimelineChunk<'_>> = self
            .chunks
            .iter()
            .map(|c| TimelineChunk {
                index: c.index,
                document_id: &c.document_id,
                metadata: c.metadata.as_ref(),
                media_present: c.has_media(),
            })
            .collect();
        Timeline::build(
            self.event.as_ref().map(|e| e.data.recording_start_time),
            &chunks,
        )
    }
}

/// Matches the event's chunks, the metadata and the media files into a [`Recording`]: the
/// chunks first (listed, else placed by their metadata), then what is wrong with the whole.
fn assemble(
    dir: Option<&Path>,
    event: Option<RecordingEvent>,
    metas: Vec<MetaEntry>,
    media: Option<&BTreeSet<String>>,
) -> Recording {
    let files = Files { dir, media };
    let mut matcher = Matcher {
        metas: &metas,
        used: vec![false; metas.len()],
        files,
        out: Matched::default(),
    };
    match &event {
        Some(ev) => {
            matcher.listed(ev);
            matcher.not_listed();
        }
        None => {
            matcher.out.problems.push(Problem::EventAbsent);
            matcher.unlisted();
        }
    }
    let Matched {
        mut chunks,
        mut problems,
        media_claimed,
    } = matcher.out;
    problems.extend(files.unclaimed_media(&media_claimed));
    chunks.sort_by(|a, b| {
        a.index
            .cmp(&b.index)
            .then_with(|| a.document_id.cmp(&b.document_id))
    });
    problems.extend(index_problems(&chunks));
    if let Some(expected) = expected_call_id(event.as_ref(), &chunks) {
        problems.extend(call_id_problems(&expected, &chunks));
    }
    if let Some(ev) = &event {
        problems.extend(duration_problem(ev, &chunks));
    }
    Recording {
        dir: dir.map(Path::to_path_buf),
        event,
        chunks,
        problems,
    }
}

/// Where a chunk's media file is, as far as the directory tells.
struct MediaLookup {
    /// `DIR/<documentId>.mp4` when that file exists.
    path: Option<PathBuf>,
    /// `true` when a directory was read and holds no such file.
    absent: bool,
}

/// The directory a recording is assembled from (both `None` when it is built from values).
#[derive(Clone, Copy)]
struct Files<'a> {
    /// The recording directory.
    dir: Option<&'a Path>,
    /// The documentIds of its `.mp4` files.
    media: Option<&'a BTreeSet<String>>,
}

impl Files<'_> {
    /// The media file of chunk `doc`: its path, or whether the directory lacks it.
    fn media_of(&self, doc: &str) -> MediaLookup {
        match (self.dir, self.media) {
            (Some(d), Some(set)) if set.contains(doc) => MediaLookup {
                path: Some(d.join(naming::media_file(doc))),
                absent: false,
            },
            (Some(_), Some(_)) => MediaLookup {
                path: None,
                absent: true,
            },
            _ => MediaLookup {
                path: None,
                absent: false,
            },
        }
    }

    /// The [`Problem::MediaAbsent`] of chunk `index` (`doc`), naming the file expected.
    fn media_absent(&self, index: u32, doc: &str) -> Problem {
        Problem::MediaAbsent {
            index,
            document_id: doc.to_string(),
            expected: self
                .dir
                .map(|d| d.join(naming::media_file(doc)))
                .unwrap_or_default(),
        }
    }

    /// A [`Problem::MediaNotListed`] per media file that no chunk claimed.
    fn unclaimed_media(&self, claimed: &BTreeSet<String>) -> Vec<Problem> {
        let (Some(d), Some(set)) = (self.dir, self.media) else {
            return Vec::new();
        };
        set.iter()
            .filter(|doc| !claimed.contains(*doc))
            .map(|doc| Problem::MediaNotListed {
                document_id: doc.clone(),
                path: d.join(naming::media_file(doc)),
            })
            .collect()
    }
}

/// What matching gives: the chunks (unsorted), the problems found on the way, and the
/// documentIds whose media file belongs to a chunk or to a metadata file.
#[derive(Default)]
struct Matched {
    chunks: Vec<Chunk>,
    problems: Vec<Problem>,
    media_claimed: BTreeSet<String>,
}

/// Matches metadata candidates to chunks, each candidate used at most once.
struct Matcher<'a> {
    metas: &'a [MetaEntry],
    used: Vec<bool>,
    files: Files<'a>,
    out: Matched,
}

impl<'a> Matcher<'a> {
    /// One chunk per listing of the event, in event order; a repeat listing or an invalid
    /// documentId gets no files.
    fn listed(&mut self, ev: &RecordingEvent) {
        if ev.data.chunks.is_empty() {
            self.out.problems.push(Problem::NoChunks);
        }
        let mut listed: BTreeMap<&str, Vec<u32>> = BTreeMap::new();
        for ec in &ev.data.chunks {
            listed
                .entry(ec.document_id.as_str())
                .or_default()
                .push(ec.index);
        }
        // How many times each documentId was listed so far (in event order).
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        for (k, ec) in ev.data.chunks.iter().enumerate() {
            let doc = ec.document_id.as_str();
            if let Some(reason) = naming::invalid_document_id(doc) {
                // Never joined to the directory: no file is looked for, none is "absent".
                self.out.problems.push(Problem::InvalidDocumentId {
                    index: ec.index,
                    document_id: doc.to_string(),
                    field: format!("data.recordingStorageInfo.recordingChunks[{k}].documentId"),
                    reason,
                });
                self.out
                    .chunks
                    .push(Chunk::without_files(ec.index, doc, &ec.end_reason));
                continue;
            }
            let times = seen.entry(doc).or_default();
            *times += 1;
            if *times > 1 {
                // A repeat listing (by position: the same entry listed twice is one too):
                // reported once (at the first repeat), never given the first listing's
                // metadata or media, and kept as a chunk so its index is not a hole.
                if *times == 2 {
                    self.out.problems.push(Problem::DuplicateDocumentId {
                        document_id: doc.to_string(),
                        indices: listed[doc].clone(),
                    });
                }
                self.out
                    .chunks
                    .push(Chunk::without_files(ec.index, doc, &ec.end_reason));
                continue;
            }
            let chunk = self.first_listing(ec);
            self.out.chunks.push(chunk);
        }
    }

    /// The chunk of the first listing of `ec`'s documentId: its media and its metadata.
    fn first_listing(&mut self, ec: &EventChunk) -> Chunk {
        let doc = ec.document_id.as_str();
        let meta = self.take_metadata(doc);
        let media = self.files.media_of(doc);
        self.out.media_claimed.insert(doc.to_string());
        if media.absent {
            self.out
                .problems
                .push(self.files.media_absent(ec.index, doc));
        }
        let mut chunk = Chunk {
            index: ec.index,
            document_id: doc.to_string(),
            listed: true,
            end_reason: Some(ec.end_reason.clone()),
            media_path: media.path,
            media_absent: media.absent,
            metadata_path: None,
            metadata: None,
            repeat: false,
        };
        match meta {
            None => self.out.problems.push(Problem::MetadataAbsent {
                index: ec.index,
                document_id: doc.to_string(),
                expected: self.files.dir.map(|d| d.join(naming::metadata_file(doc))),
            }),
            Some(m) => self.attach(&mut chunk, m),
        }
        chunk
    }

    /// The unused metadata for `doc`, marked used: the one whose chunkDocumentId matches,
    /// else the file named after it.
    fn take_metadata(&mut self, doc: &str) -> Option<&'a MetaEntry> {
        let used = &self.used;
        let metas = self.metas;
        let i = metas
            .iter()
            .enumerate()
            .position(|(i, m)| {
                !used[i] && matches!(&m.result, Ok(md) if md.chunk_document_id == doc)
            })
            .or_else(|| {
                metas
                    .iter()
                    .enumerate()
                    .position(|(i, m)| !used[i] && m.stem.as_deref() == Some(doc))
            })?;
        self.used[i] = true;
        Some(&metas[i])
    }

    /// Gives listed `chunk` the metadata `m`, with what disagrees between the two.
    fn attach(&mut self, chunk: &mut Chunk, m: &MetaEntry) {
        let doc = &chunk.document_id;
        chunk.metadata_path = m.path.clone();
        let md = match &m.result {
            Err(e) => {
                self.out.problems.push(Problem::MetadataInvalid {
                    index: Some(chunk.index),
                    document_id: doc.clone(),
                    error: e.clone(),
                });
                return;
            }
            Ok(md) => md,
        };
        if md.chunk_index != chunk.index {
            self.out.problems.push(Problem::IndexMismatch {
                document_id: doc.clone(),
                event_index: chunk.index,
                metadata_index: md.chunk_index,
            });
        }
        if let Some(stem) = &m.stem {
            if *stem != md.chunk_document_id {
                self.out.problems.push(Problem::DocumentIdMismatch {
                    index: chunk.index,
                    file_document_id: stem.clone(),
                    chunk_document_id: md.chunk_document_id.clone(),
                });
            }
        }
        chunk.metadata = Some(md.clone());
    }

    /// The metadata no listing took: each is a problem, not a chunk.
    fn not_listed(&mut self) {
        for (i, m) in self.metas.iter().enumerate() {
            if self.used[i] {
                continue;
            }
            match &m.result {
                Ok(md) => {
                    if let Some(s) = &m.stem {
                        self.out.media_claimed.insert(s.clone());
                    }
                    self.out.problems.push(Problem::MetadataNotListed {
                        index: md.chunk_index,
                        document_id: md.chunk_document_id.clone(),
                        path: m.path.clone(),
                    });
                }
                Err(e) => self.unplaced_invalid(m, e),
            }
        }
    }

    /// Without an event: one chunk per valid metadata, placed by its chunkIndex.
    fn unlisted(&mut self) {
        for m in self.metas {
            let md = match &m.result {
                Err(e) => {
                    self.unplaced_invalid(m, e);
                    continue;
                }
                Ok(md) => md,
            };
            let file_doc = m
                .stem
                .clone()
                .unwrap_or_else(|| md.chunk_document_id.clone());
            if file_doc != md.chunk_document_id {
                self.out.problems.push(Problem::DocumentIdMismatch {
                    index: md.chunk_index,
                    file_document_id: file_doc.clone(),
                    chunk_document_id: md.chunk_document_id.clone(),
                });
            }
            let media = self.files.media_of(&file_doc);
            if media.absent {
                let problem = self.files.media_absent(md.chunk_index, &file_doc);
                self.out.problems.push(problem);
            }
            self.out.media_claimed.insert(file_doc.clone());
            self.out.chunks.push(Chunk {
                index: md.chunk_index,
                document_id: file_doc,
                listed: false,
                end_reason: None,
                media_path: media.path,
                media_absent: media.absent,
                metadata_path: m.path.clone(),
                metadata: Some(md.clone()),
                repeat: false,
            });
        }
    }

    /// Metadata that does not parse and belongs to no chunk: a problem; its media file is
    /// accounted for.
    fn unplaced_invalid(&mut self, m: &MetaEntry, e: &Error) {
        if let Some(s) = &m.stem {
            self.out.media_claimed.insert(s.clone());
        }
        self.out.problems.push(Problem::MetadataInvalid {
            index: None,
            document_id: m.stem.clone().unwrap_or_default(),
            error: e.clone(),
        });
    }
}

/// Holes in the chunk indices and indices held by two different documentIds (`chunks` sorted).
fn index_problems(chunks: &[Chunk]) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut by_index: BTreeMap<u32, Vec<String>> = BTreeMap::new();
    for c in chunks {
        by_index
            .entry(c.index)
            .or_default()
            .push(c.document_id.clone());
    }
    let mut expected_next: u32 = 0;
    for (&index, docs) in &by_index {
        if index > expected_next {
            problems.push(Problem::MissingIndex {
                first: expected_next,
                last: index - 1,
            });
        }
        // The same entry listed twice is one chunk listed twice (DuplicateDocumentId), not
        // two chunks at one index.
        let distinct: BTreeSet<&String> = docs.iter().collect();
        if distinct.len() > 1 {
            problems.push(Problem::DuplicateIndex {
                index,
                document_ids: docs.clone(),
            });
        }
        expected_next = index.saturating_add(1);
    }
    problems
}

/// The callId every chunk's metadata should carry, and where that comes from.
struct ExpectedCall {
    call_id: String,
    source: CallIdSource,
}

/// The expected callId: the event's subject, else the majority of the metadata (the earliest
/// chunk's on a tie).
fn expected_call_id(event: Option<&RecordingEvent>, chunks: &[Chunk]) -> Option<ExpectedCall> {
    if let Some(c) = event.and_then(|e| e.call_id()) {
        return Some(ExpectedCall {
            call_id: c.to_string(),
            source: CallIdSource::EventSubject,
        });
    }
    let mut counts: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for (order, c) in chunks.iter().enumerate() {
        if let Some(m) = &c.metadata {
            let e = counts.entry(m.call_id.as_str()).or_insert((0, order));
            e.0 += 1;
        }
    }
    counts
        .into_iter()
        .max_by(|a, b| a.1 .0.cmp(&b.1 .0).then(b.1 .1.cmp(&a.1 .1)))
        .map(|(c, _)| ExpectedCall {
            call_id: c.to_string(),
            source: CallIdSource::Majority,
        })
}

/// A [`Problem::CallIdMismatch`] per chunk whose metadata carries another callId.
fn call_id_problems(expected: &ExpectedCall, chunks: &[Chunk]) -> Vec<Problem> {
    chunks
        .iter()
        .filter_map(|c| {
            let m = c.metadata.as_ref()?;
            (m.call_id != expected.call_id).then(|| Problem::CallIdMismatch {
                index: c.index,
                document_id: c.document_id.clone(),
                expected: expected.call_id.clone(),
                source_of_expected: expected.source.clone(),
                actual: m.call_id.clone(),
            })
        })
        .collect()
}

/// `recordingDurationMs` against the metadata's chunkDuration total, when every listed chunk
/// has metadata: a [`Problem::DurationMismatch`] when they differ by a millisecond or more.
fn duration_problem(ev: &RecordingEvent, chunks: &[Chunk]) -> Option<Problem> {
    let listed: Vec<&Chunk> = chunks.iter().filter(|c| c.listed).collect();
    if listed.is_empty() || !listed.iter().all(|c| c.metadata.is_some()) {
        return None;
    }
    let total: Nanos = listed
        .iter()
        .filter_map(|c| c.metadata.as_ref())
        .map(|m| m.chunk_duration)
        .sum();
    let event_ns = i64::try_from(ev.data.recording_duration_ms)
        .ok()
        .and_then(|ms| ms.checked_mul(1_000_000))
        .map(Nanos::from_nanos)
        .unwrap_or(Nanos::MAX);
    ((event_ns - total).as_nanos().unsigned_abs() >= 1_000_000).then_some(
        Problem::DurationMismatch {
            event_ms: ev.data.recording_duration_ms,
            metadata_total: total,
        },
    )
}
