//! Unit tests of [`Plan::new`] on synthetic chunks.

use super::*;
use crate::EmptyEdit;
use callrec_mp4::{Codec, FourCc, Movie, ParseOptions, Sample, SampleEntry, Timescale, Track};

fn entry(kind: TrackKind) -> SampleEntry {
    // A code the parser keeps as unknown (a real avc1/mp4a needs its whole configuration).
    let fourcc = FourCc(if kind == TrackKind::Video {
        *b"vtst"
    } else {
        *b"atst"
    });
    let mut raw = vec![0, 0, 0, 36];
    raw.extend_from_slice(&fourcc.0);
    raw.resize(36, 0);
    SampleEntry {
        fourcc,
        raw,
        codec: Codec::Unknown(fourcc),
    }
}

/// A track of `n` samples of `size` bytes and `dur` ticks, laid out from `offset`.
fn track(id: u32, kind: TrackKind, ts: u32, n: usize, size: u32, dur: u32, offset: u64) -> Track {
    Track {
        id,
        kind,
        timescale: Timescale::new(ts).unwrap(),
        media_duration: n as u64 * u64::from(dur),
        language: 0,
        edits: Vec::new(),
        entries: vec![entry(kind)],
        samples: (0..n)
            .map(|k| Sample {
                offset: offset + k as u64 * u64::from(size),
                size,
                dts: k as u64 * u64::from(dur),
                cts_offset: 0,
                duration: dur,
                sync: k == 0,
                description_index: 1,
            })
            .collect(),
        tkhd_width: 0,
        tkhd_height: 0,
        volume: 0,
    }
}

fn chunk(index: u32, tracks: Vec<Track>) -> ChunkInput {
    ChunkInput {
        index,
        name: format!("c{index}"),
        path: PathBuf::from(format!("/nonexistent/c{index}.mp4")),
        movie: Movie {
            timescale: Timescale::new(1000).unwrap(),
            duration: 0,
            tracks,
            fragmented: false,
            major_brand: None,
            moov: 0..0,
            mdats: Vec::new(),
            truncated_tail: None,
        },
        empty_edits: Vec::new(),
        wall_start_us: None,
    }
}

fn parse_header(plan: &Plan) -> Movie {
    Movie::parse_with(
        plan.header(),
        ParseOptions {
            allow_truncated_tail: true,
        },
    )
    .unwrap()
}

/// Past 4 GiB the chunk offsets go to co64 and the mdat header to its 64-bit form, and every
/// sample's offset in the header matches where the copy plan puts it.
#[test]
fn co64_and_64_bit_mdat_once_the_output_passes_4_gib() {
    const BIG: u32 = 3 << 29; // 1.5 GiB
    let mk = |n: u32| -> Vec<ChunkInput> {
        (0..n)
            .map(|i| chunk(i, vec![track(1, TrackKind::Video, 16384, 1, BIG, 2048, 48)]))
            .collect()
    };
    // 2 chunks: 3 GiB of samples: 32-bit everything.
    let plan = Plan::new(&mk(2), &StitchOptions::default()).unwrap();
    assert!(!plan.mdat_64());
    assert!(!plan.tracks()[0].co64);
    let h = plan.header();
    assert_eq!(&h[h.len() - 4..], b"mdat");
    assert_eq!(
        u32::from_be_bytes(h[h.len() - 8..h.len() - 4].try_into().unwrap()) as u64,
        8 + 2 * u64::from(BIG)
    );
    // 4 chunks: 6 GiB, the last sample starts past 4 GiB.
    let plan = Plan::new(&mk(4), &StitchOptions::default()).unwrap();
    assert!(plan.mdat_64());
    assert!(plan.tracks()[0].co64);
    let h = plan.header();
    assert_eq!(
        &h[h.len() - 16..h.len() - 8],
        &[0, 0, 0, 1, b'm', b'd', b'a', b't']
    );
    let large = u64::from_be_bytes(h[h.len() - 8..].try_into().unwrap());
    assert_eq!(large, 16 + 4 * u64::from(BIG));
    assert_eq!(plan.output_len(), h.len() as u64 + 4 * u64::from(BIG));
    let m = parse_header(&plan);
    let offsets: Vec<u64> = m.tracks[0].samples.iter().map(|s| s.offset).collect();
    let copies: Vec<u64> = plan.copies().iter().map(|c| c.dst_offset).collect();
    assert_eq!(offsets, copies);
    assert_eq!(offsets[0], h.len() as u64);
    assert!(offsets[3] > u64::from(u32::MAX));
    assert!(plan
        .copies()
        .iter()
        .all(|c| c.src_offset == 48 && c.len == u64::from(BIG)));
}

