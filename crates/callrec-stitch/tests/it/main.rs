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

const GOOD: [&str; 9] = [
    "basic",
    "bframes",
    "paused",
    "fragmented",
    "faststart",
    "fragmented_bframes",
    "mixed_timescale",
    "paused_bframes",
    "empty_edit",
];

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

/// What each chunk presents on track `i` (its n-th track of that kind): the chunk's own edit
/// list, or, for an edit-less chunk, what `callrec_mp4::present` says (the AAC priming
/// skipped, a stretched first sample given its length back, a later track waiting).
fn chunk_presented(f: &Fixture, k: usize, kind: TrackKind, ordinal: usize) -> Presented {
    let m = &f.chunks[k].movie;
    let (ti, t) = m
        .tracks
        .iter()
        .enumerate()
        .filter(|(_, t)| t.kind == kind)
        .nth(ordinal)
        .unwrap();
    if m.tracks.iter().all(|t| t.edits.is_empty()) {
        let w = &callrec_mp4::present::windows(m).unwrap()[ti];
        // The trim: every sample but the first `trim` earlier.
        let mut t = t.clone();
        for s in t.samples.iter_mut().skip(1) {
            s.dts -= u64::from(w.trim);
        }
        if let Some(s) = t.samples.first_mut() {
            s.duration -= w.trim;
        }
        let us = |q: callrec_mp4::present::Q| (q * 1_000_000).round().to_integer() as u64;
        let ts = i128::from(t.timescale.get());
        let mut edits = Vec::new();
        if us(w.lead) > 0 {
            edits.push(callrec_mp4::Edit {
                segment_duration: us(w.lead),
                media_time: None,
                media_rate_integer: 1,
                media_rate_fraction: 0,
            });
        }
        let d0 = t.samples[0].dts as i64;
        edits.push(callrec_mp4::Edit {
            segment_duration: us(callrec_mp4::present::Q::new(
                i128::from(w.end - w.start),
                ts,
            )),
            media_time: Some(d0 + w.start),
            media_rate_integer: 1,
            media_rate_fraction: 0,
        });
        presented(1_000_000, &t, &edits)
    } else {
        presented(u64::from(m.timescale.get()), t, &t.edits)
    }
}

/// A silent mono AAC-LC frame as the planner writes it (see the crate docs, *Joins*).
const SILENT_MONO: [u8; 4] = [0x00, 0xC8, 0x00, 0x07];

/// Output time of a sample: the leading empty edit, then the one media edit (what every
/// player computes, and what a player that plays the samples back to back hears).
fn out_time(t: &callrec_mp4::Track, movie_ts: u64, s: &callrec_mp4::Sample) -> Q {
    assert!(t.edits.len() <= 2, "{:?}: {:?}", t.kind, t.edits);
    let (lead, media) = match t.edits.as_slice() {
        [e] => (0, e.media_time.expect("a media edit")),
        [a, b] => {
            assert_eq!(
                a.media_time, None,
                "{:?}: only a leading edit may be empty",
                t.kind
            );
            (a.segment_duration, b.media_time.expect("a media edit"))
        }
        _ => panic!("{:?}: no edit list", t.kind),
    };
    let ts = i128::from(t.timescale.get());
    Q::new(lead as i128, movie_ts as i128).add(Q::new(i128::from(s.pts()) - i128::from(media), ts))
}

/// How a stitch may have moved the chunks' audio.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Joins {
    /// Every frame kept (compact default).
    Lossless,
    /// Whole frames of priming and padding may be dropped at joins (trimmed, wall clock).
    Trimmed,
}

/// Per output track, per chunk: the offset from the chunk's presentation time to the output's,
/// measured on each of the chunk's presented samples.
type Offsets = Vec<Vec<Vec<Q>>>;

