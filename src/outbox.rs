//! The outbox: every mail we send (replies, 内示) is first a row in the
//! database, written in the same transaction as whatever caused it, and a
//! [`Sender`] delivers the rows with retries and exponential back-off.
//!
//! Delivery goes through lettre, either to an SMTP relay (`[smtp]` in the
//! configuration: plain, STARTTLS or implicit TLS, optional AUTH) or, by
//! default, into a directory of `.eml` files (`<data_dir>/outbox`), each
//! written atomically under a name fixed by its row id, so a repeated attempt
//! rewrites the same file instead of adding one.
//!
//! An SMTP outage only delays mail: temporary failures (4xx, connection
//! refused, timeouts) are retried with back-off until
//! [`RetryPolicy::give_up_after`]; a permanent 5xx is recorded as `failed`
//! and never retried. Several senders may share one database: a row is
//! claimed (`claimed_by`, `claimed_until`) before it is sent, with
//! `FOR UPDATE SKIP LOCKED` on PostgreSQL and SQLite's single writer lock.
//!
//! At most twice over SMTP: the relay's 250 and our `UPDATE … status =
//! 'sent'` cannot be one step, so a sender that dies (or loses the
//! database) between them leaves a row that looks unsent, and it is sent
//! again with the same Message-ID. To bound this, each SMTP attempt first
//! adds one to `unconfirmed` (committed once the pooled connection to the
//! relay is open and answers NOOP, before the message's first byte) and
//! recording any outcome sets it back to 0. A row found with
//! [`MAX_UNCONFIRMED`] attempts of unknown outcome is not sent again but
//! failed with a note, for staff to check and resend by hand. The `.eml`
//! directory needs none of this: a repeat rewrites the same file.

use crate::base::shutdown::Shutdown;
use crate::config::{Settings, SmtpConfig, Tls};
use crate::queue::db::Db;
use crate::queue::{self, outbox::Claimed};
use anyhow::Context;
use chrono::Utc;
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls as LettreTls, TlsParameters};
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use sqlx::AnyConnection;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What kind of mail a row is; stored in `outbox.kind`.
pub mod kind {
    /// An automatic answer to a received message.
    pub const REPLY: &str = "reply";
    /// A 内示 (decision notice) written from the web UI.
    pub const NAIJI: &str = "naiji";
}

/// A mail ready to be queued: the envelope and the complete message bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutgoingMail {
    /// What it is ([`kind::REPLY`], [`kind::NAIJI`], …).
    pub kind: String,
    /// The `mail_messages` row it answers, when it is a reply.
    pub mail_message_id: Option<i64>,
    /// The envelope sender (MAIL FROM).
    pub envelope_from: String,
    /// The one envelope recipient (RCPT TO).
    pub recipient: String,
    /// The subject, decoded, for listings.
    pub subject: String,
    /// The Message-ID without angle brackets, for listings and threading.
    pub message_id: String,
    /// The RFC 5322 message as it will be sent.
    pub raw: Vec<u8>,
}

impl OutgoingMail {
    /// The row it is queued as.
    fn row(&self) -> queue::outbox::NewRow<'_> {
        queue::outbox::NewRow {
            kind: &self.kind,
            mail_message_id: self.mail_message_id,
            envelope_from: &self.envelope_from,
            recipient: &self.recipient,
            subject: &self.subject,
            message_id: &self.message_id,
            raw: &self.raw,
        }
    }

    /// Takes the envelope, subject and Message-ID from a message built with
    /// lettre's builder (its first To address is the recipient).
    pub fn from_message(
        kind: &str,
        mail_message_id: Option<i64>,
        subject: &str,
        message: &lettre::Message,
    ) -> anyhow::Result<OutgoingMail> {
        let envelope = message.envelope();
        let recipient = envelope
            .to()
            .first()
            .context("the message has no recipient")?
            .to_string();
        let envelope_from = envelope.from().map(|a| a.to_string()).unwrap_or_default();
        let message_id = message
            .headers()
            .get_raw("Message-ID")
            .map(|v| {
                v.trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_string()
            })
            .unwrap_or_default();
        Ok(OutgoingMail {
            kind: kind.to_string(),
            mail_message_id,
            envelope_from,
            recipient,
            subject: subject.to_string(),
            message_id,
            raw: message.formatted(),
        })
    }
}

