use azure_core::http::StatusCode;
use std::path::PathBuf;

/// This crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong while fetching and archiving a recording.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A download URL's host is not on the allow-list: it is never contacted.
    #[error("{url}: host {host} is not on the allow-list (the service's storage domains, https, and each --allow-host); not contacted")]
    HostNotAllowed {
        /// The refused URL.
        url: String,
        /// Its `host[:port]`.
        host: String,
    },
    /// 401: the signature was refused.
    #[error("{url}: 401 unauthorized: the download signature was refused; the ACS access key (CALLREC_ACS_KEY) or the endpoint (--acs-endpoint, signed as x-ms-host {acs_host}) is probably wrong")]
    Unauthorized {
        /// The URL.
        url: String,
        /// The `x-ms-host` that was signed.
        acs_host: String,
    },
    /// 403: the key is valid but not allowed to read this recording.
    #[error(
        "{url}: 403 forbidden: the ACS resource behind --acs-endpoint may not read this recording"
    )]
    Forbidden {
        /// The URL.
        url: String,
    },
    /// 404: the chunk is gone (retention passed or deleted).
    #[error(
        "{url}: 404 not found: the chunk is gone (past the service's retention window, or deleted)"
    )]
    NotFound {
        /// The URL.
        url: String,
    },
    /// Another status that retrying will not change.
    #[error("{url}: HTTP {status}, not retried")]
    Status {
        /// The URL.
        url: String,
        /// The status code.
        status: u16,
    },
    /// Every attempt failed with a retryable fault.
    #[error("{url}: gave up after {attempts} attempts; last: {last}")]
    RetriesExhausted {
        /// The URL.
        url: String,
        /// Attempts made.
        attempts: u32,
        /// The last fault.
        last: String,
    },
    /// The object is larger than the caller allows for it (a metadata file of gigabytes): its
    /// body is not read and its `.part` is removed.
    #[error(
        "{url}: the object is {size} bytes, more than the {limit} allowed for it; not downloaded"
    )]
    TooLarge {
        /// The URL.
        url: String,
        /// The size the server declared.
        size: u64,
        /// The largest size allowed.
        limit: u64,
    },
    /// A local file operation failed.
    #[error("cannot {op} {}: {source}", path.display())]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A queue or blob operation failed (the message hides any SAS signature).
    #[error("storage: {op} {target}: {}", redact_sig(&source.to_string()))]
    Storage {
        /// What was being done.
        op: &'static str,
        /// The queue or blob.
        target: String,
        /// The cause.
        source: Box<azure_core::Error>,
    },
    /// A blob read back after upload is not what was uploaded.
    #[error("blob {name}: its {what} reads back as {actual}, uploaded {expected}")]
    Verify {
        /// The blob (`container/name`).
        name: String,
        /// What differs (`size`, `sha256 metadata`, `committed blocks`).
        what: String,
        /// What was uploaded.
        expected: String,
        /// What the container holds.
        actual: String,
    },
    /// A queue message that is not a usable recording event.
    #[error("queue message {message_id}: {reason}")]
    Message {
        /// The message id.
        message_id: String,
        /// What is wrong, naming the JSON field.
        reason: String,
    },
    /// Bad configuration (URL, key, flag).
    #[error("{0}")]
    Config(String),
}

impl Error {
    /// Retrying the same message later will not help: it goes to the poison queue with a
    /// `check.json` that says why.
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            Error::HostNotAllowed { .. }
                | Error::NotFound { .. }
                | Error::Status { .. }
                | Error::TooLarge { .. }
                | Error::Message { .. }
        )
    }

    /// The worker itself is misconfigured (wrong key, wrong resource, a SAS that may not do
    /// what the worker needs: storage's 401 or 403, a work directory it cannot use): it stops
    /// and releases the message for a worker that is configured right.
    pub fn stops_worker(&self) -> bool {
        match self {
            Error::Unauthorized { .. } | Error::Forbidden { .. } | Error::Config(_) => true,
            Error::Storage { source, .. } => matches!(
                source.http_status(),
                Some(StatusCode::Unauthorized | StatusCode::Forbidden)
            ),
            _ => false,
        }
    }

    pub(crate) fn storage(
        op: &'static str,
        target: impl Into<String>,
        e: azure_core::Error,
    ) -> Self {
        Error::Storage {
            op,
            target: target.into(),
            source: Box::new(e),
        }
    }

    pub(crate) fn io(
        op: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Error::Io { op, path, source }
    }
}

/// `text` with the value of every `sig=` query parameter replaced, so that a SAS URL quoted in
/// an error never shows its signature.
pub(crate) fn redact_sig(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("sig=") {
        out.push_str(&rest[..i + 4]);
        out.push_str("REDACTED");
        rest = &rest[i + 4..];
        let end = rest
            .find(|c: char| c == '&' || c == '"' || c == '\'' || c.is_whitespace() || c == ')')
            .unwrap_or(rest.len());
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sas_signatures_are_redacted() {
        let t = r#"url: "http://h/q?sv=1&sig=abc%2B%3D&se=2099", other sig=zz"#;
        assert_eq!(
            redact_sig(t),
            r#"url: "http://h/q?sv=1&sig=REDACTED&se=2099", other sig=REDACTED"#
        );
        assert_eq!(redact_sig("no secret"), "no secret");
    }
}
