//! Where each run of sample bytes lands in the output `mdat`: back to back (compact), or
//! block-aligned so that the writer can clone the runs' blocks instead of copying them.
//!
//! A copy-on-write filesystem (XFS with `reflink=1`, btrfs, bcachefs, OpenZFS ≥ 2.2) shares a
//! file range with another file only in whole blocks, at source and destination offsets that are
//! multiples of its block size. With [`StitchOptions::align`](crate::StitchOptions::align) set to
//! that block size `B`, every run that holds at least one whole block is placed at an output
//! offset congruent to its source offset modulo `B`: the writer clones the block-aligned middle
//! of the run and copies only its unaligned head and tail. The price is padding: before each such
//! run, fewer than `B` zero bytes that no sample references (one run per chunk for a progressive
//! chunk; a fragmented chunk has one run per fragment, and each is padded by at most the `moof`
//! it skips, rounded down modulo `B`), plus fewer than `B` zero bytes at the start of the `mdat`
//! payload (see [`lead`]). A run too short to hold a whole block could not be cloned anyway: it
//! is packed right after the previous one, without padding. Sample bytes, order and tables are
//! unchanged; `stco`/`co64` point at the shifted samples.
//!
//! Pure functions, no I/O: the plan calls them, the writer executes the result.

use crate::{CopyRange, Error, Result};

/// The placed runs, with output offsets relative to an origin `O` (the first byte the first run
/// may occupy): absolute offset = `O + dst_offset`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Layout {
    /// The runs in output order, `dst_offset` relative to `O`.
    pub copies: Vec<CopyRange>,
    /// Bytes from `O` to the end of the last run (runs and padding between them).
    pub len: u64,
    /// With a block size `B`: the residue modulo `B` that `O` must have for every aligned run
    /// to be congruent to its source (set by the first run that holds a whole block; 0 without
    /// alignment or without such a run).
    pub residue: u64,
}

/// Places `runs` — `(chunk, src_offset, len)` in output order, each `len > 0` — one after the
/// other. Without `block` (or with a block of 0 or 1) they are packed back to back (compact, the
/// layout before alignment existed). With `block = Some(B)`, each run that holds a whole
/// `B`-aligned block of its source is preceded by the fewest zero bytes (`< B`) that make
/// `dst_offset - src_offset` the same shift modulo `B` for all of them (the first one needs none
/// and sets [`Layout::residue`]); shorter runs are packed.
///
/// Errors: [`Error::Overflow`] when the output passes `u64::MAX`.
pub(crate) fn lay_out(
    runs: impl IntoIterator<Item = (usize, u64, u64)>,
    block: Option<u64>,
) -> Result<Layout> {
    let block = block.filter(|b| *b > 1);
    let overflow = || Error::Overflow { what: "mdat size" };
    let mut copies: Vec<CopyRange> = Vec::new();
    let mut residue = None;
    let mut pos = 0u64;
    for (chunk, src_offset, len) in runs {
        let pad = match block {
            Some(b) if holds_a_block(src_offset, len, b) => {
                // The absolute offset of `pos` is ≡ residue + pos; the run needs ≡ src_offset.
                let r = *residue.get_or_insert((src_offset % b + b - pos % b) % b);
                let at = (r + pos % b) % b;
                (src_offset % b + b - at) % b
            }
            _ => 0,
        };
        let dst_offset = pos.checked_add(pad).ok_or_else(overflow)?;
        pos = dst_offset.checked_add(len).ok_or_else(overflow)?;
        copies.push(CopyRange {
            chunk,
            src_offset,
            len,
            dst_offset,
        });
    }
    Ok(Layout {
        copies,
        len: pos,
        residue: residue.unwrap_or(0),
    })
}

/// True when `[src_offset, src_offset + len)` contains a whole `b`-aligned block.
pub(crate) fn holds_a_block(src_offset: u64, len: u64, b: u64) -> bool {
    let head = (b - src_offset % b) % b;
    len.checked_sub(head).is_some_and(|rest| rest >= b)
}

/// Zero bytes to put at the start of the `mdat` payload, which begins at absolute offset
/// `data_start` (after `ftyp`, `moov` and the `mdat` header), so that the layout's origin lands
/// on `residue` modulo `block`: fewer than `block`; 0 without alignment.
pub(crate) fn lead(data_start: u64, residue: u64, block: Option<u64>) -> u64 {
    match block.filter(|b| *b > 1) {
        Some(b) => (residue % b + b - data_start % b) % b,
        None => 0,
    }
}

/// The largest [`lead`] for `block`: what the `mdat` size may grow by before the header is known.
pub(crate) fn max_lead(block: Option<u64>) -> u64 {
    block.filter(|b| *b > 1).map_or(0, |b| b - 1)
}

