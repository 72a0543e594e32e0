//! The intake pipeline: one received message in, queue records and one
//! queued reply out. Every mailbox source (Maildir, `ingest`, IMAP) calls
//! [`Intake::process`] and nothing else.

use std::time::Duration;

mod batch;
mod converse;

pub use batch::Arrived;

/// The shutdown signal lives in [`crate::base::shutdown`] so the outbox
/// and mailbox sources can use it without importing the pipeline; it stays
/// reachable here under its old path.
pub use crate::base::shutdown::{Shutdown, ShutdownTrigger};

use crate::calendar::{self, CutoffRule};
use crate::config::Settings;
use crate::conversation::{self, Turn};
use crate::message::peek::HeaderPeek;
use crate::message::senders::{
    self, AnswerPolicy, Classification, NeverReason, PrefectureDirectory, SenderClass, SenderTrust,
};
use crate::message::{self, AttachmentKind, Limits, ParsedMessage};
use crate::messages::mail as msg;
use crate::outbox::{self, OutgoingMail};
use crate::prefecture::Prefecture;
use crate::queue::attempts::{self, Start};
use crate::queue::{self, Db, FilingOutcome, SheetFiling, blobs};
use crate::readers::{ReaderFailure, ReaderPool};
use crate::replies::{
    self, FindingView, Identity, ItemView, ProblemView, ReplyAttachment, ReplyStatus, ReplyView,
    SheetView, Thread,
};
use crate::request::Status;
use crate::sheet::{self, RequestSheet, annotate::SheetFindings};
use crate::unanswered::Reason;
use crate::validation::{self, Finding, Policy, Severity};
use anyhow::Context;
use chrono::{DateTime, FixedOffset, Utc};
use serde::Serialize;
use std::sync::Arc;

/// What became of a message; a mailbox source acts on it (IMAP picks a
/// folder by it, the Maildir source just marks the file seen).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Disposition {
    /// Every sheet filed into review.
    Accepted,
    /// Some sheets filed into review, some refused.
    Partial,
    /// Nothing filed into review (errors, no sheet, unreadable files).
    Rejected,
    /// Unknown sender: kept and listed, nothing filed.
    Quarantined,
    /// Automatic mail (bounce, auto-reply, list, our own reply): kept,
    /// nothing filed, never answered.
    Ignored,
    /// Handled before (same Message-ID and bytes): nothing changed.
    AlreadyProcessed,
    /// Set aside as 処理不能 (a poison message): it failed permanently, too
    /// often, or the process died on it too often. Raw bytes and reason
    /// kept, listed for staff, nothing filed or answered.
    Unprocessable,
}

impl Disposition {
    /// The word stored in `mail_messages.disposition`.
    pub fn as_str(self) -> &'static str {
        match self {
            Disposition::Accepted => "accepted",
            Disposition::Partial => "partial",
            Disposition::Rejected => "rejected",
            Disposition::Quarantined => "quarantined",
            Disposition::Ignored => "ignored",
            Disposition::AlreadyProcessed => "already_processed",
            Disposition::Unprocessable => "unprocessable",
        }
    }

    /// Reads a stored word.
    pub fn parse(s: &str) -> Option<Disposition> {
        [
            Disposition::Accepted,
            Disposition::Partial,
            Disposition::Rejected,
            Disposition::Quarantined,
            Disposition::Ignored,
            Disposition::AlreadyProcessed,
            Disposition::Unprocessable,
        ]
        .into_iter()
        .find(|d| d.as_str() == s)
    }
}

/// The result of [`Intake::process`].
#[derive(Clone, Debug, Serialize)]
pub struct Outcome {
    /// What became of the message now.
    pub disposition: Disposition,
    /// For [`Disposition::AlreadyProcessed`], what became of it the first
    /// time; otherwise equal to `disposition`.
    pub first_disposition: Disposition,
    /// The `mail_messages` row; None for a message set aside as
    /// [`Disposition::Unprocessable`] (it is listed in `intake_attempts`).
    pub mail_message_id: Option<i64>,
    /// The Message-ID (no angle brackets), when the message had one.
    pub message_id: Option<String>,
    /// SHA-256 of the raw bytes (the blob key).
    pub raw_sha256: String,
    /// Receipt numbers filed from this message.
    pub receipts: Vec<String>,
    /// The outbox row of the reply, when one was queued (now).
    pub reply: Option<i64>,
    /// `queued`, or why no reply was queued.
    pub reply_note: String,
    /// Why the message was not answered (the stored `reason_code`), when
    /// it was not; for [`Disposition::AlreadyProcessed`], the first time's.
    pub reason: Option<Reason>,
}

/// Why a message could not be processed. Nothing is half-done: the
/// database part is one transaction, so the message can simply be tried
/// again.
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    /// The database is unreachable, busy or refused a write; try again
    /// later (the MTA should retry: `ingest` exits 75).
    #[error("database unavailable: {0:#}")]
    Database(anyhow::Error),
    /// Local storage failed (disk full, permissions); try again later.
    #[error("storage failed: {0:#}")]
    Storage(anyhow::Error),
    /// Something broke that retrying will not fix (a defect); the raw
    /// message is kept in the blobs table.
    #[error("internal error: {0:#}")]
    Internal(anyhow::Error),
    /// The message itself cannot be read safely: its reader process
    /// crashed, ran out of memory or time, or answered garbage. Retrying
    /// will not help; the raw message is kept in the blobs table.
    #[error("unreadable message: {0}")]
    Unreadable(String),
}

impl IntakeError {
    /// True when trying again later may succeed.
    pub fn is_temporary(&self) -> bool {
        matches!(self, IntakeError::Database(_) | IntakeError::Storage(_))
    }
}

/// The pipeline, configured once and shared by every source (cheap to
/// clone).
#[derive(Clone)]
pub struct Intake {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    /// Where the message is parsed and its workbooks read.
    readers: ReaderPool,
    source: String,
    directory: PrefectureDirectory,
    mail: crate::config::MailConfig,
    limits: Limits,
    policy: Policy,
    rule: CutoffRule,
    identity: Identity,
    intake: crate::config::IntakeConfig,
    /// Attempts that failed through an outage and could not be taken back
    /// in the database then, by message SHA-256 (shared by every clone).
    uncounted: Arc<std::sync::Mutex<std::collections::HashMap<String, u32>>>,
    /// An admin released this mail from quarantine: the sender counts as
    /// vouched for ([`Classification::vouched_by_staff`]).
    vouched: bool,
}

