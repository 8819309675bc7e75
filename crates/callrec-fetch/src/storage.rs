//! Azure Storage Queue and Blob clients (Microsoft's crates, SAS URLs).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use azure_core::http::{RequestContent, StatusCode};
use azure_storage_blob::models::{
    BlockBlobClientCommitBlockListOptions, BlockBlobClientStageBlockOptions, BlockListType,
    BlockLookupList,
};
use azure_storage_blob::BlobContainerClient;
use azure_storage_queue::models::{QueueClientReceiveMessagesOptions, QueueMessage};
use azure_storage_queue::QueueClient;
use md5::Digest as _;

use crate::blocks::{self, Ahead};
use crate::{Error, Result, Url};

/// A queue and its `<queue>-poison` sibling, reached with one SAS URL (an account SAS for the
/// queue service reaches both).
#[derive(Clone)]
pub struct Queue {
    name: String,
    main: Arc<QueueClient>,
    poison: Arc<QueueClient>,
    poison_name: String,
}

/// A received message.
#[derive(Debug, Clone)]
pub struct Received {
    /// Message id.
    pub id: String,
    /// How many times it has been delivered, this time included.
    pub dequeue_count: u64,
    /// The message text as stored (Event Grid: base64 JSON).
    pub text: String,
    /// The current pop receipt (renewals replace it).
    pub lease: Lease,
}

/// The pop receipt of a message being worked on; each renewal replaces it. It is held for the
/// whole of each request that uses it, so a renewal and a delete never overlap: a delete sent
/// while a renewal is in flight would carry the receipt that renewal is about to replace (and
/// fail with 400 PopReceiptMismatch). `None` once the message is deleted (a later renewal is
/// not sent).
#[derive(Debug, Clone)]
pub struct Lease(Arc<tokio::sync::Mutex<Option<String>>>);

fn sibling(url: &Url, name: &str) -> Result<Url> {
    let mut u = url.clone();
    u.path_segments_mut()
        .map_err(|_| Error::Config(format!("{url} is not a queue URL")))?
        .pop()
        .push(name);
    Ok(u)
}

fn last_segment(url: &Url) -> Option<String> {
    url.path_segments()?
        .rfind(|s| !s.is_empty())
        .map(str::to_string)
}

/// `url` without its query (the SAS), for messages and logs.
pub(crate) fn redact(url: &Url) -> String {
    let mut u = url.clone();
    u.set_query(None);
    u.to_string()
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Queue({})", self.name)
    }
}

impl std::fmt::Debug for Container {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Container({})", self.name)
    }
}

impl Queue {
    /// `url` is the queue's URL with a SAS (`https://acct.queue.core.windows.net/q?sv=...`).
    pub fn from_sas_url(url: &Url) -> Result<Queue> {
        let mut url = url.clone();
        if url.path().ends_with('/') {
            let p = url.path().trim_end_matches('/').to_string();
            url.set_path(&p);
        }
        let name = last_segment(&url)
            .ok_or_else(|| Error::Config(format!("{} names no queue", redact(&url))))?;
        let poison_name = format!("{name}-poison");
        let poison_url = sibling(&url, &poison_name)?;
        let client = |u: Url| {
            QueueClient::new(u, None, None)
                .map_err(|e| Error::storage("open queue", name.clone(), e))
        };
        Ok(Queue {
            main: Arc::new(client(url.clone())?),
            poison: Arc::new(client(poison_url)?),
            name,
            poison_name,
        })
    }

    /// The queue's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The poison queue's name (`<queue>-poison`).
    pub fn poison_name(&self) -> &str {
        &self.poison_name
    }

    /// Fails unless the queue exists and this SAS may read it: a worker on a missing queue
    /// would wait for messages forever. A 404 is [`Error::Config`].
    pub async fn probe(&self) -> Result<()> {
        let r = self.main.get_properties(None).await.map(|_| ());
        probed(r, "queue", &self.name, "--queue")
    }

