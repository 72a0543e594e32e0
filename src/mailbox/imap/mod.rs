//! The IMAP source: watches the SOS inbox on an IMAP server and hands each
//! message to the same pipeline as the Maildir source, then files it into a
//! folder by outcome.
//!
//! # How it works
//!
//! - [`connect`] ([`crate::imap_client`]): implicit TLS, STARTTLS or (only
//!   when configured) plain; rustls with a private CA file; AUTHENTICATE
//!   PLAIN or LOGIN; errors as values ([`ImapError`], worded in
//!   `messages::imap`).
//! - [`checkpoint`]: per mailbox, the UIDVALIDITY and the last UID handled.
//!   On start the watcher catches up on every UID above it; a changed
//!   UIDVALIDITY rescans the whole mailbox and the pipeline's Message-ID +
//!   SHA-256 key keeps anything from being filed twice.
//! - [`watch`]: the messages waiting above the checkpoint in batches of up
//!   to `[intake] batch_size` (each fetched alone, `UID FETCH n
//!   BODY.PEEK[]`, receipt time = INTERNALDATE) → [`MessageSink::process_batch`]
//!   (one commit files the batch) → checkpoint of the batch → moves, one
//!   per folder (MOVE, or COPY + `\Deleted` + UID EXPUNGE; never a plain
//!   delete). A message arriving alone goes at once, alone.
//!   Then IDLE (re-issued well before 29 minutes), or polling when the server
//!   has no IDLE. Any failure reconnects with capped exponential back-off.
//! - [`lease`]: several gateways on one database; exactly one watches.
//!   The lease and the checkpoint are keyed by `user@host:port/mailbox`, so
//!   every gateway must name the server the same way in `[imap]`.
//!
//! # API
//!
//! [`Watcher::new`]`(&ImapConfig, Db, sink)` then [`Watcher::run`]`(shutdown)`
//! (or [`Watcher::run_once`] to catch up and return);
//! [`Watcher::status`] reports the phase (for tests and diagnostics).
//! `sos-intake serve` calls [`serve_task`] (and [`catch_up_once`] for
//! `--once`); `sos-intake imap check` (in `commands::imap`) uses the same client. The pipeline's
//! `Intake` is a [`MessageSink`].

pub mod checkpoint;
pub mod lease;
pub mod utf7;
pub mod watch;

/// The IMAP client (TLS, login, errors) the source and `imap check` use.
pub use crate::imap_client as connect;
pub use connect::{Endpoint, ImapError, Password};
pub use watch::{Phase, Status, WatchOptions, Watcher};

pub use crate::pipeline::Arrived;
use crate::pipeline::{Disposition, Intake};
use chrono::{DateTime, FixedOffset};
use std::future::Future;

/// Where a handled message goes on the server, by the pipeline's outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Destination {
    /// Filed and answered (accepted or partly accepted), or already handled.
    Done,
    /// Answered with an error report (nothing filed), or the pipeline gave
    /// up on it for good.
    Error,
    /// Quarantined (unknown sender) or ignored (auto-generated mail).
    Quarantine,
}

/// Why the pipeline did not handle a message.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// Worth retrying later (database down, disk full): the message stays
    /// in the inbox, unhandled, and the watcher backs off.
    #[error("temporary failure: {0:#}")]
    Temporary(anyhow::Error),
    /// Retrying will not help: the message goes to the error folder (kept,
    /// never deleted) and the failure is logged.
    #[error("permanent failure: {0:#}")]
    Permanent(anyhow::Error),
}

/// The pipeline as the IMAP source sees it: one raw message and the time it
/// reached the mailbox in, where to file it out. Implemented for the mail
/// pipeline's `Intake`; the database transaction must have committed when
/// `process` returns `Ok`.
pub trait MessageSink: Send + Sync {
    /// Handles one message.
    fn process(
        &self,
        raw: Vec<u8>,
        received_at: DateTime<FixedOffset>,
    ) -> impl Future<Output = Result<Destination, SinkError>> + Send;

