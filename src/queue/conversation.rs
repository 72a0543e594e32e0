//! Conversations in the database (issue 12, points 3 and 4): which requests
//! a mail answering ours is about, correspondence (連絡) and its read
//! state, links between a sheet sent as a reply and the request it answers,
//! and the list of mail that was not answered (無視・保留したメール).
//!
//! Tables: `correspondence`, `correspondence_requests`, `request_links`,
//! and `mail_messages.reason_code` (migration 0008).

use super::audit;
use super::db::{now_text, time_text};
use anyhow::Context;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{AnyConnection, Row};

pub use crate::conversation::RequestRef;

/// `$first, $first+1, …` for `n` values.
fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What our outgoing mails with these Message-IDs were about: None when
/// none of `ids` is ours; else the receipt numbers of the received mail
/// each answered (a reply) or named in its subject (a 内示).
pub async fn our_mail(
    conn: &mut AnyConnection,
    ids: &[String],
) -> anyhow::Result<Option<Vec<String>>> {
    if ids.is_empty() {
        return Ok(None);
    }
    let sql = format!(
        "SELECT o.subject, m.receipts FROM outbox o LEFT JOIN mail_messages m ON m.id = o.mail_message_id \
         WHERE o.message_id IN ({})",
        placeholders(1, ids.len())
    );
    let mut query = sqlx::query(&sql);
    for id in ids {
        query = query.bind(id);
    }
    let rows = query
        .fetch_all(&mut *conn)
        .await
        .context("cannot look up our outgoing mail")?;
    if rows.is_empty() {
        return Ok(None);
    }
    let mut receipts: Vec<String> = Vec::new();
    for row in &rows {
        let answered: Option<String> = row.try_get(1)?;
        let found: Vec<String> = match answered {
            Some(list) => list
                .split(',')
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect(),
            None => crate::conversation::receipts_in(&row.try_get::<String, _>(0)?),
        };
        for r in found {
            if !receipts.contains(&r) {
                receipts.push(r);
            }
        }
    }
    Ok(Some(receipts))
}

/// The requests of `prefecture` with these receipt numbers (others are
/// left out: a typo must not link a mail to another prefecture's request).
pub async fn requests_by_receipts(
    conn: &mut AnyConnection,
    receipts: &[String],
    prefecture: &str,
) -> anyhow::Result<Vec<RequestRef>> {
    requests_with_receipts(conn, receipts, Some(prefecture))
        .await
        .context("cannot look up the requests referred to")
}

/// The requests with these receipt numbers, of `prefecture` when given.
async fn requests_with_receipts(
    conn: &mut AnyConnection,
    receipts: &[String],
    prefecture: Option<&str>,
) -> anyhow::Result<Vec<RequestRef>> {
    if receipts.is_empty() {
        return Ok(Vec::new());
    }
    let first = if prefecture.is_some() { 2 } else { 1 };
    let sql = format!(
        "SELECT id, receipt FROM requests WHERE {}receipt IN ({}) ORDER BY id",
        if prefecture.is_some() {
            "prefecture = $1 AND "
        } else {
            ""
        },
        placeholders(first, receipts.len())
    );
    let mut query = sqlx::query(&sql);
    if let Some(p) = prefecture {
        query = query.bind(p);
    }
    for r in receipts {
        query = query.bind(r);
    }
    let rows = query.fetch_all(&mut *conn).await?;
    rows.iter().map(request_ref).collect()
}

/// A request reference from a row whose first two columns are `id, receipt`.
fn request_ref(r: &sqlx::any::AnyRow) -> anyhow::Result<RequestRef> {
    Ok(RequestRef {
        id: r.try_get(0)?,
        receipt: r.try_get(1)?,
    })
}

