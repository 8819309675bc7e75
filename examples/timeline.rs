//! `timeline DIR [--json | --vtt]`: the wall-clock timeline of a recording directory.
//!
//! Without a flag, prints a table a person reads (start, end, kind, chunk, media offset), then
//! the totals and anything inconsistent; `--json` prints the timeline JSON, `--vtt` WebVTT
//! chapters (one cue per recorded stretch, titled with its wall-clock start) timed for the file
//! `stitch` writes with the same flags (`--wall-clock`, `--trim-joins`).

use anyhow::Context as _;
use callrec_examples::cli;
use callrec_meta::{format_timestamp, Nanos, Recording, Segment, Timeline};
use clap::Parser;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

/// Print the wall-clock timeline of an ACS recording directory: where every media instant sits
/// on the wall clock, with pauses, gaps and missing chunks.
///
/// Exit status: 0 printed, 2 could not run (not a recording, event.json unreadable).
#[derive(Parser)]
#[command(version)]
struct Args {
    /// The recording directory (event.json, <documentId>.mp4 and <documentId>.json per chunk).
    dir: PathBuf,
    /// Print the timeline as JSON.
    #[arg(long, conflicts_with = "vtt")]
    json: bool,
    /// Print WebVTT chapters, titled with the wall-clock start, timed for the file `stitch`
    /// writes with the same --wall-clock / --trim-joins (which keeps what the joins add); in
    /// the metadata's media time, with a note, when the chunks cannot be stitched.
    #[arg(long)]
    vtt: bool,
    /// With --vtt: time the cues for `stitch --wall-clock`.
    #[arg(long, requires = "vtt", conflicts_with = "trim_joins")]
    wall_clock: bool,
    /// With --vtt: time the cues for `stitch --trim-joins`.
    #[arg(long, requires = "vtt")]
    trim_joins: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(text) => match cli::emit("timeline", &text) {
            Ok(()) => ExitCode::SUCCESS,
            Err(code) => code,
        },
        Err(e) => {
            cli::note(&format!("timeline: {e:#}"));
            ExitCode::from(cli::CANNOT_RUN)
        }
    }
}

fn run(args: &Args) -> anyhow::Result<String> {
    let rec = Recording::load(&args.dir)
        .with_context(|| format!("cannot load recording {}", args.dir.display()))?;
    let tl = rec.timeline();
    Ok(if args.json {
        tl.to_json()
    } else if args.vtt {
        for c in rec
            .chunks
            .iter()
            .filter(|c| c.metadata.is_none() && !c.repeat)
        {
            cli::note(&format!(
                "timeline: chunk {} ({}) has no metadata: no cue covers it, though a stitch \
                 holds its media",
                c.index, c.document_id
            ));
        }
        vtt(args, &tl)
    } else {
        table(&rec, &tl)
    })
}

/// The chapters, timed as in the stitched file (planned, not written).
fn vtt(args: &Args, tl: &Timeline) -> String {
    // The output path is not written: planning only reads the chunks.
    let opts = callrec::StitchOptions::new(args.dir.join("timeline-vtt.mp4"))
        .wall_clock(args.wall_clock)
        .trim_joins(args.trim_joins);
    let planned = callrec::Recording::open(&args.dir).and_then(|rec| rec.plan(&opts));
    match planned {
        Ok((_, plan)) => callrec::output_webvtt(tl, &plan, &opts),
        Err(e) => {
            cli::note(&format!(
                "timeline: cue times are the metadata's media time, not the stitched file's: {e}"
            ));
            tl.to_webvtt()
        }
    }
}

/// `h:mm:ss.mmm` of a media offset; "out of range" for a saturated one.
fn clock(n: Nanos) -> String {
    if n.is_saturated() {
        return "out of range".into();
    }
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

/// Rows as columns padded to their widest cell (right-aligned where `right`), two spaces apart.
fn columns(rows: &[[String; 6]], right: [bool; 6]) -> String {
    let mut widths = [0usize; 6];
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for ((cell, w), right) in row.iter().zip(widths).zip(right) {
            let _ = if right {
                write!(line, "{cell:>w$}  ")
            } else {
                write!(line, "{cell:<w$}  ")
            };
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn table(rec: &Recording, tl: &Timeline) -> String {
    let mut out = format!(
        "recording {}  start {}\n\n",
        rec.call_id().unwrap_or("(unknown call)"),
        format_timestamp(tl.recording_start())
    );
    let mut rows = vec![["start", "end", "kind", "chunk", "media", "length"].map(String::from)];
    for s in tl.segments() {
        let w = s.wall();
        let media = match s {
            Segment::Recorded { media, .. } => {
                format!("{} - {}", clock(media.start), clock(media.end))
            }
            _ => "-".to_string(),
        };
        rows.push([
            format_timestamp(w.start),
            format_timestamp(w.end),
            s.kind().as_str().to_string(),
            s.chunk().map_or("-".to_string(), |c| c.to_string()),
            media,
            clock(w.duration()),
        ]);
    }
    out += &columns(&rows, [false, false, false, true, false, true]);
    let _ = writeln!(
        out,
        "\nmedia {}  wall {}  paused {}  gaps {}  missing {}",
        clock(tl.media_total()),
        clock(tl.wall_total()),
        clock(tl.paused_total()),
        clock(tl.gap_total()),
        clock(tl.missing_total()),
    );
    if !rec.problems.is_empty() || !tl.issues().is_empty() {
        out.push('\n');
        for p in &rec.problems {
            let _ = writeln!(out, "problem {}: {p}", p.code());
        }
        for i in tl.issues() {
            let _ = writeln!(out, "issue {}: {i}", i.code());
        }
    }
    out
}
