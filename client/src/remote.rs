//! Parses Spark Connect remote URLs: `sc://host[:port][/;param=value;...]`.
//!
//! The format is Spark Connect's: the scheme is `sc`, the port defaults to 15002,
//! parameters follow a `/;` and are separated by `;`. Recognised parameters are
//! `token` (a bearer token, sent as `Authorization: Bearer ...`), `user_id`,
//! `session_id` and `use_ssl`; others are kept and sent as gRPC metadata, as Spark does.

use std::collections::BTreeMap;

use crate::error::{ClientError, Result};

/// The default Spark Connect port.
pub const DEFAULT_PORT: u16 = sparkling_proto::DEFAULT_CONNECT_PORT;

/// A parsed `sc://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteUrl {
    /// Host name or address.
    pub host: String,
    /// Port, 15002 unless given.
    pub port: u16,
    /// Bearer token (`;token=...`).
    pub token: Option<String>,
    /// User id reported to the server (`;user_id=...`).
    pub user_id: Option<String>,
    /// A fixed session id (`;session_id=...`), otherwise a fresh one per session.
    pub session_id: Option<String>,
    /// Whether to use TLS (`;use_ssl=true`).
    pub use_ssl: bool,
    /// Any other parameters, passed as gRPC metadata.
    pub params: BTreeMap<String, String>,
}

impl RemoteUrl {
    /// Parses `sc://host[:port][/;k=v;...]`.
    ///
    /// ```
    /// use sparkling_client::RemoteUrl;
    /// let url = RemoteUrl::parse("sc://10.0.0.5/;token=abc").unwrap();
    /// assert_eq!((url.host.as_str(), url.port), ("10.0.0.5", 15002));
    /// assert_eq!(url.token.as_deref(), Some("abc"));
    /// ```
    pub fn parse(url: &str) -> Result<Self> {
        let bad = |why: &str| ClientError::InvalidUrl(format!("{url:?}: {why}"));
        let rest = url
            .strip_prefix("sc://")
            .ok_or_else(|| bad("the scheme must be sc:// (e.g. sc://localhost:15002)"))?;
        let (authority, params) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, ""),
        };
        if authority.is_empty() {
            return Err(bad("missing host"));
        }
        let (host, port) = split_host_port(authority).ok_or_else(|| bad("invalid port"))?;
        let mut out = RemoteUrl {
            host,
            port: port.unwrap_or(DEFAULT_PORT),
            token: None,
            user_id: None,
            session_id: None,
            use_ssl: false,
            params: BTreeMap::new(),
        };
        if !params.is_empty() && !params.starts_with(';') {
            return Err(bad(
                "parameters must follow '/;' (e.g. sc://host:15002/;token=...)",
            ));
        }
        for pair in params.split(';').filter(|p| !p.is_empty()) {
            let (k, v) = pair
                .split_once('=')
                .ok_or_else(|| bad(&format!("parameter {pair:?} is not key=value")))?;
            match k {
                "token" => out.token = Some(v.to_string()),
                "user_id" => out.user_id = Some(v.to_string()),
                "session_id" => out.session_id = Some(v.to_string()),
                "use_ssl" => out.use_ssl = v.eq_ignore_ascii_case("true"),
                _ => {
                    out.params.insert(k.to_string(), v.to_string());
                }
            }
        }
        Ok(out)
    }

    /// The HTTP/2 endpoint for tonic, e.g. `http://127.0.0.1:15002`.
    pub fn endpoint(&self) -> String {
        let scheme = if self.use_ssl { "https" } else { "http" };
        if self.host.contains(':') {
            format!("{scheme}://[{}]:{}", self.host, self.port)
        } else {
            format!("{scheme}://{}:{}", self.host, self.port)
        }
    }
}

fn split_host_port(authority: &str) -> Option<(String, Option<u16>)> {
    if let Some(rest) = authority.strip_prefix('[') {
        // [ipv6]:port
        let (host, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p.parse().ok()?),
            None if after.is_empty() => None,
            None => return None,
        };
        return Some((host.to_string(), port));
    }
    match authority.rsplit_once(':') {
        Some((host, port)) => Some((host.to_string(), Some(port.parse().ok()?))),
        None => Some((authority.to_string(), None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_host_port_and_params() {
        let u = RemoteUrl::parse("sc://example.com:1234/;token=s3cret;user_id=ann;x=1").unwrap();
        assert_eq!(u.host, "example.com");
        assert_eq!(u.port, 1234);
        assert_eq!(u.token.as_deref(), Some("s3cret"));
        assert_eq!(u.user_id.as_deref(), Some("ann"));
        assert_eq!(u.params.get("x").map(String::as_str), Some("1"));
        assert_eq!(u.endpoint(), "http://example.com:1234");
    }

    #[test]
    fn defaults_port_and_accepts_ipv6() {
        assert_eq!(
            RemoteUrl::parse("sc://localhost").unwrap().port,
            DEFAULT_PORT
        );
        let u = RemoteUrl::parse("sc://[::1]:9/").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", 9));
        assert_eq!(u.endpoint(), "http://[::1]:9");
    }

    #[test]
    fn rejects_bad_urls() {
        for bad in ["http://x", "sc://", "sc://h:notaport", "sc://h/;novalue"] {
            let err = RemoteUrl::parse(bad).unwrap_err().to_string();
            assert!(err.contains(bad), "{err}");
        }
    }
}
