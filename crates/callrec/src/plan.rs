//! [`Recording::plan`]'s steps: refuse a recording whose chunk sequence is wrong, read and
//! validate each chunk (one file open per thread), place it on the wall clock, then plan.

use std::io;
use std::path::PathBuf;

use callrec_meta::Chunk;
use callrec_mp4::Source;

use crate::reader::Stamp;
use crate::ChunkReader;
use crate::{Error, Problem, Recording, Result, StitchOptions, Timeline};

/// What planning gives: the chunks as the stitcher reads them, the plan, and what each chunk
/// file was when it was read.
pub(crate) struct Planned {
    pub(crate) inputs: Vec<callrec_stitch::ChunkInput>,
    pub(crate) plan: callrec_stitch::Plan,
    pub(crate) stamps: Vec<Stamp>,
}

/// One chunk file as [`Recording::read_chunk`] read it: parsed and its tables checked, its
/// video samples still to walk ([`walk_chunk`]).
struct ReadChunk {
    path: PathBuf,
    movie: callrec_mp4::Movie,
    tables: callrec_mp4::Tables,
    stamp: Stamp,
}

impl Recording {
    /// [`Recording::plan`], with what each chunk file was when it was read.
    ///
    /// Each chunk is read, parsed and its tables checked ([`Recording::read_chunk`], in
    /// parallel); then the NAL units of the video samples, the one check that reads sample
    /// bytes and most of the time, are walked ([`walk_chunk`]) while the plan is made (it reads
    /// no sample byte). The error is the first in chunk order and, for one chunk, in the order
    /// of the steps, so a defect found by the walk wins over a later chunk's parse error and
    /// over the planner's: the same error as when each chunk was validated in full first.
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
        // On the copy threads' count (`opts.threads`), or the caller's pool.
        let pool = opts.threads.and_then(|n| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(n.clamp(1, crate::max_threads()))
                .build()
                .ok()
        });
        match &pool {
            Some(pool) => pool.install(|| self.read_and_plan(opts)),
            None => self.read_and_plan(opts),
        }
    }

    /// [`Recording::plan_stamped`]'s steps, on the current rayon pool.
    fn read_and_plan(&self, opts: &StitchOptions) -> Result<Planned> {
        use rayon::prelude::*;
        let read: Vec<Result<ReadChunk>> = self
            .meta
            .chunks
            .par_iter()
            .enumerate()
            .map(|(i, chunk)| self.read_chunk(i, chunk))
            .collect();
        let timeline = opts.wall_clock.then(|| self.timeline());
        let (mut inputs, mut stamps, mut tables) = (Vec::new(), Vec::new(), Vec::new());
        let mut failed = None;
        for (chunk, r) in self.meta.chunks.iter().zip(read) {
            match r {
                Ok(r) => {
                    tables.push(r.tables);
                    stamps.push(r.stamp);
                    inputs.push(chunk_input(chunk, r.path, r.movie, timeline.as_ref()));
                }
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        // The chunks before the first that failed are walked: one of them may fail first.
        let walk = || -> Result<()> {
            let walked: Vec<Result<()>> = tables
                .into_par_iter()
                .zip(&stamps)
                .zip(&inputs)
                .map(|((tables, stamp), input)| walk_chunk(stamp, &input.movie, tables))
                .collect();
            walked.into_iter().collect()
        };
        if let Some(e) = failed {
            walk()?;
            return Err(e);
        }
        let (walked, plan) = rayon::join(walk, || {
            callrec_stitch::Plan::new(&inputs, &opts.stitch_options())
        });
        walked?;
        Ok(Planned {
            plan: plan?,
            inputs,
            stamps,
        })
    }

    /// Opens chunk `i`, parses its tables and checks them ([`callrec_mp4::validate_tables`]),
    /// and closes it: a chunk without media is not stitchable, one with a structural defect is
    /// [`Error::Structure`] (its samples walked at once, to name the first of every defect).
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
        let fail = ChunkFailure {
            index: chunk.index,
            document_id: &chunk.document_id,
            path,
        };
        let reader = reader.map_err(|e| fail.open(e))?;
        let movie = callrec_mp4::Movie::read(&reader, callrec_mp4::ParseOptions::default())
            .map_err(|e| fail.read(e))?;
        let tables = callrec_mp4::validate_tables(&reader, &movie).map_err(|e| fail.read(e))?;
        if !tables.defects().is_empty() {
            let defects = tables
                .walk(&reader, &movie, &[])
                .map_err(|e| fail.read(e))?;
            return Err(fail.structure(&defects));
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
            tables,
            stamp,
        })
    }
}

/// Walks the NAL units of the video samples of a chunk that [`Recording::read_chunk`] read
/// (`stamp`: what its file was then), in the file opened again: a defect is
/// [`Error::Structure`], a file that is not the one read, or changes while it is walked,
/// [`Error::Changed`].
fn walk_chunk(
    stamp: &Stamp,
    movie: &callrec_mp4::Movie,
    tables: callrec_mp4::Tables,
) -> Result<()> {
    let fail = ChunkFailure {
        index: stamp.index,
        document_id: &stamp.document_id,
        path: &stamp.path,
    };
    let reader = ChunkReader::open(&stamp.path)
        .map_err(|e| fail.changed(format!("it cannot be examined any more: {e}")))?;
    if let Some(why) = stamp.differs(reader.len, reader.modified, reader.inode) {
        return Err(fail.changed(why));
    }
    let defects = tables.walk(&reader, movie, &[]).map_err(|e| fail.read(e))?;
    if !defects.is_empty() {
        return Err(fail.structure(&defects));
    }
    if let Some(why) = reader.changed() {
        return Err(fail.changed(why));
    }
    Ok(())
}

/// The stitcher's view of `chunk`, its media parsed from `path` (wall-clock mode: with the
/// `timeline`'s pauses and gaps as empty edits, and its wall-clock start).
fn chunk_input(
    chunk: &Chunk,
    path: PathBuf,
    movie: callrec_mp4::Movie,
    timeline: Option<&Timeline>,
) -> callrec_stitch::ChunkInput {
    callrec_stitch::ChunkInput {
        index: chunk.index,
        name: chunk.document_id.clone(),
        path,
        movie,
        empty_edits: timeline
            .map(|t| empty_edits(t, chunk.index))
            .unwrap_or_default(),
        wall_start_us: timeline
            .zip(chunk.metadata.as_ref())
            .map(|(t, m)| wall_start_us(t, m, chunk.index)),
    }
}

/// The errors of reading one chunk's file at `path`.
struct ChunkFailure<'a> {
    index: u32,
    document_id: &'a str,
    path: &'a PathBuf,
}

impl ChunkFailure<'_> {
    /// The file could not be opened or read.
    fn open(&self, error: io::Error) -> Error {
        Error::Open {
            index: self.index,
            document_id: self.document_id.to_string(),
            path: self.path.clone(),
            error,
        }
    }

    /// The file is not what it was when opened.
    fn changed(&self, why: String) -> Error {
        Error::Changed {
            index: self.index,
            document_id: self.document_id.to_string(),
            path: self.path.clone(),
            why,
        }
    }

    /// The chunk's structural defects (at least one): the first, and how many.
    fn structure(&self, defects: &[callrec_mp4::Defect]) -> Error {
        match defects.first() {
            Some(first) => Error::Structure {
                index: self.index,
                document_id: self.document_id.to_string(),
                path: self.path.clone(),
                defect: Box::new(first.clone()),
                defects: defects.len(),
            },
            None => self.changed("its structure could not be checked".into()),
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
                index: self.index,
                document_id: self.document_id.to_string(),
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
