//! Configuration: the TOML file (`./sos-intake.toml` by default), command-line
//! overrides and environment variables, resolved once into [`Settings`].
//!
//! Every key is documented in `samples/sos-intake.toml`.

use crate::request::Item;
use anyhow::Context;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The environment variable that selects the database (e.g. PostgreSQL).
pub const DATABASE_URL_ENV: &str = "SOS_INTAKE_DATABASE_URL";

/// The configuration file as written.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where the database, raw mail, inbox and outbox live (default `./data`).
    pub data_dir: Option<PathBuf>,
    /// `sqlite://…` or `postgres://…`; default: SQLite under `data_dir`.
    pub database_url: Option<String>,
    /// Items accepted right now, by label or code (default: 非滅菌手袋 only).
    #[serde(default = "default_accepted_items")]
    pub accepted_items: Vec<String>,
    /// The cut-off rule: `daily-13` (default) or `weekly-wed-17`.
    #[serde(default = "default_cutoff_rule")]
    pub cutoff_rule: String,
    /// Our own address: replies are sent From it.
    #[serde(default = "default_sos_address")]
    pub sos_address: String,
    /// The display name on replies.
    #[serde(default = "default_sos_name")]
    pub sos_name: String,
    /// Prefecture directory: prefecture name → addresses and `@domain`s.
    #[serde(default)]
    pub prefectures: BTreeMap<String, Vec<String>>,
    /// Mail intake settings.
    #[serde(default)]
    pub mail: MailConfig,
    /// Outgoing SMTP; absent: replies are written as .eml files.
    pub smtp: Option<SmtpConfig>,
    /// The IMAP inbox; absent: the Maildir under `data_dir/inbox`.
    pub imap: Option<ImapConfig>,
    /// The staff web UI.
    #[serde(default)]
    pub web: WebConfig,
    /// How failing messages are retried and set aside.
    #[serde(default)]
    pub intake: IntakeConfig,
    /// The reader processes that parse mail and read workbooks.
    #[serde(default)]
    pub readers: ReadersConfig,
    /// `/healthz`, `/readyz`, `/metrics` and `sos-intake status` (issue 14).
    #[serde(default)]
    pub health: HealthConfig,
    /// What `sos-intake purge` removes, and when (default: nothing).
    #[serde(default)]
    pub retention: RetentionConfig,
}

/// `[retention]`: personal data of finished requests. Applies only to
/// requests that are 受付完了 and whose batch date (対応日) is more than the
/// given number of days ago; the 受付完了 decisions themselves always stay.
/// Unset: keep everything.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// Days after which the raw mail, the attached sheets and the sent
    /// reply of such a request are emptied (hash, size and dates kept).
    pub raw_mail_days: Option<u32>,
    /// Days after which its personal fields (担当者名, 電話番号) are blanked.
    pub personal_fields_days: Option<u32>,
}

/// `[health]`: what counts as ready, and who may ask. The monitoring
/// endpoints answer loopback clients; anyone else must send
/// `Authorization: Bearer <token>` with the token read from `token_file` or
/// `token_env` (neither set: loopback only).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct HealthConfig {
    /// A mailbox source neither connected (IMAP) nor polled (Maildir)
    /// within this many seconds makes the gateway not ready.
    pub mailbox_max_silence_secs: u64,
    /// A reply waiting in the outbox longer than this many seconds (queued,
    /// not yet sent) makes the gateway not ready: the outbox is stuck.
    pub outbox_max_age_secs: u64,
    /// File holding the bearer token for non-loopback clients.
    pub token_file: Option<PathBuf>,
    /// Environment variable holding the bearer token.
    pub token_env: Option<String>,
}

impl HealthConfig {
    /// The bearer token, trimmed; None when none is configured.
    pub fn token(&self) -> anyhow::Result<Option<String>> {
        if self.token_file.is_none() && self.token_env.is_none() {
            return Ok(None);
        }
        let token = read_secret(self.token_file.as_deref(), self.token_env.as_deref())?;
        let token = token.trim().to_string();
        anyhow::ensure!(!token.is_empty(), "the configured token is empty");
        Ok(Some(token))
    }
}

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig {
            mailbox_max_silence_secs: 300,
            outbox_max_age_secs: 3600,
            token_file: None,
            token_env: None,
        }
    }
}

