//! The ACS chunk download client.
//!
//! A download streams to `<dest>.part` and is renamed to `<dest>` once complete. An answer is
//! read only when it declares its length (`Content-Length` on a 200, the `Content-Range` total
//! on a 206), is not encoded (`Accept-Encoding: identity` is asked for) and is not an HTML page;
//! no byte past the declared length is written. What the first answer said of the object (its
//! size, `ETag`, `Last-Modified`) is kept beside the `.part` in `<dest>.part.meta`, so that a
//! resume, in the same call or a later run, sends `If-Range` and restarts from zero when the
//! server now describes another object.

use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::header::HeaderMap;
use tokio::io::AsyncWriteExt;

use crate::auth::{acs_host, AcsKey};
use crate::{AllowList, Error, Result, Url};

/// The longest wait a `Retry-After` gets.
const RETRY_AFTER_CAP: Duration = Duration::from_secs(60);

/// Capped exponential backoff with full jitter: attempt `n` (from 1) waits a random time in
/// `[0, min(cap, base * 2^(n-1))]`, or longer when a 429 or 503 says `Retry-After` (honoured up
/// to 60 s).
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

    /// The wait after failed attempt `n` (from 1) whose answer said `Retry-After: retry_after`:
    /// the backoff, or that when longer (at most 60 s).
    fn wait(&self, n: u32, retry_after: Option<Duration>) -> Duration {
        let b = self.backoff(n);
        retry_after.map_or(b, |a| b.max(a.min(RETRY_AFTER_CAP)))
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
    /// Retry, waiting at least this long (the answer's `Retry-After`).
    RetryAfter(String, Duration),
    Fatal(Error),
}

impl Downloader {
    /// The size limit for a chunk's metadata (`*.json`) with [`Downloader::download_limited`]:
    /// ACS's are a few KiB.
    pub const METADATA_LIMIT: u64 = 16 << 20;

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
    /// is already there, also across runs, and only while the server describes the same
    /// object) and are renamed to `dest` once complete; a `dest` that exists is taken as done.
    /// Returns the size.
    pub async fn download(&self, url: &Url, dest: &Path) -> Result<u64> {
        self.fetch(url, dest, None).await
    }

    /// [`Downloader::download`] of an object that may be at most `max_bytes` long (a chunk's
    /// metadata: [`Downloader::METADATA_LIMIT`]). A larger one is refused from its declared
    /// size, before its body is read, with [`Error::TooLarge`] (not retried); its `.part` is
    /// removed.
    pub async fn download_limited(&self, url: &Url, dest: &Path, max_bytes: u64) -> Result<u64> {
        self.fetch(url, dest, Some(max_bytes)).await
    }

    async fn fetch(&self, url: &Url, dest: &Path, limit: Option<u64>) -> Result<u64> {
        self.allow.check(url)?;
        if let Ok(m) = tokio::fs::metadata(dest).await {
            return Ok(m.len());
        }
        let mut part = Part::open(dest).await?;
        let attempts = self.retry.attempts.max(1);
        let mut last = String::new();
        for attempt in 1..=attempts {
            let (why, after) = match self.attempt(url, &mut part, limit).await {
                Ok(total) => return part.finish(dest).await.map(|()| total),
                Err(Fault::Fatal(e)) => return Err(e),
                Err(Fault::Retry(why)) => (why, None),
                Err(Fault::RetryAfter(why, after)) => (why, Some(after)),
            };
            let wait = self.retry.wait(attempt, after);
            tracing::warn!(%url, attempt, ?wait, "download fault, retrying: {why}");
            last = why;
            if attempt < attempts {
                tokio::time::sleep(wait).await;
            }
        }
        Err(Error::RetriesExhausted {
            url: url.to_string(),
            attempts,
            last,
        })
    }

