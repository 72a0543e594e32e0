//! The queue: one store for sheet requests and G-MIS requests, each in the
//! batch (対応日) the cut-off rule gave it, with item lines, findings, status,
//! links to the raw bytes, and an audit history of every change.
//!
//! # Storage
//!
//! sqlx's `Any` driver over SQLite (default, `sqlite://./data/sos-intake.db`,
//! created and migrated on first use, WAL) or PostgreSQL (`postgres://…`),
//! same code paths. Schema: `migrations/{sqlite,postgres}/0001_queue.sql`.
//! A 受付完了 record (and its item lines) is frozen by database triggers on
//! both engines, so no code path — ours or a hand-typed `UPDATE` — can
//! change it. The audit history is append-only, blobs never change.
//!
//! # API (stable; the mail pipeline and the web UI build on it)
//!
//! Connecting and transactions ([`db`]):
//! - [`Db::connect`]`(url) -> Db` connects and migrates;
//!   [`Db::begin`]`() -> Tx` starts a write transaction (SQLite:
//!   `BEGIN IMMEDIATE`), [`Db::begin_read`] a read snapshot, [`Db::pool`].
//! - Every operation below takes `conn: &mut AnyConnection`; pass `&mut tx`
//!   for a [`Tx`]. Each runs in its own nested transaction (a savepoint
//!   inside yours), so it is atomic alone, and several of them (a message
//!   row, the filing of each sheet, the reply row) commit or roll back
//!   together when you commit or drop your `Tx`.
//!
//! Raw bytes ([`blobs`]): [`blobs::put`]`(conn, bytes) -> sha256 hex`
//! (idempotent), [`blobs::get`]`(conn, sha) -> Option<Vec<u8>>`.
//!
//! Filing ([`filing`]):
//! - [`file_sheet`]`(conn, &SheetFiling) -> FilingOutcome` files one checked
//!   sheet: receipt number (受付番号 `SOS-YYYYMMDD-NNNNNN`), status
//!   (エラー有り / 都道府県・国確認中), G-MIS-registered check, supersession of
//!   an earlier sheet for the same institution and item in the same batch
//!   (or refusal when that one is 受付完了), earlier distributions. Filing
//!   the same input again (same message SHA-256 + attachment SHA-256 + sheet
//!   name) returns the first outcome with `already_filed = true`.
//! - [`file_sheet_staged`]`(tx, &mut Staged, &SheetFiling)` does the same
//!   inside the caller's transaction, holding the rows nothing reads back
//!   in a [`Staged`] that the caller flushes before its commit ([`staged`]:
//!   one statement per table for a whole batch of messages).
//! - [`import_gmis`]`(conn, &GmisFiling) -> GmisImported` files or updates one
//!   G-MIS request (key レコードID), never touching a 受付完了 one, and
//!   remembers the institution as G-MIS-registered.
//!
//! Reading ([`listing`], [`records`]):
//! - [`list`]`(conn, &ListFilter) -> Listing` (summaries, total, counts per
//!   status) filtered by batch date, prefecture, status, source, item and a
//!   search on institution name or code, paged.
//! - [`get`]`(conn, id) -> RequestRecord` (everything: institution, item
//!   lines with both decisions, findings, history, superseded versions, raw
//!   references); [`resolve`]`(conn, "123" | "SOS-…") -> id`.
//!
//! Staff actions ([`decisions`]), each audited with actor and reason:
//! - [`set_mhlw_decision`]`(conn, id, item, &MhlwDecision, actor, why)`,
//! - [`complete`]`(conn, id, actor)` → 受付完了 (then frozen),
//! - [`move_batch`]`(conn, id, new_date, actor, reason)`.
//!
//! Batch exports ([`review`], written by the web UI's owner): the approved
//! lines of a batch's 受付完了 records for the 配送先リスト and summaries.
//!
//! The queue is the one module that issues SQL (issue 16): the pipeline
//! ([`mail_messages`], [`quarantine::hold`]), the outbox sender
//! ([`outbox`]), the web UI, the operations commands and the IMAP watcher
//! call named functions here for their own rows too — staff [`accounts`], [`sessions`] and
//! [`signin_failures`], the [`quarantine`], the outbox page
//! ([`outbox::list_shelf`]), and the IMAP checkpoints and lease ([`imap_state`]).
//!
//! Staff actions return [`QueueError`]: the refusals an official can get
//! (in Japanese), apart from [`QueueError::Internal`] (something broke).
//! [`audit::record`] lets other modules append their own history rows.

