//! The timeline's exports: JSON and WebVTT chapters.

use serde_json::{json, Value};

use crate::time::{format_timestamp, millis_string, Nanos};
use crate::timeline::{MediaRange, Segment, Timeline, WallRange};

impl Timeline {
    /// The JSON export as a value (see [`Self::to_json`]).
    pub fn to_json_value(&self) -> Value {
        let segments: Vec<Value> = self
            .segments
            .iter()
            .map(|s| {
                let w = s.wall();
                let (ms, me) = match s.media() {
                    Some(m) => (ms_value(m.start), ms_value(m.end)),
                    None => (Value::Null, Value::Null),
                };
                json!({
                    "kind": s.kind().as_str(),
                    "wall_start": format_timestamp(w.start),
                    "wall_end": format_timestamp(w.end),
                    "media_start_ms": ms,
                    "media_end_ms": me,
                    "chunk": s.chunk(),
                })
            })
            .collect();
        json!({
            "recording_start": format_timestamp(self.recording_start),
            "media_ms": ms_value(self.media_total()),
            "wall_ms": ms_value(self.wall_total()),
            "paused_ms": ms_value(self.paused_total()),
            "segments": segments,
        })
    }

    /// The JSON export, pretty-printed:
    /// `{"recording_start": ISO, "media_ms": N, "wall_ms": N, "paused_ms": N, "segments":
    /// [{"kind": "recorded"|"paused"|"gap"|"missing", "wall_start": ISO, "wall_end": ISO,
    /// "media_start_ms": N|null, "media_end_ms": N|null, "chunk": index|null}]}`.
    /// Milliseconds are integers when whole, else decimals (to the nanosecond); times are RFC
    /// 3339 UTC with 0, 3, 6 or 9 fractional digits.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(&self.to_json_value()).unwrap_or_default();
        s.push('\n');
        s
    }

    /// WebVTT chapters: one cue per recorded stretch (recorded segments that follow each other
    /// on the wall clock are one stretch), timed in media time, titled with its wall-clock
    /// start and, after a pause, gap or missing chunk, how long the recording was interrupted.
    pub fn to_webvtt(&self) -> String {
        self.to_webvtt_at(|_, media| Some((media.start, media.end)))
    }

    /// [`Timeline::to_webvtt`] with the cue times a stitched file has: `place(i, media)` says
    /// where recorded segment `i` ([`Timeline::segments`]) of media `media` starts and ends in
    /// it (`None`: not in it, no cue). A cue spans one stretch recorded without interruption,
    /// from its first segment's start to its last one's end.
    pub fn to_webvtt_at(
        &self,
        place: impl Fn(usize, MediaRange) -> Option<(Nanos, Nanos)>,
    ) -> String {
        let mut out = String::from("WEBVTT\n");
        // (wall span, first segment, last segment, interruption before it)
        let mut stretches: Vec<(WallRange, usize, usize, Nanos)> = Vec::new();
        let mut interrupted = Nanos::ZERO;
        for (i, s) in self.segments.iter().enumerate() {
            match s {
                Segment::Recorded { wall, .. } => match stretches.last_mut() {
                    Some((w, _, last, _)) if interrupted == Nanos::ZERO && w.end == wall.start => {
                        w.end = wall.end;
                        *last = i;
                    }
                    _ => {
                        stretches.push((*wall, i, i, interrupted));
                        interrupted = Nanos::ZERO;
                    }
                },
                other => interrupted += other.wall().duration(),
            }
        }
        let media = |i: usize| match self.segments[i] {
            Segment::Recorded { media, .. } => Some(media),
            _ => None,
        };
        let mut cue = 0;
        for (wall, first, last, after) in &stretches {
            let start = media(*first).and_then(|m| place(*first, m)).map(|p| p.0);
            let end = media(*last).and_then(|m| place(*last, m)).map(|p| p.1);
            let (Some(start), Some(end)) = (start, end) else {
                continue;
            };
            cue += 1;
            out.push_str(&format!(
                "\n{}\n{} --> {}\n{}{}\n",
                cue,
                vtt_time(start),
                vtt_time(end),
                format_timestamp(wall.start),
                if *after > Nanos::ZERO && cue > 1 {
                    format!(" (resumed after {})", after)
                } else {
                    String::new()
                }
            ));
        }
        out
    }
}

/// Milliseconds as a JSON number: an integer when whole, else a decimal.
fn ms_value(n: Nanos) -> Value {
    if n.as_nanos() % 1_000_000 == 0 {
        Value::from(n.as_nanos() / 1_000_000)
    } else {
        millis_string(n)
            .parse::<serde_json::Number>()
            .map(Value::Number)
            .unwrap_or(Value::Null)
    }
}

/// `hh:mm:ss.ttt`, milliseconds rounded down.
fn vtt_time(n: Nanos) -> String {
    let ms = n.as_millis_floor().max(0);
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}