/// `[intake]`: poison messages. Every attempt at a message is counted before
/// it is read; a message that fails permanently, fails this many times, or
/// was being read when the process died this many times, is set aside as
/// 処理不能 (kept, listed in the web UI, tried again only by an admin).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IntakeConfig {
    /// Attempts before a message is set aside (at least 1).
    pub max_attempts: u32,
    /// A worker busy with one message longer than this many seconds is
    /// stuck: it stops renewing the IMAP lease so another gateway takes
    /// over.
    pub stall_secs: u64,
    /// How many waiting messages are taken together: one commit stores
    /// them, one files them (default 32; 1 takes them one at a time). A
    /// backlog drains several times faster in batches; a lone message is
    /// never held back to fill one.
    pub batch_size: usize,
}

impl Default for IntakeConfig {
    fn default() -> Self {
        IntakeConfig {
            max_attempts: 3,
            stall_secs: 300,
            batch_size: 32,
        }
    }
}

/// `[mail]`: intake limits and sender checks.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MailConfig {
    /// The authserv-id of our own server's Authentication-Results header;
    /// any other such header is ignored. None: trust no such header.
    pub authserv_id: Option<String>,
    // Sender authentication (issue 11, point 5): one block, see
    // `MailConfig::sender_auth_mode`.
    /// `required`: a registered prefecture sender is trusted only when our
    /// server's Authentication-Results vouch for its From domain; `off`: the
    /// `[prefectures]` directory alone decides. Unset: `required` when
    /// `authserv_id` is set, else `off`.
    pub sender_auth: Option<SenderAuth>,
    /// How many `Received` lines at the top of a message our own delivery
    /// hops write (e.g. 1 when an LDA or LMTP hop adds one above the
    /// Authentication-Results of the MTA). Our Authentication-Results count
    /// only above the first `Received` line after these. Default 0: above
    /// every `Received` line.
    pub own_received_hops: usize,
    /// Replies per sender address per hour before we stop answering.
    pub reply_rate_limit_per_hour: u32,
    /// Largest message accepted, in bytes.
    pub max_message_bytes: u64,
    /// Largest single attachment (and unpacked zip member), in bytes.
    pub max_attachment_bytes: u64,
    /// How often the Maildir is scanned, in milliseconds.
    pub poll_interval_ms: u64,
    // -- Caps on reading hostile bytes (issue 11), see `message::Limits`.
    /// Most entries in an attached zip (or files in a winmail.dat).
    pub max_zip_entries: usize,
    /// Most bytes unpacked from zips (and winmail.dat files) in one message.
    pub max_unpacked_bytes: u64,
    /// How deep forwarded messages and zips may nest.
    pub max_nesting_depth: usize,
    /// Most attachments listed for one message.
    pub max_attachments: usize,
    /// How deep multipart parts may nest.
    pub max_mime_depth: usize,
    /// Most MIME parts read in one message.
    pub max_mime_parts: usize,
    /// Longest top-level header field read, in bytes.
    pub max_header_bytes: usize,
    /// Most top-level header fields read.
    pub max_header_fields: usize,
    // -- end of the caps on hostile bytes.
    /// How long after a mail whose file we refused as password-protected a
    /// password notice from the same sender (the PPAP habit) is taken as
    /// belonging to it and not answered, in minutes.
    pub password_notice_window_minutes: u32,
}

impl Default for MailConfig {
    fn default() -> Self {
        MailConfig {
            authserv_id: None,
            sender_auth: None,
            own_received_hops: 0,
            reply_rate_limit_per_hour: 20,
            max_message_bytes: 40 * 1024 * 1024,
            max_attachment_bytes: 10 * 1024 * 1024,
            poll_interval_ms: 500,
            // Caps on hostile bytes: sized for a few filled sheets.
            max_zip_entries: 200,
            max_unpacked_bytes: 40 * 1024 * 1024,
            max_nesting_depth: 5,
            max_attachments: 200,
            max_mime_depth: 32,
            max_mime_parts: 1_000,
            max_header_bytes: 64 * 1024,
            max_header_fields: 1_000,
            password_notice_window_minutes: 60,
        }
    }
}

