//! The byte layout of the `mdat` payload: each chunk's sample bytes that the output keeps, in
//! file order, merged into runs and placed by [`crate::layout`] (back to back, or congruent to
//! their source modulo the alignment); then the silence block at the end of the payload.

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
    /// Where the silence block starts.
    pub(super) silence_at: u64,
    /// Copies, padding and silence.
    pub(super) payload_len: u64,
    /// The residue the origin must have modulo the alignment (see [`crate::layout::Layout`]).
    pub(super) residue: u64,
}

impl Bytes {
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
    let silence_len = timing.silence.len() as u64;
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
    let mut runs: Vec<(usize, u64, u64)> = Vec::new();
    let mut chunk_ranges: Vec<(usize, usize)> = Vec::with_capacity(chunks.len());
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
        chunk_ranges.push((first_copy, runs.len()));
        sources.push(Source {
            path: c.path.clone(),
            index: c.index,
            name: c.name.clone(),
            needed,
        });
    }
    let placed = crate::layout::lay_out(runs, align)?;
    let copies: Vec<CopyRange> = placed.copies;
    let silence_at = placed.len;
    let payload_len = placed
        .len
        .checked_add(silence_len)
        .ok_or_else(|| overflow("mdat size"))?;
    Ok(Bytes {
        copies,
        sources,
        chunk_ranges,
        silence_at,
        payload_len,
        residue: placed.residue,
    })
}
