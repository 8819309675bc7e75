//! Integration tests: stitch every fixture recording and re-read the output three ways (our
//! parser, the `mp4` crate, symphonia).

mod fixtures;
mod read;
mod reflink;

use std::path::Path;

use callrec_mp4::{Movie, TrackKind};
use callrec_stitch::{write, ChunkInput, Error, Plan, StitchOptions};

use fixtures::{load, Fixture};
use read::{presented, Presented, Q};

const GOOD: [&str; 5] = ["basic", "bframes", "paused", "fragmented", "faststart"];

fn opts(threads: usize) -> StitchOptions {
    StitchOptions {
        threads: Some(threads),
        ..StitchOptions::default()
    }
}

/// Stitches into `dir/out.mp4` and returns the output bytes.
fn stitch_to(chunks: &[ChunkInput], o: &StitchOptions, out: &Path) -> (Plan, Vec<u8>) {
    let plan = Plan::new(chunks, o).expect("plan");
    let last = std::sync::Mutex::new(0u64);
    let summary = write(&plan, out, o, &|d| {
        let mut l = last.lock().unwrap();
        assert!(d >= *l, "progress goes backwards");
        *l = d;
    })
    .expect("write");
    assert_eq!(
        *last.lock().unwrap(),
        plan.output_len(),
        "progress ends at the output size"
    );
    let bytes = std::fs::read(out).unwrap();
    assert_eq!(bytes.len() as u64, plan.output_len());
    assert_eq!(summary.bytes, plan.output_len());
    assert_eq!(summary.chunks, chunks.len());
    (plan, bytes)
}

/// What each chunk presents on track `i` (its n-th track of that kind), by the rule the crate
/// documents: the chunk's own edit list, or, for an edit-less chunk with AAC, a skip of 1024 AAC
/// samples (converted to the track's timescale, rounded) to the end of the media.
fn chunk_presented(f: &Fixture, k: usize, kind: TrackKind, ordinal: usize) -> Presented {
    let m = &f.chunks[k].movie;
    let t = m
        .tracks
        .iter()
        .filter(|t| t.kind == kind)
        .nth(ordinal)
        .unwrap();
    if m.tracks.iter().all(|t| t.edits.is_empty()) {
        let rate = m
            .tracks
            .iter()
            .find_map(|t| match t.codec() {
                Some(callrec_mp4::Codec::Aac(a)) => Some(u64::from(a.sample_rate)),
                _ => None,
            })
            .expect("the fixtures have audio");
        let ts = u64::from(t.timescale.get());
        let skip = (1024 * ts * 2 + rate) / (2 * rate);
        let end = t
            .samples
            .iter()
            .map(|s| s.pts() + i64::from(s.duration))
            .max()
            .unwrap();
        let edit = callrec_mp4::Edit {
            segment_duration: end as u64 - skip,
            media_time: Some(skip as i64),
            media_rate_integer: 1,
            media_rate_fraction: 0,
        };
        presented(ts, t, &[edit])
    } else {
        presented(u64::from(m.timescale.get()), t, &t.edits)
    }
}