    /// Deletes `url` (a chunk's `deleteLocation`), signed like a download.
    pub async fn delete(&self, url: &Url) -> Result<()> {
        self.allow.check(url)?;
        let attempts = self.retry.attempts.max(1);
        let mut last = String::new();
        for attempt in 1..=attempts {
            let r = self.signed(reqwest::Method::DELETE, url).send().await;
            let mut after = None;
            match r {
                Ok(r) if r.status().is_success() || r.status().as_u16() == 404 => return Ok(()),
                Ok(r) => match classify(url, r.status().as_u16(), &self.acs_host) {
                    Some(e) => return Err(e),
                    None => {
                        after = retry_after(r.status().as_u16(), r.headers());
                        last = format!("HTTP {}", r.status());
                    }
                },
                Err(e) => last = format!("{e}"),
            }
            if attempt < attempts {
                tokio::time::sleep(self.retry.wait(attempt, after)).await;
            }
        }
        Err(Error::RetriesExhausted {
            url: url.to_string(),
            attempts,
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

    /// One try: a GET resuming after the `part` bytes already on disk (`If-Range` the object
    /// first seen), its answer accepted ([`Downloader::accept`]), its body appended
    /// ([`write_body`]) and judged complete ([`Body::complete`]). Returns the bytes now in
    /// `part`.
    async fn attempt(
        &self,
        url: &Url,
        part: &mut Part,
        limit: Option<u64>,
    ) -> std::result::Result<u64, Fault> {
        let have = part.len().await;
        let mut req = self
            .signed(reqwest::Method::GET, url)
            .header("accept-encoding", "identity");
        if have > 0 {
            req = req.header("range", format!("bytes={have}-"));
            if let Some(v) = part.seen.as_ref().and_then(Seen::if_range) {
                req = req.header("if-range", v);
            }
        }
        let mut resp = req
            .send()
            .await
            .map_err(|e| Fault::Retry(format!("request failed: {}", error_chain(&e))))?;
        let accepted = self.accept(url, &resp, part, have, limit).await?;
        let body = write_body(&mut resp, part, &accepted, have).await?;
        body.complete(&accepted)
    }

    /// The answer's status and headers: what to retry, what stops, where the body starts and
    /// how long it is said to be.
    async fn accept(
        &self,
        url: &Url,
        resp: &reqwest::Response,
        part: &mut Part,
        have: u64,
        limit: Option<u64>,
    ) -> std::result::Result<Accepted, Fault> {
        let status = self.status(url, resp, part).await?;
        let h = resp.headers();
        if let Some(enc) =
            header(h, "content-encoding").filter(|e| !e.eq_ignore_ascii_case("identity"))
        {
            return Err(Fault::Retry(format!(
                "HTTP {status} with Content-Encoding {enc} (identity asked for): not read"
            )));
        }
        let a = if status == 206 {
            ranged(h, have, part).await?
        } else {
            whole(h, status)?
        };
        if let Some(max) = limit.filter(|&max| a.seen.total > max) {
            part.discard().await?;
            return Err(Fault::Fatal(Error::TooLarge {
                url: url.to_string(),
                size: a.seen.total,
                limit: max,
            }));
        }
        if let Some(first) = part
            .seen
            .as_ref()
            .filter(|s| status == 206 && !s.matches(&a.seen))
        {
            let why = format!(
                "a resumed answer describes another object ({}; first seen {}): restarting from zero",
                a.seen, first
            );
            part.discard().await?;
            return Err(Fault::Retry(why));
        }
        Ok(a)
    }

    /// The answer's status when it is a 2xx worth reading; what to retry, or what stops, when
    /// it is not.
    async fn status(
        &self,
        url: &Url,
        resp: &reqwest::Response,
        part: &mut Part,
    ) -> std::result::Result<u16, Fault> {
        let status = resp.status().as_u16();
        let html = header(resp.headers(), "content-type")
            .is_some_and(|v| v.to_ascii_lowercase().contains("text/html"));
        if status == 416 {
            // What is on disk is not a prefix of this object: start over.
            part.discard().await?;
            return Err(Fault::Retry("416 range not satisfiable: restarting".into()));
        }
        if !(200..300).contains(&status) {
            if let Some(e) = classify(url, status, &self.acs_host) {
                return Err(Fault::Fatal(e));
            }
            if let Some(after) = retry_after(status, resp.headers()) {
                let why = format!("HTTP {status} (Retry-After {} s)", after.as_secs());
                return Err(Fault::RetryAfter(why, after));
            }
            let what = if html { " (an HTML error page)" } else { "" };
            return Err(Fault::Retry(format!("HTTP {status}{what}")));
        }
        if html {
            return Err(Fault::Retry(format!("HTTP {status} with a text/html body")));
        }
        Ok(status)
    }
}

/// A whole-object answer: read only when its `Content-Length` says how long it is.
fn whole(h: &HeaderMap, status: u16) -> std::result::Result<Accepted, Fault> {
    let Some(len) = header(h, "content-length").and_then(|v| v.parse::<u64>().ok()) else {
        return Err(Fault::Retry(format!(
            "HTTP {status} without a Content-Length: no declared length, not read (the body could be endless)"
        )));
    };
    Ok(Accepted {
        status,
        start: 0,
        len,
        seen: Seen::of(h, len),
    })
}

/// A 206: read only when its `Content-Range` starts at the bytes on disk (`have`) and says the
/// object's total; restarts from zero when the range does not fit.
async fn ranged(h: &HeaderMap, have: u64, part: &mut Part) -> std::result::Result<Accepted, Fault> {
    let why = match header(h, "content-range").and_then(parse_content_range) {
        Some(r) if r.start == have => match r.total {
            Some(total) if r.end < total => {
                return Ok(Accepted {
                    status: 206,
                    start: r.start,
                    len: r.end - r.start + 1,
                    seen: Seen::of(h, total),
                })
            }
            Some(_) => "206 with a Content-Range past its own total: restarting",
            None => {
                return Err(Fault::Retry(
                    "206 without a Content-Range total: no declared length, not read".into(),
                ))
            }
        },
        _ => "206 without a Content-Range starting at our offset: restarting",
    };
    part.discard().await?;
    Err(Fault::Retry(why.into()))
}

/// What an answer said about the object: its size and validators. Kept beside the `.part` as
/// `total N`, `etag V` and `last-modified V` lines.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    total: u64,
    etag: Option<String>,
    last_modified: Option<String>,
}

impl Seen {
    fn of(h: &HeaderMap, total: u64) -> Seen {
        Seen {
            total,
            etag: header(h, "etag").map(str::to_string),
            last_modified: header(h, "last-modified").map(str::to_string),
        }
    }

    fn encode(&self) -> String {
        let mut s = format!("total {}\n", self.total);
        if let Some(e) = &self.etag {
            s.push_str(&format!("etag {e}\n"));
        }
        if let Some(m) = &self.last_modified {
            s.push_str(&format!("last-modified {m}\n"));
        }
        s
    }

    fn decode(s: &str) -> Option<Seen> {
        let mut seen = Seen {
            total: 0,
            etag: None,
            last_modified: None,
        };
        let mut total = None;
        for line in s.lines().filter(|l| !l.is_empty()) {
            match line.split_once(' ')? {
                ("total", v) => total = Some(v.parse().ok()?),
                ("etag", v) => seen.etag = Some(v.to_string()),
                ("last-modified", v) => seen.last_modified = Some(v.to_string()),
                _ => return None,
            }
        }
        seen.total = total?;
        Some(seen)
    }

    /// The `If-Range` validator: a strong `ETag`, else the `Last-Modified` date.
    fn if_range(&self) -> Option<&str> {
        self.etag
            .as_deref()
            .filter(|e| !e.starts_with("W/"))
            .or(self.last_modified.as_deref())
    }

    /// Whether `now` (a resumed answer's) can describe the object `self` was seen as.
    fn matches(&self, now: &Seen) -> bool {
        self.total == now.total
            && match (&self.etag, &now.etag) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            }
    }
}

impl std::fmt::Display for Seen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} bytes", self.total)?;
        if let Some(e) = &self.etag {
            write!(f, ", ETag {e}")?;
        }
        Ok(())
    }
}

