//! The `batch` job on copies of the fixture recordings: what it archives, what it rejects, what
//! a rerun redoes, and how it survives being killed.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use callrec_examples::batch::{self, Entry, Event, Options, Status, Summary};
use callrec_mp4::{Movie, TrackKind};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::util::{bin, copy_dir, testdata};

const GOOD: [&str; 5] = ["basic", "bframes", "faststart", "fragmented", "paused"];

/// A root holding every fixture recording (good and bad) plus folders that are not recordings.
fn fixture_root() -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    for name in GOOD.iter().chain(&["mismatch"]) {
        copy_dir(
            &testdata().join("recordings").join(name),
            &root.path().join("recordings").join(name),
        );
    }
    copy_dir(
        &testdata().join("recordings-bad/missing_chunk"),
        &root.path().join("recordings-bad/missing_chunk"),
    );
    // Not recordings: MP4s without metadata and a JSON that is not chunk metadata.
    copy_dir(&testdata().join("corrupt"), &root.path().join("corrupt"));
    copy_dir(&testdata().join("timelines"), &root.path().join("notes"));
    root
}

fn options(root: &Path, out: &Path, jobs: usize) -> Options {
    let mut opts = Options::new(root, out);
    opts.jobs = jobs;
    opts
}

fn quiet(_: Event<'_>) {}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn json(path: &Path) -> Value {
    serde_json::from_slice(&fs::read(path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every file under `dir`: relative path -> (modification time, bytes); the batch lock file,
/// which every run that holds it rewrites, is left out.
fn snapshot(dir: &Path) -> BTreeMap<String, (SystemTime, Vec<u8>)> {
    let mut files = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            if entry.file_type().unwrap().is_dir() {
                stack.push(path);
            } else {
                let rel = path
                    .strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                if rel == batch::LOCK {
                    continue;
                }
                let mtime = entry.metadata().unwrap().modified().unwrap();
                files.insert(rel, (mtime, fs::read(&path).unwrap()));
            }
        }
    }
    files
}

fn contents(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    contents_of(&snapshot(dir))
}

fn contents_of(snapshot: &BTreeMap<String, (SystemTime, Vec<u8>)>) -> BTreeMap<String, Vec<u8>> {
    snapshot
        .iter()
        .map(|(k, (_, bytes))| (k.clone(), bytes.clone()))
        .filter(|(k, _)| k != batch::MANIFEST)
        .collect()
}

/// The manifest's entries by directory, without the timing (which differs between runs).
fn manifest(out: &Path) -> BTreeMap<String, Entry> {
    let mut m = batch::read_manifest(&out.join(batch::MANIFEST)).unwrap();
    for e in m.values_mut() {
        e.seconds = 0.0;
    }
    m
}

fn outcome<'a>(summary: &'a Summary, dir: &str) -> &'a Entry {
    &summary
        .outcomes
        .iter()
        .find(|o| o.entry.dir == dir)
        .unwrap_or_else(|| panic!("no outcome for {dir}"))
        .entry
}

/// The call id of a fixture recording, read from its chunk metadata.
fn call_id(dir: &Path) -> String {
    let meta = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.ends_with(".json") && !name.ends_with(".packets.json") && name != "event.json"
        })
        .unwrap();
    json(&meta)["callId"].as_str().unwrap().to_string()
}

/// The packets of one stream kind of a recording, in chunk order then decode order, as bytes
/// read from the chunk files at the offsets ffprobe reported.
fn ffprobe_packets(dir: &Path, kind: &str) -> Vec<Vec<u8>> {
    let event = json(&dir.join("event.json"));
    let event = if event.is_array() { &event[0] } else { &event };
    let mut chunks: Vec<(u64, String)> = event["data"]["recordingStorageInfo"]["recordingChunks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let id = c["documentId"].as_str().unwrap().to_string();
            (c["index"].as_u64().unwrap(), id)
        })
        .collect();
    chunks.sort();
    let mut out = Vec::new();
    for (_, id) in chunks {
        let media = fs::read(dir.join(format!("{id}.mp4"))).unwrap();
        let table = json(&dir.join(format!("{id}.packets.json")));
        let stream = table["streams"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["codec_type"] == kind)
            .unwrap()["index"]
            .as_u64()
            .unwrap();
        let mut packets: Vec<(i64, usize, usize)> = table["packets"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["stream"].as_u64() == Some(stream))
            .map(|p| {
                let (dts, pos) = (p["dts"].as_i64().unwrap(), p["pos"].as_u64().unwrap());
                (dts, pos as usize, p["size"].as_u64().unwrap() as usize)
            })
            .collect();
        packets.sort();
        out.extend(
            packets
                .into_iter()
                .map(|(_, pos, size)| media[pos..pos + size].to_vec()),
        );
    }
    out
}

