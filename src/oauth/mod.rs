//! OAuth 2.0 for the mailboxes ministries run on Microsoft 365 / Exchange
//! Online and Google Workspace, where basic authentication is off for IMAP
//! and SMTP (issue 17).
//!
//! A [`TokenSource`] obtains access tokens unattended — nobody is there to
//! click a consent screen — with one of three grants: Microsoft's client
//! credentials (a secret, or a certificate proving itself with a signed
//! client assertion), a Google service account with domain-wide delegation
//! (a signed JWT assertion naming the mailbox), or any token endpoint with
//! client credentials. Tokens are cached, renewed before they expire, and
//! renewed on demand when a server refuses one ([`TokenSource::renew`]).
//! [`sasl`] builds the `XOAUTH2` / `OAUTHBEARER` responses that carry them.
//! Secrets come from files or the environment and are never printed.

pub mod jwt;
pub mod sasl;
pub mod smtp;
pub mod token;

pub use crate::config::{Mechanism, OAuthConfig, Provider};
use jwt::SigningKey;
use serde::Deserialize;
use std::fmt;
use std::path::Path;
use std::time::{Duration, Instant};
pub use token::AccessToken;
use token::{EndpointError, Refusal};

/// Microsoft's scope for IMAP and SMTP AUTH with app-only access.
pub const MICROSOFT_SCOPE: &str = "https://outlook.office365.com/.default";
/// Google's scope for full IMAP/SMTP access.
pub const GOOGLE_SCOPE: &str = "https://mail.google.com/";
/// Google's token endpoint (also in the service account's JSON key).
pub const GOOGLE_TOKEN_URL: &str = "https://oauth2.googleapis.com/token";
/// The grant type of a JWT assertion (RFC 7523 2.1).
pub const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// The client assertion type of a certificate credential (RFC 7523 2.2).
pub const JWT_CLIENT_ASSERTION: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Why no token could be had. Its `Display` is Japanese, worded in
/// `messages::oauth` ([`TokenError::english`] gives the English log line).
#[derive(Clone, Debug)]
pub enum TokenError {
    /// The OAuth configuration is incomplete or a file is unusable.
    Config(String),
    /// The token endpoint could not be reached.
    Unreachable {
        /// The endpoint.
        url: String,
        /// The network's words.
        detail: String,
    },
    /// The endpoint answered without a token.
    Refused {
        /// The endpoint.
        url: String,
        /// What it said.
        error: EndpointError,
    },
}

impl std::error::Error for TokenError {}

impl TokenError {
    /// The same in English, for the log.
    pub fn english(&self) -> String {
        match self {
            TokenError::Config(d) => format!("OAuth configuration: {d}"),
            TokenError::Unreachable { url, detail } => {
                format!("token endpoint {url} unreachable: {detail}")
            }
            TokenError::Refused { url, error } => format!(
                "token endpoint {url} refused ({}): HTTP {} {}",
                match error.refusal {
                    Refusal::InvalidClient =>
                        "invalid client: wrong, expired or revoked secret/certificate, or unknown app",
                    Refusal::NotPermitted =>
                        "consent, API permission, delegation or mailbox permission missing",
                    Refusal::InvalidScope => "invalid scope",
                    Refusal::Other => "other error",
                },
                error.status,
                error.detail
            ),
        }
    }

    /// The failed step, as `/readyz` and `/metrics` name it: `config`,
    /// `unreachable`, `invalid_client`, `not_permitted`, `invalid_scope` or
    /// `refused`.
    pub fn step(&self) -> &'static str {
        match self {
            TokenError::Config(_) => "config",
            TokenError::Unreachable { .. } => "unreachable",
            TokenError::Refused { error, .. } => match error.refusal {
                Refusal::InvalidClient => "invalid_client",
                Refusal::NotPermitted => "not_permitted",
                Refusal::InvalidScope => "invalid_scope",
                Refusal::Other => "refused",
            },
        }
    }

    /// True when waiting cannot help (configuration, refused client); an
    /// unreachable endpoint may come back.
    pub fn needs_attention(&self) -> bool {
        !matches!(self, TokenError::Unreachable { .. })
    }
}