/// A download's `.part` file and, beside it (`.part.meta`), what the answer its first bytes
/// came from said about the object.
struct Part {
    path: PathBuf,
    meta: PathBuf,
    /// `None`: nothing known (no bytes yet, or a `.part` from before `.part.meta` was kept).
    seen: Option<Seen>,
}

impl Part {
    /// The `.part` of `dest`; one whose `.part.meta` does not read is discarded.
    async fn open(dest: &Path) -> Result<Part> {
        let mut part = Part {
            path: with_suffix(dest, ".part"),
            meta: with_suffix(dest, ".part.meta"),
            seen: None,
        };
        if let Ok(s) = tokio::fs::read_to_string(&part.meta).await {
            part.seen = Seen::decode(&s);
            if part.seen.is_none() {
                remove(&part.path).await?;
                remove(&part.meta).await?;
            }
        }
        Ok(part)
    }

    /// The bytes on disk.
    async fn len(&self) -> u64 {
        tokio::fs::metadata(&self.path)
            .await
            .map(|m| m.len())
            .unwrap_or(0)
    }

    /// Forgets the bytes on disk and what they were of: the next attempt starts from zero.
    async fn discard(&mut self) -> std::result::Result<(), Fault> {
        self.seen = None;
        remove(&self.path).await.map_err(Fault::Fatal)?;
        remove(&self.meta).await.map_err(Fault::Fatal)
    }

