//! Reaching the IMAP server: TCP, TLS (implicit or STARTTLS, rustls with the
//! `ring` provider, an optional private CA), the greeting and the login
//! (AUTHENTICATE PLAIN when offered, else LOGIN; with `[imap.oauth]`,
//! AUTHENTICATE XOAUTH2 or OAUTHBEARER with a token from
//! [`crate::oauth::TokenSource`], renewed once when the server refuses it).
//!
//! Every failure is sorted into an [`ImapError`] whose `Display`
//! (`messages::imap`) says in plain Japanese what is wrong (bad password,
//! TLS name mismatch, refused connection…), because `sos-intake imap check`
//! and the watcher's log are read by officials, not by IMAP experts. The
//! password is held in a [`Password`] that never prints.
//!
//! It sits apart from `mailbox::imap` (the source that drives the pipeline)
//! so that the wording layer can name its errors without a cycle.

use crate::config::{ImapConfig, Tls};
use crate::oauth::{AccessToken, TokenError, TokenSource, sasl};
use async_imap::imap_proto::types::{Capability, Response, ResponseCode, Status};
use async_imap::{Client, Session};
use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::{self, CertificateError, ClientConfig, RootCertStore};

/// How long to wait for TCP, TLS, the greeting and the login.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// The byte stream under an IMAP session: plain TCP or TLS over TCP.
pub trait ImapIo: AsyncRead + AsyncWrite + Unpin + Send + fmt::Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + fmt::Debug> ImapIo for T {}

/// A logged-in IMAP session over whichever stream the configuration asked for.
pub type ImapSession = Session<Box<dyn ImapIo>>;

/// A password that never appears in logs or debug output.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    /// Wraps a password (tests and tools).
    pub fn new(secret: impl Into<String>) -> Password {
        Password(secret.into())
    }

    /// The secret itself, only for the login command.
    fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

/// Everything needed to reach and log in to the server, resolved from
/// `[imap]` (password read, port defaulted).
#[derive(Clone, Debug)]
pub struct Endpoint {
    /// Host name; also the name the certificate must carry.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Implicit TLS, STARTTLS or none.
    pub tls: Tls,
    /// Login name.
    pub user: String,
    /// The password.
    pub password: Password,
    /// PEM file of a private CA, if any.
    pub ca_file: Option<std::path::PathBuf>,
    /// OAuth 2.0 tokens instead of the password (shared by every
    /// connection, so the cached token is reused across reconnects).
    pub oauth: Option<Arc<TokenSource>>,
}

/// What went wrong talking to the IMAP server. Its `Display` is the plain
/// Japanese explanation an official sees, worded in `messages::imap`.
#[derive(Debug)]
pub enum ImapError {
    /// No password_file or password_env in `[imap]`.
    NoPassword,
    /// The password file cannot be read.
    PasswordFile {
        /// The file.
        path: String,
        /// Why.
        detail: String,
    },
    /// The password environment variable is unset.
    PasswordEnv(String),
    /// The CA file cannot be used.
    CaFile {
        /// The file.
        path: String,
        /// Why.
        detail: String,
    },
    /// The host name does not resolve.
    HostUnknown {
        /// The host.
        host: String,
        /// The resolver's words.
        detail: String,
    },
    /// Nothing listens there.
    Refused(String),
    /// No answer in time.
    Timeout {
        /// host:port.
        addr: String,
        /// The step that timed out.
        what: String,
    },
    /// Another network failure (reset, closed…).
    Network {
        /// host:port.
        addr: String,
        /// The system's words.
        detail: String,
    },
    /// The certificate is for another name.
    TlsNameMismatch {
        /// The name we dialled.
        host: String,
        /// rustls's words.
        detail: String,
    },
    /// The certificate's issuer is not trusted.
    TlsUntrusted(String),
    /// The certificate is expired or not yet valid.
    TlsExpired(String),
    /// TLS failed otherwise.
    Tls(String),
    /// The server refused STARTTLS.
    StarttlsRefused(String),
    /// Wrong user name or password.
    LoginRefused {
        /// The login name.
        user: String,
        /// The server's words.
        detail: String,
    },
    /// The watched mailbox does not exist.
    MailboxMissing {
        /// Its name.
        mailbox: String,
        /// The server's words.
        detail: String,
    },
    /// A target folder cannot be created.
    FolderCreate {
        /// Its name.
        folder: String,
        /// The server's words.
        detail: String,
    },
    /// The server answered something unexpected, or the connection broke
    /// in the middle of a command.
    Protocol(String),
    /// SELECT answered without a UIDVALIDITY.
    NoUidValidity,
    /// A UID FETCH answered without the message's body.
    NoBody {
        /// The message asked for.
        uid: u32,
    },
    /// No OAuth 2.0 token could be had (configuration, token endpoint
    /// unreachable, client refused).
    Token(TokenError),
    /// The server does not offer the configured SASL mechanism.
    OAuthUnsupported {
        /// `XOAUTH2` or `OAUTHBEARER`.
        mechanism: &'static str,
        /// The AUTH= mechanisms it offers.
        offered: String,
    },
    /// The server refused the OAuth 2.0 token, even a freshly renewed one.
    TokenRefused {
        /// The login name.
        user: String,
        /// `XOAUTH2` or `OAUTHBEARER`.
        mechanism: &'static str,
        /// The server's words (and the status of its error challenge).
        detail: String,
    },
}

