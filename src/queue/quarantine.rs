//! Mail held in quarantine (`quarantine` beside `mail_messages`): from
//! senders not in the directory, or from registered addresses our mail
//! server did not authenticate, until an admin releases it. The pipeline
//! puts mail here; this module is what the admin's page reads and marks.

use super::db::parse_time;
use anyhow::Context;
use chrono::{DateTime, Utc};
use sqlx::{AnyConnection, Row};

/// One held mail as the quarantine page lists it.
#[derive(Clone, Debug)]
pub struct HeldMail {
    /// The `mail_messages` id (the page and the routes name it by this).
    pub mail_message_id: i64,
    /// The sender's address as written.
    pub from_address: String,
    /// The decoded subject.
    pub subject: String,
    /// Why it was held, for staff.
    pub reason: String,
    /// `unknown_sender`, `unauthenticated_sender` or `no_address`.
    pub kind: String,
    /// The prefecture a registered address claims.
    pub prefecture: Option<String>,
    /// When the mail arrived.
    pub received_at: DateTime<Utc>,
}

/// Why and from whom a mail is held, as [`hold`] stores it.
#[derive(Clone, Debug)]
pub struct Hold<'a> {
    /// The `mail_messages` id of the held mail.
    pub mail_message_id: i64,
    /// The sender's address as written, empty when there is none.
    pub from_address: &'a str,
    /// Why it is held, for staff.
    pub reason: &'a str,
    /// `unknown_sender`, `unauthenticated_sender` or `no_address`.
    pub kind: &'a str,
    /// The prefecture a registered address claims.
    pub prefecture: Option<&'a str>,
}

/// Lists a mail in quarantine (the pipeline, inside the transaction that
/// records the message).
pub async fn hold(conn: &mut AnyConnection, h: &Hold<'_>) -> anyhow::Result<()> {
    sqlx::query("INSERT INTO quarantine (mail_message_id, from_address, reason, at, kind, prefecture) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(h.mail_message_id)
        .bind(h.from_address)
        .bind(h.reason)
        .bind(super::db::now_text())
        .bind(h.kind)
        .bind(h.prefecture)
        .execute(&mut *conn)
        .await
        .context("cannot list the message in quarantine")?;
    Ok(())
}

/// The held mail not released yet, latest held first, at most `limit`.
pub async fn held(conn: &mut AnyConnection, limit: i64) -> anyhow::Result<Vec<HeldMail>> {
    let rows = sqlx::query(
        "SELECT q.mail_message_id, q.from_address, q.reason, q.kind, q.prefecture, m.subject, m.received_at FROM quarantine q \
         JOIN mail_messages m ON m.id = q.mail_message_id WHERE q.released_at IS NULL ORDER BY q.at DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(&mut *conn)
    .await
    .context("cannot list the quarantine")?;
    rows.iter()
        .map(|r| {
            Ok(HeldMail {
                mail_message_id: r.try_get("mail_message_id")?,
                from_address: r.try_get("from_address")?,
                subject: r.try_get("subject")?,
                reason: r.try_get("reason")?,
                kind: r.try_get("kind")?,
                prefecture: r.try_get("prefecture")?,
                received_at: parse_time(&r.try_get::<String, _>("received_at")?)?,
            })
        })
        .collect()
}

/// What a release needs of one held mail.
#[derive(Clone, Debug)]
pub struct HeldSource {
    /// The sender's address as written.
    pub from_address: String,
    /// Whether (when) it was released already.
    pub released_at: Option<String>,
    /// SHA-256 of the raw bytes (a blob).
    pub raw_sha256: String,
    /// When the mail arrived (the release files it as of then).
    pub received_at: DateTime<Utc>,
}

/// The held mail `mail_message_id`, released or not; `None` when it was
/// never held.
pub async fn source(
    conn: &mut AnyConnection,
    mail_message_id: i64,
) -> anyhow::Result<Option<HeldSource>> {
    let row = sqlx::query(
        "SELECT q.from_address, q.released_at, m.raw_sha256, m.received_at FROM quarantine q \
         JOIN mail_messages m ON m.id = q.mail_message_id WHERE q.mail_message_id = $1",
    )
    .bind(mail_message_id)
    .fetch_optional(&mut *conn)
    .await
    .context("cannot read the quarantined mail")?;
    row.map(|r| {
        Ok(HeldSource {
            from_address: r.try_get("from_address")?,
            released_at: r.try_get("released_at")?,
            raw_sha256: r.try_get("raw_sha256")?,
            received_at: parse_time(&r.try_get::<String, _>("received_at")?)?,
        })
    })
    .transpose()
}

/// Marks the held mail `mail_message_id` released by `actor` at `at`
/// (stored time text), so the page no longer lists it.
pub async fn mark_released(
    conn: &mut AnyConnection,
    mail_message_id: i64,
    actor: &str,
    at: &str,
) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE quarantine SET released_at = $1, released_by = $2 WHERE mail_message_id = $3",
    )
    .bind(at)
    .bind(actor)
    .bind(mail_message_id)
    .execute(&mut *conn)
    .await
    .context("cannot mark the quarantined mail released")?;
    Ok(())
}
