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
}

/// `[mail]`: intake limits and sender checks.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MailConfig {
    /// The authserv-id of our own server's Authentication-Results header;
    /// any other such header is ignored. None: trust no such header.
    pub authserv_id: Option<String>,
    /// Replies per sender address per hour before we stop answering.
    pub reply_rate_limit_per_hour: u32,
    /// Largest message accepted, in bytes.
    pub max_message_bytes: u64,
    /// Largest single attachment (and unpacked zip member), in bytes.
    pub max_attachment_bytes: u64,
    /// How often the Maildir is scanned, in milliseconds.
    pub poll_interval_ms: u64,
    // -- Caps on reading hostile bytes (issue 11), see `message::Limits`.
    /// Most entries in an attached zip.
    pub max_zip_entries: usize,
    /// Most bytes unpacked from zips in one message.
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
}

impl Default for MailConfig {
    fn default() -> Self {
        MailConfig {
            authserv_id: None,
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
        }
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
    /// behind a TLS-terminating proxy).
    pub secure_cookies: bool,
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            listen: "127.0.0.1:8080".into(),
            enabled: true,
            secure_cookies: false,
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
}
