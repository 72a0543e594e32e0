//! What the pipeline reports about a message: its [`Disposition`], the
//! [`Outcome`] a mailbox source acts on, and the [`IntakeError`] that says
//! whether trying again may help.

use super::*;

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

/// Counts the result of `Intake::process` in the monitor: the disposition
/// of an outcome, or the kind of failure.
pub(crate) fn count(result: &Result<Outcome, IntakeError>, took: std::time::Duration) {
    let monitor = crate::observe::monitor::global();
    match result {
        Ok(outcome) => monitor.message_processed(outcome.disposition.as_str(), took),
        Err(e) => monitor.message_failed(e.is_temporary(), took),
    }
}