/// `[mail] sender_auth`: whether registered senders must be authenticated.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SenderAuth {
    /// Trusted only with our server's SPF, DKIM or DMARC pass for the From
    /// domain; otherwise quarantined.
    Required,
    /// The directory alone decides (`serve` warns at start-up).
    Off,
}

impl MailConfig {
    /// The sender authentication in force: as written, else `required`
    /// when `authserv_id` is set and `off` when it is not.
    pub fn sender_auth_mode(&self) -> SenderAuth {
        self.sender_auth.unwrap_or(if self.authserv_id().is_some() {
            SenderAuth::Required
        } else {
            SenderAuth::Off
        })
    }

    /// The configured authserv-id, trimmed; None when unset or blank.
    pub fn authserv_id(&self) -> Option<&str> {
        self.authserv_id
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
    }

    /// Refuses `sender_auth = "required"` without an `authserv_id`: no
    /// header could ever vouch for a sender, so every mail would be
    /// quarantined.
    fn check_sender_auth(&self) -> anyhow::Result<()> {
        if self.sender_auth == Some(SenderAuth::Required) && self.authserv_id().is_none() {
            anyhow::bail!(
                "[mail] sender_auth = \"required\" needs authserv_id (the authserv-id our own MTA writes in Authentication-Results)"
            );
        }
        Ok(())
    }
}

/// How a connection is secured.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Tls {
    /// TLS from the first byte (SMTPS 465, IMAPS 993).
    Implicit,
    /// Plain connection upgraded with STARTTLS.
    Starttls,
    /// No TLS at all; only when written explicitly.
    None,
}

/// `[smtp]`: the relay replies go through.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    /// Host name (also the TLS name).
    pub host: String,
    /// Port (default 587 with STARTTLS, 465 implicit, 25 none).
    pub port: Option<u16>,
    /// `implicit`, `starttls` or `none`.
    pub tls: Tls,
    /// AUTH user name, when the relay wants one.
    pub user: Option<String>,
    /// File holding the password.
    pub password_file: Option<PathBuf>,
    /// Environment variable holding the password.
    pub password_env: Option<String>,
    /// PEM file of the CA that signs the relay's certificate.
    pub ca_file: Option<PathBuf>,
    /// Seconds to wait for the server.
    pub timeout_secs: Option<u64>,
    /// `[smtp.oauth]`: AUTH XOAUTH2 with an OAuth 2.0 token instead of the
    /// password (Microsoft 365, Google Workspace).
    #[serde(default)]
    pub oauth: Option<OAuthConfig>,
}

/// `[imap]`: the inbox on an IMAP server.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImapConfig {
    /// Host name (also the TLS name).
    pub host: String,
    /// Port (default 993 implicit, 143 otherwise).
    pub port: Option<u16>,
    /// `implicit`, `starttls` or `none`.
    pub tls: Tls,
    /// Login name.
    pub user: String,
    /// File holding the password.
    pub password_file: Option<PathBuf>,
    /// Environment variable holding the password.
    pub password_env: Option<String>,
    /// PEM file of the CA that signs the server's certificate.
    pub ca_file: Option<PathBuf>,
    /// The mailbox watched (default `INBOX`).
    #[serde(default = "default_mailbox")]
    pub mailbox: String,
    /// Folder for handled mail.
    #[serde(default = "default_done_folder")]
    pub done_folder: String,
    /// Folder for mail answered with an error report.
    #[serde(default = "default_error_folder")]
    pub error_folder: String,
    /// Folder for quarantined and ignored mail.
    #[serde(default = "default_quarantine_folder")]
    pub quarantine_folder: String,
    /// Poll interval when the server lacks IDLE, in seconds.
    #[serde(default = "default_poll_secs")]
    pub poll_interval_secs: u64,
    /// `[imap.oauth]`: log in with an OAuth 2.0 token (XOAUTH2 or
    /// OAUTHBEARER) instead of the password (Microsoft 365, Google
    /// Workspace).
    #[serde(default)]
    pub oauth: Option<OAuthConfig>,
}

