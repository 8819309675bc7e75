//! The queue loop.

use std::future::Future;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tracing::Instrument;

use crate::archive::error_check_json;
use crate::storage::redact;
use crate::{
    archive_local, decode_message, AcsKey, AllowList, Container, Decoded, Downloader, Error, Job,
    Outcome, Queue, Received, Result, RetryPolicy, Url,
};

/// How a worker runs.
#[derive(Debug, Clone)]
pub struct Config {
    /// The queue's URL with a SAS for the queue service.
    pub queue: Url,
    /// The container's URL with a SAS that may read, create, write and list.
    pub container: Url,
    /// The ACS resource's endpoint (only its host is used: it is signed as `x-ms-host`).
    pub acs_endpoint: Url,
    /// The ACS access key.
    pub key: AcsKey,
    /// The hosts downloads may come from.
    pub allow: AllowList,
    /// Where chunks are downloaded and outputs made (`<workdir>/<recordingId>/`).
    pub workdir: PathBuf,
    /// Visibility timeout of a received message (default 30 s).
    pub visibility: Duration,
    /// How often the visibility is renewed while working (default 10 s).
    pub renew_every: Duration,
    /// Exit after this long without messages.
    pub exit_when_idle: Option<Duration>,
    /// Wait between empty receives.
    pub poll: Duration,
    /// Delete the chunks at `deleteLocation` once the blobs are committed and verified.
    pub delete_source: bool,
    /// Deliveries after which a failing message goes to the poison queue (default 5).
    pub max_dequeues: u64,
    /// Download retries.
    pub retry: RetryPolicy,
    /// Staged block size for uploads (default 8 MiB).
    pub block_size: usize,
}

impl Config {
    /// The defaults of the command line.
    pub fn new(queue: Url, container: Url, acs_endpoint: Url, key: AcsKey) -> Config {
        Config {
            queue,
            container,
            acs_endpoint,
            key,
            allow: AllowList::default(),
            workdir: std::env::temp_dir().join("callrec-worker"),
            visibility: Duration::from_secs(30),
            renew_every: Duration::from_secs(10),
            exit_when_idle: None,
            poll: Duration::from_secs(1),
            delete_source: false,
            max_dequeues: 5,
            retry: RetryPolicy::default(),
            block_size: 8 << 20,
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Recordings archived (blobs committed, message deleted).
    pub archived: usize,
    /// Deliveries of recordings already archived (deleted without work).
    pub duplicates: usize,
    /// Messages moved to the poison queue.
    pub poisoned: usize,
    /// Messages of other event types (deleted).
    pub ignored: usize,
    /// Messages left for a later delivery after a transient fault.
    pub retried: usize,
}

/// How one message ended.
enum Done {
    Archived,
    Duplicate,
    Poisoned,
    Ignored,
    Retry,
}

/// A worker on one queue and container.
#[derive(Debug)]
pub struct Worker {
    cfg: Config,
    queue: Queue,
    container: Container,
    downloader: Downloader,
}

const MP4: &str = "recording.mp4";

impl Worker {
    /// Opens the clients (nothing is sent yet).
    pub fn new(cfg: Config) -> Result<Worker> {
        let queue = Queue::from_sas_url(&cfg.queue)?;
        let container = Container::from_sas_url(&cfg.container)?;
        let downloader = Downloader::new(
            &cfg.acs_endpoint,
            cfg.key.clone(),
            cfg.allow.clone(),
            cfg.retry,
        )?;
        Ok(Worker {
            cfg,
            queue,
            container,
            downloader,
        })
    }

    /// The queue.
    pub fn queue(&self) -> &Queue {
        &self.queue
    }

    /// The container.
    pub fn container(&self) -> &Container {
        &self.container
    }

    /// Drains the queue until `shutdown` resolves (the current message is released for another
    /// worker), `exit_when_idle` passes without messages, or the worker is misconfigured
    /// ([`Error::stops_worker`]: the message is released and the error returned).
    pub async fn run(&self, shutdown: impl Future<Output = ()>) -> Result<Summary> {
        tokio::pin!(shutdown);
        let mut summary = Summary::default();
        let mut idle_since = Instant::now();
        let vis = self.cfg.visibility.as_secs().max(1) as u32;
        loop {
            let got = tokio::select! {
                _ = &mut shutdown => return Ok(summary),
                r = self.queue.receive(vis) => r,
            };
            let msg = match got {
                Ok(Some(m)) => m,
                Ok(None) => {
                    if self
                        .cfg
                        .exit_when_idle
                        .is_some_and(|d| idle_since.elapsed() >= d)
                    {
                        tracing::info!("idle, exiting");
                        return Ok(summary);
                    }
                    tokio::select! {
                        _ = &mut shutdown => return Ok(summary),
                        _ = tokio::time::sleep(self.cfg.poll) => {}
                    }
                    continue;
                }
                Err(e) => {
                    tracing::warn!("receive failed: {e}");
                    tokio::select! {
                        _ = &mut shutdown => return Ok(summary),
                        _ = tokio::time::sleep(self.cfg.poll) => {}
                    }
                    continue;
                }
            };
            let stop = tokio::sync::Notify::new();
            let work = self.handle(&msg);
            let renew = self.renew(&msg, vis, &stop);
            tokio::pin!(work);
            tokio::pin!(renew);
            let r = tokio::select! {
                r = &mut work => r,
                _ = &mut renew => unreachable!("renewal ends only when stopped"),
                _ = &mut shutdown => {
                    tracing::info!(message_id = %msg.id, "shutting down: releasing the message");
                    // A renewal in flight finishes first (its new pop receipt is the one the
                    // release needs); then the message is visible to others at once.
                    stop.notify_one();
                    renew.await;
                    if let Err(e) = self.queue.set_visibility(&msg, 0).await {
                        tracing::warn!(message_id = %msg.id, "cannot release the message: {e}");
                    }
                    return Ok(summary);
                }
            };
            idle_since = Instant::now();
            match r {
                Ok(Done::Archived) => summary.archived += 1,
                Ok(Done::Duplicate) => summary.duplicates += 1,
                Ok(Done::Poisoned) => summary.poisoned += 1,
                Ok(Done::Ignored) => summary.ignored += 1,
                Ok(Done::Retry) => summary.retried += 1,
                Err(e) => {
                    tracing::error!(message_id = %msg.id, "{e}; releasing the message and stopping");
                    let _ = self.queue.set_visibility(&msg, 0).await;
                    return Err(e);
                }
            }
        }
    }

    /// Renews the message's visibility every `renew_every` until `stop` is notified; a
    /// notification interrupts the wait, never a renewal in flight.
    async fn renew(&self, msg: &Received, vis: u32, stop: &tokio::sync::Notify) {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(self.cfg.renew_every) => {}
                _ = stop.notified() => return,
            }
            if let Err(e) = self.queue.set_visibility(msg, vis).await {
                tracing::warn!(message_id = %msg.id, "cannot renew the visibility: {e}");
            }
        }
    }

