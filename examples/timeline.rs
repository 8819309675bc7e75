//! `timeline DIR [--json | --vtt]`: the wall-clock timeline of a recording directory.
//!
//! Without a flag, prints a table a person reads (start, end, kind, chunk, media offset), then
//! the totals and anything inconsistent; `--json` prints the timeline JSON, `--vtt` WebVTT
//! chapters (one cue per recorded stretch, titled with its wall-clock start).

use anyhow::Context as _;
use callrec_meta::{format_timestamp, Nanos, Recording, Segment, Timeline};
use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;

/// Print the wall-clock timeline of an ACS recording directory.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// The recording directory (event.json, <documentId>.mp4 and <documentId>.json per chunk).
    dir: PathBuf,
    /// Print the timeline as JSON.
    #[arg(long, conflicts_with = "vtt")]
    json: bool,
    /// Print WebVTT chapters (cue times in media time, titled with the wall-clock start).
    #[arg(long)]
    vtt: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("timeline: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &Args) -> anyhow::Result<()> {
    let rec = Recording::load(&args.dir)
        .with_context(|| format!("cannot load recording {}", args.dir.display()))?;
    let tl = rec.timeline();
    if args.json {
        print!("{}", tl.to_json());
    } else if args.vtt {
        print!("{}", tl.to_webvtt());
    } else {
        print_table(&rec, &tl);
    }
    Ok(())
}

/// `h:mm:ss.mmm` of a media offset.
fn clock(n: Nanos) -> String {
    let ms = n.as_millis_floor();
    let sign = if ms < 0 { "-" } else { "" };
    let ms = ms.unsigned_abs();
    format!(
        "{sign}{}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

fn print_table(rec: &Recording, tl: &Timeline) {
    println!(
        "recording {}  start {}",
        rec.call_id().unwrap_or("(unknown call)"),
        format_timestamp(tl.recording_start())
    );
    println!();
    println!(
        "{:<30} {:<30} {:<9} {:>5}  {:<25} {:>12}",
        "start", "end", "kind", "chunk", "media", "length"
    );
    for s in tl.segments() {
        let w = s.wall();
        let media = match s {
            Segment::Recorded { media, .. } => {
                format!("{} - {}", clock(media.start), clock(media.end))
            }
            _ => "-".to_string(),
        };
        println!(
            "{:<30} {:<30} {:<9} {:>5}  {:<25} {:>12}",
            format_timestamp(w.start),
            format_timestamp(w.end),
            s.kind().as_str(),
            s.chunk().map_or("-".to_string(), |c| c.to_string()),
            media,
            clock(w.duration()),
        );
    }
    println!();
    println!(
        "media {}  wall {}  paused {}  gaps {}  missing {}",
        clock(tl.media_total()),
        clock(tl.wall_total()),
        clock(tl.paused_total()),
        clock(tl.gap_total()),
        clock(tl.missing_total()),
    );
    if !rec.problems.is_empty() || !tl.issues().is_empty() {
        println!();
        for p in &rec.problems {
            println!("problem {}: {p}", p.code());
        }
        for i in tl.issues() {
            println!("issue {}: {i}", i.code());
        }
    }
}
