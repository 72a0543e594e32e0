//! The `mail_messages` rows the pipeline keeps for every message it handles:
//! one row per key (Message-ID + SHA-256 of the raw bytes), inserted when a
//! message is first recorded, given its outcome in the same transaction,
//! and read back when the same bytes arrive again.
//!
//! The pipeline decides what a message came to; this module only stores and
//! reads the words, so the SQL stays in `queue` (issue 16).

use anyhow::Context;
use chrono::{DateTime, Utc};
use sqlx::{AnyConnection, AnyPool, Row};

use super::db::{now_text, time_text};

/// A message's row as first recorded (its disposition starts as
/// `rejected` and is set by [`record_outcomes`] in the same transaction),
/// as [`insert_all`] takes it.
#[derive(Clone, Debug)]
pub struct NewMessage<'a> {
    /// The Message-ID header, empty when there is none.
    pub message_id: &'a str,
    /// SHA-256 (hex) of the raw bytes.
    pub raw_sha256: &'a str,
    /// The mailbox source (`maildir`, `imap`, `ingest`, …).
    pub source: &'a str,
    /// When the message arrived.
    pub received_at: DateTime<Utc>,
    /// The From address, empty when there is none.
    pub from_address: &'a str,
    /// The decoded subject, empty when there is none.
    pub subject: &'a str,
    /// The prefecture of a registered, trusted sender.
    pub prefecture: Option<&'a str>,
}

/// Inserts the rows of messages in one statement (issue 15): for each, its
/// new row id, or `None` when a row with its key existed (a second delivery
/// of the same bytes), or when an earlier message of `messages` has the same
/// key. On PostgreSQL a concurrent twin waits on the unique index, then
/// finds the row (ON CONFLICT DO NOTHING returns none).
pub async fn insert_all(
    conn: &mut AnyConnection,
    messages: &[NewMessage<'_>],
) -> anyhow::Result<Vec<Option<i64>>> {
    const COLUMNS: usize = 8;
    let now = now_text();
    let mut ids: std::collections::HashMap<(String, String), i64> = Default::default();
    for chunk in messages.chunks(1000) {
        let values = super::db::Params::on(conn).rows(chunk.len(), COLUMNS, ", 'rejected'");
        let sql = format!(
            "INSERT INTO mail_messages (message_id, raw_sha256, source, received_at, processed_at, from_address, \
             subject, prefecture, disposition) VALUES {} ON CONFLICT (message_id, raw_sha256) DO NOTHING \
             RETURNING id, message_id, raw_sha256",
            values
        );
        let mut query = sqlx::query(&sql);
        for m in chunk {
            query = query
                .bind(m.message_id)
                .bind(m.raw_sha256)
                .bind(m.source)
                .bind(time_text(m.received_at))
                .bind(now.as_str())
                .bind(m.from_address)
                .bind(m.subject)
                .bind(m.prefecture);
        }
        let rows = query
            .fetch_all(&mut *conn)
            .await
            .context("cannot record the messages")?;
        for row in rows {
            let key = (row.try_get::<String, _>(1)?, row.try_get::<String, _>(2)?);
            ids.insert(key, row.try_get::<i64, _>(0)?);
        }
    }
    // The first message with a key takes its row; a repeat finds it taken.
    Ok(messages
        .iter()
        .map(|m| ids.remove(&(m.message_id.to_string(), m.raw_sha256.to_string())))
        .collect())
}

/// What a message came to, as stored words.
#[derive(Clone, Debug)]
pub struct MessageOutcome<'a> {
    /// The disposition word (`accepted`, `quarantined`, …).
    pub disposition: &'a str,
    /// The note on the reply (queued, or why none).
    pub reply: &'a str,
    /// The receipt numbers filed, comma-separated.
    pub receipts: &'a str,
    /// The JSON summary (sender, files, problems, conversation).
    pub summary: &'a str,
    /// The unanswered-reason code, empty when answered.
    pub reason_code: &'a str,
}

/// Stores the outcome of each message of a batch (row id, outcome) in one
/// statement per hundred messages: a batch's filing transaction makes one
/// round trip for all its outcomes instead of one each.
pub async fn record_outcomes(
    conn: &mut AnyConnection,
    outcomes: &[(i64, MessageOutcome<'_>)],
) -> anyhow::Result<()> {
    const COLUMNS: usize = 6;
    for chunk in outcomes.chunks(100) {
        let mut params = super::db::Params::on(conn);
        let rows: Vec<String> = (0..chunk.len())
            .map(|_| {
                // The id is cast so PostgreSQL compares it as a number.
                let id = params.next();
                format!("(CAST({id} AS BIGINT), {})", params.list(COLUMNS - 1))
            })
            .collect();
        // VALUES names its columns column1, column2, ... on both backends.
        let sql = format!(
            "UPDATE mail_messages SET disposition = v.column2, reply = v.column3, receipts = v.column4, \
             summary = v.column5, reason_code = v.column6 FROM (VALUES {}) AS v \
             WHERE mail_messages.id = v.column1",
            rows.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for (id, o) in chunk {
            query = query
                .bind(*id)
                .bind(o.disposition)
                .bind(o.reply)
                .bind(o.receipts)
                .bind(o.summary)
                .bind(o.reason_code);
        }
        let done = query
            .execute(&mut *conn)
            .await
            .context("cannot record the outcomes")?;
        anyhow::ensure!(
            done.rows_affected() == chunk.len() as u64,
            "recorded {} outcomes of {}",
            done.rows_affected(),
            chunk.len()
        );
    }
    Ok(())
}

/// How a message was handled the first time, as stored (unreadable
/// columns read as empty).
#[derive(Clone, Debug)]
pub struct EarlierHandling {
    /// The row id.
    pub id: Option<i64>,
    /// The disposition word.
    pub disposition: String,
    /// The receipt numbers, comma-separated.
    pub receipts: String,
    /// The note on the reply.
    pub reply: String,
    /// The unanswered-reason code.
    pub reason_code: String,
}

/// The stored handling of the message with this key. Reads on the pool, not
/// in a transaction: the row was committed by an earlier (or twin) run.
pub async fn earlier_handling(
    pool: &AnyPool,
    message_id: &str,
    raw_sha256: &str,
) -> anyhow::Result<EarlierHandling> {
    let row = sqlx::query("SELECT id, disposition, receipts, reply, reason_code FROM mail_messages WHERE message_id = $1 AND raw_sha256 = $2")
        .bind(message_id)
        .bind(raw_sha256)
        .fetch_one(pool)
        .await
        .context("cannot read the earlier handling")?;
    let get = |i: usize| row.try_get::<String, _>(i).unwrap_or_default();
    Ok(EarlierHandling {
        id: row.try_get(0).ok(),
        disposition: get(1),
        receipts: get(2),
        reply: get(3),
        reason_code: get(4),
    })
}
