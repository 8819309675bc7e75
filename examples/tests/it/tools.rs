//! The five built tools under misuse: closed and full stdout, `--help`, exit statuses, refused
//! output paths, hostile names and sizes, special files where inputs belong.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::util::{bin, copy_dir, run, testdata};

/// Every file under `dir` with its bytes.
pub fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let t = e.file_type().unwrap();
            if t.is_dir() {
                stack.push(e.path());
            } else if t.is_file() {
                out.insert(e.path(), fs::read(e.path()).unwrap());
            }
        }
    }
    out
}

fn mkfifo(path: &Path) {
    assert!(Command::new("mkfifo").arg(path).status().unwrap().success());
}

/// Each tool with arguments that make it print to stdout; the outputs go under `out`.
fn invocations(out: &Path) -> Vec<(&'static str, Vec<String>)> {
    let rec = testdata().join("recordings/paused");
    let mp4 = fs::read_dir(&rec)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "mp4"))
        .unwrap();
    let s = |p: &Path| p.display().to_string();
    vec![
        ("inspect", vec![s(&mp4)]),
        ("check", vec![s(&rec)]),
        ("timeline", vec![s(&rec)]),
        ("stitch", vec![s(&rec), "-o".into(), s(&out.join("s.mp4"))]),
        (
            "batch",
            vec![
                s(&rec),
                "-o".into(),
                s(&out.join("batch")),
                "-j".into(),
                "1".into(),
            ],
        ),
    ]
}

#[test]
fn a_closed_stdout_ends_every_tool_quietly_with_141() {
    let out = tempfile::tempdir().unwrap();
    for (tool, args) in invocations(out.path()) {
        // A pipe whose reader is gone before the tool writes: every write fails with EPIPE.
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let (code, _, stderr) = run(Command::new(bin(tool))
            .args(&args)
            .stdout(Stdio::from(writer)));
        assert_eq!(code, 141, "{tool}: {stderr}");
        assert!(!stderr.contains("panicked"), "{tool}: {stderr}");
        assert!(!stderr.contains("standard output"), "{tool}: {stderr}");
    }
}

#[test]
fn a_full_stdout_is_a_message_and_exit_2_in_every_tool() {
    let out = tempfile::tempdir().unwrap();
    for (tool, args) in invocations(out.path()) {
        let full = fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let (code, _, stderr) = run(Command::new(bin(tool)).args(&args).stdout(full));
        assert_eq!(code, 2, "{tool}: {stderr}");
        assert!(
            stderr.contains(&format!("{tool}: cannot write to standard output")),
            "{tool}: {stderr}"
        );
    }
}

#[test]
fn every_tool_has_its_own_help_and_usage_errors_exit_2() {
    let about = [
        ("inspect", "box tree"),
        ("check", "matches its metadata"),
        ("timeline", "wall-clock timeline"),
        ("stitch", "one lossless MP4"),
        ("batch", "every recording under ROOT"),
    ];
    for (tool, words) in about {
        let (code, stdout, stderr) = run(Command::new(bin(tool)).arg("--help"));
        assert_eq!(code, 0, "{tool}: {stderr}");
        assert!(stdout.contains(words), "{tool}: {stdout}");
        assert!(stdout.contains("Exit status"), "{tool}: {stdout}");
        assert!(
            !stdout.contains("The command-line tools of callrec"),
            "{tool} shows the package's description: {stdout}"
        );
        let (code, _, stderr) = run(Command::new(bin(tool)).arg("--no-such-flag"));
        assert_eq!(code, 2, "{tool}: {stderr}");
    }
    // inspect without a file: clap's usage message.
    let (code, _, stderr) = run(&mut Command::new(bin("inspect")));
    assert_eq!(code, 2);
    assert!(stderr.contains("Usage: inspect"), "{stderr}");
}