    /// Opens the file for the body of `a`: truncated for a whole object, appended to for a
    /// range. Records what `a` says of the object when it is the first answer of these bytes
    /// (after truncating, so that a crash never leaves old bytes under new validators).
    async fn begin(&mut self, a: &Accepted) -> std::result::Result<tokio::fs::File, Fault> {
        let file = tokio::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(a.start == 0)
            .append(a.start > 0)
            .open(&self.path)
            .await
            .map_err(|e| Fault::Fatal(Error::io("open", &self.path)(e)))?;
        if a.start == 0 || self.seen.is_none() {
            let meta = &self.meta;
            let fatal = |op: &'static str| move |e| Fault::Fatal(Error::io(op, meta)(e));
            let mut m = tokio::fs::File::create(&self.meta)
                .await
                .map_err(fatal("create"))?;
            m.write_all(a.seen.encode().as_bytes())
                .await
                .map_err(fatal("write"))?;
            m.sync_all().await.map_err(fatal("sync"))?;
            self.seen = Some(a.seen.clone());
        }
        Ok(file)
    }

    /// Renames the complete `.part` to `dest`.
    async fn finish(self, dest: &Path) -> Result<()> {
        tokio::fs::rename(&self.path, dest)
            .await
            .map_err(Error::io("rename into", dest))?;
        remove(&self.meta).await
    }
}

/// An answer worth reading: its status, the offset its body starts at, the body's declared
/// length and what it says of the object.
struct Accepted {
    status: u16,
    start: u64,
    len: u64,
    seen: Seen,
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
        if got < a.len {
            return Err(Fault::Retry(format!(
                "short body: {got} of {} bytes (kept, resuming)",
                a.len
            )));
        }
        if done < a.seen.total {
            return Err(Fault::Retry(format!(
                "short body: {done} of {} bytes (kept, resuming)",
                a.seen.total
            )));
        }
        Ok(done)
    }
}