    /// One message. `Err` only for faults that stop the worker.
    async fn handle(&self, msg: &Received) -> Result<Done> {
        let job = match decode_message(&msg.id, &msg.text) {
            Ok(Decoded::Recording(job)) => job,
            Ok(Decoded::Other { event_type }) => {
                tracing::info!(message_id = %msg.id, %event_type, "not a RecordingFileStatusUpdated event: deleted");
                self.queue.delete(msg).await?;
                return Ok(Done::Ignored);
            }
            Err(e) => {
                tracing::error!(message_id = %msg.id, "{e}: moved to {}", self.queue.poison_name());
                self.queue.poison(msg).await?;
                return Ok(Done::Poisoned);
            }
        };
        let span = tracing::info_span!("recording", recording_id = %job.recording_id, message_id = %msg.id, delivery = msg.dequeue_count);
        self.handle_job(msg, &job).instrument(span).await
    }

    async fn handle_job(&self, msg: &Received, job: &Job) -> Result<Done> {
        let started = Instant::now();
        let mp4_blob = format!("{}/{MP4}", job.name);
        match self.container.size(&mp4_blob).await {
            Ok(Some(_)) => {
                tracing::info!("already archived (a duplicate delivery): deleted");
                self.queue.delete(msg).await?;
                return Ok(Done::Duplicate);
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!("{e}; left for a later delivery");
                return Ok(Done::Retry);
            }
        }
        if msg.dequeue_count > self.cfg.max_dequeues {
            let why = format!("delivered {} times without success", msg.dequeue_count);
            return self.poison_with(msg, job, "deliveries", &why).await;
        }
        let dir = self.cfg.workdir.join(&job.name);
        match self.process(job, &dir).await {
            Ok(Outcome::Archived {
                chunks,
                duration_ms,
                ..
            }) => {
                self.queue.delete(msg).await?;
                tracing::info!(
                    chunks,
                    duration_ms,
                    seconds = started.elapsed().as_secs_f64(),
                    "archived"
                );
                if std::io::stderr().is_terminal() {
                    eprintln!(
                        "{}: archived, {chunks} chunks, {:.1} s of media, in {:.1} s",
                        job.recording_id,
                        duration_ms as f64 / 1000.0,
                        started.elapsed().as_secs_f64()
                    );
                }
                if self.cfg.delete_source {
                    self.delete_source(job).await;
                }
                let _ = tokio::fs::remove_dir_all(&dir).await;
                Ok(Done::Archived)
            }
            Ok(Outcome::Rejected { check, reason }) => {
                let name = format!("{}/check.json", job.name);
                if let Err(e) = self.upload(&name, &check, "application/json").await {
                    return self.failed(msg, job, "upload", &e.to_string()).await;
                }
                tracing::error!(
                    "{reason}: check.json uploaded, moved to {}",
                    self.queue.poison_name()
                );
                self.queue.poison(msg).await?;
                let _ = tokio::fs::remove_dir_all(&dir).await;
                Ok(Done::Poisoned)
            }
            Ok(Outcome::Failed { error }) => self.failed(msg, job, "archive", &error).await,
            Err(e) if e.stops_worker() => Err(e),
            Err(e) if e.is_permanent() => {
                let _ = tokio::fs::remove_dir_all(&dir).await;
                self.poison_with(msg, job, "download", &e.to_string()).await
            }
            Err(e) => self.failed(msg, job, "download", &e.to_string()).await,
        }
    }

