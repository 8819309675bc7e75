//! Outputs never replace the recording's files, the other output, or a special file.

use std::fs;
use std::path::Path;

use callrec::{Error, Recording, StitchOptions};

use super::{copy_fixture, snapshot};

fn refused(rec: &Recording, opts: &StitchOptions) -> String {
    match rec.stitch(opts) {
        Err(e @ Error::OutputRefused { .. }) => e.to_string(),
        other => panic!("not refused: {other:?}"),
    }
}

fn first_chunk(dir: &Path) -> String {
    let rec = Recording::open(dir).unwrap();
    rec.chunks()[0].document_id.clone()
}

#[test]
fn outputs_onto_the_recordings_own_files_are_refused_before_anything_is_written() {
    let dir = copy_fixture("paused");
    let d = dir.path();
    let before = snapshot(d);
    let id = first_chunk(d);
    let rec = Recording::open(d).unwrap();
    let ok_mp4 = d.join("out.mp4");
    for target in [
        d.join("event.json"),
        d.join(format!("{id}.json")),
        d.join(format!("{id}.mp4")),
        // Through another spelling of the same path.
        d.join(".").join("event.json"),
    ] {
        let msg = refused(&rec, &StitchOptions::new(&target));
        assert!(msg.contains("refusing to write"), "{msg}");
        let msg = refused(&rec, &StitchOptions::new(&ok_mp4).timeline(&target));
        assert!(msg.contains("it is"), "{msg}");
    }
    assert_eq!(snapshot(d), before, "nothing written, nothing changed");
}

#[cfg(unix)]
#[test]
fn a_hard_link_to_an_input_is_refused() {
    let dir = copy_fixture("basic");
    let out = tempfile::tempdir().unwrap();
    let link = out.path().join("link.json");
    fs::hard_link(dir.path().join("event.json"), &link).unwrap();
    let rec = Recording::open(dir.path()).unwrap();
    let msg = refused(&rec, &StitchOptions::new(&link));
    assert!(msg.contains("event.json"), "{msg}");
    assert!(
        fs::read(&link).unwrap().starts_with(b"{") || fs::read(&link).unwrap().starts_with(b"[")
    );
}

#[test]
fn the_timeline_onto_the_mp4_is_refused() {
    let out = tempfile::tempdir().unwrap();
    let rec = Recording::open(super::testdata().join("recordings/basic")).unwrap();
    let x = out.path().join("x");
    let msg = refused(&rec, &StitchOptions::new(&x).timeline(&x));
    assert!(msg.contains("also the output MP4"), "{msg}");
    assert!(!x.exists());
}

#[test]
fn a_directory_target_is_refused_before_the_copy() {
    let out = tempfile::tempdir().unwrap();
    let rec = Recording::open(super::testdata().join("recordings/basic")).unwrap();
    let msg = refused(&rec, &StitchOptions::new(out.path()));
    assert!(msg.contains("directory"), "{msg}");
    assert_eq!(fs::read_dir(out.path()).unwrap().count(), 0);
}

#[cfg(unix)]
#[test]
fn special_file_targets_are_refused() {
    let out = tempfile::tempdir().unwrap();
    let rec = Recording::open(super::testdata().join("recordings/basic")).unwrap();
    let fifo = out.path().join("fifo");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    for target in [fifo.as_path(), Path::new("/dev/null")] {
        let msg = refused(&rec, &StitchOptions::new(target));
        assert!(msg.contains("not a regular file"), "{msg}");
        let msg = refused(
            &rec,
            &StitchOptions::new(out.path().join("a.mp4")).timeline(target),
        );
        assert!(msg.contains("not a regular file"), "{msg}");
    }
    use std::os::unix::fs::FileTypeExt;
    assert!(fs::metadata(&fifo).unwrap().file_type().is_fifo());
    assert!(!out.path().join("a.mp4").exists());
    let err = callrec::write_atomic(&fifo, b"x").unwrap_err();
    assert!(err.to_string().contains("not a regular file"), "{err}");
}

#[test]
fn a_killed_runs_temporaries_are_removed_by_the_next_run_and_counted() {
    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("call.mp4");
    // What a SIGKILLed run leaves: pid 0 is no user process.
    let stale = out.path().join(".callrec-tmp-call.mp4-0-a1b2c3");
    fs::write(&stale, vec![0u8; 1000]).unwrap();
    let rec = Recording::open(super::testdata().join("recordings/basic")).unwrap();
    let s = rec.stitch(&StitchOptions::new(&target)).unwrap();
    assert_eq!(s.stale_removed, 1);
    assert!(!stale.exists());
    let names: Vec<_> = fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["call.mp4"]);
}

#[test]
fn an_output_naming_a_directory_that_does_not_exist_is_refused_up_front() {
    // `-o newdir/`: the rename at the end would fail after all the work.
    let dir = copy_fixture("basic");
    let out = tempfile::tempdir().unwrap();
    let rec = Recording::open(dir.path()).unwrap();
    let target = out.path().join("newdir/");
    let msg = refused(&rec, &StitchOptions::new(&target));
    assert!(msg.contains("names a directory"), "{msg}");
    let msg = refused(
        &rec,
        &StitchOptions::new(out.path().join("ok.mp4")).timeline(&target),
    );
    assert!(msg.contains("names a directory"), "{msg}");
    assert_eq!(fs::read_dir(out.path()).unwrap().count(), 0);
}
