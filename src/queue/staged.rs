//! Writes staged for the end of a filing transaction (issue 15).
//!
//! A filed message used to cost about a dozen statements, and on SQLite
//! each one is a round trip to sqlx's worker thread that costs more than
//! the statement itself. The rows that nothing later in the transaction
//! reads back (attachments, item lines, audit rows, queued replies) are
//! therefore held in a [`Staged`] and written by [`Staged::flush`] in one
//! statement per table for the whole batch; receipt numbers are reserved
//! once per transaction and the counter written back at the flush; what
//! the transaction asks again and again (an institution's G-MIS entry and
//! earlier distributions, a sender's recent replies) is asked once.
//!
//! The caller flushes before it commits, so everything stays in the one
//! transaction: a rollback loses the staged rows with the rest, and a
//! receipt number is never taken without its record.

use super::db::{Params, now_text};
use super::outbox::NewRow;
use crate::request::ItemLine;
use anyhow::Context;
use chrono::{DateTime, Utc};
use sqlx::{AnyConnection, Row};
use std::collections::HashMap;

/// The most bind parameters one statement carries (SQLite allows 32,766,
/// PostgreSQL 65,535).
const MAX_PARAMETERS: usize = 30_000;

/// The most blob bytes one statement carries: a batch's raw messages may
/// be up to 40 MiB each, and PostgreSQL refuses a protocol message past
/// 1 GiB (a statement past this still takes one blob).
const MAX_BLOB_BYTES: usize = 32 << 20;

/// Rows held for the end of a transaction, and what it has asked already.
/// See the module docs.
#[derive(Default)]
pub struct Staged {
    /// `(last taken, reserved)`: the receipt counter as read at the first
    /// receipt of the transaction, and the last number handed out since.
    receipts: Option<(i64, i64)>,
    /// Institution code → (known to G-MIS, earlier distributions).
    institutions: HashMap<String, (bool, i64)>,
    /// (kind, recipient) → outbox rows counted in the database.
    recent: HashMap<(String, String), i64>,
    /// (institution code, batch date) → its current sheets as read and
    /// kept up to date by [`super::filing`].
    pub(crate) current: HashMap<(String, String), super::filing::CurrentSheets>,
    blobs: Vec<(String, Vec<u8>)>,
    lines: Vec<(i64, Vec<ItemLine>)>,
    audit: Vec<AuditRow>,
    outbox: Vec<OwnedRow>,
}

/// An `audit_log` row to write.
struct AuditRow {
    request_id: Option<i64>,
    at: String,
    actor: String,
    action: String,
    detail: String,
    reason: String,
}

/// An `outbox` row to write (an owned [`NewRow`]).
struct OwnedRow {
    kind: String,
    mail_message_id: Option<i64>,
    envelope_from: String,
    recipient: String,
    subject: String,
    message_id: String,
    raw: Vec<u8>,
    at: String,
}

/// A queued mail staged by [`Staged::enqueue`]: its row id is known after
/// [`Staged::flush`] ([`Flushed::outbox_id`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StagedMail(usize);

/// What [`Staged::flush`] wrote that callers need back.
#[derive(Debug, Default)]
pub struct Flushed {
    outbox_ids: Vec<i64>,
}

impl Flushed {
    /// The row id of a mail staged by [`Staged::enqueue`].
    pub fn outbox_id(&self, mail: StagedMail) -> Option<i64> {
        self.outbox_ids.get(mail.0).copied()
    }
}

impl Staged {
    /// Nothing staged.
    pub fn new() -> Staged {
        Staged::default()
    }

    /// The next receipt sequence number. The first call of a transaction
    /// reads the counter (on PostgreSQL it also locks its row until the
    /// commit, so gateways never hand out the same number); the rest count
    /// on in memory and [`Staged::flush`] writes the last one back.
    pub async fn next_receipt_number(&mut self, conn: &mut AnyConnection) -> anyhow::Result<i64> {
        let (read, last) = match self.receipts {
            Some(r) => r,
            None => {
                let row = sqlx::query(
                    "INSERT INTO receipt_sequence (name, last) VALUES ('receipt', 0) \
                     ON CONFLICT (name) DO UPDATE SET last = receipt_sequence.last RETURNING last",
                )
                .fetch_one(&mut *conn)
                .await
                .context("cannot take a receipt number")?;
                let read: i64 = row.try_get(0)?;
                (read, read)
            }
        };
        self.receipts = Some((read, last + 1));
        Ok(last + 1)
    }

    /// Gives back the number [`Staged::next_receipt_number`] just handed
    /// out (its record was filed before), so the sequence keeps no gap.
    pub fn give_back_receipt_number(&mut self, n: i64) {
        if let Some((read, last)) = self.receipts
            && last == n
        {
            self.receipts = Some((read, last - 1));
        }
    }