/// Asserts that `mp4` holds, in order, every packet of the recording `dir` byte for byte.
fn assert_stitched(mp4: &[u8], dir: &Path) {
    let movie = Movie::parse(mp4).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for (kind, name) in [(TrackKind::Video, "video"), (TrackKind::Audio, "audio")] {
        let track = movie.track(kind).unwrap();
        let got: Vec<&[u8]> = track
            .samples
            .iter()
            .map(|s| &mp4[s.offset as usize..(s.offset + u64::from(s.size)) as usize])
            .collect();
        let want = ffprobe_packets(dir, name);
        assert_eq!(
            got.len(),
            want.len(),
            "{}: {name} packet count",
            dir.display()
        );
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!(g == w, "{}: {name} packet {i} differs", dir.display());
        }
    }
}

/// Every file at a final path is complete and every manifest line matches its outputs.
fn assert_consistent(out: &Path) {
    for (rel, (_, bytes)) in snapshot(out) {
        let name = rel.rsplit('/').next().unwrap();
        if name.starts_with(".callrec-tmp-") {
            continue; // a hidden temporary (a killed run's), never a final path
        }
        match name {
            batch::RECORDING_MP4 => {
                Movie::parse(&bytes).unwrap_or_else(|e| panic!("{rel}: {e}"));
            }
            batch::CHECK_JSON | batch::TIMELINE_JSON => {
                serde_json::from_slice::<Value>(&bytes).unwrap_or_else(|e| panic!("{rel}: {e}"));
            }
            _ => {}
        }
    }
    for entry in manifest(out).values() {
        for (name, o) in &entry.outputs {
            let bytes = fs::read(out.join(&entry.key).join(name)).unwrap();
            assert_eq!(o.bytes, bytes.len() as u64, "{} {name}", entry.key);
            assert_eq!(o.sha256, sha256(&bytes), "{} {name}", entry.key);
        }
    }
}

/// One batch run (2 jobs) over a fresh fixture root, where every test of this group starts.
struct FirstRun {
    root: tempfile::TempDir,
    out: tempfile::TempDir,
    opts: Options,
    summary: Summary,
}

fn first_run() -> FirstRun {
    let root = fixture_root();
    let out = tempfile::tempdir().unwrap();
    let opts = options(root.path(), out.path(), 2);
    let summary = batch::run(&opts, &quiet).unwrap();
    FirstRun {
        root,
        out,
        opts,
        summary,
    }
}

/// The documentId of the chunk that `basic` has and `missing_chunk` (a copy of it) lacks.
fn lacking_chunk(root: &Path) -> String {
    let stems = |d: &Path| -> BTreeSet<String> {
        fs::read_dir(d)
            .unwrap()
            .filter_map(|f| {
                let name = f.unwrap().file_name().to_string_lossy().into_owned();
                name.strip_suffix(".mp4").map(str::to_string)
            })
            .collect()
    };
    let lacking: Vec<String> = stems(&root.join("recordings/basic"))
        .difference(&stems(&root.join("recordings-bad/missing_chunk")))
        .cloned()
        .collect();
    assert_eq!(lacking.len(), 1);
    lacking.into_iter().next().unwrap()
}