/// Adjacent samples of one file become one copy and one output chunk per run; a gap in the
/// source (a moof between fragments) starts a new copy range.
#[test]
fn copies_merge_adjacent_ranges() {
    let mut v = track(1, TrackKind::Video, 16384, 4, 100, 2048, 1000);
    v.samples[2].offset = 2000; // gap after sample 1
    v.samples[3].offset = 2100;
    let a = track(2, TrackKind::Audio, 16000, 2, 50, 1024, 1200); // right after video 0..1
    let c = chunk(0, vec![v, a]);
    let plan = Plan::new(&[c], &StitchOptions::default()).unwrap();
    let cs: Vec<(u64, u64)> = plan
        .copies()
        .iter()
        .map(|c| (c.src_offset, c.len))
        .collect();
    assert_eq!(cs, vec![(1000, 300), (2000, 200)]);
    let m = parse_header(&plan);
    let base = plan.header().len() as u64;
    let vo: Vec<u64> = m.tracks[0]
        .samples
        .iter()
        .map(|s| s.offset - base)
        .collect();
    let ao: Vec<u64> = m.tracks[1]
        .samples
        .iter()
        .map(|s| s.offset - base)
        .collect();
    assert_eq!(vo, vec![0, 100, 300, 400]);
    assert_eq!(ao, vec![200, 250]);
    assert_eq!(plan.tracks()[0].runs, 2);
    assert_eq!(plan.tracks()[1].runs, 1);
}

/// A chunk whose audio is shorter than its video (compact mode): the audio's last sample of
/// the chunk lasts longer, so both tracks start the next chunk together, with no empty edit
/// (ffmpeg ignores one after a media edit).
#[test]
fn shorter_track_is_padded_to_the_chunk_span() {
    let c0 = chunk(
        0,
        vec![
            track(1, TrackKind::Video, 16384, 8, 10, 2048, 0), // 1 s
            track(2, TrackKind::Audio, 16000, 15, 10, 1024, 80), // 0.96 s
        ],
    );
    let c1 = chunk(
        1,
        vec![
            track(1, TrackKind::Video, 16384, 8, 10, 2048, 0),
            track(2, TrackKind::Audio, 16000, 15, 10, 1024, 80),
        ],
    );
    let plan = Plan::new(&[c0, c1], &StitchOptions::default()).unwrap();
    assert_eq!(plan.timescale(), 1000);
    let a = &plan.tracks()[1];
    let e: Vec<(u64, Option<i64>)> = a
        .edits
        .iter()
        .map(|e| (e.segment_duration, e.media_time))
        .collect();
    // 40 ms of padding = 640 ticks in chunk 0's last audio sample; chunk 1 continues it.
    assert_eq!(e, vec![(1960, Some(0))]);
    let m = parse_header(&plan);
    let d = durations(&m, 1);
    assert_eq!(d[14], 1024 + 640);
    assert!(d.iter().enumerate().all(|(k, d)| k == 14 || *d == 1024));
    assert_eq!(m.tracks[1].samples[15].dts, 16000, "chunk 1's audio at 1 s");
    assert_eq!(durations(&m, 0), vec![2048; 16], "video untouched");
    let v = &plan.tracks()[0];
    assert_eq!(v.edits.len(), 1);
    assert_eq!(v.edits[0].segment_duration, 2000);
    assert_eq!(plan.chunks()[1].span_start, 1000);
    assert_eq!(plan.chunks()[1].start_us, 1_000_000);
    assert_eq!(plan.duration(), 2000);
}

/// An edit-less (fragmented) chunk whose video has B-frames: only the audio loses its 1024
/// priming samples; the video presents from its first composition time with every frame.
#[test]
fn edit_less_bframe_video_keeps_its_first_frame() {
    let mut v = track(1, TrackKind::Video, 16384, 16, 10, 2048, 0); // 2 s
    for (k, s) in v.samples.iter_mut().enumerate() {
        // Two frames of reorder delay: every pts is at least 4096 past its dts.
        s.cts_offset = if k % 3 == 0 { 4096 } else { 2048 * 3 };
    }
    v.samples[0].cts_offset = 4096;
    let mut a = track(2, TrackKind::Audio, 16000, 33, 10, 1024, 160);
    a.entries[0].codec = Codec::Aac(callrec_mp4::AacConfig {
        object_type: 2,
        sample_rate: 16000,
        channels: 1,
        entry_sample_rate: 16000,
        entry_channels: 1,
        asc: vec![0x14, 0x08],
    });
    let c0 = chunk(0, vec![v, a]);
    let plan = Plan::new(&[c0], &StitchOptions::default()).unwrap();
    let video = &plan.tracks()[0];
    // Presented from pts 4096 (the composition delay), 2 s of frames: nothing cut. Its
    // timestamps put it 250 - 64 ms after the audio's content (the audio's first frame is
    // not stretched here, as ffmpeg's would be): it waits that long.
    assert_eq!(video.edits.len(), 2, "{:?}", video.edits);
    assert_eq!(video.edits[0].media_time, None);
    assert_eq!(video.edits[1].media_time, Some(4096));
    let ts = u64::from(plan.timescale());
    assert_eq!(video.edits[0].segment_duration * 1000, 186 * ts);
    assert_eq!(video.edits[1].segment_duration, 2 * ts);
    let audio = &plan.tracks()[1];
    assert_eq!(
        audio.edits[0].media_time,
        Some(1024),
        "audio skips its priming"
    );
}

