//! SIGINT and SIGTERM in the middle of a write: the temporary file is removed, the tool says so
//! and exits 130 or 143. The child is signalled once its temporary MP4 exists (polled, no
//! timing assumption): the synthetic recording is large enough (about 155 MB) that the copy and
//! the sync outlast the poll.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::util::bin;

/// `target/tmp/big-recording-v1/rec`: 2 chunks of 10 minutes, made once and kept.
fn big_root() -> PathBuf {
    static MADE: Mutex<()> = Mutex::new(());
    let _guard = MADE.lock().unwrap_or_else(|e| e.into_inner());
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("big-recording-v1");
    let complete = root.join(".complete");
    if !complete.is_file() {
        let _ = fs::remove_dir_all(&root);
        let src = callrec_benches::Source::load(&callrec_benches::basic_fixture()).unwrap();
        callrec_benches::write_recording(&src, &root.join("rec"), 2, 600, 15_600).unwrap();
        fs::write(&complete, b"").unwrap();
    }
    root
}

/// Names of callrec temporaries anywhere under `dir`.
fn temporaries(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(p);
            } else if e.file_name().to_string_lossy().starts_with(".callrec-tmp-") {
                found.push(p);
            }
        }
    }
    found
}

/// Waits until a temporary MP4 exists under `out`, then sends `signal` to the child and
/// returns its exit code and stderr.
fn signal_once_writing(mut child: Child, out: &Path, signal: &str, log: &Path) -> (i32, String) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !temporaries(out)
        .iter()
        .any(|p| p.to_string_lossy().contains(".mp4-"))
    {
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "ended before it was signalled: {status}\n{}",
                fs::read_to_string(log).unwrap_or_default()
            );
        }
        assert!(Instant::now() < deadline, "no temporary MP4 appeared");
        std::thread::sleep(Duration::from_millis(1));
    }
    let sent = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let status = child.wait().unwrap();
    let stderr = fs::read_to_string(log).unwrap();
    let code = status
        .code()
        .unwrap_or_else(|| panic!("died of a signal: {status}\n{stderr}"));
    (code, stderr)
}

#[test]
fn sigterm_during_stitch_removes_the_temporary_and_exits_143() {
    let root = big_root();
    let out = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let log = logs.path().join("stderr.log");
    let target = out.path().join("call.mp4");
    let child = Command::new(bin("stitch"))
        .arg(root.join("rec"))
        .arg("-o")
        .arg(&target)
        .arg("--timeline")
        .arg(out.path().join("call.json"))
        .stdout(Stdio::null())
        .stderr(fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let (code, stderr) = signal_once_writing(child, out.path(), "TERM", &log);
    assert_eq!(code, 143, "{stderr}");
    assert!(
        stderr.contains("stitch: interrupted by SIGTERM: removed 1 temporary file of this run"),
        "{stderr}"
    );
    assert!(
        stderr.contains("call.json hold what they held before, or are complete"),
        "{stderr}"
    );
    assert!(!stderr.contains(".callrec-tmp"), "{stderr}");
    assert_eq!(
        fs::read_dir(out.path()).unwrap().count(),
        0,
        "nothing left in the output directory"
    );
}

#[test]
fn sigint_during_batch_removes_the_temporaries_and_exits_130() {
    let root = big_root();
    let base = tempfile::tempdir().unwrap();
    let out = base.path().join("out");
    let log = base.path().join("stderr.log");
    let child = Command::new(bin("batch"))
        .arg(&root)
        .arg("-o")
        .arg(&out)
        .args(["-j", "1"])
        .stdout(Stdio::null())
        .stderr(fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let (code, stderr) = signal_once_writing(child, &out, "INT", &log);
    assert_eq!(code, 130, "{stderr}");
    assert!(
        stderr.contains("batch: interrupted by SIGINT: removed 1 temporary file"),
        "{stderr}"
    );
    assert!(stderr.contains("manifest.jsonl"), "{stderr}");
    assert!(temporaries(&out).is_empty(), "{:?}", temporaries(&out));
    // The lock is released with the process: a rerun finishes the work.
    let rerun = Command::new(bin("batch"))
        .arg(&root)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&rerun.stderr);
    assert_eq!(rerun.status.code(), Some(0), "{stderr}");
}
