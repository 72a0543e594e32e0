//! The `outbox` rows as the sender ([`crate::outbox`]) stores them: queueing
//! inside the caller's transaction, the rate-limit count, claiming a batch
//! of due rows, the unconfirmed-attempt counter, releasing claims and
//! recording outcomes. The delivery logic (retry policy, transports,
//! at-most-twice) stays in `outbox`; the SQL lives here because `queue` is
//! the one module that issues SQL (issue 16). The statements are the ones
//! the sender was tuned with: one commit per claim, one per recorded batch
//! (the caller's connection), a capped count.

use super::db::{Backend, Db, now_text, parse_time, time_text};
use anyhow::Context;
use chrono::{DateTime, Utc};
use sqlx::{AnyConnection, AnyPool, Row};

/// A mail to queue, as stored (see [`crate::outbox::OutgoingMail`]).
#[derive(Clone, Debug)]
pub struct NewRow<'a> {
    /// The kind word (`reply`, `naiji`, …).
    pub kind: &'a str,
    /// The `mail_messages` row it answers, when it is a reply.
    pub mail_message_id: Option<i64>,
    /// MAIL FROM.
    pub envelope_from: &'a str,
    /// RCPT TO.
    pub recipient: &'a str,
    /// The decoded subject.
    pub subject: &'a str,
    /// The Message-ID without angle brackets.
    pub message_id: &'a str,
    /// The message bytes as they will be sent.
    pub raw: &'a [u8],
}

/// Inserts `mail` as a queued row due now, inside the caller's transaction
/// (pass `&mut *tx`), and returns the row id.
pub async fn insert(conn: &mut AnyConnection, mail: &NewRow<'_>) -> anyhow::Result<i64> {
    let now = now_text();
    let row = sqlx::query(
        "INSERT INTO outbox (kind, mail_message_id, envelope_from, recipient, subject, message_id, raw, \
         status, attempts, next_attempt_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'queued', 0, $8, $8) RETURNING id",
    )
    .bind(mail.kind)
    .bind(mail.mail_message_id)
    .bind(mail.envelope_from)
    .bind(mail.recipient)
    .bind(mail.subject)
    .bind(mail.message_id)
    .bind(mail.raw.to_vec())
    .bind(&now)
    .fetch_one(&mut *conn)
    .await
    .with_context(|| format!("cannot queue mail to {}", mail.recipient))?;
    row.try_get::<i64, _>(0)
        .context("cannot read the new outbox id")
}

/// Replies of `kind` queued to `recipient` since `since`, for the rate limit.
pub async fn count_since(
    conn: &mut AnyConnection,
    kind: &str,
    recipient: &str,
    since: DateTime<Utc>,
    cap: u32,
) -> anyhow::Result<i64> {
    // Counting stops at `cap`: the caller only asks whether the limit is
    // reached, and a sender with a long history must not cost more.
    let row = sqlx::query(
        "SELECT COUNT(*) FROM (SELECT 1 FROM outbox WHERE kind = $1 AND recipient = $2 AND created_at >= $3 LIMIT $4) recent",
    )
    .bind(kind)
    .bind(recipient)
    .bind(time_text(since))
    .bind(i64::from(cap))
    .fetch_one(&mut *conn)
    .await
    .context("cannot count recent replies")?;
    row.try_get::<i64, _>(0)
        .context("cannot read the reply count")
}

/// Where a row stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Waiting for its (next) attempt.
    Queued,
    /// Accepted by the relay or written to the directory.
    Sent,
    /// Refused permanently, or retried until [`crate::outbox::RetryPolicy::give_up_after`].
    Failed,
}

impl Status {
    /// The word stored in `outbox.status`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::Sent => "sent",
            Status::Failed => "failed",
        }
    }

    /// Reads the stored word.
    pub fn parse(s: &str) -> Option<Status> {
        match s {
            "queued" => Some(Status::Queued),
            "sent" => Some(Status::Sent),
            "failed" => Some(Status::Failed),
            _ => None,
        }
    }
}

/// One outbox row, for listings and tests.
#[derive(Clone, Debug)]
pub struct Entry {
    /// Row id.
    pub id: i64,
    /// [`crate::outbox::kind::REPLY`], [`crate::outbox::kind::NAIJI`], …
    pub kind: String,
    /// The message answered.
    pub mail_message_id: Option<i64>,
    /// RCPT TO.
    pub recipient: String,
    /// Decoded subject.
    pub subject: String,
    /// Message-ID without brackets.
    pub message_id: String,
    /// Where it stands.
    pub status: Status,
    /// Attempts made so far.
    pub attempts: i64,
    /// When the next attempt is due.
    pub next_attempt_at: DateTime<Utc>,
    /// The last answer of the relay (or the error), for staff.
    pub last_response: String,
    /// When it was delivered.
    pub sent_at: Option<DateTime<Utc>>,
    /// When it was queued (or queued again by a resend).
    pub created_at: DateTime<Utc>,
}

/// The columns [`entry_from_row`] reads.
const ENTRY_COLUMNS: &str = "id, kind, mail_message_id, recipient, subject, message_id, status, attempts, \
     next_attempt_at, last_response, sent_at, created_at";

