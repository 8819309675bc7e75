//! The ACS chunk download client.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::AsyncWriteExt;

use crate::auth::{acs_host, AcsKey};
use crate::{AllowList, Error, Result, Url};

/// Capped exponential backoff with full jitter: attempt `n` (from 1) waits a random time in
/// `[0, min(cap, base * 2^(n-1))]`.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts per download before [`Error::RetriesExhausted`].
    pub attempts: u32,
    /// The first backoff.
    pub base: Duration,
    /// The largest backoff.
    pub cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 10,
            base: Duration::from_millis(250),
            cap: Duration::from_secs(15),
        }
    }
}

impl RetryPolicy {
    /// The random wait after failed attempt `n` (from 1).
    pub fn backoff(&self, n: u32) -> Duration {
        let exp = self
            .base
            .saturating_mul(1u32 << n.saturating_sub(1).min(20))
            .min(self.cap);
        Duration::from_nanos(fastrand::u64(0..=exp.as_nanos() as u64))
    }
}

/// Downloads chunks with ACS HMAC auth from allow-listed hosts, streaming to disk.
#[derive(Debug, Clone)]
pub struct Downloader {
    http: reqwest::Client,
    key: AcsKey,
    acs_host: String,
    allow: AllowList,
    retry: RetryPolicy,
}

/// One attempt's failure.
enum Fault {
    Retry(String),
    Fatal(Error),
}

impl Downloader {
    /// A client signing for the ACS resource at `acs_endpoint`.
    pub fn new(
        acs_endpoint: &Url,
        key: AcsKey,
        allow: AllowList,
        retry: RetryPolicy,
    ) -> Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(20))
            .read_timeout(Duration::from_secs(60))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(Downloader {
            http,
            key,
            acs_host: acs_host(acs_endpoint)?,
            allow,
            retry,
        })
    }

    /// The allow-list in force.
    pub fn allow_list(&self) -> &AllowList {
        &self.allow
    }

    /// Downloads `url` to `dest`. Bytes go to `dest.part` first (resumed with `Range` from what
    /// is already there, also across runs) and are renamed to `dest` once complete; a `dest`
    /// that exists is taken as done. Returns the size.
    pub async fn download(&self, url: &Url, dest: &Path) -> Result<u64> {
        self.allow.check(url)?;
        if let Ok(m) = tokio::fs::metadata(dest).await {
            return Ok(m.len());
        }
        let part = part_path(dest);
        let mut last = String::new();
        for attempt in 1..=self.retry.attempts.max(1) {
            match self.attempt(url, &part).await {
                Ok(total) => {
                    tokio::fs::rename(&part, dest)
                        .await
                        .map_err(Error::io("rename into", dest))?;
                    return Ok(total);
                }
                Err(Fault::Fatal(e)) => return Err(e),
                Err(Fault::Retry(why)) => {
                    let wait = self.retry.backoff(attempt);
                    tracing::warn!(%url, attempt, ?wait, "download fault, retrying: {why}");
                    last = why;
                    if attempt < self.retry.attempts {
                        tokio::time::sleep(wait).await;
                    }
                }
            }
        }
        Err(Error::RetriesExhausted {
            url: url.to_string(),
            attempts: self.retry.attempts.max(1),
            last,
        })
    }

    /// Deletes `url` (a chunk's `deleteLocation`), signed like a download.
    pub async fn delete(&self, url: &Url) -> Result<()> {
        self.allow.check(url)?;
        let mut last = String::new();
        for attempt in 1..=self.retry.attempts.max(1) {
            let r = self.signed(reqwest::Method::DELETE, url).send().await;
            match r {
                Ok(r) if r.status().is_success() || r.status().as_u16() == 404 => return Ok(()),
                Ok(r) => match classify(url, r.status().as_u16(), &self.acs_host) {
                    Some(e) => return Err(e),
                    None => last = format!("HTTP {}", r.status()),
                },
                Err(e) => last = format!("{e}"),
            }
            tokio::time::sleep(self.retry.backoff(attempt)).await;
        }
        Err(Error::RetriesExhausted {
            url: url.to_string(),
            attempts: self.retry.attempts.max(1),
            last,
        })
    }

    /// A request for `url` carrying the ACS HMAC-SHA256 headers.
    fn signed(&self, method: reqwest::Method, url: &Url) -> reqwest::RequestBuilder {
        let h = self.key.sign_now(method.as_str(), url, &self.acs_host);
        self.http
            .request(method, url.clone())
            .header("x-ms-date", h.date)
            .header("x-ms-content-sha256", h.content_sha256)
            .header("x-ms-host", h.host)
            .header("authorization", h.authorization)
    }

    /// One try: a GET resuming after the `part` bytes already on disk, its answer accepted
    /// ([`Downloader::accept`]), its body appended ([`write_body`]) and judged complete
    /// ([`Body::complete`]). Returns the bytes now in `part`.
    async fn attempt(&self, url: &Url, part: &Path) -> std::result::Result<u64, Fault> {
        let have = tokio::fs::metadata(part)
            .await
            .map(|m| m.len())
            .unwrap_or(0);
        let mut req = self.signed(reqwest::Method::GET, url);
        if have > 0 {
            req = req.header("range", format!("bytes={have}-"));
        }
        let mut resp = req
            .send()
            .await
            .map_err(|e| Fault::Retry(format!("request failed: {}", error_chain(&e))))?;
        let accepted = self.accept(url, &resp, part, have).await?;
        let body = write_body(&mut resp, part, accepted.start, have).await?;
        body.complete(&accepted)
    }

    /// The answer's status and headers: what to retry, what stops, and where the body starts.
    async fn accept(
        &self,
        url: &Url,
        resp: &reqwest::Response,
        part: &Path,
        have: u64,
    ) -> std::result::Result<Accepted, Fault> {
        let status = resp.status().as_u16();
        let html = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().contains("text/html"));
        if status == 416 {
            // What is on disk is not a prefix of this object: start over.
            truncate(part).await?;
            return Err(Fault::Retry("416 range not satisfiable: restarting".into()));
        }
        if !(200..300).contains(&status) {
            if let Some(e) = classify(url, status, &self.acs_host) {
                return Err(Fault::Fatal(e));
            }
            let what = if html { " (an HTML error page)" } else { "" };
            return Err(Fault::Retry(format!("HTTP {status}{what}")));
        }
        if html {
            return Err(Fault::Retry(format!("HTTP {status} with a text/html body")));
        }
        let expected = resp.content_length();
        if status != 206 {
            return Ok(Accepted {
                status,
                start: 0,
                total: expected,
                expected,
            });
        }
        let range = resp
            .headers()
            .get("content-range")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_content_range);
        match range {
            Some((start, total)) if start == have => Ok(Accepted {
                status,
                start,
                total,
                expected,
            }),
            _ => {
                truncate(part).await?;
                Err(Fault::Retry(
                    "206 without a Content-Range starting at our offset: restarting".into(),
                ))
            }
        }
    }
}