/// `[web]`: the staff review desk.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebConfig {
    /// Address to listen on (default `127.0.0.1:8080`).
    pub listen: String,
    /// Serve the UI from `sos-intake serve`.
    pub enabled: bool,
    /// Mark cookies `Secure` (set when the UI is reached over HTTPS, e.g.
    /// behind a TLS-terminating proxy). They are `Secure` anyway whenever
    /// `listen` is not a loopback address.
    pub secure_cookies: bool,
    /// `[web.signin]`: limits on wrong passwords and on password checks.
    pub signin: SigninConfig,
}

/// `[web.signin]`: how wrong passwords are limited. Counts are kept per
/// account name typed and per client address (the TCP peer: behind a
/// reverse proxy every request comes from the proxy, so the address limit
/// then applies to everyone at once and the proxy should limit instead).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SigninConfig {
    /// Wrong passwords for one account before each further one makes the
    /// next attempt wait.
    pub free_failures: u32,
    /// The wait after the first failure beyond `free_failures`, in
    /// milliseconds; doubled with each further failure.
    pub first_delay_ms: u64,
    /// The longest wait between attempts, in milliseconds.
    pub max_delay_ms: u64,
    /// Wrong passwords for one account that lock it for `lock_secs`.
    pub lock_after: u32,
    /// Wrong passwords from one client address (any account names) before
    /// its attempts wait.
    pub address_free_failures: u32,
    /// Wrong passwords from one client address that lock it out.
    pub address_lock_after: u32,
    /// How long a lock lasts, in seconds.
    pub lock_secs: u64,
    /// A counter with no failure for this long starts over, in seconds.
    pub forget_after_secs: u64,
    /// Password checks (argon2) running at once; a sign-in beyond that is
    /// answered 503 at once instead of queueing.
    pub max_concurrent_checks: u32,
}

impl Default for SigninConfig {
    fn default() -> Self {
        SigninConfig {
            free_failures: 3,
            first_delay_ms: 1000,
            max_delay_ms: 30_000,
            lock_after: 10,
            address_free_failures: 10,
            address_lock_after: 50,
            lock_secs: 15 * 60,
            forget_after_secs: 60 * 60,
            max_concurrent_checks: 4,
        }
    }
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            listen: "127.0.0.1:8080".into(),
            enabled: true,
            secure_cookies: false,
            signin: SigninConfig::default(),
        }
    }
}

/// `[readers]`: the child processes that parse messages and read
/// workbooks (see [`crate::readers`]).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct ReadersConfig {
    /// How many reader processes at most (default 2).
    pub processes: usize,
    /// Address-space limit of each reader, in MiB (RLIMIT_AS; default 512;
    /// 0: none).
    pub memory_mb: u64,
    /// CPU seconds one request may use (RLIMIT_CPU; default 20; 0: none).
    pub cpu_seconds: u64,
    /// Wall-clock seconds one request may take (default 30).
    pub timeout_seconds: u64,
}

impl Default for ReadersConfig {
    fn default() -> Self {
        ReadersConfig {
            processes: 2,
            memory_mb: 512,
            cpu_seconds: 20,
            timeout_seconds: 30,
        }
    }
}

fn default_accepted_items() -> Vec<String> {
    vec![Item::NonSterileGloves.code().to_string()]
}
fn default_cutoff_rule() -> String {
    "daily-13".into()
}
fn default_sos_address() -> String {
    "sos-busshi@mhlw.go.jp".into()
}
fn default_sos_name() -> String {
    "厚生労働省 緊急配布チーム".into()
}
fn default_mailbox() -> String {
    "INBOX".into()
}
fn default_done_folder() -> String {
    "処理済".into()
}
fn default_error_folder() -> String {
    "エラー".into()
}
fn default_quarantine_folder() -> String {
    "隔離".into()
}
fn default_poll_secs() -> u64 {
    30
}

impl Default for Config {
    fn default() -> Self {
        toml::from_str("").expect("the empty configuration is valid")
    }
}