#[test]
fn batch_finds_every_recording_in_path_order_and_lists_each_once_in_the_manifest() {
    let FirstRun { out, summary, .. } = first_run();
    let dirs: Vec<&str> = summary
        .outcomes
        .iter()
        .map(|o| o.entry.dir.as_str())
        .collect();
    let mut expected: Vec<String> = GOOD
        .iter()
        .chain(&["mismatch"])
        .map(|n| format!("recordings/{n}"))
        .collect();
    expected.push("recordings-bad/missing_chunk".into());
    expected.sort_by(|a, b| Path::new(a).cmp(Path::new(b)));
    assert_eq!(dirs, expected, "the recordings found, in path order");
    assert_eq!(summary.skipped(), 0);
    assert_eq!(summary.failed(), 2);
    assert_eq!(summary.exit_code(), 1);

    let m = manifest(out.path());
    assert_eq!(m.len(), 7);
    assert_eq!(
        fs::read_to_string(out.path().join(batch::MANIFEST))
            .unwrap()
            .lines()
            .count(),
        7
    );
    let keys: BTreeSet<&str> = m.values().map(|e| e.key.as_str()).collect();
    assert_eq!(keys.len(), 7, "keys are unique: {keys:?}");
    assert_consistent(out.path());
}

#[test]
fn batch_archives_every_good_recording_with_all_its_packets_and_its_durations() {
    let FirstRun {
        root, out, summary, ..
    } = first_run();
    let m = manifest(out.path());
    for name in GOOD {
        let rel = format!("recordings/{name}");
        let src = root.path().join(&rel);
        let e = outcome(&summary, &rel);
        let mut line = m[&rel].clone();
        line.seconds = e.seconds;
        assert_eq!(e, &line, "the summary holds the manifest line");
        assert_eq!(e.status, Status::Ok, "{rel}: {:?}", e.reason);
        assert_eq!(e.reason, None);
        assert_eq!((e.measures.chunks, e.measures.errors), (3, 0));
        let key_dir = out.path().join(&e.key);
        let mut files: Vec<String> = fs::read_dir(&key_dir)
            .unwrap()
            .map(|d| d.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        files.sort();
        assert_eq!(
            files,
            ["check.json", "recording.mp4", "timeline.json"],
            "{rel}"
        );
        for (file, o) in &e.outputs {
            let bytes = fs::read(key_dir.join(file)).unwrap();
            assert_eq!(o.sha256, sha256(&bytes), "{rel} {file}");
            assert_eq!(o.bytes, bytes.len() as u64, "{rel} {file}");
        }
        let mp4 = fs::read(key_dir.join("recording.mp4")).unwrap();
        assert_stitched(&mp4, &src);
        let check = json(&key_dir.join("check.json"));
        assert_eq!(check["errors"], 0, "{rel}");
        // The durations agree with the metadata: 5 + 4 + 6 s of media in every fixture; the
        // output keeps every audio frame, so each of its 2 joins adds the end padding and the
        // next chunk's priming (under 200 ms).
        let timeline = json(&key_dir.join("timeline.json"));
        let ms = e.measures.media_ms.unwrap();
        assert!((15_000..=15_400).contains(&ms), "{rel}: {ms}");
        assert_eq!(timeline["media_ms"].as_f64(), Some(15_000.0), "{rel}");
        assert_eq!(
            timeline["wall_ms"].as_f64(),
            e.measures.wall_ms.map(|w| w as f64),
            "{rel}"
        );
    }
    // The paused fixture's wall clock: 15 s of media and 7 + 1.5 + 3.25 s of pauses.
    assert_eq!(
        outcome(&summary, "recordings/paused").measures.wall_ms,
        Some(26_750)
    );
    assert_eq!(
        outcome(&summary, "recordings/paused").measures.paused_ms,
        Some(11_750)
    );
}

#[test]
fn batch_rejects_mismatch_on_chunk_1_and_keeps_its_check_report() {
    let FirstRun { out, summary, .. } = first_run();
    let e = outcome(&summary, "recordings/mismatch");
    assert_eq!(e.status, Status::Rejected);
    let reason = e.reason.as_deref().unwrap();
    assert!(reason.contains("video.resolution chunk 1"), "{reason}");
    assert!(reason.contains("1280x720"), "{reason}");
    let check = json(&out.path().join(&e.key).join("check.json"));
    let codes: BTreeSet<&str> = check["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == "error")
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    for code in ["video.resolution", "audio.sample_rate", "audio.channels"] {
        assert!(codes.contains(code), "{code} not in {codes:?}");
    }
    assert_eq!(check["errors"].as_u64(), Some(e.measures.errors as u64));
    assert!(!out.path().join(&e.key).join("recording.mp4").exists());
}

#[test]
fn batch_rejects_missing_chunk_naming_the_chunk_it_lacks() {
    let FirstRun {
        root, out, summary, ..
    } = first_run();
    let e = outcome(&summary, "recordings-bad/missing_chunk");
    assert_eq!(e.status, Status::Rejected);
    let lacking = lacking_chunk(root.path());
    let reason = e.reason.as_deref().unwrap();
    assert!(
        reason.contains("chunk 1") && reason.contains(&lacking),
        "{reason}"
    );
    assert!(!out.path().join(&e.key).join("recording.mp4").exists());
}

#[test]
fn batch_names_output_folders_after_the_call_id_one_per_recording() {
    let FirstRun { root, summary, .. } = first_run();
    // basic and missing_chunk share a call id: two folders, both named after it.
    let basic_id = call_id(&root.path().join("recordings/basic"));
    assert_eq!(
        call_id(&root.path().join("recordings-bad/missing_chunk")),
        basic_id
    );
    let basic_key = &outcome(&summary, "recordings/basic").key;
    let missing_key = &outcome(&summary, "recordings-bad/missing_chunk").key;
    assert_ne!(basic_key, missing_key);
    assert!(basic_key.starts_with(&basic_id) && missing_key.starts_with(&basic_id));
    let faststart_id = call_id(&root.path().join("recordings/faststart"));
    assert_eq!(
        &outcome(&summary, "recordings/faststart").key,
        &faststart_id
    );
}

#[test]
fn batch_rerun_redoes_nothing_and_keeps_every_file_and_mtime() {
    let FirstRun {
        root: _root,
        out,
        opts,
        ..
    } = first_run();
    let before = snapshot(out.path());
    let again = batch::run(&opts, &quiet).unwrap();
    assert_eq!(again.skipped(), 7);
    assert_eq!(again.failed(), 2, "failures are still reported");
    assert_eq!(again.exit_code(), 1);
    assert!(again.table().contains("skipped (earlier run): check found"));
    assert_eq!(snapshot(out.path()), before, "the second run changed files");
}

#[test]
fn batch_redoes_a_recording_whose_output_was_deleted_to_the_same_bytes() {
    let FirstRun {
        root: _root,
        out,
        opts,
        summary,
    } = first_run();
    let before = snapshot(out.path());
    let faststart = out
        .path()
        .join(&outcome(&summary, "recordings/faststart").key);
    fs::remove_file(faststart.join("recording.mp4")).unwrap();
    let redo = batch::run(&opts, &quiet).unwrap();
    assert_eq!(redo.skipped(), 6);
    assert!(
        !redo
            .outcomes
            .iter()
            .find(|o| o.entry.dir == "recordings/faststart")
            .unwrap()
            .skipped
    );
    assert_eq!(contents(out.path()), contents_of(&before));
}

#[test]
fn batch_redoes_only_the_recording_whose_missing_chunk_arrived() {
    let FirstRun {
        root,
        out,
        opts,
        summary,
    } = first_run();
    let before = snapshot(out.path());
    let lacking = lacking_chunk(root.path());
    let basic_key = &outcome(&summary, "recordings/basic").key;
    let missing_key = &outcome(&summary, "recordings-bad/missing_chunk").key;
    // It now stitches to the same bytes as basic, of which it is a copy.
    for ext in ["mp4", "json"] {
        fs::copy(
            root.path()
                .join(format!("recordings/basic/{lacking}.{ext}")),
            root.path()
                .join(format!("recordings-bad/missing_chunk/{lacking}.{ext}")),
        )
        .unwrap();
    }
    let fixed = batch::run(&opts, &quiet).unwrap();
    assert_eq!(fixed.skipped(), 6);
    assert_eq!(fixed.failed(), 1);
    let e = outcome(&fixed, "recordings-bad/missing_chunk");
    assert_eq!((e.status, &e.key), (Status::Ok, missing_key));
    assert_eq!(
        fs::read(out.path().join(missing_key).join("recording.mp4")).unwrap(),
        fs::read(out.path().join(basic_key).join("recording.mp4")).unwrap()
    );
    let after = snapshot(out.path());
    for (rel, v) in &before {
        if !rel.starts_with(missing_key.as_str()) && rel != batch::MANIFEST {
            assert_eq!(after.get(rel), Some(v), "{rel} was touched");
        }
    }
    assert_consistent(out.path());
}

#[test]
fn batch_force_redoes_everything_to_the_same_bytes() {
    let FirstRun {
        root: _root,
        out,
        opts,
        ..
    } = first_run();
    let before = contents(out.path());
    let forced = batch::run(
        &Options {
            force: true,
            ..opts.clone()
        },
        &quiet,
    )
    .unwrap();
    assert_eq!(forced.skipped(), 0);
    assert_eq!(forced.outcomes.len(), 7);
    assert_eq!(contents(out.path()), before);
    let lines = fs::read_to_string(out.path().join(batch::MANIFEST)).unwrap();
    assert_eq!(lines.lines().count(), 7 + 7, "first run, force");
    assert_consistent(out.path());
}

#[test]
fn outputs_do_not_depend_on_the_number_of_jobs_and_wall_clock_is_recorded() {
    let root = fixture_root();
    let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    batch::run(&options(root.path(), one.path(), 1), &quiet).unwrap();
    batch::run(&options(root.path(), two.path(), 2), &quiet).unwrap();
    assert_eq!(contents(one.path()), contents(two.path()));
    assert_eq!(manifest(one.path()), manifest(two.path()));

    // On the wall clock, the paused recording plays for its whole wall span.
    let wall = tempfile::tempdir().unwrap();
    let opts = Options {
        wall_clock: true,
        ..options(root.path(), wall.path(), 2)
    };
    let summary = batch::run(&opts, &quiet).unwrap();
    let e = outcome(&summary, "recordings/paused");
    assert!(e.wall_clock);
    assert_eq!(e.status, Status::Ok);
    let media = e.measures.media_ms.unwrap();
    assert!(
        media.abs_diff(26_750) <= 125,
        "{media} ms (one frame is 125 ms)"
    );

    // Asking for the other timeline mode redoes what was done in the first.
    let summary = batch::run(&options(root.path(), wall.path(), 2), &quiet).unwrap();
    assert_eq!(
        summary.skipped(),
        0,
        "a compact run does not keep wall-clock outputs"
    );
    let e = outcome(&summary, "recordings/paused");
    assert!(!e.wall_clock);
    assert!((15_000..=15_400).contains(&e.measures.media_ms.unwrap()));
    let again = batch::run(&options(root.path(), wall.path(), 2), &quiet).unwrap();
    assert_eq!(again.skipped(), 7, "the same mode again is done");
}

#[test]
fn discovery_finds_recordings_only() {
    let root = fixture_root();
    // A directory with chunk metadata but no event and no media is a recording (a failed one).
    let only_meta = root.path().join("downloads/only-metadata");
    fs::create_dir_all(&only_meta).unwrap();
    let basic = testdata().join("recordings/basic");
    let meta = fs::read_dir(&basic)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            let n = p.file_name().unwrap().to_string_lossy();
            n.ends_with(".json") && !n.ends_with(".packets.json") && n != "event.json"
        })
        .unwrap();
    fs::copy(&meta, only_meta.join("chunk.json")).unwrap();
    // Inside a recording, nothing is searched; hidden directories are skipped.
    copy_dir(&basic, &root.path().join("recordings/paused/nested"));
    copy_dir(&basic, &root.path().join(".cache/basic"));
    // The output directory under the root is not searched.
    let out = root.path().join("archive");
    fs::create_dir_all(out.join("x")).unwrap();
    copy_dir(&basic, &out.join("x"));

    let found: Vec<String> = batch::discover(root.path(), Some(&out))
        .unwrap()
        .iter()
        .map(|d| {
            d.strip_prefix(root.path())
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(
        found,
        [
            "downloads/only-metadata",
            "recordings/basic",
            "recordings/bframes",
            "recordings/faststart",
            "recordings/fragmented",
            "recordings/mismatch",
            "recordings/paused",
            "recordings-bad/missing_chunk",
        ],
        "sorted by path components"
    );
}

#[test]
fn keys_are_unique_and_keep_what_the_manifest_assigned() {
    let dirs: Vec<(String, Option<String>)> = [
        ("a/rec", Some("call-1")),
        ("b/rec", Some("call-1")),
        ("c/rec", Some("call-1")),
        ("d", Some("call-2")),
        ("e", None),
        ("f", Some("../evil/id")),
    ]
    .iter()
    .map(|(d, c)| (d.to_string(), c.map(str::to_string)))
    .collect();
    let keys = batch::assign_keys(&dirs, &BTreeMap::new());
    assert_eq!(keys[3], "call-2");
    assert_eq!(keys[4], "dir-e");
    assert_eq!(keys[5], "_.._evil_id");
    assert_eq!(keys[0], "call-1--rec");
    assert!(keys[1].starts_with("call-1--") && keys[2].starts_with("call-1--"));
    assert_eq!(
        keys.iter().collect::<BTreeSet<_>>().len(),
        keys.len(),
        "{keys:?}"
    );

    // A rerun after part of the work is in the manifest gives the same keys.
    let root = fixture_root();
    let out = tempfile::tempdir().unwrap();
    batch::run(&options(root.path(), out.path(), 2), &quiet).unwrap();
    let full = manifest(out.path());
    for (i, (_, entry)) in full.iter().enumerate() {
        let partial: BTreeMap<String, Entry> = full
            .iter()
            .take(i)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let named: Vec<(String, Option<String>)> = full
            .values()
            .map(|e| (e.dir.clone(), e.call_id.clone()))
            .collect();
        let keys = batch::assign_keys(&named, &partial);
        let want: Vec<&str> = full.values().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, want, "with {} entries before {}", i, entry.dir);
    }
}

const CHILD_ENV: &str = "CALLREC_BATCH_CHILD";

/// Not a test on its own: the child process of `killed_batch_resumes_to_identical_outputs`.
/// Runs the batch named by `CALLREC_BATCH_CHILD` (`ROOT\nOUT\nMODE`) on one thread, and stops
/// to be killed: with MODE `done`, after its first recording; with MODE `stitch`, once a
/// recording is done, in the middle of writing the next one's MP4.
#[test]
#[ignore = "run by killed_batch_resumes_to_identical_outputs"]
fn child_batch_run() {
    let spec = std::env::var(CHILD_ENV).expect("run by the parent test");
    let mut parts = spec.split('\n');
    let (root, out) = (parts.next().unwrap(), parts.next().unwrap());
    let mode = parts.next().unwrap().to_string();
    let done = std::sync::atomic::AtomicUsize::new(0);
    let on_event = |e: Event<'_>| match (e, mode.as_str()) {
        (Event::Done(_), "done") => std::thread::sleep(Duration::from_secs(60)),
        (Event::Done(_), _) => {
            done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        (Event::Stitching { .. }, "stitch")
            if done.load(std::sync::atomic::Ordering::SeqCst) > 0 =>
        {
            std::thread::sleep(Duration::from_secs(60))
        }
        _ => {}
    };
    batch::run(&options(Path::new(root), Path::new(out), 1), &on_event).unwrap();
}

/// Temporary files under `dir` (`key/name`), tolerating files that vanish while it looks.
fn temporaries(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        for file in fs::read_dir(entry.path()).into_iter().flatten().flatten() {
            let name = file.file_name().to_string_lossy().into_owned();
            if name.starts_with(".callrec-tmp-") {
                found.push(format!("{}/{name}", entry.file_name().to_string_lossy()));
            }
        }
    }
    found
}

