//! [`write()`]: execute a [`Plan`] into a temporary file beside the target, sync, rename.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use rayon::prelude::*;

use crate::{ChunkInput, ChunkPlacement, Error, Plan, Result, StitchOptions, TrackPlan};

/// Largest single copy handed to one worker: big ranges are split so that threads share the
/// work and progress moves.
const PIECE: u64 = 16 << 20;

/// Outputs at least this large are flushed to disk while they are copied (see [`write()`]).
const FLUSH_FROM: u64 = 64 << 20;

/// How long the flusher waits between two `fdatasync` calls.
const FLUSH_EVERY: Duration = Duration::from_millis(10);

/// What [`write()`] produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Chunks stitched.
    pub chunks: usize,
    /// Presented duration, ms (rounded to nearest).
    pub duration_ms: u64,
    /// Presented duration, µs (rounded to nearest).
    pub duration_us: u64,
    /// Bytes written (the output file's size).
    pub bytes: u64,
    /// Where each chunk landed on the output timeline.
    pub placements: Vec<ChunkPlacement>,
    /// The output's tracks as planned (what a re-read of the file must find).
    pub tracks: Vec<TrackPlan>,
    /// The output file.
    pub path: PathBuf,
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> Error + 'a {
    move |error| Error::Io {
        op,
        path: path.to_path_buf(),
        error,
    }
}

