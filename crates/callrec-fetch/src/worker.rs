//! The queue loop.

use std::future::Future;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tracing::Instrument;

use std::collections::BTreeMap;

use callrec_archive::{
    fingerprint, Entry, Job as ArchiveJob, JobOptions, Outcome, Output, Status, CHECK_JSON,
    RECORDING_MP4, TIMELINE_JSON,
};

use callrec::crates::meta::naming;

use crate::storage::redact;
use crate::{
    decode_message, AcsKey, Ahead, AllowList, Container, Decoded, Downloader, Error, Job, Queue,
    Received, Result, RetryPolicy, Staging, Uploaded, Url,
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
    /// Files downloaded at once (default 3).
    pub downloads: usize,
    /// How uploads are cut into staged blocks (default 4 MiB, 4 at once).
    pub staging: Staging,
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
            downloads: 3,
            staging: Staging::default(),
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
    /// MP4 bytes committed from blocks staged while the chunks downloaded, not sent again.
    pub reused_bytes: u64,
}

/// The staging of a recording's chunks ahead of the stitch ([`Worker::stage_ahead`]).
struct StagingAhead {
    /// Each chunk that landed, with the blocks to stage from it.
    landed: tokio::sync::mpsc::UnboundedSender<(PathBuf, Vec<Ahead>)>,
    /// Every block sent to `landed` (their ids come from `task`).
    tiles: std::sync::Mutex<Vec<Ahead>>,
    /// The stager: every block it staged, with its id.
    task: tokio::task::JoinSet<Vec<Ahead>>,
}

/// What the container holds of a recording before it is worked on.
enum Prior {
    /// Nothing trusted: archive it.
    None,
    /// Its manifest and the blobs it lists, with this status.
    Done(Status),
    /// The manifest under its blob prefix is another recording's (whose id it names).
    Foreign(String),
}

/// The lock of one recording's work directory `<workdir>/<name>`: the file
/// `<workdir>/.locks/<name>.lock` (outside what `remove_dir_all` of the recording's directory
/// removes; no recording's directory starts with `.`), locked while held and removed, still
/// locked, when dropped (the `.locks` directory with its last file). A taker checks that the file it locked is still the one at the path,
/// so no two workers ever hold the lock of one recording (one may lock a file the other has
/// just removed: that taker tries again).
struct RecordingLock {
    file: std::fs::File,
    path: PathBuf,
}

impl RecordingLock {
    /// Takes the lock of `dir` (made if missing); `None` while another worker holds it. A
    /// directory that cannot be made or locked is the work directory's fault, not the
    /// recording's: it stops the worker.
    fn take(dir: &Path) -> Result<Option<RecordingLock>> {
        use std::os::unix::fs::MetadataExt as _;
        let (Some(workdir), Some(name)) = (dir.parent(), dir.file_name()) else {
            return Err(unusable(dir, "not a directory inside the work directory"));
        };
        let locks = workdir.join(".locks");
        let mut file_name = name.to_owned();
        file_name.push(".lock");
        let path = locks.join(file_name);
        std::fs::create_dir_all(dir).map_err(|e| unusable(dir, e))?;
        for _ in 0..8 {
            std::fs::create_dir_all(&locks).map_err(|e| unusable(&locks, e))?;
            let opened = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path);
            let file = match opened {
                Ok(f) => f,
                // `.locks` removed by a worker dropping its last lock: made again.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(unusable(dir, e)),
            };
            match file.try_lock() {
                Ok(()) => {}
                Err(std::fs::TryLockError::WouldBlock) => return Ok(None),
                Err(std::fs::TryLockError::Error(e)) => return Err(unusable(dir, e)),
            }
            let held = file.metadata().map_err(|e| unusable(dir, e))?;
            let same = std::fs::metadata(&path)
                .is_ok_and(|m| (m.dev(), m.ino()) == (held.dev(), held.ino()));
            if same {
                return Ok(Some(RecordingLock { file, path }));
            }
        }
        Ok(None)
    }
}