fn wall() -> StitchOptions {
    StitchOptions {
        wall_clock: true,
        ..StitchOptions::default()
    }
}

fn edits(plan: &Plan, i: usize) -> Vec<(u64, Option<i64>)> {
    plan.tracks()[i]
        .edits
        .iter()
        .map(|e| (e.segment_duration, e.media_time))
        .collect()
}

fn durations(m: &Movie, i: usize) -> Vec<u32> {
    m.tracks[i].samples.iter().map(|s| s.duration).collect()
}

/// Reproduces the facade sweep's fragmented chunk with flipped `tfdt` bytes: a decode time
/// 2^63 ticks after the first one overflows the presentation time, and the error must name
/// the chunk and track, not only say "overflow".
#[test]
fn a_decode_time_jump_past_i64_is_refused_naming_chunk_and_track() {
    let mut t = track(2, TrackKind::Audio, 16000, 10, 10, 1024, 0);
    t.samples[5].dts = 1 << 63;
    let c = chunk(4, vec![t]);
    let err = Plan::new(std::slice::from_ref(&c), &StitchOptions::default()).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::Unsupported { index: 4, .. }), "{msg}");
    assert!(
        msg.contains("chunk 4 (c4)") && msg.contains("audio track 2"),
        "{msg}"
    );
}

/// Reproduces the facade sweep's chunk 2 with `chunkStartTime` in year 9999: the gap
/// before it is held by chunk 1's last sample, but the error names chunk 2, whose start
/// time it is.
#[test]
fn a_gap_before_a_chunk_too_long_for_a_sample_names_that_chunk_not_the_one_before() {
    let a = |i| chunk(i, vec![track(1, TrackKind::Audio, 16000, 10, 10, 1600, 0)]);
    let mut cs = vec![a(0), a(1), a(2)];
    cs[2].empty_edits = vec![EmptyEdit {
        at_us: 0,
        duration_us: 300_000_000_000,
    }];
    let err = Plan::new(&cs, &wall()).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::Unsupported { index: 2, .. }), "{msg}");
    assert!(
        msg.contains("chunk 2 (c2)") && msg.contains("300000 s"),
        "{msg}"
    );
}

/// Reproduces the facade sweep's pause of 9e12 ms (285 years) in wall-clock mode: the gap
/// does not fit a 32-bit sample duration, and the error must name the chunk and track, not
/// only say "overflow".
#[test]
fn a_pause_longer_than_a_sample_duration_can_hold_is_refused_naming_chunk_and_track() {
    let mut c = chunk(3, vec![track(1, TrackKind::Audio, 16000, 10, 10, 1600, 0)]);
    c.empty_edits = vec![EmptyEdit {
        at_us: 250_000,
        // u32::MAX ticks at 16 kHz is 268435 s: one more second does not fit.
        duration_us: 268_436_000_000,
    }];
    let err = Plan::new(std::slice::from_ref(&c), &wall()).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::Unsupported { index: 3, .. }), "{msg}");
    assert!(
        msg.contains("chunk 3 (c3)") && msg.contains("track 1"),
        "{msg}"
    );
    // Just under the limit, it stitches.
    c.empty_edits[0].duration_us = 268_000_000_000;
    Plan::new(std::slice::from_ref(&c), &wall()).unwrap();
}

