//! The byte layout of the `mdat` payload: each chunk's sample bytes that the output keeps, in
//! file order, merged into runs and placed by [`crate::layout`] (back to back, or congruent to
//! their source modulo the alignment); the silent frames just before the bytes of the frame
//! they precede, in a space of whole blocks (the alignment holds), so that every track's
//! samples stay in file order, which players reading the file front to back (push mode) need.

use super::timing::{self, Timing};
use super::{overflow, Source};
use crate::{ChunkInput, CopyRange, Result};

/// The laid-out payload; offsets are relative to the payload's layout origin.
pub(super) struct Bytes {
    /// The copies in output order.
    pub(super) copies: Vec<CopyRange>,
    /// Per chunk: its file and how many of its bytes the copies need.
    pub(super) sources: Vec<Source>,
    /// Per chunk: its range of `copies`.
    chunk_ranges: Vec<(usize, usize)>,
    /// Silence block ranges and where they land: (block start, block end, payload offset).
    moved: Vec<(u64, u64, u64)>,
    /// The silent frames' bytes and where they go (payload offsets).
    pub(super) literals: Vec<(u64, Vec<u8>)>,
    /// Copies, padding and silence.
    pub(super) payload_len: u64,
    /// The residue the origin must have modulo the alignment (see [`crate::layout::Layout`]).
    pub(super) residue: u64,
}

impl Bytes {
    /// Where byte `at` of the silence block lands.
    pub(super) fn silence_dst(&self, at: u64) -> u64 {
        self.moved
            .iter()
            .find(|m| m.0 <= at && at < m.1)
            .map_or(0, |m| m.2 + (at - m.0))
    }

    /// Where byte `off` of chunk `ci` lands (0 when no copy holds it).
    pub(super) fn dst_of(&self, ci: usize, off: u64) -> u64 {
        let (lo, hi) = self.chunk_ranges[ci];
        let rs = &self.copies[lo..hi];
        let k = rs.partition_point(|r| r.src_offset <= off);
        match k.checked_sub(1).and_then(|k| rs.get(k)) {
            Some(r) if off <= r.src_offset + r.len => r.dst_offset + (off - r.src_offset),
            _ => 0,
        }
    }
}

/// Lays out the bytes `timing` keeps of `chunks` (`maps` from [`super::tracks::match_tracks`]).
pub(super) fn lay_out(
    chunks: &[ChunkInput],
    maps: &[Vec<usize>],
    timing: &Timing,
    align: Option<u64>,
) -> Result<Bytes> {
    let used = used_spans(chunks, maps, timing);
    let (runs, sources) = runs_and_sources(chunks, used);
    let placed = crate::layout::lay_out(runs, align)?;
    let anchors = silence_anchors(chunks, maps, timing);
    let block = align.unwrap_or(1).max(1);
    let Silenced {
        copies,
        literals,
        moved,
        shift,
    } = insert_silence(&placed, &anchors, &timing.silence, block);
    let chunk_ranges = chunk_ranges(&copies, chunks.len());
    let payload_len = placed
        .len
        .checked_add(shift)
        .ok_or_else(|| overflow("mdat size"))?;
    Ok(Bytes {
        copies,
        sources,
        chunk_ranges,
        moved,
        literals,
        payload_len,
        residue: placed.residue,
    })
}

/// Per chunk: the byte spans (start, end) of the samples `timing` keeps, unsorted.
fn used_spans(chunks: &[ChunkInput], maps: &[Vec<usize>], timing: &Timing) -> Vec<Vec<(u64, u64)>> {
    let mut used: Vec<Vec<(u64, u64)>> = vec![Vec::new(); chunks.len()];
    for (i, t) in timing.tracks.iter().enumerate() {
        for s in &t.samples {
            if let timing::Src::Sample(j) = s.src {
                let smp = &chunks[s.chunk].movie.tracks[maps[s.chunk][i]].samples[j];
                if smp.size > 0 {
                    used[s.chunk]
                        .push((smp.offset, smp.offset.saturating_add(u64::from(smp.size))));
                }
            }
        }
    }
    used
}

/// The spans of each chunk sorted and merged into runs (chunk, source offset, length), in
/// chunk then file order; and per chunk its [`Source`] (how many of its bytes the runs need).
fn runs_and_sources(
    chunks: &[ChunkInput],
    used: Vec<Vec<(u64, u64)>>,
) -> (Vec<(usize, u64, u64)>, Vec<Source>) {
    let mut runs: Vec<(usize, u64, u64)> = Vec::new();
    let mut sources = Vec::with_capacity(chunks.len());
    for (ci, (c, mut spans_b)) in chunks.iter().zip(used).enumerate() {
        spans_b.sort_unstable();
        let first_copy = runs.len();
        let mut needed = 0u64;
        for (a, b) in spans_b {
            needed = needed.max(b);
            if let Some(last) = runs[first_copy..].last_mut() {
                let last_end = last.1 + last.2;
                if a <= last_end {
                    last.2 += b.saturating_sub(last_end);
                    continue;
                }
            }
            runs.push((ci, a, b - a));
        }
        sources.push(Source {
            path: c.path.clone(),
            index: c.index,
            name: c.name.clone(),
            needed,
        });
    }
    (runs, sources)
}

