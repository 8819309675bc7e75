//! Criterion bench `parse`: `Movie::parse` of a synthetic 1-hour chunk's `moov` (28,800 video
//! samples at 8 fps and 56,250 AAC frames at 16 kHz), built with the callrec-mp4 writers
//! (through the benches' shared track builder).
//!
//! The file is `ftyp` + `moov` + an `mdat` header of size 0 ("to the end of the file") with no
//! payload: parsing never reads sample data, so the bench measures the box layer and the flat
//! sample lists only.

use std::hint::black_box;

use callrec_mp4::boxes::{Ftyp, Moov, Mvhd, Trak};
use callrec_mp4::{FourCc, Movie, Mp4Box};
use criterion::{criterion_group, criterion_main, Criterion};

const VIDEO_SAMPLES: u32 = 28_800;
const AUDIO_SAMPLES: u32 = 56_250;

/// xorshift sizes: deterministic, varied.
fn sizes(n: u32, seed: u64, min: u32, spread: u32) -> Vec<u32> {
    let mut x = seed;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            min + (x % u64::from(spread)) as u32
        })
        .collect()
}

/// A track of `sizes`, `per_chunk` samples to a chunk from `first_offset` on (offsets are only
/// stored, never read), built with the benches' shared track writer.
#[allow(clippy::too_many_arguments)]
fn track(
    id: u32,
    video: bool,
    (timescale, delta): (u32, u32),
    sizes: Vec<u32>,
    per_chunk: u32,
    first_offset: u64,
    sync: Option<Vec<u32>>,
    entry: Vec<u8>,
) -> Trak {
    let mut offsets = Vec::new();
    let mut counts = Vec::new();
    let mut off = first_offset;
    for chunk in sizes.chunks(per_chunk as usize) {
        offsets.push(off);
        counts.push(chunk.len() as u32);
        off += chunk.iter().map(|s| u64::from(*s)).sum::<u64>();
    }
    let media_time = if video { 0 } else { 1024 };
    callrec_benches::trak(callrec_benches::TrackSpec {
        id,
        video,
        timescale,
        delta,
        sizes,
        per_run: &counts,
        offsets: &offsets,
        sync,
        entry,
        duration_ms: 3_600_000,
        media_time,
    })
}

/// Sample entries of the first fixture chunk (so the codec configuration is real), or minimal
/// unknown entries when the fixtures are absent.
fn entries() -> (Vec<u8>, Vec<u8>) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/recordings/basic");
    let file = std::fs::read_dir(dir).ok().and_then(|d| {
        d.flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|e| e == "mp4"))
    });
    if let Some(movie) = file
        .and_then(|p| std::fs::read(p).ok())
        .and_then(|data| Movie::parse(&data).ok())
    {
        if let [v, a, ..] = movie.tracks.as_slice() {
            return (v.entries[0].raw.clone(), a.entries[0].raw.clone());
        }
    }
    (b"\0\0\0\x08avc0".to_vec(), b"\0\0\0\x08mp4x".to_vec())
}

/// The synthetic 1-hour chunk.
fn one_hour_file() -> Vec<u8> {
    let (ventry, aentry) = entries();
    let mut out = Vec::new();
    Ftyp {
        major_brand: FourCc(*b"isom"),
        minor_version: 512,
        compatible_brands: vec![FourCc(*b"isom"), FourCc(*b"mp41")],
    }
    .encode(&mut out);
    let sync: Vec<u32> = (0..VIDEO_SAMPLES).step_by(16).map(|i| i + 1).collect();
    // Offsets are only stored, never read: the mdat holds no payload.
    let moov = Moov {
        mvhd: Mvhd {
            timescale: 1000,
            duration: 3_600_000,
            next_track_id: 3,
            ..Mvhd::default()
        },
        traks: vec![
            track(
                1,
                true,
                (16384, 2048),
                sizes(VIDEO_SAMPLES, 7, 500, 8000),
                8,
                4096,
                Some(sync),
                ventry,
            ),
            track(
                2,
                false,
                (16000, 1024),
                sizes(AUDIO_SAMPLES, 11, 4, 400),
                16,
                1 << 32,
                None,
                aentry,
            ),
        ],
        mvex: None,
        other: vec![],
    };
    moov.encode(&mut out);
    out.extend_from_slice(&[0, 0, 0, 0, b'm', b'd', b'a', b't']);
    out
}

fn bench(c: &mut Criterion) {
    let file = one_hour_file();
    let movie = Movie::parse(&file).expect("synthetic file parses");
    assert_eq!(movie.tracks[0].samples.len(), VIDEO_SAMPLES as usize);
    assert_eq!(movie.tracks[1].samples.len(), AUDIO_SAMPLES as usize);
    c.bench_function("parse moov of a 1-hour chunk (85,050 samples)", |b| {
        b.iter(|| Movie::parse(black_box(&file)).map(|m| m.tracks.len()))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
