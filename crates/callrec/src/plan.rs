//! [`Recording::plan`]'s steps: refuse a recording whose chunk sequence is wrong, read and
//! validate each chunk (one file open per thread), place it on the wall clock, then plan.

use std::io;
use std::path::PathBuf;

use callrec_meta::Chunk;
use callrec_mp4::Source;

use crate::reader::Stamp;
use crate::{Error, Problem, Recording, Result, StitchOptions, Timeline};

/// What planning gives: the chunks as the stitcher reads them, the plan, and what each chunk
/// file was when it was read.
pub(crate) struct Planned {
    pub(crate) inputs: Vec<callrec_stitch::ChunkInput>,
    pub(crate) plan: callrec_stitch::Plan,
    pub(crate) stamps: Vec<Stamp>,
}

/// One chunk file as [`Recording::read_chunk`] read it.
struct ReadChunk {
    path: PathBuf,
    movie: callrec_mp4::Movie,
    stamp: Stamp,
}

impl Recording {
    /// [`Recording::plan`], with what each chunk file was when it was read.
    pub(crate) fn plan_stamped(&self, opts: &StitchOptions) -> Result<Planned> {
        let blocking = self
            .meta
            .problems
            .iter()
            .find(|p| blocks_stitch(p, opts.wall_clock));
        if let Some(problem) = blocking {
            return Err(Error::NotStitchable {
                dir: self.dir.clone(),
                problem: Box::new(problem.clone()),
            });
        }
        let timeline = opts.wall_clock.then(|| self.timeline());
        let mut inputs = Vec::with_capacity(self.meta.chunks.len());
        let mut stamps = Vec::with_capacity(self.meta.chunks.len());
        for (chunk, read) in self.meta.chunks.iter().zip(self.read_chunks(opts)) {
            let read = read?;
            stamps.push(read.stamp);
            inputs.push(callrec_stitch::ChunkInput {
                index: chunk.index,
                name: chunk.document_id.clone(),
                path: read.path,
                movie: read.movie,
                empty_edits: timeline
                    .as_ref()
                    .map(|t| empty_edits(t, chunk.index))
                    .unwrap_or_default(),
                wall_start_us: timeline
                    .as_ref()
                    .zip(chunk.metadata.as_ref())
                    .map(|(t, m)| wall_start_us(t, m, chunk.index)),
            });
        }
        let plan = callrec_stitch::Plan::new(&inputs, &opts.stitch_options())?;
        Ok(Planned {
            inputs,
            plan,
            stamps,
        })
    }

    /// Every chunk read ([`Recording::read_chunk`]), in parallel on the copy threads' count
    /// (`opts.threads`, or the caller's pool), in chunk order: the first failure in that order
    /// is the error, whatever finished first.
    fn read_chunks(&self, opts: &StitchOptions) -> Vec<Result<ReadChunk>> {
        use rayon::prelude::*;
        let all = || -> Vec<Result<ReadChunk>> {
            self.meta
                .chunks
                .par_iter()
                .enumerate()
                .map(|(i, chunk)| self.read_chunk(i, chunk))
                .collect()
        };
        let pool = opts.threads.and_then(|n| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(n.clamp(1, crate::max_threads()))
                .build()
                .ok()
        });
        match &pool {
            Some(pool) => pool.install(all),
            None => all(),
        }
    }

    /// Opens chunk `i`, parses its tables, validates it and closes it: a chunk without media
    /// is not stitchable, one with a structural defect is [`Error::Structure`].
    fn read_chunk(&self, i: usize, chunk: &Chunk) -> Result<ReadChunk> {
        let (Some(path), Some(reader)) = (&chunk.media_path, self.open_chunk(i)) else {
            return Err(Error::NotStitchable {
                dir: self.dir.clone(),
                problem: Box::new(Problem::MediaAbsent {
                    index: chunk.index,
                    document_id: chunk.document_id.clone(),
                    expected: self
                        .dir
                        .join(callrec_meta::naming::media_file(&chunk.document_id)),
                }),
            });
        };
        let fail = ChunkFailure { chunk, path };
        let reader = reader.map_err(|e| fail.open(e))?;
        let movie = callrec_mp4::Movie::read(&reader, callrec_mp4::ParseOptions::default())
            .map_err(|e| fail.read(e))?;
        let defects = callrec_mp4::validate_source(&reader, &movie).map_err(|e| fail.read(e))?;
        if let Some(first) = defects.first() {
            return Err(Error::Structure {
                index: chunk.index,
                document_id: chunk.document_id.clone(),
                path: path.clone(),
                defect: Box::new(first.clone()),
                defects: defects.len(),
            });
        }
        if let Some(why) = reader.changed() {
            return Err(fail.changed(why));
        }
        let stamp = Stamp {
            index: chunk.index,
            document_id: chunk.document_id.clone(),
            path: path.clone(),
            len: reader.len,
            modified: reader.modified,
            inode: reader.inode,
        };
        Ok(ReadChunk {
            path: path.clone(),
            movie,
            stamp,
        })
    }
}