    /// What the queue knows about an institution (see
    /// [`super::filing`]), asked once per transaction: nothing intake does
    /// in a transaction changes it.
    pub(crate) fn institution(&self, code: &str) -> Option<(bool, i64)> {
        self.institutions.get(code).copied()
    }

    /// Remembers [`Staged::institution`].
    pub(crate) fn remember_institution(&mut self, code: &str, context: (bool, i64)) {
        self.institutions.insert(code.to_string(), context);
    }

    /// Mails of `kind` queued to `recipient` since `since`, counting those
    /// staged in this transaction, stopping at `cap` (the rate limit).
    /// The database is asked once per recipient and transaction.
    pub async fn count_since(
        &mut self,
        conn: &mut AnyConnection,
        kind: &str,
        recipient: &str,
        since: DateTime<Utc>,
        cap: u32,
    ) -> anyhow::Result<i64> {
        let key = (kind.to_string(), recipient.to_string());
        let stored = match self.recent.get(&key) {
            Some(n) => *n,
            None => {
                let n = super::outbox::count_since(conn, kind, recipient, since, cap).await?;
                self.recent.insert(key, n);
                n
            }
        };
        let staged = self
            .outbox
            .iter()
            .filter(|r| r.kind == kind && r.recipient == recipient)
            .count() as i64;
        Ok((stored + staged).min(i64::from(cap)))
    }

    /// Stages `bytes` for the `blobs` table under their SHA-256 (hex),
    /// which is returned.
    pub fn put_blob(&mut self, bytes: &[u8]) -> String {
        let sha = super::blobs::sha256_hex(bytes);
        if !self.blobs.iter().any(|(s, _)| *s == sha) {
            self.blobs.push((sha.clone(), bytes.to_vec()));
        }
        sha
    }

    /// Stages the item lines of request `id`.
    pub(crate) fn upsert_lines(&mut self, id: i64, lines: &[ItemLine]) {
        self.lines.push((id, lines.to_vec()));
    }

    /// Stages an audit row (see [`super::audit::record`]).
    pub fn audit(
        &mut self,
        request_id: Option<i64>,
        actor: &str,
        action: &str,
        detail: &serde_json::Value,
        reason: &str,
    ) {
        self.audit.push(AuditRow {
            request_id,
            at: now_text(),
            actor: actor.to_string(),
            action: action.to_string(),
            detail: detail.to_string(),
            reason: reason.to_string(),
        });
    }

    /// Stages a mail for the outbox, due now (see
    /// [`super::outbox::insert`]).
    pub fn enqueue(&mut self, mail: &NewRow<'_>) -> StagedMail {
        self.outbox.push(OwnedRow {
            kind: mail.kind.to_string(),
            mail_message_id: mail.mail_message_id,
            envelope_from: mail.envelope_from.to_string(),
            recipient: mail.recipient.to_string(),
            subject: mail.subject.to_string(),
            message_id: mail.message_id.to_string(),
            raw: mail.raw.to_vec(),
            at: now_text(),
        });
        StagedMail(self.outbox.len() - 1)
    }

    /// Writes everything staged, one statement per table (more only past
    /// the parameter limit), and empties the stage. Call it inside the
    /// transaction, before the commit.
    pub async fn flush(&mut self, conn: &mut AnyConnection) -> anyhow::Result<Flushed> {
        if let Some((read, last)) = self.receipts.take()
            && last != read
        {
            sqlx::query("UPDATE receipt_sequence SET last = $1 WHERE name = 'receipt'")
                .bind(last)
                .execute(&mut *conn)
                .await
                .context("cannot store the receipt counter")?;
        }
        self.flush_blobs(conn).await?;
        let lines = std::mem::take(&mut self.lines);
        super::records::upsert_lines_of(conn, &lines).await?;
        self.flush_audit(conn).await?;
        let outbox_ids = self.flush_outbox(conn).await?;
        self.institutions.clear();
        self.recent.clear();
        self.current.clear();
        Ok(Flushed { outbox_ids })
    }

    async fn flush_blobs(&mut self, conn: &mut AnyConnection) -> anyhow::Result<()> {
        const COLUMNS: usize = 4;
        let blobs = std::mem::take(&mut self.blobs);
        let now = now_text();
        for chunk in blob_chunks(&blobs, MAX_PARAMETERS / COLUMNS, MAX_BLOB_BYTES) {
            let sql = format!(
                "INSERT INTO blobs (sha256, size, content, stored_at) VALUES {} \
                 ON CONFLICT (sha256) DO NOTHING",
                Params::on(conn).rows(chunk.len(), COLUMNS, "")
            );
            let mut query = sqlx::query(&sql);
            for (sha, bytes) in chunk {
                query = query
                    .bind(sha.as_str())
                    .bind(bytes.len() as i64)
                    .bind(bytes.as_slice())
                    .bind(now.as_str());
            }
            query
                .execute(&mut *conn)
                .await
                .context("cannot store the attachments")?;
        }
        Ok(())
    }

