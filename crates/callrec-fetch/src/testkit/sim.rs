use std::collections::{HashMap, VecDeque};
use std::io::{self, BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde_json::Value;

use crate::{AcsKey, Url, EMPTY_BODY_SHA256};

/// A fault the simulator answers one request with, instead of the object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Headers for the whole response, then only this many body bytes, then the connection
    /// is closed.
    Cut(usize),
    /// `503 Service Unavailable`.
    Unavailable,
    /// `200 OK` with a 0-byte body.
    Empty,
    /// `400 Bad Request` with an HTML page.
    Html400,
    /// `200 OK` with `text/html` and an HTML page as the body.
    Html200,
    /// Wait this long before answering normally.
    Delay(Duration),
    /// `200 OK`, chunked, with no `Content-Length`: 32 MiB of junk, standing for a body that
    /// never ends.
    Endless,
    /// `200 OK` declaring the object's `Content-Length` but sent chunked, with this many junk
    /// bytes after the object.
    Overlong(usize),
    /// A ranged request answered `206` as if the object were this many bytes shorter: the
    /// `Content-Range` total and the body both end early.
    Shrunk(usize),
    /// `200 OK` with `Content-Encoding: gzip` and the object gzipped.
    Gzip,
    /// `429 Too Many Requests` with `Retry-After` of this many seconds.
    Throttle(u64),
}

/// One request the simulator saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logged {
    /// Method.
    pub method: String,
    /// Path.
    pub path: String,
    /// `Range` header, if any.
    pub range: Option<String>,
    /// Status answered (0 for a cut connection).
    pub status: u16,
    /// `If-Range` header, if any.
    pub if_range: Option<String>,
    /// `Accept-Encoding` header, if any.
    pub accept_encoding: Option<String>,
}

#[derive(Default)]
struct State {
    objects: HashMap<String, Arc<Vec<u8>>>,
    faults: HashMap<String, VecDeque<Fault>>,
    log: Vec<Logged>,
    arrivals: Vec<String>,
}

/// An ACS recording download endpoint on 127.0.0.1: serves objects under
/// `/v1/objects/{documentId}/content/video` and `.../content/acsmetadata` with `Range`,
/// answers 401 unless the request carries a valid ACS HMAC-SHA256 signature for its key and
/// `x-ms-host`, and answers queued [`Fault`]s first. Stops on drop.
pub struct Simulator {
    addr: std::net::SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Simulator({})", self.addr)
    }
}