/// The core assertions of the layouts issue on one output:
/// - every packet of every chunk is in the output, in order, with its bytes and sync flag (in
///   [`Joins::Trimmed`] whole audio frames before a chunk's presented start or after its end
///   may be missing), and the only other packets are silent AAC frames;
/// - each track has one media edit, after at most one leading empty edit: the sample tables
///   alone carry the joins;
/// - within a chunk every presented sample keeps its time relative to the others (within one
///   output tick), so the chunk sits at one offset on each track (`shift(k, time)` adds the
///   time inserted before a chunk time, for wall-clock pauses);
/// - at every join the audio-video offset is the chunk's own, within 1 ms.
///
/// Returns, per track and chunk, the offsets of the presented samples.
fn assert_joined(
    f: &Fixture,
    movie: &Movie,
    data: &[u8],
    joins: Joins,
    shift: &dyn Fn(usize, Q) -> Q,
) -> Offsets {
    assert_eq!(movie.tracks.len(), f.chunks[0].movie.tracks.len());
    let movie_ts = u64::from(movie.timescale.get());
    let mut ordinals = std::collections::HashMap::new();
    let mut all = Vec::new();
    for t in &movie.tracks {
        let n = ordinals.entry(format!("{:?}", t.kind)).or_insert(0usize);
        let ordinal = *n;
        *n += 1;
        let tick = Q::new(1, i128::from(t.timescale.get()));
        let mut j = 0; // output sample
        let mut per_chunk: Vec<Vec<(Q, Q)>> = Vec::new();
        for k in 0..f.chunks.len() {
            let ct = f.chunks[k]
                .movie
                .tracks
                .iter()
                .filter(|u| u.kind == t.kind)
                .nth(ordinal)
                .unwrap();
            let presented = chunk_presented(f, k, t.kind, ordinal);
            let src = &f.bytes[k];
            let bytes = |s: &callrec_mp4::Sample, d: &[u8]| {
                d[s.range().start as usize..s.range().end as usize].to_vec()
            };
            // Output sample of each of the chunk's samples (None: dropped).
            let mut at: Vec<Option<usize>> = Vec::with_capacity(ct.samples.len());
            for (i, s) in ct.samples.iter().enumerate() {
                while j < t.samples.len() && bytes(&t.samples[j], data) == SILENT_MONO {
                    j += 1;
                }
                let want = bytes(s, src);
                if j < t.samples.len() && bytes(&t.samples[j], data) == want {
                    assert_eq!(
                        t.samples[j].sync, s.sync,
                        "{:?}: chunk {k} sample {i} sync",
                        t.kind
                    );
                    at.push(Some(j));
                    j += 1;
                } else {
                    // Trimmed joins drop whole frames of priming and end padding (a last frame
                    // partly content may go too), never more than two frames at either end.
                    let edge = i < 2 || i + 2 >= ct.samples.len();
                    assert!(
                        joins == Joins::Trimmed && t.kind == TrackKind::Audio && edge,
                        "{:?}: chunk {k} sample {i} missing from the output (output sample {j})",
                        t.kind
                    );
                    at.push(None);
                }
            }
            // (time inserted before it, offset) of each presented sample.
            let mut offs: Vec<(Q, Q)> = Vec::new();
            for (s, time) in &presented.samples {
                let i = ct
                    .samples
                    .iter()
                    .position(|x| x.offset == s.offset)
                    .unwrap();
                let Some(o) = at[i] else {
                    assert_eq!(joins, Joins::Trimmed);
                    continue;
                };
                let ins = shift(k, *time);
                offs.push((ins, out_time(t, movie_ts, &t.samples[o]).sub(time.add(ins))));
            }
            // One offset for each stretch of the chunk between inserted times (within a tick of
            // the output's timescale).
            for (ins, o) in &offs {
                let first = offs.iter().find(|x| x.0 == *ins).unwrap().1;
                assert!(
                    o.sub(first) <= tick && first.sub(*o) <= tick,
                    "{:?}: chunk {k}: samples moved against each other by {:?}",
                    t.kind,
                    o.sub(first)
                );
            }
            per_chunk.push(offs);
        }
        while j < t.samples.len() && bytes_eq(&t.samples[j], data, &SILENT_MONO) {
            j += 1;
        }
        assert_eq!(
            j,
            t.samples.len(),
            "{:?}: output packets the chunks do not have",
            t.kind
        );
        all.push(per_chunk);
    }
    // A/V at every join, and after every inserted time: the same offset on every track.
    let ms = Q::new(1, 1000);
    for k in 0..f.chunks.len() {
        for (ins, o0) in &all[0][k] {
            for (i, t) in all.iter().enumerate() {
                if let Some((_, x)) = t[k].iter().find(|x| x.0 == *ins) {
                    assert!(
                        x.sub(*o0) <= ms && o0.sub(*x) <= ms,
                        "chunk {k}: track {i} at {x:?}, track 0 at {o0:?}"
                    );
                }
            }
        }
    }
    all.into_iter()
        .map(|t| {
            t.into_iter()
                .map(|c| c.into_iter().map(|x| x.1).collect())
                .collect()
        })
        .collect()
}

