//! [`write()`]: execute a [`Plan`] into a temporary file beside the target, sync, rename.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::num::NonZeroU64;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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

/// The block size assumed where the filesystem does not say.
const DEFAULT_BLOCK: u64 = 4096;

/// The largest block size [`block_size`] reports: above it (a network filesystem's transfer
/// size, 1 MiB on NFS) padding would cost more than cloning could save, and no common
/// copy-on-write filesystem uses one (OpenZFS's default record is 128 KiB).
const MAX_BLOCK: u64 = 128 << 10;

/// The block size of the filesystem holding `path` (a file or a directory; for a path that does
/// not exist yet, its parent directory): its `st_blksize` (4096 on XFS, btrfs, ext4 and tmpfs),
/// or 4096 when unknown, not a power of two, or above 128 KiB. Pass it as
/// [`StitchOptions::align`] to lay the output out for cloning.
pub fn block_size(path: &Path) -> u64 {
    let dir = match path.parent() {
        Some(p) if !path.exists() => {
            if p.as_os_str().is_empty() {
                Path::new(".")
            } else {
                p
            }
        }
        _ => path,
    };
    std::fs::metadata(dir)
        .map(|m| m.blksize())
        .ok()
        .filter(|b| *b > 1 && b.is_power_of_two() && *b <= MAX_BLOCK)
        .unwrap_or(DEFAULT_BLOCK)
}

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
    /// Sample bytes cloned from the chunk files: their blocks are shared with the chunks (a
    /// copy-on-write filesystem), not written again.
    pub shared: u64,
    /// Sample bytes copied (the unaligned head and tail of each run, every range whose clone the
    /// filesystem refused, everything with [`StitchOptions::no_reflink`]).
    pub copied: u64,
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
/// The file is built as a [`temp::Temp`](crate::temp::Temp) in `out`'s directory, synced and read
/// back (the two at once: see [`crate::verify`]), then renamed over `out` (and the directory
/// synced): `out` never holds a partial file, and on any error the
/// temporary file is removed. Chunk files are only opened for reading; a target that is one of
/// them is refused ([`Error::OutputIsInput`]), as is a chunk file shorter than its samples need
/// ([`Error::SourceTruncated`], checked before anything is created).
///
/// Each copy range whose source and destination offsets are congruent modulo the output
/// filesystem's block size (all of them with [`StitchOptions::align`] set to it) has its
/// block-aligned middle cloned (`FICLONERANGE`: the blocks are shared with the chunk file) and its
/// unaligned head and tail copied. Where the filesystem refuses a clone (`EXDEV`: another
/// filesystem, `EOPNOTSUPP`/`ENOTTY`: no reflink support, `EINVAL`: a range it cannot clone) that
/// range is copied instead; after `EXDEV`, `EOPNOTSUPP` or `ENOTTY` no further clone is tried.
/// The file is the same bytes either way; [`Summary::shared`] and [`Summary::copied`] say how
/// the sample bytes got there. [`StitchOptions::no_reflink`] copies everything.
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
    check_sources(plan, out)?;
    // Errors name the target, never the temporary file.
    let mut temp =
        crate::temp::Temp::new(out).map_err(io_err("create a temporary file for", out))?;
    let tmp = temp.path().to_path_buf();
    write_fixed(plan, temp.as_file_mut(), out)?;
    let f = temp.as_file();
    let block = clone_block(f, opts);
    let counts = Counts {
        buffered: opts.no_reflink,
        shared: AtomicU64::new(0),
        copied: AtomicU64::new(0),
        clone_refused: AtomicBool::new(block.is_none()),
        cloned: Mutex::new(Vec::new()),
    };
    let pieces = pieces(plan.copies(), block);
    let target = Target {
        file: f,
        tmp: &tmp,
        out,
    };
    copy_and_flush(plan, &pieces, &target, opts.threads, &counts, progress)?;
    let cloned = counts
        .cloned
        .into_inner()
        .unwrap_or_else(|e| e.into_inner());
    sync_and_verify(plan, f, out, &cloned, opts.verify_payload)?;
    temp.persist(out)
        .map_err(io_err("rename the temporary file to", out))?;
    Ok(Summary {
        chunks: plan.chunks().len(),
        duration_ms: plan.duration_ms(),
        duration_us: plan.duration_us(),
        bytes: plan.output_len(),
        shared: counts.shared.load(Ordering::Relaxed),
        copied: counts.copied.load(Ordering::Relaxed),
        placements: plan.chunks().to_vec(),
        tracks: plan.tracks().to_vec(),
        path: out.to_path_buf(),
    })
}