impl Simulator {
    /// Starts the simulator for the ACS resource `acs_host` (the expected `x-ms-host`) with
    /// the base64 access key `key`.
    pub fn start(key: &str, acs_host: &str) -> io::Result<Simulator> {
        let key = AcsKey::from_base64(key).map_err(io::Error::other)?;
        let listener = TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (st, sp, host) = (state.clone(), stop.clone(), acs_host.to_string());
        let thread = std::thread::spawn(move || {
            while !sp.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((s, _)) => {
                        let (st, key, host) = (st.clone(), key.clone(), host.clone());
                        std::thread::spawn(move || {
                            let _ = serve(s, &st, &key, &host);
                        });
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(5))
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Ok(Simulator {
            addr,
            state,
            stop,
            thread: Some(thread),
        })
    }

    /// `127.0.0.1:PORT` (for `--allow-host`).
    pub fn host_port(&self) -> String {
        self.addr.to_string()
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Serves the chunks of the recording directory `dir` (its `event.json`, `<id>.mp4`,
    /// `<id>.json`) and returns its event (the first of the array) with `data.recordingId` set
    /// and `contentLocation`, `metadataLocation` and `deleteLocation` pointing here.
    pub fn serve_recording(&self, dir: &Path, recording_id: &str) -> io::Result<Value> {
        let v: Value = serde_json::from_slice(&std::fs::read(dir.join("event.json"))?)
            .map_err(io::Error::other)?;
        let mut ev = match v {
            Value::Array(mut a) if !a.is_empty() => a.remove(0),
            other => other,
        };
        ev["data"]["recordingId"] = Value::String(recording_id.to_string());
        let base = self.base();
        let chunks = ev["data"]["recordingStorageInfo"]["recordingChunks"]
            .as_array_mut()
            .ok_or_else(|| io::Error::other("event without recordingChunks"))?;
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        for c in chunks {
            let id = c["documentId"].as_str().unwrap_or_default().to_string();
            let obj = format!("/v1/objects/{id}");
            st.objects.insert(
                format!("{obj}/content/video"),
                Arc::new(std::fs::read(dir.join(format!("{id}.mp4")))?),
            );
            st.objects.insert(
                format!("{obj}/content/acsmetadata"),
                Arc::new(std::fs::read(dir.join(format!("{id}.json")))?),
            );
            c["contentLocation"] = Value::String(format!("{base}{obj}/content/video"));
            c["metadataLocation"] = Value::String(format!("{base}{obj}/content/acsmetadata"));
            c["deleteLocation"] = Value::String(format!("{base}{obj}"));
        }
        Ok(ev)
    }

    /// The event as Event Grid puts it on a Storage Queue: base64 of its JSON.
    pub fn queue_message(event: &Value) -> String {
        B64.encode(serde_json::to_vec(event).unwrap_or_default())
    }

    /// Queues faults for `path` (answered in order, before the object is served).
    pub fn inject(&self, path: &str, faults: impl IntoIterator<Item = Fault>) {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.faults
            .entry(path.to_string())
            .or_default()
            .extend(faults);
    }

    /// Replaces the bytes of the object at `path` (its `ETag` changes with them).
    pub fn replace(&self, path: &str, bytes: Vec<u8>) {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.objects.insert(path.to_string(), Arc::new(bytes));
    }

    /// The `ETag` the object at `path` is served with.
    pub fn etag(&self, path: &str) -> Option<String> {
        self.object(path).map(|o| etag(&o))
    }

    /// The object paths served, sorted.
    pub fn paths(&self) -> Vec<String> {
        let st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let mut v: Vec<String> = st.objects.keys().cloned().collect();
        v.sort();
        v
    }

    /// The bytes of an object.
    pub fn object(&self, path: &str) -> Option<Arc<Vec<u8>>> {
        let st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.objects.get(path).cloned()
    }

    /// The path of every signed request as it arrived, before any fault (a
    /// [`Fault::Delay`] included) was answered; [`Simulator::requests`] logs at answer time.
    pub fn arrivals(&self) -> Vec<String> {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .arrivals
            .clone()
    }

    /// Every request answered so far.
    pub fn requests(&self) -> Vec<Logged> {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .log
            .clone()
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One response: status line, headers, body.
struct Reply<'a> {
    status: u16,
    reason: &'a str,
    headers: Vec<(&'a str, String)>,
    body: &'a [u8],
}

impl Reply<'_> {
    /// A response with no body but its `Content-Length: 0`.
    fn empty(status: u16, reason: &str) -> Reply<'_> {
        Reply {
            status,
            reason,
            headers: vec![("Content-Length", "0".into())],
            body: b"",
        }
    }

    /// Writes it to `s`.
    fn send(&self, s: &mut TcpStream) -> io::Result<()> {
        respond(s, self.status, self.reason, &self.headers, self.body)
    }
}

fn respond(
    s: &mut TcpStream,
    status: u16,
    reason: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> io::Result<()> {
    let mut head = format!("HTTP/1.1 {status} {reason}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes())?;
    s.write_all(body)?;
    s.flush()
}

/// A request as read off the socket.
struct Request {
    method: String,
    /// The target without its query.
    path: String,
    /// The `Range` header.
    range: Option<String>,
    /// Every header, names lowercased.
    headers: HashMap<String, String>,
}

/// Reads the request line and headers.
fn read_request(s: &TcpStream) -> io::Result<Request> {
    let mut r = BufReader::new(s.try_clone()?);
    let mut line = String::new();
    r.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let target = parts.next().unwrap_or("").to_string();
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        if r.read_line(&mut h)? == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let path = target.split('?').next().unwrap_or("").to_string();
    let range = headers.get("range").cloned();
    Ok(Request {
        method,
        path,
        range,
        headers,
    })
}

/// Whether the request carries the signature of `key`: over the path, the date, the ACS host
/// and the empty-body hash.
fn authorized(req: &Request, key: &AcsKey, acs_host: &str) -> io::Result<bool> {
    let date = req.headers.get("x-ms-date").cloned().unwrap_or_default();
    let url: Url = format!("http://sim{}", req.path)
        .parse()
        .map_err(io::Error::other)?;
    let want = key.sign(&req.method, &url, acs_host, &date);
    let header = |name: &str| req.headers.get(name).map(String::as_str);
    Ok(!date.is_empty()
        && header("x-ms-content-sha256") == Some(EMPTY_BODY_SHA256)
        && header("x-ms-host") == Some(acs_host)
        && req.headers.get("authorization") == Some(&want.authorization))
}

const HTML_400: &[u8] = b"<!DOCTYPE html><html><body><h1>400 Bad Request</h1></body></html>";

/// The response a fault answers with instead of the object (`None`: the object is served,
/// after a [`Fault::Delay`], cut by [`Fault::Cut`], or oddly by [`serve_odd`]).
fn fault_reply(fault: &Fault) -> Option<Reply<'static>> {
    let html = |status, reason, ctype: &str| Reply {
        status,
        reason,
        headers: vec![
            ("Content-Type", ctype.into()),
            ("Content-Length", HTML_400.len().to_string()),
        ],
        body: HTML_400,
    };
    match fault {
        Fault::Unavailable => Some(Reply::empty(503, "Service Unavailable")),
        Fault::Empty => Some(Reply {
            status: 200,
            reason: "OK",
            headers: vec![
                ("Content-Type", "video/mp4".into()),
                ("Content-Length", "0".into()),
            ],
            body: b"",
        }),
        Fault::Html400 => Some(html(400, "Bad Request", "text/html")),
        Fault::Html200 => Some(html(200, "OK", "text/html; charset=utf-8")),
        Fault::Throttle(secs) => {
            let mut r = Reply::empty(429, "Too Many Requests");
            r.headers.push(("Retry-After", secs.to_string()));
            Some(r)
        }
        _ => None,
    }
}

fn serve(mut s: TcpStream, state: &Mutex<State>, key: &AcsKey, acs_host: &str) -> io::Result<()> {
    s.set_nonblocking(false)?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let req = read_request(&s)?;
    let log = |status: u16| {
        state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .log
            .push(Logged {
                method: req.method.clone(),
                path: req.path.clone(),
                range: req.range.clone(),
                status,
                if_range: req.headers.get("if-range").cloned(),
                accept_encoding: req.headers.get("accept-encoding").cloned(),
            })
    };
    if !authorized(&req, key, acs_host)? {
        log(401);
        let body = br#"{"error":{"code":"Unauthorized","message":"Denied by the HMAC policy"}}"#;
        return Reply {
            status: 401,
            reason: "Unauthorized",
            headers: vec![
                ("Content-Type", "application/json".into()),
                ("Content-Length", body.len().to_string()),
            ],
            body,
        }
        .send(&mut s);
    }
    let (fault, object) = {
        let mut st = state.lock().unwrap_or_else(|p| p.into_inner());
        st.arrivals.push(req.path.clone());
        let fault = st.faults.get_mut(&req.path).and_then(VecDeque::pop_front);
        (fault, st.objects.get(&req.path).cloned())
    };
    if req.method == "DELETE" {
        let found = state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .objects
            .keys()
            .any(|k| k.starts_with(&format!("{}/", req.path)));
        let status = if found { 200 } else { 404 };
        log(status);
        return Reply::empty(status, "OK").send(&mut s);
    }
    if let Some(reply) = fault.as_ref().and_then(fault_reply) {
        log(reply.status);
        return reply.send(&mut s);
    }
    if let Some(Fault::Delay(d)) = fault {
        std::thread::sleep(d);
    }
    let Some(obj) = object else {
        log(404);
        return Reply::empty(404, "Not Found").send(&mut s);
    };
    match fault {
        Some(f @ (Fault::Endless | Fault::Overlong(_) | Fault::Gzip | Fault::Shrunk(_))) => {
            serve_odd(&mut s, &req, &obj, &f, &log)
        }
        Some(Fault::Cut(n)) => serve_object(&mut s, &req, &obj, Some(n), &log),
        _ => serve_object(&mut s, &req, &obj, None, &log),
    }
}

/// The range start a `Range: bytes=N-` asks for.
fn range_start(req: &Request) -> Option<usize> {
    req.range
        .as_deref()
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.strip_suffix('-'))
        .and_then(|n| n.parse::<usize>().ok())
}

/// The `ETag` of `obj`: a hash of its bytes, quoted, in the service's `0x...` form.
fn etag(obj: &[u8]) -> String {
    let h = obj.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("\"0x{h:016X}\"")
}

/// Answers with one of the faults that still serve (some of) the object: [`Fault::Endless`],
/// [`Fault::Overlong`], [`Fault::Gzip`], [`Fault::Shrunk`].
fn serve_odd(
    s: &mut TcpStream,
    req: &Request,
    obj: &[u8],
    fault: &Fault,
    log: &dyn Fn(u16),
) -> io::Result<()> {
    let ctype = ("Content-Type", "application/octet-stream".to_string());
    match *fault {
        Fault::Endless => {
            log(200);
            let junk = vec![0x5au8; 64 * 1024];
            respond_chunked(s, 200, &[ctype], std::iter::repeat_n(&junk[..], 512))
        }
        Fault::Overlong(extra) => {
            log(200);
            let junk = vec![0x5au8; extra];
            let hs = [ctype, ("Content-Length", obj.len().to_string())];
            respond_chunked(s, 200, &hs, [obj, &junk[..]].into_iter())
        }
        Fault::Gzip => {
            log(200);
            let body = gzip_stored(obj);
            let hs = vec![
                ctype,
                ("Content-Encoding", "gzip".to_string()),
                ("Content-Length", body.len().to_string()),
            ];
            respond(s, 200, "OK", &hs, &body)
        }
        Fault::Shrunk(k) => {
            let n = range_start(req).unwrap_or(0);
            let end = obj.len().saturating_sub(k).max(n + 1).min(obj.len());
            log(206);
            let hs = vec![
                ctype,
                ("Content-Range", format!("bytes {n}-{}/{end}", end - 1)),
                ("Content-Length", (end - n).to_string()),
            ];
            respond(s, 206, "Partial Content", &hs, &obj[n..end])
        }
        _ => Ok(()),
    }
}

/// Writes a chunked response of `parts` (each one chunk), ending when the peer goes away.
fn respond_chunked<'a>(
    s: &mut TcpStream,
    status: u16,
    headers: &[(&str, String)],
    parts: impl Iterator<Item = &'a [u8]>,
) -> io::Result<()> {
    let mut head = format!("HTTP/1.1 {status} OK\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("Transfer-Encoding: chunked\r\n\r\n");
    s.write_all(head.as_bytes())?;
    for p in parts.filter(|p| !p.is_empty()) {
        s.write_all(format!("{:x}\r\n", p.len()).as_bytes())?;
        s.write_all(p)?;
        s.write_all(b"\r\n")?;
    }
    s.write_all(b"0\r\n\r\n")?;
    s.flush()
}

/// `data` as a gzip member of stored (uncompressed) deflate blocks (RFC 1951, 1952).
fn gzip_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    let blocks: Vec<&[u8]> = data.chunks(0xffff).collect();
    for (i, b) in blocks.iter().enumerate() {
        out.push(u8::from(i + 1 == blocks.len()));
        let len = b.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(b);
    }
    if blocks.is_empty() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    let crc = data.iter().fold(!0u32, |mut c, &b| {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 == 1 {
                (c >> 1) ^ 0xedb8_8320
            } else {
                c >> 1
            };
        }
        c
    });
    out.extend_from_slice(&(!crc).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

/// Serves `obj` (with its `ETag`) whole or from the `Range` start (whole when an `If-Range`
/// names another `ETag`), or only `cut` bytes of it before closing the
/// connection.
fn serve_object(
    s: &mut TcpStream,
    req: &Request,
    obj: &[u8],
    cut: Option<usize>,
    log: &dyn Fn(u16),
) -> io::Result<()> {
    let tag = etag(obj);
    // A validator that is not the object's own: the whole object, as a 200.
    let changed = req.headers.get("if-range").is_some_and(|v| *v != tag);
    let start = range_start(req).filter(|_| !changed);
    let (status, body, mut hs) = match start {
        Some(n) if n >= obj.len() => {
            log(416);
            return Reply {
                status: 416,
                reason: "Range Not Satisfiable",
                headers: vec![
                    ("Content-Range", format!("bytes */{}", obj.len())),
                    ("Content-Length", "0".into()),
                ],
                body: b"",
            }
            .send(s);
        }
        Some(n) => (
            206,
            &obj[n..],
            vec![(
                "Content-Range",
                format!("bytes {n}-{}/{}", obj.len() - 1, obj.len()),
            )],
        ),
        None => (200, obj, vec![]),
    };
    let ctype = if req.path.ends_with("/video") {
        "video/mp4"
    } else {
        "application/json"
    };
    hs.push(("Content-Type", ctype.into()));
    hs.push(("Content-Length", body.len().to_string()));
    hs.push(("ETag", tag));
    if let Some(n) = cut {
        log(0);
        let n = n.min(body.len().saturating_sub(1));
        let _ = respond(s, status, "Partial", &hs, &body[..n]);
        let _ = s.shutdown(Shutdown::Both);
        return Ok(());
    }
    log(status);
    let reason = if status == 206 {
        "Partial Content"
    } else {
        "OK"
    };
    respond(s, status, reason, &hs, body)
}
