//! Criterion bench `stitch`: planning and writing.
//!
//! - `plan`: [`Plan::new`] on the parsed chunks of a synthetic 1-hour recording (6 chunks of
//!   10 minutes built from the `basic` fixture's packets: 28,800 video frames and 56,256 AAC
//!   frames in all). Sample tables merged, edit lists, layout, the whole header encoded; compact
//!   and with the block-aligned layout for cloning (`align: Some(4096)`).
//! - `clone layout`: the copy ranges of that hour's aligned plan cut into clone and copy pieces
//!   for a 4096-byte block (what [`callrec_stitch::write`] hands to the filesystem).
//! - `verify`: the read-back [`callrec_stitch::write`] runs before renaming, on a written 1 h
//!   output (frames padded to 15,600 bytes, 464 MB, in the page cache): parse, structural
//!   validation, every sample and edit compared with the plan; with every sample's NAL units
//!   walked (a copied output) and with the ranges taken as cloned (the walk at the cuts only).
//! - `write`: [`callrec_stitch::write`] of a synthetic 3-minute recording whose video frames are
//!   padded to 15,600 bytes (about 1 Mbit/s, 24 MB) into a temporary directory, on 1 and 2
//!   copy threads: temporary file, copies, fsync, rename. Throughput is output bytes.
//!
//! `cargo bench -p callrec-benches --bench stitch`

use std::hint::black_box;
use std::path::{Path, PathBuf};

use callrec_benches::{basic_fixture, write_recording, Source};
use callrec_meta::Recording;
use callrec_mp4::Movie;
use callrec_stitch::{ChunkInput, Plan, StitchOptions};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

/// Parses every chunk of the recording in `dir`, in index order.
fn inputs(dir: &Path) -> Vec<ChunkInput> {
    let recording = Recording::load(dir).expect("synthetic recording loads");
    assert!(recording.problems.is_empty(), "{:?}", recording.problems);
    recording
        .chunks
        .iter()
        .map(|c| {
            let path: PathBuf = c.media_path.clone().expect("chunk file present");
            let bytes = std::fs::read(&path).expect("chunk readable");
            ChunkInput {
                index: c.index,
                name: c.document_id.clone(),
                movie: Movie::parse(&bytes).expect("synthetic chunk parses"),
                path,
                empty_edits: Vec::new(),
                wall_start_us: None,
            }
        })
        .collect()
}

fn plan(c: &mut Criterion) {
    let src = Source::load(&basic_fixture()).expect("basic fixture");
    let dir = tempfile::tempdir().expect("temporary directory");
    write_recording(&src, dir.path(), 6, 600, 0).expect("synthetic recording");
    let chunks = inputs(dir.path());
    let samples: usize = chunks
        .iter()
        .flat_map(|c| &c.movie.tracks)
        .map(|t| t.samples.len())
        .sum();
    let opts = StitchOptions::default();
    let p = Plan::new(&chunks, &opts).expect("plan");
    assert_eq!(p.duration_ms(), 3_600_000);
    let mut group = c.benchmark_group("stitch");
    group.throughput(Throughput::Elements(samples as u64));
    group.bench_function(format!("plan 1 h in 6 chunks ({samples} samples)"), |b| {
        b.iter(|| Plan::new(black_box(&chunks), &opts).map(|p| p.output_len()))
    });
    let aligned = StitchOptions {
        align: Some(4096),
        ..StitchOptions::default()
    };
    group.bench_function(
        format!("plan 1 h in 6 chunks, aligned ({samples} samples)"),
        |b| b.iter(|| Plan::new(black_box(&chunks), &aligned).map(|p| p.output_len())),
    );
    let (pieces, cloned) = callrec_stitch::bench::clone_layout(p.copies(), Some(4096));
    assert!(
        pieces > 0 && cloned == 0,
        "a compact layout is not congruent"
    );
    let ap = Plan::new(&chunks, &aligned).expect("aligned plan");
    let (_, cloned) = callrec_stitch::bench::clone_layout(ap.copies(), Some(4096));
    assert!(cloned > 0);
    group.bench_function(
        format!(
            "clone layout 1 h in 6 chunks ({} ranges)",
            ap.copies().len()
        ),
        |b| b.iter(|| callrec_stitch::bench::clone_layout(black_box(ap.copies()), Some(4096))),
    );
    group.finish();
}

fn verify(c: &mut Criterion) {
    let src = Source::load(&basic_fixture()).expect("basic fixture");
    let dir = tempfile::tempdir().expect("temporary directory");
    let rec = dir.path().join("recording");
    write_recording(&src, &rec, 6, 600, 15_600).expect("synthetic recording");
    let chunks = inputs(&rec);
    let opts = StitchOptions {
        align: Some(4096),
        no_reflink: true,
        ..StitchOptions::default()
    };
    let p = Plan::new(&chunks, &opts).expect("plan");
    drop(chunks);
    let out = dir.path().join("out.mp4");
    callrec_stitch::write(&p, &out, &opts, &|_| {}).expect("write");
    let file = std::fs::File::open(&out).expect("output");
    let all: Vec<std::ops::Range<u64>> = p
        .copies()
        .iter()
        .map(|r| r.dst_offset..r.dst_offset + r.len)
        .collect();
    let mut group = c.benchmark_group("stitch");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(p.output_len()));
    for (what, cloned) in [("copied", &[][..]), ("cloned", &all[..])] {
        group.bench_function(format!("verify 1 h, 464 MB, {what}"), |b| {
            b.iter(|| callrec_stitch::bench::verify(&p, &file, black_box(cloned)).expect("verify"))
        });
    }
    group.finish();
}

fn write(c: &mut Criterion) {
    let src = Source::load(&basic_fixture()).expect("basic fixture");
    let dir = tempfile::tempdir().expect("temporary directory");
    let rec = dir.path().join("recording");
    write_recording(&src, &rec, 3, 60, 15_600).expect("synthetic recording");
    let chunks = inputs(&rec);
    let out = dir.path().join("out.mp4");
    let mut group = c.benchmark_group("stitch");
    group.sample_size(10);
    for threads in [1, 2] {
        let opts = StitchOptions {
            threads: Some(threads),
            ..StitchOptions::default()
        };
        let p = Plan::new(&chunks, &opts).expect("plan");
        group.throughput(Throughput::Bytes(p.output_len()));
        group.bench_with_input(
            BenchmarkId::new(
                format!("write 3 min, {} MB", p.output_len() / 1_000_000),
                format!("{threads} threads"),
            ),
            &p,
            |b, p| {
                b.iter(|| {
                    callrec_stitch::write(p, &out, &opts, &|_| {})
                        .expect("write")
                        .bytes
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, plan, verify, write);
criterion_main!(benches);
