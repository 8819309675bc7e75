//! The download client against the simulator: faults, auth, allow-list, resume.

use std::net::TcpListener;

use callrec_fetch::testkit::{recording_fixture, Fault};
use callrec_fetch::{AcsKey, AllowList, Downloader, Error, RetryPolicy, Url};

use crate::common::*;

fn downloader(key: &str, allow: AllowList, retry: RetryPolicy) -> Downloader {
    Downloader::new(
        &ACS.parse().unwrap(),
        AcsKey::from_base64(key).unwrap(),
        allow,
        retry,
    )
    .unwrap()
}

#[tokio::test]
async fn every_chunk_arrives_intact_despite_every_fault() {
    let sim = sim();
    sim.serve_recording(&recording_fixture("basic"), "rec-faults")
        .unwrap();
    let paths = sim.paths();
    assert_eq!(paths.len(), 6);
    // Each kind of fault on every object, cuts first so that later answers must resume.
    for (i, p) in paths.iter().enumerate() {
        let len = sim.object(p).unwrap().len();
        sim.inject(
            p,
            [
                Fault::Cut(len / 3),
                Fault::Unavailable,
                Fault::Empty,
                Fault::Html400,
                Fault::Html200,
                Fault::Cut(len / 2 + i),
            ],
        );
    }
    let d = downloader(&key_b64(), allow(&sim), fast_retry());
    let dir = tempfile::tempdir().unwrap();
    for (i, p) in paths.iter().enumerate() {
        let url: Url = format!("{}{p}", sim.base()).parse().unwrap();
        let dest = dir.path().join(format!("{i}.bin"));
        let n = d.download(&url, &dest).await.unwrap();
        let want = sim.object(p).unwrap();
        assert_eq!(n as usize, want.len(), "{p}");
        assert!(std::fs::read(&dest).unwrap() == *want, "{p}: bytes differ");
        assert!(!dir.path().join(format!("{i}.bin.part")).exists());
    }
    let log = sim.requests();
    for p in &paths {
        let len = sim.object(p).unwrap().len();
        let mine: Vec<_> = log.iter().filter(|r| &r.path == p).collect();
        assert_eq!(mine.len(), 7, "{p}: {mine:?}");
        // After the first cut every request resumes from the bytes on disk: the 0-byte
        // answer and the HTML pages leave them be; the second cut adds to them.
        assert_eq!(mine[0].range, None);
        for r in &mine[1..6] {
            assert_eq!(r.range, Some(format!("bytes={}-", len / 3)), "{p}: {r:?}");
        }
        let last = mine[6].range.as_deref().unwrap();
        let from: usize = last["bytes=".len()..last.len() - 1].parse().unwrap();
        assert!(from > len / 3 && from < len, "{p}: {last}");
        assert_eq!(
            mine.last().unwrap().status,
            206,
            "{p}: finished by a ranged request"
        );
    }
}

