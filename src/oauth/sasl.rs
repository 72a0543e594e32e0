//! The two SASL mechanisms that carry an OAuth 2.0 bearer token: Google's
//! `XOAUTH2` and the standard `OAUTHBEARER` (RFC 7628). Both are a single
//! client response; the server answers a refusal with a JSON challenge
//! that the client must acknowledge with an empty response (RFC 7628 3.2.3,
//! and Google's XOAUTH2 protocol page) before the final NO.

use serde::Deserialize;
use std::fmt;

pub use crate::config::Mechanism;

/// The XOAUTH2 client response before base64:
/// `user=<user>^Aauth=Bearer <token>^A^A`.
pub fn xoauth2(user: &str, token: &str) -> String {
    format!("user={user}\x01auth=Bearer {token}\x01\x01")
}

/// The OAUTHBEARER client response before base64 (RFC 7628 3.1):
/// the GS2 header naming the user (`,` and `=` escaped as RFC 5801 asks),
/// then `host`/`port` when known, then `auth=Bearer <token>`.
pub fn oauthbearer(user: &str, host: Option<&str>, port: Option<u16>, token: &str) -> String {
    let mut out = format!("n,a={},\x01", gs2_escape(user));
    if let Some(host) = host {
        out.push_str(&format!("host={host}\x01"));
    }
    if let Some(port) = port {
        out.push_str(&format!("port={port}\x01"));
    }
    out.push_str(&format!("auth=Bearer {token}\x01\x01"));
    out
}

/// The client response for `mechanism`.
pub fn initial_response(
    mechanism: Mechanism,
    user: &str,
    host: &str,
    port: u16,
    token: &str,
) -> String {
    match mechanism {
        Mechanism::Xoauth2 => xoauth2(user, token),
        Mechanism::Oauthbearer => oauthbearer(user, Some(host), Some(port), token),
    }
}

/// RFC 5801 saslname: `=` becomes `=3D` and `,` becomes `=2C`.
fn gs2_escape(user: &str) -> String {
    user.replace('=', "=3D").replace(',', "=2C")
}

/// An `async-imap` authenticator sending one prepared response, then the
/// empty acknowledgement of an error challenge.
pub struct OneShot {
    response: Option<String>,
    /// The server's error challenge (already base64-decoded by
    /// async-imap), kept for the diagnostics.
    pub challenge: Option<Vec<u8>>,
}

impl OneShot {
    /// An authenticator that answers with `response`.
    pub fn new(response: String) -> OneShot {
        OneShot {
            response: Some(response),
            challenge: None,
        }
    }
}

impl fmt::Debug for OneShot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The response holds the bearer token.
        f.write_str("OneShot(***)")
    }
}

impl async_imap::Authenticator for &mut OneShot {
    type Response = String;

    fn process(&mut self, challenge: &[u8]) -> String {
        match self.response.take() {
            Some(r) => r,
            None => {
                self.challenge = Some(challenge.to_vec());
                // RFC 7628 3.2.3: a single ^A acknowledges the error for
                // OAUTHBEARER; Google's XOAUTH2 wants an empty line. Both
                // servers accept the empty response.
                String::new()
            }
        }
    }
}

/// The `status` of a server's JSON error challenge (RFC 7628 3.2.2:
/// `{"status":"invalid_token",...}`), when it has one. Outside bytes:
/// anything unreadable is simply None.
pub fn challenge_status(challenge: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Challenge {
        status: Option<String>,
    }
    let text = std::str::from_utf8(challenge).ok()?;
    let parsed: Challenge = serde_json::from_str(text).ok()?;
    parsed
        .status
        .filter(|s| s.len() <= 64 && s.chars().all(|c| c.is_ascii_graphic()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;

    /// Google's "OAuth 2.0 Mechanism" page (developers.google.com/gmail/imap/xoauth2-protocol):
    /// the example response and its base64 form.
    #[test]
    fn xoauth2_matches_googles_published_example() {
        let raw = xoauth2(
            "someuser@example.com",
            "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg",
        );
        assert_eq!(
            raw,
            "user=someuser@example.com\x01auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\x01\x01"
        );
        assert_eq!(
            STANDARD.encode(raw),
            "dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ=="
        );
    }

    /// RFC 7628 section 4.1, "Successful Bearer Token Exchange".
    #[test]
    fn oauthbearer_matches_rfc_7628_example() {
        let raw = oauthbearer(
            "user@example.com",
            Some("server.example.com"),
            Some(143),
            "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==",
        );
        assert_eq!(
            STANDARD.encode(&raw),
            "bixhPXVzZXJAZXhhbXBsZS5jb20sAWhvc3Q9c2VydmVyLmV4YW1wbGUuY29tAXBvcnQ9MTQzAWF1dGg9QmVhcmVyIHZGOWRmdDRxbVRjMk52YjNSbGNrQmhiSFJoZG1semRHRXVZMjl0Q2c9PQEB"
        );
    }

    #[test]
    fn oauthbearer_escapes_the_gs2_authzid() {
        assert!(oauthbearer("a,b=c@x", None, None, "t").starts_with("n,a=a=2Cb=3Dc@x,\x01auth="));
    }

    #[test]
    fn error_challenge_is_acknowledged_and_kept() {
        use async_imap::Authenticator;
        let mut one = OneShot::new("first".into());
        assert_eq!((&mut one).process(b""), "first");
        assert_eq!((&mut one).process(br#"{"status":"invalid_token"}"#), "");
        assert_eq!(
            challenge_status(one.challenge.as_deref().unwrap()).as_deref(),
            Some("invalid_token")
        );
        assert_eq!(challenge_status(b"\xff\x00"), None);
        assert_eq!(challenge_status(b"[1,2]"), None);
        assert!(!format!("{one:?}").contains("first"));
    }
}