    /// Creates the queue and its poison queue if they do not exist (tests and first runs).
    pub async fn create_if_missing(&self) -> Result<()> {
        for (c, n) in [(&self.main, &self.name), (&self.poison, &self.poison_name)] {
            match c.create(None).await {
                Ok(_) => {}
                Err(e) if e.http_status() == Some(StatusCode::Conflict) => {}
                Err(e) => return Err(Error::storage("create queue", n.clone(), e)),
            }
        }
        Ok(())
    }

    async fn receive_from(
        c: &QueueClient,
        name: &str,
        visibility_secs: u32,
    ) -> Result<Option<Received>> {
        let opts = QueueClientReceiveMessagesOptions {
            number_of_messages: Some(1),
            visibility_timeout: Some(visibility_secs as i32),
            ..Default::default()
        };
        let r = c
            .receive_messages(Some(opts))
            .await
            .map_err(|e| Error::storage("receive from", name, e))?;
        let list = r
            .into_model()
            .map_err(|e| Error::storage("read the messages of", name, e))?;
        let Some(m) = list.items.unwrap_or_default().into_iter().next() else {
            return Ok(None);
        };
        let (Some(id), Some(pop)) = (m.message_id, m.pop_receipt) else {
            return Ok(None);
        };
        Ok(Some(Received {
            id,
            dequeue_count: m.dequeue_count.unwrap_or(1) as u64,
            text: m.message_text.unwrap_or_default(),
            lease: Lease(Arc::new(tokio::sync::Mutex::new(Some(pop)))),
        }))
    }

    /// Receives one message, invisible to others for `visibility_secs`.
    pub async fn receive(&self, visibility_secs: u32) -> Result<Option<Received>> {
        Self::receive_from(&self.main, &self.name, visibility_secs).await
    }

    /// Receives one message from the poison queue (tests, operators).
    pub async fn receive_poison(&self, visibility_secs: u32) -> Result<Option<Received>> {
        Self::receive_from(&self.poison, &self.poison_name, visibility_secs).await
    }

    /// Sets the message's visibility timeout to `secs` from now (renewal; 0 releases it).
    /// A message already deleted through this `Received` is left alone.
    pub async fn set_visibility(&self, m: &Received, secs: u32) -> Result<()> {
        let mut lease = m.lease.0.lock().await;
        let Some(receipt) = lease.as_deref() else {
            return Ok(());
        };
        let r = self
            .main
            .update_message(&m.id, receipt, secs as i32, None)
            .await
            .map_err(|e| Error::storage("renew", format!("{}/{}", self.name, m.id), e))?;
        let pop = r
            .headers()
            .get_optional_str(&azure_core::http::headers::HeaderName::from_static(
                "x-ms-popreceipt",
            ))
            .map(str::to_string);
        if let Some(pop) = pop {
            *lease = Some(pop);
        }
        Ok(())
    }

    /// Deletes the message (it is done); waits for a renewal in flight, and stops later ones.
    pub async fn delete(&self, m: &Received) -> Result<()> {
        let mut lease = m.lease.0.lock().await;
        let Some(receipt) = lease.as_deref() else {
            return Ok(());
        };
        match self.main.delete_message(&m.id, receipt, None).await {
            Ok(_) => {
                *lease = None;
                Ok(())
            }
            // Already deleted (by a worker that got it after our lease lapsed).
            Err(e) if e.http_status() == Some(StatusCode::NotFound) => {
                *lease = None;
                Ok(())
            }
            Err(e) => Err(Error::storage(
                "delete",
                format!("{}/{}", self.name, m.id),
                e,
            )),
        }
    }

    /// Sends `text` to the queue (tests, replays).
    pub async fn send(&self, text: &str) -> Result<()> {
        Self::send_to(&self.main, &self.name, text).await
    }

    async fn send_to(c: &QueueClient, name: &str, text: &str) -> Result<()> {
        let msg = QueueMessage {
            message_text: Some(text.to_string()),
        };
        let body =
            RequestContent::try_from(msg).map_err(|e| Error::storage("encode for", name, e))?;
        c.send_message(body, None)
            .await
            .map_err(|e| Error::storage("send to", name, e))?;
        Ok(())
    }

