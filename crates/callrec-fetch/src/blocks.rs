//! What an upload's staged blocks hold: a file cut into blocks, read in order (and hashed) on a
//! blocking thread; blocks staged ahead from the chunk files while they download; and the
//! output's blocks that reuse them.
//!
//! A stitched MP4 is its header, then each chunk's sample bytes unchanged
//! ([`callrec::Stitched::copies`]). The chunks' `mdat` payloads can therefore go up as blocks
//! of the output's blob while the other chunks still download ([`ahead_tiles`]); once the
//! stitch has run, the output's block list names those blocks where the output holds their
//! bytes and stages only the rest ([`units`]). The reader compares each reused block's bytes
//! in the output with the chunk's before naming it ([`read_units`]): a block whose bytes
//! differ is sent again, so the blob is the output file byte for byte.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};

use callrec::SourceRange;

/// `mdat` payloads shorter than this (and than one block) are not staged ahead: a fragmented
/// chunk's many small fragments would each cost a request for little gain.
const MIN_AHEAD: u64 = 1 << 20;

/// At most this many top-level boxes are walked to find a chunk's `mdat` payloads.
const MAX_BOXES: usize = 100_000;

/// A block staged ahead from a chunk file ([`crate::Container::stage_ahead`]): `len` bytes at
/// `src_offset` of `source`, staged under `id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ahead {
    /// The chunk file.
    pub source: PathBuf,
    /// Offset of the block's bytes in it.
    pub src_offset: u64,
    /// The block's size.
    pub len: u64,
    /// The staged block's id.
    pub id: Vec<u8>,
}

/// A block of an upload: `len` bytes at `offset` of the file, staged from them or, with
/// `reuse`, already staged from the same bytes of a chunk file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unit {
    pub(crate) offset: u64,
    pub(crate) len: u64,
    pub(crate) reuse: Option<Ahead>,
}

