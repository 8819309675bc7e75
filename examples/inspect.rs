//! `inspect FILE [--json]`: prints an MP4 file's box tree and a track summary, or (with `--json`)
//! the track summary as JSON. Exits 0 when it parses, 1 when it does not, 2 when the file cannot
//! be read.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use callrec_examples::cli;
use callrec_mp4::{Codec, Movie, ParseOptions, Reader, TrackKind};
use clap::Parser;
use serde_json::{json, Value};

/// Print an MP4 file's box tree and a summary of its tracks (codec, timescale, samples, edits).
///
/// Exit status: 0 printed, 1 the file does not parse as MP4, 2 it cannot be read.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// The MP4 file.
    file: PathBuf,
    /// Print only the track summary, as JSON.
    #[arg(long)]
    json: bool,
}

/// Why inspect failed: the file is not MP4 (1) or could not be read (2).
enum Failure {
    Bad(anyhow::Error),
    CannotRun(anyhow::Error),
}

const CONTAINERS: &[&[u8; 4]] = &[
    b"moov", b"trak", b"edts", b"mdia", b"minf", b"dinf", b"stbl", b"mvex", b"moof", b"traf",
    b"udta", b"mfra",
];

fn tree(r: &mut Reader<'_>, depth: usize, out: &mut String) -> anyhow::Result<()> {
    while let Some((h, mut c)) = r.next_box()? {
        out.push_str(&format!(
            "{:indent$}{} @{} size {}\n",
            "",
            h.fourcc,
            h.offset,
            h.size,
            indent = depth * 2
        ));
        if CONTAINERS.contains(&&h.fourcc.0) {
            tree(&mut c, depth + 1, out)?;
        } else if h.fourcc.0 == *b"stsd" {
            c.skip(8)?;
            tree(&mut c, depth + 1, out)?;
        }
    }
    Ok(())
}

fn summary(movie: &Movie) -> Value {
    let tracks: Vec<Value> = movie
        .tracks
        .iter()
        .map(|t| {
            let kind = match t.kind {
                TrackKind::Video => "video".to_string(),
                TrackKind::Audio => "audio".to_string(),
                TrackKind::Other(f) => f.to_string(),
            };
            let (codec, width, height, sample_rate, channels) = match t.codec() {
                Some(Codec::Avc(a)) => (
                    "h264".to_string(),
                    json!(a.width),
                    json!(a.height),
                    Value::Null,
                    Value::Null,
                ),
                Some(Codec::Aac(a)) => (
                    "aac".to_string(),
                    Value::Null,
                    Value::Null,
                    json!(a.sample_rate),
                    json!(a.channels),
                ),
                Some(Codec::Unknown(f)) => (
                    f.to_string(),
                    Value::Null,
                    Value::Null,
                    Value::Null,
                    Value::Null,
                ),
                None => (
                    String::new(),
                    Value::Null,
                    Value::Null,
                    Value::Null,
                    Value::Null,
                ),
            };
            let edits: Vec<Value> = t
                .edits
                .iter()
                .map(
                    |e| json!({"segment_duration": e.segment_duration, "media_time": e.media_time}),
                )
                .collect();
            json!({
                "id": t.id,
                "kind": kind,
                "codec": codec,
                "timescale": t.timescale.get(),
                "samples": t.samples.len(),
                "duration": t.media_duration,
                "width": width,
                "height": height,
                "sample_rate": sample_rate,
                "channels": channels,
                "sync_samples": t.samples.iter().filter(|s| s.sync).count(),
                "edits": edits,
            })
        })
        .collect();
    json!({ "tracks": tracks })
}

fn read(file: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    let meta =
        std::fs::metadata(file).with_context(|| format!("cannot read {}", file.display()))?;
    anyhow::ensure!(
        meta.is_file(),
        "cannot read {}: not a regular file",
        file.display()
    );
    std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))
}

fn run(args: &Args) -> Result<String, Failure> {
    let file = &args.file;
    let data = read(file).map_err(Failure::CannotRun)?;
    let movie = Movie::parse_with(
        &data,
        ParseOptions {
            allow_truncated_tail: true,
        },
    )
    .with_context(|| format!("parsing {}", file.display()))
    .map_err(Failure::Bad)?;
    if args.json {
        let json = serde_json::to_string_pretty(&summary(&movie))
            .context("cannot format the summary")
            .map_err(Failure::CannotRun)?;
        return Ok(json + "\n");
    }
    let mut out = String::new();
    if let Err(e) = tree(&mut Reader::new(&data), 0, &mut out) {
        out.push_str(&format!("(box tree stops: {e})\n"));
    }
    out.push_str(&format!(
        "movie: timescale {} duration {} fragmented {}\n",
        movie.timescale.get(),
        movie.duration,
        movie.fragmented
    ));
    if let Some(t) = &movie.truncated_tail {
        out.push_str(&format!(
            "truncated tail: {} at {} claims {} bytes, {} present\n",
            t.fourcc, t.offset, t.declared, t.available
        ));
    }
    for t in summary(&movie)["tracks"].as_array().into_iter().flatten() {
        out.push_str(&format!("track {t}\n"));
    }
    Ok(out)
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(text) => match cli::emit("inspect", &text) {
            Ok(()) => ExitCode::SUCCESS,
            Err(code) => code,
        },
        Err(Failure::Bad(e)) => {
            cli::note(&format!("inspect: {e:#}"));
            ExitCode::from(cli::BAD)
        }
        Err(Failure::CannotRun(e)) => {
            cli::note(&format!("inspect: {e:#}"));
            ExitCode::from(cli::CANNOT_RUN)
        }
    }
}
