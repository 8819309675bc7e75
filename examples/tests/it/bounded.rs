//! Bounded resources at binary level: a recording of many chunks is checked and stitched with
//! one chunk file open at a time (no memory maps, no descriptor per chunk).

use std::fs;
use std::path::Path;
use std::process::Command;

use crate::util::{bin, finding_codes, run, testdata};

/// A recording of `n` chunks in a temporary directory: hard links of one copy of the `basic`
/// fixture's first chunk file (chunk 0's; never links to the fixture itself, which a test
/// may cut), an event listing them, no metadata files.
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
    let first = dir.path().join("0-eus-d3-many0000000.mp4");
    fs::copy(&chunk, &first).unwrap();
    for i in 0..n {
        let id = format!("0-eus-d3-many{i:07}");
        if i > 0 {
            fs::hard_link(&first, dir.path().join(format!("{id}.mp4"))).unwrap();
        }
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
    run(Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -n {fds} && exec \"$0\" \"$@\""))
        .arg(bin)
        .args(args))
}

#[test]
fn a_recording_of_400_chunks_checks_and_stitches_with_64_file_descriptors() {
    let n = 400;
    let dir = many_chunks(n);
    let d = dir.path().to_str().unwrap();
    let (code, stdout, stderr) = run_limited(64, &bin("check"), &[d, "--json", "--no-decode"]);
    // Errors: the chunks' metadata is absent and the durations do not add up; none is about
    // reading a chunk file.
    assert_eq!(code, 1, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["chunks"].as_array().unwrap().len(), n);
    let codes = finding_codes(&report);
    assert!(codes.contains(&"metadata.missing"), "{codes:?}");
    assert!(
        !codes.iter().any(|c| c.starts_with("file.")),
        "{}",
        &stdout[..stdout.len().min(4000)]
    );
    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("many.mp4");
    let t = target.to_str().unwrap();
    let (code, _, stderr) = run_limited(64, &bin("stitch"), &[d, "-o", t, "--threads", "2"]);
    assert_eq!(code, 0, "{stderr}");
    let data = fs::read(&target).unwrap();
    let movie = callrec_mp4::Movie::parse(&data).unwrap();
    let chunk = fs::read(dir.path().join("0-eus-d3-many0000000.mp4")).unwrap();
    let one = callrec_mp4::Movie::parse(&chunk).unwrap();
    for (t, o) in movie.tracks.iter().zip(&one.tracks) {
        assert_eq!(t.samples.len(), o.samples.len() * n, "track {}", t.id);
    }
}

#[test]
fn chunks_truncated_while_check_reads_them_are_findings_not_a_signal() {
    // 1,000 chunks that are one file (hard links): cutting it once cuts every chunk the check
    // has not read yet, while it runs. A memory-mapped reader dies with SIGBUS here.
    let dir = many_chunks(1000);
    let chunk = dir.path().join("0-eus-d3-many0000000.mp4");
    let len = fs::metadata(&chunk).unwrap().len();
    let child = Command::new(bin("check"))
        .arg(dir.path())
        .arg("--json")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Early in the run (decoding 4,000 s of audio takes far longer): the mapped reader of
    // old had mapped every chunk by then; every chunk read after the cut is cut short.
    std::thread::sleep(std::time::Duration::from_millis(30));
    fs::OpenOptions::new()
        .write(true)
        .open(&chunk)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let code = out.status.code().unwrap_or_else(|| {
        panic!(
            "check was killed by a signal: {:?}",
            std::os::unix::process::ExitStatusExt::signal(&out.status)
        )
    });
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(code, 1, "{stderr}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let codes = finding_codes(&report);
    // The chunks read after the cut are truncated (or changed, when the cut came mid-read).
    assert!(
        codes
            .iter()
            .any(|c| *c == "mp4.truncated" || *c == "file.changed"),
        "the cut came after the check had read every chunk: {codes:?}"
    );
}
