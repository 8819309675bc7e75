//! `inspect FILE [--json]`: prints an MP4 file's box tree and a track summary, or (with `--json`)
//! the track summary as JSON.

use std::process::ExitCode;

use anyhow::{bail, Context};
use callrec_mp4::{Codec, Movie, ParseOptions, Reader, TrackKind};
use serde_json::{json, Value};

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

fn run() -> anyhow::Result<()> {
    let mut json_out = false;
    let mut file = None;
    for a in std::env::args().skip(1) {
        match a.as_str() {
            "--json" => json_out = true,
            _ if file.is_none() => file = Some(a),
            _ => bail!("usage: inspect FILE [--json]"),
        }
    }
    let Some(file) = file else {
        bail!("usage: inspect FILE [--json]")
    };
    let data = std::fs::read(&file).with_context(|| format!("reading {file}"))?;
    let movie = Movie::parse_with(
        &data,
        ParseOptions {
            allow_truncated_tail: true,
        },
    )
    .with_context(|| format!("parsing {file}"))?;
    if json_out {
        println!("{}", serde_json::to_string_pretty(&summary(&movie))?);
        return Ok(());
    }
    let mut out = String::new();
    if let Err(e) = tree(&mut Reader::new(&data), 0, &mut out) {
        out.push_str(&format!("(box tree stops: {e})\n"));
    }
    print!("{out}");
    println!(
        "movie: timescale {} duration {} fragmented {}",
        movie.timescale.get(),
        movie.duration,
        movie.fragmented
    );
    if let Some(t) = &movie.truncated_tail {
        println!(
            "truncated tail: {} at {} claims {} bytes, {} present",
            t.fourcc, t.offset, t.declared, t.available
        );
    }
    for t in summary(&movie)["tracks"].as_array().into_iter().flatten() {
        println!("track {t}");
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("inspect: {e:#}");
            ExitCode::FAILURE
        }
    }
}