/// SMTP attempts of a row whose outcome was never recorded after which
/// the row is no longer sent automatically: each of them may have reached
/// the recipient, so one more could be a third copy.
pub const MAX_UNCONFIRMED: i64 = 2;

/// The `last_response` of a row set aside after [`MAX_UNCONFIRMED`]
/// attempts of unknown outcome (shown to staff in the mail log).
pub const SET_ASIDE_RESPONSE: &str = "not sent again: 2 earlier attempts ended without a recorded result \
     (the relay may have accepted them); check the recipient's mailbox before resending";

/// Wakes the sender of this process waiting in [`Sender::run`].
static WAKE: tokio::sync::Notify = tokio::sync::Notify::const_new();

/// Tells the sender of this process that mail was queued: call it after
/// the transaction holding [`enqueue`] commits, and the reply leaves at once
/// instead of at the next poll. (Senders in other processes poll.)
pub fn wake() {
    // One permit is kept when no sender waits, so a reply queued during a
    // pass is picked up by an immediate next pass.
    WAKE.notify_one();
}

/// Queues `mail` for delivery as soon as possible, inside the caller's
/// transaction (pass `&mut *tx`), and returns the row id.
pub async fn enqueue(conn: &mut AnyConnection, mail: &OutgoingMail) -> anyhow::Result<i64> {
    queue::outbox::insert(conn, &mail.row()).await
}

/// Stages `mail` in the caller's filing transaction
/// ([`crate::queue::staged`]): queued, due now, when the stage is flushed
/// before the commit.
pub fn stage(staged: &mut crate::queue::Staged, mail: &OutgoingMail) -> crate::queue::StagedMail {
    staged.enqueue(&mail.row())
}

/// The outbox rows are read and counted by named functions of the queue
/// (the one module that issues SQL); their old paths here stay.
pub use crate::queue::outbox::{Entry, Status, count_since, list, raw};

/// How delivery is retried.
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// Wait after the first temporary failure; doubled each time.
    pub first_delay: Duration,
    /// The longest wait between attempts.
    pub max_delay: Duration,
    /// A row still undelivered this long after it was queued is failed.
    pub give_up_after: Duration,
    /// How long a claim holds before another sender may take the row
    /// (longer than any single attempt can take).
    pub claim_for: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            first_delay: Duration::from_secs(30),
            max_delay: Duration::from_secs(30 * 60),
            give_up_after: Duration::from_secs(5 * 24 * 3600),
            claim_for: Duration::from_secs(10 * 60),
        }
    }
}

impl RetryPolicy {
    /// The wait after the `attempts`-th failed attempt (1-based).
    pub fn delay(&self, attempts: i64) -> Duration {
        let exp = u32::try_from(attempts.saturating_sub(1).clamp(0, 20)).unwrap_or(20);
        self.first_delay
            .saturating_mul(2u32.saturating_pow(exp))
            .min(self.max_delay)
    }
}

/// How mail leaves: an SMTP relay or a directory of `.eml` files.
pub enum Transport {
    /// Write each message to `<dir>/<id>.eml` (atomically).
    Directory(PathBuf),
    /// Send through this relay.
    Smtp(Box<AsyncSmtpTransport<Tokio1Executor>>),
    /// Send through this relay with AUTH XOAUTH2 (`[smtp.oauth]`).
    SmtpOAuth(Box<crate::oauth::smtp::OAuthSmtp>),
}