/// Starts the child batch in `mode` and kills it once it has stopped there: the manifest holds
/// one more recording and, in mode `stitch`, a temporary MP4 exists. Returns the recordings in
/// the manifest.
fn run_and_kill(root: &Path, out: &Path, mode: &str) -> usize {
    let count = || {
        batch::read_manifest(&out.join(batch::MANIFEST))
            .unwrap()
            .len()
    };
    let start = count();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "batch::child_batch_run",
            "--exact",
            "--ignored",
            "--nocapture",
        ])
        .env(
            CHILD_ENV,
            format!("{}\n{}\n{mode}", root.display(), out.display()),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let stitching = || {
        temporaries(out)
            .iter()
            .any(|t| t.contains("/.callrec-tmp-recording.mp4-"))
    };
    while count() <= start || (mode == "stitch" && !stitching()) {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the child ended before it was killed: {status}");
        }
        assert!(Instant::now() < deadline, "the child made no progress");
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    count()
}

#[test]
fn killed_batch_resumes_to_identical_outputs() {
    let root = fixture_root();
    let reference = tempfile::tempdir().unwrap();
    batch::run(&options(root.path(), reference.path(), 2), &quiet).unwrap();

    let out = tempfile::tempdir().unwrap();
    // Killed between two recordings.
    assert_eq!(run_and_kill(root.path(), out.path(), "done"), 1);
    assert_consistent(out.path());
    // Rerun, killed in the middle of writing an MP4: its check.json and timeline.json are in
    // place, the MP4 is only a temporary file, and the manifest does not list the recording.
    let n = run_and_kill(root.path(), out.path(), "stitch");
    assert_eq!(n, 2);
    assert_consistent(out.path());
    let done = manifest(out.path());
    let part = temporaries(out.path());
    assert_eq!(part.len(), 1, "{part:?}");
    assert!(part[0].contains("/.callrec-tmp-recording.mp4-"), "{part:?}");
    let key = part[0].split('/').next().unwrap();
    assert!(
        !done.values().any(|e| e.key == key),
        "{key} is in the manifest"
    );
    assert!(!out.path().join(key).join(batch::RECORDING_MP4).exists());
    assert!(out.path().join(key).join(batch::CHECK_JSON).is_file());
    let lines = fs::read_to_string(out.path().join(batch::MANIFEST)).unwrap();
    assert_eq!(
        lines.lines().count(),
        n,
        "each recording once in the manifest"
    );

    // A kill in the middle of appending to the manifest leaves half a line.
    let mut manifest_file = fs::OpenOptions::new()
        .append(true)
        .open(out.path().join(batch::MANIFEST))
        .unwrap();
    std::io::Write::write_all(&mut manifest_file, b"{\"dir\":\"recordings/pa").unwrap();
    drop(manifest_file);

    let summary = batch::run(&options(root.path(), out.path(), 2), &quiet).unwrap();
    assert_eq!(
        summary.skipped(),
        n,
        "the finished recordings are not redone"
    );
    assert_eq!(summary.outcomes.len(), 7);
    assert_eq!(summary.exit_code(), 1);
    assert_eq!(contents(out.path()), contents(reference.path()));
    assert_eq!(manifest(out.path()), manifest(reference.path()));
    assert!(temporaries(out.path()).is_empty());
    assert_consistent(out.path());
}