/// Pauses become timestamp gaps: the sample presented before the pause lasts longer, the
/// edit covers the gap; a pause at the first chunk's start stays a leading empty edit.
#[test]
fn pauses_lengthen_the_sample_before_them() {
    let mut c = chunk(0, vec![track(1, TrackKind::Audio, 16000, 10, 10, 1600, 0)]); // 1 s
    c.empty_edits = vec![
        EmptyEdit {
            at_us: 250_000, // inside sample 2 (200..300 ms): it is held, sample 3 moves
            duration_us: 2_000_000,
        },
        EmptyEdit {
            at_us: 0,
            duration_us: 500_000,
        },
        EmptyEdit {
            at_us: 5_000_000, // past the end: after the last sample
            duration_us: 1_000,
        },
    ];
    let plan = Plan::new(std::slice::from_ref(&c), &wall()).unwrap();
    assert_eq!(edits(&plan, 0), vec![(500, None), (3001, Some(0))]);
    let m = parse_header(&plan);
    let mut want = vec![1600; 10];
    want[2] += 32000;
    want[9] += 16;
    assert_eq!(durations(&m, 0), want);
    let dts: Vec<u64> = m.tracks[0].samples.iter().map(|s| s.dts).collect();
    assert_eq!(dts[3], 3 * 1600 + 32000);
    assert_eq!(plan.chunks()[0].span_start, 0);
    assert_eq!(plan.chunks()[0].start, 500);
    assert_eq!(plan.duration(), 3501);
    // Compact mode ignores them: same bytes as without any.
    let compact = Plan::new(std::slice::from_ref(&c), &StitchOptions::default()).unwrap();
    c.empty_edits.clear();
    let plain = Plan::new(&[c], &StitchOptions::default()).unwrap();
    assert_eq!(compact.header(), plain.header());
}

/// The gap before chunk 1, and a pause at its start, lengthen chunk 0's last sample; a
/// track shorter than its chunk is padded the same way. No empty edit in the middle.
#[test]
fn gaps_between_chunks_lengthen_the_previous_chunks_last_sample() {
    let mk = |index: u32| {
        chunk(
            index,
            vec![
                track(1, TrackKind::Video, 16384, 8, 10, 2048, 0), // 1 s
                track(2, TrackKind::Audio, 16000, 15, 10, 1024, 80), // 0.96 s
            ],
        )
    };
    let mut c1 = mk(1);
    c1.empty_edits = vec![
        EmptyEdit {
            at_us: 0,
            duration_us: 250_000,
        },
        EmptyEdit {
            at_us: 0,
            duration_us: 125_000,
        },
    ];
    let plan = Plan::new(&[mk(0), c1], &wall()).unwrap();
    assert_eq!(edits(&plan, 0), vec![(2375, Some(0))]);
    // Audio: chunk 0 padded by 40 ms plus the 375 ms gap, all in its last sample, so
    // chunk 1's media continues the edit exactly: one edit.
    assert_eq!(edits(&plan, 1), vec![(2335, Some(0))]);
    let m = parse_header(&plan);
    let v = durations(&m, 0);
    assert_eq!(v[7], 2048 + 6144);
    assert!(v.iter().enumerate().all(|(k, d)| k == 7 || *d == 2048));
    let a = durations(&m, 1);
    assert_eq!(a[14], 1024 + 640 + 6000);
    let p = &plan.chunks()[1];
    assert_eq!((p.span_start, p.start, p.end), (1000, 1375, 2375));
}

/// Gaps that are not whole ticks: each is rounded so that the running total stays the
/// rounded exact total (no drift), on every track.
#[test]
fn gaps_round_with_a_carried_remainder() {
    let mut c = chunk(
        0,
        vec![
            track(1, TrackKind::Video, 16384, 8, 10, 2048, 0),
            track(2, TrackKind::Audio, 44100, 10, 10, 4410, 80),
        ],
    );
    // Three pauses of 1.001 ms at 100, 300, 500 ms.
    c.empty_edits = [100_000, 300_000, 500_000]
        .iter()
        .map(|&at_us| EmptyEdit {
            at_us,
            duration_us: 1_001,
        })
        .collect();
    let plan = Plan::new(std::slice::from_ref(&c), &wall()).unwrap();
    let m = parse_header(&plan);
    // Video: 1.001 ms = 16.400384 ticks; running totals 16.4, 32.8, 49.2 round to 16, 33, 49.
    let v = durations(&m, 0);
    let extra: Vec<u32> = v.iter().map(|d| d - 2048).filter(|d| *d > 0).collect();
    assert_eq!(extra, vec![16, 17, 16]);
    // Audio: 44.1441 ticks; totals 44.1, 88.3, 132.4 round to 44, 88, 132.
    let a = durations(&m, 1);
    let extra: Vec<u32> = a.iter().map(|d| d - 4410).filter(|d| *d > 0).collect();
    assert_eq!(extra, vec![44, 44, 44]);
}