impl std::fmt::Debug for Transport {
    // By hand: the SMTP transport holds the credentials.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Transport::Directory(dir) => write!(f, "Directory({})", dir.display()),
            Transport::Smtp(_) => f.write_str("Smtp(..)"),
            Transport::SmtpOAuth(s) => write!(f, "{s:?}"),
        }
    }
}

impl Transport {
    /// The transport the configuration asks for: `[smtp]` when present,
    /// else the directory `<data_dir>/outbox`.
    pub fn from_settings(settings: &Settings) -> anyhow::Result<Transport> {
        match &settings.config.smtp {
            Some(smtp) => Transport::smtp(smtp),
            None => Ok(Transport::Directory(settings.data_dir.join("outbox"))),
        }
    }

    /// An SMTP transport for `[smtp]`. The password is read here (file or
    /// environment variable) and never logged.
    pub fn smtp(config: &SmtpConfig) -> anyhow::Result<Transport> {
        let port = config.port.unwrap_or(match config.tls {
            Tls::Implicit => 465,
            Tls::Starttls => 587,
            Tls::None => 25,
        });
        let mut builder =
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(config.host.clone())
                .port(port)
                .timeout(Some(Duration::from_secs(config.timeout_secs.unwrap_or(30))));
        if config.tls != Tls::None {
            let mut params = TlsParameters::builder(config.host.clone());
            if let Some(ca) = &config.ca_file {
                let pem = std::fs::read(ca)
                    .with_context(|| format!("cannot read smtp.ca_file {}", ca.display()))?;
                let cert = Certificate::from_pem(&pem).with_context(|| {
                    format!("smtp.ca_file {} is not a PEM certificate", ca.display())
                })?;
                params = params.add_root_certificate(cert);
            }
            let params = params
                .build_rustls()
                .context("cannot set up TLS for SMTP")?;
            builder = builder.tls(match config.tls {
                Tls::Implicit => LettreTls::Wrapper(params),
                _ => LettreTls::Required(params),
            });
        }
        if let Some(oauth) = &config.oauth {
            return oauth_transport(builder, config, oauth);
        }
        if let Some(user) = &config.user {
            let password = crate::config::read_secret(
                config.password_file.as_deref(),
                config.password_env.as_deref(),
            )
            .context("smtp: a user is configured but no password")?;
            builder = builder.credentials(Credentials::new(user.clone(), password));
        }
        Ok(Transport::Smtp(Box::new(builder.build())))
    }

    /// Rows claimed at once: a claim must outlast sending all of them
    /// ([`RetryPolicy::claim_for`] against the SMTP timeout), while local
    /// files are quick.
    fn batch_size(&self) -> usize {
        match self {
            Transport::Directory(_) => 32,
            Transport::Smtp(_) | Transport::SmtpOAuth(_) => 8,
        }
    }

    /// True when repeating an attempt can deliver a second copy (SMTP);
    /// false when it rewrites the same file.
    fn repeats_are_copies(&self) -> bool {
        matches!(self, Transport::Smtp(_) | Transport::SmtpOAuth(_))
    }

    /// Opens (or checks, with NOOP) the pooled SMTP connection the next
    /// send will use, so a relay that is down or slow to greet fails here,
    /// before the attempt counts as possibly delivered. `Err` is the
    /// failure to record, classified as [`Transport::deliver`] does.
    async fn ready(&self) -> Result<(), Attempt> {
        match self {
            Transport::Directory(_) => Ok(()),
            Transport::Smtp(smtp) => match smtp.test_connection().await {
                Ok(true) => Ok(()),
                Ok(false) => Err(Attempt::Temporary("the relay did not answer NOOP".into())),
                Err(e) if e.is_permanent() => Err(Attempt::Permanent(e.to_string())),
                Err(e) => Err(Attempt::Temporary(e.to_string())),
            },
            Transport::SmtpOAuth(smtp) => match smtp.test_connection().await {
                Ok(true) => Ok(()),
                Ok(false) => Err(Attempt::Temporary("the relay did not answer NOOP".into())),
                Err(e) => Err(oauth_attempt(e)),
            },
        }
    }