    /// Handles several messages fetched in one catch-up pass, with the
    /// same result for each as [`MessageSink::process`] in turn; the
    /// results come back in the order of `batch`. Every `Ok` has
    /// committed when this returns. By default, one message at a time.
    fn process_batch(
        &self,
        batch: Vec<Arrived>,
    ) -> impl Future<Output = Vec<Result<Destination, SinkError>>> + Send {
        async move {
            let mut out = Vec::with_capacity(batch.len());
            for a in batch {
                out.push(self.process(a.raw, a.received_at).await);
            }
            out
        }
    }

    /// How many waiting messages the watcher hands over at most in one
    /// [`MessageSink::process_batch`] (at least 1).
    fn batch_size(&self) -> usize {
        1
    }
}

/// The IMAP watcher as a task of `sos-intake serve` for `[imap]` in
/// `settings`: the pipeline recording `imap` as the source, fetches capped
/// at the pipeline's message size limit, until `shutdown`.
pub fn serve_task(
    imap: &crate::config::ImapConfig,
    settings: &crate::config::Settings,
    db: crate::queue::Db,
    intake: Intake,
    shutdown: crate::base::shutdown::Shutdown,
) -> anyhow::Result<futures::future::BoxFuture<'static, anyhow::Result<()>>> {
    let options = WatchOptions {
        max_fetch_bytes: settings.config.mail.max_message_bytes.saturating_add(1),
        stall_after: intake.stall_after(),
        ..WatchOptions::from_config(imap)
    };
    let watcher = Watcher::new(imap, db, intake.with_source("imap"))?.with_options(options);
    tracing::info!(mailbox = %watcher.key(), "watching the IMAP mailbox");
    follow_status(watcher.key().to_string(), watcher.status());
    Ok(Box::pin(async move { watcher.run(shutdown).await }))
}

/// Mirrors an IMAP watcher's published status into the monitor until the
/// watcher is dropped (a task on the current runtime).
fn follow_status(name: String, mut status: tokio::sync::watch::Receiver<Status>) {
    tokio::spawn(async move {
        let mut sessions = 0;
        let mut last_phase = None;
        loop {
            let now = status.borrow_and_update().clone();
            let monitor = crate::observe::monitor::global();
            for _ in sessions..now.sessions {
                monitor.imap_session(&name);
            }
            sessions = sessions.max(now.sessions);
            let phase = now.phase;
            if phase == Phase::Backoff && last_phase != Some(Phase::Backoff) {
                monitor.imap_reconnect(&name);
            }
            last_phase = Some(phase);
            monitor.update_source(&name, "imap", |s| imap_state(s, phase, &now));
            if status.changed().await.is_err() {
                break;
            }
        }
    });
}

/// The source state for a watcher in `phase`.
fn imap_state(s: &mut crate::observe::monitor::SourceState, phase: Phase, status: &Status) {
    s.phase = format!("{phase:?}").to_lowercase();
    s.standby = phase == Phase::Standby;
    s.connected = matches!(phase, Phase::CatchingUp | Phase::Idle | Phase::Polling);
    if s.connected {
        s.last_success = Some(chrono::Utc::now());
    }
    if status.last_error.is_some() {
        s.last_error.clone_from(&status.last_error);
    }
}

/// `sos-intake serve --once` with `[imap]`: catch up on the mailbox once
/// (see [`Watcher::run_once`]); returns how many messages were handled.
pub async fn catch_up_once(
    imap: &crate::config::ImapConfig,
    settings: &crate::config::Settings,
    db: crate::queue::Db,
    intake: Intake,
) -> anyhow::Result<u64> {
    let options = WatchOptions {
        max_fetch_bytes: settings.config.mail.max_message_bytes.saturating_add(1),
        stall_after: intake.stall_after(),
        ..WatchOptions::from_config(imap)
    };
    let watcher = Watcher::new(imap, db, intake.with_source("imap"))?.with_options(options);
    watcher.run_once().await
}

impl Destination {
    /// The folder for a pipeline disposition; an already processed message
    /// goes where it went the first time.
    pub fn for_disposition(disposition: Disposition, first: Disposition) -> Destination {
        match disposition {
            Disposition::Accepted | Disposition::Partial => Destination::Done,
            Disposition::Rejected | Disposition::Unprocessable => Destination::Error,
            Disposition::Quarantined | Disposition::Ignored => Destination::Quarantine,
            Disposition::AlreadyProcessed => match first {
                // A record of "already processed" the first time cannot
                // exist; file it with the handled mail.
                Disposition::AlreadyProcessed => Destination::Done,
                other => Destination::for_disposition(other, other),
            },
        }
    }
}