/// The placed copies with the silent frames put in: see [`insert_silence`].
struct Silenced {
    /// The copies in output order, split where silence goes between their bytes.
    copies: Vec<CopyRange>,
    /// The silent frames' bytes and where they go (payload offsets).
    literals: Vec<(u64, Vec<u8>)>,
    /// Silence block ranges and where they land: (block start, block end, payload offset).
    moved: Vec<(u64, u64, u64)>,
    /// The bytes the silence adds (whole `block`s per anchor).
    shift: u64,
}

/// Puts the silence of each anchor ([`silence_anchors`]) just before the bytes of the frame it
/// precedes (splitting that frame's copy), or after its chunk's last copy, in a space of whole
/// `block`s: every later copy moves by that space.
fn insert_silence(
    placed: &crate::layout::Layout,
    anchors: &[(usize, u64, u64, u64)],
    silence: &[u8],
    block: u64,
) -> Silenced {
    let mut copies: Vec<CopyRange> = Vec::with_capacity(placed.copies.len() + anchors.len());
    let mut literals: Vec<(u64, Vec<u8>)> = Vec::new();
    let mut moved: Vec<(u64, u64, u64)> = Vec::new();
    let mut shift = 0u64;
    let mut put = |at: u64, a: u64, b: u64, shift: &mut u64| {
        literals.push((at, silence[a as usize..b as usize].to_vec()));
        moved.push((a, b, at));
        *shift += (b - a).div_ceil(block) * block;
    };
    let mut ai = anchors.iter().peekable();
    for c in &placed.copies {
        let mut c = *c;
        // Silence of earlier chunks with no bytes left after it: here.
        while let Some(&&(_, _, a, b)) = ai.peek().filter(|x| x.0 < c.chunk) {
            ai.next();
            put(c.dst_offset + shift, a, b, &mut shift);
        }
        while let Some(&&(_, src, a, b)) = ai
            .peek()
            .filter(|x| x.0 == c.chunk && x.1 < c.src_offset + c.len)
        {
            ai.next();
            // Split the range at `src`: the head stays, then the silence, then the tail.
            let head = src.saturating_sub(c.src_offset);
            if head > 0 {
                copies.push(CopyRange {
                    len: head,
                    dst_offset: c.dst_offset + shift,
                    ..c
                });
                c.src_offset += head;
                c.dst_offset += head;
                c.len -= head;
            }
            put(c.dst_offset + shift, a, b, &mut shift);
        }
        copies.push(CopyRange {
            dst_offset: c.dst_offset + shift,
            ..c
        });
    }
    for &(_, _, a, b) in ai {
        put(placed.len + shift, a, b, &mut shift);
    }
    Silenced {
        copies,
        literals,
        moved,
        shift,
    }
}

/// Per chunk: its range of `copies` (which are in chunk order).
fn chunk_ranges(copies: &[CopyRange], chunks: usize) -> Vec<(usize, usize)> {
    let mut ranges: Vec<(usize, usize)> = vec![(0, 0); chunks];
    let mut from = 0;
    for (n, c) in copies.iter().enumerate() {
        if copies.get(n + 1).is_none_or(|d| d.chunk != c.chunk) {
            ranges[c.chunk] = (from, n + 1);
            from = n + 1;
        }
    }
    ranges
}

/// Where the silent frames go: (chunk, source offset of the frame they precede on their track
/// or `u64::MAX` after the chunk's last, silence block start, end), contiguous ones merged, in
/// file order.
fn silence_anchors(
    chunks: &[ChunkInput],
    maps: &[Vec<usize>],
    timing: &Timing,
) -> Vec<(usize, u64, u64, u64)> {
    let mut anchors: Vec<(usize, u64, u64, u64)> = Vec::new();
    for (i, t) in timing.tracks.iter().enumerate() {
        for (n, x) in t.samples.iter().enumerate() {
            let timing::Src::Silence { at, size } = x.src else {
                continue;
            };
            let before = t.samples[n + 1..]
                .iter()
                .take_while(|y| y.chunk == x.chunk)
                .find_map(|y| match y.src {
                    timing::Src::Sample(j) => {
                        Some(chunks[y.chunk].movie.tracks[maps[y.chunk][i]].samples[j].offset)
                    }
                    timing::Src::Silence { .. } => None,
                })
                .unwrap_or(u64::MAX);
            let end = at + u64::from(size);
            match anchors.last_mut() {
                Some(l) if l.0 == x.chunk && l.1 == before && l.3 == at => l.3 = end,
                _ => anchors.push((x.chunk, before, at, end)),
            }
        }
    }
    anchors.sort_by_key(|a| (a.0, a.1, a.2));
    anchors
}
