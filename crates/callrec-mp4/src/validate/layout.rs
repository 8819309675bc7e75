//! Whether two files' tracks can be joined: the same tracks (count, kinds), codecs and AAC
//! parameters. The stitcher refuses chunks that differ; `check` reports the same difference.

use crate::{Codec, FourCc, Movie, TrackKind};

/// What of one track must agree across the chunks of a recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackLayout {
    /// The track's kind.
    pub kind: TrackKind,
    /// The sample entries' codes (`avc1`, `mp4a`), in `stsd` order.
    pub codecs: Vec<FourCc>,
    /// Per sample entry, the AAC object type, sample rate and channels (`None`: not AAC).
    pub aac: Vec<Option<(u8, u32, u32)>>,
}

/// Each track's [`TrackLayout`], in `moov` order.
pub fn track_layouts(movie: &Movie) -> Vec<TrackLayout> {
    movie
        .tracks
        .iter()
        .map(|t| TrackLayout {
            kind: t.kind,
            codecs: t.entries.iter().map(|e| e.fourcc).collect(),
            aac: t
                .entries
                .iter()
                .map(|e| match &e.codec {
                    Codec::Aac(a) => Some((a.object_type, a.sample_rate, u32::from(a.channels))),
                    _ => None,
                })
                .collect(),
        })
        .collect()
}

/// How a chunk's tracks differ from the first chunk's: the parameter, the value found and the
/// one expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayoutMismatch {
    /// What differs (`track count`, `audio sample rate`...).
    pub parameter: String,
    /// This chunk's value.
    pub found: String,
    /// The first chunk's value.
    pub expected: String,
}

fn kind_name(k: TrackKind) -> String {
    match k {
        TrackKind::Video => "video".into(),
        TrackKind::Audio => "audio".into(),
        TrackKind::Other(f) => format!("{f}"),
    }
}

/// The first difference between `other`'s tracks and `first`'s, in the order the stitcher
/// checks them (track count, count per kind, then each track's codec, AAC object type, sample
/// rate and channels); `None` when they can be joined. Tracks are matched n-th of a kind to
/// n-th of the same kind.
pub fn layout_mismatch(first: &[TrackLayout], other: &[TrackLayout]) -> Option<LayoutMismatch> {
    let m = |parameter: String, found: String, expected: String| {
        Some(LayoutMismatch {
            parameter,
            found,
            expected,
        })
    };
    if first.len() != other.len() {
        return m(
            "track count".into(),
            other.len().to_string(),
            first.len().to_string(),
        );
    }
    for (i, t) in first.iter().enumerate() {
        let kind = kind_name(t.kind);
        let ordinal = first[..i].iter().filter(|u| u.kind == t.kind).count();
        let Some(u) = other.iter().filter(|u| u.kind == t.kind).nth(ordinal) else {
            let n0 = first.iter().filter(|u| u.kind == t.kind).count();
            let nk = other.iter().filter(|u| u.kind == t.kind).count();
            return m(
                format!("{kind} track count"),
                nk.to_string(),
                n0.to_string(),
            );
        };
        let (Some(c0), a0) = (t.codecs.first(), t.aac.first().copied().flatten()) else {
            continue;
        };
        for (c, a) in u.codecs.iter().zip(&u.aac) {
            if c != c0 {
                return m(format!("{kind} codec"), c.to_string(), c0.to_string());
            }
            if let (Some(a), Some(a0)) = (a, a0) {
                if a.0 != a0.0 {
                    return m(
                        format!("{kind} AAC object type"),
                        a.0.to_string(),
                        a0.0.to_string(),
                    );
                }
                if a.1 != a0.1 {
                    return m(
                        format!("{kind} sample rate"),
                        format!("{} Hz", a.1),
                        format!("{} Hz", a0.1),
                    );
                }
                if a.2 != a0.2 {
                    return m(
                        format!("{kind} channel count"),
                        a.2.to_string(),
                        a0.2.to_string(),
                    );
                }
            }
        }
    }
    None
}
