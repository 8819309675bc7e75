//! Property tests: for any valid set of chunks and pauses, the maps invert each other exactly,
//! are monotonic, and the segments add up to the wall span.

use callrec_meta::{
    ChunkMetadata, LayoutPause, Nanos, PauseInterval, Recording, Segment, SegmentKind,
};
use chrono::{DateTime, TimeDelta, Utc};
use proptest::prelude::*;

/// One generated chunk: the gap before it, its media duration, and its pauses as (media
/// offset, duration), offsets sorted within `[0, duration]`. All in microseconds, so that
/// sub-millisecond values are exercised.
#[derive(Debug, Clone)]
struct GenChunk {
    gap_us: i64,
    dur_us: i64,
    pauses: Vec<(i64, i64)>,
}

fn gen_chunk() -> impl Strategy<Value = GenChunk> {
    (
        prop_oneof![Just(0i64), 0i64..30_000_000],
        1i64..600_000_000,
        prop::collection::vec((0u32..=1000, 0i64..120_000_000), 0..4),
    )
        .prop_map(|(gap_us, dur_us, raw)| {
            let mut offsets: Vec<i64> = raw
                .iter()
                .map(|(f, _)| dur_us * i64::from(*f) / 1000)
                .collect();
            offsets.sort();
            let pauses = offsets
                .into_iter()
                .zip(raw.iter().map(|(_, d)| *d))
                .filter(|(_, d)| *d > 0)
                .collect();
            GenChunk {
                gap_us,
                dur_us,
                pauses,
            }
        })
}

fn us(v: i64) -> Nanos {
    Nanos::from_micros(v)
}

fn build(start: DateTime<Utc>, chunks: &[GenChunk]) -> Vec<ChunkMetadata> {
    let mut at = start;
    let mut out = Vec::new();
    for (k, c) in chunks.iter().enumerate() {
        at += TimeDelta::microseconds(c.gap_us);
        let mut m = ChunkMetadata::new("call", format!("doc{k}"), k as u32, at, us(c.dur_us));
        let mut paused_before = 0;
        for &(off, d) in &c.pauses {
            // A pause at media offset `off` starts on the wall clock after the earlier pauses.
            m.pause_resume_intervals.push(PauseInterval::new(
                at + TimeDelta::microseconds(off + paused_before),
                us(d),
            ));
            paused_before += d;
        }
        at += TimeDelta::microseconds(c.dur_us + paused_before);
        out.push(m);
    }
    out
}

