//! Lossless stitching of recording chunks into one MP4.
//!
//! Two steps, as the house style asks:
//! 1. [`Plan::new`] (sequential, deterministic, no I/O) checks that the chunks' tracks match,
//!    merges their sample tables, builds one edit list per track that presents exactly what each
//!    chunk presents, back to back, lays out every output byte and encodes the whole header
//!    (`ftyp`, `moov`, `mdat` header: moov first).
//! 2. [`write()`] copies the sample bytes in large ranges (`std::io::copy` of a `Take<File>` into a
//!    `File`, which Linux turns into `copy_file_range`) over a rayon pool, into a temporary file
//!    beside the target, syncs it and renames it into place. The output is byte-identical for any
//!    thread count. On a copy-on-write filesystem it clones instead (`FICLONERANGE`) what
//!    [`StitchOptions::align`] laid out block-aligned: the output shares the chunks' blocks.
//!
//! ```no_run
//! use callrec_stitch::{ChunkInput, Plan, StitchOptions};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let path = std::path::PathBuf::from("chunk0.mp4");
//! let bytes = std::fs::read(&path)?;
//! let chunks = vec![ChunkInput {
//!     index: 0,
//!     name: "chunk0".into(),
//!     movie: callrec_mp4::Movie::parse(&bytes)?,
//!     path,
//!     empty_edits: Vec::new(),
//!     wall_start_us: None,
//! }];
//! let opts = StitchOptions::default();
//! let plan = Plan::new(&chunks, &opts)?;
//! let summary = callrec_stitch::write(&plan, "out.mp4".as_ref(), &opts, &|_done| {})?;
//! println!("{} chunks, {} ms, {} bytes", summary.chunks, summary.duration_ms, summary.bytes);
//! # Ok(()) }
//! ```
//!
//! # What is presented
//! - A chunk track with an edit list presents what its edit list says (segment durations in the
//!   chunk's movie timescale, media times in its track timescale). Its empty edits (a delayed
//!   track, a hole) are kept as time, realized like the padding below: a leading empty edit
//!   before the first chunk's media, elsewhere a timestamp gap (the sample presented before
//!   the empty edit is held through it). Edits with a rate other than 1 are refused.
//! - A chunk with no edit list on any track (ffmpeg's fragmented chunks) that has an AAC track is
//!   assumed to start with the 1024 samples of priming ffmpeg's AAC encoder writes: the audio
//!   skips that lead (only audio has priming; a video track that is not ffmpeg's stretch below,
//!   e.g. with B-frames, presents from its first composition time, every frame kept). The lead is
//!   `1024 / sample_rate` seconds converted to the track's timescale (rounded to nearest; 1049 ticks at 16384 for 16 kHz audio). Each track then presents up to
//!   the end of its media. ffmpeg writes that lead into the first video frame instead: it lasts
//!   3097 ticks (2048 + 1049) and every later frame comes 1049 ticks late. Where a track's first
//!   sample lasts at least the lead longer than the next one, the output gives it back its own
//!   length (the lead is taken off its duration, every later sample moves 1049 ticks earlier)
//!   and presents the track from its first sample: the same presentation as an edit starting
//!   1049 ticks into the first frame, but ffmpeg drops a frame that starts before its edit, so
//!   this way every frame shows in ffmpeg too. Audio (first frame 1024 = the lead) is cut by the
//!   edit list: its priming is not presented.
//!   Without an AAC track, edit-less tracks present all their media from the first presentation
//!   time.
//! - Sample durations are taken from decode-time differences (the last sample keeps its own
//!   duration), so every sample keeps its decode time relative to the chunk's first sample
//!   (except for the stretched first frame above).
//!
//! # Timing of the output
//! - Chunk k starts at the sum of the earlier chunks' spans. A chunk's span is the longest of its
//!   tracks' presentations (pauses and the gap before it included in wall-clock mode); a shorter
//!   track is padded so every track starts chunk k+1 at the same instant (never by presenting
//!   more of the next chunk's media, which would show its priming), in both modes with a
//!   **timestamp gap**, not an empty edit (which ffmpeg mishandles, see *Interop notes*): the
//!   track's last sample of the chunk lasts longer by the difference (the last audio frame
//!   plays whole, then silence; the last video frame is held), converted to the track's
//!   timescale with a carried remainder as in wall-clock mode (below), so chunk k+1 starts
//!   within half a track tick of its exact position on every track, without drift. A track
//!   with no media yet (nothing of it in chunk 0) starts with a leading empty edit instead.
//!   No output edit list has an empty edit but a leading one, except where a chunk's edit list
//!   starts before its first sample in decode order (an edit into open-GOP leading frames): a
//!   point there has no sample to hold, and stays an empty edit.
//! - The movie timescale is the least common multiple of 1000 and the denominators of every
//!   presented duration (as an exact fraction of a second), so that every edit is exact (1000
//!   for the fixtures). If that does not fit in 32 bits, it falls back to the least common
//!   multiple of 1000 and the track timescales, or failing that the largest track timescale
//!   (at least 1000), and each edit ends at its exact end on the track's timeline rounded to
//!   the nearest tick, so rounding does not accumulate (chunk starts within a tick across
//!   tracks; see [`Plan::exact`]). [`Plan::chunks`] gives the exact placements, rounded.
//! - Consecutive edits that continue the same media exactly are merged (a chunk without
//!   priming or B-frame delay joins its predecessor in one edit).
//!
//! # Wall-clock mode
//! [`StitchOptions::wall_clock`] realizes each chunk's [`ChunkInput::empty_edits`] (its pauses,
//! and the gap before it) as **timestamp gaps in the sample tables**, not as empty edits in the
//! middle of a track (which ffmpeg's mov demuxer, and every player built on it, ignores):
//! - A pause of duration D at media offset P of chunk k: every sample of the track from the
//!   split on is decoded (and so presented) D later, by lengthening the `stts` delta of the
//!   sample before the split. The frame shown before the pause is held on screen through it;
//!   audio has a gap, which players render as silence. Sample bytes, order and composition
//!   offsets (`ctts`) do not change.
//! - The split, per track: P is a point of the chunk's presentation (after its edit list's
//!   media time: AAC priming, B-frame delay), mapped to the media time M it presents. The gap
//!   goes before the first sample **in decode order** whose presentation starts at or after M.
//!   Without B-frames that sample's predecessor is the last one presented before P (an audio
//!   frame that straddles P plays whole, then the gap). With B-frames, B-frames presented just
//!   before P but decoded after that sample move with it (they show after the pause): decode
//!   order and presentation order both stay intact, and at a GOP boundary the cut is exact.
//! - A pause at P = 0 of chunk k > 0, the gap before chunk k > 0, and the padding of a track
//!   shorter than its chunk lengthen the last sample of the chunk before (or of the earlier
//!   chunk that last had media on that track). For chunk 0, a pause at P = 0 and the gap before
//!   it stay a **leading** empty edit, which ffmpeg honours. P counts the chunk's own empty
//!   edits; a pause inside one is held by the same sample as the empty edit (the last one
//!   presented before it). Where no sample of the chunk comes before the point in decode order
//!   (an edit that starts before it) the time stays an empty edit there.
//! - Each track converts D into its timescale exactly when it can; otherwise the running total
//!   of its gaps (padding and chunks' own empty edits included) is rounded to nearest and each
//!   gap takes the difference (the remainder is carried), so every chunk start is within half a
//!   track tick (31 µs at 16384) of its wall-clock position on every track, and tracks stay in
//!   sync at every join.
//! - The edit list is then (at most) one leading empty edit plus the per-chunk edits of compact
//!   mode, each lengthened by the gaps it now covers, merged where they continue exactly (the
//!   paused fixture's video is one edit of 26.75 s). [`Plan::chunks`] gives the exact
//!   wall-clock placements: chunk k's `span_start` includes the gap before it, `start` is where
//!   its media starts.
//! - Compact mode ignores `empty_edits`: its output is byte-identical with or without them. It
//!   realizes the padding and the chunks' own empty edits the same way (no pauses, no gaps).
//!
//! # Track matching
//! Tracks are matched by kind and order (the n-th video track of each chunk with the n-th of
//! chunk 0). Refused with [`Error::Mismatch`]: a different number of tracks of a kind, another
//! sample entry type (`avc1`, `mp4a`...), another AAC object type, sample rate or channel count,
//! another track timescale (no rescaling: it would change packet timing). A different `avcC`
//! (or any other difference in a sample entry's bytes) is accepted: the output track gets one more
//! sample description and switches to it at that chunk. Entries that differ only in bit rate
//! hints (a `btrt` child, the bit rate fields of an AAC `esds`) share the first chunk's entry.