#[test]
fn batch_binary_exit_status_and_table() {
    let bin = bin("batch");
    let root = fixture_root();
    let run = |root: &Path| {
        let out = tempfile::tempdir().unwrap();
        Command::new(&bin)
            .arg(root)
            .arg("-o")
            .arg(out.path())
            .args(["-j", "2"])
            .output()
            .unwrap()
    };
    let o = run(root.path());
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("7 recordings: 5 ok, 2 failed, 0 skipped"),
        "{stdout}"
    );
    // Not a terminal: one plain log line per recording, failures with their reason.
    assert!(stderr.contains("rejected 31d50c4e"), "{stderr}");
    assert!(stderr.contains("video.resolution"), "{stderr}");
    assert_eq!(stderr.lines().filter(|l| l.starts_with("ok ")).count(), 5);

    // Only good recordings: exit 0. A root that cannot be read: exit 2.
    let good = tempfile::tempdir().unwrap();
    copy_dir(
        &testdata().join("recordings/paused"),
        &good.path().join("paused"),
    );
    let o = run(good.path());
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = run(&good.path().join("absent"));
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).starts_with("batch: cannot read"));
}

#[test]
fn errors_are_retried_and_rejections_wait_for_new_inputs() {
    let root = tempfile::tempdir().unwrap();
    let broken = root.path().join("broken");
    fs::create_dir_all(&broken).unwrap();
    fs::write(broken.join("event.json"), b"{\"data\": 42}").unwrap();
    let out = tempfile::tempdir().unwrap();
    // Without a call id the key is the directory's name; a file in its way makes writing fail.
    fs::write(out.path().join("dir-broken"), b"in the way").unwrap();
    let opts = options(root.path(), out.path(), 1);

    let first = batch::run(&opts, &quiet).unwrap();
    let e = outcome(&first, "broken");
    assert_eq!((e.status, e.key.as_str()), (Status::Error, "dir-broken"));
    assert!(e.reason.as_deref().unwrap().contains("dir-broken"), "{e:?}");
    assert_eq!(first.exit_code(), 1);

    // An error is retried on the next run; this time the recording itself is rejected.
    fs::remove_file(out.path().join("dir-broken")).unwrap();
    let second = batch::run(&opts, &quiet).unwrap();
    assert_eq!(second.skipped(), 0);
    let e = outcome(&second, "broken");
    assert_eq!(e.status, Status::Rejected);
    assert!(e.reason.as_deref().unwrap().contains("event.json"), "{e:?}");
    assert!(e.outputs.is_empty());

    // A rejection stands while the inputs are unchanged, and is redone when they change.
    let third = batch::run(&opts, &quiet).unwrap();
    assert_eq!((third.skipped(), third.exit_code()), (1, 1));
    fs::remove_file(broken.join("event.json")).unwrap();
    copy_dir(&testdata().join("recordings/paused"), &broken);
    let fourth = batch::run(&opts, &quiet).unwrap();
    let e = outcome(&fourth, "broken");
    assert_eq!(
        (fourth.skipped(), e.status, e.key.as_str()),
        (0, Status::Ok, "dir-broken")
    );
    assert_eq!(fourth.exit_code(), 0);
    assert_consistent(out.path());
}

