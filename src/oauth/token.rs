//! One request to an OAuth 2.0 token endpoint (RFC 6749 4.4 client
//! credentials, RFC 7523 JWT bearer) and the sorting of its answer.
//!
//! The answer is outside input: [`parse_response`] reads it with bounded
//! size and never panics (fuzzed by `fuzz/fuzz_targets/oauth_token_response.rs`).
//! Error answers (`error`, `error_description`, Microsoft's `AADSTS…` codes)
//! are sorted into the few cases an official can act on.

use serde::Deserialize;
use std::fmt;
use std::time::Duration;

/// The largest token answer read; Entra ID tokens are ~2-4 KiB.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// An access token; never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken(String);

impl AccessToken {
    /// Wraps a token (tests).
    pub fn new(token: impl Into<String>) -> AccessToken {
        AccessToken(token.into())
    }

    /// The token itself, only for the SASL response.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessToken(***)")
    }
}

/// A successful answer: the token and how long it lives.
#[derive(Debug)]
pub struct Granted {
    /// The bearer token.
    pub token: AccessToken,
    /// `expires_in` (None when the endpoint did not say).
    pub lifetime: Option<Duration>,
}

/// Why the endpoint gave no token, sorted for the official.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// `invalid_client`: unknown, disabled or revoked application, wrong or
    /// expired secret or certificate.
    InvalidClient,
    /// Admin consent, API permission, delegation or mailbox access missing
    /// (`unauthorized_client`, `access_denied`, `invalid_grant`,
    /// `consent_required`, AADSTS65001/500011/700016…).
    NotPermitted,
    /// `invalid_scope`: the scope is wrong.
    InvalidScope,
    /// Another refusal (`invalid_request`, an unexpected status…).
    Other,
}

/// What an error answer said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointError {
    /// The sorted case.
    pub refusal: Refusal,
    /// HTTP status.
    pub status: u16,
    /// `error` and `error_description`, shortened, for the log.
    pub detail: String,
}

/// Reads a token endpoint's answer (`status`, body). Ok with the token, or
/// the sorted refusal. Never panics on any input.
pub fn parse_response(status: u16, body: &[u8]) -> Result<Granted, EndpointError> {
    #[derive(Deserialize)]
    struct Answer {
        access_token: Option<String>,
        token_type: Option<String>,
        expires_in: Option<serde_json::Value>,
        error: Option<String>,
        error_description: Option<String>,
    }
    let body = &body[..body.len().min(MAX_RESPONSE_BYTES)];
    let answer: Option<Answer> = serde_json::from_slice(body).ok();
    match answer {
        Some(Answer {
            access_token: Some(token),
            token_type,
            expires_in,
            ..
        }) if (200..300).contains(&status) && usable_token(&token) => {
            if let Some(t) = token_type.filter(|t| !t.eq_ignore_ascii_case("bearer")) {
                return Err(EndpointError {
                    refusal: Refusal::Other,
                    status,
                    detail: format!("token_type {} (Bearer ではありません)", shorten(&t)),
                });
            }
            Ok(Granted {
                token: AccessToken(token),
                lifetime: expires_in.as_ref().and_then(seconds),
            })
        }
        Some(a) if a.error.is_some() => {
            let error = a.error.unwrap_or_default();
            let description = a.error_description.unwrap_or_default();
            Err(EndpointError {
                refusal: classify(&error, &description),
                status,
                detail: shorten(&format!("{error}: {description}")),
            })
        }
        _ => Err(EndpointError {
            refusal: Refusal::Other,
            status,
            detail: format!(
                "HTTP {status}, 読めない応答: {}",
                shorten(&String::from_utf8_lossy(&body[..body.len().min(200)]))
            ),
        }),
    }
}

/// A token must fit in one SASL line: printable ASCII, no spaces or ^A.
fn usable_token(token: &str) -> bool {
    !token.is_empty() && token.len() <= 16 * 1024 && token.bytes().all(|b| b.is_ascii_graphic())
}