/// A secret read from a file or the environment; never printed.
#[derive(Clone)]
struct Secret(String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// How this gateway proves who it is to the token endpoint.
#[derive(Debug)]
enum Grant {
    /// client_id + client_secret (RFC 6749 2.3.1, in the body).
    Secret { client_id: String, secret: Secret },
    /// client_id + a client assertion signed with the certificate's key.
    Certificate {
        client_id: String,
        key: SigningKey,
        cert_der: Vec<u8>,
    },
    /// A Google service account's JWT assertion for `subject`.
    ServiceAccount {
        email: String,
        key_id: Option<String>,
        key: SigningKey,
        subject: String,
    },
}

#[derive(Debug)]
struct Cached {
    token: AccessToken,
    renew_at: Instant,
}

/// Obtains, caches and renews access tokens for one mailbox.
#[derive(Debug)]
pub struct TokenSource {
    /// SASL mechanism the servers are asked for.
    pub mechanism: Mechanism,
    token_url: String,
    scope: Option<String>,
    grant: Grant,
    http: reqwest::Client,
    renew_before: Duration,
    cache: tokio::sync::Mutex<Option<Cached>>,
    /// The connection name and kind its outcomes are reported under to
    /// the monitor; unset (`imap check`, tests): not reported.
    report_as: std::sync::OnceLock<(String, &'static str)>,
}

impl TokenSource {
    /// Resolves `[…oauth]` for login `user`: reads secrets and keys now, so
    /// a wrong path is reported at start-up, not at the first token.
    pub fn from_config(config: &OAuthConfig, user: &str) -> Result<TokenSource, TokenError> {
        let (token_url, grant) = match config.provider {
            Provider::Microsoft => microsoft(config)?,
            Provider::Google => google(config, user)?,
            Provider::Generic => generic(config)?,
        };
        check_url(&token_url)?;
        let scope = match (&config.scope, config.provider) {
            (Some(s), _) => Some(s.clone()),
            (None, Provider::Microsoft) => Some(MICROSOFT_SCOPE.into()),
            (None, Provider::Google) => Some(GOOGLE_SCOPE.into()),
            (None, Provider::Generic) => None,
        };
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(config.timeout_secs.max(1)))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("sos-intake/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| TokenError::Config(format!("HTTP クライアント: {e}")))?;
        Ok(TokenSource {
            mechanism: config.mechanism,
            token_url,
            scope,
            grant,
            http,
            renew_before: Duration::from_secs(config.renew_before_secs),
            cache: tokio::sync::Mutex::new(None),
            report_as: std::sync::OnceLock::new(),
        })
    }

    /// Reports this source's outcomes to the monitor as `connection` of
    /// `kind` (`imap`, `smtp`), for `/readyz` and `/metrics`. The first
    /// name given stays.
    pub fn report_as(&self, connection: &str, kind: &'static str) {
        let _ = self.report_as.set((connection.to_string(), kind));
    }

    /// Tells the monitor about `event`, when this source reports.
    fn report(&self, event: crate::observe::monitor::TokenEvent) {
        if let Some((connection, kind)) = self.report_as.get() {
            crate::observe::monitor::global().token_event(connection, kind, event);
        }
    }

    /// The mail server refused a token this source issued (after one
    /// renewal): the `server_refused` step.
    pub fn report_server_refused(&self, detail: &str) {
        self.report(crate::observe::monitor::TokenEvent::Failed {
            step: "server_refused",
            detail: token::shorten(detail),
        });
    }

    /// The mail server accepted the token: a server refusal is over.
    pub fn report_accepted(&self) {
        self.report(crate::observe::monitor::TokenEvent::Accepted);
    }

    /// The token endpoint (for messages).
    pub fn token_url(&self) -> &str {
        &self.token_url
    }

    /// A token that is not about to expire: the cached one, else a new one.
    pub async fn token(&self) -> Result<AccessToken, TokenError> {
        let mut cache = self.cache.lock().await;
        if let Some(c) = cache.as_ref().filter(|c| Instant::now() < c.renew_at) {
            return Ok(c.token.clone());
        }
        self.fetch_into(&mut cache).await
    }

    /// A new token even if the cached one looks valid (the server refused
    /// it: revoked, or the clocks disagree).
    pub async fn renew(&self) -> Result<AccessToken, TokenError> {
        let mut cache = self.cache.lock().await;
        self.fetch_into(&mut cache).await
    }

    async fn fetch_into(&self, cache: &mut Option<Cached>) -> Result<AccessToken, TokenError> {
        // Forget the old token first: if renewing fails it must not be used.
        *cache = None;
        let asked = Instant::now();
        let granted = match self.request().await {
            Ok(g) => g,
            Err(e) => {
                self.report(crate::observe::monitor::TokenEvent::Failed {
                    step: e.step(),
                    detail: e.english(),
                });
                return Err(e);
            }
        };
        // Entra ID and Google tokens live an hour; a silent endpoint gets
        // the same assumption.
        let lifetime = granted.lifetime.unwrap_or(Duration::from_secs(3600));
        let margin = self.renew_before.min(lifetime / 5);
        tracing::info!(
            token_url = %self.token_url,
            lifetime_secs = lifetime.as_secs(),
            "OAuth アクセストークンを取得しました / obtained an OAuth access token"
        );
        self.report(crate::observe::monitor::TokenEvent::Issued { lifetime });
        *cache = Some(Cached {
            token: granted.token.clone(),
            renew_at: asked + lifetime - margin,
        });
        Ok(granted.token)
    }

    async fn request(&self) -> Result<token::Granted, TokenError> {
        let form = self.form()?;
        let unreachable = |e: reqwest::Error| TokenError::Unreachable {
            url: self.token_url.clone(),
            detail: token::shorten(&error_chain(&e)),
        };
        let mut response = self
            .http
            .post(&self.token_url)
            .header("Accept", "application/json")
            .form(&form)
            .send()
            .await
            .map_err(unreachable)?;
        let status = response.status().as_u16();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(unreachable)? {
            body.extend_from_slice(&chunk);
            if body.len() > token::MAX_RESPONSE_BYTES {
                break;
            }
        }
        token::parse_response(status, &body).map_err(|error| TokenError::Refused {
            url: self.token_url.clone(),
            error,
        })
    }

    /// The form fields of the token request for this grant.
    fn form(&self) -> Result<Vec<(&'static str, String)>, TokenError> {
        let now = chrono::Utc::now().timestamp();
        let sign = |key, header, claims| {
            jwt::sign_rs256(key, &header, &claims)
                .map_err(|e| TokenError::Config(format!("JWT の署名: {e}")))
        };
        let mut form = match &self.grant {
            Grant::Secret { client_id, secret } => vec![
                ("grant_type", "client_credentials".to_string()),
                ("client_id", client_id.clone()),
                ("client_secret", secret.0.clone()),
            ],
            Grant::Certificate {
                client_id,
                key,
                cert_der,
            } => {
                let jti = hex::encode(rand::random::<[u8; 16]>());
                let assertion = sign(
                    key,
                    jwt::microsoft_header(cert_der),
                    jwt::microsoft_claims(client_id, &self.token_url, &jti, now),
                )?;
                vec![
                    ("grant_type", "client_credentials".to_string()),
                    ("client_id", client_id.clone()),
                    ("client_assertion_type", JWT_CLIENT_ASSERTION.to_string()),
                    ("client_assertion", assertion),
                ]
            }
            Grant::ServiceAccount {
                email,
                key_id,
                key,
                subject,
            } => {
                let scope = self.scope.as_deref().unwrap_or(GOOGLE_SCOPE);
                let assertion = sign(
                    key,
                    jwt::google_header(key_id.as_deref()),
                    jwt::google_claims(email, subject, scope, &self.token_url, now),
                )?;
                // The scope travels inside the assertion.
                return Ok(vec![
                    ("grant_type", JWT_BEARER_GRANT.to_string()),
                    ("assertion", assertion),
                ]);
            }
        };
        if let Some(scope) = &self.scope {
            form.push(("scope", scope.clone()));
        }
        Ok(form)
    }
}

/// reqwest's error with its sources ("error sending request: connection
/// refused").
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// Plain HTTP would send the secret in clear: only on loopback (tests, a
/// local proxy).
fn check_url(url: &str) -> Result<(), TokenError> {
    let parsed = reqwest::Url::parse(url)
        .map_err(|e| TokenError::Config(format!("token_url {url}: {e}")))?;
    let loopback = matches!(parsed.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err(TokenError::Config(format!(
            "token_url {url}: https:// で始まる URL が必要です"
        ))),
    }
}

fn required<'a>(value: &'a Option<String>, key: &str) -> Result<&'a str, TokenError> {
    value
        .as_deref()
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| TokenError::Config(format!("{key} がありません")))
}