    async fn deliver(&self, row: &Claimed) -> Attempt {
        // Read for the relays only; a directory writes whatever was queued.
        let addressed = envelope(&row.envelope_from, &row.recipient);
        let raw = trim_final_crlf(&row.raw);
        match (self, addressed) {
            // `Sender` writes a directory batch at once (`write_all`); one
            // row goes through the same writer.
            (Transport::Directory(dir), _) => write_attempts(dir, std::slice::from_ref(row))
                .await
                .pop()
                .unwrap_or_else(|| Attempt::Temporary("nothing was written".into())),
            (_, Err(e)) => Attempt::Permanent(format!("{e:#}")),
            (Transport::Smtp(smtp), Ok(envelope)) => match smtp.send_raw(&envelope, raw).await {
                Ok(resp) => sent(&resp),
                Err(e) if e.is_permanent() => Attempt::Permanent(e.to_string()),
                Err(e) => Attempt::Temporary(e.to_string()),
            },
            (Transport::SmtpOAuth(smtp), Ok(envelope)) => {
                match smtp.send_raw(&envelope, raw).await {
                    Ok(resp) => sent(&resp),
                    Err(e) => oauth_attempt(e),
                }
            }
        }
    }
}

/// `[smtp.oauth]`: the relay with XOAUTH2; the user defaults to nothing
/// (the mailbox must be named).
fn oauth_transport(
    builder: lettre::transport::smtp::AsyncSmtpTransportBuilder,
    config: &SmtpConfig,
    oauth: &crate::oauth::OAuthConfig,
) -> anyhow::Result<Transport> {
    let user = config
        .user
        .clone()
        .context("smtp: [smtp.oauth] needs user (the mailbox address)")?;
    let source = crate::oauth::TokenSource::from_config(oauth, &user)
        .map_err(|e| anyhow::anyhow!("smtp: {e} / {}", e.english()))?;
    source.report_as(&format!("smtp:{user}@{}", config.host), "smtp");
    let smtp = crate::oauth::smtp::OAuthSmtp::new(builder, user, source)
        .map_err(|e| anyhow::anyhow!("smtp: {e} / {}", e.english()))?;
    Ok(Transport::SmtpOAuth(Box::new(smtp)))
}

/// Token trouble is never the message's fault: it waits (temporary) until
/// the administrator fixes the app or the endpoint comes back, so no reply
/// is lost. Only the relay's own permanent answers fail a row.
/// A relay's acceptance, with its words kept for staff.
fn sent(resp: &lettre::transport::smtp::response::Response) -> Attempt {
    Attempt::Sent(format!(
        "{} {}",
        resp.code(),
        resp.message().collect::<Vec<_>>().join(" ")
    ))
}

fn oauth_attempt(e: crate::oauth::smtp::OAuthSmtpError) -> Attempt {
    use crate::oauth::smtp::OAuthSmtpError;
    match e {
        OAuthSmtpError::Token(t) => Attempt::Temporary(format!("{t} / {}", t.english())),
        e @ OAuthSmtpError::Refused { .. } => Attempt::Temporary(e.to_string()),
        OAuthSmtpError::Smtp(e) if e.is_permanent() => Attempt::Permanent(e.to_string()),
        OAuthSmtpError::Smtp(e) => Attempt::Temporary(e.to_string()),
    }
}

/// lettre appends `\r\n.\r\n` itself; a message already ending in CRLF
/// would gain an empty line.
fn trim_final_crlf(raw: &[u8]) -> &[u8] {
    raw.strip_suffix(b"\r\n").unwrap_or(raw)
}