impl Config {
    /// Parses a configuration file's text.
    pub fn parse(text: &str) -> anyhow::Result<Config> {
        let config: Config = toml::from_str(text)?;
        config.accepted_items()?;
        config.cutoff_rule()?;
        config.mail.check_sender_auth()?;
        Ok(config)
    }

    /// Loads `path`, or `./sos-intake.toml` when `path` is None and that file
    /// exists, or the defaults.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Config> {
        let default = Path::new("sos-intake.toml");
        let path = match path {
            Some(p) => p,
            None if default.exists() => default,
            None => return Ok(Config::default()),
        };
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read configuration {}", path.display()))?;
        Config::parse(&text).with_context(|| format!("invalid configuration {}", path.display()))
    }

    /// The cut-off rule, parsed (`daily-13` or `weekly-wed-17`).
    pub fn cutoff_rule(&self) -> anyhow::Result<crate::calendar::CutoffRule> {
        crate::calendar::CutoffRule::parse(&self.cutoff_rule).with_context(|| {
            format!(
                "cutoff_rule: unknown rule {:?} (daily-13 or weekly-wed-17)",
                self.cutoff_rule
            )
        })
    }

    /// The accepted items, parsed.
    pub fn accepted_items(&self) -> anyhow::Result<Vec<Item>> {
        self.accepted_items
            .iter()
            .map(|s| Item::parse(s).with_context(|| format!("accepted_items: unknown item {s:?}")))
            .collect()
    }
}

/// Configuration resolved with command-line and environment overrides.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The file's configuration.
    pub config: Config,
    /// The data directory.
    pub data_dir: PathBuf,
    /// The database URL.
    pub database_url: String,
}

impl Settings {
    /// Resolves: `--data-dir` over `data_dir` over `./data`;
    /// `SOS_INTAKE_DATABASE_URL` over `database_url` over SQLite in the data
    /// directory.
    pub fn resolve(config: Config, data_dir: Option<PathBuf>) -> Settings {
        let data_dir = data_dir
            .or_else(|| config.data_dir.clone())
            .unwrap_or_else(|| PathBuf::from("./data"));
        let database_url = std::env::var(DATABASE_URL_ENV)
            .ok()
            .filter(|s| !s.is_empty())
            .or_else(|| config.database_url.clone())
            .unwrap_or_else(|| format!("sqlite://{}/sos-intake.db", data_dir.display()));
        Settings {
            config,
            data_dir,
            database_url,
        }
    }

    /// Settings for tests and tools: defaults with the given data directory.
    pub fn for_data_dir(data_dir: &Path) -> Settings {
        Settings::resolve(Config::default(), Some(data_dir.to_path_buf()))
    }
}

/// Which SASL mechanism carries the token (`mechanism` in `[imap.oauth]`).
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Mechanism {
    /// `XOAUTH2`: what Microsoft 365 and Google document for IMAP and SMTP.
    #[default]
    Xoauth2,
    /// `OAUTHBEARER` (RFC 7628): the standard one, offered by Google and
    /// by Dovecot.
    Oauthbearer,
}

impl Mechanism {
    /// The mechanism name as sent in `AUTHENTICATE` / `AUTH`.
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Xoauth2 => "XOAUTH2",
            Mechanism::Oauthbearer => "OAUTHBEARER",
        }
    }
}

impl std::fmt::Display for Mechanism {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Who issues the tokens.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// Microsoft identity platform (Entra ID), client-credentials grant.
    Microsoft,
    /// Google service account with domain-wide delegation.
    Google,
    /// Any token endpoint with client credentials (`token_url` required).
    Generic,
}

