//! The SMTP sender with AUTH XOAUTH2 (lettre's mechanism): the relay
//! transport is rebuilt whenever the token changes, and a refused token is
//! renewed and the step tried once more. A refusal happens at AUTH, before
//! MAIL FROM, so trying again cannot send a second copy.

use super::{AccessToken, Mechanism, TokenError, TokenSource};
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism as LettreMechanism};
use lettre::transport::smtp::response::Response;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use std::sync::Arc;

type Smtp = AsyncSmtpTransport<Tokio1Executor>;

/// Why a send or check failed. Its `Display` is worded in
/// `messages::oauth`.
#[derive(Debug)]
pub enum OAuthSmtpError {
    /// No token could be had.
    Token(TokenError),
    /// The relay refused the token, also a renewed one.
    Refused {
        /// The AUTH user.
        user: String,
        /// The relay's words.
        detail: String,
    },
    /// Any other SMTP failure.
    Smtp(lettre::transport::smtp::Error),
}

impl std::error::Error for OAuthSmtpError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            // As `#[error(transparent)]` would: the SMTP error stands for
            // itself, so its source is this error's source.
            OAuthSmtpError::Smtp(e) => std::error::Error::source(e),
            _ => None,
        }
    }
}

/// An SMTP relay reached with OAuth 2.0 tokens.
pub struct OAuthSmtp {
    builder: lettre::transport::smtp::AsyncSmtpTransportBuilder,
    user: String,
    source: Arc<TokenSource>,
    current: tokio::sync::Mutex<Option<(AccessToken, Smtp)>>,
}

impl std::fmt::Debug for OAuthSmtp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OAuthSmtp({})", self.user)
    }
}

impl OAuthSmtp {
    /// A relay for `builder` (host, port, TLS already set) logging in as
    /// `user`. Only XOAUTH2 exists in lettre: OAUTHBEARER is refused here
    /// rather than silently swapped.
    pub fn new(
        builder: lettre::transport::smtp::AsyncSmtpTransportBuilder,
        user: String,
        source: TokenSource,
    ) -> Result<OAuthSmtp, TokenError> {
        if source.mechanism != Mechanism::Xoauth2 {
            return Err(TokenError::Config(
                "[smtp.oauth] の mechanism は xoauth2 だけです".into(),
            ));
        }
        Ok(OAuthSmtp {
            builder,
            user,
            source: Arc::new(source),
            current: tokio::sync::Mutex::new(None),
        })
    }

    /// The transport for the current token (rebuilt when it changed, or
    /// after `renew`).
    async fn transport(&self, renew: bool) -> Result<Smtp, OAuthSmtpError> {
        let token = if renew {
            self.source.renew().await
        } else {
            self.source.token().await
        }
        .map_err(OAuthSmtpError::Token)?;
        let mut current = self.current.lock().await;
        if let Some((t, smtp)) = current.as_ref()
            && *t == token
        {
            return Ok(smtp.clone());
        }
        let smtp = self
            .builder
            .clone()
            .authentication(vec![LettreMechanism::Xoauth2])
            .credentials(Credentials::new(
                self.user.clone(),
                token.expose().to_string(),
            ))
            .build();
        *current = Some((token, smtp.clone()));
        Ok(smtp)
    }

    /// Opens or checks the pooled connection (NOOP); true when it answers.
    pub async fn test_connection(&self) -> Result<bool, OAuthSmtpError> {
        let result = match self.transport(false).await?.test_connection().await {
            Err(e) if auth_refused(&e) => {
                tracing::info!(
                    "SMTP サーバーがトークンを拒否したので更新して再試行します / relay refused the token; renewing it"
                );
                self.transport(true)
                    .await?
                    .test_connection()
                    .await
                    .map_err(|e| self.sorted(e))
            }
            other => other.map_err(|e| self.sorted(e)),
        };
        self.reported(result)
    }

    /// Sends one message.
    pub async fn send_raw(
        &self,
        envelope: &Envelope,
        raw: &[u8],
    ) -> Result<Response, OAuthSmtpError> {
        let result = match self.transport(false).await?.send_raw(envelope, raw).await {
            Err(e) if auth_refused(&e) => self
                .transport(true)
                .await?
                .send_raw(envelope, raw)
                .await
                .map_err(|e| self.sorted(e)),
            other => other.map_err(|e| self.sorted(e)),
        };
        self.reported(result)
    }

    /// Tells the monitor whether the relay took the token (token endpoint
    /// failures are reported by the source itself).
    fn reported<T>(&self, result: Result<T, OAuthSmtpError>) -> Result<T, OAuthSmtpError> {
        match &result {
            Ok(_) => self.source.report_accepted(),
            Err(OAuthSmtpError::Refused { detail, .. }) => {
                self.source.report_server_refused(detail);
            }
            Err(_) => {}
        }
        result
    }

    fn sorted(&self, e: lettre::transport::smtp::Error) -> OAuthSmtpError {
        if auth_refused(&e) {
            OAuthSmtpError::Refused {
                user: self.user.clone(),
                detail: e.to_string(),
            }
        } else {
            OAuthSmtpError::Smtp(e)
        }
    }
}

/// The relay refused the AUTH: 530/534/535, or (Postfix with Dovecot) an
/// error challenge, which lettre's XOAUTH2 cannot answer and reports as a
/// client error.
fn auth_refused(e: &lettre::transport::smtp::Error) -> bool {
    let code = e.status().map(|c| c.to_string());
    matches!(code.as_deref(), Some("530" | "534" | "535"))
        || (e.is_client() && e.to_string().contains("does not expect a challenge"))
}