impl std::error::Error for ImapError {}

impl ImapError {
    /// True when retrying cannot help until someone changes the
    /// configuration or the server (the watcher still retries, slowly, and
    /// says so loudly).
    pub fn needs_attention(&self) -> bool {
        matches!(
            self,
            ImapError::NoPassword
                | ImapError::PasswordFile { .. }
                | ImapError::PasswordEnv(_)
                | ImapError::CaFile { .. }
                | ImapError::HostUnknown { .. }
                | ImapError::TlsNameMismatch { .. }
                | ImapError::TlsUntrusted(_)
                | ImapError::TlsExpired(_)
                | ImapError::StarttlsRefused(_)
                | ImapError::LoginRefused { .. }
                | ImapError::MailboxMissing { .. }
                | ImapError::TokenRefused { .. }
                | ImapError::OAuthUnsupported { .. }
        ) || matches!(self, ImapError::Token(e) if e.needs_attention())
    }

    /// An English line for the log, for the OAuth failures (their
    /// administrators are often outside Japan's ministries: Microsoft or
    /// Google support, a contractor).
    pub fn english(&self) -> Option<String> {
        match self {
            ImapError::Token(e) => Some(e.english()),
            ImapError::TokenRefused {
                user,
                mechanism,
                detail,
            } => Some(format!(
                "the mail server refused the access token ({mechanism}, user {user}) although the token endpoint issued it: check mailbox permissions (Exchange Online: New-ServicePrincipal, Add-MailboxPermission; Google: domain-wide delegation scopes). Server said: {detail}"
            )),
            ImapError::OAuthUnsupported { mechanism, offered } => Some(format!(
                "the IMAP server does not offer AUTH={mechanism} (it offers: {offered}); check the host, or set mechanism to one it offers"
            )),
            _ => None,
        }
    }

    /// Sorts an error from a command on an open session.
    pub fn from_imap(err: async_imap::error::Error) -> ImapError {
        match err {
            async_imap::error::Error::No(s) | async_imap::error::Error::Bad(s) => {
                ImapError::Protocol(server_words(&s))
            }
            other => ImapError::Protocol(other.to_string()),
        }
    }
}

impl Endpoint {
    /// Resolves `[imap]`: default port by TLS mode, password from its file
    /// (trailing newline dropped) or environment variable.
    pub fn from_config(config: &ImapConfig) -> Result<Endpoint, ImapError> {
        let port = config.port.unwrap_or(match config.tls {
            Tls::Implicit => 993,
            Tls::Starttls | Tls::None => 143,
        });
        let (password, oauth) = match &config.oauth {
            Some(oauth) => (
                // Never sent: the token replaces it.
                Password(String::new()),
                Some(Arc::new(
                    TokenSource::from_config(oauth, &config.user).map_err(ImapError::Token)?,
                )),
            ),
            None => (read_password(config)?, None),
        };
        Ok(Endpoint {
            host: config.host.clone(),
            port,
            tls: config.tls,
            user: config.user.clone(),
            password,
            ca_file: config.ca_file.clone(),
            oauth,
        })
    }