/// What [`read_units`] sends: unit `i`'s bytes to stage, unit `i` reused as staged ahead, or
/// the I/O error that ended the reading.
pub(crate) enum Block {
    Bytes(usize, Vec<u8>),
    Reused(usize, Vec<u8>),
    Failed(&'static str, io::Error),
}

fn fresh(from: u64, to: u64, block_size: u64) -> impl Iterator<Item = Unit> {
    let step = block_size.max(1);
    (from..to).step_by(step as usize).map(move |offset| Unit {
        offset,
        len: step.min(to - offset),
        reuse: None,
    })
}

/// The blocks to stage ahead from the chunk file at `path`: each `mdat` payload of at least
/// one block (or 1 MiB), cut into blocks of `block_size` from its start, as the stitch copies
/// a chunk's samples in file order. A file whose boxes do not walk gives the payloads found
/// before the damage (the archive job says what is wrong with it).
pub(crate) fn ahead_tiles(path: &Path, block_size: u64) -> io::Result<Vec<Unit>> {
    let file = callrec::ChunkReader::open(path)?;
    let mut tiles = Vec::new();
    let mut at = 0u64;
    for _ in 0..MAX_BOXES {
        let Ok(Some(h)) = callrec::crates::mp4::top_header(&file, at) else {
            break;
        };
        let payload = h.size - h.header_len;
        if &h.fourcc.0 == b"mdat" && payload >= MIN_AHEAD.min(block_size) {
            tiles.extend(fresh(at + h.header_len, at + h.size, block_size));
        }
        at += h.size;
    }
    Ok(tiles)
}

/// The blocks of a `len`-byte stitched output whose sample bytes came from `copies`: each
/// block of `ahead` that one copy holds whole is reused where the copy puts it; the rest of
/// the file (header, padding, silent frames, bytes no whole block covers) is cut into fresh
/// blocks of at most `block_size`.
pub(crate) fn units(
    len: u64,
    copies: &[SourceRange],
    ahead: &[Ahead],
    block_size: u64,
) -> Vec<Unit> {
    let mut by_source: HashMap<&Path, Vec<&Ahead>> = HashMap::new();
    for a in ahead {
        by_source.entry(a.source.as_path()).or_default().push(a);
    }
    for v in by_source.values_mut() {
        v.sort_by_key(|a| a.src_offset);
    }
    let mut reused: Vec<(u64, &Ahead)> = Vec::new();
    for c in copies {
        let Some(blocks) = by_source.get(c.source.as_path()) else {
            continue;
        };
        let end = c.src_offset.saturating_add(c.len);
        let first = blocks.partition_point(|a| a.src_offset < c.src_offset);
        for a in &blocks[first..] {
            if a.src_offset.saturating_add(a.len) > end {
                break;
            }
            if let Some(dst) = c.dst_offset.checked_add(a.src_offset - c.src_offset) {
                reused.push((dst, a));
            }
        }
    }
    reused.sort_by_key(|r| r.0);
    let mut out = Vec::new();
    let mut cursor = 0;
    for (dst, a) in reused {
        // Copies never overlap in the output; a block past its end is not trusted either.
        if dst < cursor || dst.saturating_add(a.len) > len {
            continue;
        }
        out.extend(fresh(cursor, dst, block_size));
        out.push(Unit {
            offset: dst,
            len: a.len,
            reuse: Some(a.clone()),
        });
        cursor = dst + a.len;
    }
    out.extend(fresh(cursor, len, block_size));
    out
}

/// Reads `units` of the file at `path` in order into `tx`, hashing them with SHA-256 when
/// `hash`; returns the hash (lowercase hex; empty when not hashing or on error). A reused
/// unit is sent as [`Block::Reused`] only when its bytes are its chunk's; otherwise (a chunk
/// changed since, a stitch that moved bytes) as bytes to stage. Stops early when the receiver
/// is gone.
pub(crate) fn read_units(
    path: &Path,
    units: &[Unit],
    hash: bool,
    tx: &tokio::sync::mpsc::Sender<Block>,
) -> String {
    use sha2::Digest as _;
    let failed = |op, e| {
        let _ = tx.blocking_send(Block::Failed(op, e));
        String::new()
    };
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) => return failed("open", e),
    };
    let mut sha = hash.then(sha2::Sha256::new);
    let mut sources = Sources::default();
    for (i, u) in units.iter().enumerate() {
        // A reused block is compared piece by piece: only the blocks sent are held whole.
        if let Some(a) = &u.reuse {
            match sources.holds(&file, u.offset, a, sha.as_mut()) {
                Ok(true) => {
                    if tx.blocking_send(Block::Reused(i, a.id.clone())).is_err() {
                        break;
                    }
                    continue;
                }
                Ok(false) => tracing::warn!(
                    chunk = %a.source.display(),
                    offset = a.src_offset,
                    "the output's bytes differ from the block staged ahead from the chunk; sending them"
                ),
                Err(e) => return failed("read", e),
            }
        }
        let mut buf = vec![0u8; u.len as usize];
        if let Err(e) = file.read_exact_at(&mut buf, u.offset) {
            return failed("read", e);
        }
        // A reused block that differed was hashed while it was compared.
        if let (Some(s), None) = (sha.as_mut(), &u.reuse) {
            s.update(&buf);
        }
        let block = Block::Bytes(i, buf);
        if tx.blocking_send(block).is_err() {
            break;
        }
    }
    sha.map(|s| callrec_archive::names::hex(&s.finalize()))
        .unwrap_or_default()
}

/// How much of a reused block [`Sources::holds`] reads at once.
const PIECE: usize = 1 << 20;

/// The chunk files [`read_units`] compares with, each opened once.
#[derive(Default)]
struct Sources {
    open: HashMap<PathBuf, Option<File>>,
    ours: Vec<u8>,
    theirs: Vec<u8>,
}