/// Plans and writes in one call: [`Plan::new`] then [`write()`].
pub fn stitch(
    chunks: &[ChunkInput],
    out: &Path,
    opts: &StitchOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Summary> {
    let plan = Plan::new(chunks, opts)?;
    write(&plan, out, opts, progress)
}

/// Writes the planned output to `out`.
///
/// The file is built as a [`temp::Temp`](crate::temp::Temp) in `out`'s directory, synced, then
/// renamed over `out` (and the directory synced): `out` never holds a partial file, and on any error the
/// temporary file is removed. Chunk files are only opened for reading; a target that is one of
/// them is refused ([`Error::OutputIsInput`]), as is a chunk file shorter than its samples need
/// ([`Error::SourceTruncated`], checked before anything is created).
///
/// The copies run on a private pool of `opts.threads` threads, or on the current rayon pool when
/// `None`. `progress` is called with the bytes written so far (header included; increasing;
/// the last call passes [`Plan::output_len`]), from the copying threads.
pub fn write(
    plan: &Plan,
    out: &Path,
    opts: &StitchOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Summary> {
    let out_canon = std::fs::canonicalize(out).ok();
    for (path, index, name, needed) in plan.source_checks() {
        let len = std::fs::metadata(path)
            .map_err(io_err("read metadata of", path))?
            .len();
        if len < needed {
            return Err(Error::SourceTruncated {
                index,
                name: name.to_string(),
                path: path.clone(),
                needed,
                len,
            });
        }
        if out_canon.is_some() && std::fs::canonicalize(path).ok() == out_canon {
            return Err(Error::OutputIsInput {
                path: out.to_path_buf(),
                index,
                name: name.to_string(),
            });
        }
    }
    // Errors name the target, never the temporary file.
    let mut temp =
        crate::temp::Temp::new(out).map_err(io_err("create a temporary file for", out))?;
    let tmp = temp.path().to_path_buf();
    let f = temp.as_file_mut();
    f.set_len(plan.output_len())
        .map_err(io_err("set the length of the temporary file for", out))?;
    f.write_all(plan.header())
        .map_err(io_err("write the header of", out))?;
    let f = temp.as_file();
    let done = Mutex::new(plan.header().len() as u64);
    progress(plan.header().len() as u64);

    let mut pieces = Vec::with_capacity(plan.copies().len());
    for r in plan.copies() {
        let mut off = 0;
        while off < r.len {
            let len = PIECE.min(r.len - off);
            pieces.push((r.chunk, r.src_offset + off, len, r.dst_offset + off));
            off += len;
        }
    }
    let run = || copy_pieces(plan, &pieces, &tmp, out, &done, progress);
    let copy = || match opts.threads {
        Some(n) => rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build()
            .map_err(|e| Error::Io {
                op: "start copy threads for",
                path: out.to_path_buf(),
                error: io::Error::other(e.to_string()),
            })?
            .install(run),
        None => run(),
    };
    // A large output is flushed to disk while the copy runs, so that the final sync has little
    // left to wait for (it took as long as the copy itself: 0.22 s for 464 MB). Errors of the
    // flusher are this file's sync errors (it uses the same file description).
    let copied = AtomicBool::new(false);
    let (copy_result, flush_result) = std::thread::scope(|s| {
        let flusher = (plan.output_len() >= FLUSH_FROM).then(|| {
            s.spawn(|| -> io::Result<()> {
                while !copied.load(Ordering::Acquire) {
                    f.sync_data()?;
                    std::thread::park_timeout(FLUSH_EVERY);
                }
                Ok(())
            })
        });
        let r = copy();
        copied.store(true, Ordering::Release);
        let fr = match flusher {
            Some(h) => {
                h.thread().unpark();
                h.join()
                    .unwrap_or_else(|_| Err(io::Error::other("the flushing thread panicked")))
            }
            None => Ok(()),
        };
        (r, fr)
    });
    copy_result?;
    flush_result.map_err(io_err("sync", out))?;

    f.sync_all().map_err(io_err("sync", out))?;
    temp.persist(out)
        .map_err(io_err("rename the temporary file to", out))?;
    Ok(Summary {
        chunks: plan.chunks().len(),
        duration_ms: plan.duration_ms(),
        duration_us: plan.duration_us(),
        bytes: plan.output_len(),
        placements: plan.chunks().to_vec(),
        tracks: plan.tracks().to_vec(),
        path: out.to_path_buf(),
    })
}

type Piece = (usize, u64, u64, u64);

/// Copies every piece, each worker with its own file handles: the output and the one chunk
/// file it last copied from (pieces are in chunk order, so a worker moves through the chunks;
/// it never holds more than one open, whatever their number). Positioned copies: the source
/// is read from `src_off` (`copy_file_range` on Linux), never mapped.
fn copy_pieces(
    plan: &Plan,
    pieces: &[Piece],
    tmp: &Path,
    out: &Path,
    done: &Mutex<u64>,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<()> {
    pieces.par_iter().try_for_each_init(
        || (None::<(usize, File)>, None::<File>),
        |(src, dst), &(chunk, src_off, len, dst_off)| {
            let src_path = plan.source_path(chunk).unwrap_or(Path::new(""));
            let src = match src {
                Some((c, f)) if *c == chunk => f,
                slot => {
                    // The previous chunk's file is closed here.
                    *slot = None;
                    let f = File::open(src_path).map_err(io_err("open", src_path))?;
                    &mut slot.insert((chunk, f)).1
                }
            };
            let dst = match dst {
                Some(f) => f,
                slot => slot.insert(
                    OpenOptions::new()
                        .write(true)
                        .open(tmp)
                        .map_err(io_err("open the temporary file for", out))?,
                ),
            };
            src.seek(SeekFrom::Start(src_off))
                .map_err(io_err("seek in", src_path))?;
            dst.seek(SeekFrom::Start(dst_off))
                .map_err(io_err("seek in the temporary file for", out))?;
            // std turns a copy from a `Take<&File>` into a `File` into copy_file_range on Linux.
            let n = io::copy(&mut Read::by_ref(src).take(len), dst)
                .map_err(io_err("copy into", out))?;
            if n != len {
                return Err(Error::Io {
                    op: "copy from",
                    path: src_path.to_path_buf(),
                    error: io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!(
                            "the file ended {} bytes early (it changed while it was copied)",
                            len - n
                        ),
                    ),
                });
            }
            let mut d = done.lock().unwrap_or_else(|e| e.into_inner());
            *d += len;
            progress(*d);
            Ok(())
        },
    )
}