/// Syncs the temporary file (data and size) and reads it back ([`crate::verify`]) at the same
/// time: the read-back reads the page cache, which holds the same bytes before and after the
/// sync, and waiting for the disk leaves the CPU free (the sync of a copied hour took longer
/// than its read-back). Both must succeed; a sync error is reported first, as when they ran
/// one after the other.
fn sync_and_verify(
    plan: &Plan,
    f: &File,
    out: &Path,
    cloned: &[std::ops::Range<u64>],
    payload: bool,
) -> Result<()> {
    let (synced, verified) = std::thread::scope(|s| {
        let sync = s.spawn(|| f.sync_all());
        let verified = crate::verify::verify(plan, f, out, cloned, payload);
        let synced = sync
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the syncing thread panicked")));
        (synced, verified)
    });
    synced.map_err(io_err("sync", out))?;
    verified
}

/// The temporary file being written: its open handle, its path, and the target it will be
/// renamed to (which errors name).
#[derive(Clone, Copy)]
struct Target<'a> {
    file: &'a File,
    tmp: &'a Path,
    out: &'a Path,
}

/// Refuses a chunk file shorter than its samples need ([`Error::SourceTruncated`]) and a
/// target that is one of the chunk files ([`Error::OutputIsInput`]), before anything is
/// created.
fn check_sources(plan: &Plan, out: &Path) -> Result<()> {
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
    Ok(())
}

/// Sizes the temporary file and writes what the plan holds itself: the header and the silent
/// frames (the alignment's padding is the zeros of the sized file).
fn write_fixed(plan: &Plan, f: &mut File, out: &Path) -> Result<()> {
    f.set_len(plan.output_len())
        .map_err(io_err("set the length of the temporary file for", out))?;
    f.write_all(plan.header())
        .map_err(io_err("write the header of", out))?;
    for (at, bytes) in plan.literals() {
        f.write_all_at(bytes, *at)
            .map_err(io_err("write the silent frames of", out))?;
    }
    Ok(())
}

/// The block size clones are cut at (the output file's `st_blksize`), or `None` when cloning is
/// off ([`StitchOptions::no_reflink`]) or the size is not a power of two.
fn clone_block(f: &File, opts: &StitchOptions) -> Option<u64> {
    if opts.no_reflink {
        None
    } else {
        Some(f.metadata().map(|m| m.blksize()).unwrap_or(DEFAULT_BLOCK))
            .filter(|b| *b > 1 && b.is_power_of_two())
    }
}