/// The latest mail of `from` received in `[since, until]` (other than
/// `except`) one of whose files was refused as password-protected.
pub async fn refused_encrypted(
    conn: &mut AnyConnection,
    from: &str,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    except: i64,
) -> anyhow::Result<Option<i64>> {
    let rows = sqlx::query(
        "SELECT id, summary FROM mail_messages WHERE lower(from_address) = $1 AND received_at >= $2 \
         AND received_at <= $3 AND id <> $4 ORDER BY received_at DESC, id DESC LIMIT 20",
    )
    .bind(from.trim().to_lowercase())
    .bind(time_text(since))
    .bind(time_text(until))
    .bind(except)
    .fetch_all(&mut *conn)
    .await
    .context("cannot look for the sender's refused mail")?;
    for row in &rows {
        let summary: String = row.try_get(1)?;
        if had_encrypted_file(&summary) {
            return Ok(Some(row.try_get(0)?));
        }
    }
    Ok(None)
}

/// True when a stored summary lists a file refused as encrypted.
fn had_encrypted_file(summary: &str) -> bool {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(summary) else {
        return false;
    };
    v["files"]
        .as_array()
        .is_some_and(|files| files.iter().any(|f| f["kind"] == "encrypted"))
}

/// The receipts filed from a received mail.
pub async fn receipts_of_mail(
    conn: &mut AnyConnection,
    mail_message_id: i64,
) -> anyhow::Result<Vec<String>> {
    let row = sqlx::query("SELECT receipts FROM mail_messages WHERE id = $1")
        .bind(mail_message_id)
        .fetch_optional(&mut *conn)
        .await
        .context("cannot read a mail's receipts")?;
    Ok(match row {
        Some(r) => r
            .try_get::<String, _>(0)?
            .split(',')
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect(),
        None => Vec::new(),
    })
}

/// Correspondence to keep.
#[derive(Clone, Debug)]
pub struct NewCorrespondence<'a> {
    /// The received mail.
    pub mail_message_id: i64,
    /// `reply` or `password_notice`.
    pub kind: &'a str,
    /// When it reached our mailbox.
    pub received_at: DateTime<Utc>,
    /// Sender address and display name.
    pub from_address: &'a str,
    /// Display name ('' when none).
    pub from_name: &'a str,
    /// Subject as shown to staff.
    pub subject: &'a str,
    /// Body text as shown to staff ('' for a password notice).
    pub body: &'a str,
    /// For a password notice, the refused mail.
    pub refers_to: Option<i64>,
    /// The requests it is about.
    pub requests: &'a [RequestRef],
}