impl Destination {
    /// The folder for a processed message: by its disposition, except that
    /// a mail kept as correspondence (連絡) or linked as a password notice
    /// was handled as intended though nothing was filed, so it goes with
    /// the handled mail rather than into the error folder.
    pub fn for_outcome(outcome: &crate::pipeline::Outcome) -> Destination {
        use crate::unanswered::Reason;
        match outcome.reason {
            Some(Reason::Correspondence | Reason::PasswordNotice) => Destination::Done,
            _ => Destination::for_disposition(outcome.disposition, outcome.first_disposition),
        }
    }
}

/// The mail pipeline as the IMAP source's sink: its transaction has
/// committed when `process` returns.
impl MessageSink for Intake {
    async fn process(
        &self,
        raw: Vec<u8>,
        received_at: DateTime<FixedOffset>,
    ) -> Result<Destination, SinkError> {
        sink_result(Intake::process(self, &raw, received_at).await)
    }

    /// Group intake ([`Intake::process_batch`]): one commit counts the
    /// batch, one files it; a message tried before still goes alone.
    async fn process_batch(&self, batch: Vec<Arrived>) -> Vec<Result<Destination, SinkError>> {
        Intake::process_batch(self, &batch)
            .await
            .into_iter()
            .map(sink_result)
            .collect()
    }

    /// `[intake] batch_size`.
    fn batch_size(&self) -> usize {
        Intake::batch_size(self)
    }
}

/// The pipeline's result of one message as the watcher's.
fn sink_result(
    result: Result<crate::pipeline::Outcome, crate::pipeline::IntakeError>,
) -> Result<Destination, SinkError> {
    match result {
        Ok(outcome) => Ok(Destination::for_outcome(&outcome)),
        Err(e) if e.is_temporary() => Err(SinkError::Temporary(e.into())),
        Err(e) => Err(SinkError::Permanent(e.into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_by_outcome() {
        use Disposition::*;
        let cases = [
            (Accepted, Accepted, Destination::Done),
            (Partial, Partial, Destination::Done),
            (Rejected, Rejected, Destination::Error),
            (Quarantined, Quarantined, Destination::Quarantine),
            (Ignored, Ignored, Destination::Quarantine),
            (AlreadyProcessed, Rejected, Destination::Error),
            (AlreadyProcessed, Quarantined, Destination::Quarantine),
        ];
        for (disposition, first, folder) in cases {
            assert_eq!(
                Destination::for_disposition(disposition, first),
                folder,
                "{disposition:?} (first {first:?})"
            );
        }
    }

    #[test]
    fn correspondence_and_password_notices_go_with_the_handled_mail() {
        use crate::unanswered::Reason;
        let outcome = |disposition, first, reason| crate::pipeline::Outcome {
            disposition,
            first_disposition: first,
            mail_message_id: Some(1),
            message_id: None,
            raw_sha256: String::new(),
            receipts: Vec::new(),
            reply: None,
            reply_note: String::new(),
            reason,
        };
        use Disposition::*;
        let cases = [
            (
                Rejected,
                Rejected,
                Some(Reason::Correspondence),
                Destination::Done,
            ),
            (
                Rejected,
                Rejected,
                Some(Reason::PasswordNotice),
                Destination::Done,
            ),
            (
                AlreadyProcessed,
                Rejected,
                Some(Reason::Correspondence),
                Destination::Done,
            ),
            (Rejected, Rejected, None, Destination::Error),
            (
                Rejected,
                Rejected,
                Some(Reason::RateLimited),
                Destination::Error,
            ),
            (
                Ignored,
                Ignored,
                Some(Reason::AutoGenerated),
                Destination::Quarantine,
            ),
        ];
        for (disposition, first, reason, folder) in cases {
            assert_eq!(
                Destination::for_outcome(&outcome(disposition, first, reason)),
                folder,
                "{disposition:?} {reason:?}"
            );
        }
    }
}
