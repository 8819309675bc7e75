use std::io;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::Url;

/// The Azurite release the tests use (3.37 needs Node 22; the machines have Node 20).
pub const AZURITE_VERSION: &str = "3.35.0";
/// Azurite's well-known development account.
pub const DEV_ACCOUNT: &str = "devstoreaccount1";
/// Its well-known key (public, documented by Microsoft).
pub const DEV_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// An account SAS query string (`sv=...&sig=...`) for `services` (`b`, `q`) signed with
/// `key`: all resource types, permissions `rwdlacup`, http allowed, valid until 2099.
pub fn account_sas(account: &str, key: &str, services: &str) -> String {
    let (sp, srt, se, sv, spr) = (
        "rwdlacup",
        "sco",
        "2099-01-01T00:00:00Z",
        "2020-08-04",
        "https,http",
    );
    let to_sign = format!("{account}\n{sp}\n{services}\n{srt}\n\n{se}\n\n{spr}\n{sv}\n");
    let key = B64.decode(key).expect("the account key is base64");
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("any key length");
    mac.update(to_sign.as_bytes());
    let sig = B64.encode(mac.finalize().into_bytes());
    let mut u = Url::parse("http://x/").expect("static URL");
    u.query_pairs_mut()
        .append_pair("sv", sv)
        .append_pair("ss", services)
        .append_pair("srt", srt)
        .append_pair("sp", sp)
        .append_pair("se", se)
        .append_pair("spr", spr)
        .append_pair("sig", &sig);
    u.query().unwrap_or_default().to_string()
}

/// A running Azurite (blob and queue, in memory), stopped on drop.
pub struct Azurite {
    child: Child,
    /// Blob service port.
    pub blob_port: u16,
    /// Queue service port.
    pub queue_port: u16,
    _cwd: tempfile::TempDir,
}

impl std::fmt::Debug for Azurite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Azurite(blob {}, queue {})",
            self.blob_port, self.queue_port
        )
    }
}

fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// `target/azurite/node_modules/.bin/azurite`, installed with npm when missing (under a lock).
fn installed() -> io::Result<PathBuf> {
    if let Some(p) = std::env::var_os("CALLREC_AZURITE") {
        return Ok(PathBuf::from(p));
    }
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/azurite");
    let bin = dir.join("node_modules/.bin/azurite");
    let version_ok = |d: &PathBuf| {
        std::fs::read_to_string(d.join("node_modules/azurite/package.json"))
            .is_ok_and(|s| s.contains(&format!("\"version\": \"{AZURITE_VERSION}\"")))
    };
    if bin.exists() && version_ok(&dir) {
        return Ok(bin);
    }
    std::fs::create_dir_all(&dir)?;
    let lock = std::fs::File::create(dir.join(".install.lock"))?;
    lock.lock()?;
    if !(bin.exists() && version_ok(&dir)) {
        let out = Command::new("npm")
            .args([
                "install",
                "--no-audit",
                "--no-fund",
                "--no-save",
                "--prefix",
            ])
            .arg(&dir)
            .arg(format!("azurite@{AZURITE_VERSION}"))
            .stdin(Stdio::null())
            .output()?;
        if !out.status.success() {
            return Err(io::Error::other(format!(
                "npm install azurite@{AZURITE_VERSION} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            )));
        }
    }
    Ok(bin)
}

impl Azurite {
    /// Installs (when missing) and starts Azurite on free loopback ports; waits until both
    /// services accept connections (at most 60 s).
    pub fn start() -> io::Result<Azurite> {
        let bin = installed()?;
        let cwd = tempfile::tempdir()?;
        let (blob_port, queue_port, table_port) = (free_port()?, free_port()?, free_port()?);
        let mut child = Command::new(&bin)
            .args([
                "--blobHost",
                "127.0.0.1",
                "--queueHost",
                "127.0.0.1",
                "--tableHost",
                "127.0.0.1",
            ])
            .args(["--blobPort", &blob_port.to_string()])
            .args(["--queuePort", &queue_port.to_string()])
            .args(["--tablePort", &table_port.to_string()])
            .args([
                "--inMemoryPersistence",
                "--disableTelemetry",
                "--skipApiVersionCheck",
                "--silent",
            ])
            .current_dir(cwd.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| io::Error::other(format!("cannot start {}: {e}", bin.display())))?;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = child.try_wait()? {
                let mut err = String::new();
                if let Some(mut s) = child.stderr.take() {
                    let _ = io::Read::read_to_string(&mut s, &mut err);
                }
                return Err(io::Error::other(format!(
                    "azurite exited ({status}): {err}"
                )));
            }
            let up = |p: u16| TcpStream::connect(("127.0.0.1", p)).is_ok();
            if up(blob_port) && up(queue_port) {
                break;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(io::Error::other("azurite did not listen within 60 s"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(Azurite {
            child,
            blob_port,
            queue_port,
            _cwd: cwd,
        })
    }

    /// The URL of queue `name` with an account SAS for the queue service.
    pub fn queue_url(&self, name: &str) -> Url {
        let sas = account_sas(DEV_ACCOUNT, DEV_KEY, "q");
        Url::parse(&format!(
            "http://127.0.0.1:{}/{DEV_ACCOUNT}/{name}?{sas}",
            self.queue_port
        ))
        .expect("valid URL")
    }

    /// The URL of container `name` with an account SAS for the blob service.
    pub fn container_url(&self, name: &str) -> Url {
        let sas = account_sas(DEV_ACCOUNT, DEV_KEY, "b");
        Url::parse(&format!(
            "http://127.0.0.1:{}/{DEV_ACCOUNT}/{name}?{sas}",
            self.blob_port
        ))
        .expect("valid URL")
    }

    /// [`Azurite::queue_url`] signed with another key (for refusal tests).
    pub fn queue_url_signed_with(&self, name: &str, key: &str) -> Url {
        let sas = account_sas(DEV_ACCOUNT, key, "q");
        Url::parse(&format!(
            "http://127.0.0.1:{}/{DEV_ACCOUNT}/{name}?{sas}",
            self.queue_port
        ))
        .expect("valid URL")
    }
}

impl Drop for Azurite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