impl std::fmt::Debug for Intake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Intake")
            .field("source", &self.inner.source)
            .finish_non_exhaustive()
    }
}

impl Intake {
    /// The pipeline for `settings` over `db`, reading through the reader
    /// processes the binary installed ([`ReaderPool::installed`]: in this
    /// process for library callers). Fails on a configuration that cannot
    /// work (unknown prefecture, item or cut-off rule).
    pub fn new(db: Db, settings: &Settings) -> anyhow::Result<Intake> {
        Intake::with_readers(db, settings, ReaderPool::installed())
    }

    /// [`Intake::new`] reading through `readers`.
    pub fn with_readers(
        db: Db,
        settings: &Settings,
        readers: ReaderPool,
    ) -> anyhow::Result<Intake> {
        let config = &settings.config;
        let rule = config.cutoff_rule()?;
        Ok(Intake {
            inner: Arc::new(Inner {
                db,
                readers,
                source: "maildir".into(),
                directory: PrefectureDirectory::from_config(config)?,
                mail: config.mail.clone(),
                limits: Limits::from_config(&config.mail),
                policy: Policy::from_config(config)?,
                rule,
                identity: Identity::from_config(config),
                intake: config.intake.clone(),
                uncounted: Default::default(),
                vouched: false,
            }),
        })
    }

    /// The same pipeline recording `source` (`maildir`, `ingest`, `imap`)
    /// on the messages it handles.
    pub fn with_source(&self, source: &str) -> Intake {
        let inner = &self.inner;
        Intake {
            inner: Arc::new(Inner {
                db: inner.db.clone(),
                readers: inner.readers.clone(),
                source: source.to_string(),
                directory: inner.directory.clone(),
                mail: inner.mail.clone(),
                limits: inner.limits.clone(),
                policy: inner.policy.clone(),
                rule: inner.rule,
                identity: inner.identity.clone(),
                intake: inner.intake.clone(),
                uncounted: inner.uncounted.clone(),
                vouched: inner.vouched,
            }),
        }
    }

    /// The same pipeline for mail an admin released from quarantine: its
    /// sender counts as vouched for by staff (only the web UI's release
    /// builds it; no header of the message can ask for it).
    pub fn vouched_by_staff(&self) -> Intake {
        let mut copy = self.with_source(&self.inner.source);
        if let Some(inner) = Arc::get_mut(&mut copy.inner) {
            inner.vouched = true;
        }
        copy
    }

    /// The database.
    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    /// Attempts at one message before it is set aside (`[intake]`).
    pub fn max_attempts(&self) -> u32 {
        self.inner.intake.max_attempts.max(1)
    }

    /// How long one message may keep a worker busy before the worker counts
    /// as stuck (`[intake] stall_secs`).
    /// How many waiting messages a source hands over at once (`[intake]
    /// batch_size`, at least 1).
    pub fn batch_size(&self) -> usize {
        self.inner.intake.batch_size.clamp(1, 1000)
    }

    pub fn stall_after(&self) -> Duration {
        Duration::from_secs(self.inner.intake.stall_secs.max(1))
    }

    /// Processes one received message: stores the raw bytes, reads it,
    /// classifies the sender, checks and files every sheet, and queues one
    /// reply, the database part in one transaction keyed by Message-ID +
    /// SHA-256 of `raw`. `received_at` is when the message reached our
    /// mailbox (never its Date header). Processing the same bytes again
    /// returns [`Disposition::AlreadyProcessed`] and changes nothing.
    pub async fn process(
        &self,
        raw: &[u8],
        received_at: DateTime<FixedOffset>,
    ) -> Result<Outcome, IntakeError> {
        use tracing::Instrument;
        let started = std::time::Instant::now();
        let span = crate::ops::logging::message_span(&HeaderPeek::of(raw).message_id, raw);
        let result = self
            .process_counted(raw, received_at)
            .instrument(span)
            .await;
        crate::ops::monitor::global().intake_result(&result, started.elapsed());
        result
    }

    /// [`Intake::process`] before its outcome is counted in the monitor.
    async fn process_counted(
        &self,
        raw: &[u8],
        received_at: DateTime<FixedOffset>,
    ) -> Result<Outcome, IntakeError> {
        // 1. The raw bytes first, committed on their own: whatever happens
        //    next, what was sent is kept. Then the attempt is counted, also
        //    committed, so a message the process dies on is recognised.
        let peek = HeaderPeek::of(raw);
        let (raw_sha256, start) = self.arrive(raw, &peek, received_at).await?;
        match start {
            Start::SetAside(why) | Start::AlreadySetAside(why) => {
                return Ok(self.set_aside(&peek, raw_sha256, why, start == Start::SetAside(why)));
            }
            Start::Proceed { .. } | Start::Handled => {}
        }
        match self.read_and_file(raw, &raw_sha256, received_at).await {
            Ok(outcome) => Ok(outcome),
            Err(e) => self.failed(&peek, raw_sha256, e).await,
        }
    }

