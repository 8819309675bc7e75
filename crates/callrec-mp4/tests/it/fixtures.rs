//! Every fixture chunk's sample lists equal ffprobe's packet table (`<doc>.packets.json`, taken
//! with `-ignore_editlist 1`): count, dts, pts, duration, size, position and keyframe flag.

use callrec_mp4::{Codec, Movie, TrackKind};
use serde_json::Value;

use crate::util::fixture_chunks;

#[test]
fn sample_lists_match_ffprobe_packets() {
    let chunks = fixture_chunks();
    assert!(
        !chunks.is_empty(),
        "no fixtures found under testdata/recordings"
    );
    // 10 recordings (basic, bframes, paused, fragmented, faststart, mismatch,
    // fragmented_bframes, mixed_timescale, paused_bframes, empty_edit) of 3 chunks.
    assert_eq!(chunks.len(), 30, "fixture chunks under testdata/recordings");
    let mut checked = 0;
    let mut files_checked = 0;
    let mut failures = Vec::new();
    for path in &chunks {
        let packets_path = path.with_extension("packets.json");
        let text = std::fs::read_to_string(&packets_path)
            .unwrap_or_else(|e| panic!("{}: {e}", packets_path.display()));
        let probe: Value = serde_json::from_str(&text).unwrap();
        let data = std::fs::read(path).unwrap();
        let movie = match Movie::parse(&data) {
            Ok(m) => m,
            Err(e) => {
                failures.push(format!("{}: {e}", path.display()));
                continue;
            }
        };
        files_checked += 1;
        let streams = probe["streams"].as_array().unwrap();
        if streams.len() != movie.tracks.len() {
            failures.push(format!(
                "{}: {} streams vs {} tracks",
                path.display(),
                streams.len(),
                movie.tracks.len()
            ));
            continue;
        }
        for (i, st) in streams.iter().enumerate() {
            let track = &movie.tracks[i];
            let kind = st["codec_type"].as_str().unwrap();
            let want_kind = match kind {
                "video" => TrackKind::Video,
                "audio" => TrackKind::Audio,
                _ => continue,
            };
            assert_eq!(track.kind, want_kind, "{}: stream {i}", path.display());
            match (track.codec(), kind) {
                (Some(Codec::Avc(a)), "video") => {
                    assert_eq!(u64::from(a.width), st["width"].as_u64().unwrap());
                    assert_eq!(u64::from(a.height), st["height"].as_u64().unwrap());
                }
                (Some(Codec::Aac(a)), "audio") => {
                    assert_eq!(
                        u64::from(a.sample_rate),
                        st["sample_rate"].as_u64().unwrap()
                    );
                    assert_eq!(u64::from(a.channels), st["channels"].as_u64().unwrap());
                }
                other => failures.push(format!("{}: stream {i}: codec {other:?}", path.display())),
            }
            let tb = st["time_base"].as_str().unwrap();
            assert_eq!(
                tb,
                format!("1/{}", track.timescale.get()),
                "{}",
                path.display()
            );
            let pk: Vec<&Value> = probe["packets"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|p| p["stream"].as_u64() == Some(i as u64))
                .collect();
            if pk.len() != track.samples.len() {
                failures.push(format!(
                    "{} stream {i}: {} packets vs {} samples",
                    path.display(),
                    pk.len(),
                    track.samples.len()
                ));
                continue;
            }
            for (k, (p, s)) in pk.iter().zip(&track.samples).enumerate() {
                // ffprobe (5.1) does not report trun sample durations of fragmented files: it
                // fills packet durations from the frame rate or the AAC frame size. There the
                // duration is checked against ffprobe's next dts instead (not for the last).
                let want_duration = if movie.fragmented {
                    match pk.get(k + 1) {
                        Some(next) => next["dts"].as_i64().unwrap() - p["dts"].as_i64().unwrap(),
                        None => i64::from(s.duration),
                    }
                } else {
                    p["duration"].as_i64().unwrap()
                };
                let got = (
                    s.dts as i64,
                    s.pts(),
                    i64::from(s.duration),
                    i64::from(s.size),
                    s.offset as i64,
                    s.sync,
                );
                let want = (
                    p["dts"].as_i64().unwrap(),
                    p["pts"].as_i64().unwrap(),
                    want_duration,
                    p["size"].as_i64().unwrap(),
                    p["pos"].as_i64().unwrap(),
                    p["keyframe"].as_bool().unwrap(),
                );
                if got != want {
                    failures.push(format!(
                        "{} stream {i} sample {k}: got (dts,pts,dur,size,pos,key) {got:?}, ffprobe {want:?}",
                        path.display()
                    ));
                }
            }
            checked += 1;
        }
    }
    assert_eq!(files_checked, chunks.len(), "every chunk checked");
    // Every chunk has one video and one audio stream.
    assert_eq!(checked, 2 * chunks.len(), "every stream checked");
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