/// Every row, oldest first (tests, the CLI and the web UI's mail log).
pub async fn list(conn: &mut AnyConnection) -> anyhow::Result<Vec<Entry>> {
    let rows = sqlx::query(&format!("SELECT {ENTRY_COLUMNS} FROM outbox ORDER BY id"))
        .fetch_all(&mut *conn)
        .await
        .context("cannot list the outbox")?;
    rows.iter().map(entry_from_row).collect()
}

/// Which rows of the outbox the staff's outbox page shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shelf {
    /// Failed for good (a resend button each).
    Failed,
    /// Everything else: queued or sent.
    NotFailed,
}

/// The rows on `shelf`, newest first, at most `limit`.
pub async fn list_shelf(
    conn: &mut AnyConnection,
    shelf: Shelf,
    limit: i64,
) -> anyhow::Result<Vec<Entry>> {
    let condition = match shelf {
        Shelf::Failed => "status = 'failed'",
        Shelf::NotFailed => "status <> 'failed'",
    };
    let rows = sqlx::query(&format!(
        "SELECT {ENTRY_COLUMNS} FROM outbox WHERE {condition} ORDER BY id DESC LIMIT $1"
    ))
    .bind(limit)
    .fetch_all(&mut *conn)
    .await
    .context("cannot list the outbox")?;
    rows.iter().map(entry_from_row).collect()
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

fn entry_from_row(r: &sqlx::any::AnyRow) -> anyhow::Result<Entry> {
    let status: String = r.try_get("status")?;
    let sent_at: Option<String> = r.try_get("sent_at")?;
    Ok(Entry {
        id: r.try_get("id")?,
        kind: r.try_get("kind")?,
        mail_message_id: r.try_get("mail_message_id")?,
        recipient: r.try_get("recipient")?,
        subject: r.try_get("subject")?,
        message_id: r.try_get("message_id")?,
        status: Status::parse(&status)
            .with_context(|| format!("unknown outbox status {status:?}"))?,
        attempts: r.try_get("attempts")?,
        next_attempt_at: parse_time(&r.try_get::<String, _>("next_attempt_at")?)?,
        last_response: r.try_get("last_response")?,
        sent_at: sent_at.as_deref().map(parse_time).transpose()?,
        created_at: parse_time(&r.try_get::<String, _>("created_at")?)?,
    })
}

/// The raw bytes of row `id` as queued.
pub async fn raw(conn: &mut AnyConnection, id: i64) -> anyhow::Result<Option<Vec<u8>>> {
    let row = sqlx::query("SELECT raw FROM outbox WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await
        .context("cannot read an outbox row")?;
    row.map(|r| r.try_get::<Vec<u8>, _>(0))
        .transpose()
        .context("cannot decode an outbox row")
}

/// A row claimed for delivery.
#[derive(Clone, Debug)]
pub struct Claimed {
    /// Row id.
    pub id: i64,
    /// MAIL FROM.
    pub envelope_from: String,
    /// RCPT TO.
    pub recipient: String,
    /// The message bytes.
    pub raw: Vec<u8>,
    /// Attempts made, this one included.
    pub attempts: i64,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
}

/// Claims up to `limit` rows due at `now` for `worker` until `until`, in
/// one statement and one commit (PostgreSQL: `FOR UPDATE SKIP LOCKED`, so
/// concurrent senders take different rows). The rows come in no order.
pub async fn claim(
    db: &Db,
    worker: &str,
    until: DateTime<Utc>,
    now: DateTime<Utc>,
    limit: usize,
) -> anyhow::Result<Vec<Claimed>> {
    let lock = match db.backend() {
        Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    };
    let sql = format!(
        "UPDATE outbox SET claimed_by = $1, claimed_until = $2, attempts = attempts + 1 \
         WHERE id IN (SELECT id FROM outbox WHERE status = 'queued' AND next_attempt_at <= $3 \
         AND (claimed_until IS NULL OR claimed_until < $3) ORDER BY next_attempt_at, id LIMIT {limit}{lock}) \
         AND status = 'queued' \
         RETURNING id, envelope_from, recipient, raw, attempts, created_at"
    );
    let turn = db.write_turn().await;
    let mut tx = db.begin().await?;
    let rows = sqlx::query(&sql)
        .bind(worker)
        .bind(time_text(until))
        .bind(time_text(now))
        .fetch_all(&mut *tx)
        .await
        .context("cannot claim outbox rows")?;
    tx.commit().await.context("cannot commit an outbox claim")?;
    drop(turn);
    rows.iter()
        .map(|r| {
            Ok(Claimed {
                id: r.try_get("id")?,
                envelope_from: r.try_get("envelope_from")?,
                recipient: r.try_get("recipient")?,
                raw: r.try_get("raw")?,
                attempts: r.try_get("attempts")?,
                created_at: parse_time(&r.try_get::<String, _>("created_at")?)?,
            })
        })
        .collect()
}

/// The workers holding claims on queued rows.
pub async fn claim_holders(pool: &AnyPool) -> anyhow::Result<Vec<String>> {
    let rows = sqlx::query(
        "SELECT DISTINCT claimed_by FROM outbox WHERE status = 'queued' AND claimed_by IS NOT NULL",
    )
    .fetch_all(pool)
    .await
    .context("cannot list outbox claims")?;
    rows.iter()
        .map(|row| Ok(row.try_get::<String, _>(0)?))
        .collect()
}

/// Releases every claim of `holder` on queued rows; how many.
pub async fn release_claims_of(pool: &AnyPool, holder: &str) -> anyhow::Result<u64> {
    let done = sqlx::query("UPDATE outbox SET claimed_by = NULL, claimed_until = NULL WHERE claimed_by = $1 AND status = 'queued'")
        .bind(holder)
        .execute(pool)
        .await
        .context("cannot release a stale outbox claim")?;
    Ok(done.rows_affected())
}

/// Counts one more attempt of unknown outcome on row `id` (committed at
/// once, before anything is sent); the new count, or `None` when `worker`
/// no longer holds the claim.
pub async fn count_unconfirmed(
    pool: &AnyPool,
    id: i64,
    worker: &str,
) -> anyhow::Result<Option<i64>> {
    let row = sqlx::query(
        "UPDATE outbox SET unconfirmed = unconfirmed + 1 \
         WHERE id = $1 AND claimed_by = $2 AND status = 'queued' RETURNING unconfirmed",
    )
    .bind(id)
    .bind(worker)
    .fetch_optional(pool)
    .await
    .with_context(|| format!("cannot mark outbox row {id} as being sent"))?;
    row.map(|row| Ok(row.try_get::<i64, _>(0)?)).transpose()
}

/// Gives back `worker`'s claim on row `id` without counting the attempt.
pub async fn release(pool: &AnyPool, id: i64, worker: &str) -> anyhow::Result<()> {
    sqlx::query("UPDATE outbox SET claimed_by = NULL, claimed_until = NULL, attempts = attempts - 1 WHERE id = $1 AND claimed_by = $2")
        .bind(id)
        .bind(worker)
        .execute(pool)
        .await
        .context("cannot release an outbox claim")?;
    Ok(())
}

/// The outcome of one attempt, as [`record_outcome`] stores it.
#[derive(Clone, Debug)]
pub struct Outcome<'a> {
    /// Where the row stands now.
    pub status: Status,
    /// The relay's answer (or the error), already cut to length.
    pub response: &'a str,
    /// When the next attempt is due.
    pub next_attempt_at: DateTime<Utc>,
    /// When it was delivered, if it was.
    pub sent_at: Option<DateTime<Utc>>,
}

/// Records an attempt's outcome on row `id`, releasing the claim and
/// clearing the unconfirmed count, on `conn` (a transaction when a batch is
/// recorded in one commit).
pub async fn record_outcome(
    conn: &mut AnyConnection,
    id: i64,
    o: &Outcome<'_>,
) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE outbox SET status = $1, last_response = $2, next_attempt_at = $3, sent_at = $4, \
         claimed_by = NULL, claimed_until = NULL, unconfirmed = 0 WHERE id = $5",
    )
    .bind(o.status.as_str())
    .bind(o.response)
    .bind(time_text(o.next_attempt_at))
    .bind(o.sent_at.map(time_text))
    .bind(id)
    .execute(&mut *conn)
    .await
    .with_context(|| format!("cannot record the delivery of outbox row {id}"))?;
    Ok(())
}