    /// Moves the message to `<queue>-poison` (created when missing), then deletes it here.
    pub async fn poison(&self, m: &Received) -> Result<()> {
        if let Err(e) = Self::send_to(&self.poison, &self.poison_name, &m.text).await {
            let missing = matches!(&e, Error::Storage { source, .. } if source.http_status() == Some(StatusCode::NotFound));
            if !missing {
                return Err(e);
            }
            self.create_if_missing().await?;
            Self::send_to(&self.poison, &self.poison_name, &m.text).await?;
        }
        self.delete(m).await
    }
}

/// A blob container reached with a SAS URL (read, create, write, list).
#[derive(Clone)]
pub struct Container {
    client: Arc<BlobContainerClient>,
    name: String,
}

impl Container {
    /// `url` is the container's URL with a SAS.
    pub fn from_sas_url(url: &Url) -> Result<Container> {
        let name = last_segment(url)
            .ok_or_else(|| Error::Config(format!("{} names no container", redact(url))))?;
        let client = BlobContainerClient::new(url.clone(), None, None)
            .map_err(|e| Error::storage("open container", name.clone(), e))?;
        Ok(Container {
            client: Arc::new(client),
            name,
        })
    }

    /// Fails unless the container exists and this SAS may read it: on a missing container
    /// every recording would look unarchived and fail its upload. A 404 is [`Error::Config`].
    pub async fn probe(&self) -> Result<()> {
        let r = self.client.get_properties(None).await.map(|_| ());
        probed(r, "container", &self.name, "--container")
    }

    /// Creates the container if it does not exist (tests and first runs).
    pub async fn create_if_missing(&self) -> Result<()> {
        match self.client.create(None).await {
            Ok(_) => Ok(()),
            Err(e) if e.http_status() == Some(StatusCode::Conflict) => Ok(()),
            Err(e) => Err(Error::storage("create container", self.name.clone(), e)),
        }
    }

    /// The committed size of blob `name`, `None` when it does not exist.
    pub async fn size(&self, name: &str) -> Result<Option<u64>> {
        Ok(self.facts(name).await?.map(|f| f.bytes))
    }

    /// Blob `name`'s bytes (tests, small blobs).
    pub async fn read(&self, name: &str) -> Result<Vec<u8>> {
        let r = self
            .client
            .blob_client(name)
            .download(None)
            .await
            .map_err(|e| Error::storage("download", self.target(name), e))?;
        let body = r
            .body
            .collect()
            .await
            .map_err(|e| Error::storage("download", self.target(name), e))?;
        Ok(body.to_vec())
    }