/// With B-frames the gap goes after the last sample in decode order that is presented
/// before the pause; a sample decoded before that but presented after the pause keeps its
/// decode time and gets a composition offset larger by the gap, so every frame is presented
/// on its side of the pause and the composition offsets stay positive.
#[test]
fn bframe_pause_splits_in_decode_order() {
    // Decode order I0 P3 B1 B2 P6 B4 B5 (frames of 100 ticks), presented two frames late.
    let mut v = track(1, TrackKind::Video, 1000, 7, 10, 100, 0);
    for (s, pts) in v.samples.iter_mut().zip([2, 5, 3, 4, 8, 6, 7]) {
        s.cts_offset = pts * 100 - s.dts as i32;
    }
    v.edits = vec![Edit {
        segment_duration: 700,
        media_time: Some(200),
        media_rate_integer: 1,
        media_rate_fraction: 0,
    }];
    let mut c = chunk(0, vec![v]);
    // At 250 ms of presentation = media 450, inside B2 (400..500): B2, decoded fourth, is
    // the last one presented before it and is held; P3 (500), decoded second, is presented
    // after the pause.
    c.empty_edits = vec![EmptyEdit {
        at_us: 250_000,
        duration_us: 1_000_000,
    }];
    let plan = Plan::new(std::slice::from_ref(&c), &wall()).unwrap();
    let m = parse_header(&plan);
    assert_eq!(durations(&m, 0), vec![100, 100, 100, 1100, 100, 100, 100]);
    let pts: Vec<i64> = m.tracks[0].samples.iter().map(|s| s.pts()).collect();
    assert_eq!(pts, vec![200, 1500, 300, 400, 1800, 1600, 1700]);
    assert!(m.tracks[0].samples.iter().all(|s| s.cts_offset >= 0));
    assert_eq!(edits(&plan, 0), vec![(1700, Some(200))]);
}

/// 29.97 fps video at 30000 and 44.1 kHz audio: the movie timescale makes every edit exact.
#[test]
fn movie_timescale_makes_edits_exact() {
    let c = chunk(
        0,
        vec![
            track(1, TrackKind::Video, 30000, 7, 10, 1001, 0),
            track(2, TrackKind::Audio, 44100, 5, 10, 1024, 70),
        ],
    );
    let plan = Plan::new(&[c.clone(), c], &StitchOptions::default()).unwrap();
    assert!(plan.exact());
    let ts = u64::from(plan.timescale());
    // 7007/30000 s and 5120/44100 s both whole in the movie timescale; the video's two
    // chunks continue each other: one edit.
    assert_eq!(plan.tracks()[0].edits.len(), 1);
    assert_eq!(
        plan.tracks()[0].edits[0].segment_duration * 30000,
        2 * 7007 * ts
    );
    assert_eq!(plan.chunks()[1].span_start * 30000, 7007 * ts);
    // Audio padded to the video's longer span in its last sample of chunk 0:
    // 7007/30000 s - 5120/44100 s = 5180.29 audio ticks, rounded to 5180; chunk 1's audio
    // media continues the edit: one edit of 5120 + 5180 + 5120 ticks.
    let a = &plan.tracks()[1].edits;
    assert_eq!(a.len(), 1, "{a:?}");
    assert_eq!(a[0].segment_duration * 44100, (2 * 5120 + 5180) * ts);
    let m = parse_header(&plan);
    assert_eq!(durations(&m, 1)[4], 1024 + 5180);
}

/// Timescales with no common 32-bit multiple: edits are rounded (documented), chunk starts
/// still agree across tracks, and each track keeps one edit.
#[test]
fn timescale_fallback_rounds() {
    let c = chunk(
        0,
        vec![
            track(1, TrackKind::Video, 65521, 3, 10, 1001, 0),
            track(2, TrackKind::Audio, 65519, 3, 10, 999, 30),
        ],
    );
    let plan = Plan::new(&[c.clone(), c], &StitchOptions::default()).unwrap();
    assert!(!plan.exact());
    assert_eq!(plan.timescale(), 65521);
    let v = &plan.tracks()[0];
    assert_eq!(v.edits[0].segment_duration, 6006);
    assert_eq!(plan.chunks()[1].span_start, 3003);
    // Audio: its last sample of chunk 0 lasts until chunk 1's start, 3003/65521 s (3002.9
    // ticks of 65519, rounded to 3003: 6 more than the sample's 999); the edit ends after
    // chunk 1's 2997 ticks: 6000 of 65519 = 6000.2 of 65521, rounded.
    assert_eq!(edits(&plan, 1), vec![(6000, Some(0))]);
    let m = parse_header(&plan);
    assert_eq!(durations(&m, 1), vec![999, 999, 999 + 6, 999, 999, 999]);
}

fn edit(segment_duration: u64, media_time: Option<i64>) -> Edit {
    Edit {
        segment_duration,
        media_time,
        media_rate_integer: 1,
        media_rate_fraction: 0,
    }
}

