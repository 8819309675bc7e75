//! A recording: the event, its chunks and their metadata, matched up, with every inconsistency
//! collected as a [`Problem`].

use crate::error::Error;
use crate::event::RecordingEvent;
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

fn assemble(
    dir: Option<&Path>,
    event: Option<RecordingEvent>,
    metas: Vec<MetaEntry>,
    media: Option<&BTreeSet<String>>,
) -> Recording {
    let mut problems = Vec::new();
    let mut chunks = Vec::new();
    let media_of = |doc: &str| -> (Option<PathBuf>, bool) {
        match (dir, media) {
            (Some(d), Some(set)) => {
                if set.contains(doc) {
                    (Some(d.join(naming::media_file(doc))), false)
                } else {
                    (None, true)
                }
            }
            _ => (None, false),
        }
    };
    let mut used = vec![false; metas.len()];
    let mut media_claimed: BTreeSet<String> = BTreeSet::new();

    if let Some(ev) = &event {
        if ev.data.chunks.is_empty() {
            problems.push(Problem::NoChunks);
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
                problems.push(Problem::InvalidDocumentId {
                    index: ec.index,
                    document_id: doc.to_string(),
                    field: format!("data.recordingStorageInfo.recordingChunks[{k}].documentId"),
                    reason,
                });
                chunks.push(Chunk::without_files(ec.index, doc, &ec.end_reason));
                continue;
            }
            let indices = &listed[doc];
            let times = seen.entry(doc).or_default();
            *times += 1;
            if *times > 1 {
                // A repeat listing (by position: the same entry listed twice is one too):
                // reported once (at the first repeat), never given the first listing's
                // metadata or media, and kept as a chunk so its index is not a hole.
                if *times == 2 {
                    problems.push(Problem::DuplicateDocumentId {
                        document_id: doc.to_string(),
                        indices: indices.clone(),
                    });
                }
                chunks.push(Chunk::without_files(ec.index, doc, &ec.end_reason));
                continue;
            }
            // Prefer the metadata whose chunkDocumentId matches, else the file named after it.
            let pos = metas
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
                });
            let (media_path, media_absent) = media_of(doc);
            media_claimed.insert(doc.to_string());
            if media_absent {
                problems.push(Problem::MediaAbsent {
                    index: ec.index,
                    document_id: doc.to_string(),
                    expected: dir
                        .map(|d| d.join(naming::media_file(doc)))
                        .unwrap_or_default(),
                });
            }
            let mut chunk = Chunk {
                index: ec.index,
                document_id: doc.to_string(),
                listed: true,
                end_reason: Some(ec.end_reason.clone()),
                media_path,
                media_absent,
                metadata_path: None,
                metadata: None,
                repeat: false,
            };
            match pos {
                None => problems.push(Problem::MetadataAbsent {
                    index: ec.index,
                    document_id: doc.to_string(),
                    expected: dir.map(|d| d.join(naming::metadata_file(doc))),
                }),
                Some(i) => {
                    used[i] = true;
                    let m = &metas[i];
                    chunk.metadata_path = m.path.clone();
                    match &m.result {
                        Err(e) => problems.push(Problem::MetadataInvalid {
                            index: Some(ec.index),
                            document_id: doc.to_string(),
                            error: e.clone(),
                        }),
                        Ok(md) => {
                            if md.chunk_index != ec.index {
                                problems.push(Problem::IndexMismatch {
                                    document_id: doc.to_string(),
                                    event_index: ec.index,
                                    metadata_index: md.chunk_index,
                                });
                            }
                            if let Some(stem) = &m.stem {
                                if *stem != md.chunk_document_id {
                                    problems.push(Problem::DocumentIdMismatch {
                                        index: ec.index,
                                        file_document_id: stem.clone(),
                                        chunk_document_id: md.chunk_document_id.clone(),
                                    });
                                }
                            }
                            chunk.metadata = Some(md.clone());
                        }
                    }
                }
            }
            chunks.push(chunk);
        }
        for (i, m) in metas.iter().enumerate() {
            if used[i] {
                continue;
            }
            let stem = m.stem.clone();
            if let Some(s) = &stem {
                media_claimed.insert(s.clone());
            }
            match &m.result {
                Ok(md) => problems.push(Problem::MetadataNotListed {
                    index: md.chunk_index,
                    document_id: md.chunk_document_id.clone(),
                    path: m.path.clone(),
                }),
                Err(e) => problems.push(Problem::MetadataInvalid {
                    index: None,
                    document_id: stem.unwrap_or_default(),
                    error: e.clone(),
                }),
            }
        }
    } else {
        problems.push(Problem::EventAbsent);
        for m in &metas {
            let stem = m.stem.clone();
            match &m.result {
                Err(e) => {
                    if let Some(s) = &stem {
                        media_claimed.insert(s.clone());
                    }
                    problems.push(Problem::MetadataInvalid {
                        index: None,
                        document_id: stem.unwrap_or_default(),
                        error: e.clone(),
                    });
                }
                Ok(md) => {
                    let file_doc = stem.clone().unwrap_or_else(|| md.chunk_document_id.clone());
                    if file_doc != md.chunk_document_id {
                        problems.push(Problem::DocumentIdMismatch {
                            index: md.chunk_index,
                            file_document_id: file_doc.clone(),
                            chunk_document_id: md.chunk_document_id.clone(),
                        });
                    }
                    let (media_path, media_absent) = media_of(&file_doc);
                    if media_absent {
                        problems.push(Problem::MediaAbsent {
                            index: md.chunk_index,
                            document_id: file_doc.clone(),
                            expected: dir
                                .map(|d| d.join(naming::media_file(&file_doc)))
                                .unwrap_or_default(),
                        });
                    }
                    media_claimed.insert(file_doc.clone());
                    chunks.push(Chunk {
                        index: md.chunk_index,
                        document_id: file_doc,
                        listed: false,
                        end_reason: None,
                        media_path,
                        media_absent,
                        metadata_path: m.path.clone(),
                        metadata: Some(md.clone()),
                        repeat: false,
                    });
                }
            }
        }
    }

    if let (Some(d), Some(set)) = (dir, media) {
        for doc in set {
            if !media_claimed.contains(doc) {
                problems.push(Problem::MediaNotListed {
                    document_id: doc.clone(),
                    path: d.join(naming::media_file(doc)),
                });
            }
        }
    }

    chunks.sort_by(|a, b| {
        a.index
            .cmp(&b.index)
            .then_with(|| a.document_id.cmp(&b.document_id))
    });

    // Indices: duplicates and holes.
    let mut by_index: BTreeMap<u32, Vec<String>> = BTreeMap::new();
    for c in &chunks {
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

    // callId: the event's subject, else the majority of the metadata.
    let expected_call = event
        .as_ref()
        .and_then(|e| e.call_id())
        .map(|c| (c.to_string(), CallIdSource::EventSubject))
        .or_else(|| {
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
                .map(|(c, _)| (c.to_string(), CallIdSource::Majority))
        });
    if let Some((expected, source)) = expected_call {
        for c in &chunks {
            if let Some(m) = &c.metadata {
                if m.call_id != expected {
                    problems.push(Problem::CallIdMismatch {
                        index: c.index,
                        document_id: c.document_id.clone(),
                        expected: expected.clone(),
                        source_of_expected: source.clone(),
                        actual: m.call_id.clone(),
                    });
                }
            }
        }
    }

    // recordingDurationMs against the metadata, when every listed chunk has metadata.
    if let Some(ev) = &event {
        let listed: Vec<&Chunk> = chunks.iter().filter(|c| c.listed).collect();
        if !listed.is_empty() && listed.iter().all(|c| c.metadata.is_some()) {
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
            if (event_ns - total).as_nanos().unsigned_abs() >= 1_000_000 {
                problems.push(Problem::DurationMismatch {
                    event_ms: ev.data.recording_duration_ms,
                    metadata_total: total,
                });
            }
        }
    }

    Recording {
        dir: dir.map(Path::to_path_buf),
        event,
        chunks,
        problems,
    }
}