    /// Blob `name`'s bytes, `None` when there is no such blob (small blobs: a manifest).
    pub async fn read_optional(&self, name: &str) -> Result<Option<Vec<u8>>> {
        match self.read(name).await {
            Ok(b) => Ok(Some(b)),
            Err(Error::Storage { source, .. })
                if source.http_status() == Some(StatusCode::NotFound) =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    fn target(&self, name: &str) -> String {
        format!("{}/{name}", self.name)
    }

    /// Uploads the file at `path` as block blob `name`: [`Container::stage_file`], then
    /// [`Container::commit`], so the name holds the old blob or the whole new one, never a part.
    pub async fn upload_file(
        &self,
        name: &str,
        path: &Path,
        content_type: &str,
        staging: Staging,
    ) -> Result<Uploaded> {
        let staged = self.stage_file(name, path, staging).await?;
        self.commit(name, staged, content_type).await
    }

    /// Stages the file at `path` as uncommitted blocks of block blob `name` (what the name
    /// holds does not change until [`Container::commit`]; blocks never committed are discarded
    /// by the service), hashing it with SHA-256 on the way.
    ///
    /// The file is read in order on a blocking thread that also hashes it; each block is sent
    /// with its MD5 as `Content-MD5` (the service refuses a block whose bytes do not hash to
    /// it) and its id names that MD5, so the committed block list read back by
    /// [`Container::verify`] pins the blob's content block by block. At most
    /// [`Staging::parallel`] blocks are in flight, one more is queued and one is being read:
    /// `parallel + 2` block buffers in memory.
    pub async fn stage_file(&self, name: &str, path: &Path, staging: Staging) -> Result<Uploaded> {
        self.stage_reusing(name, path, &[], &[], staging).await
    }

    /// Stages blocks of block blob `name` from the chunk file at `source` ahead of the stitch:
    /// its `mdat` payloads (of at least one block or 1 MiB), in blocks of
    /// [`Staging::block_size`] from each payload's start. [`Container::stage_reusing`] then
    /// names them in the output's block list where the output holds their bytes. Never
    /// committed (a recording the check rejects), they are discarded by the service.
    pub async fn stage_ahead(
        &self,
        name: &str,
        source: &Path,
        staging: Staging,
    ) -> Result<Vec<Ahead>> {
        let tiles = tiles_of(source, staging).await?;
        self.stage_tiles(name, source, tiles, staging).await
    }

    /// Stages `tiles` of `source` ([`tiles_of`]); returns them with their ids.
    pub(crate) async fn stage_tiles(
        &self,
        name: &str,
        source: &Path,
        tiles: Vec<Ahead>,
        staging: Staging,
    ) -> Result<Vec<Ahead>> {
        let units = tiles
            .iter()
            .map(|t| blocks::Unit {
                offset: t.src_offset,
                len: t.len,
                reuse: None,
            })
            .collect();
        let (ids, _) = self
            .stage_units(name, source, units, false, staging.parallel)
            .await?;
        Ok(tiles
            .into_iter()
            .zip(ids)
            .map(|(t, (id, _, _))| Ahead { id, ..t })
            .collect())
    }

    /// [`Container::stage_file`] for a stitched output whose sample bytes came from `copies`
    /// ([`callrec::Stitched::copies`]): each block of `ahead` ([`Container::stage_ahead`]) that
    /// the output holds whole is named, not sent again, once the reader has found the output's
    /// bytes there equal to the chunk's (otherwise they are sent). The SHA-256 is the whole
    /// output's, read in order.
    pub async fn stage_reusing(
        &self,
        name: &str,
        path: &Path,
        copies: &[callrec::SourceRange],
        ahead: &[Ahead],
        staging: Staging,
    ) -> Result<Uploaded> {
        let staged = std::future::ready(ahead.to_vec());
        self.stage_reusing_later(name, path, copies, ahead, staged, staging)
            .await
    }

    /// [`Container::stage_reusing`] while the blocks are still being staged ahead: the output
    /// is read, compared and hashed against `tiles` (what will be staged: their ids are not
    /// used), then `staged` gives the blocks that were; a tile that was not (its chunk's
    /// staging failed) is sent from the output.
    pub async fn stage_reusing_later(
        &self,
        name: &str,
        path: &Path,
        copies: &[callrec::SourceRange],
        tiles: &[Ahead],
        staged: impl std::future::Future<Output = Vec<Ahead>>,
        staging: Staging,
    ) -> Result<Uploaded> {
        let len = tokio::fs::metadata(path)
            .await
            .map_err(Error::io("read", path))?
            .len();
        let block_size = staging.block_size.max(1) as u64;
        let units = blocks::units(len, copies, tiles, block_size);
        let spans: Vec<(u64, Option<(std::path::PathBuf, u64)>)> = units
            .iter()
            .map(|u| {
                (
                    u.offset,
                    u.reuse.as_ref().map(|a| (a.source.clone(), a.src_offset)),
                )
            })
            .collect();
        let (mut blocks, sha256) = self
            .stage_units(name, path, units, true, staging.parallel)
            .await?;
        // The ids of the blocks staged ahead; a reused one without is sent now.
        let ids: HashMap<(std::path::PathBuf, u64, u64), Vec<u8>> = staged
            .await
            .into_iter()
            .map(|a| ((a.source, a.src_offset, a.len), a.id))
            .collect();
        let mut missing = Vec::new();
        for (i, ((offset, reuse), block)) in spans.into_iter().zip(&mut blocks).enumerate() {
            let Some((source, src_offset)) = reuse.filter(|_| block.2) else {
                continue;
            };
            match ids.get(&(source, src_offset, block.1)) {
                Some(id) => block.0 = id.clone(),
                None => missing.push((i, offset)),
            }
        }
        if !missing.is_empty() {
            let units = missing
                .iter()
                .map(|&(i, offset)| blocks::Unit {
                    offset,
                    len: blocks[i].1,
                    reuse: None,
                })
                .collect();
            let (sent, _) = self
                .stage_units(name, path, units, false, staging.parallel)
                .await?;
            for ((i, _), (id, _, _)) in missing.into_iter().zip(sent) {
                blocks[i] = (id, blocks[i].1, false);
            }
        }
        Ok(Uploaded {
            bytes: blocks.iter().map(|b| b.1).sum(),
            sha256,
            reused: blocks.iter().filter(|b| b.2).map(|b| b.1).sum(),
            blocks: blocks.into_iter().map(|(id, n, _)| (id, n)).collect(),
        })
    }

    /// Stages `units` of the file at `path` in order, `parallel` at once (see
    /// [`Container::stage_file`]); returns each block's id, size and whether it was reused,
    /// and the SHA-256 of the units' bytes when `hash`.
    async fn stage_units(
        &self,
        name: &str,
        path: &Path,
        units: Vec<blocks::Unit>,
        hash: bool,
        parallel: usize,
    ) -> Result<(Vec<(Vec<u8>, u64, bool)>, String)> {
        let parallel = parallel.max(1);
        let sizes: Vec<u64> = units.iter().map(|u| u.len).collect();
        let (tx, mut rx) = tokio::sync::mpsc::channel::<blocks::Block>(1);
        let file = path.to_path_buf();
        let reader =
            tokio::task::spawn_blocking(move || blocks::read_units(&file, &units, hash, &tx));
        let mut inflight = tokio::task::JoinSet::new();
        let mut ids: Vec<Option<(Vec<u8>, bool)>> = vec![None; sizes.len()];
        loop {
            // A free slot first, then the next block: `parallel` in flight, one queued, one
            // being read.
            if inflight.len() >= parallel {
                let (i, id) = stage_result(inflight.join_next().await, &self.target(name))?;
                ids[i] = Some((id, false));
            }
            let Some(block) = rx.recv().await else { break };
            match block {
                blocks::Block::Bytes(i, buf) => {
                    let b = self.client.blob_client(name).block_blob_client();
                    inflight.spawn(stage(b, i, buf));
                }
                blocks::Block::Reused(i, id) => ids[i] = Some((id, true)),
                blocks::Block::Failed(op, e) => return Err(Error::io(op, path)(e)),
            }
        }
        while let Some(r) = inflight.join_next().await {
            let (i, id) = stage_result(Some(r), &self.target(name))?;
            ids[i] = Some((id, false));
        }
        let sha256 = reader
            .await
            .map_err(|e| Error::io("read", path)(std::io::Error::other(e)))?;
        let mut staged = Vec::with_capacity(sizes.len());
        for (id, n) in ids.into_iter().zip(sizes) {
            // The reader sends every unit or fails; a gap would be a block never staged.
            let (id, reused) = id.ok_or_else(|| {
                Error::io("read", path)(std::io::Error::other("a block was not read"))
            })?;
            staged.push((id, n, reused));
        }
        Ok((staged, sha256))
    }

    /// Commits the `staged` blocks as block blob `name`, with `content_type` and the content's
    /// SHA-256 as `sha256` metadata, where a later delivery reads it back without downloading
    /// the blob.
    pub async fn commit(
        &self,
        name: &str,
        staged: Uploaded,
        content_type: &str,
    ) -> Result<Uploaded> {
        let list = BlockLookupList {
            latest: Some(staged.blocks.iter().map(|(id, _)| id.clone()).collect()),
            ..Default::default()
        };
        let body = RequestContent::try_from(list)
            .map_err(|e| Error::storage("encode the block list of", self.target(name), e))?;
        let opts = BlockBlobClientCommitBlockListOptions {
            blob_content_type: Some(content_type.to_string()),
            metadata: Some(HashMap::from([(
                SHA256_META.to_string(),
                staged.sha256.clone(),
            )])),
            ..Default::default()
        };
        self.client
            .blob_client(name)
            .block_blob_client()
            .commit_block_list(body, Some(opts))
            .await
            .map_err(|e| Error::storage("commit", self.target(name), e))?;
        Ok(staged)
    }

    /// What the container holds under `name` (size and the `sha256` metadata an
    /// [`Container::upload_file`] set), `None` when there is no such blob.
    pub async fn facts(&self, name: &str) -> Result<Option<BlobFacts>> {
        use azure_storage_blob::models::BlobClientGetPropertiesResultHeaders;
        let r = match self.client.blob_client(name).get_properties(None).await {
            Ok(r) => r,
            Err(e) if e.http_status() == Some(StatusCode::NotFound) => return Ok(None),
            Err(e) => {
                return Err(Error::storage(
                    "read the properties of",
                    self.target(name),
                    e,
                ))
            }
        };
        let read = |e| Error::storage("read the properties of", self.target(name), e);
        Ok(Some(BlobFacts {
            bytes: r.content_length().map_err(read)?.unwrap_or(0),
            sha256: r.metadata().map_err(read)?.remove(SHA256_META),
        }))
    }

    /// Reads back what [`Container::upload_file`] committed: the committed block list must be
    /// the staged blocks (ids naming each block's service-checked MD5, and sizes), the blob's
    /// size their sum and its `sha256` metadata the uploaded one.
    pub async fn verify(&self, name: &str, up: &Uploaded) -> Result<()> {
        let mismatch = |what: &str, expected: String, actual: String| Error::Verify {
            name: self.target(name),
            what: what.to_string(),
            expected,
            actual,
        };
        let facts = self
            .facts(name)
            .await?
            .ok_or_else(|| mismatch("presence", "a blob".into(), "none".into()))?;
        if facts.bytes != up.bytes {
            return Err(mismatch(
                "size",
                up.bytes.to_string(),
                facts.bytes.to_string(),
            ));
        }
        if facts.sha256.as_deref() != Some(up.sha256.as_str()) {
            return Err(mismatch(
                "sha256 metadata",
                up.sha256.clone(),
                facts.sha256.unwrap_or_else(|| "none".into()),
            ));
        }
        let r = self
            .client
            .blob_client(name)
            .block_blob_client()
            .get_block_list(BlockListType::Committed, None)
            .await
            .map_err(|e| Error::storage("read the block list of", self.target(name), e))?;
        let list = r
            .into_model()
            .map_err(|e| Error::storage("read the block list of", self.target(name), e))?;
        let committed: Vec<(Vec<u8>, u64)> = list
            .committed_blocks
            .unwrap_or_default()
            .into_iter()
            .map(|b| {
                (
                    b.name.unwrap_or_default(),
                    b.size.unwrap_or(0).max(0) as u64,
                )
            })
            .collect();
        if committed != up.blocks {
            let show = |v: &[(Vec<u8>, u64)]| {
                v.iter()
                    .map(|(id, n)| format!("{}:{n}", String::from_utf8_lossy(id)))
                    .collect::<Vec<_>>()
                    .join(",")
            };
            return Err(mismatch(
                "committed blocks (index-md5:size)",
                show(&up.blocks),
                show(&committed),
            ));
        }
        Ok(())
    }
}

/// What a probe of the `kind` (queue, container) `name` found: a 404 is [`Error::Config`] (it
/// does not exist: check `flag`'s URL), another failure the storage error.
fn probed(r: azure_core::Result<()>, kind: &str, name: &str, flag: &str) -> Result<()> {
    match r {
        Ok(()) => Ok(()),
        Err(e) if e.http_status() == Some(StatusCode::NotFound) => Err(Error::Config(format!(
            "{kind} {name} does not exist (create it, or check the {flag} URL)"
        ))),
        Err(e) => Err(Error::storage(
            "read the properties of",
            format!("{kind} {name}"),
            e,
        )),
    }
}

/// The blocks [`Container::stage_ahead`] would stage from the chunk file at `source`, their
/// ids not yet known.
pub(crate) async fn tiles_of(source: &Path, staging: Staging) -> Result<Vec<Ahead>> {
    let block_size = staging.block_size.max(1) as u64;
    let file = source.to_path_buf();
    let tiles = tokio::task::spawn_blocking(move || blocks::ahead_tiles(&file, block_size))
        .await
        .map_err(|e| Error::io("read", source)(std::io::Error::other(e)))?
        .map_err(Error::io("read", source))?;
    Ok(tiles
        .into_iter()
        .map(|t| Ahead {
            source: source.to_path_buf(),
            src_offset: t.offset,
            len: t.len,
            id: Vec::new(),
        })
        .collect())
}

/// The metadata key holding a blob's SHA-256 (lowercase hex).
pub const SHA256_META: &str = "sha256";

/// How [`Container::stage_file`] cuts a file into blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Staging {
    /// Bytes per block (the last may be shorter).
    pub block_size: usize,
    /// Blocks sent at once.
    pub parallel: usize,
}

impl Default for Staging {
    /// 4 MiB blocks, 4 at once.
    fn default() -> Staging {
        Staging {
            block_size: 4 << 20,
            parallel: 4,
        }
    }
}

/// What [`Container::stage_file`] staged (and, handed to [`Container::commit`], committed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uploaded {
    /// Bytes uploaded.
    pub bytes: u64,
    /// The content's SHA-256, lowercase hex (set as metadata by the commit).
    pub sha256: String,
    /// Each block's id (`<index>-<md5 hex>`: the index is the block's place in the file it was
    /// staged from, so blocks staged ahead or sent again name another) and size, in order.
    pub blocks: Vec<(Vec<u8>, u64)>,
    /// Bytes in blocks staged ahead from chunk files ([`Container::stage_reusing`]), not sent
    /// again.
    pub reused: u64,
}