/// The core assertions of the issue on one recording's output (compact mode).
fn assert_lossless_and_in_sync(f: &Fixture, out: &Movie, data: &[u8]) {
    assert_eq!(out.tracks.len(), f.chunks[0].movie.tracks.len());
    let mut ordinals = std::collections::HashMap::new();
    // Chunk spans: the longest track of each chunk.
    let mut spans = vec![Q::ZERO; f.chunks.len()];
    let mut per_track = Vec::new();
    for t in &out.tracks {
        let n = ordinals.entry(format!("{:?}", t.kind)).or_insert(0usize);
        let ordinal = *n;
        *n += 1;
        let chunks: Vec<Presented> = (0..f.chunks.len())
            .map(|k| chunk_presented(f, k, t.kind, ordinal))
            .collect();
        for (k, p) in chunks.iter().enumerate() {
            spans[k] = spans[k].max(p.duration);
        }
        per_track.push((t, chunks));
    }
    for (t, chunks) in per_track {
        let o = presented(u64::from(out.timescale.get()), t, &t.edits);
        // Same packets, same order, same bytes.
        let expected: usize = chunks.iter().map(|p| p.samples.len()).sum();
        assert_eq!(
            o.samples.len(),
            expected,
            "{:?}: presented packet count",
            t.kind
        );
        let mut j = 0;
        let mut start = Q::ZERO;
        for (k, p) in chunks.iter().enumerate() {
            let src = &f.bytes[k];
            let ct = f.chunks[k]
                .movie
                .tracks
                .iter()
                .filter(|u| u.kind == t.kind)
                .count();
            assert!(ct >= 1);
            for (s, time) in &p.samples {
                let (os, otime) = &o.samples[j];
                assert_eq!(
                    &data[os.range().start as usize..os.range().end as usize],
                    &src[s.range().start as usize..s.range().end as usize],
                    "{:?}: packet {j} (chunk {k}) bytes",
                    t.kind
                );
                assert_eq!(
                    os.cts_offset, s.cts_offset,
                    "{:?}: packet {j} composition offset",
                    t.kind
                );
                assert_eq!(os.sync, s.sync, "{:?}: packet {j} sync flag", t.kind);
                // Presented exactly where it belongs: the chunk's start plus its own time.
                assert_eq!(
                    *otime,
                    start.add(*time),
                    "{:?}: packet {j} (chunk {k}) presentation time",
                    t.kind
                );
                j += 1;
            }
            start = start.add(spans[k]);
        }
        // Presented duration == the earlier chunks' spans + the last chunk's presentation (a
        // shorter track is padded to its chunk's span, except at the end).
        let n = chunks.len();
        let sum = spans[..n - 1]
            .iter()
            .fold(chunks[n - 1].duration, |a, d| a.add(*d));
        assert_eq!(o.duration, sum, "{:?}: presented duration", t.kind);
    }
}

#[test]
fn every_fixture_stitches_losslessly_in_sync() {
    for name in GOOD {
        let f = load(name);
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.mp4");
        let (plan, data) = stitch_to(&f.chunks, &opts(2), &out);
        let movie = Movie::parse(&data).unwrap_or_else(|e| panic!("{name}: reparse: {e}"));
        assert!(!movie.fragmented);
        assert!(
            movie.moov.start < movie.mdats[0].start,
            "{name}: moov before mdat"
        );
        assert_lossless_and_in_sync(&f, &movie, &data);
        // Placements: chunk k starts at the sum of the earlier chunks' durations.
        let ts = u64::from(plan.timescale());
        let mut at = 0u64;
        for (k, p) in plan.chunks().iter().enumerate() {
            assert_eq!(p.index, k as u32);
            assert_eq!(p.span_start, at, "{name}: chunk {k} start");
            assert_eq!(p.start, at);
            at = p.end;
            let ms = f.meta[k]["chunkDuration"].as_f64().unwrap() as u64;
            assert_eq!(
                p.end - p.span_start,
                ms * ts / 1000,
                "{name}: chunk {k} span"
            );
        }
        assert_eq!(plan.duration_ms(), 15000, "{name}");
        assert!(plan.exact());
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "{name}: no temp left"
        );
        f.assert_unchanged();
    }
}

#[test]
fn edit_lists_skip_every_chunks_priming() {
    // basic: audio has one edit per chunk at merged media_time base_k + 1024; video joins into
    // one edit (media_time 0, no priming, contiguous media).
    let f = load("basic");
    let plan = Plan::new(&f.chunks, &opts(1)).unwrap();
    let audio = plan
        .tracks()
        .iter()
        .find(|t| t.kind == TrackKind::Audio)
        .unwrap();
    let video = plan
        .tracks()
        .iter()
        .find(|t| t.kind == TrackKind::Video)
        .unwrap();
    let mut base = 0i64;
    assert_eq!(audio.edits.len(), 3);
    for (k, e) in audio.edits.iter().enumerate() {
        let t = f.chunks[k].movie.track(TrackKind::Audio).unwrap();
        assert_eq!(e.media_time, Some(base + 1024), "chunk {k}");
        base += t.samples.iter().map(|s| i64::from(s.duration)).sum::<i64>();
    }
    assert_eq!(plan.timescale(), 1000);
    assert_eq!(video.edits.len(), 1);
    assert_eq!(video.edits[0].media_time, Some(0));
    assert_eq!(video.edits[0].segment_duration, 15000);
    // bframes: the video's 4096-tick delay recurs at every join, and each chunk's media
    // continues where the last ended, so the joins are contiguous: one edit.
    let f = load("bframes");
    let plan = Plan::new(&f.chunks, &opts(1)).unwrap();
    let video = plan
        .tracks()
        .iter()
        .find(|t| t.kind == TrackKind::Video)
        .unwrap();
    assert_eq!(video.edits.len(), 1);
    assert_eq!(video.edits[0].media_time, Some(4096));
}

