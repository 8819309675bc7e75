//! Which hosts a worker may send signed requests to.

use std::net::IpAddr;

use crate::{Error, Result, Url};

/// The download hosts a worker may contact: the service's storage domains over https
/// (`*.asm.skype.com`, `*.asyncgw.teams.microsoft.com`) and each added `host:port`. Plain http
/// is allowed only for an added loopback host. A forged event naming any other host is refused
/// before anything is sent.
#[derive(Debug, Clone)]
pub struct AllowList {
    domains: Vec<String>,
    hosts: Vec<(String, u16)>,
}

impl Default for AllowList {
    fn default() -> Self {
        AllowList {
            domains: vec!["asm.skype.com".into(), "asyncgw.teams.microsoft.com".into()],
            hosts: Vec::new(),
        }
    }
}

fn is_loopback(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost") || h.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

impl AllowList {
    /// Adds `HOST:PORT` (as `--allow-host` gives it).
    pub fn allow(&mut self, host_port: &str) -> Result<()> {
        let (host, port) = host_port
            .rsplit_once(':')
            .and_then(|(h, p)| Some((h, p.parse::<u16>().ok()?)))
            .filter(|(h, _)| !h.is_empty())
            .ok_or_else(|| {
                Error::Config(format!("--allow-host {host_port}: expected HOST:PORT"))
            })?;
        self.hosts.push((host.to_ascii_lowercase(), port));
        Ok(())
    }

    /// Ok when `url` may be contacted, else [`Error::HostNotAllowed`].
    pub fn check(&self, url: &Url) -> Result<()> {
        let host = url.host_str().unwrap_or("").to_ascii_lowercase();
        let port = url.port_or_known_default();
        let refuse = || Error::HostNotAllowed {
            url: url.to_string(),
            host: match url.port() {
                Some(p) => format!("{host}:{p}"),
                None => host.clone(),
            },
        };
        let https = url.scheme() == "https";
        let listed = port.is_some_and(|p| self.hosts.iter().any(|(h, hp)| *h == host && *hp == p));
        if listed && (https || (url.scheme() == "http" && is_loopback(&host))) {
            return Ok(());
        }
        let domain = self.domains.iter().any(|d| {
            host.strip_suffix(d.as_str())
                .is_some_and(|r| r.ends_with('.'))
        });
        if domain && https && port == Some(443) {
            return Ok(());
        }
        Err(refuse())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(a: &AllowList, u: &str) -> bool {
        a.check(&u.parse().unwrap()).is_ok()
    }

    #[test]
    fn service_domains_over_https_only() {
        let a = AllowList::default();
        assert!(ok(
            &a,
            "https://us-storage.asm.skype.com/v1/objects/x/content/video"
        ));
        assert!(ok(
            &a,
            "https://x.eu.asyncgw.teams.microsoft.com/v1/objects/x"
        ));
        assert!(!ok(&a, "http://us-storage.asm.skype.com/v1/objects/x"));
        assert!(!ok(&a, "https://evilasm.skype.com/x"));
        assert!(!ok(&a, "https://asm.skype.com.evil.example/x"));
        assert!(!ok(&a, "https://us-storage.asm.skype.com:8443/x"));
        assert!(!ok(&a, "http://127.0.0.1:8080/x"));
    }

    #[test]
    fn added_hosts_match_host_and_port_and_http_only_on_loopback() {
        let mut a = AllowList::default();
        a.allow("127.0.0.1:8080").unwrap();
        a.allow("media.example:443").unwrap();
        a.allow("10.1.2.3:80").unwrap();
        assert!(ok(&a, "http://127.0.0.1:8080/x"));
        assert!(!ok(&a, "http://127.0.0.1:8081/x"));
        assert!(!ok(&a, "http://127.0.0.2:8080/x"));
        assert!(ok(&a, "https://media.example/x"));
        assert!(!ok(&a, "http://10.1.2.3/x"), "plain http off loopback");
        assert!(matches!(a.allow("nohost"), Err(Error::Config(_))));
        assert!(matches!(a.allow(":80"), Err(Error::Config(_))));
    }

    #[test]
    fn refusal_names_url_and_host() {
        let e = AllowList::default()
            .check(&"http://127.0.0.1:9/v1/x".parse().unwrap())
            .unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("127.0.0.1:9") && msg.contains("not on the allow-list"),
            "{msg}"
        );
    }
}