/// Streams the body of `a` into `part` (`have`: the bytes on disk before), synced before it
/// returns; a body longer than its declared length restarts from zero, and nothing past that
/// length is written. The file is opened at the first body byte: a 0-byte or failed answer
/// leaves what is on disk.
async fn write_body(
    resp: &mut reqwest::Response,
    part: &mut Part,
    a: &Accepted,
    have: u64,
) -> std::result::Result<Body, Fault> {
    let path = part.path.clone();
    let path = &path;
    let fatal = |op: &'static str| move |e: std::io::Error| Fault::Fatal(Error::io(op, path)(e));
    let mut file: Option<tokio::fs::File> = None;
    let mut got: u64 = 0;
    let mut cut = None;
    loop {
        match resp.chunk().await {
            Ok(Some(bytes)) if bytes.is_empty() => {}
            Ok(Some(bytes)) => {
                if got == 0 && a.start == 0 && looks_like_html(&bytes) {
                    return Err(Fault::Retry("the body is an HTML page".into()));
                }
                if got + bytes.len() as u64 > a.len {
                    drop(file.take());
                    part.discard().await?;
                    return Err(Fault::Retry(format!(
                        "the body is longer than its declared {} bytes: restarting from zero",
                        a.len
                    )));
                }
                let f = match file.as_mut() {
                    Some(f) => f,
                    None => file.insert(part.begin(a).await?),
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
    let start = if file.is_some() { a.start } else { have };
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

/// The wait a 429 or 503 asks for with `Retry-After`.
fn retry_after(status: u16, h: &HeaderMap) -> Option<Duration> {
    if status != 429 && status != 503 {
        return None;
    }
    parse_retry_after(header(h, "retry-after")?, chrono::Utc::now())
}

/// `Retry-After` as delay-seconds or an HTTP-date (RFC 9110 §10.2.3), from `now`; a date in the
/// past is no wait.
fn parse_retry_after(v: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    Some((at.to_utc() - now).to_std().unwrap_or(Duration::ZERO))
}

/// A header's value, trimmed, when it is text.
fn header<'h>(h: &'h HeaderMap, name: &str) -> Option<&'h str> {
    h.get(name).and_then(|v| v.to_str().ok()).map(str::trim)
}

fn with_suffix(dest: &Path, suffix: &str) -> PathBuf {
    let mut name = dest.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    dest.with_file_name(name)
}

/// Removes `path`; one that is not there is fine.
async fn remove(path: &Path) -> Result<()> {
    match tokio::fs::remove_file(path).await {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("remove", path)(e)),
    }
}

/// A `Content-Range: bytes START-END/TOTAL` (TOTAL `None` for `*`).
#[derive(Debug, PartialEq, Eq)]
struct ContentRange {
    start: u64,
    end: u64,
    total: Option<u64>,
}

/// `bytes START-END/TOTAL`, with START <= END.
fn parse_content_range(v: &str) -> Option<ContentRange> {
    let rest = v.trim().strip_prefix("bytes ")?;
    let (range, total) = rest.split_once('/')?;
    let (s, e) = range.split_once('-')?;
    let total = if total == "*" {
        None
    } else {
        Some(total.parse().ok()?)
    };
    let (start, end) = (s.parse().ok()?, e.parse().ok()?);
    (start <= end).then_some(ContentRange { start, end, total })
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
        let r = |start, end, total| Some(ContentRange { start, end, total });
        assert_eq!(
            parse_content_range("bytes 100-199/200"),
            r(100, 199, Some(200))
        );
        assert_eq!(parse_content_range("bytes 5-9/*"), r(5, 9, None));
        assert_eq!(parse_content_range("bytes 9-5/20"), None);
        assert_eq!(parse_content_range("items 1-2/3"), None);
    }

    #[test]
    fn retry_after_is_seconds_or_an_http_date() {
        let now = chrono::DateTime::parse_from_rfc2822("Wed, 02 Dec 2026 07:00:00 GMT")
            .unwrap()
            .to_utc();
        let s = Duration::from_secs;
        assert_eq!(parse_retry_after("120", now), Some(s(120)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(s(0)));
        assert_eq!(
            parse_retry_after("Wed, 02 Dec 2026 07:00:30 GMT", now),
            Some(s(30))
        );
        assert_eq!(
            parse_retry_after("Wed, 02 Dec 2026 06:59:00 GMT", now),
            Some(s(0)),
            "a date passed is no wait"
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
        let mut h = HeaderMap::new();
        h.insert("retry-after", "7".parse().unwrap());
        assert_eq!(retry_after(429, &h), Some(s(7)));
        assert_eq!(retry_after(503, &h), Some(s(7)));
        assert_eq!(retry_after(500, &h), None);
        assert_eq!(retry_after(429, &HeaderMap::new()), None);
    }

    #[test]
    fn a_retry_after_waits_at_least_that_long_up_to_a_minute() {
        let p = RetryPolicy {
            attempts: 5,
            base: Duration::from_millis(100),
            cap: Duration::from_millis(800),
        };
        for n in 1..10 {
            let w = p.wait(n, Some(Duration::from_secs(3)));
            assert_eq!(w, Duration::from_secs(3), "{n}: longer than any backoff");
            assert!(p.wait(n, None) <= Duration::from_millis(800));
            let small = p.wait(n, Some(Duration::ZERO));
            assert!(small <= Duration::from_millis(800), "{n}: {small:?}");
        }
        assert_eq!(p.wait(1, Some(Duration::from_secs(3600))), RETRY_AFTER_CAP);
        let slow = RetryPolicy {
            base: Duration::from_secs(100),
            cap: Duration::from_secs(100),
            ..p
        };
        assert!(slow.wait(1, Some(Duration::from_secs(1))) >= Duration::from_secs(1));
    }

    #[test]
    fn what_was_seen_round_trips_and_picks_its_validator() {
        let seen = Seen {
            total: 57060,
            etag: Some("\"0x8DC1\"".into()),
            last_modified: Some("Wed, 02 Dec 2026 07:00:00 GMT".into()),
        };
        assert_eq!(Seen::decode(&seen.encode()), Some(seen.clone()));
        assert_eq!(seen.if_range(), Some("\"0x8DC1\""));
        let weak = Seen {
            etag: Some("W/\"x\"".into()),
            ..seen.clone()
        };
        assert_eq!(weak.if_range(), Some("Wed, 02 Dec 2026 07:00:00 GMT"));
        let bare = Seen {
            total: 5,
            etag: None,
            last_modified: None,
        };
        assert_eq!(Seen::decode(&bare.encode()), Some(bare.clone()));
        assert_eq!(bare.if_range(), None);
        assert_eq!(Seen::decode("etag \"x\"\n"), None, "no total");
        assert_eq!(Seen::decode("total many\n"), None);
        // A resumed answer matches on its total and, when both have one, its ETag.
        assert!(seen.matches(&seen));
        assert!(!seen.matches(&Seen {
            total: 57000,
            ..seen.clone()
        }));
        assert!(!seen.matches(&Seen {
            etag: Some("\"0x8DC2\"".into()),
            ..seen.clone()
        }));
        assert!(seen.matches(&Seen {
            etag: None,
            ..seen.clone()
        }));
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
