//! The cluster token, checked the same way on every port that takes one: a client
//! presents `Authorization: Bearer <token>` (Spark Connect's `sc://host/;token=...`,
//! an Iceberg REST client's `token` property), compared in constant time with the
//! configured token. A server bound beyond loopback must have a token
//! ([`require_token_off_loopback`]).

use std::net::IpAddr;

/// Why a request's token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// The request carried no token.
    #[error("no token presented")]
    Missing,
    /// The request carried a token, not the configured one.
    #[error("invalid token")]
    Invalid,
}

/// The token of an `Authorization` header value (`Bearer <token>`; the scheme's
/// case does not matter), if it is one.
pub fn bearer(authorization: &str) -> Option<&str> {
    let (scheme, token) = authorization.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Checks a presented token against the configured one; with no token configured
/// every request passes.
pub fn check(expected: Option<&str>, presented: Option<&str>) -> Result<(), TokenError> {
    let Some(expected) = expected else {
        return Ok(());
    };
    match presented {
        Some(p) if constant_time_eq(p.as_bytes(), expected.as_bytes()) => Ok(()),
        Some(_) => Err(TokenError::Invalid),
        None => Err(TokenError::Missing),
    }
}

/// Whether two byte strings are equal, in time that depends only on their lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Refuses to serve `what` on a non-loopback address without a token: the message
/// says how to set one.
pub fn require_token_off_loopback(
    bind: IpAddr,
    token: Option<&str>,
    what: &str,
) -> Result<(), String> {
    if bind.is_loopback() || token.is_some() {
        return Ok(());
    }
    Err(format!(
        "binding {bind} exposes the {what} beyond this machine; set an auth token \
         (--auth-token or SPARKLING_AUTH_TOKEN)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_are_read_from_the_header() {
        assert_eq!(bearer("Bearer s3cret"), Some("s3cret"));
        assert_eq!(bearer("bearer s3cret"), Some("s3cret"));
        assert_eq!(bearer("Basic dXNlcg=="), None);
        assert_eq!(bearer("Bearer "), None);
        assert_eq!(bearer("Bearer"), None);
    }

    #[test]
    fn tokens_are_checked_only_when_configured() {
        assert_eq!(check(None, None), Ok(()));
        assert_eq!(check(Some("a"), Some("a")), Ok(()));
        assert_eq!(check(Some("a"), Some("b")), Err(TokenError::Invalid));
        assert_eq!(check(Some("a"), Some("ab")), Err(TokenError::Invalid));
        assert_eq!(check(Some("a"), None), Err(TokenError::Missing));
    }

    #[test]
    fn off_loopback_binds_need_a_token() {
        let any: IpAddr = [0, 0, 0, 0].into();
        let local: IpAddr = [127, 0, 0, 1].into();
        assert!(require_token_off_loopback(local, None, "cluster").is_ok());
        assert!(require_token_off_loopback(any, Some("t"), "cluster").is_ok());
        let e = require_token_off_loopback(any, None, "catalog").unwrap_err();
        assert!(e.contains("exposes the catalog"), "{e}");
    }
}