/// A chunk's own empty edit (a delayed track): before the first chunk's media it stays a
/// leading empty edit; at a later chunk's start it lengthens the previous chunk's last
/// sample of the track (ffmpeg ignores an empty edit after a media edit).
#[test]
fn chunk_leading_empty_edits_become_timestamp_gaps() {
    let mut v = track(1, TrackKind::Video, 1000, 10, 10, 100, 0); // 1 s of media
    v.edits = vec![edit(1000, None), edit(1000, Some(0))];
    let a = track(2, TrackKind::Audio, 1000, 20, 10, 100, 100); // 2 s
    let c = chunk(0, vec![v, a]);
    for opts in [StitchOptions::default(), wall()] {
        let plan = Plan::new(&[c.clone(), c.clone()], &opts).unwrap();
        // Chunk 0: 1 s empty, 1 s of video; chunk 1's 1 s empty is the last frame of chunk
        // 0 held 1 s longer, so chunk 1's video (media 2000) continues the edit.
        assert_eq!(edits(&plan, 0), vec![(1000, None), (3000, Some(0))]);
        let m = parse_header(&plan);
        let mut want = vec![100; 20];
        want[9] += 1000;
        assert_eq!(durations(&m, 0), want);
        assert_eq!(m.tracks[0].samples[10].dts, 2000, "chunk 1's video at 3 s");
        assert_eq!(plan.chunks()[1].span_start, 2000);
        assert_eq!(
            plan.chunks()[1].start,
            2000,
            "audio presents from the chunk's start"
        );
        assert_eq!(plan.chunks()[0].start, 0);
        assert_eq!(edits(&plan, 1), vec![(4000, Some(0))], "audio: one edit");
        assert_eq!(plan.duration(), 4000);
    }
    // Video alone: each chunk starts with 1 s of nothing.
    let mut v = track(1, TrackKind::Video, 1000, 10, 10, 100, 0);
    v.edits = vec![edit(1000, None), edit(1000, Some(0))];
    let c = chunk(0, vec![v]);
    let plan = Plan::new(&[c.clone(), c], &StitchOptions::default()).unwrap();
    assert_eq!(edits(&plan, 0), vec![(1000, None), (3000, Some(0))]);
    let starts: Vec<u64> = plan.chunks().iter().map(|p| p.start).collect();
    assert_eq!(starts, vec![1000, 3000]);
}

/// An empty edit between two media edits of a chunk, and a wall-clock pause inside it: both
/// lengthen the sample before them.
#[test]
fn chunk_inner_empty_edit_becomes_a_timestamp_gap() {
    let mut a = track(1, TrackKind::Audio, 1000, 10, 10, 100, 0); // 1 s
    a.edits = vec![
        edit(450, Some(0)), // up to inside sample 4 (400..500): it plays whole
        edit(300, None),
        edit(550, Some(450)),
    ];
    let mut c = chunk(0, vec![a]);
    let plan = Plan::new(std::slice::from_ref(&c), &StitchOptions::default()).unwrap();
    let m = parse_header(&plan);
    assert_eq!(edits(&plan, 0), vec![(1300, Some(0))]);
    let mut want = vec![100; 10];
    want[4] += 300;
    assert_eq!(durations(&m, 0), want);
    // Wall clock: a 200 ms pause at 600 ms of media (the empty edit does not count), at the
    // boundary of samples 5 and 6: sample 5 is held.
    c.empty_edits = vec![EmptyEdit {
        at_us: 600_000,
        duration_us: 200_000,
    }];
    let plan = Plan::new(&[c], &wall()).unwrap();
    assert_eq!(edits(&plan, 0), vec![(1500, Some(0))]);
    let m = parse_header(&plan);
    want[5] += 200;
    assert_eq!(durations(&m, 0), want);
    assert_eq!(plan.duration(), 1500);
}

#[test]
fn bad_inputs_are_errors_not_panics() {
    let mut t = track(1, TrackKind::Video, 1000, 3, 10, 10, 0);
    t.samples[2].dts = 5; // goes backwards
    let e = Plan::new(&[chunk(0, vec![t])], &StitchOptions::default()).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("chunk 0 (c0): video track 1: decode time"),
        "{e}"
    );
    let mut t = track(1, TrackKind::Video, 1000, 3, 10, 10, 0);
    t.samples[1].description_index = 7;
    let e = Plan::new(&[chunk(0, vec![t])], &StitchOptions::default()).unwrap_err();
    assert!(e.to_string().contains("sample description 7"), "{e}");
    let mut t = track(1, TrackKind::Video, 1000, 3, 10, 10, 0);
    t.edits = vec![Edit {
        segment_duration: 10,
        media_time: Some(0),
        media_rate_integer: 2,
        media_rate_fraction: 0,
    }];
    let e = Plan::new(&[chunk(0, vec![t])], &StitchOptions::default()).unwrap_err();
    assert!(e.to_string().contains("media rate"), "{e}");
    let mut t = track(1, TrackKind::Video, 1000, 3, 10, 10, 0);
    t.entries.clear();
    let e = Plan::new(&[chunk(0, vec![t])], &StitchOptions::default()).unwrap_err();
    assert!(e.to_string().contains("no sample description"), "{e}");
}