/// An event listing the chunks, with `recordingStartTime` = `start`.
fn event(start: DateTime<Utc>, metas: &[ChunkMetadata]) -> callrec_meta::RecordingEvent {
    let chunks: Vec<_> = metas
        .iter()
        .map(|m| serde_json::json!({"documentId": m.chunk_document_id, "index": m.chunk_index, "endReason": "x"}))
        .collect();
    let v = serde_json::json!({
        "id": "e", "subject": "/recording/call/call/serverCallId/s",
        "eventType": callrec_meta::RECORDING_FILE_STATUS_UPDATED,
        "data": {
            "recordingStorageInfo": {"recordingChunks": chunks},
            "recordingStartTime": callrec_meta::format_timestamp(start),
            "recordingDurationMs": 0,
            "sessionEndReason": "CallEnded"
        }
    });
    callrec_meta::RecordingEvent::from_json(&serde_json::to_vec(&v).unwrap(), "event.json".as_ref())
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn maps_invert_and_segments_add_up(
        chunks in prop::collection::vec(gen_chunk(), 1..5),
        start_us in 1_600_000_000_000_000i64..1_800_000_000_000_000,
        samples in prop::collection::vec(0u64..u64::MAX, 1..40),
    ) {
        let start = DateTime::<Utc>::from_timestamp_micros(start_us).unwrap();
        let metas = build(start, &chunks);
        let rec = Recording::from_parts(Some(event(start, &metas)), metas);
        prop_assert!(rec.problems.iter().all(|p| p.code() == "duration_mismatch"), "{:?}", rec.problems);
        let tl = rec.timeline();
        prop_assert!(tl.issues().iter().all(|i| i.code() == "chunk_gap"), "{:?}", tl.issues());

        // Totals and the layout are exactly what was generated.
        let media: i64 = chunks.iter().map(|c| c.dur_us).sum();
        let paused: i64 = chunks.iter().flat_map(|c| c.pauses.iter().map(|p| p.1)).sum();
        let gaps: i64 = chunks.iter().map(|c| c.gap_us).sum();
        prop_assert_eq!(tl.media_total(), us(media));
        prop_assert_eq!(tl.paused_total(), us(paused));
        prop_assert_eq!(tl.gap_total(), us(gaps));
        prop_assert_eq!(tl.media_total() + tl.paused_total() + tl.gap_total(), tl.wall_total());
        prop_assert_eq!(tl.start(), start);
        for (l, c) in tl.chunk_layout().iter().zip(&chunks) {
            prop_assert_eq!(l.gap_before, us(c.gap_us));
            let want: Vec<LayoutPause> = c.pauses.iter()
                .map(|&(o, d)| LayoutPause { media_offset: us(o), duration: us(d) })
                .collect();
            prop_assert_eq!(&l.pauses, &want);
        }

        // Segments: sorted, non-empty, contiguous, recorded wall length = media length.
        let mut at = tl.start();
        let mut media_at = Nanos::ZERO;
        for s in tl.segments() {
            prop_assert_eq!(s.wall().start, at);
            prop_assert!(s.wall().end > at);
            at = s.wall().end;
            if let Segment::Recorded { wall, media, .. } = s {
                prop_assert_eq!(media.start, media_at);
                prop_assert_eq!(wall.duration(), media.duration());
                media_at = media.end;
            }
        }
        prop_assert_eq!(media_at, tl.media_total());

        // media -> wall -> media is the identity; both maps strictly increasing.
        let total = tl.media_total().as_nanos() as u64;
        let mut ts: Vec<Nanos> = samples.iter().map(|s| Nanos::from_nanos((s % total) as i64)).collect();
        ts.push(Nanos::ZERO);
        ts.push(Nanos::from_nanos(total as i64 - 1));
        // every segment boundary, and just before it
        for s in tl.segments() {
            if let Some(m) = s.media() {
                ts.push(m.start);
                if m.start > Nanos::ZERO { ts.push(m.start - Nanos::from_nanos(1)); }
            }
        }
        ts.sort();
        ts.dedup();
        let mut prev: Option<(Nanos, DateTime<Utc>)> = None;
        for &t in &ts {
            let w = tl.media_to_wall(t);
            prop_assert!(w.is_some(), "media {t:?} has no wall time");
            let w = w.unwrap();
            prop_assert_eq!(tl.wall_to_media(w), Some(t));
            if let Some((pt, pw)) = prev {
                prop_assert!(pt < t && pw < w, "not monotonic: {pt:?}->{pw} vs {t:?}->{w}");
            }
            prev = Some((t, w));
        }
        prop_assert_eq!(tl.media_to_wall(tl.media_total()), None);

        // wall -> media is monotonic where defined, and None exactly off recorded segments.
        let span = tl.wall_total().as_nanos() as u64;
        let mut ws: Vec<DateTime<Utc>> = samples.iter()
            .map(|s| tl.start() + TimeDelta::nanoseconds((s % span) as i64))
            .collect();
        ws.sort();
        let mut prev_m: Option<Nanos> = None;
        for w in ws {
            let seg = tl.segment_at(w).unwrap();
            match tl.wall_to_media(w) {
                Some(m) => {
                    prop_assert_eq!(seg.kind(), SegmentKind::Recorded);
                    prop_assert_eq!(tl.media_to_wall(m), Some(w));
                    if let Some(p) = prev_m { prop_assert!(p <= m); }
                    prev_m = Some(m);
                }
                None => prop_assert!(seg.kind() != SegmentKind::Recorded),
            }
        }
    }

    #[test]
    fn arbitrary_pauses_never_panic_and_stay_well_formed(
        durs in prop::collection::vec(-10_000_000i64..600_000_000, 1..4),
        starts in prop::collection::vec(-700_000_000i64..700_000_000, 1..4),
        pauses in prop::collection::vec((0usize..4, -200_000_000i64..900_000_000, -5_000_000i64..100_000_000), 0..8),
    ) {
        let t0 = DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap();
        let mut metas = Vec::new();
        for (k, d) in durs.iter().enumerate() {
            let start = t0 + TimeDelta::microseconds(starts[k % starts.len()] + 1_000_000_000 * k as i64);
            let mut m = ChunkMetadata::new("c", format!("d{k}"), k as u32, start, us(*d));
            for &(c, off, dur) in &pauses {
                if c % durs.len() == k {
                    m.pause_resume_intervals.push(PauseInterval::new(start + TimeDelta::microseconds(off), us(dur)));
                }
            }
            metas.push(m);
        }
        let tl = Recording::from_parts(None, metas).timeline();
        let mut at = tl.start();
        for s in tl.segments() {
            prop_assert_eq!(s.wall().start, at);
            prop_assert!(s.wall().end > at);
            at = s.wall().end;
        }
        prop_assert_eq!(
            tl.media_total() + tl.paused_total() + tl.gap_total() + tl.missing_total(),
            tl.wall_total()
        );
        crate::assert_exports(&tl);
    }
}

#[test]
fn conversation_id_is_base64url_where_plain_base64_differs() {
    use base64::Engine as _;
    // Expected values computed independently with Python's base64.urlsafe_b64encode.
    let cases = [
        // '?' makes a '/' in plain Base64, which would split the request path
        (
            "https://x/y?a=1",
            "aHR0cHM6Ly94L3k/YT0x",
            "aHR0cHM6Ly94L3k_YT0x",
        ),
        // '~~>?' makes a '+' and '=' padding
        (
            "https://conv-eus-01.conv.skype.com/conv/~~>?",
            "aHR0cHM6Ly9jb252LWV1cy0wMS5jb252LnNreXBlLmNvbS9jb252L35+Pj8=",
            "aHR0cHM6Ly9jb252LWV1cy0wMS5jb252LnNreXBlLmNvbS9jb252L35-Pj8",
        ),
    ];
    for (url, plain, want) in cases {
        assert_eq!(base64::engine::general_purpose::STANDARD.encode(url), plain);
        let id = callrec_meta::conversation_id(url);
        assert_eq!(id, want);
        assert_ne!(id, plain);
        assert!(!id.contains(['+', '/', '=']));
    }
}