#[test]
fn recordings_with_a_structurally_broken_chunk_are_not_ok() {
    let dir = testdata().join("corrupt/structure");
    let expected: serde_json::Map<String, Value> =
        serde_json::from_str(&fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    assert_eq!(expected.len(), 18);
    let root = tempfile::tempdir().unwrap();
    for (name, want) in &expected {
        let rec = root.path().join(name.trim_end_matches(".mp4"));
        copy_dir(
            &testdata()
                .join("recordings")
                .join(want["recording"].as_str().unwrap()),
            &rec,
        );
        let chunk0 = callrec::Recording::open(&rec).unwrap().chunks()[0]
            .media_path
            .clone()
            .unwrap();
        fs::copy(dir.join(name), chunk0).unwrap();
    }
    let out = tempfile::tempdir().unwrap();
    let summary = batch::run(&options(root.path(), out.path(), 2), &quiet).unwrap();
    assert_eq!(summary.outcomes.len(), expected.len());
    for (name, want) in &expected {
        let e = outcome(&summary, name.trim_end_matches(".mp4"));
        assert_eq!(e.status, Status::Rejected, "{name}: {:?}", e.reason);
        assert!(e.measures.errors > 0, "{name}");
        let check = fs::read_to_string(out.path().join(&e.key).join("check.json")).unwrap();
        assert!(
            check.contains(&format!("\"code\": {}", want["code"])),
            "{name}: {check}"
        );
        assert!(!out.path().join(&e.key).join("recording.mp4").exists());
    }
    assert_eq!(summary.exit_code(), 1);
}