/// Compact mode, chunks whose audio is shorter than their video (as on real recordings, where
/// the tracks differ by a few ms per chunk): the audio's last sample of each chunk is held
/// longer (a timestamp gap) instead of an empty edit after it, which ffmpeg's mov demuxer
/// ignores (its players would drift by the difference at every join). Every chunk's first audio
/// and video samples are presented exactly at the chunk's start, every presented sample keeps
/// its bytes, and no edit list has an empty edit but a leading one.
#[test]
fn shorter_audio_is_padded_by_a_timestamp_gap_not_an_empty_edit() {
    let mut f = load("basic");
    let mts = i64::from(f.chunks[0].movie.timescale.get());
    assert_eq!(mts, 1000, "fixture: edits in ms");
    // Chunk 0: drop its last 3 audio frames and end its edit there (two of 64 ms and the last,
    // of 128 ticks: 136 ms short, at a frame boundary). Chunk 1: end its audio edit 5 ms early, inside the last frame (80 ticks, not a
    // frame boundary). Chunk 2 (last) drops 2 frames: nothing follows it, no padding.
    let mut short_ms = Vec::new();
    for (k, drop) in [(0usize, 3usize), (1, 0), (2, 2)] {
        let t = f.chunks[k]
            .movie
            .tracks
            .iter_mut()
            .find(|t| t.kind == TrackKind::Audio)
            .unwrap();
        assert_eq!(t.edits.len(), 1, "fixture: one audio edit");
        assert_eq!(t.edits[0].media_time, Some(1024), "fixture: AAC priming");
        let before = t.edits[0].segment_duration;
        t.samples.truncate(t.samples.len() - drop);
        let last = t.samples.last().unwrap();
        let end = last.dts + u64::from(last.duration);
        t.media_duration = end;
        let ts = u64::from(t.timescale.get());
        let mut seg = (end - 1024) * mts as u64 / ts;
        if drop == 0 {
            seg -= 5;
        }
        assert!(seg < before, "chunk {k}: audio shortened");
        t.edits[0].segment_duration = seg;
        short_ms.push(before - seg);
    }
    assert_eq!(short_ms[..2], [136, 5], "audio shorter than video by");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.mp4");
    let (plan, data) = stitch_to(&f.chunks, &opts(2), &out);
    let movie = Movie::parse(&data).unwrap();
    // (a) No empty edit after a media edit (here: no empty edit at all).
    for t in &movie.tracks {
        assert!(
            t.edits.iter().all(|e| e.media_time.is_some()),
            "{:?}: {:?}",
            t.kind,
            t.edits
        );
    }
    // (b) + (c) Every presented sample of chunk k at the chunk's start (the sum of the earlier
    // chunks' video spans) plus its own time in the chunk, bytes unchanged.
    assert_lossless_and_in_sync(&f, &movie, &data);
    // The chunk starts, explicitly: 5 s and 9 s, on both tracks, in the output's sample
    // tables (the first presented sample of each chunk).
    let starts: Vec<u64> = plan.chunks().iter().map(|p| p.start_us).collect();
    assert_eq!(starts, vec![0, 5_000_000, 9_000_000]);
    for t in &movie.tracks {
        let o = presented(u64::from(movie.timescale.get()), t, &t.edits);
        let mut j = 0;
        for (k, want) in [0i128, 5, 9].into_iter().enumerate() {
            assert_eq!(
                o.samples[j].1,
                Q::new(want, 1),
                "{:?}: chunk {k} start",
                t.kind
            );
            j += chunk_presented(&f, k, t.kind, 0).samples.len();
        }
    }
    // The padding is in the audio's last sample of chunks 0 and 1: 136 ms = 2176 ticks, 5 ms =
    // 80 ticks; every other sample keeps its duration.
    let a = movie.track(TrackKind::Audio).unwrap();
    let n0 = f.chunks[0]
        .movie
        .track(TrackKind::Audio)
        .unwrap()
        .samples
        .len();
    let n1 = f.chunks[1]
        .movie
        .track(TrackKind::Audio)
        .unwrap()
        .samples
        .len();
    let src: Vec<u32> = (0..3)
        .flat_map(|k| {
            let t = f.chunks[k].movie.track(TrackKind::Audio).unwrap();
            t.samples.iter().map(|s| s.duration).collect::<Vec<_>>()
        })
        .collect();
    let got: Vec<u32> = a.samples.iter().map(|s| s.duration).collect();
    let mut want = src.clone();
    want[n0 - 1] += 2176;
    want[n0 + n1 - 1] += 80;
    assert_eq!(got, want);
    let v = movie.track(TrackKind::Video).unwrap();
    assert_eq!(v.edits.len(), 1, "video unchanged: one edit");
}

