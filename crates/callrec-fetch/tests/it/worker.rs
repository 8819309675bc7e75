//! The queue loop against Azurite and the simulator.

use std::net::TcpListener;
use std::time::Duration;

use callrec_fetch::testkit::{local_mp4, recording_fixture, Fault, Simulator};
use callrec_fetch::{Error, Summary, Worker};
use serde_json::Value;

use crate::common::*;

async fn run(w: &Worker) -> callrec_fetch::Result<Summary> {
    w.run(std::future::pending()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archives_a_recording_despite_every_download_fault() {
    let env = env("faults").await;
    let sim = sim();
    let ev = sim
        .serve_recording(&recording_fixture("basic"), "rec-basic")
        .unwrap();
    for p in sim.paths() {
        let len = sim.object(&p).unwrap().len();
        sim.inject(
            &p,
            [
                Fault::Cut(len / 2),
                Fault::Unavailable,
                Fault::Empty,
                Fault::Html400,
                Fault::Html200,
            ],
        );
    }
    env.queue
        .send(&Simulator::queue_message(&ev))
        .await
        .unwrap();
    let mut cfg = env.config(&sim, &key_b64());
    cfg.staging.block_size = 48 * 1024; // the ~200 kB MP4 goes up in 5 staged blocks, 4 at a time
    let w = Worker::new(cfg).unwrap();
    let s = run(&w).await.unwrap();
    let mp4 = env.container.read("rec-basic/recording.mp4").await.unwrap();
    assert!(
        mp4.len() > 4 * 48 * 1024,
        "{} bytes: not several blocks",
        mp4.len()
    );
    assert!(
        mp4 == local_mp4("basic"),
        "the archived MP4 differs from the local stitch"
    );
    // Each chunk's mdat payload went up in 48 KiB blocks while the
    // others downloaded: most of the blob was not sent again after the stitch.
    assert!(
        s.reused_bytes > mp4.len() as u64 * 3 / 4,
        "{} of {} bytes staged ahead",
        s.reused_bytes,
        mp4.len()
    );
    assert_eq!(
        s,
        Summary {
            archived: 1,
            reused_bytes: s.reused_bytes,
            ..Summary::default()
        }
    );
    let check: Value =
        serde_json::from_slice(&env.container.read("rec-basic/check.json").await.unwrap()).unwrap();
    assert_eq!(check["errors"], 0);
    let timeline: Value =
        serde_json::from_slice(&env.container.read("rec-basic/timeline.json").await.unwrap())
            .unwrap();
    assert!(timeline.is_object() || timeline.is_array());
    assert!(env.drain(false).await.is_empty(), "the message is deleted");
    assert!(env.drain(true).await.is_empty(), "nothing is poisoned");
    assert_eq!(
        std::fs::read_dir(env.workdir.path()).unwrap().count(),
        0,
        "the work directory is cleaned"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_key_stops_the_worker_with_a_clear_error_and_releases_the_message() {
    let env = env("badkey").await;
    let sim = sim();
    let ev = sim
        .serve_recording(&recording_fixture("basic"), "rec-badkey")
        .unwrap();
    env.queue
        .send(&Simulator::queue_message(&ev))
        .await
        .unwrap();
    let w = Worker::new(env.config(&sim, &wrong_key_b64())).unwrap();
    let e = run(&w).await.unwrap_err();
    assert!(matches!(e, Error::Unauthorized { .. }), "{e:?}");
    assert!(e.to_string().contains("CALLREC_ACS_KEY"), "{e}");
    assert_eq!(sim.requests().len(), 1, "stopped at the first 401");
    assert_eq!(
        env.container.size("rec-badkey/check.json").await.unwrap(),
        None
    );
    assert_eq!(
        env.drain(false).await.len(),
        1,
        "the message is back on the queue for a worker with the right key"
    );
    assert!(env.drain(true).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_not_on_the_allow_list_is_never_contacted_and_the_event_is_poisoned() {
    let env = env("forged").await;
    let sim = sim();
    let forged = TcpListener::bind("127.0.0.1:0").unwrap();
    forged.set_nonblocking(true).unwrap();
    let mut ev = sim
        .serve_recording(&recording_fixture("basic"), "rec-forged")
        .unwrap();
    let c = &mut ev["data"]["recordingStorageInfo"]["recordingChunks"][1];
    c["contentLocation"] = Value::String(format!(
        "http://{}/v1/objects/x/content/video",
        forged.local_addr().unwrap()
    ));
    env.queue
        .send(&Simulator::queue_message(&ev))
        .await
        .unwrap();
    let w = Worker::new(env.config(&sim, &key_b64())).unwrap();
    let s = run(&w).await.unwrap();
    assert_eq!(
        s,
        Summary {
            poisoned: 1,
            ..Summary::default()
        }
    );
    let accepted = forged.accept();
    assert!(
        matches!(&accepted, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "contacted: {accepted:?}"
    );
    assert!(
        sim.requests().is_empty(),
        "every URL is vetted before the first download"
    );
    let check: Value =
        serde_json::from_slice(&env.container.read("rec-forged/check.json").await.unwrap())
            .unwrap();
    let msg = check["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("not on the allow-list")
            && msg.contains(&forged.local_addr().unwrap().to_string()),
        "{msg}"
    );
    assert_eq!(
        env.container
            .size("rec-forged/recording.mp4")
            .await
            .unwrap(),
        None
    );
    assert!(env.drain(false).await.is_empty());
    assert_eq!(env.drain(true).await, vec![Simulator::queue_message(&ev)]);
}

/// Two deliveries of one recording `id`: one archive under `<id>/`, one duplicate, each object
/// downloaded once.
async fn duplicate_is_idempotent(env_name: &str, id: &str) {
    let env = env(env_name).await;
    let sim = sim();
    let ev = sim
        .serve_recording(&recording_fixture("basic"), id)
        .unwrap();
    let m = Simulator::queue_message(&ev);
    env.queue.send(&m).await.unwrap();
    env.queue.send(&m).await.unwrap();
    let w = Worker::new(env.config(&sim, &key_b64())).unwrap();
    let s = run(&w).await.unwrap();
    assert_eq!(
        s,
        Summary {
            archived: 1,
            duplicates: 1,
            ..Summary::default()
        }
    );
    // Each object was downloaded once: the second delivery did no work.
    let log = sim.requests();
    assert_eq!(log.len(), sim.paths().len(), "{log:?}");
    assert!(
        env.container
            .read(&format!("{id}/recording.mp4"))
            .await
            .unwrap()
            == local_mp4("basic")
    );
    assert!(env.drain(false).await.is_empty());
    assert!(env.drain(true).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_delivery_is_idempotent() {
    duplicate_is_idempotent("dupes", "rec-dup").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_base64_recording_id_names_its_blobs_and_is_idempotent() {
    // Longer than a batch key may be (160 bytes) and than a local name is kept (120), with
    // the characters of base64: the blobs are `<recordingId>/...` as given.
    let id = format!("eyJQbGF0Zm9ybUVuZHBvaW50SWQiOi{}+a/b=", "Jx".repeat(90));
    assert!(id.len() > 200);
    duplicate_is_idempotent("dupes-long", &id).await;
}

/// A recording in `dir` whose check finds `errors` errors: poisoned, with its check.json and
/// nothing else uploaded.
async fn fails_check(env_name: &str, dir: &std::path::Path, errors: u64) {
    let env = env(env_name).await;
    let sim = sim();
    let id = format!("rec-{env_name}");
    let ev = sim.serve_recording(dir, &id).unwrap();
    env.queue
        .send(&Simulator::queue_message(&ev))
        .await
        .unwrap();
    let w = Worker::new(env.config(&sim, &key_b64())).unwrap();
    let s = run(&w).await.unwrap();
    assert_eq!(
        s,
        Summary {
            poisoned: 1,
            ..Summary::default()
        }
    );
    let check = env.container.read(&format!("{id}/check.json")).await;
    let check: Value = serde_json::from_slice(&check.unwrap()).unwrap();
    assert_eq!(check["errors"], errors, "{check}");
    for other in ["recording.mp4", "timeline.json"] {
        let size = env.container.size(&format!("{id}/{other}")).await.unwrap();
        assert_eq!(size, None, "{other}");
    }
    assert!(env.drain(false).await.is_empty());
    assert_eq!(env.drain(true).await, vec![Simulator::queue_message(&ev)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recording_that_fails_check_lands_in_poison_with_its_check_json() {
    // The stitch refuses it too.
    fails_check("mismatch", &recording_fixture("mismatch"), 5).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recording_that_stitches_but_fails_check_commits_no_mp4() {
    // Good media, but the event says the recording lasted three times as long: the MP4 is
    // stitched (and its blocks staged) while the check runs, and never committed.
    let dir = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(recording_fixture("basic")).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, dir.path().join(p.file_name().unwrap())).unwrap();
    }
    let event = dir.path().join("event.json");
    let text = std::fs::read_to_string(&event).unwrap();
    let long = text.replace(
        "\"recordingDurationMs\": 15000",
        "\"recordingDurationMs\": 45000",
    );
    assert_ne!(long, text);
    std::fs::write(&event, long).unwrap();
    fails_check("longer", dir.path(), 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transient_fault_on_the_last_delivery_goes_to_poison_and_other_events_are_deleted() {
    let env = env("lastdelivery").await;
    let sim = sim();
    let ev = sim
        .serve_recording(&recording_fixture("basic"), "rec-down")
        .unwrap();
    let p = sim.paths()[0].clone();
    sim.inject(&p, std::iter::repeat_n(Fault::Unavailable, 100));
    let other = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        r#"{"eventType":"Microsoft.Communication.CallStarted","data":{}}"#,
    );
    env.queue.send(&other).await.unwrap();
    env.queue
        .send(&Simulator::queue_message(&ev))
        .await
        .unwrap();
    let mut cfg = env.config(&sim, &key_b64());
    cfg.max_dequeues = 1;
    cfg.retry.attempts = 3;
    let s = Worker::new(cfg)
        .unwrap()
        .run(std::future::pending())
        .await
        .unwrap();
    assert_eq!(
        s,
        Summary {
            poisoned: 1,
            ignored: 1,
            ..Summary::default()
        }
    );
    let check: Value =
        serde_json::from_slice(&env.container.read("rec-down/check.json").await.unwrap()).unwrap();
    let msg = check["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("gave up after 3 attempts") && msg.contains("503"),
        "{msg}"
    );
    assert!(env.drain(false).await.is_empty());
    assert_eq!(env.drain(true).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_source_deletes_every_chunk_only_after_the_blobs_are_committed() {
    let env = env("deletesource").await;
    let sim = sim();
    let ev = sim
        .serve_recording(&recording_fixture("basic"), "rec-delete")
        .unwrap();
    env.queue
        .send(&Simulator::queue_message(&ev))
        .await
        .unwrap();
    let mut cfg = env.config(&sim, &key_b64());
    cfg.delete_source = true;
    let s = Worker::new(cfg)
        .unwrap()
        .run(std::future::pending())
        .await
        .unwrap();
    assert_eq!(
        s,
        Summary {
            archived: 1,
            ..Summary::default()
        }
    );
    let log = sim.requests();
    let deletes: Vec<_> = log.iter().filter(|r| r.method == "DELETE").collect();
    assert_eq!(deletes.len(), 3, "{log:?}");
    assert!(deletes.iter().all(|r| r.status == 200), "{deletes:?}");
    // The deletes come last: after every download (and so after the uploads that follow them).
    assert!(
        log[log.len() - 3..].iter().all(|r| r.method == "DELETE"),
        "{log:?}"
    );
    assert!(env
        .container
        .size("rec-delete/recording.mp4")
        .await
        .unwrap()
        .is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_delivery_of_a_rejected_recording_is_poisoned_and_downloads_once() {
    let env = env("dupreject").await;
    let sim = sim();
    let ev = sim
        .serve_recording(&recording_fixture("mismatch"), "rec-dupreject")
        .unwrap();
    let m = Simulator::queue_message(&ev);
    env.queue.send(&m).await.unwrap();
    env.queue.send(&m).await.unwrap();
    let s = run(&Worker::new(env.config(&sim, &key_b64())).unwrap())
        .await
        .unwrap();
    // The second delivery finds the rejection in place and moves to poison too (an earlier
    // delivery may have been stopped between its manifest and its move: nothing is lost).
    assert_eq!(
        s,
        Summary {
            poisoned: 2,
            ..Summary::default()
        }
    );
    let log = sim.requests();
    assert_eq!(log.len(), sim.paths().len(), "downloaded once: {log:?}");
    let manifest: Value = serde_json::from_slice(
        &env.container
            .read("rec-dupreject/manifest.json")
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(manifest["status"], "rejected", "{manifest}");
    assert!(env.drain(false).await.is_empty());
    assert_eq!(
        env.drain(true).await,
        vec![m.clone(), m],
        "each delivery in poison"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_whose_blob_no_longer_matches_the_manifest_is_archived_again() {
    let env = env("tampered").await;
    let sim = sim();
    let ev = sim
        .serve_recording(&recording_fixture("basic"), "rec-tampered")
        .unwrap();
    let m = Simulator::queue_message(&ev);
    env.queue.send(&m).await.unwrap();
    let w = Worker::new(env.config(&sim, &key_b64())).unwrap();
    assert_eq!(run(&w).await.unwrap().archived, 1);
    let manifest: Value = serde_json::from_slice(
        &env.container
            .read("rec-tampered/manifest.json")
            .await
            .unwrap(),
    )
    .unwrap();
    let want = local_mp4("basic");
    assert_eq!(
        manifest["outputs"]["recording.mp4"]["bytes"],
        want.len() as u64
    );
    // Someone replaces the archived MP4 with other bytes of the same size.
    let other = env.workdir.path().join("other.mp4");
    std::fs::write(&other, vec![7u8; want.len()]).unwrap();
    let up = env
        .container
        .upload_file(
            "rec-tampered/recording.mp4",
            &other,
            "video/mp4",
            callrec_fetch::Staging::default(),
        )
        .await
        .unwrap();
    assert_ne!(up.sha256, manifest["outputs"]["recording.mp4"]["sha256"]);
    std::fs::remove_file(&other).unwrap();
    env.queue.send(&m).await.unwrap();
    assert_eq!(run(&w).await.unwrap().archived, 1, "worked again");
    assert_eq!(sim.requests().len(), 2 * sim.paths().len());
    assert!(
        env.container
            .read("rec-tampered/recording.mp4")
            .await
            .unwrap()
            == want
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn distinct_recording_ids_made_safe_alike_are_both_archived() {
    let env = env("collide").await;
    let sim = sim();
    let a = sim
        .serve_recording(&recording_fixture("basic"), "call 42")
        .unwrap();
    let b = sim
        .serve_recording(&recording_fixture("paused"), "call_42")
        .unwrap();
    env.queue.send(&Simulator::queue_message(&a)).await.unwrap();
    env.queue.send(&Simulator::queue_message(&b)).await.unwrap();
    let s = run(&Worker::new(env.config(&sim, &key_b64())).unwrap())
        .await
        .unwrap();
    assert_eq!(
        s,
        Summary {
            archived: 2,
            ..Summary::default()
        }
    );
    // Each under its own prefix, naming its own recording.
    for (id, fixture) in [("call 42", "basic"), ("call_42", "paused")] {
        let prefix = callrec_fetch::blob_prefix(id);
        let m = env
            .container
            .read(&format!("{prefix}/manifest.json"))
            .await
            .unwrap();
        let m: Value = serde_json::from_slice(&m).unwrap();
        assert_eq!(m["dir"], id, "{m}");
        let mp4 = env
            .container
            .read(&format!("{prefix}/recording.mp4"))
            .await
            .unwrap();
        assert!(mp4 == local_mp4(fixture), "{id}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prefix_holding_another_recording_is_never_overwritten() {
    let env = env("foreign").await;
    let sim = sim();
    let ev = sim
        .serve_recording(&recording_fixture("basic"), "rec-foreign")
        .unwrap();
    // A manifest of another recording already under this one's prefix.
    let entry = callrec_archive::Entry::rejected(
        "someone else",
        "rec-foreign",
        1,
        "its own reason".into(),
        Default::default(),
    );
    let other = serde_json::to_string(&entry).unwrap();
    let path = env.workdir.path().join("other.json");
    std::fs::write(&path, &other).unwrap();
    env.container
        .upload_file(
            "rec-foreign/manifest.json",
            &path,
            "application/json",
            Default::default(),
        )
        .await
        .unwrap();
    std::fs::remove_file(&path).unwrap();
    let m = Simulator::queue_message(&ev);
    env.queue.send(&m).await.unwrap();
    let s = run(&Worker::new(env.config(&sim, &key_b64())).unwrap())
        .await
        .unwrap();
    assert_eq!(
        s,
        Summary {
            poisoned: 1,
            ..Summary::default()
        }
    );
    assert!(sim.requests().is_empty(), "nothing downloaded");
    let kept = env
        .container
        .read("rec-foreign/manifest.json")
        .await
        .unwrap();
    assert_eq!(kept, other.as_bytes());
    assert_eq!(
        env.container.size("rec-foreign/check.json").await.unwrap(),
        None
    );
    assert_eq!(env.drain(true).await, vec![m]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recording_another_worker_here_holds_is_left_for_later() {
    let env = env("held").await;
    let sim = sim();
    let ev = sim
        .serve_recording(&recording_fixture("basic"), "rec-held")
        .unwrap();
    let m = Simulator::queue_message(&ev);
    env.queue.send(&m).await.unwrap();
    let mut cfg = env.config(&sim, &key_b64());
    cfg.visibility = Duration::from_secs(1);
    // Another worker sharing the work directory holds the recording's lock.
    let locks = env.workdir.path().join(".locks");
    std::fs::create_dir_all(&locks).unwrap();
    let lock = locks.join(format!("{}.lock", callrec_fetch::local_name("rec-held")));
    let held = std::fs::File::create(&lock).unwrap();
    held.try_lock().unwrap();
    let w = Worker::new(cfg).unwrap();
    let s = w
        .run(tokio::time::sleep(Duration::from_millis(2500)))
        .await
        .unwrap();
    assert_eq!((s.archived, s.poisoned), (0, 0), "{s:?}");
    assert!(s.retried >= 1, "{s:?}");
    assert!(
        sim.requests().is_empty(),
        "nothing downloaded while it is held"
    );
    assert_eq!(
        env.container.size("rec-held/manifest.json").await.unwrap(),
        None
    );
    // Released (and removed, as a worker does), the next delivery archives it.
    std::fs::remove_file(&lock).unwrap();
    drop(held);
    let s = run(&w).await.unwrap();
    assert_eq!(s.archived, 1, "{s:?}");
    assert!(env.drain(true).await.is_empty());
    // Nothing is left of the lock: the work directory is empty.
    let left: Vec<_> = std::fs::read_dir(env.workdir.path()).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_metadata_file_too_large_to_be_one_is_not_read_and_the_event_is_poisoned() {
    let env = env("bigmeta").await;
    let sim = sim();
    let ev = sim
        .serve_recording(&recording_fixture("basic"), "rec-bigmeta")
        .unwrap();
    // The first chunk's metadata (fetched first, alone) is 17 MiB.
    let meta = ev["data"]["recordingStorageInfo"]["recordingChunks"][0]["metadataLocation"]
        .as_str()
        .unwrap()
        .to_string();
    let path = sim
        .paths()
        .into_iter()
        .find(|p| meta.ends_with(p.as_str()))
        .unwrap();
    sim.replace(&path, vec![b' '; 17 << 20]);
    let m = Simulator::queue_message(&ev);
    env.queue.send(&m).await.unwrap();
    let s = run(&Worker::new(env.config(&sim, &key_b64())).unwrap())
        .await
        .unwrap();
    assert_eq!(
        s,
        Summary {
            poisoned: 1,
            ..Summary::default()
        }
    );
    let check = env.container.read("rec-bigmeta/check.json").await.unwrap();
    let check = String::from_utf8(check).unwrap();
    assert!(check.contains(&(17u64 << 20).to_string()), "{check}");
    assert_eq!(env.drain(true).await, vec![m]);
}