pub mod accounts;
pub mod addresses;
pub mod attempts;
pub mod audit;
pub mod backup;
pub mod blobs;
pub mod conversation;
pub mod db;
pub mod decisions;
pub mod filing;
pub mod health;
pub mod imap_state;
pub mod listing;
pub mod mail_messages;
pub mod outbox;
pub mod overview;
pub mod quarantine;
pub mod records;
pub mod retention;
pub mod review;
pub mod senders;
pub mod sessions;
pub mod signin_failures;
pub mod staged;

pub use db::{Backend, Db, Tx, WriteTurn};
pub use decisions::{complete, move_batch, set_delivery_address, set_mhlw_decision};
pub use filing::{
    FilingOutcome, GmisChange, GmisFiling, GmisImported, SheetFiling, file_sheet,
    file_sheet_staged, import_gmis,
};
pub use listing::{ListFilter, Listing, RequestSummary, StatusCount, list, neighbours};
pub use records::{RequestRecord, SupersededVersion, get, resolve};
pub use staged::{Flushed, Staged, StagedMail};

use crate::request::Item;

/// Why a staff action on the queue was refused, or that something broke.
///
/// Its `Display` (the Japanese refusal shown to staff) is worded in
/// `src/messages/queue.rs`, not here.
#[derive(Debug)]
pub enum QueueError {
    /// No record with this id or receipt number.
    NotFound(String),
    /// The record is 受付完了 and never changes again.
    Completed {
        /// The record's receipt number.
        receipt: String,
    },
    /// Decisions and 受付完了 need a record under review (都道府県・国確認中).
    NotInReview {
        /// The record's receipt number.
        receipt: String,
        /// Its status word.
        status: String,
    },
    /// The record was replaced by a newer sheet.
    Superseded {
        /// The record's receipt number.
        receipt: String,
        /// The receipt number of the record that replaced it.
        by: String,
    },
    /// The item has no line in this request.
    ItemNotInRequest {
        /// The record's receipt number.
        receipt: String,
        /// The item asked about.
        item: Item,
    },
    /// 受付完了 needs a complete decision on every requested item.
    Undecided {
        /// The record's receipt number.
        receipt: String,
        /// The requested items without a complete decision.
        items: Vec<Item>,
    },
    /// The decision itself is not valid (negative quantity, refusal without reason).
    InvalidDecision(BadDecision),
    /// A batch move needs a reason.
    ReasonRequired,
    /// Something broke (database, I/O); not the official's fault.
    Internal(anyhow::Error),
}

/// What is wrong with a decision staff entered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BadDecision {
    /// 配布数 below zero.
    NegativeQuantity,
    /// 不承認 without a reason.
    RefusalWithoutReason,
}

impl std::error::Error for QueueError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            // Transparent, as the wrapped error's own source.
            QueueError::Internal(err) => err.source(),
            _ => None,
        }
    }
}

impl From<anyhow::Error> for QueueError {
    fn from(err: anyhow::Error) -> Self {
        QueueError::Internal(err)
    }
}

impl From<sqlx::Error> for QueueError {
    fn from(err: sqlx::Error) -> Self {
        QueueError::Internal(anyhow::Error::new(err))
    }
}

/// True when `err` is the database refusing to change a 受付完了 record
/// (the triggers of the migrations).
pub fn is_completed_violation(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Database(db) => db.message().contains("受付完了 and cannot change"),
        _ => false,
    }
}