/// An answer worth reading: its status, the offset its body starts at, the object's total
/// size (when said) and the body's `Content-Length`.
struct Accepted {
    status: u16,
    start: u64,
    total: Option<u64>,
    expected: Option<u64>,
}

/// What [`write_body`] wrote: `got` bytes, `part` now ending at `done`, and why the
/// connection dropped, if it did.
struct Body {
    got: u64,
    done: u64,
    cut: Option<String>,
}

impl Body {
    /// Whether the body is the whole rest of the object; the bytes on disk when it is.
    fn complete(self, a: &Accepted) -> std::result::Result<u64, Fault> {
        let (got, done, status) = (self.got, self.done, a.status);
        if let Some(why) = self.cut {
            return Err(Fault::Retry(format!(
                "connection dropped at byte {done}: {why}"
            )));
        }
        if got == 0 {
            return Err(Fault::Retry(format!("HTTP {status} with a 0-byte body")));
        }
        if let Some(n) = a.expected.filter(|&n| got < n) {
            return Err(Fault::Retry(format!(
                "short body: {got} of {n} bytes (kept, resuming)"
            )));
        }
        if let Some(t) = a.total.filter(|&t| done < t) {
            return Err(Fault::Retry(format!(
                "short body: {done} of {t} bytes (kept, resuming)"
            )));
        }
        Ok(done)
    }
}