    /// A connection from the pool.
    async fn connection(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Any>, IntakeError> {
        self.inner
            .db
            .pool()
            .acquire()
            .await
            .context("cannot reach the database")
            .map_err(IntakeError::Database)
    }

    /// Stores the raw bytes and counts the attempt (two short transactions).
    async fn arrive(
        &self,
        raw: &[u8],
        peek: &HeaderPeek,
        received_at: DateTime<FixedOffset>,
    ) -> Result<(String, Start), IntakeError> {
        let inner = &self.inner;
        let mut conn = self.connection().await?;
        let sha = blobs::put(&mut conn, raw)
            .await
            .map_err(IntakeError::Database)?;
        let arrival = attempts::Arrival {
            raw_sha256: &sha,
            source: &inner.source,
            received_at: received_at.to_utc(),
            message_id: &peek.message_id,
            from_address: &peek.from_address,
            subject: &peek.subject,
        };
        let uncounted = self.take_uncounted(&sha);
        let start = attempts::start(&mut conn, &arrival, inner.intake.max_attempts, uncounted)
            .await
            .map_err(|e| {
                self.remember_uncounted(&sha, uncounted);
                IntakeError::Database(e)
            })?;
        Ok((sha, start))
    }

    /// Notes that `n` attempts at `sha` failed through an outage that could
    /// not be recorded, so they are taken back at the next start.
    fn remember_uncounted(&self, sha: &str, n: u32) {
        if n == 0 {
            return;
        }
        let mut map = self
            .inner
            .uncounted
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *map.entry(sha.to_string()).or_insert(0) += n;
    }

    fn take_uncounted(&self, sha: &str) -> u32 {
        self.inner
            .uncounted
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(sha)
            .unwrap_or(0)
    }

    /// Reads, checks and files a message whose attempt is counted.
    async fn read_and_file(
        &self,
        raw: &[u8],
        raw_sha256: &str,
        received_at: DateTime<FixedOffset>,
    ) -> Result<Outcome, IntakeError> {
        // The senders authorised in the web UI so far (an authorisation
        // counts from the next message).
        let authorised = {
            let mut conn = self.connection().await?;
            crate::queue::senders::authorised(&mut conn)
                .await
                .map_err(IntakeError::Database)?
        };
        // 2. Reading, checking and rendering are CPU work: off the runtime.
        let work = {
            let this = self.clone();
            let raw = raw.to_vec();
            let directory = self.inner.directory.with_authorised(&authorised);
            // The message's log span follows the work onto the blocking thread.
            let span = tracing::Span::current();
            tokio::task::spawn_blocking(move || {
                span.in_scope(|| this.analyse(&raw, received_at, &directory))
            })
            .await
            .map_err(|e| IntakeError::Internal(anyhow::anyhow!("the analysis task failed: {e}")))?
            .map_err(AnalysisError::into_intake)?
        };
        // 3. The database part, all or nothing.
        self.commit(&work, raw_sha256, received_at).await
    }

    /// After a failed attempt: records it, and sets the message aside when
    /// the failure is permanent or the attempts are used up (the source then
    /// goes on with the next message). A temporary failure is returned so
    /// the source backs off and tries again.
    async fn failed(
        &self,
        peek: &HeaderPeek,
        raw_sha256: String,
        err: IntakeError,
    ) -> Result<Outcome, IntakeError> {
        if is_outage(&err) {
            // The database or the disk is out, not this message: the attempt
            // does not count towards setting it aside. When even that cannot
            // be recorded, this process remembers it for the next start.
            let forgiven = match self.connection().await {
                Ok(mut conn) => attempts::forgive(&mut conn, &raw_sha256, 1).await.is_ok(),
                Err(_) => false,
            };
            if !forgiven {
                self.remember_uncounted(&raw_sha256, 1);
            }
            return Err(err);
        }
        let permanent = !err.is_temporary() || is_permanent_db_error(&err);
        let recorded = async {
            let mut conn = self.connection().await?;
            attempts::failed(
                &mut conn,
                &raw_sha256,
                &format!("{err:#}"),
                permanent,
                self.inner.intake.max_attempts,
            )
            .await
        }
        .await;
        match recorded {
            Ok(Some(why)) => {
                tracing::error!(sha256 = %raw_sha256, error = %format!("{err:#}"), "message failed ({}); set aside", why.as_str());
                Ok(self.set_aside(peek, raw_sha256, why, true))
            }
            Ok(None) => Err(err),
            Err(e) => {
                tracing::warn!(sha256 = %raw_sha256, error = %format!("{e:#}"), "cannot record the failed attempt");
                self.remember_uncounted(&raw_sha256, 1);
                // Nothing recorded: the database is the trouble; try later.
                Err(match err {
                    IntakeError::Database(_) | IntakeError::Storage(_) => err,
                    other => IntakeError::Database(anyhow::anyhow!("{other:#}; and {e:#}")),
                })
            }
        }
    }

    /// The outcome for a message set aside as 処理不能; `now` when it was set
    /// aside by this attempt (logged and counted), not found so.
    fn set_aside(
        &self,
        peek: &HeaderPeek,
        raw_sha256: String,
        why: attempts::SetAsideReason,
        now: bool,
    ) -> Outcome {
        let message_id = Some(peek.message_id.clone()).filter(|m| !m.is_empty());
        if now {
            let total = SET_ASIDE.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            tracing::error!(sha256 = %raw_sha256, reason = why.as_str(), set_aside_total = total, from = %peek.from_address,
                "message {} set aside as unprocessable (処理不能); intake goes on", message_id.as_deref().unwrap_or("(no Message-ID)"));
        } else {
            tracing::info!(sha256 = %raw_sha256, "message set aside earlier as unprocessable; nothing done");
        }
        let disposition = if now {
            Disposition::Unprocessable
        } else {
            Disposition::AlreadyProcessed
        };
        Outcome {
            disposition,
            first_disposition: Disposition::Unprocessable,
            mail_message_id: None,
            message_id,
            raw_sha256,
            receipts: Vec::new(),
            reply: None,
            reply_note: format!(
                "not answered: set aside as unprocessable ({})",
                why.as_str()
            ),
            reason: Some(Reason::Unprocessable),
        }
    }

    /// Parses, classifies (against `directory`) and checks, parsing and
    /// reading through the reader processes (blocking: call it off the
    /// runtime).
    fn analyse(
        &self,
        raw: &[u8],
        received_at: DateTime<FixedOffset>,
        directory: &PrefectureDirectory,
    ) -> Result<Analysis, AnalysisError> {
        let inner = &self.inner;
        let mut parsed = inner
            .readers
            .parse_message(raw, &inner.limits)
            .map_err(AnalysisError::from)?;
        // NUL and other control characters never reach the database or a
        // reply (the raw bytes keep them).
        parsed.strip_controls();
        let mut class = senders::classify(&parsed, directory, &inner.mail);
        if inner.vouched {
            class = class.vouched_by_staff();
        }
        let batch = calendar::batch(inner.rule, &received_at);
        let facts = conversation::facts(&parsed);
        let mut analysis = Analysis {
            parsed,
            class,
            batch,
            files: Vec::new(),
            facts,
        };
        let prefecture = match (&analysis.class.sender, files_sheets(&analysis.class)) {
            (SenderClass::Prefecture { prefecture, .. }, true) => *prefecture,
            _ => return Ok(analysis),
        };
        if analysis.parsed.is_too_large() {
            analysis.files.push(FileResult::Problem(ProblemView::new(
                msg::WHOLE_MESSAGE,
                "too_large",
            )));
        }
        let mut files = Vec::new();
        for a in &analysis.parsed.attachments {
            let name = display_name(a);
            let result = match &a.kind {
                AttachmentKind::Sheet(_) => {
                    read_sheet(&inner.readers, a, &name, prefecture, &inner.policy)?
                }
                AttachmentKind::EncryptedOffice | AttachmentKind::EncryptedZip => {
                    FileResult::Problem(ProblemView::new(&name, "encrypted"))
                }
                AttachmentKind::TooLarge(_) => {
                    FileResult::Problem(ProblemView::new(&name, "too_large"))
                }
                AttachmentKind::Zip { .. } | AttachmentKind::Tnef { .. } => continue,
                AttachmentKind::Other(_) if a.is_inline => continue,
                // A winmail.dat with nothing readable inside: say how to
                // switch Outlook to HTML or plain text.
                AttachmentKind::Other(message::OtherFile::OutlookTnef) => {
                    FileResult::Unsupported(ProblemView::new(&name, "tnef"))
                }
                // Opaque-signed or encrypted S/MIME: how to resend it.
                AttachmentKind::Other(message::OtherFile::SmimeEnvelope) => {
                    FileResult::Unsupported(ProblemView::new(&name, "smime"))
                }
                AttachmentKind::Other(file) => FileResult::Unsupported(ProblemView {
                    file_name: name.clone(),
                    kind: "unsupported".into(),
                    message: format!(
                        "{}（{}）",
                        msg::file_problem("unsupported"),
                        crate::messages::mail_parse::other_file(*file)
                    ),
                }),
            };
            files.push(result);
        }
        for f in &files {
            crate::ops::monitor::global().attachment(f.outcome());
        }
        analysis.files.extend(files);
        Ok(analysis)
    }

    /// Files an analysed message in its own transaction (see
    /// [`Intake::record`]).
    async fn commit(
        &self,
        work: &Analysis,
        raw_sha256: &str,
        received_at: DateTime<FixedOffset>,
    ) -> Result<Outcome, IntakeError> {
        let mut tx = self.inner.db.begin().await.map_err(IntakeError::Database)?;
        let recorded = self.record(&mut tx, work, raw_sha256, received_at).await?;
        match recorded {
            Recorded::AlreadyThere => {
                drop(tx);
                self.already_processed(work, raw_sha256).await
            }
            Recorded::Filed(outcome) => {
                tx.commit()
                    .await
                    .context("cannot commit the message")
                    .map_err(IntakeError::Database)?;
                Ok(self.committed(work, outcome))
            }
        }
    }

    /// After the commit of a message's records: wakes the outbox and logs.
    fn committed(&self, work: &Analysis, outcome: Outcome) -> Outcome {
        if outcome.reply.is_some() {
            outbox::wake();
        }
        tracing::info!(
            mail_message_id = outcome.mail_message_id, disposition = outcome.disposition.as_str(),
            receipts = %outcome.receipts.join(","), reply = %outcome.reply_note,
            "message {} processed ({})", outcome.message_id.as_deref().unwrap_or("(no Message-ID)"), work.class.describe()
        );
        outcome
    }

    /// Everything a message leaves in the database, inside `tx`: its
    /// `mail_messages` row (the Message-ID + SHA-256 key), the attempt
    /// marked finished, the filed requests, quarantine, conversation and
    /// the queued reply. Nothing is committed here, so a caller may record
    /// several messages in one transaction.
    async fn record(
        &self,
        tx: &mut queue::Tx,
        work: &Analysis,
        raw_sha256: &str,
        received_at: DateTime<FixedOffset>,
    ) -> Result<Recorded, IntakeError> {
        let Some(mail_message_id) = self
            .insert_message(tx, work, raw_sha256, received_at)
            .await?
        else {
            return Ok(Recorded::AlreadyThere);
        };
        attempts::finished(tx, raw_sha256)
            .await
            .map_err(IntakeError::Database)?;
        let (disposition, filed) = self
            .file_or_set_apart(tx, work, mail_message_id, raw_sha256, received_at)
            .await?;
        let receipts: Vec<String> = filed
            .iter()
            .filter_map(|f| f.outcome.as_ref().map(|o| o.receipt.clone()))
            .collect();
        let turn = self
            .converse(tx, work, &filed, mail_message_id, received_at)
            .await?;
        let (reply, reply_note, reason) = match turn.unanswered() {
            Some((why, note)) => (None, note.to_string(), Some(why)),
            None => {
                self.queue_reply(
                    tx,
                    work,
                    &filed,
                    (disposition, &turn),
                    mail_message_id,
                    received_at,
                )
                .await?
            }
        };
        let reason =
            reason.or((disposition == Disposition::Quarantined).then_some(Reason::Quarantined));
        let summary = serde_json::json!({
            "sender": work.class.describe(),
            "files": work.files.iter().map(FileResult::summary).collect::<Vec<_>>(),
            "problems": work.parsed.problems.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
            "conversation": turn.summary(),
        });
        let receipts_text = receipts.join(",");
        let summary_text = summary.to_string();
        let stored = queue::mail_messages::MessageOutcome {
            disposition: disposition.as_str(),
            reply: &reply_note,
            receipts: &receipts_text,
            summary: &summary_text,
            reason_code: reason.map(Reason::as_str).unwrap_or(""),
        };
        queue::mail_messages::record_outcome(tx, mail_message_id, &stored)
            .await
            .map_err(IntakeError::Database)?;
        Ok(Recorded::Filed(Outcome {
            disposition,
            first_disposition: disposition,
            mail_message_id: Some(mail_message_id),
            message_id: work.parsed.message_id.clone(),
            raw_sha256: raw_sha256.to_string(),
            receipts,
            reply,
            reply_note,
            reason,
        }))
    }

    /// The message's `mail_messages` row; `None` when a row with the same
    /// key exists (a second delivery of the same bytes). On PostgreSQL a
    /// concurrent twin waits on the unique index, then finds the row (ON
    /// CONFLICT DO NOTHING returns none).
    async fn insert_message(
        &self,
        tx: &mut queue::Tx,
        work: &Analysis,
        raw_sha256: &str,
        received_at: DateTime<FixedOffset>,
    ) -> Result<Option<i64>, IntakeError> {
        let message_id = work.parsed.message_id.clone().unwrap_or_default();
        let from_address = work
            .parsed
            .from
            .as_ref()
            .map(|f| f.address.clone())
            .unwrap_or_default();
        let subject = work.parsed.subject.clone().unwrap_or_default();
        let row = queue::mail_messages::NewMessage {
            message_id: &message_id,
            raw_sha256,
            source: &self.inner.source,
            received_at: received_at.to_utc(),
            from_address: &from_address,
            subject: &subject,
            prefecture: match &work.class.sender {
                SenderClass::Prefecture { prefecture, .. } => Some(prefecture.name()),
                _ => None,
            },
        };
        queue::mail_messages::insert(tx, &row)
            .await
            .map_err(IntakeError::Database)
    }

    /// Files the sheets of a prefecture's mail, lists anything else in
    /// quarantine (or ignores automatic mail); the disposition and what
    /// was filed.
    async fn file_or_set_apart(
        &self,
        tx: &mut queue::Tx,
        work: &Analysis,
        mail_message_id: i64,
        raw_sha256: &str,
        received_at: DateTime<FixedOffset>,
    ) -> Result<(Disposition, Vec<Filed>), IntakeError> {
        let (disposition, filed) = match (&work.class.sender, &work.class.policy) {
            (_, AnswerPolicy::Never(NeverReason::AutoGenerated(_))) if is_ignored(&work.class) => {
                (Disposition::Ignored, Vec::new())
            }
            (SenderClass::Prefecture { prefecture, trust }, _) => {
                let filed = self
                    .file_all(tx, work, (*prefecture, *trust), raw_sha256, received_at)
                    .await?;
                (disposition_of(&filed), filed)
            }
            _ => (Disposition::Quarantined, Vec::new()),
        };
        if disposition == Disposition::Quarantined {
            let from_address = work
                .parsed
                .from
                .as_ref()
                .map(|f| f.address.clone())
                .unwrap_or_default();
            let reason = work.class.describe();
            let hold = queue::quarantine::Hold {
                mail_message_id,
                from_address: &from_address,
                reason: &reason,
                kind: work.class.sender.quarantine_kind(),
                prefecture: work.class.sender.claimed_prefecture().map(|p| p.name()),
            };
            queue::quarantine::hold(tx, &hold)
                .await
                .map_err(IntakeError::Database)?;
        }
        Ok((disposition, filed))
    }

    /// The outcome of a message whose key was found recorded: nothing
    /// changes but the attempt, marked finished.
    async fn already_processed(
        &self,
        work: &Analysis,
        raw_sha256: &str,
    ) -> Result<Outcome, IntakeError> {
        let message_id = work.parsed.message_id.clone();
        let key_id = message_id.as_deref().unwrap_or_default();
        let earlier =
            queue::mail_messages::earlier_handling(self.inner.db.pool(), key_id, raw_sha256)
                .await
                .map_err(IntakeError::Database)?;
        let first = Disposition::parse(&earlier.disposition).unwrap_or(Disposition::Rejected);
        // Handled before the attempts were counted (or by a twin): it is done.
        let mut conn = self.connection().await?;
        attempts::finished(&mut conn, raw_sha256)
            .await
            .map_err(IntakeError::Database)?;
        tracing::info!(
            "message {} already processed ({}); nothing changed",
            message_id.as_deref().unwrap_or("(no Message-ID)"),
            first.as_str()
        );
        Ok(Outcome {
            disposition: Disposition::AlreadyProcessed,
            first_disposition: first,
            mail_message_id: earlier.id,
            message_id,
            raw_sha256: raw_sha256.to_string(),
            receipts: earlier
                .receipts
                .split(',')
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect(),
            reply: None,
            reply_note: earlier.reply,
            reason: Reason::parse(&earlier.reason_code),
        })
    }

    /// Files every form found; each result keeps its findings for the reply.
    async fn file_all(
        &self,
        tx: &mut queue::Tx,
        work: &Analysis,
        (prefecture, sender_trust): (Prefecture, SenderTrust),
        raw_sha256: &str,
        received_at: DateTime<FixedOffset>,
    ) -> Result<Vec<Filed>, IntakeError> {
        let mut filed = Vec::new();
        let batch_reason = crate::messages::calendar::batch_reason(&work.batch.reason);
        for (index, file) in work.files.iter().enumerate() {
            let FileResult::Sheets {
                name,
                bytes,
                sha256,
                forms,
            } = file
            else {
                continue;
            };
            blobs::put(tx, bytes).await.map_err(IntakeError::Database)?;
            let count = forms.len();
            for (form, checked) in forms {
                let filing = SheetFiling {
                    received_at: received_at.to_utc(),
                    batch_date: work.batch.date.date(),
                    batch_reason: Some(batch_reason.clone()),
                    prefecture,
                    institution: checked.institution.clone(),
                    lines: checked.lines.clone(),
                    findings: checked.findings.clone(),
                    source_message_sha256: Some(raw_sha256.to_string()),
                    attachment_sha256: Some(sha256.clone()),
                    attachment_name: name.clone(),
                    sheet_name: form.sheet.clone(),
                    actor: "mail".into(),
                    sender_trust,
                };
                let outcome = queue::file_sheet(tx, &filing)
                    .await
                    .map_err(IntakeError::Database)?;
                let mut findings = checked.findings.clone();
                findings.extend(outcome.findings_added.iter().cloned());
                filed.push(Filed {
                    file_name: name.clone(),
                    sheet_name: form.sheet.clone(),
                    sheet_count: count,
                    bytes_index: Some(index),
                    batch_reason: batch_reason.clone(),
                    checked: checked.clone(),
                    findings,
                    outcome: Some(outcome),
                });
            }
        }
        // Files that were not sheets (or not readable) count as refused.
        for file in &work.files {
            if let FileResult::Problem(p) = file {
                filed.push(Filed::problem(p));
            }
        }
        Ok(filed)
    }

    /// Decides whether to answer, renders and queues the reply.
    async fn queue_reply(
        &self,
        tx: &mut queue::Tx,
        work: &Analysis,
        filed: &[Filed],
        (disposition, turn): (Disposition, &Turn),
        mail_message_id: i64,
        received_at: DateTime<FixedOffset>,
    ) -> Result<(Option<i64>, String, Option<Reason>), IntakeError> {
        let inner = &self.inner;
        if let AnswerPolicy::Never(reason) = &work.class.policy {
            let why = Reason::of_never(reason);
            let note = match reason {
                NeverReason::AutoGenerated(r) => format!("not answered: automatic mail ({r})"),
                NeverReason::UnauthenticatedUnknownSender => {
                    "not answered: unknown sender not authenticated".to_string()
                }
                NeverReason::UnauthenticatedPrefectureSender => {
                    "not answered: registered sender not authenticated".to_string()
                }
                NeverReason::NoAddress => "not answered: no sender address".to_string(),
            };
            return Ok((None, note, Some(why)));
        }
        // The From address only: it is what our server authenticated (or
        // staff vouched for); a Reply-To is whatever the sender wrote.
        let Some(to) = work.parsed.from.as_ref() else {
            return Ok((
                None,
                "not answered: no sender address".into(),
                Some(Reason::NoAddress),
            ));
        };
        let recipient = to.address.trim().to_string();
        // An address SMTP cannot take (a typo, a local-only name) is not
        // answered; the message is still filed and kept.
        if recipient.parse::<lettre::Address>().is_err() {
            tracing::warn!(to = %recipient, "sender address unusable for a reply; not answering");
            return Ok((
                None,
                format!("not answered: unusable address {recipient:?}"),
                Some(Reason::UnusableAddress),
            ));
        }
        let since = Utc::now() - chrono::Duration::hours(1);
        let recent = outbox::count_since(
            tx,
            outbox::kind::REPLY,
            &recipient,
            since,
            inner.mail.reply_rate_limit_per_hour,
        )
        .await
        .map_err(IntakeError::Database)?;
        if recent >= i64::from(inner.mail.reply_rate_limit_per_hour) {
            tracing::warn!(to = %recipient, recent, "reply rate limit reached; not answering");
            return Ok((
                None,
                format!("not answered: rate limit ({recent} replies in the last hour)"),
                Some(Reason::RateLimited),
            ));
        }
        let status = match disposition {
            Disposition::Accepted => ReplyStatus::Accepted,
            Disposition::Partial => ReplyStatus::Partial,
            Disposition::Quarantined => ReplyStatus::Quarantined,
            _ => ReplyStatus::Rejected,
        };
        let (view, attachments) = {
            let this = self.clone();
            let files = work.files.clone();
            let filed = filed.to_vec();
            let parsed_from = to.clone();
            let subject = work.parsed.subject.clone().unwrap_or_default();
            let link = turn.link().cloned();
            tokio::task::spawn_blocking(move || {
                let (mut view, attachments) =
                    this.reply_view(status, &parsed_from, &subject, received_at, &files, &filed);
                if let Some(link) = link {
                    view.no_sheet = false;
                    view.download_link = true;
                    view.link_service = link.service.unwrap_or_default().to_string();
                }
                (view, attachments)
            })
            .await
            .map_err(|e| IntakeError::Internal(anyhow::anyhow!("the reply task failed: {e}")))?
        };
        let thread = Thread {
            to: recipient.clone(),
            to_name: to.name.clone(),
            message_id: work.parsed.message_id.clone(),
            references: work.parsed.references.clone(),
        };
        let (subject, message) = replies::build(&inner.identity, &thread, &view, &attachments)
            .map_err(IntakeError::Internal)?;
        let mail = OutgoingMail::from_message(
            outbox::kind::REPLY,
            Some(mail_message_id),
            &subject,
            &message,
        )
        .map_err(IntakeError::Internal)?;
        let id = outbox::enqueue(tx, &mail)
            .await
            .map_err(IntakeError::Database)?;
        Ok((Some(id), "queued".into(), None))
    }

    /// The reply's content and the annotated copies (CPU work).
    fn reply_view(
        &self,
        status: ReplyStatus,
        to: &message::Mailbox,
        subject: &str,
        received_at: DateTime<FixedOffset>,
        files: &[FileResult],
        filed: &[Filed],
    ) -> (ReplyView, Vec<ReplyAttachment>) {
        let mut sheets = Vec::new();
        let mut problems = Vec::new();
        let mut attachments = Vec::new();
        for f in filed {
            if let Some(outcome) = &f.outcome {
                sheets.push(sheet_view(f, outcome));
            }
        }
        for file in files {
            match file {
                FileResult::Problem(p) | FileResult::Unsupported(p) => problems.push(p.clone()),
                FileResult::Sheets { .. } => {}
            }
        }
        // One annotated copy per file with errors, marking all its forms.
        for (index, file) in files.iter().enumerate() {
            let FileResult::Sheets { name, bytes, .. } = file else {
                continue;
            };
            let mine: Vec<&Filed> = filed
                .iter()
                .filter(|f| f.bytes_index == Some(index))
                .collect();
            if !mine.iter().any(|f| validation::has_errors(&f.findings)) {
                continue;
            }
            let marks: Vec<SheetFindings<'_>> = mine
                .iter()
                .map(|f| SheetFindings {
                    sheet: &f.sheet_name,
                    findings: &f.findings,
                })
                .collect();
            match sheet::annotate::annotate(bytes, &marks, &crate::messages::workbook::ANNOTATION) {
                Ok(copy) => attachments.push(ReplyAttachment {
                    file_name: msg::annotated_file_name(name),
                    bytes: copy,
                }),
                Err(e) => tracing::warn!("cannot annotate {name}: {e}"),
            }
        }
        let any_form = files.iter().any(|f| matches!(f, FileResult::Sheets { .. }));
        // A winmail.dat or an opaque S/MIME envelope most likely holds the
        // sheet: its own line says how to resend, so the reply does not also
        // claim that nothing was attached.
        let any_sheet_problem = files.iter().any(|f| match f {
            FileResult::Problem(_) => true,
            FileResult::Unsupported(p) => p.kind == "tnef" || p.kind == "smime",
            FileResult::Sheets { .. } => false,
        });
        let view = ReplyView {
            status,
            sender_name: to
                .name
                .clone()
                .filter(|n| !n.trim().is_empty())
                .unwrap_or_else(|| to.address.clone()),
            sender_address: to.address.clone(),
            original_subject: subject.to_string(),
            received_at: msg::received_at(received_at),
            sheets,
            problems,
            no_sheet: status != ReplyStatus::Quarantined && !any_form && !any_sheet_problem,
            download_link: false,
            link_service: String::new(),
            annotated_files: attachments.iter().map(|a| a.file_name.clone()).collect(),
            sos_name: self.inner.identity.name.clone(),
            sos_address: self.inner.identity.address.clone(),
            cutoff_note: msg::cutoff_note(self.inner.rule.as_str()).to_string(),
        };
        (view, attachments)
    }
}

/// What the CPU stage learned about a message.
/// What [`Intake::record`] did with a message.
enum Recorded {
    /// Its records are written (not yet committed).
    Filed(Outcome),
    /// Its key is recorded already: nothing was written.
    AlreadyThere,
}

struct Analysis {
    parsed: ParsedMessage,
    class: Classification,
    batch: calendar::Batch,
    files: Vec<FileResult>,
    /// What the mail says about the conversation it belongs to.
    facts: conversation::Facts,
}

/// One attachment, as far as the pipeline is concerned.
#[derive(Clone)]
enum FileResult {
    /// A workbook holding one or more forms, each checked.
    Sheets {
        /// Decoded name (with its path inside a zip or forwarded mail).
        name: String,
        /// The bytes (stored as a blob when filed; annotated on errors).
        bytes: Vec<u8>,
        /// SHA-256 of the bytes.
        sha256: String,
        /// Each form with its check.
        forms: Vec<(RequestSheet, validation::Checked)>,
    },
    /// A file that should have been a sheet but could not be read.
    Problem(ProblemView),
    /// A file we do not take (a .docx, a PDF); listed, not a refusal.
    Unsupported(ProblemView),
}

impl FileResult {
    /// The outcome label of this attachment in `/metrics`.
    fn outcome(&self) -> &str {
        match self {
            FileResult::Sheets { forms, .. }
                if forms
                    .iter()
                    .any(|(_, c)| c.findings.iter().any(|x| x.is_error())) =>
            {
                "sheet_with_errors"
            }
            FileResult::Sheets { .. } => "sheet",
            FileResult::Problem(p) | FileResult::Unsupported(p) => &p.kind,
        }
    }