/// A blob's size and `sha256` metadata ([`Container::facts`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobFacts {
    /// Committed size.
    pub bytes: u64,
    /// The `sha256` metadata, when set.
    pub sha256: Option<String>,
}

/// Hashes block `index` (on a blocking thread: 4 MiB of MD5 is milliseconds), then stages it
/// with its MD5 as `Content-MD5`; returns the index and the block id.
async fn stage(
    b: azure_storage_blob::BlockBlobClient,
    index: usize,
    buf: Vec<u8>,
) -> azure_core::Result<(usize, Vec<u8>)> {
    let (md5, buf) = tokio::task::spawn_blocking(move || (md5::Md5::digest(&buf), buf))
        .await
        .map_err(|e| azure_core::Error::new(azure_core::error::ErrorKind::Other, e))?;
    let id = block_id(index, &md5);
    let opts = BlockBlobClientStageBlockOptions {
        transactional_content_md5: Some(md5.to_vec()),
        ..Default::default()
    };
    let len = buf.len() as u64;
    b.stage_block(&id, len, RequestContent::from(buf), Some(opts))
        .await?;
    Ok((index, id))
}

/// A block id: the index and the block's MD5, so that a committed list names each block's
/// content. Same length for every block of a blob, as the service requires.
fn block_id(index: usize, md5: &[u8]) -> Vec<u8> {
    format!("{index:08}-{}", callrec_archive::names::hex(md5)).into_bytes()
}