    /// `host:port`, for messages.
    pub fn addr(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// The error of a `what` command this server did not answer in time.
    pub fn timed_out(&self, what: &str) -> ImapError {
        ImapError::Timeout {
            addr: self.addr(),
            what: what.to_string(),
        }
    }

    /// A short label of the security mode, for `imap check`.
    pub fn tls_label(&self) -> &'static str {
        match self.tls {
            Tls::Implicit => "TLS",
            Tls::Starttls => "STARTTLS",
            Tls::None => "暗号化なし",
        }
    }
}

fn read_password(config: &ImapConfig) -> Result<Password, ImapError> {
    if let Some(path) = &config.password_file {
        let text = std::fs::read_to_string(path).map_err(|e| ImapError::PasswordFile {
            path: path.display().to_string(),
            detail: e.to_string(),
        })?;
        // Files written by `echo` end in a newline that is not part of the password.
        return Ok(Password(text.trim_end_matches(['\r', '\n']).to_string()));
    }
    if let Some(name) = &config.password_env {
        return std::env::var(name)
            .map(Password)
            .map_err(|_| ImapError::PasswordEnv(name.clone()));
    }
    Err(ImapError::NoPassword)
}

/// A logged-in session plus what the login told us.
pub struct Connected {
    /// The session, authenticated, nothing selected.
    pub session: ImapSession,
    /// The mechanism used: `AUTHENTICATE PLAIN` or `LOGIN`.
    pub mechanism: &'static str,
}

/// Connects, secures and logs in, each step under [`CONNECT_TIMEOUT`].
/// With OAuth, a refused token is renewed and the login tried once more
/// on a new connection before the refusal is reported.
pub async fn connect(endpoint: &Endpoint) -> Result<Connected, ImapError> {
    let Some(source) = &endpoint.oauth else {
        return connect_once(endpoint, None).await;
    };
    let token = source.token().await.map_err(ImapError::Token)?;
    match connect_once(endpoint, Some(&token)).await {
        Err(ImapError::TokenRefused { detail, .. }) => {
            tracing::info!(
                %detail,
                "サーバーがトークンを拒否したので更新して再試行します / server refused the token; renewing it and retrying once"
            );
            let token = source.renew().await.map_err(ImapError::Token)?;
            let result = connect_once(endpoint, Some(&token)).await;
            report_login(source, &result);
            result
        }
        other => {
            report_login(source, &other);
            other
        }
    }
}

/// Tells the monitor whether the server took the token (a refusal after
/// the renewal is the `server_refused` step; other failures are not the
/// token's).
fn report_login(source: &TokenSource, result: &Result<Connected, ImapError>) {
    match result {
        Ok(_) => source.report_accepted(),
        Err(ImapError::TokenRefused { detail, .. }) => source.report_server_refused(detail),
        Err(_) => {}
    }
}

async fn connect_once(
    endpoint: &Endpoint,
    token: Option<&AccessToken>,
) -> Result<Connected, ImapError> {
    let addr = endpoint.addr();
    let timed = |what: &str| ImapError::Timeout {
        addr: addr.clone(),
        what: what.to_string(),
    };
    let tcp = tokio::time::timeout(CONNECT_TIMEOUT, dial(endpoint))
        .await
        .map_err(|_| timed("TCP 接続"))??;
    tcp.set_nodelay(true).ok();
    let stream: Box<dyn ImapIo> = match endpoint.tls {
        Tls::None => Box::new(tcp),
        Tls::Implicit => {
            let tls = tokio::time::timeout(CONNECT_TIMEOUT, handshake(endpoint, tcp))
                .await
                .map_err(|_| timed("TLS ハンドシェイク"))??;
            Box::new(tls)
        }
        Tls::Starttls => {
            let tcp = tokio::time::timeout(CONNECT_TIMEOUT, starttls(endpoint, tcp))
                .await
                .map_err(|_| timed("STARTTLS"))??;
            let tls = tokio::time::timeout(CONNECT_TIMEOUT, handshake(endpoint, tcp))
                .await
                .map_err(|_| timed("TLS ハンドシェイク"))??;
            Box::new(tls)
        }
    };
    let mut client = Client::new(stream);
    let offered = if endpoint.tls == Tls::Starttls {
        // The greeting was read before STARTTLS and capabilities change
        // after it (RFC 3501 6.2.1): ask again over TLS.
        capability_auth(&mut client, &addr).await?
    } else {
        let greeting = tokio::time::timeout(CONNECT_TIMEOUT, read_greeting(&mut client, &addr))
            .await
            .map_err(|_| timed("あいさつ（greeting）"))??;
        match greeting {
            Some(offered) => offered,
            None => capability_auth(&mut client, &addr).await?,
        }
    };
    tokio::time::timeout(CONNECT_TIMEOUT, login(client, endpoint, &offered, token))
        .await
        .map_err(|_| timed("ログイン"))?
}

