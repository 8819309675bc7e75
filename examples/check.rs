//! `check DIR [--json] [--bitrate-tolerance PCT] [--no-decode] [--silence-warn-ms MS]`: proves
//! that a recording's media matches its metadata. Prints one line per finding and a summary
//! line (or, with `--json`, the whole report). Exits 0 when there is no error-severity finding,
//! 1 when there is, 2 when the check could not run: bad arguments, a missing directory or one
//! that is not a recording, or an `event.json` that does not parse (the chunks cannot be matched
//! up reliably; the message names the file and the JSON field). Everything else about the
//! recording is a finding, including a chunk file that exists but cannot be read
//! (`file.unreadable`).

use std::path::PathBuf;
use std::process::ExitCode;

use callrec::{CheckOptions as Options, Recording, Report};
use callrec_examples::cli::{self, plural};
use clap::Parser;

/// Check that a recording directory's media (event.json, <documentId>.mp4 and
/// <documentId>.json per chunk) matches its metadata: every finding, not the first.
///
/// Exit status: 0 no error finding, 1 error findings, 2 could not run.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// The recording directory.
    dir: PathBuf,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// An average bitrate above bitRate * (1 + PCT/100) is a warning (a declared bitrate is a
    /// target: a lower actual rate is normal).
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
    match Recording::open(&args.dir) {
        Ok(recording) => Ok(recording.check_with(&opts)?),
        // Name the JSON fields that make an event one.
        Err(e @ callrec::Error::Meta(callrec_meta::Error::NoEvent { expected, .. })) => {
            anyhow::bail!(
                "cannot read recording {}: {e}: an event needs \"eventType\" (or \"type\") \
                 {expected:?}, or a \"data.recordingStorageInfo\" object",
                args.dir.display()
            )
        }
        Err(e) => {
            Err(anyhow::Error::new(e)
                .context(format!("cannot read recording {}", args.dir.display())))
        }
    }
}

/// The summary line: chunks, media, and each severity's count (`1 error`, `2 errors`).
fn summary(report: &Report) -> String {
    format!(
        "{}, {:.3} s of media: {}, {}, {} info",
        plural(report.chunks.len(), "chunk"),
        report.media_duration_ms / 1000.0,
        plural(report.count(callrec::Severity::Error), "error"),
        plural(report.count(callrec::Severity::Warning), "warning"),
        report.count(callrec::Severity::Info),
    )
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(report) => {
            let text = if args.json {
                format!("{}\n", report.to_json())
            } else {
                // The table's finding lines, then the summary prefixed with the directory.
                let table = report.to_string();
                let mut text = match table.rsplit_once('\n') {
                    Some((findings, _)) if !findings.is_empty() => format!("{findings}\n"),
                    _ => String::new(),
                };
                let verdict = if report.has_errors() { "" } else { ": ok" };
                text += &format!("{}: {}{verdict}\n", args.dir.display(), summary(&report));
                text
            };
            if let Err(code) = cli::emit("check", &text) {
                return code;
            }
            if report.has_errors() {
                ExitCode::from(cli::BAD)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            cli::note(&format!("check: {e:#}"));
            ExitCode::from(cli::CANNOT_RUN)
        }
    }
}