fn bytes_eq(s: &callrec_mp4::Sample, data: &[u8], want: &[u8]) -> bool {
    &data[s.range().start as usize..s.range().end as usize] == want
}

fn no_shift(_: usize, _: Q) -> Q {
    Q::ZERO
}

fn q_ms(q: Q) -> f64 {
    q.to_f64() * 1000.0
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
        let offs = assert_joined(&f, &movie, &data, Joins::Lossless, &no_shift);
        // Chunk k starts where the plan says, one chunk after the other: the earlier chunk's
        // duration plus the audio it had past its presentation and the next one's priming.
        let ts = i128::from(plan.timescale());
        for (k, p) in plan.chunks().iter().enumerate() {
            assert_eq!(p.index, k as u32);
            // The chunk's presentation time 0 (its first media instant is later only after a
            // leading empty edit on every track).
            let at = offs[0][k][0];
            let d = Q::new(i128::from(p.origin), ts).sub(at);
            assert!(
                q_ms(d).abs() <= 1.0,
                "{name}: chunk {k} at {} ms, plan says {}",
                q_ms(at),
                p.origin_us
            );
            assert!(p.start >= p.origin, "{name}: chunk {k}");
            if k > 0 {
                let prev = plan.chunks()[k - 1].origin_us;
                let ms = f.meta[k - 1]["chunkDuration"].as_f64().unwrap();
                let gap = (p.origin_us - prev) as f64 / 1000.0 - ms;
                assert!(
                    (0.0..=200.0).contains(&gap),
                    "{name}: join {k}: {gap} ms of junk"
                );
            }
        }
        assert!(plan.exact());
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "{name}: no temp left"
        );
        // Trimmed joins: the chunks back to back within half an audio frame (32 ms), every
        // video frame kept, in sync at every join.
        let trim = StitchOptions {
            trim_joins: true,
            ..opts(2)
        };
        let (plan, data) = stitch_to(&f.chunks, &trim, &dir.path().join("trim.mp4"));
        let movie = Movie::parse(&data).unwrap();
        assert_joined(&f, &movie, &data, Joins::Trimmed, &no_shift);
        let mut at = 0.0;
        for (k, p) in plan.chunks().iter().enumerate() {
            let err = p.origin_us as f64 / 1000.0 - at;
            assert!(err.abs() <= 33.0, "{name} trimmed: chunk {k} {err} ms off");
            at += f.meta[k]["chunkDuration"].as_f64().unwrap();
        }
        f.assert_unchanged();
    }
}

/// One edit per track. Audio: from chunk 0's priming (1024). Video: from the largest
/// composition delay of the chunks (every chunk's B-frames get that delay).
#[test]
fn one_edit_per_track_from_the_first_chunks_priming() {
    for (name, delay) in [("basic", 0), ("bframes", 4096)] {
        let f = load(name);
        let plan = Plan::new(&f.chunks, &opts(1)).unwrap();
        let track = |k| plan.tracks().iter().find(|t| t.kind == k).unwrap();
        let (audio, video) = (track(TrackKind::Audio), track(TrackKind::Video));
        assert_eq!(audio.edits.len(), 1, "{name}");
        assert_eq!(audio.edits[0].media_time, Some(1024), "{name}");
        assert_eq!(video.edits.len(), 1, "{name}");
        assert_eq!(video.edits[0].media_time, Some(delay), "{name}");
        assert!(plan.rescaled().is_empty());
    }
}

