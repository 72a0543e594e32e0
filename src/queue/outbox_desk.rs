//! The outbox as staff see it on the outbox page: the failed mail (with a
//! resend) and the latest others, and putting a failed mail back in line.
//! Queueing and delivering are the sender's ([`crate::outbox`]).

use super::db::parse_time;
use anyhow::Context;
use chrono::{DateTime, Utc};
use sqlx::{AnyConnection, Row};

/// One outbox row as the page lists it.
#[derive(Clone, Debug)]
pub struct OutboxEntry {
    /// Row id.
    pub id: i64,
    /// The stored kind word (`reply`, `naiji`, …).
    pub kind: String,
    /// RCPT TO.
    pub recipient: String,
    /// Decoded subject.
    pub subject: String,
    /// The stored status word (`queued`, `sent`, `failed`).
    pub status: String,
    /// Attempts made so far.
    pub attempts: i64,
    /// The last answer of the relay (or the error).
    pub last_response: String,
    /// When it was queued (or queued again).
    pub created_at: DateTime<Utc>,
}

/// Which rows of the outbox a list shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shelf {
    /// Failed for good (a resend button each).
    Failed,
    /// Everything else: queued or sent.
    NotFailed,
}

/// The rows on `shelf`, newest first, at most `limit`.
pub async fn list(
    conn: &mut AnyConnection,
    shelf: Shelf,
    limit: i64,
) -> anyhow::Result<Vec<OutboxEntry>> {
    let condition = match shelf {
        Shelf::Failed => "status = 'failed'",
        Shelf::NotFailed => "status <> 'failed'",
    };
    let rows = sqlx::query(&format!(
        "SELECT id, kind, recipient, subject, status, attempts, last_response, created_at FROM outbox \
         WHERE {condition} ORDER BY id DESC LIMIT $1"
    ))
    .bind(limit)
    .fetch_all(&mut *conn)
    .await
    .context("cannot list the outbox")?;
    rows.iter()
        .map(|r| {
            Ok(OutboxEntry {
                id: r.try_get("id")?,
                kind: r.try_get("kind")?,
                recipient: r.try_get("recipient")?,
                subject: r.try_get("subject")?,
                status: r.try_get("status")?,
                attempts: r.try_get("attempts")?,
                last_response: r.try_get("last_response")?,
                created_at: parse_time(&r.try_get::<String, _>("created_at")?)?,
            })
        })
        .collect()
}

/// Puts failed mail `id` back in the queue for an attempt at `now` (stored
/// time text) with a fresh retry period: the attempts start over and its
/// queueing time becomes `now`, since the give-up time counts from it.
/// False when there is no failed mail `id`.
pub async fn requeue_failed(conn: &mut AnyConnection, id: i64, now: &str) -> anyhow::Result<bool> {
    let done = sqlx::query(
        "UPDATE outbox SET status = 'queued', attempts = 0, unconfirmed = 0, next_attempt_at = $1, created_at = $1, \
         claimed_by = NULL, claimed_until = NULL WHERE id = $2 AND status = 'failed'",
    )
    .bind(now)
    .bind(id)
    .execute(&mut *conn)
    .await
    .context("cannot put the mail back in the queue")?;
    Ok(done.rows_affected() > 0)
}