//! # Interop notes (ffmpeg 5.1, checked by hand on the fixtures)
//! - Compact outputs of every fixture decode with `ffmpeg -v error -i OUT -f null -` silently.
//!   At each audio join ffmpeg re-reads about a second of earlier packets and the chunk's
//!   priming frame flagged discard (`D` in `ffprobe -show_packets`) as decoder pre-roll: the
//!   packets it presents (no `D`) are exactly the chunks' presented packets, in order, and the
//!   first one of chunk k is at the sum of the earlier chunks' durations.
//! - ffmpeg's mov demuxer honours only *leading* empty edits. An empty edit after a media edit
//!   is read as an edit at media time -1, i.e. from the track's **first** sample: for its
//!   duration ffmpeg presents the start of the whole track again (not flagged discard), then
//!   resumes. Measured with `ffprobe -show_entries packet=pts_time,flags,pos` on outputs of the
//!   earlier planner (padding and a chunk's own empty edits kept as empty edits), basic
//!   fixture: a 136 ms padding empty edit after chunk 0's (shortened) audio played the track's
//!   first 3 audio packets (file offset of chunk 0's priming frame) at 4.864 to 4.992 s, a 5 ms
//!   one at 8.995 s the first packet again (235 presented audio packets instead of 231); a
//!   1 s leading empty edit on chunk 1's video played chunk 0's first 8 frames at 5.000 to
//!   5.875 s. Hence timestamp gaps for all of them: the same outputs now present exactly the
//!   chunks' packets (231 audio; 112 video, the frame at 4.875 s lasting 1.125 s, chunk 1's
//!   first at 6.000 s), and `ffmpeg -v error -i OUT -f null -` prints nothing.
//!   On the paused fixture's wall-clock output, `ffprobe -show_entries packet=pts_time` shows the
//!   video jump from 1.875 s (the frame held) to 9.000 s, 12.875 s to 14.5 s and 16.375 s to
//!   19.75 s; audio from 1.984 s to 9.048 s and so on; both streams last 26.75 s and
//!   `ffmpeg -v error -i OUT -f null -` prints nothing.
//! - symphonia 0.6 refuses a file in which any track has more than one sample entry (a chunk
//!   with another `avcC`).