/// Chunks whose audio is shorter than their video (as on real recordings, where the tracks
/// differ by a few ms per chunk): the video must not run into the next chunk, so the audio
/// waits with silent frames; every chunk still starts in sync on both tracks and no edit list
/// has more than a leading edit.
#[test]
fn shorter_audio_waits_with_silent_frames() {
    let mut f = load("basic");
    let mts = i64::from(f.chunks[0].movie.timescale.get());
    assert_eq!(mts, 1000, "fixture: edits in ms");
    // Chunk 0 drops its last 3 audio frames (ends 136 ms before its video), chunk 1 ends its
    // audio edit 5 ms early, chunk 2 (last) drops 2 frames.
    for (k, drop) in [(0usize, 3usize), (1, 0), (2, 2)] {
        let t = f.chunks[k]
            .movie
            .tracks
            .iter_mut()
            .find(|t| t.kind == TrackKind::Audio)
            .unwrap();
        assert_eq!(t.edits[0].media_time, Some(1024), "fixture: AAC priming");
        t.samples.truncate(t.samples.len() - drop);
        let last = t.samples.last().unwrap();
        let end = last.dts + u64::from(last.duration);
        t.media_duration = end;
        let ts = u64::from(t.timescale.get());
        let mut seg = (end - 1024) * mts as u64 / ts;
        if drop == 0 {
            seg -= 5;
        }
        t.edits[0].segment_duration = seg;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.mp4");
    let (plan, data) = stitch_to(&f.chunks, &opts(2), &out);
    let movie = Movie::parse(&data).unwrap();
    assert_joined(&f, &movie, &data, Joins::Lossless, &no_shift);
    // 136 ms short: the audio's end padding and chunk 1's priming leave 136 - 64 - 64 ms to
    // wait, one silent frame.
    assert!(plan.silent_frames() >= 1, "{}", plan.silent_frames());
    let a = movie.track(TrackKind::Audio).unwrap();
    let silent = a
        .samples
        .iter()
        .filter(|s| bytes_eq(s, &data, &SILENT_MONO))
        .count();
    assert_eq!(silent as u64, plan.silent_frames());
    // Chunk 1 starts after chunk 0's video (5 s), at an audio frame boundary.
    assert!(plan.chunks()[1].start_us >= 5_000_000);
}

/// Fragmented (edit-less) chunks: the first video frame, which ffmpeg stretched by the AAC
/// lead (1049 ticks), gets its own 2048 back; a chunk's last frame lasts until the next chunk's
/// first (it waits for the audio's priming); one edit per track.
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
    let dir = tempfile::tempdir().unwrap();
    let (_, data) = stitch_to(&f.chunks, &opts(1), &dir.path().join("out.mp4"));
    let m = Movie::parse(&data).unwrap();
    assert_joined(&f, &m, &data, Joins::Lossless, &no_shift);
    let v = m.track(TrackKind::Video).unwrap();
    let mut last = 0;
    for c in &f.chunks {
        let n = c.movie.track(TrackKind::Video).unwrap().samples.len();
        let d: Vec<u32> = v.samples[last..last + n]
            .iter()
            .map(|s| s.duration)
            .collect();
        assert!(d[..n - 1].iter().all(|d| *d == 2048), "{d:?}");
        assert!(d[n - 1] >= 2048);
        last += n;
    }
    assert_eq!(v.edits.len(), 1);
    let a = m.track(TrackKind::Audio).unwrap();
    assert_eq!(a.edits.len(), 1);
    assert_eq!(a.edits[0].media_time, Some(1024));
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
        let (plan, data) = stitch_to(&f.chunks, &opts(2), &out);
        // The chunks' frames and the silent ones inserted (a chunk's leading empty edit).
        let aac_frames: usize = f
            .chunks
            .iter()
            .map(|c| c.movie.track(TrackKind::Audio).unwrap().samples.len())
            .sum::<usize>()
            + plan.silent_frames() as usize;
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

/// A wall-clock stitch of `f`: [`assert_joined`] with the pauses inserted, and every presented
/// sample within half an AAC frame (32 ms at 16 kHz: the output inserts whole silent frames)
/// of its wall-clock time: its chunk's start plus its time in the chunk plus the chunk's
/// pauses before it. Returns the video's offsets per chunk.
fn assert_at_wall_time(
    f: &Fixture,
    chunk_wall: &[ChunkWall],
    movie: &Movie,
    data: &[u8],
) -> Vec<Vec<Q>> {
    let shift = |k: usize, time: Q| {
        chunk_wall[k]
            .1
            .iter()
            .filter(|(at, _)| time >= Q::new(i128::from(*at), 1_000_000))
            .fold(Q::ZERO, |a, (_, d)| {
                a.add(Q::new(i128::from(*d), 1_000_000))
            })
    };
    let offs = assert_joined(f, movie, data, Joins::Trimmed, &shift);
    for (i, t) in offs.iter().enumerate() {
        for (k, o) in t.iter().enumerate() {
            let wall = Q::new(i128::from(chunk_wall[k].0), 1_000_000);
            for x in o {
                let err = q_ms(x.sub(wall));
                assert!(
                    err.abs() <= 33.0,
                    "track {i} chunk {k}: {err} ms from its wall time"
                );
            }
        }
    }
    let v = movie
        .tracks
        .iter()
        .position(|t| t.kind == TrackKind::Video)
        .unwrap();
    offs[v].clone()
}

/// The paused recording in wall-clock mode: every presented sample sits at its wall-clock time
/// since recordingStartTime (within half an audio frame), with its bytes unchanged; the pauses
/// are silent audio frames and a held video frame, not empty edits, and the `mp4` crate reads
/// the same timing.
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
    let want = 15000 + 7000 + 1500 + 3250;
    assert!(
        plan.duration_ms().abs_diff(want) <= 33,
        "{}",
        plan.duration_ms()
    );
    assert!(plan.silent_frames() > 0);
    let movie = Movie::parse(&data).unwrap();
    assert_at_wall_time(&f, &chunk_wall, &movie, &data);
    // The mp4 crate reads the same decode times, durations and offsets.
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
    // The frame before the first pause (7 s at wall 2 s) is held: the next one is at 9 s.
    let v = movie.track(TrackKind::Video).unwrap();
    let jump = v
        .samples
        .windows(2)
        .find(|w| w[1].dts - w[0].dts > 4096)
        .unwrap();
    let next = q_ms(out_time(v, u64::from(movie.timescale.get()), &jump[1]));
    assert!((next - 9000.0).abs() <= 33.0, "{next}");
    // The compact stitch of the same inputs ignores the empty edits: the same bytes as
    // without them.
    let (plan, compact) = stitch_to(&f.chunks, &opts(1), &dir.path().join("compact.mp4"));
    assert!(plan.duration_ms() >= 15000);
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
    // Another timescale is converted, and the plan says which chunk.
    chunks[1].movie.tracks[0].timescale = callrec_mp4::Timescale::new(48000).unwrap();
    let plan = Plan::new(&chunks, &opts(1)).unwrap();
    let r = plan.rescaled();
    assert_eq!(r.len(), 2, "{r:?}");
    assert!(r
        .iter()
        .all(|r| r.kind == TrackKind::Audio && r.from == 16000 && r.to == 48000));
    assert_eq!((r[0].index, r[1].index), (0, 2));
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
    assert!(
        plan.duration_ms().abs_diff(18_500) <= 33,
        "{}",
        plan.duration_ms()
    );
    for (p, want) in plan.chunks().iter().zip([0, 8_500_000u64, 12_500_000]) {
        assert!(
            p.start_us.abs_diff(want) <= 33_000,
            "{} vs {want}",
            p.start_us
        );
    }
    assert!(
        plan.chunks()[1].span_start_us.abs_diff(8_000_000) <= 33_000,
        "gap in chunk 1's span"
    );
    let movie = Movie::parse(&data).unwrap();
    // Each frame at its wall time, on its side of the pause.
    let frames = assert_at_wall_time(&f, &chunk_wall, &movie, &data);
    assert_eq!(frames.iter().map(Vec::len).sum::<usize>(), 40 + 32 + 48);
    let v = movie.track(TrackKind::Video).unwrap();
    assert_eq!(v.edits.len(), 1, "{:?}", v.edits);
}