fn read_file(path: &Path, key: &str) -> Result<String, TokenError> {
    std::fs::read_to_string(path)
        .map_err(|e| TokenError::Config(format!("{key} {} を読めません（{e}）", path.display())))
}

fn client_secret(config: &OAuthConfig) -> Result<Option<Secret>, TokenError> {
    if let Some(path) = &config.client_secret_file {
        let text = read_file(path, "client_secret_file")?;
        // `echo` adds a newline that is not part of the secret.
        return Ok(Some(Secret(text.trim_end_matches(['\r', '\n']).into())));
    }
    if let Some(name) = &config.client_secret_env {
        return std::env::var(name).map(|s| Some(Secret(s))).map_err(|_| {
            TokenError::Config(format!("環境変数 {name}（client_secret_env）が未設定です"))
        });
    }
    Ok(None)
}

fn microsoft(config: &OAuthConfig) -> Result<(String, Grant), TokenError> {
    let token_url = match &config.token_url {
        Some(url) => url.clone(),
        None => format!(
            "https://login.microsoftonline.com/{}/oauth2/v2.0/token",
            required(&config.tenant, "tenant")?
        ),
    };
    let client_id = required(&config.client_id, "client_id")?.to_string();
    if let Some(cert) = &config.certificate_file {
        let cert_pem = read_file(cert, "certificate_file")?;
        let cert_der = first_certificate(&cert_pem).ok_or_else(|| {
            TokenError::Config(format!("{} に証明書がありません", cert.display()))
        })?;
        let key_path = config.private_key_file.as_ref().unwrap_or(cert);
        let key = SigningKey::from_pem(&read_file(key_path, "private_key_file")?)
            .map_err(|e| TokenError::Config(format!("{}: {e}", key_path.display())))?;
        return Ok((
            token_url,
            Grant::Certificate {
                client_id,
                key,
                cert_der,
            },
        ));
    }
    let secret = client_secret(config)?.ok_or_else(|| {
        TokenError::Config(
            "client_secret_file・client_secret_env・certificate_file のどれもありません".into(),
        )
    })?;
    Ok((token_url, Grant::Secret { client_id, secret }))
}