/// Fragmented (edit-less) chunks: audio skips its first frame (priming) at every chunk; the
/// first video frame, which ffmpeg stretched by the same lead (1049 ticks), gets its own 2048
/// back, so the video runs at a steady 2048 and needs a single edit from media time 0.
#[test]
fn fragmented_chunks_lose_priming_and_the_stretch() {
    let f = load("fragmented");
    for c in &f.chunks {
        let v = c.movie.track(TrackKind::Video).unwrap();
        assert_eq!(
            v.samples[1].dts - v.samples[0].dts,
            3097,
            "fixture: stretched first frame"
        );
    }
    let plan = Plan::new(&f.chunks, &opts(1)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (_, data) = stitch_to(&f.chunks, &opts(1), &dir.path().join("out.mp4"));
    let m = Movie::parse(&data).unwrap();
    let v = m.track(TrackKind::Video).unwrap();
    assert!(v.samples.iter().all(|s| s.duration == 2048));
    assert_eq!(v.edits.len(), 1);
    assert_eq!(v.edits[0].media_time, Some(0));
    assert_eq!(v.edits[0].segment_duration, 15000);
    let a = m.track(TrackKind::Audio).unwrap();
    assert_eq!(a.edits.len(), 3);
    let mut base = 0;
    for (k, e) in a.edits.iter().enumerate() {
        assert_eq!(e.media_time, Some(base + 1024), "chunk {k}");
        let ca = f.chunks[k].movie.track(TrackKind::Audio).unwrap();
        base += ca
            .samples
            .iter()
            .map(|s| i64::from(s.duration))
            .sum::<i64>();
        assert_eq!(
            e.segment_duration,
            plan.chunks()[k].end - plan.chunks()[k].span_start
        );
    }
}

#[test]
fn changed_avcc_gets_its_own_sample_description() {
    let f = load("faststart");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.mp4");
    let (_, data) = stitch_to(&f.chunks, &opts(2), &out);
    let movie = Movie::parse(&data).unwrap();
    let v = movie.track(TrackKind::Video).unwrap();
    let avcc = |e: &callrec_mp4::SampleEntry| match &e.codec {
        callrec_mp4::Codec::Avc(a) => a.avcc.clone(),
        c => panic!("not avc: {c:?}"),
    };
    let chunk_avcc: Vec<Vec<u8>> = f
        .chunks
        .iter()
        .map(|c| avcc(&c.movie.track(TrackKind::Video).unwrap().entries[0]))
        .collect();
    assert_ne!(
        chunk_avcc[0], chunk_avcc[1],
        "fixture: chunk 1's avcC differs"
    );
    assert_eq!(
        chunk_avcc[0], chunk_avcc[2],
        "fixture: chunk 2's avcC is chunk 0's"
    );
    // Chunk 2's entry differs from chunk 0's in its btrt only: shared.
    assert_eq!(v.entries.len(), 2);
    let mut i = 0;
    for (k, c) in f.chunks.iter().enumerate() {
        let n = c.movie.track(TrackKind::Video).unwrap().samples.len();
        let want = if k == 1 { 2 } else { 1 };
        for s in &v.samples[i..i + n] {
            assert_eq!(s.description_index, want, "chunk {k}");
            assert_eq!(
                avcc(&v.entries[want as usize - 1]),
                chunk_avcc[k],
                "chunk {k}"
            );
        }
        i += n;
    }
    // Audio entries are identical: shared.
    assert_eq!(movie.track(TrackKind::Audio).unwrap().entries.len(), 1);
}

#[test]
fn output_is_identical_for_any_thread_count() {
    for name in ["basic", "fragmented"] {
        let f = load(name);
        let dir = tempfile::tempdir().unwrap();
        let (_, one) = stitch_to(&f.chunks, &opts(1), &dir.path().join("1.mp4"));
        let (_, four) = stitch_to(&f.chunks, &opts(4), &dir.path().join("4.mp4"));
        let (_, pool) = stitch_to(
            &f.chunks,
            &StitchOptions::default(),
            &dir.path().join("pool.mp4"),
        );
        assert!(one == four, "{name}: 1 vs 4 threads");
        assert!(one == pool, "{name}: 1 thread vs the current pool");
    }
}

#[test]
fn mp4_crate_reads_every_output() {
    for name in GOOD {
        let f = load(name);
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.mp4");
        let (_, data) = stitch_to(&f.chunks, &opts(2), &out);
        let ours = Movie::parse(&data).unwrap();
        let size = data.len() as u64;
        let file = std::io::BufReader::new(std::fs::File::open(&out).unwrap());
        let mut r = mp4::Mp4Reader::read_header(file, size)
            .unwrap_or_else(|e| panic!("{name}: mp4 crate: {e}"));
        assert_eq!(r.tracks().len(), ours.tracks.len(), "{name}");
        assert_eq!(r.timescale(), ours.timescale.get());
        for t in &ours.tracks {
            let n = r.sample_count(t.id).unwrap();
            assert_eq!(n as usize, t.samples.len(), "{name}: track {}", t.id);
            // Every sample, read by the mp4 crate through stsc/stco/stsz, matches ours.
            for (k, s) in t.samples.iter().enumerate() {
                let m = r.read_sample(t.id, k as u32 + 1).unwrap().unwrap();
                assert_eq!(
                    &m.bytes[..],
                    &data[s.range().start as usize..s.range().end as usize]
                );
                assert_eq!(m.start_time, s.dts, "{name}: track {} sample {k} dts", t.id);
                assert_eq!(m.duration, s.duration);
                assert_eq!(m.rendering_offset, s.cts_offset);
                assert_eq!(m.is_sync, s.sync);
            }
        }
    }
}

/// symphonia's isomp4 reader opens the output and its AAC decoder decodes every audio packet.
/// Limit: symphonia 0.6 refuses any file with a track of more than one sample entry
/// (`isomp4 (stsd): more than 1 sample entry`, symphonia-format-isomp4 src/atoms/stsd.rs), which
/// the faststart output's video track has by design; there the test asserts that refusal and
/// feeds symphonia's AAC decoder the packets our parser finds instead.
#[test]
fn symphonia_decodes_the_whole_audio_track() {
    for name in GOOD {
        let f = load(name);
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.mp4");
        let (_, data) = stitch_to(&f.chunks, &opts(2), &out);
        let aac_frames: usize = f
            .chunks
            .iter()
            .map(|c| c.movie.track(TrackKind::Audio).unwrap().samples.len())
            .sum();
        let (packets, frames) = match read::symphonia_decode(&out) {
            Ok(r) => r,
            Err(e) if name == "faststart" => {
                assert!(e.contains("more than 1 sample entry"), "{e}");
                read::symphonia_decode_packets(&Movie::parse(&data).unwrap(), &data)
            }
            Err(e) => panic!("{name}: symphonia: {e}"),
        };
        assert_eq!(packets, aac_frames, "{name}: packets");
        assert_eq!(frames, aac_frames as u64 * 1024, "{name}: decoded samples");
    }
}

fn parse_us(s: &str) -> i64 {
    fixtures::iso_to_us(s)
}

/// Chunk k's wall-clock start (µs since recordingStartTime) and its pauses (media offset µs,
/// duration µs).
type ChunkWall = (i64, Vec<(i64, i64)>);

/// Every presented sample of `movie` (a wall-clock stitch of `f`) has its source bytes and
/// composition offset, and is presented at its wall-clock time: its chunk's start plus its time
/// in the chunk plus the chunk's pauses that start at or before it (exact: the pauses are whole
/// ticks). No track has an empty edit but a leading one. Returns (track id, wall time) of every
/// video frame, in the order of its samples.
fn assert_at_wall_time(
    f: &Fixture,
    chunk_wall: &[ChunkWall],
    movie: &Movie,
    data: &[u8],
) -> Vec<(u32, Q)> {
    let mut video = Vec::new();
    let one_ms = Q::new(1, 1000);
    for t in &movie.tracks {
        assert!(
            t.edits.iter().skip(1).all(|e| e.media_time.is_some()),
            "{:?}: no empty edit but a leading one: {:?}",
            t.kind,
            t.edits
        );
        let o = presented(u64::from(movie.timescale.get()), t, &t.edits);
        let mut j = 0;
        for (k, (cs, pauses)) in chunk_wall.iter().enumerate() {
            let p = chunk_presented(f, k, t.kind, 0);
            let src = &f.bytes[k];
            for (s, time) in &p.samples {
                // Media time within the chunk -> wall time since the recording started.
                let mut wall = Q::new(*cs as i128, 1_000_000).add(*time);
                for (at, dur) in pauses {
                    if *time >= Q::new(*at as i128, 1_000_000) {
                        wall = wall.add(Q::new(*dur as i128, 1_000_000));
                    }
                }
                let (os, otime) = &o.samples[j];
                assert_eq!(
                    &data[os.range().start as usize..os.range().end as usize],
                    &src[s.range().start as usize..s.range().end as usize],
                    "{:?}: packet {j} (chunk {k}) bytes",
                    t.kind
                );
                assert_eq!(os.cts_offset, s.cts_offset);
                assert!(
                    otime.sub(wall) <= one_ms && wall.sub(*otime) <= one_ms,
                    "{:?}: chunk {k} sample at {time:?}: presented at {otime:?}, wall {wall:?}",
                    t.kind
                );
                assert_eq!(*otime, wall, "{:?}: chunk {k} sample at {time:?}", t.kind);
                if t.kind == TrackKind::Video {
                    video.push((t.id, wall));
                }
                j += 1;
            }
        }
        assert_eq!(j, o.samples.len());
    }
    video
}

/// The paused recording in wall-clock mode: every presented sample sits at its wall-clock time
/// since recordingStartTime, with its bytes unchanged; the pauses are gaps in the sample
/// timing, not empty edits (ffmpeg ignores empty edits after the first), and the `mp4` crate
/// reads the same timing.
#[test]
fn wall_clock_mode_places_media_at_wall_time() {
    let mut f = load("paused");
    let start = parse_us(f.event["data"]["recordingStartTime"].as_str().unwrap());
    let mut chunk_wall = Vec::new(); // (wall start rel. recording start, pauses (media at, dur))
    let mut prev_end = 0i64;
    let mut total_pause = 0i64;
    for (k, meta) in f.meta.iter().enumerate() {
        let cs = parse_us(meta["chunkStartTime"].as_str().unwrap()) - start;
        let mut empties = Vec::new();
        if cs > prev_end {
            empties.push(callrec_stitch::EmptyEdit {
                at_us: 0,
                duration_us: (cs - prev_end) as u64,
            });
        }
        let mut pauses = Vec::new();
        let mut paused_before = 0i64;
        for p in meta["pauseResumeIntervals"].as_array().unwrap() {
            let wall = parse_us(p["startTime"].as_str().unwrap()) - start - cs;
            let dur = p["duration"].as_f64().unwrap() as i64 * 1000;
            let media_at = wall - paused_before;
            pauses.push((media_at, dur));
            empties.push(callrec_stitch::EmptyEdit {
                at_us: media_at as u64,
                duration_us: dur as u64,
            });
            paused_before += dur;
        }
        total_pause += paused_before;
        prev_end = cs + meta["chunkDuration"].as_f64().unwrap() as i64 * 1000 + paused_before;
        f.chunks[k].empty_edits = empties;
        chunk_wall.push((cs, pauses));
    }
    assert_eq!(total_pause, (7000 + 1500 + 3250) * 1000, "fixture pauses");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("wall.mp4");
    let o = StitchOptions {
        wall_clock: true,
        threads: Some(2),
        ..StitchOptions::default()
    };
    let (plan, data) = stitch_to(&f.chunks, &o, &out);
    assert_eq!(plan.duration_ms(), 15000 + 7000 + 1500 + 3250);
    let movie = Movie::parse(&data).unwrap();
    let expected_us = assert_at_wall_time(&f, &chunk_wall, &movie, &data);
    for t in &movie.tracks {
        let total: u64 = t.edits.iter().map(|e| e.segment_duration).sum();
        assert_eq!(total * 1000 / u64::from(movie.timescale.get()), 26_750);
    }
    // The mp4 crate reads the same decode times and durations; through the video's single
    // edit they put every frame at its wall-clock time.
    let file = std::io::BufReader::new(std::fs::File::open(&out).unwrap());
    let mut r = mp4::Mp4Reader::read_header(file, data.len() as u64).unwrap();
    for t in &movie.tracks {
        for (k, s) in t.samples.iter().enumerate() {
            let m = r.read_sample(t.id, k as u32 + 1).unwrap().unwrap();
            assert_eq!(m.start_time, s.dts, "track {} sample {k} dts", t.id);
            assert_eq!(m.duration, s.duration, "track {} sample {k} duration", t.id);
            assert_eq!(m.rendering_offset, s.cts_offset);
        }
    }
    let v = movie.track(TrackKind::Video).unwrap();
    assert_eq!(
        v.edits.len(),
        1,
        "video: one edit from 0 (no priming, no delay)"
    );
    let media_time = v.edits[0].media_time.unwrap();
    let ts = i128::from(v.timescale.get());
    assert_eq!(expected_us.len(), v.samples.len());
    for (k, (id, wall)) in expected_us.iter().enumerate() {
        let m = r.read_sample(*id, k as u32 + 1).unwrap().unwrap();
        let pts = m.start_time as i128 + i128::from(m.rendering_offset) - i128::from(media_time);
        assert_eq!(Q::new(pts, ts), *wall, "video frame {k} (mp4 crate)");
    }
    // The frame before the first pause (7 s at wall 2 s) is held: the next one is at 9 s.
    let jump = v
        .samples
        .windows(2)
        .find(|w| w[1].dts - w[0].dts > 2048)
        .unwrap();
    assert_eq!(jump[1].dts as i64 - media_time, 9 * 16384);
    // The compact stitch of the same inputs ignores the empty edits: the same bytes as
    // without them.
    let (plan, compact) = stitch_to(&f.chunks, &opts(1), &dir.path().join("compact.mp4"));
    assert_eq!(plan.duration_ms(), 15000);
    let plain: Vec<ChunkInput> = f
        .chunks
        .iter()
        .cloned()
        .map(|mut c| {
            c.empty_edits.clear();
            c
        })
        .collect();
    let (_, without) = stitch_to(&plain, &opts(1), &dir.path().join("plain.mp4"));
    assert!(compact == without, "compact mode ignores empty_edits");
}

#[test]
fn mismatch_is_refused_naming_chunk_and_parameter() {
    let f = load("mismatch");
    let err = Plan::new(&f.chunks, &opts(1)).unwrap_err();
    let msg = err.to_string();
    let name = &f.chunks[1].name;
    assert_eq!(
        msg,
        format!("chunk 1 ({name}): audio sample rate 48000 Hz differs from chunk 0's 16000 Hz")
    );
    assert!(matches!(err, Error::Mismatch { index: 1, .. }));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.mp4");
    let r = callrec_stitch::stitch(&f.chunks, &out, &opts(1), &|_| {});
    assert!(r.is_err());
    assert!(!out.exists());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    f.assert_unchanged();
}

#[test]
fn mismatched_track_count_and_channels_are_refused() {
    let f = load("basic");
    let mut chunks = f.chunks.clone();
    chunks[2].movie.tracks.truncate(1);
    let msg = Plan::new(&chunks, &opts(1)).unwrap_err().to_string();
    assert!(
        msg.starts_with(&format!(
            "chunk 2 ({}): track count 1 differs from chunk 0's 2",
            chunks[2].name
        )),
        "{msg}"
    );
    let mut chunks = f.chunks.clone();
    chunks[1].movie.tracks.reverse(); // audio first: matched by kind, still fine
    Plan::new(&chunks, &opts(1)).unwrap();
    chunks[1].movie.tracks[0].timescale = callrec_mp4::Timescale::new(48000).unwrap();
    let msg = Plan::new(&chunks, &opts(1)).unwrap_err().to_string();
    assert!(
        msg.ends_with("audio timescale 48000 differs from chunk 0's 16000"),
        "{msg}"
    );
    assert!(matches!(Plan::new(&[], &opts(1)), Err(Error::NoChunks)));
}

#[test]
fn failed_writes_leave_no_file_at_the_target() {
    let f = load("basic");
    let dir = tempfile::tempdir().unwrap();
    // Copies of the chunks, so one can be truncated after planning.
    let mut chunks = f.chunks.clone();
    for c in &mut chunks {
        let p = dir.path().join(c.path.file_name().unwrap());
        std::fs::copy(&c.path, &p).unwrap();
        c.path = p;
    }
    let outdir = dir.path().join("out");
    std::fs::create_dir(&outdir).unwrap();
    let out = outdir.join("out.mp4");
    let plan = Plan::new(&chunks, &opts(2)).unwrap();
    let victim = &chunks[1].path;
    let len = std::fs::metadata(victim).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(victim)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    let err = write(&plan, &out, &opts(2), &|_| {}).unwrap_err();
    assert!(
        matches!(err, Error::SourceTruncated { index: 1, .. }),
        "{err}"
    );
    assert!(!out.exists());
    assert_eq!(std::fs::read_dir(&outdir).unwrap().count(), 0);

    // A failure after the copy (the target is a non-empty directory: rename fails): the
    // temporary file is removed and the target left as it was.
    let plan = Plan::new(&f.chunks, &opts(2)).unwrap();
    let blocker = outdir.join("taken.mp4");
    std::fs::create_dir(&blocker).unwrap();
    std::fs::write(blocker.join("keep"), b"x").unwrap();
    let err = write(&plan, &blocker, &opts(2), &|_| {}).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err}");
    assert!(blocker.join("keep").exists());
    let names: Vec<_> = std::fs::read_dir(&outdir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("taken.mp4")]);

    // Writing over an input is refused.
    let err = write(&plan, &f.chunks[0].path.clone(), &opts(1), &|_| {}).unwrap_err();
    assert!(
        matches!(err, Error::OutputIsInput { index: 0, .. }),
        "{err}"
    );
    f.assert_unchanged();
}

