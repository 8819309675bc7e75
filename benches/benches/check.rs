//! Criterion bench `check`: [`callrec::Recording::open`] then `check()` with the default options
//! (every AAC frame decoded with symphonia, silence scan, all metadata comparisons) of a
//! synthetic 1-hour recording: 6 chunks of 10 minutes built from the `basic` fixture's packets,
//! video frames padded to 15,600 bytes (about 1 Mbit/s, 465 MB, the recording of
//! `benches/compare.sh`), in a temporary directory.
//!
//! Throughput is in seconds of media: criterion's "elem/s" is the real-time factor (the issue's
//! target is at least 500x on a 2-core machine).
//!
//! `cargo bench -p callrec-benches --bench check`

use std::time::{Duration, Instant};

use callrec::Recording;
use callrec_benches::{basic_fixture, write_recording, Source};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const CHUNKS: u32 = 6;
const SECONDS: u32 = 600;

fn bench(c: &mut Criterion) {
    let src = Source::load(&basic_fixture()).expect("basic fixture");
    let dir = tempfile::tempdir().expect("temporary directory");
    write_recording(&src, dir.path(), CHUNKS, SECONDS, 15_600).expect("synthetic recording");

    // Once outside criterion: the synthetic recording checks clean, and every frame is decoded.
    let started = Instant::now();
    let report = Recording::open(dir.path())
        .and_then(|r| r.check())
        .expect("check runs");
    let once = started.elapsed().as_secs_f64();
    assert!(!report.has_errors(), "{report}");
    assert_eq!(report.warnings, 0, "{report}");
    for chunk in &report.chunks {
        let audio = chunk
            .media
            .as_ref()
            .and_then(|m| m.audio.as_ref())
            .expect("audio");
        let decode = audio.decode.as_ref().expect("audio decoded");
        assert_eq!(decode.errors, 0);
        assert_eq!(decode.packets, audio.samples as u64);
    }
    let media_s = f64::from(CHUNKS * SECONDS);
    eprintln!(
        "check: {} ({}); first run {once:.2} s = {:.0}x real time",
        report.summary(),
        dir.path().display(),
        media_s / once
    );

    let mut group = c.benchmark_group("check");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(12));
    group.throughput(Throughput::Elements(u64::from(CHUNKS * SECONDS)));
    group.bench_function("open + check (decode) 1 h in 6 chunks, 465 MB", |b| {
        b.iter(|| {
            Recording::open(dir.path())
                .and_then(|r| r.check())
                .map(|r| r.findings.len())
                .expect("check runs")
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
