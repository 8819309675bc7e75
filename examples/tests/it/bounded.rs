//! Bounded resources at binary level: a recording of many chunks is checked and stitched with
//! one chunk file open at a time (no memory maps, no descriptor per chunk).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata")
}

/// target/<profile>/examples/NAME (built by `cargo test -p callrec-examples`).
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(bin.is_file(), "{} is not built", bin.display());
    bin
}

/// A recording of `n` chunks in a temporary directory: hard links of the `basic` fixture's
/// first chunk file (no copy), an event listing them, no metadata files.
fn many_chunks(n: usize) -> tempfile::TempDir {
    let src = testdata().join("recordings/basic");
    let chunk = fs::read_dir(&src)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "mp4"))
        .min()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut list = Vec::with_capacity(n);
    for i in 0..n {
        let id = format!("0-eus-d3-many{i:07}");
        fs::hard_link(&chunk, dir.path().join(format!("{id}.mp4"))).unwrap();
        list.push(serde_json::json!({
            "documentId": id,
            "index": i,
            "endReason": "ChunkMaximumSizeExceeded"
        }));
    }
    let mut event: Vec<serde_json::Value> =
        serde_json::from_str(&fs::read_to_string(src.join("event.json")).unwrap()).unwrap();
    event[0]["data"]["recordingStorageInfo"]["recordingChunks"] = serde_json::Value::Array(list);
    fs::write(
        dir.path().join("event.json"),
        serde_json::to_vec(&event).unwrap(),
    )
    .unwrap();
    dir
}

/// Runs `bin args` with at most `fds` open file descriptors (`ulimit -n`).
fn run_limited(fds: u32, bin: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -n {fds} && exec \"$0\" \"$@\""))
        .arg(bin)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().expect("exited, not killed by a signal"),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_recording_of_400_chunks_checks_and_stitches_with_64_file_descriptors() {
    let n = 400;
    let dir = many_chunks(n);
    let d = dir.path().to_str().unwrap();
    let (code, stdout, stderr) = run_limited(64, &example("check"), &[d, "--json", "--no-decode"]);
    // Errors: the chunks' metadata is absent and the durations do not add up; none is about
    // reading a chunk file.
    assert_eq!(code, 1, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["chunks"].as_array().unwrap().len(), n);
    let codes: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"metadata.missing"), "{codes:?}");
    assert!(
        !codes.iter().any(|c| c.starts_with("file.")),
        "{}",
        &stdout[..stdout.len().min(4000)]
    );
    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("many.mp4");
    let t = target.to_str().unwrap();
    let (code, _, stderr) = run_limited(64, &example("stitch"), &[d, "-o", t, "--threads", "2"]);
    assert_eq!(code, 0, "{stderr}");
    let data = fs::read(&target).unwrap();
    let movie = callrec_mp4::Movie::parse(&data).unwrap();
    let chunk = fs::read(dir.path().join("0-eus-d3-many0000000.mp4")).unwrap();
    let one = callrec_mp4::Movie::parse(&chunk).unwrap();
    for (t, o) in movie.tracks.iter().zip(&one.tracks) {
        assert_eq!(t.samples.len(), o.samples.len() * n, "track {}", t.id);
    }
}
