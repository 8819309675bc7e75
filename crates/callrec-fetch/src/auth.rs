//! ACS HMAC-SHA256 request signing.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::{Error, Result, Url};

/// base64(SHA-256("")): the `x-ms-content-sha256` of every GET and DELETE.
pub const EMPTY_BODY_SHA256: &str = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";

/// An ACS access key, decoded. Its `Debug` never shows the key.
#[derive(Clone)]
pub struct AcsKey(Vec<u8>);

impl std::fmt::Debug for AcsKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AcsKey(<{} bytes>)", self.0.len())
    }
}

/// The headers of one signed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    /// `x-ms-date`, RFC 1123.
    pub date: String,
    /// `x-ms-content-sha256`.
    pub content_sha256: String,
    /// `x-ms-host`: the ACS resource's host (with `:port` when its URL names one).
    pub host: String,
    /// `Authorization`.
    pub authorization: String,
}

impl AcsKey {
    /// Decodes a base64 access key (as the Azure portal shows it).
    pub fn from_base64(key: &str) -> Result<AcsKey> {
        let bytes = B64
            .decode(key.trim())
            .map_err(|e| Error::Config(format!("the ACS access key is not base64: {e}")))?;
        if bytes.is_empty() {
            return Err(Error::Config("the ACS access key is empty".into()));
        }
        Ok(AcsKey(bytes))
    }

    /// Signs `method url` for the ACS host `acs_host` at `date` (RFC 1123): the string to sign
    /// is `METHOD\n{url path}\n{date};{acs_host};{content hash}`, the body is empty.
    pub fn sign(&self, method: &str, url: &Url, acs_host: &str, date: &str) -> SignedHeaders {
        let to_sign = format!(
            "{method}\n{}\n{date};{acs_host};{EMPTY_BODY_SHA256}",
            url.path()
        );
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(to_sign.as_bytes());
        let sig = B64.encode(mac.finalize().into_bytes());
        SignedHeaders {
            date: date.to_string(),
            content_sha256: EMPTY_BODY_SHA256.to_string(),
            host: acs_host.to_string(),
            authorization: format!(
                "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature={sig}"
            ),
        }
    }

    /// [`AcsKey::sign`] at the current time.
    pub fn sign_now(&self, method: &str, url: &Url, acs_host: &str) -> SignedHeaders {
        self.sign(method, url, acs_host, &rfc1123_now())
    }
}

/// The current time as RFC 1123 (`Wed, 02 Dec 2026 07:00:00 GMT`).
pub fn rfc1123_now() -> String {
    chrono::Utc::now()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

/// The `x-ms-host` for an ACS endpoint URL: its host, with `:port` when the URL names one.
pub fn acs_host(endpoint: &Url) -> Result<String> {
    let host = endpoint
        .host_str()
        .ok_or_else(|| Error::Config(format!("--acs-endpoint {endpoint} has no host")))?;
    Ok(match endpoint.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    })
}

/// base64(SHA-256(bytes)), to check [`EMPTY_BODY_SHA256`].
#[cfg(test)]
fn sha256_base64(bytes: &[u8]) -> String {
    use sha2::Digest;
    B64.encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_body_hash_is_sha256_of_nothing() {
        assert_eq!(sha256_base64(b""), EMPTY_BODY_SHA256);
    }

    #[test]
    fn signature_covers_path_date_host_and_hash_not_query() {
        let key = AcsKey::from_base64("c2VjcmV0LWtleQ==").unwrap();
        let date = "Wed, 02 Dec 2026 07:00:00 GMT";
        let a: Url = "https://x.asm.skype.com/v1/objects/a/content/video?sig=1"
            .parse()
            .unwrap();
        let b: Url = "https://other.example/v1/objects/a/content/video"
            .parse()
            .unwrap();
        let h = key.sign("GET", &a, "acs.communication.azure.com", date);
        // Only the path is signed: the same path on another host signs the same.
        assert_eq!(h, key.sign("GET", &b, "acs.communication.azure.com", date));
        let mut mac = Hmac::<Sha256>::new_from_slice(b"secret-key").unwrap();
        mac.update(
            format!("GET\n/v1/objects/a/content/video\n{date};acs.communication.azure.com;{EMPTY_BODY_SHA256}")
                .as_bytes(),
        );
        let want = B64.encode(mac.finalize().into_bytes());
        assert!(h.authorization.ends_with(&format!("&Signature={want}")));
        assert_ne!(
            h,
            key.sign("GET", &a, "other.communication.azure.com", date)
        );
        assert_ne!(
            h,
            key.sign("DELETE", &a, "acs.communication.azure.com", date)
        );
    }

    #[test]
    fn acs_host_keeps_an_explicit_port() {
        let u: Url = "https://acs.communication.azure.com".parse().unwrap();
        assert_eq!(acs_host(&u).unwrap(), "acs.communication.azure.com");
        let u: Url = "http://127.0.0.1:8443/".parse().unwrap();
        assert_eq!(acs_host(&u).unwrap(), "127.0.0.1:8443");
    }

    #[test]
    fn bad_keys_are_config_errors() {
        assert!(matches!(
            AcsKey::from_base64("not base64!"),
            Err(Error::Config(_))
        ));
        assert!(matches!(AcsKey::from_base64(""), Err(Error::Config(_))));
        let dbg = format!("{:?}", AcsKey::from_base64("c2VjcmV0").unwrap());
        assert!(
            !dbg.contains("secret") && !dbg.contains("c2VjcmV0"),
            "{dbg}"
        );
    }
}