mod layout;
mod plan;
mod rat;
pub mod temp;
mod verify;
mod write;

use std::path::PathBuf;

pub use plan::{ChunkPlacement, CopyRange, Plan, Rescaled, TrackPlan, MAX_SAMPLES};
pub use write::{block_size, stitch, write, Summary};

/// One chunk to stitch, already parsed.
#[derive(Debug, Clone)]
pub struct ChunkInput {
    /// The chunk's index in the recording (for errors and placements).
    pub index: u32,
    /// The chunk's documentId or file name (for errors and placements).
    pub name: String,
    /// The chunk file: [`write()`] copies the sample bytes from it (opened read-only).
    pub path: PathBuf,
    /// The chunk, parsed with [`callrec_mp4::Movie::parse`] from the bytes of `path`.
    pub movie: callrec_mp4::Movie,
    /// Wall-clock mode only (ignored unless [`StitchOptions::wall_clock`]): time to insert into
    /// this chunk's presentation, on every track. See [`EmptyEdit`].
    pub empty_edits: Vec<EmptyEdit>,
    /// Wall-clock mode only: where the chunk's first media instant is on the wall clock, in µs
    /// after the output's time 0 (the facade counts from `Timeline::start`, the earlier of
    /// `recordingStartTime` and the first chunk's start: its `chunkStartTime`, plus the pauses
    /// it starts with).
    /// When every chunk has one, each chunk is placed there: what its predecessor's media lacks
    /// of the gap is silence. `None`: chunks follow each other's media and `empty_edits`.
    pub wall_start_us: Option<u64>,
}

/// Time in which nothing new is presented (a pause, or the gap before a chunk), inserted into a
/// chunk's presentation in wall-clock mode.
///
/// Despite the name (kept for compatibility), it becomes an empty edit only before the first
/// chunk's media (or where no sample of the chunk precedes the point); elsewhere it is a gap in
/// the sample timing: the sample presented before it is held for its duration (see the crate
/// docs, *Wall-clock mode*).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EmptyEdit {
    /// Where, in µs of the chunk's **media** presentation, counted from its first presented
    /// instant: earlier empty edits of the chunk do not count. 0 = before the chunk's first
    /// media (the gap before the chunk, or a pause at its start: it extends the previous
    /// chunk's last sample); at or past the chunk's presented duration = after its last media.
    pub at_us: u64,
    /// How long, in µs.
    pub duration_us: u64,
}

/// How to stitch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StitchOptions {
    /// Wall-clock mode: insert each chunk's [`ChunkInput::empty_edits`] as gaps in the sample
    /// timing (a leading empty edit before the first chunk), so the playback position equals
    /// the time since the recording started, in ffmpeg-based players too. Off (compact): the
    /// `empty_edits` are ignored and media runs on through pauses.
    pub wall_clock: bool,
    /// Copy threads for [`write()`]: `Some(n)` builds a private rayon pool of `n` threads; `None`
    /// runs on the caller's current rayon pool (the global one unless inside `install`). The
    /// global pool is never configured.
    pub threads: Option<usize>,
    /// Trim the joins: drop whole AAC frames of priming and end padding at each join so every
    /// chunk starts within half an audio frame of the sum of the earlier chunks' durations (the
    /// audio of one frame per join is then not bit-exact). Off (the default): every audio frame
    /// is kept and the video waits for it (see the crate docs, *Joins*). Wall-clock mode always
    /// trims.
    pub trim_joins: bool,
    /// Block-aligned layout for cloning: `Some(b)` places each run of sample bytes at an output
    /// offset congruent to its source offset modulo `b` (fewer than `b` zero bytes of padding
    /// before each run and at the start of the `mdat` payload, which no sample references), so
    /// that [`write()`] can share the blocks on a copy-on-write filesystem instead of copying
    /// them. Use the output filesystem's block size ([`block_size`]). `None`: samples back to
    /// back, as compact as possible.
    pub align: Option<u64>,
    /// Never clone: [`write()`] copies every byte (the output is the same bytes either way).
    pub no_reflink: bool,
    /// Also compare every copied byte of the output with its source before renaming it into
    /// place (the output is always read back and checked against the plan; this adds reading
    /// the sample bytes twice).
    pub verify_payload: bool,
}

