//! `chunk.tracks_differ`: chunks whose tracks cannot be joined, by the rule the stitcher
//! refuses them with ([`callrec_mp4::validate::layout_mismatch`]).

use serde_json::json;

use crate::{ChunkRef, ChunkSummary, Code, Finding, Severity};

/// One error per chunk whose tracks differ from those of the first chunk that parsed.
pub(crate) fn tracks_differ(summaries: &[ChunkSummary]) -> Vec<Finding> {
    let mut measured = summaries
        .iter()
        .filter_map(|s| s.media.as_ref().map(|m| (s, &m.tracks)));
    let Some((first, t0)) = measured.next() else {
        return Vec::new();
    };
    measured
        .filter_map(|(s, tk)| {
            let m = callrec_mp4::validate::layout_mismatch(t0, tk)?;
            let chunk = ChunkRef {
                index: s.index,
                document_id: s.document_id.clone(),
            };
            Some(
                Finding::new(
                    Code::ChunkTracksDiffer,
                    Severity::Error,
                    Some(chunk),
                    format!(
                        "{} {} differs from chunk {}'s {}: the chunks cannot be stitched",
                        m.parameter, m.found, first.index, m.expected
                    ),
                )
                .values(
                    json!({ "chunk": first.index, "parameter": m.parameter, "value": m.expected }),
                    json!({ "parameter": m.parameter, "value": m.found }),
                ),
            )
        })
        .collect()
}