impl Drop for RecordingLock {
    fn drop(&mut self) {
        // Removed while locked: a worker waiting on this file finds it is no longer the one
        // at the path.
        let _ = std::fs::remove_file(&self.path);
        let _ = self.file.unlock();
        if let Some(locks) = self.path.parent() {
            // Only when empty: another recording's lock keeps it.
            let _ = std::fs::remove_dir(locks);
        }
    }
}

/// The archive job on `out` panicked: this recording's fault, not the worker's, so it is tried
/// again (and poisoned after its last delivery).
fn job_died(out: &Path, e: tokio::task::JoinError) -> Error {
    Error::io("run the archive job on", out)(std::io::Error::other(e.to_string()))
}

/// The work directory (or a recording's directory in it) cannot be used: [`Error::Config`].
fn unusable(dir: &Path, e: impl std::fmt::Display) -> Error {
    Error::Config(format!(
        "the work directory {} cannot be used: {e}",
        dir.display()
    ))
}

impl Summary {
    fn count(&mut self, done: Done) {
        match done {
            Done::Archived(reused) => {
                self.archived += 1;
                self.reused_bytes += reused;
            }
            Done::Duplicate => self.duplicates += 1,
            Done::Poisoned => self.poisoned += 1,
            Done::Ignored => self.ignored += 1,
            Done::Retry => self.retried += 1,
        }
    }
}