/// The output is read back before it is renamed: a chunk whose sample bytes changed after
/// planning (here the first video sample's NAL length prefix) gives a file that does not match
/// the plan, so nothing appears at the target and no temporary is left.
#[test]
fn an_output_that_does_not_read_back_as_planned_is_not_renamed_into_place() {
    let f = load("basic");
    let dir = tempfile::tempdir().unwrap();
    let mut chunks = f.chunks.clone();
    for c in &mut chunks {
        let p = dir.path().join(c.path.file_name().unwrap());
        std::fs::copy(&c.path, &p).unwrap();
        c.path = p;
    }
    let plan = Plan::new(&chunks, &opts(2)).unwrap();
    let v = chunks[1].movie.track(TrackKind::Video).unwrap();
    let at = v.samples[0].offset;
    let mut bytes = std::fs::read(&chunks[1].path).unwrap();
    bytes[at as usize..at as usize + 4].copy_from_slice(&[0x7f, 0xff, 0xff, 0xff]);
    std::fs::write(&chunks[1].path, &bytes).unwrap();
    let outdir = dir.path().join("out");
    std::fs::create_dir(&outdir).unwrap();
    let out = outdir.join("out.mp4");
    let err = write(&plan, &out, &opts(2), &|_| {}).unwrap_err();
    assert!(matches!(err, Error::Verify { .. }), "{err}");
    assert!(err.to_string().contains("nothing was written"), "{err}");
    assert!(!out.exists());
    assert_eq!(
        std::fs::read_dir(&outdir).unwrap().count(),
        0,
        "no temporary left"
    );
    // With the payload check on, an intact wall-clock stitch (silent frames written by the
    // plan between the copies) reads back byte for byte.
    let f = load("paused");
    let mut chunks = f.chunks.clone();
    chunks[0].empty_edits = vec![callrec_stitch::EmptyEdit {
        at_us: 2_000_000,
        duration_us: 1_000_000,
    }];
    let verify = StitchOptions {
        verify_payload: true,
        wall_clock: true,
        ..opts(1)
    };
    let plan = Plan::new(&chunks, &verify).unwrap();
    assert!(!plan.literals().is_empty());
    write(&plan, &out, &verify, &|_| {}).unwrap();
    assert!(out.exists());
}