/// Runs [`copy_pieces`] on the pool `opts.threads` asks for (the current one when `None`),
/// with a flusher thread beside it for a large output.
///
/// A large output is flushed to disk while the copy runs, so that the final sync has little
/// left to wait for (it took as long as the copy itself: 0.22 s for 464 MB). Errors of the
/// flusher are this file's sync errors (it uses the same file description). Cloned ranges
/// need no flushing: it syncs only once bytes were copied since its last sync.
fn copy_and_flush(
    plan: &Plan,
    pieces: &[Piece],
    target: &Target,
    threads: Option<usize>,
    counts: &Counts,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<()> {
    let Target { file: f, tmp, out } = *target;
    // Header, silent frames and the alignment's zero padding are in place: what is left is
    // the copies.
    let copying: u64 = plan.copies().iter().map(|r| r.len).sum();
    let written = plan.output_len().saturating_sub(copying);
    let done = Mutex::new(written);
    progress(written);
    let run = || copy_pieces(plan, pieces, tmp, out, &done, counts, progress);
    let copy = || match threads {
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
    let copied = AtomicBool::new(false);
    let (copy_result, flush_result) = std::thread::scope(|s| {
        let flusher = (plan.output_len() >= FLUSH_FROM).then(|| {
            s.spawn(|| -> io::Result<()> {
                let mut synced = 0;
                while !copied.load(Ordering::Acquire) {
                    let now = counts.copied.load(Ordering::Relaxed);
                    if now != synced {
                        f.sync_data()?;
                        synced = now;
                    }
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
    flush_result.map_err(io_err("sync", out))
}

/// One piece of work: `len` bytes of chunk `chunk` from `src` to `dst`, cloned or copied.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Piece {
    pub(crate) chunk: usize,
    pub(crate) src: u64,
    pub(crate) len: u64,
    pub(crate) dst: u64,
    pub(crate) clone: bool,
}

/// Copy ranges cut into pieces of at most [`PIECE`] bytes: with a `block` size, the
/// block-aligned middle of each range whose source and destination are congruent modulo it
/// becomes clone pieces (cut at block multiples), its head and tail copy pieces.
pub(crate) fn pieces(copies: &[crate::CopyRange], block: Option<u64>) -> Vec<Piece> {
    let mut out = Vec::with_capacity(copies.len());
    let mut push = |r: &crate::CopyRange, from: u64, to: u64, clone: bool, step: u64| {
        let mut off = from;
        while off < to {
            let len = step.min(to - off);
            out.push(Piece {
                chunk: r.chunk,
                src: r.src_offset + off,
                len,
                dst: r.dst_offset + off,
                clone,
            });
            off += len;
        }
    };
    for r in copies {
        match block {
            Some(b) if r.src_offset % b == r.dst_offset % b => {
                // Offsets within the range where the source (and so the output) is aligned.
                let head = (b - r.src_offset % b) % b;
                let (mid_start, mid_end) = if head < r.len {
                    (head, head + (r.len - head) / b * b)
                } else {
                    (r.len, r.len)
                };
                let step = (PIECE / b).max(1) * b;
                push(r, 0, mid_start, false, PIECE);
                push(r, mid_start, mid_end, true, step);
                push(r, mid_end, r.len, false, PIECE);
            }
            _ => push(r, 0, r.len, false, PIECE),
        }
    }
    out
}

/// Bytes cloned and copied so far, whether cloning has been given up, whether copies go
/// through a buffer (never a clone: [`StitchOptions::no_reflink`]), and the output ranges
/// cloned (for the read-back).
struct Counts {
    buffered: bool,
    shared: AtomicU64,
    copied: AtomicU64,
    clone_refused: AtomicBool,
    cloned: Mutex<Vec<std::ops::Range<u64>>>,
}

/// What a refused clone means: `Some(true)` the filesystem cannot clone at all (stop trying),
/// `Some(false)` not this range, `None` a real I/O error.
fn clone_refusal(e: &io::Error) -> Option<bool> {
    match e.raw_os_error() {
        Some(libc::EXDEV | libc::EOPNOTSUPP | libc::ENOTTY | libc::ENOSYS) => Some(true),
        Some(libc::EINVAL) => Some(false),
        _ => None,
    }
}

/// Copies (or clones) every piece, each worker with its own file handles: the output and the
/// one chunk file it last read from (pieces are in chunk order, so a worker moves through the
/// chunks; it never holds more than one open, whatever their number). Positioned copies: the
/// source is read at the piece's offset, never mapped.
fn copy_pieces(
    plan: &Plan,
    pieces: &[Piece],
    tmp: &Path,
    out: &Path,
    done: &Mutex<u64>,
    counts: &Counts,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<()> {
    pieces.par_iter().try_for_each_init(
        || (None::<(usize, File)>, None::<File>, Vec::<u8>::new()),
        |(src, dst, buf), p| {
            let src_path = plan.source_path(p.chunk).unwrap_or(Path::new(""));
            let src = match src {
                Some((c, f)) if *c == p.chunk => f,
                slot => {
                    // The previous chunk's file is closed here.
                    *slot = None;
                    let f = File::open(src_path).map_err(io_err("open", src_path))?;
                    &mut slot.insert((p.chunk, f)).1
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
            let cloned = match NonZeroU64::new(p.len) {
                Some(len) if p.clone && !counts.clone_refused.load(Ordering::Relaxed) => {
                    match reflink_copy::ReflinkBlockBuilder::new(src, dst, len)
                        .from_offset(p.src)
                        .to_offset(p.dst)
                        .reflink_block()
                    {
                        Ok(()) => true,
                        Err(e) => match clone_refusal(&e) {
                            Some(stop) => {
                                if stop {
                                    counts.clone_refused.store(true, Ordering::Relaxed);
                                }
                                false
                            }
                            None => return Err(io_err("clone into", out)(e)),
                        },
                    }
                }
                _ => false,
            };
            if cloned {
                counts.shared.fetch_add(p.len, Ordering::Relaxed);
                counts
                    .cloned
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(p.dst..p.dst + p.len);
            } else if counts.buffered {
                copy_piece_buffered(src, dst, buf, src_path, out, p)?;
                counts.copied.fetch_add(p.len, Ordering::Relaxed);
            } else {
                copy_piece(src, dst, src_path, out, p)?;
                counts.copied.fetch_add(p.len, Ordering::Relaxed);
            }
            let mut d = done.lock().unwrap_or_else(|e| e.into_inner());
            *d += p.len;
            progress(*d);
            Ok(())
        },
    )
}

/// Bytes read and written at a time by [`copy_piece_buffered`].
const BUFFER: usize = 1 << 20;

/// Copies one piece's bytes through a buffer (`pread`/`pwrite`): never a clone, which the
/// kernel's `copy_file_range` makes of an aligned range on a copy-on-write filesystem.
fn copy_piece_buffered(
    src: &File,
    dst: &File,
    buf: &mut Vec<u8>,
    src_path: &Path,
    out: &Path,
    p: &Piece,
) -> Result<()> {
    use std::os::unix::fs::FileExt;
    buf.resize(BUFFER, 0);
    let mut off = 0;
    while off < p.len {
        let n = (p.len - off).min(BUFFER as u64) as usize;
        src.read_exact_at(&mut buf[..n], p.src + off)
            .map_err(|e| match e.kind() {
                io::ErrorKind::UnexpectedEof => Error::Io {
                    op: "copy from",
                    path: src_path.to_path_buf(),
                    error: io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!("the file ended before byte {}", p.src + p.len),
                    ),
                },
                _ => io_err("read", src_path)(e),
            })?;
        dst.write_all_at(&buf[..n], p.dst + off)
            .map_err(io_err("copy into", out))?;
        off += n as u64;
    }
    Ok(())
}

/// Copies one piece's bytes (`copy_file_range`).
fn copy_piece(
    src: &mut File,
    dst: &mut File,
    src_path: &Path,
    out: &Path,
    p: &Piece,
) -> Result<()> {
    src.seek(SeekFrom::Start(p.src))
        .map_err(io_err("seek in", src_path))?;
    dst.seek(SeekFrom::Start(p.dst))
        .map_err(io_err("seek in the temporary file for", out))?;
    // std turns a copy from a `Take<&File>` into a `File` into copy_file_range on Linux.
    let n = io::copy(&mut Read::by_ref(src).take(p.len), dst).map_err(io_err("copy into", out))?;
    if n != p.len {
        return Err(Error::Io {
            op: "copy from",
            path: src_path.to_path_buf(),
            error: io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "the file ended {} bytes early (it changed while it was copied)",
                    p.len - n
                ),
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_size_of_a_new_file_is_its_directorys() {
        let dir = tempfile::tempdir().unwrap();
        let b = block_size(dir.path());
        assert!(b.is_power_of_two() && (512..=MAX_BLOCK).contains(&b), "{b}");
        assert_eq!(block_size(&dir.path().join("not-yet.mp4")), b);
        let m = std::fs::metadata(dir.path()).unwrap().blksize();
        if m.is_power_of_two() && m <= MAX_BLOCK {
            assert_eq!(b, m);
        }
        // A relative name without a directory: the current one.
        assert!(block_size(Path::new("not-yet.mp4")).is_power_of_two());
    }

    /// Clone pieces start and end on block boundaries in both files and are at most a piece
    /// long; the pieces of each range cover it exactly, in order; a range whose offsets are not
    /// congruent, or with no whole block inside, is only copied.
    #[test]
    fn pieces_clone_whole_blocks_and_copy_the_rest() {
        let b = 4096;
        let r = |chunk, src_offset, len, dst_offset| crate::CopyRange {
            chunk,
            src_offset,
            len,
            dst_offset,
        };
        let ranges = [
            r(0, 48, 40 << 20, 4096 + 48),
            r(1, 100, 50_000, 8293),
            r(1, 8192, 8192, 3 * 4096),
            r(2, 5, 4000, 4101),
            r(3, 0, 10, 1),
        ];
        let ps = pieces(&ranges, Some(b));
        let mut k = 0;
        for c in &ranges {
            let (mut src, mut dst) = (c.src_offset, c.dst_offset);
            while src < c.src_offset + c.len {
                let p = ps[k];
                assert_eq!((p.chunk, p.src, p.dst), (c.chunk, src, dst), "piece {k}");
                assert!(p.len > 0 && p.len <= PIECE);
                if p.clone {
                    assert_eq!((p.src % b, p.dst % b, p.len % b), (0, 0, 0), "{p:?}");
                }
                src += p.len;
                dst += p.len;
                k += 1;
            }
            assert_eq!(src, c.src_offset + c.len);
        }
        assert_eq!(k, ps.len());
        let cloned = |i: usize| -> u64 {
            let start = ranges[..i].iter().map(|c| c.len).sum::<u64>();
            let mut at = 0;
            ps.iter()
                .filter(|p| {
                    let o = at;
                    at += p.len;
                    p.clone && o >= start && o < start + ranges[i].len
                })
                .map(|p| p.len)
                .sum()
        };
        assert_eq!(cloned(0), (40 << 20) - 4096); // all but the head and tail, in 16 MiB pieces
        assert_eq!(cloned(1), 0); // not congruent
        assert_eq!(cloned(2), 8192); // aligned: all of it
        assert_eq!(cloned(3), 0); // no whole block
        assert_eq!(cloned(4), 0);
        assert!(pieces(&ranges, None).iter().all(|p| !p.clone));
    }
}