impl Sources {
    /// Whether the `a.len` bytes at `offset` of `file` are `a`'s chunk's at `a.src_offset`
    /// (false when the chunk cannot be read), hashing them into `sha` on the way.
    fn holds(
        &mut self,
        file: &File,
        offset: u64,
        a: &Ahead,
        mut sha: Option<&mut sha2::Sha256>,
    ) -> io::Result<bool> {
        use sha2::Digest as _;
        let chunk = self
            .open
            .entry(a.source.clone())
            .or_insert_with(|| File::open(&a.source).ok());
        let mut same = chunk.is_some();
        let mut done = 0u64;
        while done < a.len {
            let n = PIECE.min((a.len - done) as usize);
            self.ours.resize(n, 0);
            file.read_exact_at(&mut self.ours, offset + done)?;
            if let Some(s) = sha.as_mut() {
                s.update(&self.ours);
            }
            if same {
                self.theirs.resize(n, 0);
                let read = chunk
                    .as_ref()
                    .map(|c| c.read_exact_at(&mut self.theirs, a.src_offset + done));
                same = matches!(read, Some(Ok(()))) && self.ours == self.theirs;
            }
            done += n as u64;
        }
        Ok(same)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ahead(source: &str, src_offset: u64, len: u64) -> Ahead {
        Ahead {
            source: source.into(),
            src_offset,
            len,
            id: format!("{source}{src_offset}").into_bytes(),
        }
    }

    fn copy(source: &str, src_offset: u64, len: u64, dst_offset: u64) -> SourceRange {
        SourceRange {
            source: source.into(),
            src_offset,
            len,
            dst_offset,
        }
    }

    fn whole(len: u64, block_size: u64) -> Vec<Unit> {
        fresh(0, len, block_size).collect()
    }

    fn spans(units: &[Unit]) -> Vec<(u64, u64, bool)> {
        units
            .iter()
            .map(|u| (u.offset, u.len, u.reuse.is_some()))
            .collect()
    }

    #[test]
    fn whole_blocks_a_copy_holds_are_reused_and_the_rest_is_cut_fresh() {
        // Chunk a's payload 100..400 staged in blocks of 100; the output holds 120..400 of it
        // (a trimmed first frame) at 1000, then chunk b's 50..250 at 1290 (b staged whole).
        let ahead = [
            ahead("a", 100, 100),
            ahead("a", 200, 100),
            ahead("a", 300, 100),
            ahead("b", 50, 100),
            ahead("b", 150, 100),
        ];
        let copies = [copy("a", 120, 280, 1000), copy("b", 50, 200, 1290)];
        let u = units(1600, &copies, &ahead, 512);
        assert_eq!(
            spans(&u),
            [
                (0, 512, false),
                (512, 512, false),
                (1024, 56, false), // the header and a's 120..200: no whole block
                (1080, 100, true),
                (1180, 100, true),
                (1280, 10, false), // padding
                (1290, 100, true),
                (1390, 100, true),
                (1490, 110, false),
            ]
        );
        assert_eq!(u[3].reuse.as_ref().unwrap().src_offset, 200);
        assert_eq!(u.iter().map(|u| u.len).sum::<u64>(), 1600);
        // Nothing staged ahead: the whole file in blocks.
        assert_eq!(units(1600, &copies, &[], 512), whole(1600, 512));
        assert!(whole(0, 512).is_empty());
    }

    #[test]
    fn a_block_outside_the_output_or_overlapping_another_is_not_reused() {
        let ahead = [ahead("a", 0, 100), ahead("a", 50, 100)];
        // Two copies put overlapping blocks at 0..100 and 50..150; a third runs past the end.
        let copies = [copy("a", 0, 150, 0), copy("a", 0, 100, 180)];
        let u = units(200, &copies, &ahead, 1000);
        assert_eq!(spans(&u), [(0, 100, true), (100, 100, false)]);
    }
}