fn envelope(from: &str, to: &str) -> anyhow::Result<Envelope> {
    let from: Option<Address> = if from.is_empty() {
        None
    } else {
        Some(
            from.parse()
                .with_context(|| format!("bad envelope sender {from:?}"))?,
        )
    };
    let to: Address = to
        .parse()
        .with_context(|| format!("bad recipient address {to:?}"))?;
    Envelope::new(from, vec![to]).context("bad envelope")
}

/// The outcome of writing each row to `<dir>/<id>.eml` ([`write_emls`]).
async fn write_attempts(dir: &Path, rows: &[Claimed]) -> Vec<Attempt> {
    let files: Vec<(i64, Vec<u8>)> = rows.iter().map(|r| (r.id, r.raw.clone())).collect();
    match write_emls(dir, files).await {
        Ok(paths) => paths
            .iter()
            .map(|p| Attempt::Sent(format!("written {}", p.display())))
            .collect(),
        // A full or read-only disk is an outage like any other.
        Err(e) => rows
            .iter()
            .map(|_| Attempt::Temporary(format!("{e:#}")))
            .collect(),
    }
}

/// Writes each `(id, raw)` to `<dir>/<id>.eml` through a temporary file and
/// a rename, so a reader never sees half a message and a repeat
/// overwrites; the batch is synced together: every file is written, then
/// every file synced (after the first, the journal commit is mostly
/// shared), then renamed into place, then the directory synced once.
async fn write_emls(dir: &Path, files: Vec<(i64, Vec<u8>)>) -> anyhow::Result<Vec<PathBuf>> {
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || {
        use std::io::Write;
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create outbox directory {}", dir.display()))?;
        let mut open = Vec::with_capacity(files.len());
        for (id, raw) in &files {
            let tmp = dir.join(format!(".{id:08}.eml.tmp"));
            let mut file = std::fs::File::create(&tmp)
                .with_context(|| format!("cannot write {}", tmp.display()))?;
            file.write_all(raw)
                .with_context(|| format!("cannot write {}", tmp.display()))?;
            open.push((*id, tmp, file));
        }
        let mut paths = Vec::with_capacity(open.len());
        for (id, tmp, file) in open {
            file.sync_all()
                .with_context(|| format!("cannot write {}", tmp.display()))?;
            let path = dir.join(format!("{id:08}.eml"));
            std::fs::rename(&tmp, &path).with_context(|| {
                format!("cannot rename {} to {}", tmp.display(), path.display())
            })?;
            paths.push(path);
        }
        std::fs::File::open(&dir)
            .and_then(|d| d.sync_all())
            .with_context(|| format!("cannot sync outbox directory {}", dir.display()))?;
        Ok(paths)
    })
    .await
    .context("the outbox writer stopped")?
}

/// The result of one delivery attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attempt {
    /// Delivered; the relay's answer.
    Sent(String),
    /// Try again later.
    Temporary(String),
    /// Never try again (5xx, an impossible address).
    Permanent(String),
}

/// Whether an SMTP attempt may start.
enum Begin {
    /// Yes: at most one earlier attempt has no recorded outcome.
    Send,
    /// The claim passed to another sender meanwhile: leave the row.
    ClaimLost,
    /// No: [`MAX_UNCONFIRMED`] earlier attempts may each have delivered it.
    SetAside,
}

/// What one pass of the sender did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Rows delivered.
    pub sent: usize,
    /// Rows that failed temporarily and were rescheduled.
    pub deferred: usize,
    /// Rows failed for good.
    pub failed: usize,
}

/// Delivers due outbox rows.
#[derive(Debug)]
pub struct Sender {
    db: Db,
    transport: Transport,
    policy: RetryPolicy,
    worker: String,
    idle_wait: Duration,
}