async fn dial(endpoint: &Endpoint) -> Result<TcpStream, ImapError> {
    let addrs: Vec<_> = tokio::net::lookup_host((endpoint.host.as_str(), endpoint.port))
        .await
        .map_err(|e| ImapError::HostUnknown {
            host: endpoint.host.clone(),
            detail: e.to_string(),
        })?
        .collect();
    let mut last = None;
    for a in addrs {
        match TcpStream::connect(a).await {
            Ok(s) => return Ok(s),
            Err(e) => last = Some(e),
        }
    }
    Err(match last {
        Some(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            ImapError::Refused(endpoint.addr())
        }
        Some(e) => ImapError::Network {
            addr: endpoint.addr(),
            detail: e.to_string(),
        },
        None => ImapError::HostUnknown {
            host: endpoint.host.clone(),
            detail: "アドレスなし".into(),
        },
    })
}

/// Reads the `* OK` greeting; returns the AUTH= mechanisms it advertised
/// (None when it carried no capability list).
async fn read_greeting(
    client: &mut Client<Box<dyn ImapIo>>,
    addr: &str,
) -> Result<Option<Vec<String>>, ImapError> {
    let response = client
        .read_response()
        .await
        .map_err(|e| greeting_unread(addr, Some(e)))?
        .ok_or_else(|| greeting_unread(addr, None))?;
    match response.parsed() {
        Response::Data {
            status: Status::Ok,
            code,
            ..
        } => Ok(match code {
            Some(ResponseCode::Capabilities(caps)) => Some(auth_mechanisms(caps)),
            _ => None,
        }),
        Response::Data {
            status: Status::Bye,
            information,
            ..
        } => Err(ImapError::Protocol(format!(
            "サーバーが接続を断りました: {}",
            information.as_deref().unwrap_or("")
        ))),
        other => Err(ImapError::Protocol(format!(
            "IMAP のあいさつではありません: {other:?}"
        ))),
    }
}

/// The server's greeting could not be read: the network failed (`error`)
/// or the server closed the connection before saying anything (None).
fn greeting_unread(addr: &str, error: Option<std::io::Error>) -> ImapError {
    ImapError::Network {
        addr: addr.to_string(),
        detail: match error {
            Some(e) => e.to_string(),
            None => "接続直後に切断されました".into(),
        },
    }
}