fn first_certificate(pem: &str) -> Option<Vec<u8>> {
    rustls_pemfile::certs(&mut pem.as_bytes())
        .next()?
        .ok()
        .map(|c| c.to_vec())
}

fn google(config: &OAuthConfig, user: &str) -> Result<(String, Grant), TokenError> {
    #[derive(Deserialize)]
    struct KeyFile {
        client_email: String,
        private_key: String,
        private_key_id: Option<String>,
        token_uri: Option<String>,
    }
    let path = config
        .service_account_file
        .as_ref()
        .ok_or_else(|| TokenError::Config("service_account_file がありません".into()))?;
    let text = read_file(path, "service_account_file")?;
    let file: KeyFile = serde_json::from_str(&text).map_err(|e| {
        TokenError::Config(format!(
            "{} はサービスアカウントの JSON 鍵ではありません（{e}）",
            path.display()
        ))
    })?;
    let key = SigningKey::from_pem(&file.private_key)
        .map_err(|e| TokenError::Config(format!("{}: {e}", path.display())))?;
    let token_url = config
        .token_url
        .clone()
        .or(file.token_uri)
        .unwrap_or_else(|| GOOGLE_TOKEN_URL.into());
    let subject = config.subject.clone().unwrap_or_else(|| user.to_string());
    Ok((
        token_url,
        Grant::ServiceAccount {
            email: file.client_email,
            key_id: file.private_key_id,
            key,
            subject,
        },
    ))
}