    fn summary(&self) -> serde_json::Value {
        match self {
            FileResult::Sheets {
                name,
                sha256,
                forms,
                ..
            } => serde_json::json!({
                "file": name, "sha256": sha256, "kind": "sheet",
                "forms": forms.iter().map(|(f, c)| serde_json::json!({
                    "sheet": f.sheet, "errors": c.findings.iter().filter(|x| x.is_error()).count(),
                    "warnings": c.findings.iter().filter(|x| !x.is_error()).count(),
                })).collect::<Vec<_>>(),
            }),
            FileResult::Problem(p) | FileResult::Unsupported(p) => {
                serde_json::json!({"file": p.file_name, "kind": p.kind})
            }
        }
    }
}

/// One filed form, or one refused file.
#[derive(Clone)]
struct Filed {
    file_name: String,
    sheet_name: String,
    sheet_count: usize,
    /// Index of its file in `Analysis::files`.
    bytes_index: Option<usize>,
    /// Why the batch date (words).
    batch_reason: String,
    checked: validation::Checked,
    /// Validation's findings plus the queue's.
    findings: Vec<Finding>,
    /// None for a refused file.
    outcome: Option<FilingOutcome>,
}

impl Filed {
    fn problem(p: &ProblemView) -> Filed {
        Filed {
            file_name: p.file_name.clone(),
            sheet_name: String::new(),
            sheet_count: 0,
            bytes_index: None,
            batch_reason: String::new(),
            checked: validation::Checked {
                institution: Default::default(),
                lines: Vec::new(),
                findings: Vec::new(),
            },
            findings: Vec::new(),
            outcome: None,
        }
    }

