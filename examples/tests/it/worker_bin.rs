//! The built `worker` example against Azurite and the ACS download simulator: the command
//! line of issue 16, SIGKILL in the middle of a recording, exit codes.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use base64::Engine;
use callrec_fetch::testkit::{local_mp4, recording_fixture, Azurite, Fault, Simulator};
use callrec_fetch::{Container, Queue};

const ACS: &str = "https://callrec-test.communication.azure.com";
const ACS_HOST: &str = "callrec-test.communication.azure.com";

fn key() -> String {
    base64::engine::general_purpose::STANDARD.encode(b"the simulator's ACS access key")
}

/// target/debug/examples/worker. `cargo test` compiles examples but does not always link
/// them under their plain name, so this asks cargo for it once (a no-op when fresh).
fn worker_bin() -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let st = Command::new(cargo)
            .args([
                "build",
                "-q",
                "-p",
                "callrec-examples",
                "--example",
                "worker",
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .unwrap();
        assert!(st.success(), "cargo build --example worker failed");
    });
    crate::util::bin("worker")
}

fn spawn(
    az: &Azurite,
    sim: &Simulator,
    name: &str,
    workdir: &Path,
    key: &str,
    extra: &[&str],
) -> Child {
    Command::new(worker_bin())
        .arg("--queue")
        .arg(az.queue_url(name).as_str())
        .arg("--container")
        .arg(az.container_url(name).as_str())
        .args(["--acs-endpoint", ACS, "--allow-host", &sim.host_port()])
        .arg("--workdir")
        .arg(workdir)
        .args(extra)
        .env("CALLREC_ACS_KEY", key)
        .env("RUST_LOG", "callrec_fetch=info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

async fn setup(name: &str) -> (Azurite, Queue, Container) {
    let az = tokio::task::spawn_blocking(Azurite::start)
        .await
        .unwrap()
        .unwrap();
    let q = Queue::from_sas_url(&az.queue_url(name)).unwrap();
    q.create_if_missing().await.unwrap();
    let c = Container::from_sas_url(&az.container_url(name)).unwrap();
    c.create_if_missing().await.unwrap();
    (az, q, c)
}

async fn wait_output(child: Child) -> std::process::Output {
    tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_workers_message_is_finished_by_another() {
    let (az, queue, container) = setup("killed").await;
    let sim = Simulator::start(&key(), ACS_HOST).unwrap();
    let ev = sim
        .serve_recording(&recording_fixture("basic"), "rec-killed")
        .unwrap();
    // The first worker stalls on its third download, after two files are on its disk.
    let third = sim.paths()[2].clone();
    sim.inject(&third, [Fault::Delay(Duration::from_secs(20))]);
    queue.send(&Simulator::queue_message(&ev)).await.unwrap();

    let (wa, wb) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut a = spawn(
        &az,
        &sim,
        "killed",
        wa.path(),
        &key(),
        &["--visibility", "2"],
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while !sim.arrivals().contains(&third) {
        assert!(
            Instant::now() < deadline,
            "worker A never reached the third download"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    a.kill().unwrap(); // SIGKILL
    let out = wait_output(a).await;
    assert!(out.status.code().is_none(), "A was killed, it did not exit");
    assert_eq!(
        container.size("rec-killed/recording.mp4").await.unwrap(),
        None
    );

    // B sees the message once A's lease lapses (2 s), archives it, and exits when idle.
    let b = spawn(
        &az,
        &sim,
        "killed",
        wb.path(),
        &key(),
        &["--visibility", "2", "--exit-when-idle", "6"],
    );
    let out = wait_output(b).await;
    let log = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{log}");
    assert!(
        log.contains("rec-killed") && log.contains("archived"),
        "{log}"
    );

    let mp4 = container.read("rec-killed/recording.mp4").await.unwrap();
    assert!(
        mp4 == local_mp4("basic"),
        "the archived MP4 differs from the local stitch"
    );
    assert!(
        queue.receive(60).await.unwrap().is_none(),
        "the message is deleted"
    );
    assert!(
        queue.receive_poison(60).await.unwrap().is_none(),
        "nothing is poisoned"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_exits_2_naming_the_key() {
    let (az, queue, _container) = setup("wrongkey").await;
    let sim = Simulator::start(&key(), ACS_HOST).unwrap();
    let ev = sim
        .serve_recording(&recording_fixture("basic"), "rec-wrongkey")
        .unwrap();
    queue.send(&Simulator::queue_message(&ev)).await.unwrap();
    let wrong = base64::engine::general_purpose::STANDARD.encode(b"another key");
    let w = tempfile::tempdir().unwrap();
    let out = wait_output(spawn(
        &az,
        &sim,
        "wrongkey",
        w.path(),
        &wrong,
        &["--exit-when-idle", "5"],
    ))
    .await;
    let log = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{log}");
    assert!(
        log.contains("401") && log.contains("CALLREC_ACS_KEY"),
        "{log}"
    );
    assert!(
        queue.receive(60).await.unwrap().is_some(),
        "the message is released, not lost"
    );
}

#[test]
fn a_missing_key_exits_2() {
    let out = Command::new(worker_bin())
        .args([
            "--queue",
            "http://127.0.0.1:1/a/q",
            "--container",
            "http://127.0.0.1:1/a/c",
        ])
        .args(["--acs-endpoint", ACS])
        .env_remove("CALLREC_ACS_KEY")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("CALLREC_ACS_KEY"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_releases_the_current_message_and_exits_0() {
    let (az, queue, container) = setup("sigterm").await;
    let sim = Simulator::start(&key(), ACS_HOST).unwrap();
    let ev = sim
        .serve_recording(&recording_fixture("basic"), "rec-term")
        .unwrap();
    let first = sim.paths()[0].clone();
    sim.inject(&first, [Fault::Delay(Duration::from_secs(20))]);
    queue.send(&Simulator::queue_message(&ev)).await.unwrap();
    let w = tempfile::tempdir().unwrap();
    let child = spawn(
        &az,
        &sim,
        "sigterm",
        w.path(),
        &key(),
        &["--visibility", "60"],
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while !sim.requests().iter().any(|r| r.path == first) {
        assert!(
            Instant::now() < deadline,
            "the worker never started downloading"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let st = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let out = wait_output(child).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Released (visibility 0), not left invisible for the 60 s timeout.
    let m = queue
        .receive(60)
        .await
        .unwrap()
        .expect("the message is visible again at once");
    assert_eq!(m.dequeue_count, 2);
    // Released before its manifest (written last, the mark of a finished archive) or after:
    // blobs uploaded before the signal may stay, and the next delivery archives it again under
    // the same names; a manifest never stands without the recording it describes.
    if container
        .size("rec-term/manifest.json")
        .await
        .unwrap()
        .is_some()
    {
        assert!(
            container
                .size("rec-term/recording.mp4")
                .await
                .unwrap()
                .is_some(),
            "a manifest without its recording"
        );
    }
}