type Staged = azure_core::Result<(usize, Vec<u8>)>;

fn stage_result(
    r: Option<std::result::Result<Staged, tokio::task::JoinError>>,
    target: &str,
) -> Result<(usize, Vec<u8>)> {
    match r {
        None => Err(Error::storage(
            "stage a block of",
            target,
            azure_core::Error::new(azure_core::error::ErrorKind::Other, "no block in flight"),
        )),
        Some(Ok(Ok(staged))) => Ok(staged),
        Some(Ok(Err(e))) => Err(Error::storage("stage a block of", target, e)),
        // A task that died is a transient fault (the message comes back), not a
        // misconfiguration that stops the worker.
        Some(Err(e)) => Err(Error::storage(
            "stage a block of",
            target,
            azure_core::Error::new(azure_core::error::ErrorKind::Other, e),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poison_queue_shares_the_sas() {
        let u: Url = "http://127.0.0.1:1/devstoreaccount1/jobs?sv=1&sig=x"
            .parse()
            .unwrap();
        let p = sibling(&u, "jobs-poison").unwrap();
        assert_eq!(
            p.as_str(),
            "http://127.0.0.1:1/devstoreaccount1/jobs-poison?sv=1&sig=x"
        );
        assert_eq!(last_segment(&u).as_deref(), Some("jobs"));
        assert_eq!(redact(&u), "http://127.0.0.1:1/devstoreaccount1/jobs");
    }
}
