//! Where everything is in a stitch's output: the timeline JSON and WebVTT chapters of a
//! stitched recording.

use crate::{StitchOptions, Timeline};

/// Where each of the timeline's segments is in the output of `plan`, µs (`None` for time the
/// output does not hold: pauses and gaps in compact mode, missing chunks).
fn segment_outputs(
    timeline: &Timeline,
    plan: &callrec_stitch::Plan,
    opts: &StitchOptions,
) -> Vec<(Option<u64>, Option<u64>)> {
    let places = plan.chunks();
    // Where a chunk's media offset (ns from its first recorded instant) is in the output, µs.
    let at = |chunk: u32, offset_ns: i64| -> Option<u64> {
        let p = places.iter().find(|p| p.index == chunk)?;
        let x = u64::try_from(offset_ns / 1000).ok()?;
        let ins = p
            .inserted
            .iter()
            .rev()
            .find(|(a, _)| *a <= x)
            .map_or(0, |(_, t)| *t);
        Some(p.origin_us + x + ins)
    };
    let segs = timeline.segments();
    let mut out: Vec<(Option<u64>, Option<u64>)> = segs
        .iter()
        .map(|s| match (s.kind(), s.media(), s.chunk()) {
            (callrec_meta::SegmentKind::Recorded, Some(m), Some(c)) => {
                let base = segs
                    .iter()
                    .filter(|x| {
                        x.chunk() == Some(c) && x.kind() == callrec_meta::SegmentKind::Recorded
                    })
                    .filter_map(|x| x.media())
                    .map(|m| m.start.as_nanos())
                    .min()
                    .unwrap_or(0);
                let a = at(c, m.start.as_nanos() - base);
                let len =
                    u64::try_from((m.end.as_nanos() - m.start.as_nanos()) / 1000).unwrap_or(0);
                (a, a.map(|a| a + len))
            }
            _ => (None, None),
        })
        .collect();
    if opts.wall_clock {
        // Pauses and gaps are in the output too: from the end of what precedes them to the start
        // of what follows.
        let end = plan.duration_us();
        for i in 0..out.len() {
            if out[i].0.is_none() && segs[i].kind() != callrec_meta::SegmentKind::Missing {
                let a = out[..i].iter().rev().find_map(|x| x.1).unwrap_or(0);
                let b = out[i + 1..].iter().find_map(|x| x.0).unwrap_or(end);
                out[i] = (Some(a), Some(b.max(a)));
            }
        }
    }
    out
}

/// WebVTT chapters ([`Timeline::to_webvtt`]) whose cue times are where each stretch is in the
/// output of `plan` (which includes what the joins add), not the metadata's media time.
pub fn output_webvtt(
    timeline: &Timeline,
    plan: &callrec_stitch::Plan,
    opts: &StitchOptions,
) -> String {
    let out = segment_outputs(timeline, plan, opts);
    let us = |x: u64| callrec_meta::Nanos::from_micros(i64::try_from(x).unwrap_or(i64::MAX));
    timeline.to_webvtt_at(|i, _| match out.get(i) {
        Some((Some(a), Some(b))) => Some((us(*a), us(*b))),
        _ => None,
    })
}

/// The timeline JSON of a stitch: [`Timeline::to_json_value`] plus where everything is in the
/// output. Each segment gets `output_start_ms` / `output_end_ms` (its position in the MP4;
/// `null` for time the output does not hold: pauses and gaps in compact mode, missing chunks),
/// and an `output` object says how the joins were made and where each chunk starts and ends:
/// `{"mode": "compact"|"trimmed"|"wall-clock", "duration_ms", "silent_frames",
/// "dropped_frames", "chunks": [{"chunk", "document_id", "start_ms", "first_media_ms",
/// "end_ms"}], "rescaled": [{"chunk", "track", "from", "to"}]}`. Milliseconds with 3 decimals
/// (µs). A chunk's `start_ms` is where its presentation time 0 (its `chunkStartTime`) is, so
/// that its media instant `x` is at `start_ms + x` (plus pauses inserted before `x` in
/// wall-clock mode); `first_media_ms` is its first presented instant, later when every track
/// of it starts with an empty edit (a lead the output presents: silent audio, video waiting).
pub fn output_timeline(
    timeline: &Timeline,
    plan: &callrec_stitch::Plan,
    opts: &StitchOptions,
) -> String {
    use serde_json::{json, Value};
    let ms = |us: u64| Value::from((us as f64 / 1000.0 * 1000.0).round() / 1000.0);
    let mut v = timeline.to_json_value();
    let places = plan.chunks();
    let out = segment_outputs(timeline, plan, opts);
    if let Some(Value::Array(list)) = v.get_mut("segments") {
        for (s, (a, b)) in list.iter_mut().zip(&out) {
            if let Value::Object(o) = s {
                o.insert("output_start_ms".into(), a.map_or(Value::Null, ms));
                o.insert("output_end_ms".into(), b.map_or(Value::Null, ms));
            }
        }
    }
    let mode = if opts.wall_clock {
        "wall-clock"
    } else if opts.trim_joins {
        "trimmed"
    } else {
        "compact"
    };
    let chunks: Vec<Value> = places
        .iter()
        .map(|p| {
            json!({"chunk": p.index, "document_id": p.name, "start_ms": ms(p.origin_us),
                   "first_media_ms": ms(p.start_us), "end_ms": ms(p.end_us)})
        })
        .collect();
    let rescaled: Vec<Value> = plan
        .rescaled()
        .iter()
        .map(|r| {
            json!({"chunk": r.index, "track": format!("{:?}", r.kind).to_lowercase(),
                        "from": r.from, "to": r.to})
        })
        .collect();
    if let Value::Object(o) = &mut v {
        o.insert(
            "output".into(),
            json!({"mode": mode, "duration_ms": ms(plan.duration_us()),
                   "silent_frames": plan.silent_frames(), "dropped_frames": plan.dropped_frames(),
                   "chunks": chunks, "rescaled": rescaled}),
        );
    }
    let mut text = serde_json::to_string_pretty(&v).unwrap_or_default();
    text.push('\n');
    text
}
