//! `stitch DIR -o OUT.mp4 [--wall-clock] [--timeline OUT.json] [--threads N] [--no-reflink]`: stitches a
//! recording's chunks into one lossless MP4 (moov first, every presented packet byte-identical,
//! in sync at every join). Shows a progress bar when stderr is a terminal, then prints a
//! one-line summary. Exits 0 on success, 1 when the recording cannot be stitched (the error
//! names the chunk and parameter), 2 when the tool could not run (usage, a refused output path,
//! I/O); the output path never holds a partial file. SIGINT/SIGTERM remove the temporary file
//! and exit 130/143.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use callrec::{Recording, StitchOptions, Stitched};
use callrec_examples::cli;
use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};

/// Stitch a recording directory (event.json, <documentId>.mp4 and <documentId>.json per chunk)
/// into one lossless MP4, in sync at every join.
///
/// Exit status: 0 written, 1 the recording cannot be stitched, 2 could not run (usage, refused
/// output, I/O), 130/143 interrupted (the temporary file is removed).
#[derive(Parser)]
#[command(version)]
struct Args {
    /// The recording directory.
    dir: PathBuf,
    /// The output MP4 (written atomically: a temporary file beside it, then renamed).
    #[arg(short, long, value_name = "OUT.mp4")]
    output: PathBuf,
    /// Insert pauses and gaps between chunks (silent audio frames, the video frame held), so
    /// that the playback position equals the time since recordingStartTime (default: compact,
    /// media runs on through pauses).
    #[arg(long)]
    wall_clock: bool,
    /// Drop whole frames of AAC priming and end padding at each join, so the output lasts the
    /// sum of the chunks' durations (default: every audio frame kept, the video waits for it).
    #[arg(long)]
    trim_joins: bool,
    /// Also compare every copied byte of the output with its source before renaming it into
    /// place (the output is always read back and checked against the plan).
    #[arg(long)]
    verify_payload: bool,
    /// Also write the wall-clock timeline as JSON to this file.
    #[arg(long, value_name = "OUT.json")]
    timeline: Option<PathBuf>,
    /// Copy threads (default: one per core; capped at the cores the machine has).
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
        .trim_joins(args.trim_joins)
        .verify_payload(args.verify_payload)
        .reflink(!args.no_reflink);
    if let Some(n) = args.threads {
        opts = opts.threads(cli::cap_threads("stitch", "--threads", usize::from(n)));
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

/// The exit status for a failed stitch: 1 when the recording is what is wrong, 2 when the tool
/// could not do its work (refused output, I/O).
fn status_of(e: &anyhow::Error) -> u8 {
    use callrec::crates::stitch::Error as StitchError;
    match e.downcast_ref::<callrec::Error>() {
        Some(
            callrec::Error::NotStitchable { .. }
            | callrec::Error::Parse { .. }
            | callrec::Error::Structure { .. },
        ) => cli::BAD,
        Some(callrec::Error::Stitch(
            StitchError::Io { .. } | StitchError::OutputIsInput { .. },
        )) => cli::CANNOT_RUN,
        Some(callrec::Error::Stitch(_)) => cli::BAD,
        _ => cli::CANNOT_RUN,
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    cli::on_interrupt("stitch", interrupted_note(&args));
    match run(&args) {
        Ok(s) => {
            if s.stale_removed > 0 {
                cli::note(&format!(
                    "stitch: removed {} that a killed run left beside the output",
                    cli::plural(s.stale_removed, "stale temporary file")
                ));
            }
            match cli::emit("stitch", &summary_line(&args, &s)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(code) => code,
            }
        }
        Err(e) => failed(&args, &e),
    }
}

/// What an interrupt leaves: the output (and timeline) paths hold what they held, or are
/// complete.
fn interrupted_note(args: &Args) -> String {
    let targets: Vec<String> = std::iter::once(&args.output)
        .chain(&args.timeline)
        .map(|p| p.display().to_string())
        .collect();
    let (holds, is) = if targets.len() == 1 {
        ("holds what it held", "is")
    } else {
        ("hold what they held", "are")
    };
    format!(
        "{} {holds} before, or {is} complete (a final path never holds a partial file)",
        targets.join(" and ")
    )
}

/// The one-line summary of a stitch.
fn summary_line(args: &Args, s: &Stitched) -> String {
    let rate = s.bytes as f64 / s.seconds.max(1e-9) / 1e6;
    let mut extra = String::new();
    if s.silent_frames > 0 {
        extra += &format!(", {} silent audio frames inserted", s.silent_frames);
    }
    if s.dropped_frames > 0 {
        extra += &format!(", {} audio frames dropped at joins", s.dropped_frames);
    }
    if let Some(rescaled) = rescaled_note(s) {
        extra += &format!(", timescale converted ({rescaled})");
    }
    format!(
        "{}: {} chunks, {}.{:03} s, {} bytes in {:.3} s ({rate:.0} MB/s), {} sample bytes \
         shared, {} copied{}{extra}\n",
        s.path.display(),
        s.chunks,
        s.duration_ms / 1000,
        s.duration_ms % 1000,
        s.bytes,
        s.seconds,
        s.shared,
        s.copied,
        if args.wall_clock { ", wall clock" } else { "" },
    )
}

/// The chunks whose timescales were converted, those with the same conversion together
/// (`chunk 1, 2: video 90000 -> 16384`), or `None`.
fn rescaled_note(s: &Stitched) -> Option<String> {
    let mut rescaled: Vec<String> = Vec::new();
    for r in &s.rescaled {
        let what = format!("{:?} {} -> {}", r.kind, r.from, r.to).to_lowercase();
        match rescaled
            .iter_mut()
            .find(|x| x.ends_with(&format!(": {what}")))
        {
            Some(x) => *x = x.replacen(": ", &format!(", {}: ", r.index), 1),
            None => rescaled.push(format!("chunk {}: {what}", r.index)),
        }
    }
    (!rescaled.is_empty()).then(|| rescaled.join("; "))
}

/// Reports a failed stitch and gives its exit status; a timeline not written beside a
/// written MP4 says so.
fn failed(args: &Args, e: &anyhow::Error) -> ExitCode {
    if let Some(callrec::Error::TimelineNotWritten { mp4, error }) =
        e.downcast_ref::<callrec::Error>()
    {
        let timeline = args.timeline.as_deref().unwrap_or(mp4.as_path());
        cli::note(&format!(
            "stitch: {} is written and complete; the timeline {} was NOT written \
             ({error}); it holds what it held before, if anything",
            mp4.display(),
            timeline.display(),
        ));
        return ExitCode::from(cli::CANNOT_RUN);
    }
    cli::note(&format!("stitch: {e:#}"));
    ExitCode::from(status_of(e))
}
