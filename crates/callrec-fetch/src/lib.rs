//! The callrec archival worker: from Event Grid to an archived blob, on Azure Storage Queues.
//!
//! Event Grid delivers each `Microsoft.Communication.RecordingFileStatusUpdated` event to a
//! Storage Queue (one event per message, base64-encoded JSON). A [`Worker`] drains that queue:
//!
//! 1. receive a message with a visibility timeout and renew it every 10 s while working;
//! 2. download every chunk (`contentLocation`, `metadataLocation`) with ACS HMAC-SHA256 auth
//!    ([`AcsKey`]), only from allow-listed hosts ([`AllowList`]), streamed to disk, resumed with
//!    `Range`, retried with capped exponential backoff and jitter ([`Downloader`]);
//! 3. run the per-recording archive job on the download (`callrec_archive::Job`: check,
//!    timeline, stitch, read-back), the same job `batch` drives;
//! 4. upload `<recordingId>/recording.mp4`, `timeline.json`, `check.json` and, last,
//!    `manifest.json` ([`MANIFEST`]) to the container in staged blocks (each with its MD5) and a
//!    final commit, read each back (size, SHA-256 metadata, committed blocks: [`Container`]),
//!    then delete the message. A delivery whose manifest and blobs are already in the
//!    container is deleted without downloading anything. A recording
//!    whose check finds errors uploads `check.json` only and its message moves to
//!    `<queue>-poison` ([`Queue`]); so does a message after 5 failed deliveries.
//!
//! Storage goes through Microsoft's official crates (`azure_storage_queue`,
//! `azure_storage_blob`) with SAS URLs; downloads through `reqwest` (rustls).
//!
//! ```
//! use callrec_fetch::{AcsKey, AllowList};
//! let key = AcsKey::from_base64("c2VjcmV0").unwrap();
//! let url = "https://us-storage.asm.skype.com/v1/objects/0-eus-d3-x/content/video".parse().unwrap();
//! assert!(AllowList::default().check(&url).is_ok());
//! let h = key.sign("GET", &url, "callrec.communication.azure.com", "Wed, 02 Dec 2026 07:00:00 GMT");
//! assert!(h.authorization.starts_with("HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature="));
//! ```

mod allow;
mod auth;
mod blocks;
mod download;
mod error;
mod event;
mod storage;
#[cfg(feature = "testkit")]
pub mod testkit;
mod worker;

pub use allow::AllowList;
pub use auth::{AcsKey, SignedHeaders, EMPTY_BODY_SHA256};
pub use blocks::Ahead;
pub use download::{Downloader, RetryPolicy};
pub use error::{Error, Result};
pub use event::{blob_prefix, decode_message, local_name, ChunkSource, Decoded, Job};
pub use storage::{BlobFacts, Container, Lease, Queue, Received, Staging, Uploaded, SHA256_META};
pub use worker::{error_check_json, Config, Summary, Worker, MANIFEST};

/// The URL type of the storage and download clients.
pub use azure_core::http::Url;