#[test]
fn stitch_exit_status_separates_a_bad_recording_from_a_refused_output() {
    let out = tempfile::tempdir().unwrap();
    let rec = testdata().join("recordings");
    let (code, _, stderr) = run(Command::new(bin("stitch"))
        .arg(rec.join("mismatch"))
        .arg("-o")
        .arg(out.path().join("m.mp4")));
    assert_eq!(code, 1, "{stderr}");
    let (code, _, stderr) = run(Command::new(bin("stitch"))
        .arg(rec.join("basic"))
        .arg("-o")
        .arg(rec.join("basic/event.json")));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("refusing to write"), "{stderr}");
}

#[test]
fn outputs_onto_packets_json_or_a_dangling_symlink_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let rec = tmp.path().join("basic");
    copy_dir(&testdata().join("recordings/basic"), &rec);
    let before = files(&rec);
    let packets = before
        .keys()
        .find(|p| p.to_string_lossy().ends_with(".packets.json"))
        .unwrap()
        .clone();
    let link = tmp.path().join("link.mp4");
    std::os::unix::fs::symlink(tmp.path().join("nowhere/x.mp4"), &link).unwrap();
    for (o, timeline) in [
        (packets.clone(), None),
        (tmp.path().join("ok.mp4"), Some(packets.clone())),
        (link.clone(), None),
    ] {
        let mut cmd = Command::new(bin("stitch"));
        cmd.arg(&rec).arg("-o").arg(&o);
        if let Some(t) = &timeline {
            cmd.arg("--timeline").arg(t);
        }
        let (code, _, stderr) = run(&mut cmd);
        assert_eq!(code, 2, "{stderr}");
        assert!(stderr.contains("refusing to write"), "{stderr}");
    }
    assert_eq!(files(&rec), before, "the recording is unchanged");
    assert!(fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(!tmp.path().join("ok.mp4").exists());
}

#[test]
fn a_timeline_that_cannot_be_written_after_the_mp4_says_what_was_written() {
    let out = tempfile::tempdir().unwrap();
    let mp4 = out.path().join("call.mp4");
    // A name longer than a file name may be: the temporary (whose name is cut) is written, the
    // rename fails, after the MP4 is in place.
    let timeline = out.path().join(format!("{}.json", "t".repeat(300)));
    let (code, stdout, stderr) = run(Command::new(bin("stitch"))
        .arg(testdata().join("recordings/basic"))
        .arg("-o")
        .arg(&mp4)
        .arg("--timeline")
        .arg(&timeline));
    assert_eq!(code, 2, "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(
        stderr.contains(&format!("{} is written and complete", mp4.display())),
        "{stderr}"
    );
    assert!(stderr.contains("was NOT written"), "{stderr}");
    assert!(!stderr.contains(".callrec-tmp"), "{stderr}");
    callrec_mp4::Movie::parse(&fs::read(&mp4).unwrap()).unwrap();
    let left: Vec<_> = fs::read_dir(out.path()).unwrap().collect();
    assert_eq!(left.len(), 1, "only the MP4: no temporary is left");
}

#[test]
fn no_message_names_an_internal_temporary_file() {
    // /proc takes no new file: creating the temporary fails.
    let (code, _, stderr) = run(Command::new(bin("stitch"))
        .arg(testdata().join("recordings/basic"))
        .args(["-o", "/proc/callrec-test.mp4"]));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("/proc/callrec-test.mp4"), "{stderr}");
    assert!(!stderr.contains(".callrec-tmp"), "{stderr}");
}

