//! `make-recording DIR [--chunks N] [--seconds S] [--pad BYTES]`: writes a synthetic recording
//! (event.json, chunk MP4s and metadata) built from the `basic` fixture's packets, for
//! `benches/compare.sh`. Defaults: 6 chunks of 600 s, video frames padded to 15,600 bytes
//! (about 1 Mbit/s, 465 MB for the hour).

use std::path::PathBuf;
use std::process::ExitCode;

use callrec_benches::{basic_fixture, write_recording, Source};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut dir = None;
    let (mut chunks, mut seconds, mut pad) = (6u32, 600u32, 15_600usize);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .and_then(|v| v.parse::<u64>().ok())
                .ok_or_else(|| format!("{name} needs a number"))
        };
        let parsed = match arg.as_str() {
            "--chunks" => value("--chunks").map(|v| chunks = v as u32),
            "--seconds" => value("--seconds").map(|v| seconds = v as u32),
            "--pad" => value("--pad").map(|v| pad = v as usize),
            _ if dir.is_none() && !arg.starts_with('-') => {
                dir = Some(PathBuf::from(arg));
                Ok(())
            }
            _ => Err(format!("unexpected argument {arg}")),
        };
        if let Err(e) = parsed {
            eprintln!("make-recording: {e}");
            return ExitCode::from(2);
        }
    }
    let Some(dir) = dir else {
        eprintln!("usage: make-recording DIR [--chunks N] [--seconds S] [--pad BYTES]");
        return ExitCode::from(2);
    };
    let result = Source::load(&basic_fixture())
        .and_then(|src| write_recording(&src, &dir, chunks, seconds, pad));
    match result {
        Ok(bytes) => {
            println!(
                "{}: {chunks} chunks of {seconds} s, {bytes} bytes",
                dir.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("make-recording: {e}");
            ExitCode::FAILURE
        }
    }
}