    /// A transient failure: left for the next delivery, or poisoned on the last one.
    async fn failed(&self, msg: &Received, job: &Job, stage: &str, error: &str) -> Result<Done> {
        if msg.dequeue_count >= self.cfg.max_dequeues {
            return self.poison_with(msg, job, stage, error).await;
        }
        tracing::warn!("{stage}: {error}; left for a later delivery");
        Ok(Done::Retry)
    }

    /// Uploads a `check.json` naming the error, then moves the message to the poison queue.
    async fn poison_with(
        &self,
        msg: &Received,
        job: &Job,
        stage: &str,
        error: &str,
    ) -> Result<Done> {
        let json = error_check_json(&job.recording_id, stage, error);
        let dir = self.cfg.workdir.join(&job.name);
        let path = dir.join("check.error.json");
        let up = async {
            tokio::fs::create_dir_all(&dir)
                .await
                .map_err(Error::io("create", &dir))?;
            tokio::fs::write(&path, json)
                .await
                .map_err(Error::io("write", &path))?;
            self.upload(
                &format!("{}/check.json", job.name),
                &path,
                "application/json",
            )
            .await
        };
        if let Err(e) = up.await {
            tracing::warn!("cannot upload check.json: {e}");
        }
        tracing::error!("{stage}: {error}: moved to {}", self.queue.poison_name());
        self.queue.poison(msg).await?;
        let _ = tokio::fs::remove_dir_all(&dir).await;
        Ok(Done::Poisoned)
    }

    /// Downloads, archives locally and uploads; `Ok(Archived)` once the blobs are committed
    /// and verified.
    async fn process(&self, job: &Job, dir: &Path) -> Result<Outcome> {
        // Every URL is vetted before anything is sent: a forged host is never contacted.
        for u in job.urls() {
            self.downloader.allow_list().check(u)?;
        }
        let chunks = dir.join("chunks");
        tokio::fs::create_dir_all(&chunks)
            .await
            .map_err(Error::io("create", &chunks))?;
        let event = chunks.join("event.json");
        let bytes = serde_json::to_vec_pretty(&job.event).unwrap_or_default();
        tokio::fs::write(&event, bytes)
            .await
            .map_err(Error::io("write", &event))?;
        for c in &job.chunks {
            let n = self
                .downloader
                .download(&c.content, &chunks.join(format!("{}.mp4", c.document_id)))
                .await?;
            let m = self
                .downloader
                .download(&c.metadata, &chunks.join(format!("{}.json", c.document_id)))
                .await?;
            tracing::debug!(document_id = %c.document_id, media = n, metadata = m, "chunk downloaded");
        }
        let out = dir.join("out");
        let (c2, o2) = (chunks.clone(), out.clone());
        let outcome = tokio::task::spawn_blocking(move || archive_local(&c2, &o2))
            .await
            .unwrap_or_else(|e| Outcome::Failed {
                error: format!("the archive job died: {e}"),
            });
        if let Outcome::Archived {
            check,
            timeline,
            mp4,
            ..
        } = &outcome
        {
            // The mp4 goes last: its presence marks the recording as archived.
            self.upload(
                &format!("{}/check.json", job.name),
                check,
                "application/json",
            )
            .await?;
            self.upload(
                &format!("{}/timeline.json", job.name),
                timeline,
                "application/json",
            )
            .await?;
            self.upload(&format!("{}/{MP4}", job.name), mp4, "video/mp4")
                .await?;
        }
        Ok(outcome)
    }

    /// Uploads and verifies the committed size.
    async fn upload(&self, name: &str, path: &Path, content_type: &str) -> Result<()> {
        let n = self
            .container
            .upload_file(name, path, content_type, self.cfg.block_size)
            .await?;
        let got = self.container.size(name).await?.unwrap_or(0);
        if got != n {
            return Err(Error::Verify {
                name: name.to_string(),
                expected: n,
                actual: got,
            });
        }
        Ok(())
    }

    async fn delete_source(&self, job: &Job) {
        for c in &job.chunks {
            if let Some(u) = &c.delete {
                match self.downloader.delete(u).await {
                    Ok(()) => tracing::info!(document_id = %c.document_id, "source chunk deleted"),
                    Err(e) => {
                        tracing::warn!(document_id = %c.document_id, url = %redact(u), "cannot delete the source chunk: {e}")
                    }
                }
            }
        }
    }
}
