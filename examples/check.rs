//! `check DIR [--json] [--bitrate-tolerance PCT] [--no-decode] [--silence-warn-ms MS]`: proves
//! that a recording's media matches its metadata. Prints one line per finding and a summary
//! line (or, with `--json`, the whole report). Exits 0 when there is no error-severity finding,
//! 1 when there is, 2 when the check could not run.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use callrec_check::{check, Options, Report, Severity};
use callrec_meta::Recording;
use clap::Parser;

/// Check a recording directory (event.json, <documentId>.mp4 and <documentId>.json per chunk).
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// The recording directory.
    dir: PathBuf,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// Average bitrates may lie within [bitRate / (1 + PCT/100), bitRate * (1 + PCT/100)].
    #[arg(long, value_name = "PCT")]
    bitrate_tolerance: Option<f64>,
    /// A run of digital silence at least this long is a warning.
    #[arg(long, value_name = "MS")]
    silence_warn_ms: Option<u64>,
    /// Do not decode the audio (faster; no decode, sample-count or silence findings).
    #[arg(long)]
    no_decode: bool,
}

fn run(args: &Args) -> anyhow::Result<Report> {
    let mut opts = Options::default();
    if let Some(t) = args.bitrate_tolerance {
        anyhow::ensure!(
            t.is_finite() && t >= 0.0,
            "--bitrate-tolerance must be a non-negative number, not {t}"
        );
        opts.bitrate_tolerance_pct = t;
    }
    if let Some(ms) = args.silence_warn_ms {
        opts.silence_warn_ms = ms;
    }
    opts.decode_audio = !args.no_decode;
    let recording = Recording::load(&args.dir)
        .with_context(|| format!("cannot read recording {}", args.dir.display()))?;
    let mut files = Vec::with_capacity(recording.chunks.len());
    for c in &recording.chunks {
        let data = match &c.media_path {
            Some(p) => {
                Some(std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?)
            }
            None => None,
        };
        files.push(data);
    }
    let media: Vec<Option<&[u8]>> = files.iter().map(|f| f.as_deref()).collect();
    Ok(check(&recording, &media, &opts))
}

fn print_table(dir: &std::path::Path, report: &Report) {
    for f in &report.findings {
        let chunk = f
            .chunk
            .as_ref()
            .map_or_else(|| "-".to_string(), |c| c.index.to_string());
        println!(
            "{:<8} {:<24} {:>5}  {}",
            f.severity.as_str(),
            f.code.as_str(),
            chunk,
            f.message
        );
    }
    println!(
        "{}: {} chunks, {:.3} s of media: {} errors, {} warnings, {} info{}",
        dir.display(),
        report.chunks.len(),
        report.media_duration_ms / 1000.0,
        report.count(Severity::Error),
        report.count(Severity::Warning),
        report.count(Severity::Info),
        if report.has_errors() { "" } else { ": ok" }
    );
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(report) => {
            if args.json {
                println!("{}", report.to_json());
            } else {
                print_table(&args.dir, &report);
            }
            if report.has_errors() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("check: {e:#}");
            ExitCode::from(2)
        }
    }
}