#[test]
fn an_existing_target_is_replaced_whole() {
    let f = load("basic");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.mp4");
    std::fs::write(&out, vec![7u8; 10_000_000]).unwrap();
    let (plan, data) = stitch_to(&f.chunks, &opts(2), &out);
    assert_eq!(data.len() as u64, plan.output_len());
    Movie::parse(&data).unwrap();
}

/// B-frames in wall-clock mode: a pause at a GOP boundary (2 s into chunk 0, the start of its
/// second closed GOP) and a gap before chunk 1. The gaps go before the first sample in decode
/// order presented at or after the point, which at a GOP boundary is exact: every frame and
/// audio frame at its wall-clock time, composition offsets unchanged, presentation order kept.
#[test]
fn wall_clock_mode_with_bframes_cuts_at_the_gop() {
    let mut f = load("bframes");
    let v0 = f.chunks[0].movie.track(TrackKind::Video).unwrap();
    assert!(
        v0.samples[16].sync && v0.samples.iter().any(|s| s.cts_offset != 2 * 2048),
        "fixture: keyframe at 2 s, B-frames"
    );
    f.chunks[0].empty_edits = vec![callrec_stitch::EmptyEdit {
        at_us: 2_000_000,
        duration_us: 3_000_000,
    }];
    f.chunks[1].empty_edits = vec![callrec_stitch::EmptyEdit {
        at_us: 0,
        duration_us: 500_000,
    }];
    let chunk_wall: Vec<ChunkWall> = vec![
        (0, vec![(2_000_000, 3_000_000)]),
        (8_500_000, Vec::new()),
        (12_500_000, Vec::new()),
    ];
    let o = StitchOptions {
        wall_clock: true,
        threads: Some(1),
        ..StitchOptions::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let (plan, data) = stitch_to(&f.chunks, &o, &dir.path().join("wall.mp4"));
    assert_eq!(plan.duration_ms(), 18_500);
    let starts: Vec<u64> = plan.chunks().iter().map(|p| p.start_us).collect();
    assert_eq!(starts, vec![0, 8_500_000, 12_500_000]);
    assert_eq!(
        plan.chunks()[1].span_start_us,
        8_000_000,
        "gap in chunk 1's span"
    );
    let movie = Movie::parse(&data).unwrap();
    // Each frame at its wall time, a monotonic function of its time in its chunk: the
    // presentation order is kept too.
    let frames = assert_at_wall_time(&f, &chunk_wall, &movie, &data);
    assert_eq!(frames.len(), 40 + 32 + 48);
    let v = movie.track(TrackKind::Video).unwrap();
    assert_eq!(v.edits.len(), 1, "{:?}", v.edits);
}