/// More samples than a plan takes (70,000 chunks of a 4 s recording are 6.7 million): a clear
/// error before any per-sample work, not gigabytes of tables.
#[test]
fn too_many_samples_are_refused_with_a_clear_message() {
    let n = MAX_SAMPLES / 2 + 1;
    let c = |i| chunk(i, vec![track(1, TrackKind::Audio, 16000, n, 1, 1024, 0)]);
    let err = Plan::new(&[c(0), c(1)], &StitchOptions::default()).unwrap_err();
    assert!(
        matches!(err, Error::TooLarge { samples, .. } if samples == 2 * n),
        "{err}"
    );
    assert!(err.to_string().contains("stitch it in parts"), "{err}");
}

/// Video at 65521 in one chunk and 65519 in the next: their least common multiple,
/// 4,292,870,399, fits in 32 bits but not in the signed 32 bits ffmpeg reads a timescale as,
/// so the track takes the larger (rounded), and so does the movie.
#[test]
fn track_timescales_stay_within_signed_32_bits() {
    let a = chunk(0, vec![track(1, TrackKind::Video, 65521, 3, 10, 8190, 0)]);
    let b = chunk(1, vec![track(1, TrackKind::Video, 65519, 3, 10, 8190, 0)]);
    let plan = Plan::new(&[a, b], &StitchOptions::default()).unwrap();
    assert_eq!(plan.tracks()[0].timescale, 65521);
    assert!(plan.timescale() <= i32::MAX as u32, "{}", plan.timescale());
    let m = parse_header(&plan);
    assert_eq!(m.tracks[0].timescale.get(), 65521);
    assert_eq!(plan.rescaled().len(), 1, "chunk 1 is converted");
}

/// A recording of `testdata/recordings`, its chunks in index order (the event's).
fn fixture(name: &str) -> Vec<ChunkInput> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/recordings")
        .join(name);
    let ev: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("event.json")).unwrap()).unwrap();
    let ev = if ev.is_array() { ev[0].clone() } else { ev };
    let mut list: Vec<(u64, String)> = ev["data"]["recordingStorageInfo"]["recordingChunks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["index"].as_u64().unwrap(), c["documentId"].to_string()))
        .collect();
    list.sort();
    list.into_iter()
        .map(|(index, id)| {
            let id = id.trim_matches('"').to_string();
            let path = dir.join(format!("{id}.mp4"));
            ChunkInput {
                index: index as u32,
                name: id,
                movie: Movie::parse(&std::fs::read(&path).unwrap()).unwrap(),
                path,
                empty_edits: Vec::new(),
                wall_start_us: None,
            }
        })
        .collect()
}

/// What the master audio track keeps of each chunk: per chunk, its source frames in output
/// order, and the silent frames inserted before its first one.
struct Kept {
    frames: Vec<Vec<usize>>,
    silent_before: Vec<usize>,
    timing: timing::Timing,
    windows: Vec<Vec<Window>>,
    /// The master's output track.
    a: usize,
}

fn kept(chunks: &[ChunkInput], wall_clock: bool, trim: bool) -> Kept {
    let maps = matched(&chunks[0], chunks).unwrap();
    let windows = presentations(chunks, &maps).unwrap();
    let timing = timing::time(chunks, &maps, &windows, timing::Mode { wall_clock, trim }).unwrap();
    let a = (0..maps[0].len())
        .find(|&i| chunks[0].movie.tracks[maps[0][i]].kind == TrackKind::Audio)
        .unwrap();
    let mut frames = vec![Vec::new(); chunks.len()];
    let mut silent_before = vec![0; chunks.len()];
    for s in &timing.tracks[a].samples {
        match s.src {
            timing::Src::Sample(j) => frames[s.chunk].push(j),
            timing::Src::Silence { .. } if frames[s.chunk].is_empty() => {
                silent_before[s.chunk] += 1
            }
            timing::Src::Silence { .. } => {}
        }
    }
    Kept {
        frames,
        silent_before,
        timing,
        windows,
        a,
    }
}