/// The errors of reading one chunk's file at `path`.
struct ChunkFailure<'a> {
    chunk: &'a Chunk,
    path: &'a PathBuf,
}

impl ChunkFailure<'_> {
    /// The file could not be opened or read.
    fn open(&self, error: io::Error) -> Error {
        Error::Open {
            index: self.chunk.index,
            document_id: self.chunk.document_id.clone(),
            path: self.path.clone(),
            error,
        }
    }

    /// The file is not what it was when opened.
    fn changed(&self, why: String) -> Error {
        Error::Changed {
            index: self.chunk.index,
            document_id: self.chunk.document_id.clone(),
            path: self.path.clone(),
            why,
        }
    }

    /// A parse or validation failure: a short read is a file that changed, another read error
    /// an I/O error, anything else a parse error.
    fn read(&self, error: callrec_mp4::Error) -> Error {
        match error {
            callrec_mp4::Error::Read {
                kind: io::ErrorKind::UnexpectedEof,
                ..
            } => self.changed(error.to_string()),
            callrec_mp4::Error::Read { kind, .. } => {
                self.open(io::Error::new(kind, error.to_string()))
            }
            error => Error::Parse {
                index: self.chunk.index,
                document_id: self.chunk.document_id.clone(),
                path: self.path.clone(),
                error: Box::new(error),
            },
        }
    }
}

/// Whether a problem stops a stitch (see [`Recording::plan`]).
fn blocks_stitch(problem: &Problem, wall_clock: bool) -> bool {
    match problem {
        Problem::MissingIndex { .. }
        | Problem::DuplicateIndex { .. }
        | Problem::DuplicateDocumentId { .. }
        | Problem::MediaAbsent { .. }
        | Problem::InvalidDocumentId { .. }
        | Problem::IndexMismatch { .. }
        | Problem::NoChunks => true,
        Problem::MetadataAbsent { .. } | Problem::MetadataInvalid { .. } => wall_clock,
        _ => false,
    }
}

/// Where a chunk's first media instant is on the wall clock, µs after the recording's start:
/// its own `chunkStartTime` (0 when before the start), plus the pauses it starts with. Not the
/// timeline's overlap-resolved start: a predecessor whose `chunkDuration` overstates its media
/// does not push it later.
fn wall_start_us(timeline: &Timeline, meta: &callrec_meta::ChunkMetadata, chunk: u32) -> u64 {
    let since = callrec_meta::Nanos::between(timeline.start(), meta.chunk_start_time);
    let paused: callrec_meta::Nanos = timeline
        .chunk_layout()
        .iter()
        .filter(|l| l.chunk == chunk)
        .flat_map(|l| &l.pauses)
        .filter(|p| p.media_offset == callrec_meta::Nanos::ZERO)
        .map(|p| p.duration)
        .sum();
    u64::try_from((since + paused).as_micros_floor()).unwrap_or(0)
}

/// A chunk's pauses (and the gap before it) as empty time for a wall-clock stitch (the stitcher
/// makes them timestamp gaps: the frame before a pause is held, the audio is silent).
fn empty_edits(timeline: &Timeline, chunk: u32) -> Vec<callrec_stitch::EmptyEdit> {
    let micros = |n: callrec_meta::Nanos| u64::try_from(n.as_micros_floor()).unwrap_or(0);
    let Some(layout) = timeline.chunk_layout().iter().find(|l| l.chunk == chunk) else {
        return Vec::new();
    };
    let gap = (micros(layout.gap_before) > 0).then(|| callrec_stitch::EmptyEdit {
        at_us: 0,
        duration_us: micros(layout.gap_before),
    });
    gap.into_iter()
        .chain(layout.pauses.iter().map(|p| callrec_stitch::EmptyEdit {
            at_us: micros(p.media_offset),
            duration_us: micros(p.duration),
        }))
        .collect()
}