/// Streams the body into `part` from offset `start` (`have`: the bytes on disk before), synced
/// before it returns. The file is opened at the first body byte: a 0-byte or failed answer
/// leaves what is on disk.
async fn write_body(
    resp: &mut reqwest::Response,
    part: &Path,
    start: u64,
    have: u64,
) -> std::result::Result<Body, Fault> {
    let fatal = |op: &'static str| move |e: std::io::Error| Fault::Fatal(Error::io(op, part)(e));
    let mut file: Option<tokio::fs::File> = None;
    let mut got: u64 = 0;
    let mut cut = None;
    loop {
        match resp.chunk().await {
            Ok(Some(bytes)) if bytes.is_empty() => {}
            Ok(Some(bytes)) => {
                if got == 0 && start == 0 && looks_like_html(&bytes) {
                    return Err(Fault::Retry("the body is an HTML page".into()));
                }
                let f = match file.as_mut() {
                    Some(f) => f,
                    None => {
                        let f = tokio::fs::OpenOptions::new()
                            .create(true)
                            .write(true)
                            .truncate(start == 0)
                            .append(start > 0)
                            .open(part)
                            .await
                            .map_err(fatal("open"))?;
                        file.insert(f)
                    }
                };
                f.write_all(&bytes).await.map_err(fatal("write"))?;
                got += bytes.len() as u64;
            }
            Ok(None) => break,
            Err(e) => {
                cut = Some(error_chain(&e));
                break;
            }
        }
    }
    let start = if file.is_some() { start } else { have };
    if let Some(mut file) = file {
        file.flush().await.map_err(fatal("write"))?;
        file.sync_all().await.map_err(fatal("sync"))?;
    }
    Ok(Body {
        got,
        done: start + got,
        cut,
    })
}

/// The error for a status that retrying will not fix, or `None` when it may.
fn classify(url: &Url, status: u16, acs_host: &str) -> Option<Error> {
    let url = url.to_string();
    match status {
        401 => Some(Error::Unauthorized {
            url,
            acs_host: acs_host.to_string(),
        }),
        403 => Some(Error::Forbidden { url }),
        404 | 410 => Some(Error::NotFound { url }),
        400 | 408 | 429 | 500..=599 => None,
        _ => Some(Error::Status { url, status }),
    }
}

fn part_path(dest: &Path) -> PathBuf {
    let mut name = dest.file_name().unwrap_or_default().to_os_string();
    name.push(".part");
    dest.with_file_name(name)
}

async fn truncate(part: &Path) -> std::result::Result<(), Fault> {
    match tokio::fs::remove_file(part).await {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Fault::Fatal(Error::io("remove", part)(e))),
    }
}

/// `bytes START-END/TOTAL` → (START, TOTAL); TOTAL `*` → None.
fn parse_content_range(v: &str) -> Option<(u64, Option<u64>)> {
    let rest = v.trim().strip_prefix("bytes ")?;
    let (range, total) = rest.split_once('/')?;
    let (s, _) = range.split_once('-')?;
    let total = if total == "*" {
        None
    } else {
        Some(total.parse().ok()?)
    };
    Some((s.parse().ok()?, total))
}

/// An HTML error page served as if it were the media (or JSON).
fn looks_like_html(first: &[u8]) -> bool {
    let t = first.trim_ascii_start();
    let head: Vec<u8> = t.iter().take(15).map(u8::to_ascii_lowercase).collect();
    head.starts_with(b"<!doctype html") || head.starts_with(b"<html")
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_capped_and_jittered() {
        let p = RetryPolicy {
            attempts: 5,
            base: Duration::from_millis(100),
            cap: Duration::from_millis(800),
        };
        for n in 1..40 {
            let b = p.backoff(n);
            let bound = Duration::from_millis(100 * (1u64 << (n - 1).min(3)));
            assert!(b <= bound.min(Duration::from_millis(800)), "{n}: {b:?}");
        }
        let distinct: std::collections::HashSet<_> = (0..50).map(|_| p.backoff(6)).collect();
        assert!(distinct.len() > 1, "no jitter");
    }

    #[test]
    fn content_range_parses() {
        assert_eq!(
            parse_content_range("bytes 100-199/200"),
            Some((100, Some(200)))
        );
        assert_eq!(parse_content_range("bytes 5-9/*"), Some((5, None)));
        assert_eq!(parse_content_range("items 1-2/3"), None);
    }

    #[test]
    fn html_sniffing() {
        assert!(looks_like_html(b"  <!DOCTYPE html><html>"));
        assert!(looks_like_html(b"<HTML><body>400"));
        assert!(!looks_like_html(b"\0\0\0\x18ftypisom"));
        assert!(!looks_like_html(b"{\"chunkIndex\":0}"));
    }

    #[test]
    fn statuses() {
        let u: Url = "https://x.asm.skype.com/a".parse().unwrap();
        assert!(matches!(
            classify(&u, 401, "h"),
            Some(Error::Unauthorized { .. })
        ));
        assert!(matches!(
            classify(&u, 403, "h"),
            Some(Error::Forbidden { .. })
        ));
        assert!(matches!(
            classify(&u, 404, "h"),
            Some(Error::NotFound { .. })
        ));
        assert!(classify(&u, 503, "h").is_none());
        assert!(classify(&u, 400, "h").is_none());
        assert!(matches!(
            classify(&u, 405, "h"),
            Some(Error::Status { status: 405, .. })
        ));
    }
}