/// What can go wrong. Every chunk-level error names the chunk by index and name.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Nothing to stitch.
    #[error("no chunks to stitch")]
    NoChunks,
    /// A chunk's tracks do not match the first chunk's.
    #[error(
        "chunk {index} ({name}): {parameter} {found} differs from chunk {first_index}'s {expected}"
    )]
    Mismatch {
        /// The chunk's index.
        index: u32,
        /// The chunk's name.
        name: String,
        /// The first chunk's index (the reference).
        first_index: u32,
        /// What differs (`audio sample rate`, `video track count`...).
        parameter: String,
        /// This chunk's value, with its unit.
        found: String,
        /// The first chunk's value, with its unit.
        expected: String,
    },
    /// A chunk uses something the stitcher does not handle.
    #[error("chunk {index} ({name}): {what}")]
    Unsupported {
        /// The chunk's index.
        index: u32,
        /// The chunk's name.
        name: String,
        /// What, with the track.
        what: String,
    },
    /// A time, offset or count does not fit.
    #[error("overflow computing {what}")]
    Overflow {
        /// What was being computed.
        what: &'static str,
    },
    /// A chunk file is shorter than its samples need (changed since it was parsed?).
    #[error("chunk {index} ({name}): {path} holds {len} bytes but its samples need {needed}")]
    SourceTruncated {
        /// The chunk's index.
        index: u32,
        /// The chunk's name.
        name: String,
        /// The chunk file.
        path: PathBuf,
        /// Bytes the samples need (end of the last sample).
        needed: u64,
        /// Bytes the file holds.
        len: u64,
    },
    /// The chunks hold more samples than a plan takes ([`MAX_SAMPLES`]).
    #[error(
        "the chunks hold {samples} samples, more than the {max} one stitch plans (about 2.4 days \
         of 8 fps video and 16 kHz audio): stitch it in parts"
    )]
    TooLarge {
        /// Samples in all the chunks.
        samples: usize,
        /// The limit.
        max: usize,
    },
    /// The written output does not read back as planned (a failed copy, a changed source):
    /// nothing was renamed into place, the temporary file is removed.
    #[error("the output {} does not read back as planned ({reason}): nothing was written", path.display())]
    Verify {
        /// The target.
        path: PathBuf,
        /// What differs.
        reason: String,
    },
    /// The target path is one of the input chunk files.
    #[error("output {path} is input chunk {index} ({name})")]
    OutputIsInput {
        /// The target.
        path: PathBuf,
        /// The chunk's index.
        index: u32,
        /// The chunk's name.
        name: String,
    },
    /// An I/O operation failed.
    #[error("{op} {}: {error}", path.display())]
    Io {
        /// What was being done (`open`, `copy to`, `rename`...).
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The error (in the message, so not also a `source`).
        error: std::io::Error,
    },
}

/// This crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Entry points for the criterion benches (`benches/benches/stitch.rs`): not part of the API.
#[doc(hidden)]
pub mod bench {
    use std::fs::File;
    use std::ops::Range;
    use std::path::Path;

    use crate::{CopyRange, Plan, Result};

    /// The read-back [`crate::write()`] runs before renaming: `file` holds `plan`'s output,
    /// `cloned` the output ranges the filesystem cloned.
    pub fn verify(plan: &Plan, file: &File, cloned: &[Range<u64>]) -> Result<()> {
        crate::verify::verify(plan, file, Path::new("bench.mp4"), cloned, false)
    }

    /// The clone layout: how many pieces `copies` are cut into for a filesystem of `block`
    /// bytes, and how many bytes of them can be cloned.
    pub fn clone_layout(copies: &[CopyRange], block: Option<u64>) -> (usize, u64) {
        let p = crate::write::pieces(copies, block);
        let cloned = p.iter().filter(|p| p.clone).map(|p| p.len).sum();
        (p.len(), cloned)
    }
}