/// [`record_outcome`] for several rows in one statement per hundred (a
/// batch written to the outbox directory: the sender shares SQLite's one
/// writer with intake, so each round trip it saves is one intake waits
/// less for).
pub async fn record_outcomes(
    conn: &mut AnyConnection,
    outcomes: &[(i64, Outcome<'_>)],
) -> anyhow::Result<()> {
    for chunk in outcomes.chunks(100) {
        let mut params = super::db::Params::on(conn);
        let rows: Vec<String> = chunk
            .iter()
            .map(|_| {
                // The id is cast so PostgreSQL compares it as a number.
                let id = params.next();
                format!("(CAST({id} AS BIGINT), {})", params.list(4))
            })
            .collect();
        // VALUES names its columns column1, column2, ... on both backends.
        let sql = format!(
            "UPDATE outbox SET status = v.column2, last_response = v.column3, next_attempt_at = v.column4, \
             sent_at = v.column5, claimed_by = NULL, claimed_until = NULL, unconfirmed = 0 \
             FROM (VALUES {}) AS v WHERE outbox.id = v.column1",
            rows.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for (id, o) in chunk {
            query = query
                .bind(*id)
                .bind(o.status.as_str())
                .bind(o.response)
                .bind(time_text(o.next_attempt_at))
                .bind(o.sent_at.map(time_text));
        }
        let done = query
            .execute(&mut *conn)
            .await
            .context("cannot record the delivery of outbox rows")?;
        anyhow::ensure!(
            done.rows_affected() == chunk.len() as u64,
            "recorded the delivery of {} outbox rows of {}",
            done.rows_affected(),
            chunk.len()
        );
    }
    Ok(())
}
