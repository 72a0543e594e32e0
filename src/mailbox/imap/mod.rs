//! The IMAP source: watches the SOS inbox on an IMAP server and hands each
//! message to the same pipeline as the Maildir source, then files it into a
//! folder by outcome.
//!
//! # How it works
//!
//! - [`connect`]: implicit TLS, STARTTLS or (only when configured) plain;
//!   rustls with a private CA file; AUTHENTICATE PLAIN or LOGIN; errors in
//!   plain Japanese ([`ImapError`]).
//! - [`checkpoint`]: per mailbox, the UIDVALIDITY and the last UID handled.
//!   On start the watcher catches up on every UID above it; a changed
//!   UIDVALIDITY rescans the whole mailbox and the pipeline's Message-ID +
//!   SHA-256 key keeps anything from being filed twice.
//! - [`watch`]: one message at a time (`UID FETCH n BODY.PEEK[]`, receipt
//!   time = INTERNALDATE) → [`MessageSink::process`] → checkpoint → move
//!   (MOVE, or COPY + `\Deleted` + UID EXPUNGE; never a plain delete).
//!   Then IDLE (re-issued well before 29 minutes), or polling when the server
//!   has no IDLE. Any failure reconnects with capped exponential back-off.
//! - [`lease`]: several gateways on one database; exactly one watches.
//!
//! # API
//!
//! [`Watcher::new`]`(&ImapConfig, Db, sink)` then [`Watcher::run`]`(shutdown)`;
//! [`Watcher::status`] reports the phase (for tests and diagnostics).
//! `sos-intake imap check` uses [`check::check`].

pub mod check;
pub mod checkpoint;
pub mod connect;
pub mod lease;
pub mod utf7;
pub mod watch;

pub use connect::{Endpoint, ImapError, Password};
pub use watch::{Phase, Status, WatchOptions, Watcher};

use chrono::{DateTime, Utc};
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
        received_at: DateTime<Utc>,
    ) -> impl Future<Output = Result<Destination, SinkError>> + Send;
}