/// `expires_in` as a number or a numeric string (older Entra ID v1
/// endpoints send `"3599"`), capped at a day.
fn seconds(v: &serde_json::Value) -> Option<Duration> {
    let n = match v {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) => s.trim().parse::<u64>().ok(),
        _ => None,
    }?;
    Some(Duration::from_secs(n.min(86_400)))
}

fn classify(error: &str, description: &str) -> Refusal {
    // Entra ID codes say more than the OAuth error word.
    const NOT_PERMITTED_CODES: [&str; 5] = [
        "AADSTS65001",   // consent not granted
        "AADSTS500011",  // resource (Exchange) principal not found in tenant
        "AADSTS700016",  // application not found in the directory
        "AADSTS7000112", // application disabled
        "AADSTS50105",   // not assigned to the application
    ];
    const INVALID_CLIENT_CODES: [&str; 3] = [
        "AADSTS7000215", // invalid secret
        "AADSTS7000222", // expired secret
        "AADSTS700027",  // certificate assertion not valid
    ];
    // Google: the service account's key was deleted or is not this one.
    if INVALID_CLIENT_CODES.iter().any(|c| description.contains(c))
        || description.contains("Invalid JWT Signature")
    {
        return Refusal::InvalidClient;
    }
    if NOT_PERMITTED_CODES.iter().any(|c| description.contains(c)) {
        return Refusal::NotPermitted;
    }
    match error {
        "invalid_client" => Refusal::InvalidClient,
        "unauthorized_client"
        | "access_denied"
        | "invalid_grant"
        | "consent_required"
        | "interaction_required" => Refusal::NotPermitted,
        "invalid_scope" => Refusal::InvalidScope,
        _ => Refusal::Other,
    }
}

/// At most 300 characters, control characters dropped (the text goes to
/// logs and terminals).
pub fn shorten(s: &str) -> String {
    let clean: String = s.chars().filter(|c| !c.is_control()).take(300).collect();
    if s.chars().count() > 300 {
        format!("{clean}…")
    } else {
        clean
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn microsoft_success_answer_gives_the_token_and_lifetime() {
        let body = br#"{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"eyJ0eXAiOiJKV1Qi.x.y"}"#;
        let g = parse_response(200, body).unwrap();
        assert_eq!(g.token.expose(), "eyJ0eXAiOiJKV1Qi.x.y");
        assert_eq!(g.lifetime, Some(Duration::from_secs(3599)));
        assert!(!format!("{g:?}").contains("eyJ0"));
        let g = parse_response(200, br#"{"access_token":"a","expires_in":"60"}"#).unwrap();
        assert_eq!(g.lifetime, Some(Duration::from_secs(60)));
    }

    #[test]
    fn entra_id_errors_are_sorted_by_their_codes() {
        let e = parse_response(
            401,
            br#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value.","error_codes":[7000215]}"#,
        )
        .unwrap_err();
        assert_eq!(e.refusal, Refusal::InvalidClient);
        assert!(e.detail.starts_with("invalid_client: AADSTS7000215"));
        let e = parse_response(
            400,
            br#"{"error":"invalid_client","error_description":"AADSTS700016: Application with identifier 'x' was not found in the directory 'y'."}"#,
        )
        .unwrap_err();
        assert_eq!(e.refusal, Refusal::NotPermitted);
        let e = parse_response(400, br#"{"error":"unauthorized_client","error_description":"Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested."}"#).unwrap_err();
        assert_eq!(e.refusal, Refusal::NotPermitted);
        let e = parse_response(400, br#"{"error":"invalid_scope"}"#).unwrap_err();
        assert_eq!(e.refusal, Refusal::InvalidScope);
    }

    #[test]
    fn garbage_answers_are_refusals_not_panics() {
        for (status, body) in [
            (200, &b""[..]),
            (200, b"<html>proxy login</html>"),
            (200, br#"{"access_token":""}"#),
            (200, br#"{"access_token":"a b"}"#),
            (200, br#"{"access_token":"a","token_type":"mac"}"#),
            (500, br#"{"access_token":"a"}"#),
            (200, b"\xff\xfe{"),
        ] {
            assert!(parse_response(status, body).is_err(), "{body:?}");
        }
    }
}