impl Sender {
    /// A sender over `db` with the default [`RetryPolicy`]. `worker` names
    /// this process in claims (host and pid are a good choice).
    pub fn new(db: Db, transport: Transport) -> Sender {
        Sender {
            db,
            transport,
            policy: RetryPolicy::default(),
            worker: format!("{}-{}", crate::base::host::name(), std::process::id()),
            idle_wait: Duration::from_millis(500),
        }
    }

    /// Replaces the retry policy (tests use short delays).
    pub fn with_policy(mut self, policy: RetryPolicy) -> Sender {
        self.policy = policy;
        self
    }

    /// How long [`Sender::run`] sleeps when nothing is due.
    pub fn with_idle_wait(mut self, wait: Duration) -> Sender {
        self.idle_wait = wait;
        self
    }

    /// Releases claims left by senders on this host that no longer run (a
    /// crash or `kill -9` mid-delivery), so their rows are retried now
    /// instead of when the claim expires. Claims of other hosts are left
    /// to expire: we cannot tell whether those senders still run.
    pub async fn release_stale_claims(&self) -> anyhow::Result<u64> {
        let prefix = format!("{}-", crate::base::host::name());
        let holders = queue::outbox::claim_holders(self.db.pool()).await?;
        let mut released = 0;
        for holder in holders {
            let Some(pid) = holder
                .strip_prefix(&prefix)
                .and_then(|p| p.parse::<u32>().ok())
            else {
                continue;
            };
            if pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists() {
                continue;
            }
            released += queue::outbox::release_claims_of(self.db.pool(), &holder).await?;
        }
        if released > 0 {
            tracing::info!(released, "released outbox claims of senders that stopped");
        }
        Ok(released)
    }

    /// One pass: every row due now is attempted once (rows rescheduled
    /// during the pass are not due again until their delay has passed).
    pub async fn run_once(&self) -> anyhow::Result<Report> {
        let mut report = Report::default();
        let mut seen = std::collections::HashSet::new();
        loop {
            let batch = self.claim(self.transport.batch_size()).await?;
            if batch.is_empty() {
                break;
            }
            if let Transport::Directory(dir) = &self.transport {
                let (rows, again) = self.first_time(batch, &mut seen).await?;
                self.write_all(dir, &rows, &mut report).await?;
                if again {
                    break;
                }
                continue;
            }
            let mut again = false;
            for row in batch {
                if !seen.insert(row.id) {
                    // Rescheduled with no delay (e.g. a zero policy): leave it for the next pass.
                    self.release(row.id).await?;
                    again = true;
                    continue;
                }
                if self.transport.repeats_are_copies() {
                    if let Err(attempt) = self.transport.ready().await {
                        self.record(&row, &attempt, &mut report).await?;
                        continue;
                    }
                    match self.begin_attempt(row.id).await? {
                        Begin::Send => {}
                        Begin::ClaimLost => continue,
                        Begin::SetAside => {
                            let attempt = Attempt::Permanent(SET_ASIDE_RESPONSE.into());
                            tracing::warn!(id = row.id, to = %row.recipient, "mail not sent again: {MAX_UNCONFIRMED} earlier attempts have no recorded outcome");
                            self.record(&row, &attempt, &mut report).await?;
                            continue;
                        }
                    }
                }
                let attempt = self.transport.deliver(&row).await;
                self.record(&row, &attempt, &mut report).await?;
            }
            if again {
                break;
            }
        }
        Ok(report)
    }

    /// Delivers everything due now (one pass); used by `ingest` before it
    /// exits.
    pub async fn deliver_due(&self) -> anyhow::Result<Report> {
        self.release_stale_claims().await?;
        self.run_once().await
    }