/// A chunk whose audio track holds no sample still starts at its wall-clock instant: the
/// master audio has nothing to place it by, so its own target does (the audio resumes with the
/// next chunk, after silence).
#[test]
fn wall_clock_places_a_chunk_without_audio_samples_at_its_wall_time() {
    let mut f = load("basic");
    // 5 s, then 1 s of nothing, 4 s, then 1 s of nothing, 6 s.
    let starts = [0u64, 6_000_000, 11_000_000];
    for (c, us) in f.chunks.iter_mut().zip(starts) {
        c.wall_start_us = Some(us);
    }
    let audio = f.chunks[1]
        .movie
        .tracks
        .iter_mut()
        .find(|t| t.kind == TrackKind::Audio)
        .unwrap();
    audio.samples.clear();
    audio.edits.clear();
    let o = StitchOptions {
        wall_clock: true,
        threads: Some(2),
        ..StitchOptions::default()
    };
    let plan = Plan::new(&f.chunks, &o).unwrap();
    for (p, us) in plan.chunks().iter().zip(starts) {
        let off = p.origin_us as f64 / 1000.0 - us as f64 / 1000.0;
        assert!(
            off.abs() <= 33.0,
            "chunk {} at {} ms, its wall time {} ms",
            p.index,
            p.origin_us as f64 / 1000.0,
            us / 1000
        );
    }
    // The written video agrees: chunk 1's first frame is presented at 6 s.
    let dir = tempfile::tempdir().unwrap();
    let (_, data) = stitch_to(&f.chunks, &o, &dir.path().join("out.mp4"));
    let movie = Movie::parse(&data).unwrap();
    let v = movie.track(TrackKind::Video).unwrap();
    let first = f.chunks[0]
        .movie
        .track(TrackKind::Video)
        .unwrap()
        .samples
        .len();
    let media_time = v.edits.iter().find_map(|e| e.media_time).unwrap_or(0);
    let s = &v.samples[first];
    let lead: u64 = v
        .edits
        .iter()
        .take_while(|e| e.media_time.is_none())
        .map(|e| e.segment_duration)
        .sum();
    let at = (s.dts as f64 + f64::from(s.cts_offset) - media_time as f64)
        / f64::from(v.timescale.get())
        + lead as f64 / f64::from(movie.timescale.get());
    assert!((at - 6.0).abs() <= 0.033, "chunk 1's first frame at {at} s");
}