/// Chunk `k`'s span, as the planner takes it: its longest track presentation, the leading
/// empty time included.
fn span(chunks: &[ChunkInput], windows: &[Vec<Window>], k: usize) -> Q {
    let maps = matched(&chunks[0], chunks).unwrap();
    (0..maps[k].len())
        .map(|i| (&chunks[k].movie.tracks[maps[k][i]], &windows[k][i]))
        .filter(|(t, _)| !t.samples.is_empty())
        .map(|(t, w)| w.lead + w.media(t.timescale.get()))
        .max()
        .unwrap()
}

/// Reproduces the `--trim-joins` / `--wall-clock` beep 31 ms late after a join (issue #12):
/// an AAC frame decodes right only after the frame before it, so the frame before a chunk's
/// first content frame (its pre-roll; with ffmpeg's 1024 samples of priming, the chunk's
/// first frame) must stay, and the join drops the previous chunk's last frames instead. Every
/// fixture, both modes: each chunk's first kept frame is all priming or the chunk's first
/// frame; and in trim mode each chunk still starts within half a frame of the sum of the
/// earlier chunks' spans.
#[test]
fn trimmed_joins_keep_the_pre_roll_of_each_chunks_first_content_frame() {
    for name in [
        "basic",
        "bframes",
        "empty_edit",
        "faststart",
        "fragmented",
        "fragmented_bframes",
        "mixed_timescale",
        "paused",
        "paused_bframes",
    ] {
        let chunks = fixture(name);
        let maps = matched(&chunks[0], &chunks).unwrap();
        for (wall_clock, trim) in [(false, true), (true, false)] {
            let k = kept(&chunks, wall_clock, trim);
            let mut target = Q::default();
            for (c, frames) in k.frames.iter().enumerate() {
                let t = &chunks[c].movie.tracks[maps[c][k.a]];
                let first = frames[0];
                let end = i64::try_from(t.samples[first].dts - t.samples[0].dts).unwrap()
                    + i64::from(t.samples[first].duration);
                assert!(
                    first == 0 || end <= k.windows[c][k.a].start,
                    "{name} (wall clock {wall_clock}): chunk {c} starts at its frame {first}: \
                     its first content frame's pre-roll, frame {}, was dropped",
                    first - 1
                );
                let off = k.timing.places[c].origin - target;
                assert!(
                    wall_clock || (off >= -Q::new(512, 16000) && off <= Q::new(512, 16000)),
                    "{name}: chunk {c} starts {off} s off its target"
                );
                target += span(&chunks, &k.windows, c);
            }
        }
    }
}

/// Reproduces the wall-clock join that dropped a chunk's pre-roll frame and then inserted a
/// silent frame in its place (the sync recording's chunk 3: chunk 2's video lasts 2750 ms, its
/// audio and `chunkDuration` 2700 ms, so chunk 3's wall-clock start is 50 ms before chunk 2's
/// video ends). The basic fixture, its first chunk's audio edit 50 ms shorter than its video
/// and the chunks' wall-clock starts after their audio: the join drops chunk 0's frame of end
/// padding and its frame partly content, no more (chunk 1 may not start more than half a frame
/// before chunk 0's video ends), keeps chunk 1's pre-roll frame and inserts no silence.
#[test]
fn wall_clock_join_keeps_the_pre_roll_instead_of_dropping_it_for_silence() {
    let mut chunks = fixture("basic");
    let audio = chunks[0]
        .movie
        .tracks
        .iter_mut()
        .find(|t| t.kind == TrackKind::Audio)
        .unwrap();
    assert_eq!(audio.edits, vec![edit(5000, Some(1024))]);
    audio.edits = vec![edit(4950, Some(1024))];
    for (c, us) in chunks.iter_mut().zip([0, 4_950_000, 8_950_000]) {
        c.wall_start_us = Some(us);
    }
    let k = kept(&chunks, true, false);
    let n0 = chunks[0].movie.tracks[k.a].samples.len();
    assert_eq!(n0, 80);
    // Chunk 0's frame 79 is end padding, frame 78 holds 352 samples of content.
    assert_eq!(k.frames[0].last(), Some(&(n0 - 3)));
    assert_eq!(k.frames[1][0], 0, "chunk 1's pre-roll frame is kept");
    assert_eq!(k.silent_before[1], 0, "no silence at the join");
    // Join 2 (chunk 1 starts 672 samples late, its last frame holds 512 samples of content):
    // chunk 1's last two frames go, chunk 2's pre-roll stays.
    assert_eq!(k.frames[1].last(), Some(&61));
    assert_eq!(k.frames[2][0], 0);
    assert_eq!(k.timing.dropped_frames, 4);
    // Chunk 1's content starts 128 samples before chunk 0's video ends (5 s).
    assert_eq!(k.timing.places[1].origin, Q::new(80_000 - 128, 16_000));
}