    /// Runs passes until `shutdown`, sleeping when nothing is due. A failed
    /// pass (database down) is logged and retried.
    pub async fn run(&self, mut shutdown: Shutdown) -> anyhow::Result<()> {
        if let Err(e) = self.release_stale_claims().await {
            tracing::warn!("cannot release stale outbox claims: {e:#}");
        }
        while !shutdown.is_triggered() {
            match self.run_once().await {
                Ok(r) if r.sent + r.deferred + r.failed > 0 => {
                    tracing::info!(
                        sent = r.sent,
                        deferred = r.deferred,
                        failed = r.failed,
                        "outbox pass"
                    );
                }
                Ok(_) => {}
                Err(e) => tracing::warn!("outbox pass failed: {e:#}"),
            }
            tokio::select! {
                _ = shutdown.sleep(self.idle_wait) => {}
                _ = WAKE.notified() => {}
            }
        }
        Ok(())
    }

    /// The rows of `batch` not yet attempted in this pass; the others are
    /// released for the next pass (the `bool` says there were some).
    async fn first_time(
        &self,
        batch: Vec<Claimed>,
        seen: &mut std::collections::HashSet<i64>,
    ) -> anyhow::Result<(Vec<Claimed>, bool)> {
        let mut rows = Vec::with_capacity(batch.len());
        let mut again = false;
        for row in batch {
            if seen.insert(row.id) {
                rows.push(row);
            } else {
                self.release(row.id).await?;
                again = true;
            }
        }
        Ok((rows, again))
    }