    /// Filed into review.
    fn accepted(&self) -> bool {
        self.outcome
            .as_ref()
            .is_some_and(|o| o.status == Status::UnderReview && !o.refused_because_completed)
    }
}

fn disposition_of(filed: &[Filed]) -> Disposition {
    let accepted = filed.iter().filter(|f| f.accepted()).count();
    let refused = filed.len() - accepted;
    match (accepted, refused) {
        (a, 0) if a > 0 => Disposition::Accepted,
        (a, _) if a > 0 => Disposition::Partial,
        _ => Disposition::Rejected,
    }
}

fn display_name(a: &message::Attachment) -> String {
    if a.path.is_empty() {
        a.filename
            .clone()
            .unwrap_or_else(|| msg::UNNAMED_FILE.to_string())
    } else {
        a.path.clone()
    }
}

/// Why a message could not be analysed at all.
#[derive(Debug)]
enum AnalysisError {
    /// The message's reader failed on it: it cannot be read safely.
    Unreadable(ReaderFailure),
    /// No reader process could be started (not the message's fault).
    ReadersUnavailable(ReaderFailure),
}

impl From<ReaderFailure> for AnalysisError {
    fn from(failure: ReaderFailure) -> Self {
        if failure.is_unavailable() {
            AnalysisError::ReadersUnavailable(failure)
        } else {
            AnalysisError::Unreadable(failure)
        }
    }
}

impl AnalysisError {
    fn into_intake(self) -> IntakeError {
        match self {
            AnalysisError::Unreadable(f) => IntakeError::Unreadable(f.to_string()),
            // Like a full disk: the machine is short of something now.
            AnalysisError::ReadersUnavailable(f) => IntakeError::Storage(anyhow::anyhow!(f)),
        }
    }
}

/// Reads and checks every form of a sheet attachment, adding the
/// mail-level check (the sheet's 都道府県 is the sender's). A workbook whose
/// reader failed is refused as unreadable.
fn read_sheet(
    readers: &ReaderPool,
    a: &message::Attachment,
    name: &str,
    sender: Prefecture,
    policy: &Policy,
) -> Result<FileResult, AnalysisError> {
    let read = match readers.read_workbook(&a.bytes) {
        Ok(read) => read,
        Err(failure) if failure.is_unavailable() => {
            return Err(AnalysisError::ReadersUnavailable(failure));
        }
        Err(failure) => {
            tracing::warn!(file = name, sha256 = %a.sha256, %failure, "attachment refused as unreadable");
            return Ok(FileResult::Problem(ProblemView {
                file_name: name.to_string(),
                kind: crate::messages::readers::FILE_KIND.into(),
                message: crate::messages::readers::file_unreadable().into(),
            }));
        }
    };
    Ok(match read {
        Ok(book) => {
            let forms = book
                .forms
                .into_iter()
                .map(|mut form| {
                    let cleaned = form.strip_controls();
                    let mut checked = validation::check(&form, policy);
                    checked
                        .findings
                        .extend(cleaned.iter().map(|cell| control_characters(*cell)));
                    if let Some(f) = validation::prefecture_mismatch(
                        &form,
                        &checked,
                        sender,
                        validation::FiledBy::Mail,
                    ) {
                        checked.findings.push(f);
                    }
                    (form, checked)
                })
                .collect();
            FileResult::Sheets {
                name: name.to_string(),
                bytes: a.bytes.clone(),
                sha256: a.sha256.clone(),
                forms,
            }
        }
        Err(e) => {
            let kind = match e {
                sheet::ReadError::Encrypted => "encrypted",
                sheet::ReadError::TooLarge(_) => "too_large",
                sheet::ReadError::NoForm => "no_form",
                _ => "unreadable",
            };
            FileResult::Problem(ProblemView {
                file_name: name.to_string(),
                kind: kind.into(),
                message: crate::messages::findings::read_error(&e),
            })
        }
    })
}

/// True when the sheets of a mail so classified are read and filed: a
/// registered, authenticated prefecture sender's mail that is not automatic,
/// or that a machine only passed on (auto-forwarded; filed, never
/// answered). Bounces, auto-replies and our own replies are never read.
fn files_sheets(class: &Classification) -> bool {
    match (&class.sender, &class.policy) {
        (SenderClass::Prefecture { .. }, AnswerPolicy::Never(NeverReason::AutoGenerated(r))) => {
            r.is_forwarded()
        }
        (SenderClass::Prefecture { .. }, _) => true,
        _ => false,
    }
}

/// True for automatic mail that is kept but neither filed nor listed for
/// release: everything automatic except forwarded mail from a registered
/// address (filed when authenticated, quarantined for an admin otherwise).
fn is_ignored(class: &Classification) -> bool {
    let AnswerPolicy::Never(NeverReason::AutoGenerated(reason)) = &class.policy else {
        return false;
    };
    let registered = matches!(
        class.sender,
        SenderClass::Prefecture { .. } | SenderClass::UnauthenticatedPrefecture { .. }
    );
    !(registered && reason.is_forwarded())
}

/// A warning that control characters were removed from `cell`.
fn control_characters(cell: sheet::CellPos) -> Finding {
    Finding {
        severity: Severity::Warning,
        code: msg::CONTROL_CHARACTERS_CODE.into(),
        cell: Some(cell.a1()),
        field: String::new(),
        value: String::new(),
        message: msg::CONTROL_CHARACTERS.into(),
        fact: None,
    }
}

/// Messages set aside by this process, for the logs.
static SET_ASIDE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// True for a failure of the database or the disk rather than of this
/// message: the connection is refused, cut or timed out, the server is
/// shutting down or out of resources, a transaction must be retried
/// (PostgreSQL classes 08, 53, 57, 40; SQLite busy and locked), or the
/// disk failed. Such failures never count towards setting a message aside.
fn is_outage(err: &IntakeError) -> bool {
    let e = match err {
        IntakeError::Storage(_) => return true,
        IntakeError::Database(e) => e,
        IntakeError::Internal(_) | IntakeError::Unreadable(_) => return false,
    };
    e.chain().any(|cause| {
        if cause.downcast_ref::<std::io::Error>().is_some() {
            return true;
        }
        match cause.downcast_ref::<sqlx::Error>() {
            Some(sqlx::Error::Database(db)) => {
                let code = db.code().unwrap_or_default();
                ["08", "53", "57", "40"].iter().any(|c| code.starts_with(c))
                    || matches!(code.as_ref(), "5" | "6" | "261" | "262" | "517")
            }
            Some(
                sqlx::Error::Io(_)
                | sqlx::Error::Tls(_)
                | sqlx::Error::Protocol(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::WorkerCrashed,
            ) => true,
            _ => false,
        }
    })
}

/// True for a database error that retrying the same message cannot fix: the
/// data itself is refused (PostgreSQL classes 22 data exception and 23
/// integrity violation; SQLite's constraint and mismatch errors).
fn is_permanent_db_error(err: &IntakeError) -> bool {
    let IntakeError::Database(e) = err else {
        return false;
    };
    e.chain().any(|cause| {
        let Some(sqlx::Error::Database(db)) = cause.downcast_ref::<sqlx::Error>() else {
            return false;
        };
        let code = db.code().unwrap_or_default();
        code.starts_with("22")
            || code.starts_with("23")
            || matches!(
                db.kind(),
                sqlx::error::ErrorKind::UniqueViolation
                    | sqlx::error::ErrorKind::ForeignKeyViolation
                    | sqlx::error::ErrorKind::NotNullViolation
                    | sqlx::error::ErrorKind::CheckViolation
            )
    })
}

fn sheet_view(f: &Filed, outcome: &FilingOutcome) -> SheetView {
    let accepted = f.accepted();
    SheetView {
        file_name: f.file_name.clone(),
        sheet_name: f.sheet_name.clone(),
        sheet_count: f.sheet_count,
        receipt: Some(outcome.receipt.clone()),
        accepted,
        state: msg::sheet_state(accepted, outcome.refused_because_completed).to_string(),
        institution_name: f.checked.institution.name.clone(),
        institution_code: f.checked.institution.code.clone(),
        items: f.checked.requested().map(ItemView::from_line).collect(),
        batch_date: crate::messages::calendar::date(outcome.batch_date),
        batch_reason: f.batch_reason.clone(),
        errors: f
            .findings
            .iter()
            .filter(|x| x.is_error())
            .map(FindingView::from_finding)
            .collect(),
        warnings: f
            .findings
            .iter()
            // Supersession has its own paragraph in the reply.
            .filter(|x| !x.is_error() && x.code != crate::messages::queue::SUPERSEDES_CODE)
            .map(FindingView::from_finding)
            .collect(),
        superseded: outcome.superseded.clone(),
    }
}