/// Keeps one correspondence and its links to requests; returns its id.
pub async fn record(conn: &mut AnyConnection, c: &NewCorrespondence<'_>) -> anyhow::Result<i64> {
    let row = sqlx::query(
        "INSERT INTO correspondence (mail_message_id, kind, received_at, from_address, from_name, subject, body, \
         refers_to_mail_message_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(c.mail_message_id)
    .bind(c.kind)
    .bind(time_text(c.received_at))
    .bind(c.from_address)
    .bind(c.from_name)
    .bind(c.subject)
    .bind(c.body)
    .bind(c.refers_to)
    .fetch_one(&mut *conn)
    .await
    .context("cannot keep the correspondence")?;
    let id: i64 = row.try_get(0)?;
    for r in c.requests {
        sqlx::query("INSERT INTO correspondence_requests (correspondence_id, request_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(id)
            .bind(r.id)
            .execute(&mut *conn)
            .await
            .context("cannot link the correspondence to its request")?;
    }
    Ok(id)
}

/// Links each newly filed request to the earlier requests its mail answers.
pub async fn link_requests(
    conn: &mut AnyConnection,
    new: &[i64],
    earlier: &[RequestRef],
    mail_message_id: i64,
) -> anyhow::Result<()> {
    let now = now_text();
    for n in new {
        for e in earlier.iter().filter(|e| e.id != *n) {
            sqlx::query(
                "INSERT INTO request_links (request_id, earlier_request_id, mail_message_id, created_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            )
            .bind(n)
            .bind(e.id)
            .bind(mail_message_id)
            .bind(&now)
            .execute(&mut *conn)
            .await
            .context("cannot link the request to the one it answers")?;
        }
    }
    Ok(())
}

/// The requests linked to `request_id`: the earlier ones it answers and the
/// later ones that answer it.
pub async fn links_of(
    conn: &mut AnyConnection,
    request_id: i64,
) -> anyhow::Result<(Vec<RequestRef>, Vec<RequestRef>)> {
    let earlier_sql = "SELECT r.id, r.receipt FROM request_links l JOIN requests r ON r.id = l.earlier_request_id \
                       WHERE l.request_id = $1 ORDER BY r.id";
    let later_sql = "SELECT r.id, r.receipt FROM request_links l JOIN requests r ON r.id = l.request_id \
                     WHERE l.earlier_request_id = $1 ORDER BY r.id";
    let mut out = Vec::new();
    for sql in [earlier_sql, later_sql] {
        let rows = sqlx::query(sql)
            .bind(request_id)
            .fetch_all(&mut *conn)
            .await
            .context("cannot read the linked requests")?;
        out.push(
            rows.iter()
                .map(request_ref)
                .collect::<anyhow::Result<Vec<_>>>()?,
        );
    }
    let later = out.pop().unwrap_or_default();
    let earlier = out.pop().unwrap_or_default();
    Ok((earlier, later))
}

/// One correspondence as staff see it.
#[derive(Clone, Debug, Serialize)]
pub struct Correspondence {
    /// Its id.
    pub id: i64,
    /// The received mail (`mail_messages.id`).
    pub mail_message_id: i64,
    /// `reply` or `password_notice`.
    pub kind: String,
    /// When it reached our mailbox (stored UTC text).
    pub received_at: String,
    /// Sender address.
    pub from_address: String,
    /// Sender display name.
    pub from_name: String,
    /// Subject.
    pub subject: String,
    /// Body text.
    pub body: String,
    /// For a password notice: the refused mail.
    pub refers_to: Option<i64>,
    /// When it was marked read, by whom.
    pub read_at: Option<String>,
    /// Who marked it read.
    pub read_by: Option<String>,
    /// The requests it is about.
    pub requests: Vec<RequestRef>,
}

const SELECT: &str = "SELECT id, mail_message_id, kind, received_at, from_address, from_name, subject, body, \
                      refers_to_mail_message_id, read_at, read_by FROM correspondence";

async fn rows_to_list(
    conn: &mut AnyConnection,
    rows: Vec<sqlx::any::AnyRow>,
) -> anyhow::Result<Vec<Correspondence>> {
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let id: i64 = r.try_get("id")?;
        let requests = requests_of(conn, id).await?;
        out.push(Correspondence {
            id,
            mail_message_id: r.try_get("mail_message_id")?,
            kind: r.try_get("kind")?,
            received_at: r.try_get("received_at")?,
            from_address: r.try_get("from_address")?,
            from_name: r.try_get("from_name")?,
            subject: r.try_get("subject")?,
            body: r.try_get("body")?,
            refers_to: r.try_get("refers_to_mail_message_id")?,
            read_at: r.try_get("read_at")?,
            read_by: r.try_get("read_by")?,
            requests,
        });
    }
    Ok(out)
}

async fn requests_of(
    conn: &mut AnyConnection,
    correspondence_id: i64,
) -> anyhow::Result<Vec<RequestRef>> {
    let rows = sqlx::query(
        "SELECT r.id, r.receipt FROM correspondence_requests c JOIN requests r ON r.id = c.request_id \
         WHERE c.correspondence_id = $1 ORDER BY r.id",
    )
    .bind(correspondence_id)
    .fetch_all(&mut *conn)
    .await
    .context("cannot read the requests of a correspondence")?;
    rows.iter().map(request_ref).collect()
}

/// The correspondence on one request, oldest first.
pub async fn for_request(
    conn: &mut AnyConnection,
    request_id: i64,
) -> anyhow::Result<Vec<Correspondence>> {
    let rows = sqlx::query(&format!(
        "{SELECT} WHERE id IN (SELECT correspondence_id FROM correspondence_requests WHERE request_id = $1) \
         ORDER BY received_at, id"
    ))
    .bind(request_id)
    .fetch_all(&mut *conn)
    .await
    .context("cannot read the correspondence of a request")?;
    rows_to_list(conn, rows).await
}

/// A page of correspondence, newest first: unread only, or all; and how
/// many there are in that view.
pub async fn list(
    conn: &mut AnyConnection,
    unread_only: bool,
    limit: i64,
    offset: i64,
) -> anyhow::Result<(Vec<Correspondence>, i64)> {
    let filter = if unread_only {
        " WHERE read_at IS NULL"
    } else {
        ""
    };
    let total: i64 = sqlx::query(&format!("SELECT COUNT(*) FROM correspondence{filter}"))
        .fetch_one(&mut *conn)
        .await
        .context("cannot count the correspondence")?
        .try_get(0)?;
    let rows = sqlx::query(&format!(
        "{SELECT}{filter} ORDER BY received_at DESC, id DESC LIMIT $1 OFFSET $2"
    ))
    .bind(limit)
    .bind(offset)
    .fetch_all(&mut *conn)
    .await
    .context("cannot list the correspondence")?;
    Ok((rows_to_list(conn, rows).await?, total))
}

/// How many correspondence items nobody has marked read.
pub async fn unread_count(conn: &mut AnyConnection) -> anyhow::Result<i64> {
    Ok(
        sqlx::query("SELECT COUNT(*) FROM correspondence WHERE read_at IS NULL")
            .fetch_one(&mut *conn)
            .await
            .context("cannot count the unread correspondence")?
            .try_get(0)?,
    )
}

/// Marks one correspondence read by `actor`, with a history row on each
/// request it is about (or one without a request). False when there is no
/// such unread item (unknown, or read already: nothing changes).
pub async fn mark_read(conn: &mut AnyConnection, id: i64, actor: &str) -> anyhow::Result<bool> {
    let now = now_text();
    let changed = sqlx::query(
        "UPDATE correspondence SET read_at = $1, read_by = $2 WHERE id = $3 AND read_at IS NULL",
    )
    .bind(&now)
    .bind(actor)
    .bind(id)
    .execute(&mut *conn)
    .await
    .context("cannot mark the correspondence read")?
    .rows_affected();
    if changed == 0 {
        return Ok(false);
    }
    let requests = requests_of(conn, id).await?;
    let detail = serde_json::json!({ "correspondence_id": id });
    let targets: Vec<Option<i64>> = if requests.is_empty() {
        vec![None]
    } else {
        requests.iter().map(|r| Some(r.id)).collect()
    };
    for target in targets {
        audit::record(conn, target, actor, "correspondence_read", &detail, "").await?;
    }
    Ok(true)
}

/// One mail that was not answered, or is held, for the 無視・保留したメール
/// page.
#[derive(Clone, Debug, Serialize)]
pub struct Unanswered {
    /// The `mail_messages` row; None for a message set aside as 処理不能.
    pub mail_message_id: Option<i64>,
    /// SHA-256 of the raw message.
    pub raw_sha256: String,
    /// When it reached our mailbox (stored UTC text).
    pub received_at: String,
    /// Sender address.
    pub from_address: String,
    /// Subject.
    pub subject: String,
    /// The reason code (see [`crate::unanswered::Reason`]).
    pub reason_code: String,
    /// Receipt numbers filed from it.
    pub receipts: Vec<String>,
    /// When an admin released it from quarantine.
    pub released_at: Option<String>,
}

/// A page of unanswered and held mail, newest first, with the total, for
/// one reason code or all. Messages set aside as 処理不能 are listed too
/// (reason `unprocessable`).
pub async fn unanswered(
    conn: &mut AnyConnection,
    reason: Option<&str>,
    limit: i64,
    offset: i64,
) -> anyhow::Result<(Vec<Unanswered>, i64)> {
    let mails = "SELECT id AS mail_message_id, raw_sha256, received_at, from_address, subject, reason_code, receipts, \
                 (SELECT q.released_at FROM quarantine q WHERE q.mail_message_id = mail_messages.id) AS released_at \
                 FROM mail_messages WHERE reason_code <> ''";
    let dead = "SELECT CAST(NULL AS BIGINT) AS mail_message_id, raw_sha256, received_at, from_address, subject, \
                'unprocessable' AS reason_code, '' AS receipts, CAST(NULL AS TEXT) AS released_at \
                FROM intake_attempts WHERE state = 'dead'";
    let union = match reason {
        None => format!("{mails} UNION ALL {dead}"),
        Some("unprocessable") => dead.to_string(),
        Some(_) => format!("{mails} AND reason_code = $3"),
    };
    let total_sql = format!("SELECT COUNT(*) FROM ({}) u", union.replace("$3", "$1"));
    let mut total_q = sqlx::query(&total_sql);
    let page_sql = format!(
        "SELECT * FROM ({union}) u ORDER BY received_at DESC, raw_sha256 LIMIT $1 OFFSET $2"
    );
    let mut page_q = sqlx::query(&page_sql).bind(limit).bind(offset);
    if let Some(r) = reason.filter(|r| *r != "unprocessable") {
        total_q = total_q.bind(r);
        page_q = page_q.bind(r);
    }
    let total: i64 = total_q
        .fetch_one(&mut *conn)
        .await
        .context("cannot count the unanswered mail")?
        .try_get(0)?;
    let rows = page_q
        .fetch_all(&mut *conn)
        .await
        .context("cannot list the unanswered mail")?;
    let list = rows
        .iter()
        .map(|r| {
            Ok(Unanswered {
                mail_message_id: r.try_get("mail_message_id")?,
                raw_sha256: r.try_get("raw_sha256")?,
                received_at: r.try_get("received_at")?,
                from_address: r.try_get("from_address")?,
                subject: r.try_get("subject")?,
                reason_code: r.try_get("reason_code")?,
                receipts: r
                    .try_get::<String, _>("receipts")?
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect(),
                released_at: r.try_get("released_at")?,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok((list, total))
}

/// The raw SHA-256 of a received mail and its reason code.
pub async fn mail_raw(
    conn: &mut AnyConnection,
    mail_message_id: i64,
) -> anyhow::Result<Option<(String, String)>> {
    let row = sqlx::query("SELECT raw_sha256, reason_code FROM mail_messages WHERE id = $1")
        .bind(mail_message_id)
        .fetch_optional(&mut *conn)
        .await
        .context("cannot read a received mail")?;
    row.map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).transpose()
}

/// The first received mail with given raw bytes: whom a mail about its
/// request answers, and which Message-ID it threads under.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OriginalMail {
    /// Its Message-ID without angle brackets (empty when it had none).
    pub message_id: String,
    /// Its sender's address as written.
    pub from_address: String,
}

/// The first mail received with raw bytes `raw_sha256` (the source of a
/// filed sheet), if it came by mail.
pub async fn original_mail(
    conn: &mut AnyConnection,
    raw_sha256: &str,
) -> anyhow::Result<Option<OriginalMail>> {
    let row = sqlx::query(
        "SELECT message_id, from_address FROM mail_messages WHERE raw_sha256 = $1 ORDER BY id LIMIT 1",
    )
    .bind(raw_sha256)
    .fetch_optional(&mut *conn)
    .await
    .context("cannot find the original request mail")?;
    row.map(|r| {
        Ok(OriginalMail {
            message_id: r.try_get("message_id")?,
            from_address: r.try_get("from_address")?,
        })
    })
    .transpose()
}

/// The raw SHA-256 of the mail behind a correspondence.
pub async fn correspondence_raw(
    conn: &mut AnyConnection,
    id: i64,
) -> anyhow::Result<Option<String>> {
    let row = sqlx::query(
        "SELECT m.raw_sha256 FROM correspondence c JOIN mail_messages m ON m.id = c.mail_message_id WHERE c.id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await
    .context("cannot read a correspondence's mail")?;
    row.map(|r| r.try_get(0)).transpose().map_err(Into::into)
}

/// Request ids by receipt number (for links on the pages).
pub async fn ids_of_receipts(
    conn: &mut AnyConnection,
    receipts: &[String],
) -> anyhow::Result<Vec<RequestRef>> {
    requests_with_receipts(conn, receipts, None)
        .await
        .context("cannot look up receipts")
}

/// Replaces the stored subject of a received mail (a password notice's,
/// masked, so no list shows the password).
pub async fn mask_subject(
    conn: &mut AnyConnection,
    mail_message_id: i64,
    subject: &str,
) -> anyhow::Result<()> {
    sqlx::query("UPDATE mail_messages SET subject = $1 WHERE id = $2")
        .bind(subject)
        .bind(mail_message_id)
        .execute(&mut *conn)
        .await
        .context("cannot mask the subject")?;
    Ok(())
}