    /// Writes the claimed rows to the outbox directory (every file synced
    /// before the outcome is recorded) and records them in one commit.
    async fn write_all(
        &self,
        dir: &Path,
        rows: &[Claimed],
        report: &mut Report,
    ) -> anyhow::Result<()> {
        let attempts = write_attempts(dir, rows).await;
        let outcomes: Vec<(i64, Judged)> = rows
            .iter()
            .zip(&attempts)
            .map(|(row, attempt)| (row.id, self.judge(row, attempt, report)))
            .collect();
        let outcomes: Vec<(i64, queue::outbox::Outcome<'_>)> = outcomes
            .iter()
            .map(|(id, judged)| (*id, judged.outcome()))
            .collect();
        // One statement for the batch (issue 15): the sender shares the
        // database writer with intake.
        let _turn = self.db.write_turn().await;
        let mut tx = self.db.begin().await?;
        queue::outbox::record_outcomes(&mut tx, &outcomes).await?;
        tx.commit()
            .await
            .context("cannot commit the outcome of outbox rows")?;
        Ok(())
    }

    /// Claims up to `limit` due rows in one statement (one commit).
    async fn claim(&self, limit: usize) -> anyhow::Result<Vec<Claimed>> {
        let now = Utc::now();
        let until = now
            + chrono::Duration::from_std(self.policy.claim_for)
                .unwrap_or(chrono::Duration::minutes(10));
        let mut claimed = queue::outbox::claim(&self.db, &self.worker, until, now, limit).await?;
        // RETURNING gives no order guarantee; send oldest first.
        claimed.sort_by_key(|c| c.id);
        Ok(claimed)
    }

    /// Counts the attempt about to start as unconfirmed, committed before
    /// anything is sent, and says whether to send.
    async fn begin_attempt(&self, id: i64) -> anyhow::Result<Begin> {
        let Some(unconfirmed) =
            queue::outbox::count_unconfirmed(self.db.pool(), id, &self.worker).await?
        else {
            return Ok(Begin::ClaimLost);
        };
        Ok(if unconfirmed > MAX_UNCONFIRMED {
            Begin::SetAside
        } else {
            Begin::Send
        })
    }

    async fn release(&self, id: i64) -> anyhow::Result<()> {
        queue::outbox::release(self.db.pool(), id, &self.worker).await
    }

    async fn record(
        &self,
        row: &Claimed,
        attempt: &Attempt,
        report: &mut Report,
    ) -> anyhow::Result<()> {
        let mut conn = self
            .db
            .pool()
            .acquire()
            .await
            .context("cannot reach the database")?;
        self.record_in(&mut conn, row, attempt, report).await
    }

    /// Records the outcome of one attempt at `row` on `conn`.
    async fn record_in(
        &self,
        conn: &mut sqlx::AnyConnection,
        row: &Claimed,
        attempt: &Attempt,
        report: &mut Report,
    ) -> anyhow::Result<()> {
        let judged = self.judge(row, attempt, report);
        queue::outbox::record_outcome(conn, row.id, &judged.outcome()).await
    }

    /// What an attempt at `row` comes to (counted in `report` and the
    /// monitor, logged).
    fn judge(&self, row: &Claimed, attempt: &Attempt, report: &mut Report) -> Judged {
        let now = Utc::now();
        count_attempt(attempt);
        let (status, response, next) = match attempt {
            Attempt::Sent(resp) => {
                report.sent += 1;
                tracing::info!(id = row.id, to = %row.recipient, "mail delivered: {resp}");
                (Status::Sent, resp.clone(), now)
            }
            Attempt::Permanent(resp) => {
                report.failed += 1;
                tracing::warn!(id = row.id, to = %row.recipient, "mail refused for good: {resp}");
                (Status::Failed, resp.clone(), now)
            }
            Attempt::Temporary(resp) => {
                let age = (now - row.created_at).to_std().unwrap_or_default();
                if age >= self.policy.give_up_after {
                    report.failed += 1;
                    tracing::warn!(id = row.id, to = %row.recipient, "mail given up after {} attempts: {resp}", row.attempts);
                    (
                        Status::Failed,
                        format!("{resp} (gave up after {} attempts)", row.attempts),
                        now,
                    )
                } else {
                    report.deferred += 1;
                    let delay = self.policy.delay(row.attempts);
                    tracing::info!(id = row.id, to = %row.recipient, "mail deferred {delay:?}: {resp}");
                    (
                        Status::Queued,
                        resp.clone(),
                        now + chrono::Duration::from_std(delay)
                            .unwrap_or(chrono::Duration::minutes(30)),
                    )
                }
            }
        };
        Judged {
            status,
            response: truncate(&response, 2000),
            next_attempt_at: next,
            sent_at: (status == Status::Sent).then_some(now),
        }
    }
}

/// An attempt's outcome as [`Sender::judge`] decides it (an owned
/// [`queue::outbox::Outcome`]).
struct Judged {
    status: Status,
    response: String,
    next_attempt_at: chrono::DateTime<Utc>,
    sent_at: Option<chrono::DateTime<Utc>>,
}

impl Judged {
    fn outcome(&self) -> queue::outbox::Outcome<'_> {
        queue::outbox::Outcome {
            status: self.status,
            response: &self.response,
            next_attempt_at: self.next_attempt_at,
            sent_at: self.sent_at,
        }
    }
}

/// Counts a delivery attempt in the monitor by its SMTP reply code class.
fn count_attempt(attempt: &Attempt) {
    let monitor = crate::observe::monitor::global();
    match attempt {
        Attempt::Sent(r) => monitor.smtp_attempt(r, false),
        Attempt::Temporary(r) | Attempt::Permanent(r) => monitor.smtp_attempt(r, true),
    }
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_off_doubles_up_to_the_cap() {
        let p = RetryPolicy {
            first_delay: Duration::from_secs(30),
            max_delay: Duration::from_secs(300),
            ..RetryPolicy::default()
        };
        assert_eq!(p.delay(1), Duration::from_secs(30));
        assert_eq!(p.delay(2), Duration::from_secs(60));
        assert_eq!(p.delay(4), Duration::from_secs(240));
        assert_eq!(p.delay(5), Duration::from_secs(300));
        assert_eq!(p.delay(500), Duration::from_secs(300));
    }

    #[test]
    fn a_final_crlf_is_left_to_lettre() {
        assert_eq!(trim_final_crlf(b"a\r\n\r\nbody\r\n"), b"a\r\n\r\nbody");
        assert_eq!(trim_final_crlf(b"body"), b"body");
    }
}