#[test]
fn thread_counts_are_capped_at_the_machine_and_said_so() {
    let out = tempfile::tempdir().unwrap();
    let (code, _, stderr) = run(Command::new(bin("stitch"))
        .arg(testdata().join("recordings/basic"))
        .arg("-o")
        .arg(out.path().join("a.mp4"))
        .args(["--threads", "20000"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("--threads 20000 capped at"), "{stderr}");
    let (code, _, stderr) = run(Command::new(bin("batch"))
        .arg(testdata().join("recordings/basic"))
        .arg("-o")
        .arg(out.path().join("b"))
        .args(["-j", "100000"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("-j 100000 capped at"), "{stderr}");
}

#[test]
fn a_fifo_or_directory_where_a_chunk_belongs_is_not_a_regular_file() {
    for kind in ["fifo", "dir"] {
        let tmp = tempfile::tempdir().unwrap();
        let rec = tmp.path().join("rec");
        copy_dir(&testdata().join("recordings/basic"), &rec);
        let chunk = fs::read_dir(&rec)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|x| x == "mp4"))
            .unwrap();
        fs::remove_file(&chunk).unwrap();
        if kind == "fifo" {
            mkfifo(&chunk);
        } else {
            fs::create_dir(&chunk).unwrap();
        }
        // Returns at all: the FIFO is never opened.
        let (code, stdout, stderr) = run(Command::new(bin("check")).arg(&rec));
        assert_eq!(code, 1, "{kind}: {stdout}{stderr}");
        assert!(stdout.contains("not a regular file"), "{kind}: {stdout}");
        assert!(!stdout.contains("file.missing"), "{kind}: {stdout}");
        let (code, _, stderr) = run(Command::new(bin("stitch"))
            .arg(&rec)
            .arg("-o")
            .arg(tmp.path().join("o.mp4")));
        assert_eq!(code, 2, "{kind}: {stderr}");
        assert!(stderr.contains("not a regular file"), "{kind}: {stderr}");
    }
    // A FIFO event.json: check cannot run, and says why.
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&testdata().join("recordings/basic"), tmp.path());
    fs::remove_file(tmp.path().join("event.json")).unwrap();
    mkfifo(&tmp.path().join("event.json"));
    let (code, _, stderr) = run(Command::new(bin("check")).arg(tmp.path()));
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("event.json: not a regular file"),
        "{stderr}"
    );
}

/// Edits every chunk metadata file of a recording.
fn edit_metadata(dir: &Path, mut edit: impl FnMut(&mut Value)) {
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if name.ends_with(".json") && !name.ends_with(".packets.json") && name != "event.json" {
            let mut v: Value = serde_json::from_slice(&fs::read(&p).unwrap()).unwrap();
            edit(&mut v);
            fs::write(&p, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
        }
    }
}

#[test]
fn saturated_durations_print_out_of_range_and_the_timeline_table_lines_up() {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&testdata().join("recordings/basic"), tmp.path());
    // Chunks of 190 years each: their sum saturates.
    edit_metadata(tmp.path(), |v| {
        v["chunkDuration"] = Value::from(6_000_000_000_000u64);
    });
    let (code, stdout, stderr) = run(Command::new(bin("check")).arg(tmp.path()));
    assert_eq!(code, 1, "{stderr}");
    assert!(stdout.contains("out of range"), "{stdout}");
    assert!(!stdout.contains("9223372036854"), "{stdout}");

    for dir in [
        tmp.path().to_path_buf(),
        testdata().join("recordings/paused"),
    ] {
        let (code, stdout, stderr) = run(Command::new(bin("timeline")).arg(&dir));
        assert_eq!(code, 0, "{stderr}");
        assert!(!stdout.contains("9223372036854"), "{stdout}");
        // The table: from the header to the blank line; its last column is right-aligned, so
        // every row has the header's width.
        let rows: Vec<&str> = stdout
            .lines()
            .skip_while(|l| !l.starts_with("start "))
            .take_while(|l| !l.is_empty())
            .collect();
        assert!(rows.len() > 2, "{stdout}");
        let width = rows[0].chars().count();
        for r in &rows {
            assert_eq!(r.chars().count(), width, "misaligned:\n{}", rows.join("\n"));
        }
    }
}

#[test]
fn one_error_is_singular_and_batch_notes_name_each_chunk_once() {
    let rec = testdata().join("recordings-bad/missing_chunk");
    let (code, stdout, _) = run(Command::new(bin("check")).arg(&rec));
    assert_eq!(code, 1);
    assert!(stdout.contains(": 1 error, 0 warnings"), "{stdout}");

    let out = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = run(Command::new(bin("batch"))
        .arg(&rec)
        .arg("-o")
        .arg(out.path()));
    assert_eq!(code, 1, "{stderr}");
    let line = stderr
        .lines()
        .find(|l| l.starts_with("rejected"))
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(line.contains("check found 1 error, first:"), "{line}");
    let event: Value = serde_json::from_slice(&fs::read(rec.join("event.json")).unwrap()).unwrap();
    let chunks = event[0]["data"]["recordingStorageInfo"]["recordingChunks"]
        .as_array()
        .unwrap();
    let missing = chunks
        .iter()
        .map(|c| c["documentId"].as_str().unwrap())
        .find(|id| !rec.join(format!("{id}.mp4")).exists())
        .unwrap();
    assert_eq!(line.matches(missing).count(), 1, "{line}");
    assert!(stdout.contains("1 recording: 0 ok, 1 failed"), "{stdout}");
}

