//! Azure Storage Queue and Blob clients (Microsoft's crates, SAS URLs).

use std::path::Path;
use std::sync::{Arc, Mutex};

use azure_core::http::{RequestContent, StatusCode};
use azure_storage_blob::models::{BlockBlobClientCommitBlockListOptions, BlockLookupList};
use azure_storage_blob::BlobContainerClient;
use azure_storage_queue::models::{QueueClientReceiveMessagesOptions, QueueMessage};
use azure_storage_queue::QueueClient;
use tokio::io::AsyncReadExt;

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

/// The pop receipt of a message being worked on; each renewal replaces it.
#[derive(Debug, Clone)]
pub struct Lease(Arc<Mutex<String>>);

impl Lease {
    fn get(&self) -> String {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
    fn set(&self, s: String) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = s;
    }
}

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
            lease: Lease(Arc::new(Mutex::new(pop))),
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
    pub async fn set_visibility(&self, m: &Received, secs: u32) -> Result<()> {
        let r = self
            .main
            .update_message(&m.id, &m.lease.get(), secs as i32, None)
            .await
            .map_err(|e| Error::storage("renew", format!("{}/{}", self.name, m.id), e))?;
        let pop = r
            .headers()
            .get_optional_str(&azure_core::http::headers::HeaderName::from_static(
                "x-ms-popreceipt",
            ))
            .map(str::to_string);
        if let Some(pop) = pop {
            m.lease.set(pop);
        }
        Ok(())
    }

    /// Deletes the message (it is done).
    pub async fn delete(&self, m: &Received) -> Result<()> {
        match self.main.delete_message(&m.id, &m.lease.get(), None).await {
            Ok(_) => Ok(()),
            // Already deleted (by a worker that got it after our lease lapsed).
            Err(e) if e.http_status() == Some(StatusCode::NotFound) => Ok(()),
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
        match self.client.blob_client(name).get_properties(None).await {
            Ok(r) => {
                let len = r
                    .headers()
                    .get_optional_str(&azure_core::http::headers::CONTENT_LENGTH)
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
                Ok(Some(len))
            }
            Err(e) if e.http_status() == Some(StatusCode::NotFound) => Ok(None),
            Err(e) => Err(Error::storage(
                "read the properties of",
                self.target(name),
                e,
            )),
        }
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

    fn target(&self, name: &str) -> String {
        format!("{}/{name}", self.name)
    }

    /// Uploads the file at `path` as block blob `name`: staged blocks of `block_size` bytes
    /// (four in flight, so at most four in memory), then one commit, so the name holds the old blob or the
    /// whole new one, never a part. Returns the bytes uploaded.
    pub async fn upload_file(
        &self,
        name: &str,
        path: &Path,
        content_type: &str,
        block_size: usize,
    ) -> Result<u64> {
        let blob = self.client.blob_client(name).block_blob_client();
        let mut file = tokio::fs::File::open(path)
            .await
            .map_err(Error::io("open", path))?;
        let block_size = block_size.max(1);
        let mut ids = Vec::new();
        let mut total = 0u64;
        // Up to STAGE_PARALLEL blocks in flight, each read into its own buffer (no copy).
        let mut inflight = tokio::task::JoinSet::new();
        loop {
            let mut buf = vec![0u8; block_size];
            let mut filled = 0;
            while filled < buf.len() {
                let n = file
                    .read(&mut buf[filled..])
                    .await
                    .map_err(Error::io("read", path))?;
                if n == 0 {
                    break;
                }
                filled += n;
            }
            if filled == 0 {
                break;
            }
            buf.truncate(filled);
            let id = format!("{:08}", ids.len()).into_bytes();
            ids.push(id.clone());
            total += filled as u64;
            if inflight.len() >= STAGE_PARALLEL {
                stage_result(inflight.join_next().await, &self.target(name))?;
            }
            let b = self.client.blob_client(name).block_blob_client();
            inflight.spawn(async move {
                b.stage_block(&id, filled as u64, RequestContent::from(buf), None)
                    .await
                    .map(|_| ())
            });
            if filled < block_size {
                break;
            }
        }
        while let Some(r) = inflight.join_next().await {
            stage_result(Some(r), &self.target(name))?;
        }
        let list = BlockLookupList {
            latest: Some(ids),
            ..Default::default()
        };
        let body = RequestContent::try_from(list)
            .map_err(|e| Error::storage("encode the block list of", self.target(name), e))?;
        let opts = BlockBlobClientCommitBlockListOptions {
            blob_content_type: Some(content_type.to_string()),
            ..Default::default()
        };
        blob.commit_block_list(body, Some(opts))
            .await
            .map_err(|e| Error::storage("commit", self.target(name), e))?;
        Ok(total)
    }
}

/// Blocks staged at once by [`Container::upload_file`].
const STAGE_PARALLEL: usize = 4;

fn stage_result(
    r: Option<std::result::Result<azure_core::Result<()>, tokio::task::JoinError>>,
    target: &str,
) -> Result<()> {
    match r {
        None | Some(Ok(Ok(()))) => Ok(()),
        Some(Ok(Err(e))) => Err(Error::storage("stage a block of", target, e)),
        Some(Err(e)) => Err(Error::Config(format!(
            "staging a block of {target} died: {e}"
        ))),
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
