use std::time::Duration;

use base64::Engine;
use callrec_fetch::testkit::{Azurite, Simulator};
use callrec_fetch::{AcsKey, AllowList, Config, Container, Queue, RetryPolicy, Url};

pub const ACS: &str = "https://callrec-test.communication.azure.com";
pub const ACS_HOST: &str = "callrec-test.communication.azure.com";

pub fn key_b64() -> String {
    base64::engine::general_purpose::STANDARD.encode(b"the simulator's ACS access key")
}

pub fn wrong_key_b64() -> String {
    base64::engine::general_purpose::STANDARD.encode(b"some other resource's key")
}

pub fn sim() -> Simulator {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    Simulator::start(&key_b64(), ACS_HOST).expect("simulator starts")
}

/// Fast retries for tests (the policy's shape is the same as the default's).
pub fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        attempts: 12,
        base: Duration::from_millis(2),
        cap: Duration::from_millis(40),
    }
}

pub fn allow(sim: &Simulator) -> AllowList {
    let mut a = AllowList::default();
    a.allow(&sim.host_port()).unwrap();
    a
}

pub struct Env {
    /// Kept for its lifetime: Azurite stops when the test ends.
    _az: Azurite,
    pub queue: Queue,
    pub container: Container,
    pub queue_url: Url,
    pub container_url: Url,
    pub workdir: tempfile::TempDir,
}

pub async fn env(name: &str) -> Env {
    let az = tokio::task::spawn_blocking(Azurite::start)
        .await
        .unwrap()
        .expect("azurite starts");
    let queue_url = az.queue_url(name);
    let container_url = az.container_url(name);
    let queue = Queue::from_sas_url(&queue_url).unwrap();
    queue.create_if_missing().await.unwrap();
    let container = Container::from_sas_url(&container_url).unwrap();
    container.create_if_missing().await.unwrap();
    Env {
        _az: az,
        queue,
        container,
        queue_url,
        container_url,
        workdir: tempfile::tempdir().unwrap(),
    }
}

impl Env {
    pub fn config(&self, sim: &Simulator, key: &str) -> Config {
        let mut c = Config::new(
            self.queue_url.clone(),
            self.container_url.clone(),
            ACS.parse().unwrap(),
            AcsKey::from_base64(key).unwrap(),
        );
        c.allow = allow(sim);
        c.workdir = self.workdir.path().to_path_buf();
        c.exit_when_idle = Some(Duration::from_secs(1));
        c.poll = Duration::from_millis(100);
        c.retry = fast_retry();
        c
    }

    /// Whatever is left on the queue (made invisible for a minute so each is seen once).
    pub async fn drain(&self, poison: bool) -> Vec<String> {
        let mut v = Vec::new();
        loop {
            let m = if poison {
                self.queue.receive_poison(60).await.unwrap()
            } else {
                self.queue.receive(60).await.unwrap()
            };
            match m {
                Some(m) => v.push(m.text),
                None => return v,
            }
        }
    }
}