/// `[imap.oauth]` / `[smtp.oauth]`: log in with an OAuth 2.0 token instead
/// of a password.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthConfig {
    /// `xoauth2` (default) or `oauthbearer`. SMTP supports `xoauth2` only.
    #[serde(default)]
    pub mechanism: Mechanism,
    /// `microsoft`, `google` or `generic`.
    pub provider: Provider,
    /// Entra ID tenant (directory) id or domain (Microsoft).
    pub tenant: Option<String>,
    /// Application (client) id (Microsoft, generic).
    pub client_id: Option<String>,
    /// File holding the client secret (Microsoft, generic).
    pub client_secret_file: Option<PathBuf>,
    /// Environment variable holding the client secret.
    pub client_secret_env: Option<String>,
    /// PEM certificate uploaded to the app registration (Microsoft, instead
    /// of a secret).
    pub certificate_file: Option<PathBuf>,
    /// PEM private key of that certificate (default: `certificate_file`).
    pub private_key_file: Option<PathBuf>,
    /// The service account's JSON key file (Google).
    pub service_account_file: Option<PathBuf>,
    /// The mailbox the Google service account acts as (default: the login
    /// user).
    pub subject: Option<String>,
    /// Scope asked for (default per provider).
    pub scope: Option<String>,
    /// Token endpoint (default per provider; `http://` only on loopback).
    pub token_url: Option<String>,
    /// Renew a token this many seconds before it expires (default 300).
    #[serde(default = "default_renew_before")]
    pub renew_before_secs: u64,
    /// Seconds to wait for the token endpoint (default 30).
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
}

fn default_renew_before() -> u64 {
    300
}
fn default_timeout() -> u64 {
    30
}

/// A password from a file (trailing newline dropped) or an environment
/// variable.
pub fn read_secret(file: Option<&Path>, env: Option<&str>) -> anyhow::Result<String> {
    if let Some(path) = file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read password file {}", path.display()))?;
        return Ok(text.trim_end_matches(['\r', '\n']).to_string());
    }
    if let Some(var) = env {
        return std::env::var(var)
            .with_context(|| format!("environment variable {var} is not set"));
    }
    anyhow::bail!("neither password_file nor password_env is set")
}

/// True when `listen` (`host:port`, `[v6]:port`, or a bare host) names a
/// loopback address.
pub fn is_loopback_listen(listen: &str) -> bool {
    let listen = listen.trim();
    if let Ok(addr) = listen.parse::<std::net::SocketAddr>() {
        return addr.ip().to_canonical().is_loopback();
    }
    if let Ok(ip) = listen.parse::<std::net::IpAddr>() {
        return ip.to_canonical().is_loopback();
    }
    let host = listen
        .rsplit_once(':')
        .map(|(h, _)| h)
        .unwrap_or(listen)
        .trim_start_matches('[')
        .trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .map(|ip| ip.to_canonical().is_loopback())
            .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_accept_gloves_only() {
        let c = Config::default();
        assert_eq!(c.accepted_items().unwrap(), vec![Item::NonSterileGloves]);
        assert_eq!(c.cutoff_rule, "daily-13");
        assert_eq!(c.web.listen, "127.0.0.1:8080");
    }

    #[test]
    fn unknown_keys_and_items_are_refused() {
        assert!(Config::parse("nonsense = 1").is_err());
        assert!(Config::parse("accepted_items = [\"傘\"]").is_err());
        let c = Config::parse("accepted_items = [\"サージカルマスク\", \"非滅菌手袋\"]\n[prefectures]\n\"東京都\" = [\"@metro.tokyo.lg.jp\"]").unwrap();
        assert_eq!(c.accepted_items().unwrap().len(), 2);
        assert_eq!(c.prefectures["東京都"], vec!["@metro.tokyo.lg.jp"]);
    }

    #[test]
    fn sender_auth_follows_authserv_id_unless_written() {
        let mode = |text: &str| Config::parse(text).map(|c| c.mail.sender_auth_mode());
        assert_eq!(mode("").unwrap(), SenderAuth::Off);
        assert_eq!(
            mode("[mail]\nauthserv_id = \"mx.mhlw.go.jp\"").unwrap(),
            SenderAuth::Required
        );
        assert_eq!(
            mode("[mail]\nauthserv_id = \" \"").unwrap(),
            SenderAuth::Off
        );
        assert_eq!(
            mode("[mail]\nauthserv_id = \"mx.mhlw.go.jp\"\nsender_auth = \"off\"").unwrap(),
            SenderAuth::Off
        );
        // Required with nothing to check against is refused, not silently
        // quarantining everything.
        assert!(mode("[mail]\nsender_auth = \"required\"").is_err());
        assert!(mode("[mail]\nsender_auth = \"sometimes\"").is_err());
    }
}