    async fn flush_audit(&mut self, conn: &mut AnyConnection) -> anyhow::Result<()> {
        const COLUMNS: usize = 6;
        let rows = std::mem::take(&mut self.audit);
        for chunk in rows.chunks(MAX_PARAMETERS / COLUMNS) {
            let sql = format!(
                "INSERT INTO audit_log (request_id, at, actor, action, detail, reason) VALUES {}",
                Params::on(conn).rows(chunk.len(), COLUMNS, "")
            );
            let mut query = sqlx::query(&sql);
            for r in chunk {
                query = query
                    .bind(r.request_id)
                    .bind(r.at.as_str())
                    .bind(r.actor.as_str())
                    .bind(r.action.as_str())
                    .bind(r.detail.as_str())
                    .bind(r.reason.as_str());
            }
            query
                .execute(&mut *conn)
                .await
                .context("cannot write the audit rows")?;
        }
        Ok(())
    }

    /// The outbox rows, and their ids in staging order. Both backends
    /// return the rows of a multi-row INSERT in the order of its VALUES
    /// (Django's bulk_create relies on the same); the Message-IDs returned
    /// are checked against the staged ones all the same, so a backend that
    /// did otherwise fails the transaction instead of mixing up replies.
    async fn flush_outbox(&mut self, conn: &mut AnyConnection) -> anyhow::Result<Vec<i64>> {
        const COLUMNS: usize = 9;
        let rows = std::mem::take(&mut self.outbox);
        let mut ids = Vec::with_capacity(rows.len());
        for chunk in rows.chunks(MAX_PARAMETERS / COLUMNS) {
            let sql = format!(
                "INSERT INTO outbox (kind, mail_message_id, envelope_from, recipient, subject, message_id, raw, \
                 next_attempt_at, created_at, status, attempts) VALUES {} RETURNING id, message_id",
                Params::on(conn).rows(chunk.len(), COLUMNS, ", 'queued', 0")
            );
            let mut query = sqlx::query(&sql);
            for r in chunk {
                query = query
                    .bind(r.kind.as_str())
                    .bind(r.mail_message_id)
                    .bind(r.envelope_from.as_str())
                    .bind(r.recipient.as_str())
                    .bind(r.subject.as_str())
                    .bind(r.message_id.as_str())
                    .bind(r.raw.as_slice())
                    .bind(r.at.as_str())
                    .bind(r.at.as_str());
            }
            let returned = query
                .fetch_all(&mut *conn)
                .await
                .context("cannot queue the replies")?;
            anyhow::ensure!(
                returned.len() == chunk.len(),
                "queued {} mails of {}",
                returned.len(),
                chunk.len()
            );
            for (row, staged) in returned.iter().zip(chunk) {
                let message_id: String = row.try_get(1)?;
                anyhow::ensure!(
                    message_id == staged.message_id,
                    "the outbox returned its rows out of order"
                );
                ids.push(row.try_get::<i64, _>(0)?);
            }
        }
        Ok(ids)
    }
}

/// `blobs` in runs of at most `rows` blobs and `bytes` bytes (a blob larger
/// than `bytes` alone).
fn blob_chunks(
    blobs: &[(String, Vec<u8>)],
    rows: usize,
    bytes: usize,
) -> Vec<&[(String, Vec<u8>)]> {
    let mut chunks = Vec::new();
    let (mut start, mut size) = (0, 0);
    for (i, (_, b)) in blobs.iter().enumerate() {
        if i > start && (i - start == rows || size + b.len() > bytes) {
            chunks.push(&blobs[start..i]);
            (start, size) = (i, 0);
        }
        size += b.len();
    }
    if start < blobs.len() {
        chunks.push(&blobs[start..]);
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blobs(sizes: &[usize]) -> Vec<(String, Vec<u8>)> {
        sizes
            .iter()
            .enumerate()
            .map(|(i, n)| (i.to_string(), vec![0; *n]))
            .collect()
    }

    fn lengths(chunks: Vec<&[(String, Vec<u8>)]>) -> Vec<usize> {
        chunks.iter().map(|c| c.len()).collect()
    }

    #[test]
    fn blob_statements_stop_at_the_row_and_byte_limits() {
        assert_eq!(lengths(blob_chunks(&blobs(&[1; 5]), 2, 100)), [2, 2, 1]);
        assert_eq!(lengths(blob_chunks(&blobs(&[40, 40, 40]), 10, 100)), [2, 1]);
        // A blob past the byte limit goes alone, never dropped.
        assert_eq!(
            lengths(blob_chunks(&blobs(&[10, 500, 10]), 10, 100)),
            [1, 1, 1]
        );
        assert!(blob_chunks(&blobs(&[]), 10, 100).is_empty());
    }
}