/// How one message ended.
enum Done {
    /// Archived, this many MP4 bytes from blocks staged ahead.
    Archived(u64),
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

/// The blob written last for each recording: the archive job's manifest entry (status, and the
/// size and SHA-256 of every blob uploaded). A delivery that finds it, and the blobs it lists,
/// is a duplicate.
pub const MANIFEST: &str = "manifest.json";

/// `<name>/<file>`: the blob of one output of a recording.
fn blob(job: &Job, file: &str) -> String {
    format!("{}/{file}", job.name)
}

/// A `check.json` for a recording that never got as far as a check report.
pub fn error_check_json(recording_id: &str, stage: &str, error: &str) -> String {
    let v = serde_json::json!({
        "recordingId": recording_id,
        "errors": 1,
        "warnings": 0,
        "error": { "stage": stage, "message": error },
    });
    serde_json::to_string_pretty(&v).unwrap_or_default() + "\n"
}

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
        self.probe().await?;
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
                Err(e) if e.stops_worker() => {
                    tracing::error!("{e}; stopping");
                    return Err(e);
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
                Ok(done) => summary.count(done),
                Err(e) if e.stops_worker() => {
                    tracing::error!(message_id = %msg.id, "{e}; releasing the message and stopping");
                    let _ = self.queue.set_visibility(&msg, 0).await;
                    return Err(e);
                }
                Err(e) => {
                    // A queue request failed (storage unreachable, or the lease lapsed and
                    // another worker holds the message): the message comes back after its
                    // visibility timeout, and a redelivery of finished work is a duplicate.
                    tracing::warn!(message_id = %msg.id, "{e}; left for a later delivery");
                    summary.retried += 1;
                }
            }
        }
    }

    /// The worker can work: the queue and the container exist and answer its SAS, and the
    /// work directory can hold files (made if missing, a file written and removed). A worker
    /// that could not would poison every recording, or wait forever; it stops instead.
    async fn probe(&self) -> Result<()> {
        self.queue.probe().await?;
        self.container.probe().await?;
        let dir = &self.cfg.workdir;
        let probe = dir.join(format!(
            ".probe-{}-{:016x}",
            std::process::id(),
            fastrand::u64(..)
        ));
        let r = async {
            tokio::fs::create_dir_all(dir).await?;
            tokio::fs::write(&probe, b"callrec").await?;
            tokio::fs::remove_file(&probe).await
        };
        r.await.map_err(|e| unusable(dir, e))
    }

    /// Renews the message's visibility every `renew_every` until `stop` is notified; a
    /// notification interrupts the wait, never a renewal in flight.
    async fn renew(&self, msg: &Received, vis: u32, stop: &tokio::sync::Notify) {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(self.cfg.renew_every) => {}
                _ = stop.notified() => return,
            }
            match self.queue.set_visibility(msg, vis).await {
                Ok(()) => {}
                // Deleted or poisoned while the work directory is being cleaned: nothing to renew.
                Err(Error::Storage { source, .. })
                    if source.http_status() == Some(azure_core::http::StatusCode::NotFound) =>
                {
                    tracing::debug!(message_id = %msg.id, "the message is gone: not renewed");
                }
                Err(e) => {
                    tracing::warn!(message_id = %msg.id, "cannot renew the visibility: {e}")
                }
            }
        }
    }

    /// One message. `Err` for faults that stop the worker ([`Error::stops_worker`]) and for
    /// queue requests that failed (the message is delivered again).
    async fn handle(&self, msg: &Received) -> Result<Done> {
        let job = match decode_message(&msg.id, &msg.text) {
            Ok(Decoded::Recording(job)) => job,
            Ok(Decoded::Other { event_type }) => {
                tracing::info!(message_id = %msg.id, %event_type, "not a RecordingFileStatusUpdated event: deleted");
                self.queue.delete(msg).await?;
                return Ok(Done::Ignored);
            }
            Err(e) => {
                self.queue.poison(msg).await?;
                tracing::error!(message_id = %msg.id, "{e}: moved to {}", self.queue.poison_name());
                return Ok(Done::Poisoned);
            }
        };
        let span = tracing::info_span!("recording", recording_id = %job.recording_id, message_id = %msg.id, delivery = msg.dequeue_count);
        self.handle_job(msg, &job).instrument(span).await
    }

    async fn handle_job(&self, msg: &Received, job: &Job) -> Result<Done> {
        let started = Instant::now();
        let dir = self.cfg.workdir.join(&job.dir);
        // One worker of this machine at a time per recording (a duplicate delivery taken by
        // another worker sharing the work directory): the other is left for later, when it
        // will find this one's blobs.
        let Some(_lock) = RecordingLock::take(&dir)? else {
            tracing::info!(
                "another worker here is archiving this recording: left for a later delivery"
            );
            return Ok(Done::Retry);
        };
        if let Some(done) = self.settle_prior(msg, job, &dir).await? {
            return Ok(done);
        }
        if msg.dequeue_count > self.cfg.max_dequeues {
            let why = format!("delivered {} times without success", msg.dequeue_count);
            return self.poison_with(msg, job, "deliveries", &why, false).await;
        }
        let (outcome, staged) = match self.process(job, &dir).await {
            Ok(o) => o,
            Err(e) if e.stops_worker() => return Err(e),
            Err(e) if e.is_permanent() => {
                let _ = tokio::fs::remove_dir_all(&dir).await;
                return self
                    .poison_with(msg, job, "download", &e.to_string(), true)
                    .await;
            }
            Err(e) => return self.failed(msg, job, "download", &e.to_string()).await,
        };
        let reason = outcome.reason.clone().unwrap_or_default();
        match outcome.status {
            Status::Ok => {
                let reused = match self.publish(job, &dir, &outcome, staged).await {
                    Ok(reused) => reused,
                    Err(e) if e.stops_worker() => return Err(e),
                    Err(e) => return self.failed(msg, job, "upload", &e.to_string()).await,
                };
                self.queue.delete(msg).await?;
                let media_ms = outcome.measures.media_ms.unwrap_or(0);
                tracing::info!(
                    chunks = outcome.measures.chunks,
                    duration_ms = media_ms,
                    job_seconds = outcome.seconds,
                    reused_bytes = reused,
                    seconds = started.elapsed().as_secs_f64(),
                    "archived"
                );
                if std::io::stderr().is_terminal() {
                    eprintln!(
                        "{}: archived, {} chunks, {:.1} s of media, in {:.1} s",
                        job.recording_id,
                        outcome.measures.chunks,
                        media_ms as f64 / 1000.0,
                        started.elapsed().as_secs_f64()
                    );
                }
                if self.cfg.delete_source {
                    self.delete_source(job).await;
                }
                let _ = tokio::fs::remove_dir_all(&dir).await;
                Ok(Done::Archived(reused))
            }
            Status::Rejected => {
                match self.publish(job, &dir, &outcome, None).await {
                    Ok(_) => {}
                    Err(e) if e.stops_worker() => return Err(e),
                    Err(e) => return self.failed(msg, job, "upload", &e.to_string()).await,
                }
                self.queue.poison(msg).await?;
                tracing::error!(
                    "{reason}: check.json uploaded, moved to {}",
                    self.queue.poison_name()
                );
                let _ = tokio::fs::remove_dir_all(&dir).await;
                Ok(Done::Poisoned)
            }
            Status::Error => self.failed(msg, job, "archive", &reason).await,
        }
    }

    /// What the container already holds of `job` decides some deliveries without work:
    /// `Some` when this one is done with (deleted, poisoned, or left for later).
    async fn settle_prior(&self, msg: &Received, job: &Job, dir: &Path) -> Result<Option<Done>> {
        match self.already_done(job).await {
            Ok(Prior::Done(Status::Rejected)) => {
                // Each delivery of a rejected recording goes to poison: an earlier one may
                // have been stopped between its manifest and its move.
                let _ = tokio::fs::remove_dir_all(dir).await;
                self.queue.poison(msg).await?;
                tracing::error!(
                    "already rejected (a duplicate delivery): its manifest and check.json are in place; moved to {}",
                    self.queue.poison_name()
                );
                Ok(Some(Done::Poisoned))
            }
            Ok(Prior::Done(status)) => {
                let _ = tokio::fs::remove_dir_all(dir).await;
                self.queue.delete(msg).await?;
                tracing::info!(
                    status = status.as_str(),
                    "already done (a duplicate delivery): its manifest and blobs are in place; deleted"
                );
                Ok(Some(Done::Duplicate))
            }
            Ok(Prior::Foreign(other)) => {
                // Never overwrite another recording's blobs.
                let why = format!(
                    "the container's {}/ holds recording {other:?}, not this one",
                    job.name
                );
                let _ = tokio::fs::remove_dir_all(dir).await;
                self.queue.poison(msg).await?;
                tracing::error!("{why}: moved to {}", self.queue.poison_name());
                Ok(Some(Done::Poisoned))
            }
            Ok(Prior::None) => Ok(None),
            Err(e) if e.stops_worker() => Err(e),
            Err(e) => {
                tracing::warn!("{e}; left for a later delivery");
                Ok(Some(Done::Retry))
            }
        }
    }

    /// Whether the container already holds this recording's outcome: its `manifest.json`
    /// (written last) says ok or rejected, and every blob it lists is there with the size and
    /// `sha256` it records. Nothing is downloaded.
    async fn already_done(&self, job: &Job) -> Result<Prior> {
        let Some(bytes) = self.container.read_optional(&blob(job, MANIFEST)).await? else {
            return Ok(Prior::None);
        };
        let entry: Entry = match serde_json::from_slice(&bytes) {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!("{MANIFEST} does not parse ({e}): archiving again");
                return Ok(Prior::None);
            }
        };
        if entry.dir != job.recording_id {
            return Ok(Prior::Foreign(entry.dir));
        }
        // This recording's entry, naming only what a job uploads (an edited manifest naming
        // other blobs is not trusted). The key is compared, not checked as a batch key: a
        // recordingId may be longer than a batch directory name may be.
        let own = entry.key == job.name && entry.lists_only_outputs();
        if entry.status == Status::Error || !own || entry.outputs.is_empty() {
            return Ok(Prior::None);
        }
        for (name, want) in &entry.outputs {
            let facts = self.container.facts(&blob(job, name)).await?;
            let matches = facts.as_ref().is_some_and(|f| {
                f.bytes == want.bytes && f.sha256.as_deref() == Some(want.sha256.as_str())
            });
            if !matches {
                tracing::warn!(
                    blob = name.as_str(),
                    "{MANIFEST} lists it but the container holds {facts:?}: archiving again"
                );
                return Ok(Prior::None);
            }
        }
        Ok(Prior::Done(entry.status))
    }

    /// A transient failure: left for the next delivery, or poisoned on the last one.
    async fn failed(&self, msg: &Received, job: &Job, stage: &str, error: &str) -> Result<Done> {
        if msg.dequeue_count >= self.cfg.max_dequeues {
            return self.poison_with(msg, job, stage, error, false).await;
        }
        tracing::warn!("{stage}: {error}; left for a later delivery");
        Ok(Done::Retry)
    }

    /// Uploads a `check.json` naming the error (and, when retrying will not change it, a
    /// `manifest.json` saying rejected, so that a later delivery is not worked again), then
    /// moves the message to the poison queue.
    async fn poison_with(
        &self,
        msg: &Received,
        job: &Job,
        stage: &str,
        error: &str,
        permanent: bool,
    ) -> Result<Done> {
        let dir = self.cfg.workdir.join(&job.dir);
        // Another delivery may have archived (or rejected) the recording meanwhile: its
        // outputs are never replaced by this one's error.
        if let Some(done) = self.settle_prior(msg, job, &dir).await? {
            return Ok(done);
        }
        let json = error_check_json(&job.recording_id, stage, error);
        let path = dir.join("check.error.json");
        let up = async {
            tokio::fs::create_dir_all(&dir)
                .await
                .map_err(Error::io("create", &dir))?;
            tokio::fs::write(&path, &json)
                .await
                .map_err(Error::io("write", &path))?;
            let check = Output::of(json.as_bytes());
            self.upload(job, CHECK_JSON, &path, &check, None).await?;
            if permanent {
                let entry = Entry::rejected(
                    &job.recording_id,
                    &job.name,
                    job.chunks.len(),
                    format!("{stage}: {error}"),
                    BTreeMap::from([(CHECK_JSON.to_string(), check)]),
                );
                self.upload_manifest(job, &dir, &entry).await?;
            }
            Ok::<(), Error>(())
        };
        match up.await {
            Ok(()) => {}
            Err(e) if e.stops_worker() => return Err(e),
            Err(e) => tracing::warn!("cannot upload check.json: {e}"),
        }
        self.queue.poison(msg).await?;
        tracing::error!("{stage}: {error}: moved to {}", self.queue.poison_name());
        let _ = tokio::fs::remove_dir_all(&dir).await;
        Ok(Done::Poisoned)
    }

    /// Downloads every chunk into `dir/chunks` and runs the archive job on them into
    /// `dir/out` (`callrec_archive::Job`: check, timeline, stitch, read-back).
    async fn process(&self, job: &Job, dir: &Path) -> Result<(Outcome, Option<Uploaded>)> {
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
        let span = tracing::info_span!("download", chunks = job.chunks.len());
        // Each chunk's sample bytes go up as blocks of the MP4's blob as soon as the chunk is
        // on disk, while the others download and the job runs (`Ahead`).
        let ahead = self.stage_ahead(job);
        // The first chunk's metadata alone, then a few files at once: a wrong key or endpoint
        // is refused once, not once per request in flight.
        // A documentId listed twice is downloaded once (two downloads would share one `.part`).
        let mut seen = std::collections::HashSet::new();
        let mut files = job
            .chunks
            .iter()
            .flat_map(|c| {
                [
                    (
                        &c.metadata,
                        chunks.join(naming::metadata_file(&c.document_id)),
                        false,
                    ),
                    (
                        &c.content,
                        chunks.join(naming::media_file(&c.document_id)),
                        true,
                    ),
                ]
            })
            .filter(|(_, path, _)| seen.insert(path.clone()));
        let fetch =
            |(url, path, media): (_, _, bool)| self.fetch(url, path, media.then_some(&ahead));
        use futures::{StreamExt as _, TryStreamExt as _};
        async {
            if let Some(first) = files.next() {
                fetch(first).await?;
            }
            // The first error ends the others.
            futures::stream::iter(files)
                .map(fetch)
                .buffer_unordered(self.cfg.downloads.max(1))
                .try_collect::<()>()
                .await
        }
        .instrument(span)
        .await?;
        let StagingAhead {
            landed,
            tiles,
            task,
        } = ahead;
        drop(landed);
        let tiles = tiles.into_inner().unwrap_or_else(|p| p.into_inner());
        self.archive(job, chunks, &dir.join("out"), tiles, task)
            .await
    }

    /// Starts staging, ahead of the stitch, the sample bytes of each chunk file as it lands
    /// ([`Container::stage_ahead`]), one chunk after another, until the `landed` sender is
    /// dropped. The task ends (dropped) with the set: a recording the check rejects
    /// stages no more, and what it staged is never committed. A chunk that fails to stage is
    /// left to the upload of the MP4.
    fn stage_ahead(&self, job: &Job) -> StagingAhead {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(PathBuf, Vec<Ahead>)>();
        let container = self.container.clone();
        let name = blob(job, RECORDING_MP4);
        let staging = self.cfg.staging;
        let mut task = tokio::task::JoinSet::new();
        let span = tracing::info_span!("stage ahead", blob = RECORDING_MP4);
        task.spawn(
            async move {
                let mut all = Vec::new();
                while let Some((path, tiles)) = rx.recv().await {
                    match container.stage_tiles(&name, &path, tiles, staging).await {
                        Ok(blocks) => all.extend(blocks),
                        Err(e) => tracing::warn!(
                            chunk = %path.display(),
                            "cannot stage the chunk ahead ({e}); the MP4's upload sends its bytes"
                        ),
                    }
                }
                all
            }
            .instrument(span),
        );
        StagingAhead {
            landed: tx,
            tiles: Default::default(),
            task,
        }
    }

    /// Downloads `url` to `path`; a chunk's MP4 (`ahead`) is then staged ahead. A metadata
    /// file (`ahead` none) larger than [`Downloader::METADATA_LIMIT`] is refused.
    async fn fetch(&self, url: &Url, path: PathBuf, ahead: Option<&StagingAhead>) -> Result<()> {
        let n = match ahead {
            Some(_) => self.downloader.download(url, &path).await?,
            None => {
                let limit = Downloader::METADATA_LIMIT;
                self.downloader.download_limited(url, &path, limit).await?
            }
        };
        tracing::debug!(file = %path.display(), bytes = n, "downloaded");
        if let Some(ahead) = ahead {
            match crate::storage::tiles_of(&path, self.cfg.staging).await {
                Ok(tiles) => {
                    let mut all = ahead.tiles.lock().unwrap_or_else(|p| p.into_inner());
                    all.extend(tiles.iter().cloned());
                    let _ = ahead.landed.send((path, tiles));
                }
                Err(e) => tracing::debug!("not staged ahead: {e}"),
            }
        }
        Ok(())
    }

    /// Runs the archive job on the downloaded `chunks` into `out`, stitching first: the MP4's
    /// blocks are staged (and hashed) while the job checks the recording, and dropped when the
    /// check rejects it. Returns the outcome and, when ok, the staged MP4 to commit.
    async fn archive(
        &self,
        job: &Job,
        chunks: PathBuf,
        out: &Path,
        tiles: Vec<Ahead>,
        mut ahead: tokio::task::JoinSet<Vec<Ahead>>,
    ) -> Result<(Outcome, Option<Uploaded>)> {
        let options = JobOptions::default().stitch_first(true).hash_mp4(false);
        let archive = ArchiveJob::new(chunks, out, options);
        let (tx, rx) = tokio::sync::oneshot::channel::<callrec::Stitched>();
        let tx = std::sync::Mutex::new(Some(tx));
        let span = tracing::info_span!("archive job");
        let mut run = tokio::task::spawn_blocking(move || {
            span.in_scope(|| {
                archive.run_with(&|_, _| {}, &|stitched| {
                    let tx = tx.lock().unwrap_or_else(|p| p.into_inner()).take();
                    if let Some(tx) = tx {
                        let _ = tx.send(stitched.clone());
                    }
                })
            })
        });
        let name = blob(job, RECORDING_MP4);
        let staging = async {
            // The job ended without an MP4: nothing to stage.
            let mp4 = rx.await.ok()?;
            // Read, compared and hashed while the blocks are still going up.
            let staged_ahead = async {
                match ahead.join_next().await {
                    Some(Ok(blocks)) => blocks,
                    _ => Vec::new(),
                }
            };
            let (path, copies, staging) = (&mp4.path, &mp4.copies, self.cfg.staging);
            let staged = self
                .container
                .stage_reusing_later(&name, path, copies, &tiles, staged_ahead, staging)
                .instrument(tracing::info_span!("stage", blob = RECORDING_MP4))
                .await;
            if let Ok(up) = &staged {
                tracing::debug!(
                    bytes = up.bytes,
                    reused = up.reused,
                    "{RECORDING_MP4} staged, reusing the blocks staged ahead"
                );
            }
            Some(staged)
        };
        tokio::pin!(staging);
        let died = |e| job_died(out, e);
        let (outcome, staged) = tokio::select! {
            o = &mut run => {
                let o = o.map_err(died)?;
                // Rejected or failed: whatever was staged is never committed.
                let staged = if o.status == Status::Ok { staging.await } else { None };
                (o, staged)
            }
            staged = &mut staging => (run.await.map_err(died)?, staged),
        };
        tracing::debug!(
            status = outcome.status.as_str(),
            seconds = outcome.seconds,
            "archive job done"
        );
        if outcome.status != Status::Ok {
            return Ok((outcome, None));
        }
        match staged {
            Some(Err(e)) => {
                // The MP4 is on disk: the upload stages it again.
                tracing::warn!(
                    "staging {RECORDING_MP4} while checking failed ({e}); staging it again"
                );
                Ok((outcome, None))
            }
            staged => Ok((outcome, staged.transpose()?)),
        }
    }

    /// Uploads what the archive job made, each blob verified after its commit, and the
    /// `manifest.json` last: ok, `recording.mp4`, `timeline.json`, `check.json`; rejected,
    /// `check.json` only (one that says why when the job made none).
    /// `staged`: the MP4's blocks, staged while the job ran (committed here).
    async fn publish(
        &self,
        job: &Job,
        dir: &Path,
        outcome: &Outcome,
        mut staged: Option<Uploaded>,
    ) -> Result<u64> {
        let names: &[&str] = if outcome.status == Status::Ok {
            &[RECORDING_MP4, TIMELINE_JSON, CHECK_JSON]
        } else {
            &[CHECK_JSON]
        };
        // At once; the manifest after all of them.
        let uploads = names.iter().map(|name| {
            let staged = if *name == RECORDING_MP4 {
                staged.take()
            } else {
                None
            };
            self.publish_one(job, dir, outcome, name, staged)
        });
        let mut reused = 0;
        let uploaded: BTreeMap<String, Output> = futures::future::try_join_all(uploads)
            .await?
            .into_iter()
            .map(|(name, output, n)| {
                reused += n;
                (name, output)
            })
            .collect();
        let chunks = dir.join("chunks");
        let mut entry = outcome.entry(
            &job.recording_id,
            &job.name,
            None,
            &fingerprint(&chunks).unwrap_or_default(),
            false,
        );
        entry.outputs = uploaded;
        self.upload_manifest(job, dir, &entry).await?;
        Ok(reused)
    }

    /// Uploads the output `name` of the job (or, for a rejected recording without a check
    /// report, a `check.json` that says why), verified; returns it as the manifest lists it,
    /// and how many of its bytes were staged ahead.
    async fn publish_one(
        &self,
        job: &Job,
        dir: &Path,
        outcome: &Outcome,
        name: &str,
        staged: Option<Uploaded>,
    ) -> Result<(String, Output, u64)> {
        let (path, described) = match outcome.outputs.get(name) {
            Some(o) => (dir.join("out").join(name), o.clone()),
            None => {
                // Rejected before a check report (the recording does not open).
                let reason = outcome.reason.as_deref().unwrap_or("no check report");
                let json = error_check_json(&job.recording_id, "open", reason);
                let path = dir.join("check.error.json");
                tokio::fs::write(&path, &json)
                    .await
                    .map_err(Error::io("write", &path))?;
                (path, Output::of(json.as_bytes()))
            }
        };
        let span = tracing::info_span!("upload", blob = name, bytes = described.bytes);
        let up = self
            .upload(job, name, &path, &described, staged)
            .instrument(span)
            .await?;
        let output = Output {
            bytes: up.bytes,
            sha256: up.sha256,
        };
        Ok((name.to_string(), output, up.reused))
    }

    /// Writes `entry` as the recording's `manifest.json`, uploaded last: it marks the
    /// recording done.
    async fn upload_manifest(&self, job: &Job, dir: &Path, entry: &Entry) -> Result<()> {
        let mut json = serde_json::to_string_pretty(entry).unwrap_or_default();
        json.push('\n');
        let path = dir.join(MANIFEST);
        tokio::fs::write(&path, &json)
            .await
            .map_err(Error::io("write", &path))?;
        self.upload(job, MANIFEST, &path, &Output::of(json.as_bytes()), None)
            .await
            .map(|_| ())
    }

    /// Uploads `path` as `<name>/<file>` (or commits its `staged` blocks) and verifies the
    /// commit by reading it back ([`Container::verify`]): its size is `described`'s, and so is
    /// its SHA-256 when `described` has one (the job may leave the MP4's to the upload, which
    /// hashes what it sends).
    async fn upload(
        &self,
        job: &Job,
        file: &str,
        path: &Path,
        described: &Output,
        staged: Option<Uploaded>,
    ) -> Result<Uploaded> {
        let name = blob(job, file);
        let content_type = if file.ends_with(".mp4") {
            "video/mp4"
        } else {
            "application/json"
        };
        let staged = match staged {
            Some(s) => s,
            None => {
                self.container
                    .stage_file(&name, path, self.cfg.staging)
                    .await?
            }
        };
        let differs = |what: &str, expected: String, actual: String| Error::Verify {
            name: name.clone(),
            what: what.into(),
            expected,
            actual,
        };
        if staged.bytes != described.bytes {
            let (want, got) = (described.bytes.to_string(), staged.bytes.to_string());
            return Err(differs("local file's size", want, got));
        }
        if !described.sha256.is_empty() && staged.sha256 != described.sha256 {
            let (want, got) = (described.sha256.clone(), staged.sha256.clone());
            return Err(differs("local file's SHA-256", want, got));
        }
        let up = self.container.commit(&name, staged, content_type).await?;
        self.container.verify(&name, &up).await?;
        Ok(up)
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
