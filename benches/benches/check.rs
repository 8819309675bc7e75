//! Criterion bench `check`: [`callrec::Recording::open`] then `check()` with the default options
//! (every AAC frame decoded with symphonia, silence scan, all metadata comparisons) of a
//! synthetic 1-hour recording built from the `basic` fixture's packets, video frames padded to
//! 15,600 bytes (about 1 Mbit/s, 464 MB), in a temporary directory: once as 6 chunks of 10
//! minutes (the recording of `benches/compare.sh`), once as 1 chunk of an hour.
//!
//! Throughput is in seconds of media: criterion's "elem/s" is the real-time factor (the issue's
//! target is at least 1,000x on a 2-core machine). Before the timed runs, each layout is checked
//! once and the peak resident set size of that check is printed: the chunks are read with
//! positioned reads in bounded windows, so it does not grow with the chunk size (the target is
//! at most 64 MiB). The peak is measured by resetting the process's high-water mark
//! (`/proc/self/clear_refs`, Linux) just before the check and reading `VmHWM` after it.
//!
//! `cargo bench -p callrec-benches --bench check`

use std::path::Path;
use std::time::{Duration, Instant};

use callrec::Recording;
use callrec_benches::{basic_fixture, write_recording, Source};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const SECONDS: u32 = 3600;

/// A `VmRSS:`/`VmHWM:` line of /proc/self/status, in KiB.
fn status_kib(key: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Checks `dir` once: asserts it checks clean with every frame decoded, and prints the time
/// and the peak RSS of the check.
fn check_once(dir: &Path, label: &str) {
    // Reset the high-water mark to the current RSS (writing 5 to clear_refs, Linux >= 4.0).
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let before = status_kib("VmRSS:");
    let started = Instant::now();
    let report = Recording::open(dir)
        .and_then(|r| r.check())
        .expect("check runs");
    let once = started.elapsed().as_secs_f64();
    let peak = status_kib("VmHWM:");
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
    let mib =
        |k: Option<u64>| k.map_or_else(|| "?".to_string(), |k| format!("{:.1}", k as f64 / 1024.0));
    eprintln!(
        "check {label}: {}; first run {once:.2} s = {:.0}x real time; peak RSS {} MiB \
         (RSS before {} MiB{})",
        report.summary(),
        f64::from(SECONDS) / once,
        mib(peak),
        mib(before),
        if reset {
            ""
        } else {
            "; high-water mark not reset: the peak is the process's"
        }
    );
}

fn bench(c: &mut Criterion) {
    let src = Source::load(&basic_fixture()).expect("basic fixture");
    let mut group = c.benchmark_group("check");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(12));
    group.throughput(Throughput::Elements(u64::from(SECONDS)));
    for chunks in [6u32, 1] {
        let dir = tempfile::tempdir().expect("temporary directory");
        write_recording(&src, dir.path(), chunks, SECONDS / chunks, 15_600)
            .expect("synthetic recording");
        let label = format!(
            "1 h in {chunks} chunk{}",
            if chunks == 1 { "" } else { "s" }
        );
        check_once(dir.path(), &label);
        group.bench_function(format!("open + check (decode) {label}, 464 MB"), |b| {
            b.iter(|| {
                Recording::open(dir.path())
                    .and_then(|r| r.check())
                    .map(|r| r.findings.len())
                    .expect("check runs")
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