fn generic(config: &OAuthConfig) -> Result<(String, Grant), TokenError> {
    let token_url = required(&config.token_url, "token_url")?.to_string();
    let client_id = required(&config.client_id, "client_id")?.to_string();
    let secret = client_secret(config)?.ok_or_else(|| {
        TokenError::Config("client_secret_file も client_secret_env もありません".into())
    })?;
    Ok((token_url, Grant::Secret { client_id, secret }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> OAuthConfig {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn microsoft_defaults_to_the_tenant_endpoint_and_outlook_scope() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("s");
        std::fs::write(&secret, "hunter2\n").unwrap();
        let c = parse(&format!(
            "provider = \"microsoft\"\ntenant = \"contoso.onmicrosoft.com\"\nclient_id = \"abc\"\nclient_secret_file = \"{}\"",
            secret.display()
        ));
        let s = TokenSource::from_config(&c, "sos@contoso.jp").unwrap();
        assert_eq!(
            s.token_url(),
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
        );
        assert_eq!(s.mechanism, Mechanism::Xoauth2);
        let form = s.form().unwrap();
        assert!(form.contains(&("client_secret", "hunter2".into())));
        assert!(form.contains(&("scope", MICROSOFT_SCOPE.into())));
        assert!(!format!("{s:?}").contains("hunter2"), "secrets never print");
    }

    /// Every commented `[imap.oauth]` / `[smtp.oauth]` block of the sample
    /// configuration parses once uncommented (keys spelled right).
    #[test]
    fn sample_configuration_blocks_parse() {
        let sample = include_str!("../../samples/sos-intake.toml");
        let mut blocks = 0;
        let mut lines = sample.lines().peekable();
        while let Some(line) = lines.next() {
            if line != "# [imap.oauth]" && line != "# [smtp.oauth]" {
                continue;
            }
            let mut text = String::new();
            while let Some(l) = lines.peek().and_then(|l| l.strip_prefix("# ")) {
                text.push_str(l);
                text.push('\n');
                lines.next();
            }
            let c: OAuthConfig = toml::from_str(&text).unwrap_or_else(|e| panic!("{text}\n{e}"));
            assert!(c.client_id.is_some() || c.service_account_file.is_some());
            blocks += 1;
        }
        assert_eq!(
            blocks, 4,
            "Microsoft, Google, generic for IMAP; Microsoft for SMTP"
        );
    }

    #[test]
    fn incomplete_or_insecure_configurations_are_refused() {
        let e =
            TokenSource::from_config(&parse("provider = \"microsoft\"\nclient_id = \"a\""), "u")
                .unwrap_err();
        assert!(e.to_string().contains("tenant"), "{e}");
        let e = TokenSource::from_config(
            &parse("provider = \"generic\"\ntoken_url = \"http://idp.example.jp/token\"\nclient_id = \"a\"\nclient_secret_env = \"SOS_TEST_UNSET_SECRET_X\""),
            "u",
        )
        .unwrap_err();
        assert!(e.to_string().contains("SOS_TEST_UNSET_SECRET_X"), "{e}");
        assert!(check_url("http://idp.example.jp/token").is_err());
        assert!(check_url("http://127.0.0.1:9/token").is_ok());
        assert!(toml::from_str::<OAuthConfig>("provider = \"yahoo\"").is_err());
    }
}