#[tokio::test]
async fn a_wrong_key_is_a_clear_401_and_is_not_retried() {
    let sim = sim();
    sim.serve_recording(&recording_fixture("basic"), "rec-key")
        .unwrap();
    let p = &sim.paths()[0];
    let url: Url = format!("{}{p}", sim.base()).parse().unwrap();
    let d = downloader(&wrong_key_b64(), allow(&sim), fast_retry());
    let dir = tempfile::tempdir().unwrap();
    let e = d.download(&url, &dir.path().join("x")).await.unwrap_err();
    assert!(matches!(e, Error::Unauthorized { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains("401") && msg.contains("CALLREC_ACS_KEY") && msg.contains("--acs-endpoint"),
        "{msg}"
    );
    assert!(e.stops_worker());
    assert_eq!(sim.requests().len(), 1, "a 401 is not retried");
}

#[tokio::test]
async fn signing_for_another_acs_host_is_refused() {
    let sim = sim();
    sim.serve_recording(&recording_fixture("basic"), "rec-host")
        .unwrap();
    let p = &sim.paths()[0];
    let url: Url = format!("{}{p}", sim.base()).parse().unwrap();
    let d = Downloader::new(
        &"https://another.communication.azure.com".parse().unwrap(),
        AcsKey::from_base64(&key_b64()).unwrap(),
        allow(&sim),
        fast_retry(),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let e = d.download(&url, &dir.path().join("x")).await.unwrap_err();
    assert!(
        e.to_string().contains("another.communication.azure.com"),
        "{e}"
    );
}

#[tokio::test]
async fn a_host_not_on_the_allow_list_is_never_contacted() {
    let forged = TcpListener::bind("127.0.0.1:0").unwrap();
    forged.set_nonblocking(true).unwrap();
    let url: Url = format!(
        "http://{}/v1/objects/x/content/video",
        forged.local_addr().unwrap()
    )
    .parse()
    .unwrap();
    let d = downloader(&key_b64(), AllowList::default(), fast_retry());
    let dir = tempfile::tempdir().unwrap();
    let e = d.download(&url, &dir.path().join("x")).await.unwrap_err();
    assert!(matches!(e, Error::HostNotAllowed { .. }), "{e:?}");
    assert!(e.is_permanent());
    let accepted = forged.accept();
    assert!(
        matches!(&accepted, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the forged host was contacted: {accepted:?}"
    );
    assert!(!dir.path().join("x").exists() && !dir.path().join("x.part").exists());
}

#[tokio::test]
async fn a_missing_chunk_is_404_not_found_and_not_retried() {
    let sim = sim();
    let url: Url = format!("{}/v1/objects/gone/content/video", sim.base())
        .parse()
        .unwrap();
    let d = downloader(&key_b64(), allow(&sim), fast_retry());
    let dir = tempfile::tempdir().unwrap();
    let e = d.download(&url, &dir.path().join("x")).await.unwrap_err();
    assert!(matches!(e, Error::NotFound { .. }), "{e:?}");
    assert!(e.to_string().contains("retention"), "{e}");
    assert_eq!(sim.requests().len(), 1);
}

#[tokio::test]
async fn retries_stop_after_the_policy_naming_the_last_fault() {
    let sim = sim();
    sim.serve_recording(&recording_fixture("basic"), "rec-503")
        .unwrap();
    let p = sim.paths()[0].clone();
    sim.inject(&p, std::iter::repeat_n(Fault::Unavailable, 10));
    let url: Url = format!("{}{p}", sim.base()).parse().unwrap();
    let retry = RetryPolicy {
        attempts: 3,
        ..fast_retry()
    };
    let d = downloader(&key_b64(), allow(&sim), retry);
    let dir = tempfile::tempdir().unwrap();
    let e = d.download(&url, &dir.path().join("x")).await.unwrap_err();
    let Error::RetriesExhausted { attempts, last, .. } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(*attempts, 3);
    assert!(last.contains("503"), "{last}");
    assert_eq!(sim.requests().len(), 3);
}

#[tokio::test]
async fn a_partial_file_of_a_killed_run_is_resumed_with_range() {
    let sim = sim();
    sim.serve_recording(&recording_fixture("basic"), "rec-resume")
        .unwrap();
    let p = sim
        .paths()
        .into_iter()
        .find(|p| p.ends_with("/video"))
        .unwrap();
    let want = sim.object(&p).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("c.mp4.part"), &want[..700]).unwrap();
    let url: Url = format!("{}{p}", sim.base()).parse().unwrap();
    let d = downloader(&key_b64(), allow(&sim), fast_retry());
    d.download(&url, &dir.path().join("c.mp4")).await.unwrap();
    assert!(std::fs::read(dir.path().join("c.mp4")).unwrap() == *want);
    let log = sim.requests();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].range.as_deref(), Some("bytes=700-"));
    assert_eq!(log[0].status, 206);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_is_verified_by_its_committed_blocks_and_sha256() {
    let env = env("verify").await;
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    std::fs::write(&a, vec![1u8; 300_000]).unwrap();
    std::fs::write(&b, vec![2u8; 300_000]).unwrap();
    let c = &env.container;
    let small = callrec_fetch::Staging {
        block_size: 128 * 1024,
        parallel: 2,
    };
    let up_a = c
        .upload_file("x/blob", &a, "video/mp4", small)
        .await
        .unwrap();
    assert_eq!((up_a.bytes, up_a.blocks.len()), (300_000, 3));
    // The upload hashed what it sent.
    let want = callrec_archive::Output::of(&std::fs::read(&a).unwrap());
    assert_eq!(up_a.sha256, want.sha256);
    c.verify("x/blob", &up_a).await.unwrap();
    // Other bytes of the same size under the name: the sha256 metadata says so, and where
    // it is forged to match, the committed blocks do.
    let up_b = c
        .upload_file("x/blob", &b, "video/mp4", small)
        .await
        .unwrap();
    let e = c.verify("x/blob", &up_a).await.unwrap_err();
    assert!(
        matches!(&e, callrec_fetch::Error::Verify { what, .. } if what == "sha256 metadata"),
        "{e}"
    );
    let forged = callrec_fetch::Uploaded {
        sha256: up_b.sha256.clone(),
        ..up_a.clone()
    };
    let e = c.verify("x/blob", &forged).await.unwrap_err();
    assert!(
        matches!(&e, callrec_fetch::Error::Verify { what, .. } if what.starts_with("committed blocks")),
        "{e}"
    );
    let e = c.verify("x/missing", &up_a).await.unwrap_err().to_string();
    assert!(e.contains("x/missing"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunk_bytes_staged_ahead_make_the_stitched_blob_and_a_changed_chunk_is_sent_again() {
    let env = env("ahead").await;
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("rec");
    std::fs::create_dir(&rec).unwrap();
    let mut chunks = Vec::new();
    for e in std::fs::read_dir(recording_fixture("basic")).unwrap() {
        let p = e.unwrap().path();
        let to = rec.join(p.file_name().unwrap());
        std::fs::copy(&p, &to).unwrap();
        if p.extension().is_some_and(|e| e == "mp4") {
            chunks.push(to);
        }
    }
    let got = std::sync::Mutex::new(None);
    let job = callrec_archive::Job::new(&rec, dir.path().join("out"), Default::default());
    let o = job.run_with(&|_, _| {}, &|s| *got.lock().unwrap() = Some(s.clone()));
    assert_eq!(o.status, callrec_archive::Status::Ok, "{:?}", o.reason);
    let stitched = got.into_inner().unwrap().unwrap();
    let want = std::fs::read(&stitched.path).unwrap();
    let c = &env.container;
    let small = callrec_fetch::Staging {
        block_size: 16 * 1024,
        parallel: 2,
    };
    let mut ahead = Vec::new();
    for p in &chunks {
        ahead.extend(c.stage_ahead("r/recording.mp4", p, small).await.unwrap());
    }
    // Each chunk's mdat payload, cut from its start.
    assert_eq!(chunks.len(), 3);
    let staged: u64 = ahead.iter().map(|a| a.len).sum();
    assert!(
        staged > want.len() as u64 * 9 / 10,
        "{staged} of {}",
        want.len()
    );
    let upload = |ahead: Vec<callrec_fetch::Ahead>| {
        let s = &stitched;
        async move {
            let up = c
                .stage_reusing("r/recording.mp4", &s.path, &s.copies, &ahead, small)
                .await
                .unwrap();
            let up = c.commit("r/recording.mp4", up, "video/mp4").await.unwrap();
            c.verify("r/recording.mp4", &up).await.unwrap();
            up
        }
    };
    let up = upload(ahead.clone()).await;
    // The blob is the output byte for byte, its SHA-256 the output's; only the header, the
    // padding and the ends of runs went up again.
    assert_eq!(c.read("r/recording.mp4").await.unwrap(), want);
    assert_eq!(up.sha256, callrec_archive::Output::of(&want).sha256);
    assert_eq!(up.reused, staged, "every block staged ahead is used");
    // A chunk whose bytes changed after they went up: its blocks are not trusted, the
    // output's bytes are sent instead, and the blob is still the output.
    let first = &ahead[0];
    let mut bytes = std::fs::read(&first.source).unwrap();
    bytes[first.src_offset as usize + 10] ^= 0xff;
    std::fs::write(&first.source, bytes).unwrap();
    let again = upload(ahead.clone()).await;
    assert_eq!(again.reused, staged - first.len);
    assert_eq!(c.read("r/recording.mp4").await.unwrap(), want);
    assert_eq!(again.sha256, up.sha256);
    // Read against the blocks still going up: one that never went up is sent from the output.
    let s = &stitched;
    let (last, went_up) = ahead.split_last().unwrap();
    let later = c
        .stage_reusing_later(
            "r/recording.mp4",
            &s.path,
            &s.copies,
            &ahead,
            async { went_up.to_vec() },
            small,
        )
        .await
        .unwrap();
    assert_eq!(later.reused, staged - first.len - last.len);
    let later = c
        .commit("r/recording.mp4", later, "video/mp4")
        .await
        .unwrap();
    c.verify("r/recording.mp4", &later).await.unwrap();
    assert_eq!(c.read("r/recording.mp4").await.unwrap(), want);
}

/// The simulator serving the `basic` fixture, and the URL and bytes of its first `kind`
/// (`video` or `acsmetadata`) object.
fn one_object(id: &str, kind: &str) -> (callrec_fetch::testkit::Simulator, String, Url) {
    let sim = sim();
    sim.serve_recording(&recording_fixture("basic"), id)
        .unwrap();
    let p = sim.paths().into_iter().find(|p| p.ends_with(kind)).unwrap();
    let url = format!("{}{p}", sim.base()).parse().unwrap();
    (sim, p, url)
}

fn once() -> RetryPolicy {
    RetryPolicy {
        attempts: 1,
        ..fast_retry()
    }
}

fn last_fault(e: &Error) -> &str {
    match e {
        Error::RetriesExhausted { last, .. } => last,
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_chunked_body_without_a_declared_length_is_not_read_and_retried() {
    let (sim, p, url) = one_object("rec-endless", "video");
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("c.mp4");
    sim.inject(&p, [Fault::Endless]);
    let e = downloader(&key_b64(), allow(&sim), once())
        .download(&url, &dest)
        .await
        .unwrap_err();
    assert!(last_fault(&e).contains("no declared length"), "{e}");
    assert!(
        !dir.path().join("c.mp4.part").exists(),
        "nothing was written"
    );
    sim.inject(&p, [Fault::Endless]);
    let d = downloader(&key_b64(), allow(&sim), fast_retry());
    d.download(&url, &dest).await.unwrap();
    assert!(std::fs::read(&dest).unwrap() == *sim.object(&p).unwrap());
    let log = sim.requests();
    assert_eq!(log.len(), 3, "{log:?}");
    assert!(log.iter().all(|r| r.range.is_none()), "{log:?}");
}

#[tokio::test]
async fn a_body_longer_than_its_content_length_is_a_fault_not_cut_and_accepted() {
    let (sim, p, url) = one_object("rec-overlong", "video");
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("c.mp4");
    sim.inject(&p, [Fault::Overlong(5000)]);
    let e = downloader(&key_b64(), allow(&sim), once())
        .download(&url, &dest)
        .await
        .unwrap_err();
    assert!(last_fault(&e).contains("longer than"), "{e}");
    assert!(!dest.exists());
    sim.inject(&p, [Fault::Overlong(5000)]);
    let d = downloader(&key_b64(), allow(&sim), fast_retry());
    let n = d.download(&url, &dest).await.unwrap();
    let want = sim.object(&p).unwrap();
    assert_eq!(n as usize, want.len());
    assert!(std::fs::read(&dest).unwrap() == *want);
}

#[tokio::test]
async fn a_metadata_file_over_its_limit_is_refused_once_and_its_part_removed() {
    let (sim, p, url) = one_object("rec-limit", "acsmetadata");
    let want = sim.object(&p).unwrap();
    let len = want.len() as u64;
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("c.json");
    let part = dir.path().join("c.json.part");
    let d = downloader(&key_b64(), allow(&sim), fast_retry());
    // Also when a run before had begun it.
    std::fs::write(&part, &want[..10]).unwrap();
    let e = d.download_limited(&url, &dest, len - 1).await.unwrap_err();
    assert!(
        matches!(e, Error::TooLarge { size, limit, .. } if size == len && limit == len - 1),
        "{e:?}"
    );
    assert!(e.is_permanent());
    assert!(e.to_string().contains(&len.to_string()), "{e}");
    assert!(!part.exists() && !dest.exists());
    assert_eq!(sim.requests().len(), 1, "refused, not retried");
    assert_eq!(d.download_limited(&url, &dest, len).await.unwrap(), len);
    assert!(std::fs::read(&dest).unwrap() == *want);
    let other = dir.path().join("d.json");
    let n = d.download_limited(&url, &other, Downloader::METADATA_LIMIT);
    assert_eq!(n.await.unwrap(), len);
}

#[tokio::test]
async fn a_resume_answered_with_another_total_restarts_from_zero() {
    let (sim, p, url) = one_object("rec-shrunk", "video");
    let want = sim.object(&p).unwrap();
    sim.inject(&p, [Fault::Cut(want.len() / 3), Fault::Shrunk(100)]);
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("c.mp4");
    let d = downloader(&key_b64(), allow(&sim), fast_retry());
    let n = d.download(&url, &dest).await.unwrap();
    assert_eq!(n as usize, want.len());
    assert!(std::fs::read(&dest).unwrap() == *want);
    let log = sim.requests();
    let ranges: Vec<_> = log.iter().map(|r| (r.range.is_some(), r.status)).collect();
    assert_eq!(ranges, [(false, 0), (true, 206), (false, 200)], "{log:?}");
    assert!(!dir.path().join("c.mp4.part.meta").exists());
}

#[tokio::test]
async fn an_object_changed_since_a_killed_run_is_fetched_whole_through_if_range() {
    let (sim, p, url) = one_object("rec-changed", "video");
    let old = sim.object(&p).unwrap();
    let first_tag = sim.etag(&p).unwrap();
    sim.inject(&p, [Fault::Cut(old.len() / 3)]);
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("c.mp4");
    let killed = downloader(&key_b64(), allow(&sim), once());
    killed.download(&url, &dest).await.unwrap_err();
    assert!(dir.path().join("c.mp4.part").exists());
    // Same size, other bytes: only the validator tells.
    let new: Vec<u8> = old.iter().map(|b| b ^ 0x55).collect();
    sim.replace(&p, new.clone());
    let d = downloader(&key_b64(), allow(&sim), fast_retry());
    d.download(&url, &dest).await.unwrap();
    assert!(std::fs::read(&dest).unwrap() == new, "a mix of two objects");
    let log = sim.requests();
    assert_eq!(log.len(), 2, "{log:?}");
    assert_eq!(log[1].range, Some(format!("bytes={}-", old.len() / 3)));
    assert_eq!(log[1].if_range.as_deref(), Some(first_tag.as_str()));
    assert_eq!(log[1].status, 200);
}

#[tokio::test]
async fn a_gzip_encoded_answer_is_a_fault_and_identity_is_asked_for() {
    let (sim, p, url) = one_object("rec-gzip", "video");
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("c.mp4");
    sim.inject(&p, [Fault::Gzip]);
    let e = downloader(&key_b64(), allow(&sim), once())
        .download(&url, &dest)
        .await
        .unwrap_err();
    assert!(last_fault(&e).contains("Content-Encoding gzip"), "{e}");
    sim.inject(&p, [Fault::Gzip]);
    let d = downloader(&key_b64(), allow(&sim), fast_retry());
    d.download(&url, &dest).await.unwrap();
    assert!(std::fs::read(&dest).unwrap() == *sim.object(&p).unwrap());
    let log = sim.requests();
    assert_eq!(log.len(), 3);
    for r in &log {
        assert_eq!(r.accept_encoding.as_deref(), Some("identity"), "{r:?}");
    }
}

#[tokio::test]
async fn a_429_is_retried_after_its_retry_after() {
    let (sim, p, url) = one_object("rec-429", "video");
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("c.mp4");
    sim.inject(&p, [Fault::Throttle(7)]);
    let e = downloader(&key_b64(), allow(&sim), once())
        .download(&url, &dest)
        .await
        .unwrap_err();
    assert!(last_fault(&e).contains("429 (Retry-After 7 s)"), "{e}");
    sim.inject(&p, [Fault::Throttle(1)]);
    let d = downloader(&key_b64(), allow(&sim), fast_retry());
    d.download(&url, &dest).await.unwrap();
    assert!(std::fs::read(&dest).unwrap() == *sim.object(&p).unwrap());
}
