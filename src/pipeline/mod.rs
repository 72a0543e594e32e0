//! The intake pipeline: one received message in, queue records and one
//! queued reply out. Every mailbox source (Maildir, `ingest`, IMAP) calls
//! [`Intake::process`] and nothing else.

use std::time::Duration;

mod analyse;
mod batch;
mod converse;
pub mod gmis;
mod outcome;
mod record;
mod reply;

use analyse::{Analysis, AnalysisError, FileResult, is_ignored};
pub use batch::{Arrived, Ready, Received};
pub use outcome::{Disposition, IntakeError, Outcome};
use record::Filed;

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
use crate::replies::SheetFindings;
use crate::replies::{
    self, FindingView, Identity, ItemView, ProblemView, ReplyAttachment, ReplyStatus, ReplyView,
    SheetView, Thread,
};
use crate::request::Status;
use crate::sheet::{self, RequestSheet};
use crate::unanswered::Reason;
use crate::validation::{self, Finding, Policy, Severity};
use anyhow::Context;
use chrono::{DateTime, FixedOffset, Utc};
use serde::Serialize;
use std::sync::Arc;

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

    /// How many waiting messages a source hands over at once (`[intake]
    /// batch_size`, at least 1).
    pub fn batch_size(&self) -> usize {
        self.inner.intake.batch_size.clamp(1, 1000)
    }

    /// How long one message may keep a worker busy before the worker counts
    /// as stuck (`[intake] stall_secs`).
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
        let span = crate::observe::logging::message_span(&HeaderPeek::of(raw).message_id, raw);
        let result = self
            .process_counted(raw, received_at)
            .instrument(span)
            .await;
        outcome::count(&result, started.elapsed());
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
                // The count may have been committed before the connection
                // broke (the answer is lost, not the commit): taken back at
                // the next start, so an outage never sets a message aside.
                self.remember_uncounted(&sha, uncounted + 1);
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

    /// Files an analysed message in its own transaction (see
    /// [`Intake::record`]).
    async fn commit(
        &self,
        work: &Analysis,
        raw_sha256: &str,
        received_at: DateTime<FixedOffset>,
    ) -> Result<Outcome, IntakeError> {
        let turn = self.inner.db.write_turn().await;
        let mut tx = self.inner.db.begin().await.map_err(IntakeError::Database)?;
        let mut staged = queue::Staged::new();
        let ids = self
            .insert_messages(&mut tx, &[(work, raw_sha256, received_at)])
            .await?;
        match ids.first().copied().flatten() {
            None => {
                drop(tx);
                drop(turn);
                self.already_processed(work, raw_sha256).await
            }
            Some(id) => {
                let filed = self
                    .record((&mut tx, &mut staged), id, work, raw_sha256, received_at)
                    .await?;
                let mut filed = [filed];
                self.close((&mut tx, &mut staged), &mut filed).await?;
                tx.commit()
                    .await
                    .context("cannot commit the message")
                    .map_err(IntakeError::Database)?;
                drop(turn);
                let [(outcome, _)] = filed;
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
