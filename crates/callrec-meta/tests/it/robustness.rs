//! Hostile input never panics: every truncated prefix and seeded byte flips of every fixture
//! JSON through the parsers, and extreme times through the timeline.

use crate::{assert_exports, testdata, ts};
use callrec_meta::{ChunkMetadata, Nanos, PauseInterval, Recording, RecordingEvent};
use std::path::Path;

fn fixture_jsons() -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for group in ["recordings", "recordings-bad"] {
        for rec in std::fs::read_dir(testdata().join(group)).unwrap() {
            for f in std::fs::read_dir(rec.unwrap().path()).unwrap() {
                let p = f.unwrap().path();
                let n = p.file_name().unwrap().to_str().unwrap().to_string();
                if n.ends_with(".json") && !n.ends_with(".packets.json") {
                    out.push(p);
                }
            }
        }
    }
    out.sort();
    assert!(out.len() >= 20, "{out:?}");
    out
}

fn parse_both(bytes: &[u8], file: &Path) {
    let _ = ChunkMetadata::from_json(bytes, file);
    let _ = RecordingEvent::from_json(bytes, file);
}

#[test]
fn truncated_prefixes_and_byte_flips_never_panic() {
    // xorshift64*, seeded: the same flips on every run.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    for p in fixture_jsons() {
        let bytes = std::fs::read(&p).unwrap();
        for len in 0..bytes.len() {
            parse_both(&bytes[..len], &p);
        }
        for _ in 0..300 {
            let mut b = bytes.clone();
            let i = (next() % b.len() as u64) as usize;
            b[i] = (next() & 0xff) as u8;
            parse_both(&b, &p);
        }
    }
}

#[test]
fn extreme_times_never_panic() {
    let far_past = ts("0001-01-01T00:00:00Z");
    let far_future = ts("9999-12-31T23:59:59.9999999Z");
    let mut a = ChunkMetadata::new("c", "a", 0, far_future, Nanos::MAX);
    a.pause_resume_intervals
        .push(PauseInterval::new(far_past, Nanos::MAX));
    a.pause_resume_intervals
        .push(PauseInterval::new(far_future, Nanos::from_nanos(i64::MIN)));
    let b = ChunkMetadata::new("c", "b", 1, far_past, Nanos::from_nanos(i64::MIN));
    let c = ChunkMetadata::new("c", "c", 2, far_future, Nanos::MAX);
    let tl = Recording::from_parts(None, vec![a, b, c]).timeline();
    assert!(!tl.issues().is_empty());
    assert_exports(&tl);
    let _ = tl.media_to_wall(Nanos::MAX);
    let _ = tl.wall_to_media(far_past);
    let _ = tl.wall_to_media(far_future);
}
