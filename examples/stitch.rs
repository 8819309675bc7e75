//! `stitch DIR -o OUT.mp4 [--wall-clock] [--timeline OUT.json] [--threads N] [--no-reflink]`: stitches a
//! recording's chunks into one lossless MP4 (moov first, every presented packet byte-identical,
//! in sync at every join). Shows a progress bar when stderr is a terminal, then prints a
//! one-line summary. Exits 0 on success, 1 with the error (naming the chunk and parameter) on
//! failure; the output path never holds a partial file.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use callrec::{Recording, StitchOptions, Stitched};
use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};

/// Stitch a recording directory (event.json, <documentId>.mp4 and <documentId>.json per chunk)
/// into one MP4.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// The recording directory.
    dir: PathBuf,
    /// The output MP4 (written atomically: a temporary file beside it, then renamed).
    #[arg(short, long, value_name = "OUT.mp4")]
    output: PathBuf,
    /// Turn pauses and gaps between chunks into timestamp gaps, so that the playback position
    /// equals the time since recordingStartTime (default: compact, media runs on through
    /// pauses).
    #[arg(long)]
    wall_clock: bool,
    /// Also write the wall-clock timeline as JSON to this file.
    #[arg(long, value_name = "OUT.json")]
    timeline: Option<PathBuf>,
    /// Copy threads (default: one per core).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    threads: Option<u16>,
    /// Copy every sample byte, even where the output's filesystem could share the chunks'
    /// blocks (a copy-on-write filesystem: XFS with reflink=1, btrfs). The output is the same
    /// bytes either way.
    #[arg(long)]
    no_reflink: bool,
}

fn progress_bar() -> Option<ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::new(0);
    let style = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.enable_steady_tick(Duration::from_millis(100));
    Some(bar)
}

fn run(args: &Args) -> anyhow::Result<Stitched> {
    let recording = Recording::open(&args.dir)
        .with_context(|| format!("cannot open recording {}", args.dir.display()))?;
    let mut opts = StitchOptions::new(&args.output)
        .wall_clock(args.wall_clock)
        .reflink(!args.no_reflink);
    if let Some(n) = args.threads {
        opts = opts.threads(usize::from(n));
    }
    if let Some(path) = &args.timeline {
        opts = opts.timeline(path);
    }
    let bar = progress_bar();
    let result = recording.stitch_with_progress(&opts, &|done, total| {
        if let Some(bar) = &bar {
            bar.set_length(total);
            bar.set_position(done);
        }
    });
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    result.map_err(|e| match e {
        // Already says "cannot stitch DIR: ...".
        e @ callrec::Error::NotStitchable { .. } => anyhow::Error::new(e),
        e => anyhow::Error::new(e).context(format!("cannot stitch {}", args.dir.display())),
    })
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(s) => {
            let rate = s.bytes as f64 / s.seconds.max(1e-9) / 1e6;
            println!(
                "{}: {} chunks, {}.{:03} s, {} bytes in {:.3} s ({rate:.0} MB/s), {} sample bytes \
                 shared, {} copied{}",
                s.path.display(),
                s.chunks,
                s.duration_ms / 1000,
                s.duration_ms % 1000,
                s.bytes,
                s.seconds,
                s.shared,
                s.copied,
                if args.wall_clock { ", wall clock" } else { "" },
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("stitch: {e:#}");
            ExitCode::FAILURE
        }
    }
}
