//! Matching each chunk's tracks to the first chunk's, and the checks that make them joinable.

use callrec_mp4::Codec;

use super::{kind_name, unsupported};
use crate::{ChunkInput, Error, Result};

/// For each track of `first`, the index of the matching track in `c` (n-th of the same kind).
pub(super) fn match_tracks(first: &ChunkInput, c: &ChunkInput) -> Result<Vec<usize>> {
    let mismatch = |parameter: String, found: String, expected: String| Error::Mismatch {
        index: c.index,
        name: c.name.clone(),
        first_index: first.index,
        parameter,
        found,
        expected,
    };
    let (t0, tk) = (&first.movie.tracks, &c.movie.tracks);
    if t0.len() != tk.len() {
        return Err(mismatch(
            "track count".into(),
            tk.len().to_string(),
            t0.len().to_string(),
        ));
    }
    let mut map = Vec::with_capacity(t0.len());
    for (i, t) in t0.iter().enumerate() {
        let ordinal = t0[..i].iter().filter(|u| u.kind == t.kind).count();
        let found = tk
            .iter()
            .enumerate()
            .filter(|(_, u)| u.kind == t.kind)
            .nth(ordinal);
        match found {
            Some((j, _)) => map.push(j),
            None => {
                let n0 = t0.iter().filter(|u| u.kind == t.kind).count();
                let nk = tk.iter().filter(|u| u.kind == t.kind).count();
                return Err(mismatch(
                    format!("{} track count", kind_name(t.kind)),
                    nk.to_string(),
                    n0.to_string(),
                ));
            }
        }
    }
    // Codec parameters first (what a person recognises), then timescales.
    for (i, t) in t0.iter().enumerate() {
        let u = &tk[map[i]];
        let kind = kind_name(t.kind);
        let Some(e0) = t.entries.first() else {
            return Err(unsupported(
                first,
                format!("{kind} track {} has no sample description", t.id),
            ));
        };
        for e in &u.entries {
            if e.fourcc != e0.fourcc {
                return Err(mismatch(
                    format!("{kind} codec"),
                    e.fourcc.to_string(),
                    e0.fourcc.to_string(),
                ));
            }
            if let (Codec::Aac(a), Codec::Aac(a0)) = (&e.codec, &e0.codec) {
                if a.object_type != a0.object_type {
                    return Err(mismatch(
                        format!("{kind} AAC object type"),
                        a.object_type.to_string(),
                        a0.object_type.to_string(),
                    ));
                }
                if a.sample_rate != a0.sample_rate {
                    return Err(mismatch(
                        format!("{kind} sample rate"),
                        format!("{} Hz", a.sample_rate),
                        format!("{} Hz", a0.sample_rate),
                    ));
                }
                if a.channels != a0.channels {
                    return Err(mismatch(
                        format!("{kind} channel count"),
                        a.channels.to_string(),
                        a0.channels.to_string(),
                    ));
                }
            }
        }
    }
    Ok(map)
}

/// Decode times must increase by at most 32 bits per sample in every chunk track.
pub(super) fn check_decode_order(chunks: &[ChunkInput], maps: &[Vec<usize>]) -> Result<()> {
    for (c, map) in chunks.iter().zip(maps) {
        for &j in map {
            let t = &c.movie.tracks[j];
            for (k, w) in t.samples.windows(2).enumerate() {
                let ok = w[1]
                    .dts
                    .checked_sub(w[0].dts)
                    .is_some_and(|d| u32::try_from(d).is_ok());
                if !ok {
                    return Err(unsupported(
                        c,
                        format!(
                            "{} track {}: decode time of sample {} goes backwards or jumps by \
                             more than 32 bits",
                            kind_name(t.kind),
                            t.id,
                            k + 1
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}