/// Appends the `mdat` header for a payload of `payload_len` bytes (lead included): the 64-bit
/// size form when `large` (chosen for the largest lead, kept even where the lead came out
/// shorter), else the smallest that fits.
pub(crate) fn write_mdat_header(out: &mut Vec<u8>, payload_len: u64, large: bool) -> Result<()> {
    if large {
        let size = payload_len
            .checked_add(16)
            .ok_or(Error::Overflow { what: "mdat size" })?;
        out.extend_from_slice(&1u32.to_be_bytes());
        out.extend_from_slice(b"mdat");
        out.extend_from_slice(&size.to_be_bytes());
    } else {
        callrec_mp4::write::write_mdat_header(out, payload_len);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn abs(l: &Layout, origin: u64) -> Vec<(u64, u64)> {
        l.copies
            .iter()
            .map(|c| (c.src_offset, origin + c.dst_offset))
            .collect()
    }

    #[test]
    fn compact_packs_runs_back_to_back() {
        let l = lay_out([(0, 48, 1000), (0, 2000, 10), (1, 48, 5)], None).unwrap();
        let d: Vec<u64> = l.copies.iter().map(|c| c.dst_offset).collect();
        assert_eq!(d, vec![0, 1000, 1010]);
        assert_eq!((l.len, l.residue), (1015, 0));
        assert_eq!(lead(12345, 0, None), 0);
        assert_eq!(lay_out([(0, 48, 1000)], Some(1)).unwrap().len, 1000);
    }

    /// Every run that holds a whole block ends up congruent to its source modulo the block,
    /// once the origin gets its lead, with less than a block of padding before it and at the
    /// start; shorter runs follow the previous one directly.
    #[test]
    fn aligned_runs_are_congruent_to_their_source() {
        let b = 4096;
        let runs = [
            (0, 100, 50),          // too short: packed at 0, sets nothing
            (0, 8000, 77_500_000), // the first aligned run: sets the residue, no padding
            (1, 1_000_003, 4000),  // no whole block: packed
            (1, 1_004_500, 9000),  // aligned
            (2, 4096, 8192),       // aligned
            (3, 0, 1),             // packed
            (3, 1, 1),             // packed, adjacent
        ];
        let l = lay_out(runs, Some(b)).unwrap();
        assert_eq!(l.residue, (8000 - 50) % b);
        assert_eq!(l.copies[0].dst_offset, 0);
        assert_eq!(l.copies[1].dst_offset, 50);
        for data_start in [0, 1, 48, 1000, 4095, 4096, 123_457] {
            let lead = lead(data_start, l.residue, Some(b));
            assert!(lead < b);
            let origin = data_start + lead;
            for (k, (src, dst)) in abs(&l, origin).into_iter().enumerate() {
                if [1, 3, 4].contains(&k) {
                    assert_eq!(
                        src % b,
                        dst % b,
                        "run {k}: src {src} dst {dst} start {data_start}"
                    );
                }
            }
        }
        let mut pos = 0;
        for (k, c) in l.copies.iter().enumerate() {
            assert!(
                c.dst_offset >= pos && c.dst_offset - pos < b,
                "{c:?} after {pos}"
            );
            if [0, 2, 5, 6].contains(&k) {
                assert_eq!(c.dst_offset, pos, "run {k} is packed");
            }
            pos = c.dst_offset + c.len;
        }
        assert_eq!(l.len, pos);
    }

    #[test]
    fn which_runs_hold_a_block() {
        assert!(holds_a_block(0, 4096, 4096));
        assert!(!holds_a_block(0, 4095, 4096));
        assert!(!holds_a_block(1, 8190, 4096));
        assert!(holds_a_block(1, 8191, 4096));
        assert!(!holds_a_block(4000, 4000, 4096));
    }

    #[test]
    fn mdat_header_forms() {
        let mut h = Vec::new();
        write_mdat_header(&mut h, 100, false).unwrap();
        assert_eq!(h, [0, 0, 0, 108, b'm', b'd', b'a', b't']);
        h.clear();
        write_mdat_header(&mut h, 100, true).unwrap();
        assert_eq!(&h[..8], &[0, 0, 0, 1, b'm', b'd', b'a', b't']);
        assert_eq!(u64::from_be_bytes(h[8..].try_into().unwrap()), 116);
        assert!(write_mdat_header(&mut h, u64::MAX - 8, true).is_err());
    }

    #[test]
    fn overflow_is_an_error() {
        let e = lay_out([(0, 0, u64::MAX), (1, 5, 10_000)], Some(4096)).unwrap_err();
        assert!(matches!(e, Error::Overflow { what: "mdat size" }), "{e}");
    }
}