#[test]
fn batch_refuses_an_output_directory_inside_a_recording() {
    let root = tempfile::tempdir().unwrap();
    let rec = root.path().join("rec");
    copy_dir(&testdata().join("recordings/basic"), &rec);
    let before = files(root.path());
    for out in [rec.clone(), rec.join("archive")] {
        let (code, _, stderr) = run(Command::new(bin("batch"))
            .arg(root.path())
            .arg("-o")
            .arg(&out));
        assert_eq!(code, 2, "{stderr}");
        assert!(
            stderr.contains("inside the recording directory"),
            "{stderr}"
        );
    }
    assert_eq!(files(root.path()), before, "nothing written under the root");
    assert!(!rec.join("archive").exists());
}

#[test]
fn a_second_batch_on_one_out_names_the_holder_or_waits_for_it() {
    let root = tempfile::tempdir().unwrap();
    copy_dir(
        &testdata().join("recordings/basic"),
        &root.path().join("basic"),
    );
    let out = tempfile::tempdir().unwrap();
    // What a running batch holds: the lock, and its pid in the lock file.
    let lock_path = out.path().join(callrec_examples::batch::LOCK);
    let mut lock = fs::File::create(&lock_path).unwrap();
    lock.lock().unwrap();
    std::io::Write::write_all(&mut lock, b"4242\n").unwrap();

    let (code, _, stderr) = run(Command::new(bin("batch"))
        .arg(root.path())
        .arg("-o")
        .arg(out.path()));
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("in use by another batch (pid 4242)"),
        "{stderr}"
    );
    assert!(stderr.contains("--wait"), "{stderr}");
    assert!(!out.path().join(callrec_examples::batch::MANIFEST).exists());

    // --wait: it says it waits, then runs once the lock is released.
    let log = out.path().join("stderr.log");
    let mut child = Command::new(bin("batch"))
        .arg(root.path())
        .arg("-o")
        .arg(out.path())
        .arg("--wait")
        .stdout(Stdio::null())
        .stderr(fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !fs::read_to_string(&log)
        .unwrap()
        .contains("waiting for batch pid 4242")
    {
        assert!(
            child.try_wait().unwrap().is_none(),
            "{}",
            fs::read_to_string(&log).unwrap()
        );
        assert!(
            std::time::Instant::now() < deadline,
            "it never said it waits"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert!(!out.path().join(callrec_examples::batch::MANIFEST).exists());
    drop(lock);
    let status = child.wait().unwrap();
    assert_eq!(
        status.code(),
        Some(0),
        "{}",
        fs::read_to_string(&log).unwrap()
    );
    assert!(out.path().join(callrec_examples::batch::MANIFEST).is_file());
    // Released: the lock file names no process.
    assert_eq!(fs::read_to_string(&lock_path).unwrap(), "");
}

#[test]
fn hostile_call_ids_give_bounded_unique_ordinary_names() {
    let root = tempfile::tempdir().unwrap();
    let long = "x".repeat(300);
    for (dir, id) in [("long", long.as_str()), ("manifest", "manifest.jsonl")] {
        let rec = root.path().join(dir);
        copy_dir(&testdata().join("recordings/basic"), &rec);
        edit_metadata(&rec, |v| v["callId"] = Value::from(id));
        let event = fs::read_to_string(rec.join("event.json")).unwrap();
        let event = event.replace("22884701-5bc3-af52-7874-0cccfc13c65d", id);
        fs::write(rec.join("event.json"), event).unwrap();
    }
    let out = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = run(Command::new(bin("batch"))
        .arg(root.path())
        .arg("-o")
        .arg(out.path()));
    assert_eq!(code, 0, "{stdout}{stderr}");
    let manifest =
        callrec_examples::batch::read_manifest(&out.path().join(callrec_examples::batch::MANIFEST))
            .unwrap();
    assert_eq!(manifest.len(), 2);
    for e in manifest.values() {
        assert!(
            e.key.len() <= callrec_examples::batch::MAX_KEY_BYTES,
            "{}",
            e.key
        );
        assert_ne!(e.key, callrec_examples::batch::MANIFEST);
        assert!(
            out.path().join(&e.key).join("recording.mp4").is_file(),
            "{}",
            e.key
        );
    }
    assert!(out.path().join(callrec_examples::batch::MANIFEST).is_file());
}

#[test]
fn a_tampered_manifest_key_never_escapes_out() {
    let root = tempfile::tempdir().unwrap();
    copy_dir(
        &testdata().join("recordings/basic"),
        &root.path().join("basic"),
    );
    let base = tempfile::tempdir().unwrap();
    let out = base.path().join("out");
    let batch = |extra: &[&str]| {
        run(Command::new(bin("batch"))
            .arg(root.path())
            .arg("-o")
            .arg(&out)
            .args(extra))
    };
    assert_eq!(batch(&[]).0, 0);
    let manifest = out.join(callrec_examples::batch::MANIFEST);
    let mut entry: Value = serde_json::from_str(
        fs::read_to_string(&manifest)
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    entry["key"] = Value::from("../escaped");
    fs::write(&manifest, format!("{entry}\n")).unwrap();
    let (code, _, stderr) = batch(&["--force"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        !base.path().join("escaped").exists(),
        "a path outside OUT was written"
    );
    let entries = callrec_examples::batch::read_manifest(&manifest).unwrap();
    assert!(entries
        .values()
        .all(|e| callrec_examples::batch::valid_key(&e.key)));
    // An output name that is a path is not trusted either.
    let mut entry = entry.clone();
    entry["key"] = Value::from("k");
    entry["outputs"] = serde_json::json!({"../../x": {"bytes": 1, "sha256": "00"}});
    fs::write(&manifest, format!("{entry}\n")).unwrap();
    assert!(callrec_examples::batch::read_manifest(&manifest)
        .unwrap()
        .is_empty());
}

#[test]
fn stitch_says_it_removed_a_killed_runs_temporary() {
    let out = tempfile::tempdir().unwrap();
    // What a SIGKILLed run leaves: pid 0 is no user process.
    let stale = out.path().join(".callrec-tmp-a.mp4-0-abc123");
    fs::write(&stale, b"partial").unwrap();
    let (code, _, stderr) = run(Command::new(bin("stitch"))
        .arg(testdata().join("recordings/basic"))
        .arg("-o")
        .arg(out.path().join("a.mp4")));
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("removed 1 stale temporary file that a killed run left"),
        "{stderr}"
    );
    assert!(!stale.exists());
}

/// `timeline --vtt` on a recording one of whose chunks has no metadata: the cues are those of
/// the chunks that have it, and a note on stderr names the chunk without a cue.
#[test]
fn timeline_vtt_names_a_chunk_without_metadata() {
    let tmp = tempfile::tempdir().unwrap();
    let src = testdata().join("recordings/basic");
    copy_dir(&src, tmp.path());
    let event: Value =
        serde_json::from_slice(&fs::read(tmp.path().join("event.json")).unwrap()).unwrap();
    let id = event[0]["data"]["recordingStorageInfo"]["recordingChunks"][1]["documentId"]
        .as_str()
        .unwrap()
        .to_string();
    fs::remove_file(tmp.path().join(format!("{id}.json"))).unwrap();
    let (code, stdout, stderr) = run(Command::new(bin("timeline")).arg(tmp.path()).arg("--vtt"));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.starts_with("WEBVTT"), "{stdout}");
    assert!(
        stderr.contains(&format!("chunk 1 ({id}) has no metadata")),
        "{stderr}"
    );
}