/// The `AUTH=` mechanisms of a capability list, upper-cased.
fn auth_mechanisms(caps: &[Capability<'_>]) -> Vec<String> {
    caps.iter()
        .filter_map(|c| match c {
            Capability::Auth(m) => Some(m.to_ascii_uppercase()),
            _ => None,
        })
        .collect()
}

/// Asks CAPABILITY before login (after STARTTLS, or when the greeting had
/// none). The unauthenticated client of async-imap cannot read untagged
/// data back from a command, so the command is written on the stream with
/// our own tag and the answer read response by response.
async fn capability_auth(
    client: &mut Client<Box<dyn ImapIo>>,
    addr: &str,
) -> Result<Vec<String>, ImapError> {
    use tokio::io::AsyncWriteExt;
    const TAG: &str = "sosCAP";
    let io_err = |e: std::io::Error| ImapError::Network {
        addr: addr.to_string(),
        detail: e.to_string(),
    };
    let stream = client.get_mut();
    stream
        .write_all(format!("{TAG} CAPABILITY\r\n").as_bytes())
        .await
        .map_err(io_err)?;
    stream.flush().await.map_err(io_err)?;
    let mut offered = Vec::new();
    loop {
        let response = tokio::time::timeout(CONNECT_TIMEOUT, client.read_response())
            .await
            .map_err(|_| ImapError::Timeout {
                addr: addr.to_string(),
                what: "CAPABILITY".into(),
            })?
            .map_err(io_err)?
            .ok_or_else(|| ImapError::Network {
                addr: addr.to_string(),
                detail: "切断されました".into(),
            })?;
        match response.parsed() {
            Response::Capabilities(caps) => offered.extend(auth_mechanisms(caps)),
            Response::Done { tag, .. } if tag.0 == TAG => return Ok(offered),
            _ => {}
        }
    }
}

/// The human part of a NO/BAD reply as async-imap reports it
/// (`code: …, info: Some("…")`).
pub fn server_words(reply: &str) -> String {
    match reply.split_once("info: Some(\"") {
        Some((_, rest)) => rest.strip_suffix("\")").unwrap_or(rest).to_string(),
        None => reply.to_string(),
    }
}

fn network(addr: &str, e: async_imap::error::Error) -> ImapError {
    ImapError::Network {
        addr: addr.to_string(),
        detail: e.to_string(),
    }
}

/// Plain-text IMAP up to `STARTTLS`; returns the TCP stream to wrap.
async fn starttls(endpoint: &Endpoint, tcp: TcpStream) -> Result<TcpStream, ImapError> {
    let addr = endpoint.addr();
    let mut client = Client::new(tcp);
    client
        .read_response()
        .await
        .map_err(|e| greeting_unread(&addr, Some(e)))?
        .ok_or_else(|| greeting_unread(&addr, None))?;
    client
        .run_command_and_check_ok("STARTTLS", None)
        .await
        .map_err(|e| match e {
            async_imap::error::Error::Bad(s) | async_imap::error::Error::No(s) => {
                ImapError::StarttlsRefused(server_words(&s))
            }
            other => network(&addr, other),
        })?;
    Ok(client.into_inner())
}

async fn handshake(
    endpoint: &Endpoint,
    tcp: TcpStream,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, ImapError> {
    let config = tls_config(endpoint.ca_file.as_deref())?;
    let name = rustls::pki_types::ServerName::try_from(endpoint.host.clone()).map_err(|e| {
        ImapError::TlsNameMismatch {
            host: endpoint.host.clone(),
            detail: e.to_string(),
        }
    })?;
    TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .map_err(|e| classify_tls(endpoint, e))
}

/// The rustls client configuration: the `ring` provider, and either the
/// private CA from `ca_file` or the public web roots.
pub fn tls_config(ca_file: Option<&Path>) -> Result<ClientConfig, ImapError> {
    let mut roots = RootCertStore::empty();
    match ca_file {
        Some(path) => {
            let ca_err = |detail: String| ImapError::CaFile {
                path: path.display().to_string(),
                detail,
            };
            let pem = std::fs::read(path).map_err(|e| ca_err(e.to_string()))?;
            let certs: Vec<_> = rustls_pemfile::certs(&mut pem.as_slice())
                .collect::<Result<_, _>>()
                .map_err(|e| ca_err(e.to_string()))?;
            if certs.is_empty() {
                return Err(ca_err("PEM の証明書がありません".into()));
            }
            for cert in certs {
                roots.add(cert).map_err(|e| ca_err(e.to_string()))?;
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ImapError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

fn classify_tls(endpoint: &Endpoint, err: std::io::Error) -> ImapError {
    let detail = err.to_string();
    let rustls_err = err
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>());
    match rustls_err {
        Some(rustls::Error::InvalidCertificate(cert)) => match cert {
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                ImapError::TlsNameMismatch {
                    host: endpoint.host.clone(),
                    detail,
                }
            }
            CertificateError::UnknownIssuer => ImapError::TlsUntrusted(detail),
            CertificateError::Expired
            | CertificateError::ExpiredContext { .. }
            | CertificateError::NotValidYet
            | CertificateError::NotValidYetContext { .. } => ImapError::TlsExpired(detail),
            _ => ImapError::TlsUntrusted(detail),
        },
        Some(_) => ImapError::Tls(detail),
        None => match err.kind() {
            std::io::ErrorKind::ConnectionReset
            | std::io::ErrorKind::UnexpectedEof
            | std::io::ErrorKind::InvalidData => ImapError::Tls(detail),
            _ => ImapError::Network {
                addr: endpoint.addr(),
                detail,
            },
        },
    }
}

/// SASL PLAIN: one response, `\0user\0password`.
struct PlainAuth<'a> {
    user: &'a str,
    password: &'a str,
}

impl async_imap::Authenticator for PlainAuth<'_> {
    type Response = Vec<u8>;

    fn process(&mut self, _challenge: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.user.len() + self.password.len() + 2);
        out.push(0);
        out.extend_from_slice(self.user.as_bytes());
        out.push(0);
        out.extend_from_slice(self.password.as_bytes());
        out
    }
}

async fn login(
    client: Client<Box<dyn ImapIo>>,
    endpoint: &Endpoint,
    offered: &[String],
    token: Option<&AccessToken>,
) -> Result<Connected, ImapError> {
    if let (Some(source), Some(token)) = (&endpoint.oauth, token) {
        let mechanism = source.mechanism.name();
        // An empty list: the server did not say; let it answer.
        if !offered.is_empty() && !offered.iter().any(|m| m == mechanism) {
            return Err(ImapError::OAuthUnsupported {
                mechanism,
                offered: offered.join(" "),
            });
        }
        return login_oauth(client, endpoint, source.mechanism, token).await;
    }
    let offers_plain = offered.iter().any(|m| m == "PLAIN");
    let refused = |e: async_imap::error::Error| match e {
        async_imap::error::Error::No(s) | async_imap::error::Error::Bad(s) => {
            ImapError::LoginRefused {
                user: endpoint.user.clone(),
                detail: server_words(&s),
            }
        }
        other => network(&endpoint.addr(), other),
    };
    if offers_plain {
        let auth = PlainAuth {
            user: &endpoint.user,
            password: endpoint.password.expose(),
        };
        let session = client
            .authenticate("PLAIN", auth)
            .await
            .map_err(|(e, _)| refused(e))?;
        Ok(Connected {
            session,
            mechanism: "AUTHENTICATE PLAIN",
        })
    } else {
        let session = client
            .login(&endpoint.user, endpoint.password.expose())
            .await
            .map_err(|(e, _)| refused(e))?;
        Ok(Connected {
            session,
            mechanism: "LOGIN",
        })
    }
}

/// AUTHENTICATE XOAUTH2 / OAUTHBEARER with `token`. A refusal becomes
/// [`ImapError::TokenRefused`] carrying the status of the server's JSON
/// error challenge.
async fn login_oauth(
    client: Client<Box<dyn ImapIo>>,
    endpoint: &Endpoint,
    mechanism: sasl::Mechanism,
    token: &AccessToken,
) -> Result<Connected, ImapError> {
    let response = sasl::initial_response(
        mechanism,
        &endpoint.user,
        &endpoint.host,
        endpoint.port,
        token.expose(),
    );
    let mut auth = sasl::OneShot::new(response);
    match client.authenticate(mechanism.name(), &mut auth).await {
        Ok(session) => Ok(Connected {
            session,
            mechanism: match mechanism {
                sasl::Mechanism::Xoauth2 => "AUTHENTICATE XOAUTH2",
                sasl::Mechanism::Oauthbearer => "AUTHENTICATE OAUTHBEARER",
            },
        }),
        Err((async_imap::error::Error::No(s) | async_imap::error::Error::Bad(s), _)) => {
            let mut detail = server_words(&s);
            if let Some(status) = auth.challenge.as_deref().and_then(sasl::challenge_status) {
                detail.push_str(&format!(" (status {status})"));
            }
            Err(ImapError::TokenRefused {
                user: endpoint.user.clone(),
                mechanism: mechanism.name(),
                detail,
            })
        }
        Err((other, _)) => Err(network(&endpoint.addr(), other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_never_prints() {
        let p = Password::new("hunter2");
        assert_eq!(format!("{p:?}"), "Password(***)");
        let e = Endpoint {
            host: "h".into(),
            port: 1,
            tls: Tls::None,
            user: "u".into(),
            password: p,
            ca_file: None,
            oauth: None,
        };
        assert!(!format!("{e:?}").contains("hunter2"));
    }

    #[test]
    fn server_words_drop_the_debug_wrapping() {
        assert_eq!(
            server_words(
                "code: None, info: Some(\"[AUTHENTICATIONFAILED] Authentication failed.\")"
            ),
            "[AUTHENTICATIONFAILED] Authentication failed."
        );
        assert_eq!(server_words("plain"), "plain");
    }

    #[test]
    fn plain_auth_response_is_nul_separated() {
        let mut a = PlainAuth {
            user: "test",
            password: "secret",
        };
        assert_eq!(
            async_imap::Authenticator::process(&mut a, b""),
            b"\0test\0secret".to_vec()
        );
    }
}
